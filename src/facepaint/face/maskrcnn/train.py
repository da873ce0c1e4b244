"""Training loop of the extended Mask R-CNN (torch), kept outside the model file.

As in the paper: Adam, learning rate 1e-4 halved every 50 epochs, batch 16, loss
``L = Lcls + Lbox + Lmask + Llandmark``. Checkpoints hold the model, the optimizer, the scheduler
the counts of epochs and steps, the epoch's data order and the position in it, and the state of
every random generator, so :func:`train` resumes a stopped run where its last save left it (the
batches after that save are drawn again, the same ones). It runs on the CPU unless CUDA is
available (or asked for), and can stop by itself after a time budget.

``crop_px`` trains on :class:`~.data.FaceCrops` (crops around faces at native pixel size, the
model fed at native size) instead of whole frames resized by torchvision: on two CPU cores a
step of 8 crops of 192 px costs a fraction of a step of 4 whole frames.

Checkpoint layout (a ``torch.save`` dict): ``format`` = :data:`CHECKPOINT_FORMAT`, ``model_config``
(:class:`ModelConfig` as a dict), ``model`` (state dict), ``optimizer``, ``scheduler``, ``epoch``
(epochs completed), ``step`` (optimizer steps), ``seconds`` (training wall time so far),
``cpu_seconds`` (CPU time of the training process so far, all threads: the measure of the learning
curves on a shared machine), ``history`` (per-epoch mean losses), ``train_config``, ``position``
(``order`` of the current epoch and ``batch`` index to continue at) and ``rng`` (torch, the loop's
and the dataset's numpy generators). :func:`export_weights` writes the same without the
optimizer, in float16, for distribution.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from facepaint.errors import InputError, OutputError
from facepaint.face.maskrcnn.data import AnnotatedFrames, FaceCrops, collate
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
    ``save_every_minutes``: also checkpoint within an epoch. ``crop_px``: train on crops of this
    side around faces at native pixel size (:class:`~.data.FaceCrops`; the model then runs at
    native size), None for whole frames shrunk to ``max_side``. ``max_face_px``: crops shrink
    faces wider than this. ``mirror``, ``scale_jitter``: :class:`~.data.FaceCrops`'s geometric
    augmentation. ``snapshot_every_cpu_minutes``: also keep a float16 copy of the model
    every so many CPU minutes, beside ``out`` in ``<out stem>.snapshots/`` (for learning curves).
    ``log_every``: steps between progress lines (each with the mean seconds per step spent on
    data, forward, backward and the optimizer since the last line). ``init``: when ``out`` does
    not exist yet, start from these exported weights (:func:`export_weights`: a run's float16
    model, small enough to keep in the repository between sessions) with their model config and
    counts (epochs, steps, time), a new optimizer, and the learning rate their epoch has in the
    schedule: a run continued this way loses Adam's moment estimates and the position in the
    epoch, nothing else.
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
    crop_px: int | None = None
    max_face_px: float = 160.0
    mirror: bool = False
    scale_jitter: float = 0.0
    snapshot_every_cpu_minutes: float | None = None
    log_every: int = 1
    model: ModelConfig = field(default_factory=ModelConfig)
    init: str | None = None


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
    # The checkpoint holds every weight: do not read the facemesh trunk's from mediapipe first.
    config = replace(ModelConfig.from_dict(data["model_config"]), pretrained_backbone=False)
    model = facepaint_maskrcnn(config=config)
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
    path = Path(out)
    _save(path, _slim(data))
    return path


#: Learning-rate factor of the pixel path (:mod:`.detail`): it starts at zero on the pixels (the
#: identity on the features) and must grow while the rest of the model is fine-tuned.
DETAIL_LR_FACTOR = 20.0
#: Parameters of the pixel path, by name prefix (what a model continued with --mask-detail gains).
DETAIL_PARAMETERS = ("roi_heads.mask_predictor.fuse.", "roi_heads.mask_predictor.pixel.")


def _param_groups(model: torch.nn.Module, lr: float) -> list[dict]:
    """Adam's parameter groups: everything trainable at ``lr``, the pixel path (when the model
    has one) at ``DETAIL_LR_FACTOR * lr``. Fixed by the model's config, so a resumed run's
    optimizer state fits."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    detail = [p for n, p in named if n.startswith(DETAIL_PARAMETERS)]
    rest = [p for n, p in named if not n.startswith(DETAIL_PARAMETERS)]
    return [{"params": rest, "lr": lr}] + ([{"params": detail, "lr": lr * DETAIL_LR_FACTOR}] if detail else [])


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
    if config.crop_px is not None and config.crop_px < 32:
        raise InputError(f"crop_px must be at least 32 pixels (or None for whole frames); got {config.crop_px}")
    torch.set_num_threads(max(1, config.threads))
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    out_path = Path(out)

    if config.crop_px is not None:
        dataset: AnnotatedFrames = FaceCrops(
            data,
            crop_px=config.crop_px,
            max_face_px=config.max_face_px,
            exclude=config.exclude,
            jitter=True,
            seed=config.seed,
            mirror=config.mirror,
            scale_jitter=config.scale_jitter,
        )
    else:
        dataset = AnnotatedFrames(data, max_side=config.max_side, exclude=config.exclude, jitter=True, seed=config.seed)
    state = load_checkpoint(out_path) if resume and out_path.exists() else None
    init = None
    if state is None and config.init is not None:
        init = load_checkpoint(config.init)
        if "optimizer" in init:
            raise InputError(f"--init {config.init} is a training checkpoint: pass it as --out to resume it instead")
    source = state or init  # the checkpoint or exported weights the run starts from, if any
    if source:
        model_config = ModelConfig.from_dict(source["model_config"])
        model_config = replace(model_config, pretrained_backbone=False)  # its weights come from the checkpoint
        if init is not None and config.model.mask_detail and not model_config.mask_detail:
            # Continue a model without the pixel detail with it: the new fusion starts as the identity.
            model_config = replace(model_config, mask_detail=True)
    else:
        model_config = config.model
        if config.crop_px is not None and not model_config.native_size:
            model_config = replace(model_config, native_size=True)
    model = facepaint_maskrcnn(config=model_config).to(device)
    optimizer = torch.optim.Adam(_param_groups(model, config.lr), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config.lr_halve_every))
    epoch, step, seconds, cpu_seconds, history = 0, 0, 0.0, 0.0, []
    rng = np.random.default_rng(config.seed)
    order: np.ndarray | None = None
    batch_start = 0
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        epoch, step, seconds = int(state["epoch"]), int(state["step"]), float(state["seconds"])
        cpu_seconds = float(state.get("cpu_seconds", 0.0))
        history = list(state.get("history", []))
        position = state.get("position")
        if position is not None and len(position["order"]) == len(dataset):
            order = np.asarray(position["order"], np.int64)
            batch_start = int(position["batch"])
        saved_rng = state.get("rng")
        if saved_rng is not None:
            torch.set_rng_state(saved_rng["torch"])
            rng.bit_generator.state = saved_rng["loop"]
            dataset._rng.bit_generator.state = saved_rng["dataset"]
        say(f"resumed {out_path}: {epoch} epochs, {step} steps, {seconds / 60:.1f} min trained ({cpu_seconds / 3600:.2f} CPU h)")
    elif init:
        missing, unexpected = model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in init["model"].items()}, strict=False
        )
        added = [k for k in missing if not k.startswith(DETAIL_PARAMETERS)]
        if added or unexpected:
            raise InputError(f"--init {config.init} does not fit the model: missing {added}, unexpected {unexpected}")
        epoch, step, seconds = int(init["epoch"]), int(init["step"]), float(init["seconds"])
        cpu_seconds = float(init.get("cpu_seconds", 0.0))
        history = list(init.get("history", []))
        scheduler.last_epoch = epoch  # the learning rate of that epoch in the schedule
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base * _lr_lambda(config.lr_halve_every)(epoch)
        say(f"continued from the weights {config.init}: {epoch} epochs, {step} steps, {cpu_seconds / 3600:.2f} CPU h; new optimizer")
    else:
        prior = dataset.mean_contour()
        if prior is not None:
            model.roi_heads.landmark_predictor.set_prior(torch.from_numpy(prior))
            say("landmark branch starts at the mean contour of the training faces")
    # Each stored model config's dict keeps pretrained_backbone as it was asked for at the start.
    stored_config = model_config
    if source:
        stored_config = replace(ModelConfig.from_dict(source["model_config"]), mask_detail=model_config.mask_detail)

    def payload(next_batch: int) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model_config": stored_config.to_dict(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "step": step,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "history": history,
            "train_config": {k: v for k, v in asdict(config).items() if k != "model"},
            "position": None if order is None else {"order": order.tolist(), "batch": next_batch},
            "rng": {"torch": torch.get_rng_state(), "loop": rng.bit_generator.state, "dataset": dataset._rng.bit_generator.state},
        }

    snapshots = out_path.parent / f"{out_path.stem}.snapshots"
    next_snapshot = None
    if config.snapshot_every_cpu_minutes:
        every = config.snapshot_every_cpu_minutes * 60.0
        next_snapshot = (math.floor(cpu_seconds / every) + 1) * every
        if not state:
            snapshots.mkdir(exist_ok=True)
            _save(snapshots / f"step{step:07d}.pt", _slim(payload(0)))  # the start itself: 0 CPU hours

    say(
        f"training {model_config.backbone} on {len(dataset)} {'crops of frames' if config.crop_px else 'images'}, "
        f"batch {config.batch_size}, device {device}, {torch.get_num_threads()} thread(s), epochs {epoch} -> {config.epochs}"
    )
    run_start = time.monotonic()
    last_save = run_start
    budget_s = None if config.max_minutes is None else config.max_minutes * 60.0
    stopped = False
    phases = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    logged_steps = 0
    model.train()
    while epoch < config.epochs and not stopped:
        if order is None:
            order = rng.permutation(len(dataset))
            batch_start = 0
        batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        sums: dict[str, float] = {}
        count = 0
        for batch_index in range(batch_start, len(batches)):
            indices = batches[batch_index]
            tic = time.monotonic()
            cpu_tic = time.process_time()
            images, targets = collate([dataset[int(i)] for i in indices])
            images = [im.to(device) for im in images]
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            t_data = time.monotonic()
            losses = model(images, targets)
            loss = total_loss(losses)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged at step {step}: losses {_floats(losses)}")
            t_forward = time.monotonic()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            t_backward = time.monotonic()
            optimizer.step()
            toc = time.monotonic()
            for name, (a, b) in {"data": (tic, t_data), "forward": (t_data, t_forward), "backward": (t_forward, t_backward), "optimizer": (t_backward, toc)}.items():
                phases[name] += b - a
            logged_steps += 1
            step += 1
            seconds += toc - tic
            cpu_seconds += time.process_time() - cpu_tic
            values = _floats(losses)
            values["loss"] = float(loss.detach())
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            if logged_steps >= config.log_every:
                split = " ".join(f"{k} {v / logged_steps:.2f}" for k, v in phases.items())
                say(
                    f"epoch {epoch + 1}/{config.epochs} batch {batch_index + 1}/{len(batches)} step {step} "
                    f"loss {values['loss']:.4f} landmark {values['loss_landmark']:.4f} "
                    f"mask {values['loss_mask']:.4f} cls {values['loss_classifier']:.4f} "
                    f"lr {optimizer.param_groups[0]['lr']:.2e} s/step {sum(phases.values()) / logged_steps:.2f} ({split}) "
                    f"cpu_h {cpu_seconds / 3600:.3f}"
                )
                phases = dict.fromkeys(phases, 0.0)
                logged_steps = 0
            if next_snapshot is not None and cpu_seconds >= next_snapshot:
                snapshots.mkdir(exist_ok=True)
                _save(snapshots / f"step{step:07d}.pt", _slim(payload(batch_index + 1)))
                next_snapshot += config.snapshot_every_cpu_minutes * 60.0
            now = time.monotonic()
            if budget_s is not None and now - run_start >= budget_s:
                stopped = True
                _save(out_path, payload(batch_index + 1))
                break
            if now - last_save >= config.save_every_minutes * 60.0:
                _save(out_path, payload(batch_index + 1))
                last_save = now
        if not stopped:
            epoch += 1
            scheduler.step()
            order = None
            history.append({"epoch": epoch, "step": step, **{k: v / max(count, 1) for k, v in sums.items()}})
            say(f"epoch {epoch} done: mean loss {history[-1].get('loss', math.nan):.4f}")
            _save(out_path, payload(0))
            last_save = time.monotonic()
    if not stopped:
        _save(out_path, payload(0))
    say(f"saved {out_path}: {epoch} epochs, {step} steps, {seconds / 60:.1f} min, {cpu_seconds / 3600:.2f} CPU h" + (" (time budget reached)" if stopped else ""))
    return TrainResult(out_path, epoch, step, seconds, stopped, history)


def _slim(payload: dict) -> dict:
    """A checkpoint payload without the optimizer and resume state, weights in float16."""
    keep = ("format", "model_config", "epoch", "step", "seconds", "cpu_seconds", "history", "train_config")
    slim = {k: payload[k] for k in keep if k in payload}
    slim["model"] = {k: v.detach().half() if v.is_floating_point() else v.detach() for k, v in payload["model"].items()}
    return slim


def _floats(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in losses.items()}
