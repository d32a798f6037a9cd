"""Validation errors trimmed to what a client is sent."""

from __future__ import annotations

from typing import Any


def public_errors(errors: list[dict[str, Any]], most: int = 20) -> list[dict[str, Any]]:
    """Validation errors fit to send: at most ``most`` of them, long inputs left out.

    A list of 4,000 bad probabilities would otherwise answer with 4,000 errors, each echoing it.
    """
    kept = []
    for error in errors[:most]:
        error = dict(error)
        value = error.get("input")
        if isinstance(value, (list, dict, str)) and len(value) > 16:
            error["input"] = f"<{type(value).__name__} of length {len(value)}>"
        kept.append(error)
    if len(errors) > most:
        kept.append({"type": "truncated", "loc": [], "msg": f"{len(errors) - most} more errors"})
    return kept
