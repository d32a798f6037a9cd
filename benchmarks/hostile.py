"""Health latency while a server refuses hostile request bodies.

Each hostile body is under ``max_message_bytes`` (1 MB) and invalid in as many places as it can
be: before validation was bounded (``server/api/schemas/bounded.py``), the first of them got its
422 after 27.6 s, and ``/api/health`` waited as long. For ``--seconds`` (10), ``--senders`` (2)
clients post them in turn (REST, and the same text on the live socket), while one client asks
``GET /api/health`` every 50 ms. Printed: per body, its size, the refusals' round trip (median,
max) and the errors in the answer; then the health latency p50 / p99 / max beside the same
client's latency on an idle server, measured first in the same run.

    python -m benchmarks.hostile [--seconds 10] [--senders 2] [--url URL]

Without ``--url`` it starts its own server (CPU, an empty temporary cache).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from benchmarks.load import quantile, ws_url
from benchmarks.serve import serving


def hostile_bodies() -> dict[str, dict[str, Any]]:
    """Invalid requests of about 1 MB, each as wrong in as many places as it fits."""
    return {
        "feature_sets: 60 × 4,096 × -1": {
            "n_features": 5,
            "feature_sets": [{"kind": "correlated", "features": [-1] * 4096} for _ in range(60)],
        },
        "40 × 4,096 probabilities of -1": {
            "n_features": 4096,
            "feature_probability": [[-1] * 4096 for _ in range(40)],
        },
        "80,000 unknown keys": {"n_features": 5, **{f"k{i}": 1 for i in range(80_000)}},
        "60 sets × 1,500 unknown keys": {
            "n_features": 5,
            "feature_sets": [{f"k{i}": 1 for i in range(1500)} for _ in range(60)],
        },
    }


@dataclass
class HostileReport:
    idle_health_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    refusals_ms: dict[str, list[float]] = field(default_factory=dict)
    errors_returned: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"machine: {platform.machine()}, {platform.system()}", ""]
        lines.append("| body | bytes | 422 round trip median / max (ms) | errors returned |")
        lines.append("|---|---|---|---|")
        for name, times in self.refusals_ms.items():
            lines.append(
                f"| {name} | {self.sizes[name]:,} | {statistics.median(times):.0f} / "
                f"{max(times):.0f} | {self.errors_returned[name]} |"
            )
        lines += [
            "",
            "| /api/health | requests | p50 (ms) | p99 (ms) | max (ms) |",
            "|---|---|---|---|---|",
        ]
        for name, values in (
            ("idle server", self.idle_health_ms),
            ("under hostile bodies", self.health_ms),
        ):
            lines.append(
                f"| {name} | {len(values)} | {quantile(values, 0.5):.1f} | "
                f"{quantile(values, 0.99):.1f} | {max(values):.1f} |"
            )
        if self.unexpected:
            lines += ["", "unexpected answers:", *self.unexpected[:5]]
        return "\n".join(lines)


async def _health_loop(base: str, until: float, into: list[float]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() < until:
            start = time.perf_counter()
            response = await client.get(f"{base}/api/health")
            into.append((time.perf_counter() - start) * 1e3)
            if response.status_code != 200:
                raise RuntimeError(f"health answered {response.status_code}")
            await asyncio.sleep(0.05)


async def _sender(base: str, texts: dict[str, str], until: float, report: HostileReport) -> None:
    async with (
        httpx.AsyncClient(timeout=120) as client,
        websockets.connect(ws_url(base), max_size=None, proxy=None) as ws,
    ):
        while time.monotonic() < until:
            for name, text in texts.items():
                start = time.perf_counter()
                response = await client.post(
                    f"{base}/api/models", content=text, headers={"Content-Type": "application/json"}
                )
                report.refusals_ms[name].append((time.perf_counter() - start) * 1e3)
                if response.status_code != 422:
                    report.unexpected.append(f"{name}: HTTP {response.status_code}")
                    continue
                report.errors_returned[name] = len(response.json()["detail"])
                await ws.send(text)
                message = json.loads(await ws.recv())
                if message.get("type") != "error":
                    report.unexpected.append(f"{name} on the socket: {message.get('type')}")


async def run_hostile(base: str, seconds: float, senders: int) -> HostileReport:
    """Measure health latency idle (2 s), then while ``senders`` clients post hostile bodies."""
    report = HostileReport()
    texts = {name: json.dumps(body) for name, body in hostile_bodies().items()}
    for name, text in texts.items():
        report.sizes[name], report.refusals_ms[name] = len(text.encode()), []
    await _health_loop(base, time.monotonic() + 2, report.idle_health_ms)
    until = time.monotonic() + seconds
    await asyncio.gather(
        _health_loop(base, until, report.health_ms),
        *(_sender(base, texts, until, report) for _ in range(senders)),
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--url", help="a running server (default: start one)")
    args = parser.parse_args()
    if args.url:
        print(asyncio.run(run_hostile(args.url, args.seconds, args.senders)).table())
        return
    with tempfile.TemporaryDirectory() as cache, serving(Path(cache)) as base:
        print(asyncio.run(run_hostile(base, args.seconds, args.senders)).table())


if __name__ == "__main__":
    main()
