"""The results shipped in the repository's models_cache/ load, verify and are current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.cache import ModelCache
from server.phase_diagram import PhaseDiagramTask
from server.precompute import DEFAULT_PHASE_DIAGRAMS

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
