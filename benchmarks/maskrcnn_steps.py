"""Where a training step of the extended Mask R-CNN spends its time, per recipe (CPU seconds).

Usage::

    nice -n 19 .venv/bin/python benchmarks/maskrcnn_steps.py --data PSEUDO [--variants 0 3] [--steps 3]

``--data``: the pseudo-labelled frames of the data recipe (``benchmarks/maskrcnn_eval.py``).
Each variant builds its model and data set, runs one warm-up step then ``--steps`` steps on one
torch thread, and records the mean *CPU* seconds (``time.process_time``) of the data loading,
forward, backward and optimizer phases: on a shared machine CPU time is steady where wall time
is not (the wall time is recorded too). Each run appends one JSON line per variant to
``benchmarks/results/maskrcnn_steps.jsonl`` and rewrites ``maskrcnn_steps.md`` from all lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HELD_OUT = ("akiyo", "carphone_qcif", "vtc1nw")


def variants(data: str) -> list[tuple[str, object, int, dict]]:
    from facepaint.face.maskrcnn.data import AnnotatedFrames, FaceCrops
    from facepaint.face.maskrcnn.model import facemesh_cpu_config

    def crops():
        return FaceCrops(data, crop_px=192, exclude=HELD_OUT, jitter=True)

    cpu = facemesh_cpu_config().to_dict()
    return [
        ("before: mobilenet_v3, whole frames <=384 px, batch 4",
         AnnotatedFrames(data, max_side=384, exclude=HELD_OUT, jitter=True), 4,
         dict(backbone="mobilenet_v3", min_size=256, max_size=384)),
        ("facemesh, crops 192, batch 8, default heads", crops(), 8, dict(backbone="facemesh", native_size=True)),
        ("facemesh, crops 192, batch 8, cheap heads", crops(), 8,
         {**cpu, "landmark_sampling_ratio": 2}),
        ("facemesh CPU recipe (facemesh_cpu_config: cheap heads + landmark RoIAlign sampling 1), crops 192, batch 8",
         crops(), 8, cpu),
    ]


def measure(dataset, batch: int, model_kwargs: dict, steps: int) -> dict:
    import torch

    from facepaint.face.maskrcnn.data import collate
    from facepaint.face.maskrcnn.model import ModelConfig, facepaint_maskrcnn, total_loss

    model = facepaint_maskrcnn(config=ModelConfig.from_dict(model_kwargs))
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-4)
    rows = []
    for i in range(steps + 1):
        c0, w0 = time.process_time(), time.monotonic()
        images, targets = collate([dataset[j] for j in range(100 + i * batch, 100 + (i + 1) * batch)])
        c1 = time.process_time()
        loss = total_loss(model(images, targets))
        c2 = time.process_time()
        optimizer.zero_grad()
        loss.backward()
        c3 = time.process_time()
        optimizer.step()
        c4 = time.process_time()
        if i:  # the first step warms caches and allocators
            rows.append((c1 - c0, c2 - c1, c3 - c2, c4 - c3, c4 - c0, time.monotonic() - w0))
    names = ["data", "forward", "backward", "optimizer", "step", "wall_step"]
    return {name: round(sum(r[k] for r in rows) / len(rows), 2) for k, name in enumerate(names)}


def write_markdown(lines: list[dict]) -> None:
    out = [
        "# Extended Mask R-CNN: CPU seconds of one training step, by phase",
        "",
        "One torch thread, `nice -n 19`, on the shared 2-core machine (other work running: wall "
        "seconds are 2-10x the CPU seconds and vary). Written by `benchmarks/maskrcnn_steps.py`.",
        "",
        "| variant | samples | data | forward | backward | optimizer | step | CPU s per sample | wall s/step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for line in lines:
        c = line["cpu_s"]
        batch = line.get("batch", 8 if "batch 8" in line["variant"] else 4)
        out.append(
            f"| {line['variant']} | {batch} | {c['data']:.2f} | {c['forward']:.2f} | {c['backward']:.2f} | "
            f"{c['optimizer']:.2f} | {c['step']:.2f} | {c['step'] / batch:.2f} | {c['wall_step']:.1f} |"
        )
    (RESULTS / "maskrcnn_steps.md").write_text("\n".join(out) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--variants", nargs="*", type=int, default=None, help="Indices of the variants to run (default: all).")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    jsonl = RESULTS / "maskrcnn_steps.jsonl"
    chosen = variants(args.data)
    for index in args.variants if args.variants is not None else range(len(chosen)):
        name, dataset, batch, kwargs = chosen[index]
        line = {"variant": name, "batch": batch, "cpu_s": measure(dataset, batch, kwargs, args.steps)}
        print(json.dumps(line), flush=True)
        with jsonl.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
    write_markdown([json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
