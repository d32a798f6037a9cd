"""What the repository ships trained in models_cache/, and so what the cache never evicts.

The phase-diagram page's first request for each model (the API's defaults) ships, so that a fresh
clone opens the page without training (``python -m server.precompute --phase-diagrams``).
"""

from __future__ import annotations

from server.phase_schemas import PhaseDiagramRequest

# The page's first request for each model (its defaults): what models_cache/ ships.
DEFAULT_PHASE_DIAGRAMS = (PhaseDiagramRequest(n_features=2), PhaseDiagramRequest(n_features=3))


def shipped_ids() -> frozenset[str]:
    """Cache ids (64 hex digits) of every shipped entry; :class:`~server.cache.ModelCache` keeps
    them whatever its size limit."""
    return frozenset(request.diagram_id() for request in DEFAULT_PHASE_DIAGRAMS)
