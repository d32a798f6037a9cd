"""The results shipped in the repository's models_cache/ load, verify and are current."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from server.cache import ModelCache
from server.phase_diagram import PhaseDiagramTask
from server.presets import DEFAULT_PHASE_DIAGRAMS, shipped_ids

SHIPPED = Path(__file__).resolve().parents[2] / "models_cache"


@pytest.mark.parametrize(
    "request_", DEFAULT_PHASE_DIAGRAMS, ids=lambda r: f"{r.n_features}x{r.n_hidden}"
)
def test_default_phase_diagrams_are_shipped_and_current(request_, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    task = PhaseDiagramTask(request_)
    entry = SHIPPED / task.id
    assert entry.is_dir(), (
        f"models_cache/{task.id} is missing or stale: run python -m server.precompute "
        "--phase-diagrams and git add -f the new entry"
    )
    # Load a copy: a failed load removes the entry, and the repository's must stay.
    shutil.copytree(entry, tmp_path / task.id)
    result = task.load(ModelCache(tmp_path))
    assert result is not None and result.cached and result.final
    assert result.request == request_ and result.id == task.id
    assert result.agreement > 0.8  # the page opens on a diagram that shows the paper's picture


def test_the_tracked_entries_are_exactly_the_shipped_ones() -> None:
    """The cache's eviction protects shipped_ids(); every tracked folder must be among them."""
    tracked = subprocess.run(
        ["git", "ls-files", "models_cache"],
        cwd=SHIPPED.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    folders = {Path(f).parts[1] for f in tracked.stdout.split() if len(Path(f).parts) > 2}
    assert folders == set(shipped_ids())
