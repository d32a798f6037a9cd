"""``python -m server.precompute``: train the gallery's presets into the cache, with progress.

``--all`` trains every preset of ``server/presets.json``, ``--preset NAME`` (repeatable) the
named ones (an SAE preset trains its model first if it is not cached), ``--phase-diagrams`` the
two phase-diagram presets (the phase page's defaults). What models_cache/ ships is ``--all``'s
output, so that a fresh clone opens every preset without training. Entries already in the cache
are kept. The training is the server's own: the same worker and tasks, on ``--device``; presets
train one after another, each request's instances and restarts batched.
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
from server.double_descent_results import DoubleDescentTask
from server.jobs import Task, TrainingWorker, train_or_load
from server.phase_results import PhaseDiagramTask
from server.presets import Preset, presets
from server.results import ModelTask
from server.sae_results import SAETask


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


def preset_tasks(chosen: list[Preset]) -> list[tuple[str, Task]]:
    """The training tasks of ``chosen`` presets, each with a name for its progress bar."""
    tasks: list[tuple[str, Task]] = []
    for preset in chosen:
        if preset.phase_diagram is not None:
            tasks.append((preset.id, PhaseDiagramTask(preset.phase_diagram)))
        if preset.sae is not None:  # its model trains first (and is stored) if not cached
            tasks.append((preset.id, SAETask(preset.sae)))
        if preset.double_descent is not None:
            tasks.append((preset.id, DoubleDescentTask(preset.double_descent)))
        requests = list(preset.requests)
        if preset.power_sweep is not None:  # one model per m, as the power page plans it
            requests = preset.power_sweep.shipped_requests()
        count = len(requests)
        for k, request in enumerate(requests):
            name = preset.id if count == 1 else f"{preset.id} [{k + 1}/{count}]"
            tasks.append((name, ModelTask(request)))
    return tasks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.precompute", description=__doc__)
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("--all", action="store_true", help="every preset")
    choice.add_argument(
        "--preset", action="append", metavar="NAME", help="a preset's id (repeatable)"
    )
    choice.add_argument("--phase-diagrams", action="store_true", help="the phase-diagram presets")
    parser.add_argument("--cache-dir", type=Path, default=Path("models_cache"))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = parser.parse_args(argv)
    known = {p.id: p for p in presets()}
    if args.all:
        chosen = list(known.values())
    elif args.phase_diagrams:
        chosen = [p for p in known.values() if p.phase_diagram is not None]
    else:
        unknown = [name for name in args.preset if name not in known]
        if unknown:
            parser.error(f"unknown preset {', '.join(unknown)}; presets: {', '.join(known)}")
        chosen = [known[name] for name in args.preset]
    started = time.perf_counter()
    try:
        asyncio.run(precompute(preset_tasks(chosen), ModelCache(args.cache_dir), args.device))
    except DeviceUnavailable as exc:
        sys.exit(f"error: {exc}")
    _say(f"{len(chosen)} presets in {time.perf_counter() - started:.1f} s\n")


if __name__ == "__main__":
    main()
