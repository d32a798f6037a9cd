"""Content ids: the cache key of a request, the sha256 of its canonical JSON."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Bump when training, the cache layout or the result format changes: old entries then miss.
CACHE_FORMAT_VERSION = 2


def content_id(request: dict[str, Any], kind: str | None = None) -> str:
    """sha256 (64 hex digits) of ``{"format", "kind" (when given), "request"}`` as canonical JSON
    (sorted keys, no spaces), so equal requests share one id across processes and versions of
    the same format.

    Args:
        request: the request as JSON-ready values.
        kind: the resource, for every kind but models (whose ids predate it).
    """
    body: dict[str, Any] = {"format": CACHE_FORMAT_VERSION, "request": request}
    if kind is not None:
        body["kind"] = kind
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
