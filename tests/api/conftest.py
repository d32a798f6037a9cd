"""Shared pieces of the in-process API tests: the app on the CPU behind FastAPI's TestClient, and a
model trained through it.

``client`` gives every test a fresh app and empty cache; a module whose models should train once
overrides it with a module-scoped fixture built on :func:`app_client`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.settings import Settings


def app_client(cache_dir: Path) -> Iterator[TestClient]:
    """A TestClient of the app on the CPU with its cache in ``cache_dir``; the app's lifespan (and
    so its training worker) runs until the generator is closed."""
    with TestClient(create_app(Settings(cache_dir=cache_dir, device="cpu"))) as test_client:
        yield test_client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A fresh app whose cache is the test's own ``tmp_path``."""
    yield from app_client(tmp_path)


def train(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/models with ``body``; its result, which must have come back 200."""
    response = client.post("/api/models", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
