"""``python -m server.precompute``: train the shipped results into the cache, with progress.

``--phase-diagrams`` trains the phase-diagram page's default diagrams (2 → 1 and 3 → 2, the API's
defaults), so that a fresh clone opens the page without training. Entries already in the cache
are kept. The training is the server's own: the same worker and tasks, on ``--device``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from server.cache import ModelCache
from server.device import DeviceUnavailable, select_device
from server.jobs import Task, TrainingWorker, train_or_load
from server.phase_diagram import PhaseDiagramTask
from server.presets import DEFAULT_PHASE_DIAGRAMS


def _say(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _bar(step: int, steps: int, width: int = 30) -> str:
    done = round(width * step / max(steps, 1))
    return f"[{'#' * done}{'.' * (width - done)}] {step}/{steps}"


async def precompute(tasks: list[tuple[str, Task]], cache: ModelCache, device: str) -> None:
    """Train every task not yet cached, printing a progress bar per task."""
    worker = TrainingWorker(cache, select_device(device), snapshot_interval_s=0.5)
    worker.start()
    try:
        for name, task in tasks:

            async def progress(fields: dict[str, Any], name: str = name) -> None:
                _say(f"\r{name}: {_bar(fields['step'], fields['steps'])}")

            started = time.perf_counter()
            result = await train_or_load(worker, task, progress)
            seconds = time.perf_counter() - started
            how = "cached already" if result.cached else f"trained in {seconds:.1f} s"
            _say(f"\r{name}: {how} ({task.id[:12]}…){' ' * 30}\n")
    finally:
        worker.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.precompute", description=__doc__)
    parser.add_argument(
        "--phase-diagrams", action="store_true", help="the phase-diagram page's defaults"
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("models_cache"))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = parser.parse_args(argv)
    if not args.phase_diagrams:
        parser.error("say what to precompute: --phase-diagrams")
    tasks: list[tuple[str, Task]] = [
        (f"phase diagram {r.n_features} → {r.n_hidden}, {r.grid_size}²", PhaseDiagramTask(r))
        for r in DEFAULT_PHASE_DIAGRAMS
    ]
    try:
        asyncio.run(precompute(tasks, ModelCache(args.cache_dir), args.device))
    except DeviceUnavailable as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
