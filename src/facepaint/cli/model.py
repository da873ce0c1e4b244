"""``facepaint annotate``, ``facepaint train`` and ``facepaint evaluate-model``: the paper's
extended Mask R-CNN. ``train`` and ``evaluate-model`` need the ``train`` extra (torch)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from facepaint.cli import app
from facepaint.errors import InputError


class BackboneChoice(str, Enum):
    mobilenet_v3 = "mobilenet_v3"
    resnet50 = "resnet50"
    facemesh = "facemesh"


class FramesChoice(str, Enum):
    all = "all"
    real = "real"
    augmented = "augmented"


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@app.command("annotate")
def annotate_command(
    source: Annotated[Path, typer.Argument(help="A video, a folder of videos, or a folder of images.")],
    outdir: Annotated[Path, typer.Argument(help="Output folder: one sub-folder of PNG + LabelMe JSON per video.")],
    every: Annotated[int, typer.Option("--every", min=1, help="Label one frame in N.")] = 10,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=1, help="Frames labelled per video at most.")] = None,
    teacher: Annotated[str, typer.Option("--teacher", help="Face model that makes the pseudo-labels.")] = "mediapipe",
    small_faces: Annotated[
        float, typer.Option("--small-faces", min=0.0, max=1.0, help="Share of frames that also get a copy with a small pasted face.")
    ] = 0.5,
    max_side: Annotated[
        Optional[int], typer.Option("--max-side", min=32, help="Write frames shrunk to this longer side (labels follow).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Write frames and pseudo-labelled LabelMe files (open them in LabelMe to correct them)."""
    from facepaint.face.maskrcnn.pseudolabel import AnnotateConfig, annotate

    config = AnnotateConfig(every=every, max_frames=max_frames, teacher=teacher, small_faces=small_faces, max_side=max_side, seed=seed)
    result = annotate(source, outdir, config, log=_say)
    _say(f"wrote {result.frames} frames ({result.faces} faces) and {result.augmented} small-face copies under {outdir}")


@app.command("train")
def train_command(
    data: Annotated[Path, typer.Argument(help="Folder of LabelMe *.json (and/or iBUG *.pts) with their images.")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint to write (and resume from).")],
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per step (the paper: 16).")] = 16,
    lr: Annotated[float, typer.Option("--lr", min=1e-8, help="Adam learning rate, halved every --lr-halve-every epochs.")] = 1e-4,
    lr_halve_every: Annotated[int, typer.Option("--lr-halve-every", min=1)] = 50,
    backbone: Annotated[
        BackboneChoice,
        typer.Option("--backbone", help="resnet50 (the paper), mobilenet_v3 (CPU) or facemesh (mediapipe's face-trained FaceMesh trunk, CPU recipe heads)."),
    ] = BackboneChoice.mobilenet_v3,
    random_backbone: Annotated[bool, typer.Option("--random-backbone", help="facemesh: start the trunk from random weights instead of mediapipe's.")] = False,
    crop_px: Annotated[
        Optional[int],
        typer.Option("--crop-px", min=32, help="Train on crops of this side around faces at native pixel size (the model then runs at native size)."),
    ] = None,
    max_face_px: Annotated[float, typer.Option("--max-face-px", min=8.0, help="With --crop-px: faces wider than this are shrunk.")] = 160.0,
    mirror: Annotated[bool, typer.Option("--mirror", help="With --crop-px: flip half the crops left-right (brows and eyes trade classes).")] = False,
    scale_jitter: Annotated[
        float,
        typer.Option("--scale-jitter", min=0.0, help="With --crop-px: resize each crop by a random factor in [1/(1+J), 1+J] (0: off)."),
    ] = 0.0,
    mask_detail: Annotated[
        bool,
        typer.Option("--mask-detail", help="The mask branch also reads the image's pixels over each box (a model from --init gains it, starting as before)."),
    ] = False,
    snapshot_every: Annotated[
        Optional[float],
        typer.Option("--snapshot-every", min=0.1, help="Keep float16 model snapshots every this many CPU minutes (learning curves)."),
    ] = None,
    min_size: Annotated[int, typer.Option("--min-size", min=64, help="Shorter image side fed to the network.")] = 320,
    max_size: Annotated[int, typer.Option("--max-size", min=64, help="Longer image side at most.")] = 480,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", min=0.01, help="Stop (and save) after this much training time.")] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, help="CPU threads for torch.")] = 1,
    device: Annotated[DeviceChoice, typer.Option("--device")] = DeviceChoice.auto,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Leave out annotation paths containing this (repeatable).")] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume/--restart", help="Continue from --out when it exists: weights, optimizer, schedule, position in the epoch, random state."),
    ] = True,
    export: Annotated[Optional[Path], typer.Option("--export", help="Also write float16 weights without the optimizer here.")] = None,
    init: Annotated[
        Optional[Path],
        typer.Option("--init", help="When --out does not exist: continue a run from its exported weights (--export), with a new optimizer."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Train the extended Mask R-CNN (Adam, lr 1e-4 halved every 50 epochs, checkpoints, resume)."""
    from facepaint.face.maskrcnn._deps import import_torch

    import_torch()
    from facepaint.face.maskrcnn.model import ModelConfig, facemesh_cpu_config
    from facepaint.face.maskrcnn.train import TrainConfig, export_weights, train

    if min_size > max_size:
        raise InputError(f"--min-size ({min_size}) must not exceed --max-size ({max_size})")
    if random_backbone and backbone is not BackboneChoice.facemesh:
        raise InputError("--random-backbone applies to --backbone facemesh only (the others always start at random)")
    if backbone is BackboneChoice.facemesh:
        model_config = facemesh_cpu_config(
            min_size=min_size, max_size=max_size, pretrained_backbone=not random_backbone, mask_detail=mask_detail
        )
    else:
        model_config = ModelConfig(backbone=backbone.value, min_size=min_size, max_size=max_size, mask_detail=mask_detail)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_halve_every=lr_halve_every,
        max_minutes=max_minutes,
        threads=threads,
        device=device.value,
        seed=seed,
        exclude=tuple(exclude or ()),
        max_side=max_size,
        crop_px=crop_px,
        max_face_px=max_face_px,
        mirror=mirror,
        scale_jitter=scale_jitter,
        snapshot_every_cpu_minutes=snapshot_every,
        model=model_config,
        init=None if init is None else str(init),
    )
    result = train(data, out, config, resume=resume, log=_say)
    if export is not None:
        export_weights(result.checkpoint, export)
        _say(f"exported weights to {export}")


@app.command("evaluate-model")
def evaluate_model_command(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint from `facepaint train`.")],
    data: Annotated[Path, typer.Argument(help="Folder of annotations to evaluate on (held-out frames).")],
    include: Annotated[Optional[list[str]], typer.Option("--include", help="Only annotation paths containing this (repeatable).")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Leave out annotation paths containing this.")] = None,
    max_images: Annotated[Optional[int], typer.Option("--max-images", min=1, help="Evaluate on this many images, evenly spaced.")] = None,
    frames: Annotated[
        FramesChoice, typer.Option("--frames", help="all, real (no small-face copies) or augmented (only the copies).")
    ] = FramesChoice.all,
    face_threshold: Annotated[float, typer.Option("--face-threshold", min=0.0, max=1.0)] = 0.5,
    threads: Annotated[int, typer.Option("--threads", min=1)] = 1,
    device: Annotated[DeviceChoice, typer.Option("--device")] = DeviceChoice.auto,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the figures as JSON here.")] = None,
) -> None:
    """Landmark RMSE (box-normalised) and NME, mask IoU per class, detection rate by face size, ms/frame."""
    from facepaint.face.maskrcnn._deps import import_torch

    import_torch()
    from facepaint.face.maskrcnn.backend import BackendConfig
    from facepaint.face.maskrcnn.evaluate import EvalConfig, evaluate_model

    config = EvalConfig(
        backend=BackendConfig(face_threshold=face_threshold),
        max_images=max_images,
        exclude=tuple(exclude or ()),
        include=tuple(include) if include else None,
        augmented={"all": None, "real": False, "augmented": True}[frames.value],
    )
    report = evaluate_model(checkpoint, data, config, device=device.value, threads=threads)
    print(report.markdown())
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_dict(), indent=1))
