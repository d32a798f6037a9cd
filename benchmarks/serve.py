"""Start and stop a real explorer server (``python -m server``) on a free loopback port.

Used by the benchmarks that measure a running server and by the tests' fixtures.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    cache_dir: Path,
    *extra_args: str,
    env: dict[str, str] | None = None,
    startup_s: float = 60.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m server` on 127.0.0.1 and a free port; return it once /api/health answers
    (with the token, when ``env`` sets SUPERPOSITION_TOKEN), within ``startup_s`` seconds."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "--port",
            str(port),
            "--cache-dir",
            str(cache_dir),
            "--device",
            "cpu",
            *extra_args,
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    token = (env or {}).get("SUPERPOSITION_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/health", headers=headers, timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not answer /api/health within {startup_s:g} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serving(cache_dir: Path, *extra_args: str) -> Iterator[str]:
    """A running server's base URL for the duration of the block."""
    proc, base = start_server(cache_dir, *extra_args)
    try:
        yield base
    finally:
        stop_server(proc)
