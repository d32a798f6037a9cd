"""Shared fixtures: a real uvicorn server on a free loopback port, and small requests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from benchmarks.serve import start_server, stop_server

# Starlette's TestClient calls the app as Host "testserver", a name the server's DNS-rebinding
# check refuses by default (server/api/security.py); tests of that check send other names.
os.environ.setdefault("SUPERPOSITION_ALLOWED_HOSTS", '["testserver"]')


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (http://127.0.0.1:PORT) of a real server with a fresh, empty cache."""
    proc, base = start_server(tmp_path_factory.mktemp("live_cache"))
    try:
        yield base
    finally:
        stop_server(proc)
