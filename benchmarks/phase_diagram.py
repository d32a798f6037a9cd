"""How long a phase diagram takes, end to end, beside the notebook-style trainer on the same rows.

For each diagram (default: the two the page opens with, 2 → 1 and 3 → 2 at 32 × 32), this trains
it through the server's own worker on a fresh cache (training, evaluation on fresh samples,
classification and theory) and reports the wall time, the training ms/step and the agreement
with theory. The reference is ``benchmarks/reference.py`` (autograd, torch AdamW, the notebook's
sampler) stepping the same cells × restarts at the same batch size and lr, timed over
``--reference-steps`` steps in the same run.

    python -m benchmarks.phase_diagram [--grid 32] [--restarts 3] [--device cpu|cuda]
        [--reference-steps 50]

``--restarts`` overrides the request's default restarts (10 for 2 → 1, 8 for 3 → 2): issue 17's
target is the 32 × 32 × 3 diagram.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.reference import ms_per_step, train_reference
from server.api.schemas.phase_diagrams import PhaseDiagramRequest, PhaseDiagramResult
from server.cache import ModelCache
from server.device import select_device
from server.jobs import TrainingWorker, train_or_load
from server.phase_results import PhaseDiagramTask


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


async def ours(
    request: PhaseDiagramRequest, device: torch.device
) -> tuple[float, PhaseDiagramResult]:
    """Wall seconds of one diagram through the worker on a fresh cache, and the diagram."""
    with tempfile.TemporaryDirectory() as root:
        worker = TrainingWorker(ModelCache(Path(root)), device, snapshot_interval_s=3600)
        worker.start()
        try:
            started = time.perf_counter()
            result: PhaseDiagramResult = await train_or_load(worker, PhaseDiagramTask(request))
            return time.perf_counter() - started, result
        finally:
            worker.stop()


def reference_ms_per_step(request: PhaseDiagramRequest, device: torch.device, steps: int) -> float:
    """The notebook-style trainer on the same rows (cells × restarts), ms per step."""
    task = PhaseDiagramTask(request)
    run = task.start(device)  # only for its per-row probability and importance
    trainer = train_reference(
        run.probability, run.importance, request.n_hidden, request.seed,
        batch_size=request.batch_size, lr=request.lr,
    )  # fmt: skip
    return ms_per_step(trainer, device, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=32)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--reference-steps", type=int, default=50)
    parser.add_argument("--restarts", type=int, help="restarts per cell (default: the request's)")
    parser.add_argument("--only", type=int, choices=[2, 3], help="one diagram: n_features")
    args = parser.parse_args()
    device = select_device(args.device)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        "| diagram | cells × restarts | steps | ours: wall s | ours: train ms/step "
        "| reference ms/step | speed-up | agreement |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in (2, 3) if args.only is None else (args.only,):
        extra = {} if args.restarts is None else {"n_restarts": args.restarts}
        request = PhaseDiagramRequest(n_features=n, grid_size=args.grid, **extra)
        wall, result = asyncio.run(ours(request, device))
        ms = 1000 * result.train_seconds / request.steps  # includes the final evaluation
        ref = reference_ms_per_step(request, device, args.reference_steps)
        rows = f"{request.grid_size}² × {request.n_restarts}"
        print(
            f"| {n} → {n - 1} | {rows} | {request.steps} | {wall:.1f} | {ms:.2f} | {ref:.2f} "
            f"| {ref / ms:.1f}× | {100 * result.agreement:.1f} % |"
        )


if __name__ == "__main__":
    main()
