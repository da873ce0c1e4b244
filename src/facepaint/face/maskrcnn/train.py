"""Training loop of the extended Mask R-CNN (torch), kept outside the model file.

As in the paper: Adam, learning rate 1e-4 halved every 50 epochs, batch 16, loss
``L = Lcls + Lbox + Lmask + Llandmark``. Checkpoints hold the model, the optimizer, the scheduler
and the counts of epochs and steps, so :func:`train` resumes a stopped run: with the weights of
its last save, from the start of the epoch it was in (the data order of an epoch is not saved).
It runs on the CPU unless CUDA is available (or asked for), and can stop by itself after a time
budget.

Checkpoint layout (a ``torch.save`` dict): ``format`` = :data:`CHECKPOINT_FORMAT`, ``model_config``
(:class:`ModelConfig` as a dict), ``model`` (state dict), ``optimizer``, ``scheduler``, ``epoch``
(epochs completed), ``step`` (optimizer steps), ``seconds`` (training time so far), ``history``
(per-epoch mean losses), ``train_config``. :func:`export_weights` writes the same without the
optimizer, in float16, for distribution.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from facepaint.errors import InputError, OutputError
from facepaint.face.maskrcnn.data import AnnotatedFrames, collate
from facepaint.face.maskrcnn.model import BACKBONES, ModelConfig, facepaint_maskrcnn, total_loss

CHECKPOINT_FORMAT = "facepaint-maskrcnn-1"


@dataclass(frozen=True)
class TrainConfig:
    """Options of :func:`train`.

    ``epochs``: epochs to reach (a resumed run continues up to it). ``lr`` and ``lr_halve_every``
    (epochs) give the paper's schedule. ``max_minutes``: stop (after saving) when training has
    used this much wall time in this run. ``threads``: torch CPU threads (keep it small on a
    shared machine). ``device``: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or
    ``"cuda"``. ``exclude``: substrings of annotation paths left out (held-out videos).
    ``save_every_minutes``: also checkpoint within an epoch.
    """

    epochs: int = 100
    batch_size: int = 16
    lr: float = 1e-4
    lr_halve_every: int = 50
    max_minutes: float | None = None
    threads: int = 1
    device: str = "auto"
    seed: int = 0
    exclude: tuple[str, ...] = ()
    save_every_minutes: float = 5.0
    max_side: int = 480
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass(frozen=True)
class TrainResult:
    """What a :func:`train` call did."""

    checkpoint: Path
    epochs: int  #: epochs completed in total
    steps: int  #: optimizer steps in total
    seconds: float  #: training wall time in total (all runs)
    stopped_early: bool  #: True when ``max_minutes`` ran out before ``epochs``
    history: list[dict[str, float]]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cuda"`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise InputError(f"device must be auto, cpu or cuda; got {name!r}")
    return torch.device(name)


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict:
    """Read a training checkpoint or exported weights, checking its format."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"checkpoint {file} does not exist; train one with `facepaint train DATA --out {file}`")
    try:
        data = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a bad file
        raise InputError(f"{file} is not a facepaint Mask R-CNN checkpoint: {error}") from error
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{file} is not a facepaint Mask R-CNN checkpoint (expected format {CHECKPOINT_FORMAT})")
    return data


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build the model described by a checkpoint and load its weights (eval mode, float32)."""
    data = load_checkpoint(path, map_location="cpu")
    model = facepaint_maskrcnn(config=ModelConfig.from_dict(data["model_config"]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in data["model"].items()}
    model.load_state_dict(state)
    return model.to(device).eval()


def _save(path: Path, payload: dict) -> None:
    # Write then rename: an interrupted save never leaves a truncated checkpoint behind.
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def export_weights(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write a checkpoint's model without the optimizer, floats as float16 (about half the size).

    The result loads with :func:`load_model` and as ``--weights`` of the ``maskrcnn`` backend.
    """
    data = load_checkpoint(checkpoint)
    slim = {
        "format": CHECKPOINT_FORMAT,
        "model_config": data["model_config"],
        "model": {k: v.half() if v.is_floating_point() else v for k, v in data["model"].items()},
        "epoch": data.get("epoch", 0),
        "step": data.get("step", 0),
        "seconds": data.get("seconds", 0.0),
        "history": data.get("history", []),
        "train_config": data.get("train_config", {}),
    }
    path = Path(out)
    _save(path, slim)
    return path


def _lr_lambda(halve_every: int) -> Callable[[int], float]:
    def factor(epoch: int) -> float:
        return 0.5 ** (epoch // halve_every)

    return factor


def train(
    data: str | os.PathLike,
    out: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    *,
    resume: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train (or resume training) the extended Mask R-CNN on annotated frames.

    Parameters
    ----------
    data : path-like
        Folder of LabelMe ``*.json`` (and/or iBUG ``*.pts``) annotations with their images.
    out : path-like
        Checkpoint file, rewritten after every epoch, every ``save_every_minutes`` and at the end.
    config : TrainConfig
    resume : bool
        Continue from ``out`` when it exists (its model config wins over ``config.model``).
    log : callable, optional
        Receives one progress line per logging event (default: print to stderr).

    Returns
    -------
    TrainResult
    """
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if config.batch_size < 1 or config.epochs < 1 or config.lr <= 0 or config.lr_halve_every < 1:
        raise InputError("batch_size, epochs and lr_halve_every must be >= 1 and lr > 0")
    if config.model.backbone not in BACKBONES:
        raise InputError(f"backbone must be one of {BACKBONES}; got {config.model.backbone!r}")
    torch.set_num_threads(max(1, config.threads))
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    out_path = Path(out)

    dataset = AnnotatedFrames(data, max_side=config.max_side, exclude=config.exclude, jitter=True, seed=config.seed)
    state = load_checkpoint(out_path) if resume and out_path.exists() else None
    model_config = ModelConfig.from_dict(state["model_config"]) if state else config.model
    model = facepaint_maskrcnn(config=model_config).to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config.lr_halve_every))
    epoch, step, seconds, history = 0, 0, 0.0, []
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        epoch, step, seconds = int(state["epoch"]), int(state["step"]), float(state["seconds"])
        history = list(state.get("history", []))
        say(f"resumed {out_path}: {epoch} epochs, {step} steps, {seconds / 60:.1f} min trained")
    else:
        prior = dataset.mean_contour()
        if prior is not None:
            model.roi_heads.landmark_predictor.set_prior(torch.from_numpy(prior))
            say("landmark branch starts at the mean contour of the training faces")

    def payload() -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model_config": model_config.to_dict(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "step": step,
            "seconds": seconds,
            "history": history,
            "train_config": {k: v for k, v in asdict(config).items() if k != "model"},
        }

    say(
        f"training {model_config.backbone} on {len(dataset)} images, batch {config.batch_size}, "
        f"device {device}, {torch.get_num_threads()} thread(s), epochs {epoch} -> {config.epochs}"
    )
    run_start = time.monotonic()
    last_save = run_start
    budget_s = None if config.max_minutes is None else config.max_minutes * 60.0
    stopped = False
    rng = np.random.default_rng(config.seed + epoch)
    model.train()
    while epoch < config.epochs and not stopped:
        order = rng.permutation(len(dataset))
        batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        sums: dict[str, float] = {}
        count = 0
        for batch_index, indices in enumerate(batches):
            tic = time.monotonic()
            images, targets = collate([dataset[int(i)] for i in indices])
            images = [im.to(device) for im in images]
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            losses = model(images, targets)
            loss = total_loss(losses)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged at step {step}: losses {_floats(losses)}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seconds += time.monotonic() - tic
            values = _floats(losses)
            values["loss"] = float(loss.detach())
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            say(
                f"epoch {epoch + 1}/{config.epochs} batch {batch_index + 1}/{len(batches)} step {step} "
                f"loss {values['loss']:.4f} landmark {values['loss_landmark']:.4f} "
                f"mask {values['loss_mask']:.4f} cls {values['loss_classifier']:.4f} "
                f"lr {scheduler.get_last_lr()[0]:.2e} {time.monotonic() - tic:.1f}s"
            )
            now = time.monotonic()
            if budget_s is not None and now - run_start >= budget_s:
                stopped = True
                break
            if now - last_save >= config.save_every_minutes * 60.0:
                _save(out_path, payload())
                last_save = now
        if not stopped:
            epoch += 1
            scheduler.step()
            history.append({"epoch": epoch, "step": step, **{k: v / max(count, 1) for k, v in sums.items()}})
            say(f"epoch {epoch} done: mean loss {history[-1].get('loss', math.nan):.4f}")
        _save(out_path, payload())
        last_save = time.monotonic()
    _save(out_path, payload())
    say(f"saved {out_path}: {epoch} epochs, {step} steps, {seconds / 60:.1f} min" + (" (time budget reached)" if stopped else ""))
    return TrainResult(out_path, epoch, step, seconds, stopped, history)


def _floats(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in losses.items()}
