"""Load: many explorer pages moving their sliders at once, plus REST clients, against one server.

Each of ``--ws-clients`` (64) WebSocket clients opens one ``/api/models/live`` socket and, every
200 ms, "moves the slider": it sends the explorer's default request (n=5 → m=2, I=0.9ⁱ, ReLU,
1 restart, as frontend/js/state.js has it) with p the next step of a random walk over 40
log-spaced positions between 0.001 and 1 (rounded to 3 significant digits, as the page does). A
step of 0 sends the same request again (the slider was nudged within one position), which the
server joins rather than restarts. Client ``i`` uses ``random.Random(seed + i)`` and one of a few
seeds and step counts (3,000, 1,000, 300, all values the explorer's controls offer), so that the
sockets do not all ask for the same 40 models (equal requests share one job, and a finished one
is cached). Each of ``--rest-clients`` (16) REST clients loops: POST a small model (n=8 → m=3,
500 steps, p and seed from small sets), then GET ``/api/health``.

Measured, for the load phase of ``--seconds`` (60):

- errors: ``error`` messages, non-200 answers, exceptions (a POST waiting over
  ``request_timeout_s`` among them), sockets closed by the server, and sockets that heard nothing
  for ``silence_timeout_s``; with up to 5 examples;
- time to first answer: from sending a request to the first message that carries its seq (a
  snapshot, or ``done`` when cached), p50/p95/p99; requests superseded (or left at the end)
  before any answer are counted apart, as they have no such time. So that those do not drop out
  of the figures, also the time from sending a request to the first message of it or of a newer
  request on the socket (what the page waits before it shows this slider position or a later
  one), over every request;
- the round trip of the REST POSTs;
- completed trainings per second in the load phase: a ``done`` for a socket's latest request,
  and a 200 POST (each also counted when it came from the cache; POSTs answered after the load
  phase are counted apart);
- the server's peak RSS and ``/api/health`` before and after (once the server has settled).

At the end every WebSocket client closes its socket at once, usually mid-training: the server
must cancel that work. REST clients finish the request they are waiting for. The load generator
runs on the same machine as the server, so on 2 cores it takes part of the CPU it measures.

    python -m benchmarks.load [--seconds 60] [--ws-clients 64] [--rest-clients 16] [--url URL]
                              [--threads-reference]

Without ``--url`` it starts its own server (CPU, an empty temporary cache). With
``--threads-reference`` it then runs the same load against a second server whose torch trains on
one thread (``--torch-threads 1``; the default is torch's, every core), and prints both.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from benchmarks.serve import serving

POSITIONS = 40  # slider positions, log-spaced from p = 0.001 to p = 1
SEEDS = (0, 1, 2, 3)
STEPS = (3000, 3000, 1000, 300)  # mostly the default; the explorer's steps control offers all
REST_PROBABILITIES = (0.01, 0.03, 0.1, 0.3, 1.0)
REST_SEEDS = range(8)
MAX_EXAMPLES = 5


def slider_probabilities(positions: int = POSITIONS) -> list[float]:
    """p at each slider position, 0.001 … 1, to 3 significant digits like the page's slider."""
    return [float(f"{10 ** (-3 + 3 * k / (positions - 1)):.3g}") for k in range(positions)]


def explorer_request(p: float, seed: int, steps: int) -> dict[str, Any]:
    """The explorer's default request at feature probability ``p``."""
    return {
        "n_features": 5,
        "n_hidden": 2,
        "feature_probability": p,
        "importance_decay": 0.9,
        "steps": steps,
        "n_restarts": 1,
        "seed": seed,
    }


def ws_url(base: str) -> str:
    return base.replace("http", "ws", 1) + "/api/models/live"


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0 < q < 1) of values, interpolated; NaN when there are none."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


@dataclass
class LoadReport:
    """What one load run measured (every figure from the run itself)."""

    seconds: float  # length of the load phase (clients stop sending at its end)
    ws_clients: int
    rest_clients: int
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    ws_sent: int = 0  # requests sent on the sockets
    ws_answered: int = 0  # requests that got a first message with their seq
    ws_first_snapshot: int = 0  # … and it was a snapshot
    ws_first_cached: int = 0  # … a done from the cache
    ws_first_done: int = 0  # … a done of a training (a joined request whose job finished)
    ws_first_error: int = 0  # … an error
    ws_unanswered: int = 0  # superseded, or left at the end, before any message of theirs
    ws_completed: int = 0  # done for the socket's latest request
    ws_completed_cached: int = 0
    ws_messages: int = 0  # every message received
    rest_posts: int = 0
    rest_completed: int = 0  # 200 answers to POST /api/models
    rest_completed_late: int = 0  # … of them after the load phase (the last POSTs are waited for)
    rest_completed_cached: int = 0
    rest_health: int = 0  # 200 answers to GET /api/health
    client_cpu_s: float = 0.0  # CPU time the load generator itself used (it shares the machine)
    first_answer_s: list[float] = field(default_factory=list)
    view_s: list[float] = field(default_factory=list)  # send → a message of this or a newer seq
    rest_post_s: list[float] = field(default_factory=list)  # POST round trips (any status)
    health_before: dict[str, Any] = field(default_factory=dict)
    health_after: dict[str, Any] = field(default_factory=dict)
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (s into the load, MiB)

    def error(self, where: str, detail: object) -> None:
        self.errors += 1
        if len(self.error_examples) < MAX_EXAMPLES:
            self.error_examples.append(f"{where}: {str(detail)[:300]}")

    def percentiles_ms(self, values: list[float]) -> str:
        p50, p95, p99 = (quantile(values, q) * 1e3 for q in (0.5, 0.95, 0.99))
        return f"{p50:.0f} / {p95:.0f} / {p99:.0f} ms"

    @property
    def ws_per_s(self) -> float:
        return self.ws_completed / self.seconds

    @property
    def rest_per_s(self) -> float:
        return (self.rest_completed - self.rest_completed_late) / self.seconds

    @property
    def total_per_s(self) -> float:
        return self.ws_per_s + self.rest_per_s

    @property
    def peak_rss_bytes(self) -> int:
        return int(self.health_after.get("peak_rss_bytes", 0))

    def table(self) -> str:
        """The report as a markdown table, then the error examples, if any."""

        def health(h: dict[str, Any]) -> str:
            keys = ("jobs", "training_runs", "live_sockets", "tasks", "threads")
            return ", ".join(f"{k} {h.get(k, '?')}" for k in keys)

        rss = self.peak_rss_bytes / 2**20
        before_rss = int(self.health_before.get("peak_rss_bytes", 0)) / 2**20
        rows = [
            ("clients", f"{self.ws_clients} WebSocket + {self.rest_clients} REST"),
            ("load phase", f"{self.seconds:.1f} s"),
            ("**errors**", f"**{self.errors}**"),
            ("WS requests sent", f"{self.ws_sent}"),
            (
                "WS requests answered",
                f"{self.ws_answered} (first message: {self.ws_first_snapshot} snapshot, "
                f"{self.ws_first_cached} cached done, {self.ws_first_done} done, "
                f"{self.ws_first_error} error)",
            ),
            ("WS requests superseded or left before any answer", f"{self.ws_unanswered}"),
            ("WS messages received", f"{self.ws_messages}"),
            (
                "time to first answer p50 / p95 / p99 (answered requests)",
                self.percentiles_ms(self.first_answer_s),
            ),
            (
                "time to a message of this or a newer request p50 / p95 / p99 (all requests)",
                self.percentiles_ms(self.view_s),
            ),
            (
                "completed trainings / s, WS",
                f"{self.ws_per_s:.2f} ({self.ws_completed}, {self.ws_completed_cached} cached)",
            ),
            (
                "completed trainings / s, REST",
                f"{self.rest_per_s:.2f} ({self.rest_completed - self.rest_completed_late}; "
                f"{self.rest_completed_late} more after the load phase; of {self.rest_posts} "
                f"POSTs, {self.rest_completed_cached} cached)",
            ),
            ("completed trainings / s, total", f"{self.total_per_s:.2f}"),
            ("REST POST round trip p50 / p95 / p99", self.percentiles_ms(self.rest_post_s)),
            ("REST health checks answered", f"{self.rest_health}"),
            ("CPU time of the load generator itself", f"{self.client_cpu_s:.1f} s"),
            ("server peak RSS", f"{rss:.0f} MiB (before the load: {before_rss:.0f} MiB)"),
            (
                "server RSS during the load (s: MiB)",
                ", ".join(f"{t:.0f}: {mib:.0f}" for t, mib in self.rss_mib),
            ),
            ("health before", health(self.health_before)),
            ("health after (settled)", health(self.health_after)),
        ]
        lines = ["| what | measured |", "|---|---|"]
        lines += [f"| {what} | {value} |" for what, value in rows]
        if self.error_examples:
            lines += ["", "Error examples:"] + [f"- {e}" for e in self.error_examples]
        return "\n".join(lines)


@dataclass
class Socket:
    """One WebSocket client's view of its requests."""

    seq: int = 0  # the latest request sent
    sent_at: dict[int, float] = field(default_factory=dict)  # sent, not yet answered
    # (seq, sent) of requests no message of this or a newer seq has reached yet, oldest first
    unseen: collections.deque[tuple[int, float]] = field(default_factory=collections.deque)
    last_heard: float = 0.0
    closing: bool = False  # we are closing: the socket's end is no error


async def read_messages(ws: ClientConnection, sock: Socket, report: LoadReport, name: str) -> None:
    """Receive until the socket closes; record first answers, completions and errors."""
    loop = asyncio.get_running_loop()
    try:
        async for raw in ws:
            now = loop.time()
            sock.last_heard = now
            report.ws_messages += 1
            message = json.loads(raw)
            kind, seq = message.get("type"), message.get("seq")
            while sock.unseen and sock.unseen[0][0] <= seq:
                report.view_s.append(now - sock.unseen.popleft()[1])
            sent = sock.sent_at.pop(seq, None)
            if sent is not None:  # the first message answering this request
                report.ws_answered += 1
                report.first_answer_s.append(now - sent)
                if kind == "snapshot":
                    report.ws_first_snapshot += 1
                elif kind == "done" and message["result"].get("cached"):
                    report.ws_first_cached += 1
                elif kind == "done":
                    report.ws_first_done += 1
                else:
                    report.ws_first_error += 1
            if kind == "error":
                report.error(f"{name} seq {seq}", message.get("detail"))
            elif kind == "done" and seq == sock.seq:
                report.ws_completed += 1
                report.ws_completed_cached += bool(message["result"].get("cached"))
            elif kind not in ("snapshot", "done"):
                report.error(f"{name} seq {seq}", f"unexpected message type {kind!r}")
    except ConnectionClosed as exc:
        if not sock.closing:
            report.error(name, f"socket closed by the server: {exc!r}")
        return
    if not sock.closing:
        report.error(name, f"socket closed by the server: {ws.close_code} {ws.close_reason!r}")


async def ws_client(
    base: str,
    index: int,
    seed: int,
    deadline: float,
    move_every_s: float,
    silence_timeout_s: float,
    report: LoadReport,
) -> None:
    """One explorer page: a socket, and a slider moved every ``move_every_s`` until deadline."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed + index)
    name = f"ws client {index}"
    probabilities = slider_probabilities()
    position = rng.randrange(len(probabilities))
    train_seed, steps = SEEDS[index % len(SEEDS)], STEPS[index // len(SEEDS) % len(STEPS)]
    await asyncio.sleep(rng.uniform(0, move_every_s))  # pages do not move in lockstep
    sock = Socket()
    try:
        async with connect(
            ws_url(base), max_size=None, proxy=None, open_timeout=30, close_timeout=10
        ) as ws:
            reader = asyncio.create_task(read_messages(ws, sock, report, name))
            try:
                sock.last_heard = next_move = loop.time()
                while (now := loop.time()) < deadline and not reader.done():
                    if sock.sent_at and now - sock.last_heard > silence_timeout_s:
                        report.error(name, f"no message for {silence_timeout_s:.0f} s")
                        break
                    request = explorer_request(probabilities[position], train_seed, steps)
                    sock.seq += 1
                    sock.sent_at[sock.seq] = loop.time()
                    sock.unseen.append((sock.seq, sock.sent_at[sock.seq]))
                    await ws.send(json.dumps(request))
                    report.ws_sent += 1
                    position = min(max(position + rng.choice((-1, 0, 1)), 0), POSITIONS - 1)
                    next_move = max(next_move + move_every_s, loop.time())
                    await asyncio.sleep(min(next_move, deadline) - loop.time())
            finally:
                sock.closing = True
                await ws.close()
                await reader
    except Exception as exc:  # a refused or broken connection, a malformed message, …
        report.error(name, repr(exc))
    report.ws_unanswered += len(sock.sent_at)


async def rest_client(
    base: str, index: int, seed: int, deadline: float, timeout_s: float, report: LoadReport
) -> None:
    """POST a small model, GET /api/health, until deadline (the last POST is waited for)."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed + 10_000 + index)
    name = f"rest client {index}"
    async with httpx.AsyncClient(base_url=base, timeout=timeout_s, trust_env=False) as client:
        while loop.time() < deadline:
            body = {
                "n_features": 8,
                "n_hidden": 3,
                "feature_probability": rng.choice(REST_PROBABILITIES),
                "steps": 500,
                "seed": rng.choice(REST_SEEDS),
            }
            try:
                report.rest_posts += 1
                started = loop.time()
                response = await client.post("/api/models", json=body)
                report.rest_post_s.append(loop.time() - started)
                if response.status_code == 200:
                    report.rest_completed += 1
                    report.rest_completed_late += loop.time() > deadline
                    report.rest_completed_cached += bool(response.json().get("cached"))
                else:
                    report.error(f"{name} POST", f"{response.status_code} {response.text}")
                response = await client.get("/api/health")
                if response.status_code == 200:
                    report.rest_health += 1
                else:
                    report.error(f"{name} health", f"{response.status_code} {response.text}")
            except (httpx.HTTPError, ValueError) as exc:  # ValueError: a body that is not JSON
                report.error(name, repr(exc))
                await asyncio.sleep(0.2)  # a refused connection fails at once: do not spin


async def get_health(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as client:
        response = await client.get("/api/health")
        response.raise_for_status()
        health: dict[str, Any] = response.json()
        return health


async def sample_rss(base: str, start: float, every_s: float, report: LoadReport) -> None:
    """Record the server's resident memory every ``every_s`` (is it bounded, or growing?)."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(httpx.HTTPError):
            rss = (await get_health(base)).get("rss_bytes", 0)
            report.rss_mib.append((loop.time() - start, rss / 2**20))


async def settle(
    base: str, timeout: float = 10.0, tasks: int | None = None, threads: int | None = None
) -> dict[str, Any]:
    """Poll /api/health until no job, run or live socket is left, or ``timeout`` passes; return
    the last health. Given ``tasks`` or ``threads``, also wait until the server has at most that
    many asyncio tasks or threads."""
    deadline = time.monotonic() + timeout
    while True:
        health = await get_health(base)
        settled = (
            health["jobs"] == health["training_runs"] == health["live_sockets"] == 0
            and (tasks is None or health["tasks"] <= tasks)
            and (threads is None or health["threads"] <= threads)
        )
        if settled or time.monotonic() > deadline:
            return health
        await asyncio.sleep(0.25)


async def run_load(
    base: str,
    ws_clients: int = 64,
    rest_clients: int = 16,
    seconds: float = 60.0,
    move_every_s: float = 0.2,
    seed: int = 0,
    silence_timeout_s: float = 30.0,
    request_timeout_s: float = 120.0,
    settle_timeout_s: float = 30.0,
) -> LoadReport:
    """Drive the server at ``base`` (http://host:port) for ``seconds``; see the module docstring.

    ``health_after`` is read once the server has settled (no jobs, runs or live sockets) or
    ``settle_timeout_s`` has passed.
    """
    report = LoadReport(seconds=seconds, ws_clients=ws_clients, rest_clients=rest_clients)
    report.health_before = await get_health(base)
    cpu = time.process_time()
    start = asyncio.get_running_loop().time()
    deadline = start + seconds
    sampler = asyncio.create_task(sample_rss(base, start, seconds / 6, report))
    outcomes = await asyncio.gather(
        *(
            ws_client(base, i, seed, deadline, move_every_s, silence_timeout_s, report)
            for i in range(ws_clients)
        ),
        *(
            rest_client(base, i, seed, deadline, request_timeout_s, report)
            for i in range(rest_clients)
        ),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):  # a client failed in a way it did not expect
            report.error("client", repr(outcome))
    report.client_cpu_s = time.process_time() - cpu
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    report.health_after = await settle(base, settle_timeout_s)
    return report


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Within the block, file descriptor 1 is stderr's: a server started here logs every request
    to its stdout (which it inherits), and those lines should not mix with the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ws-clients", type=int, default=64)
    parser.add_argument("--rest-clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="a running server's base URL (default: start one)")
    parser.add_argument(
        "--threads-reference",
        action="store_true",
        help="run again against a server whose torch uses 1 thread, and print both",
    )
    args = parser.parse_args()

    def load(base: str) -> LoadReport:
        return asyncio.run(
            run_load(base, args.ws_clients, args.rest_clients, args.seconds, seed=args.seed)
        )

    if args.url:
        runs = [(args.url, load(args.url.rstrip("/")))]
    else:
        configs = [("python -m server --device cpu", [])]
        if args.threads_reference:
            one = ["--torch-threads", "1"]
            configs.append((f"python -m server --device cpu {' '.join(one)}", one))
        runs = []
        for name, extra in configs:
            # The table is printed after the block: nothing of ours goes to stdout inside it.
            with (
                tempfile.TemporaryDirectory() as cache,
                stdout_to_stderr(),
                serving(Path(cache), *extra) as base,
            ):
                runs.append((f"its own server ({name}, an empty cache)", load(base)))
    for server, report in runs:
        health = report.health_after
        print(
            f"{os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}), Python "
            f"{platform.python_version()}; server torch {health.get('torch')} on "
            f"{health.get('device')}; {server}\n"
        )
        print(report.table())
        print()


if __name__ == "__main__":
    main()
