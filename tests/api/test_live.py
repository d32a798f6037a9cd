"""WS /api/models/live against a real uvicorn server on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

QUICK = {
    "n_features": 5,
    "n_hidden": 2,
    "feature_probability": 0.1,
    "importance_decay": 0.9,
    "steps": 3000,
    "seed": 7,
}
LONG = QUICK | {"steps": 50_000, "seed": 8}  # ~30 s on a fast core: only finishes if not cancelled


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/api/models/live"


def receive(ws: ClientConnection, timeout: float = 120) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def until_done(ws: ClientConnection, seq: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Collect the snapshots of request `seq` until its done (or error) message."""
    snapshots = []
    while True:
        message = receive(ws)
        assert message["seq"] <= seq
        if message["seq"] < seq:
            continue  # a cancelled request's last words
        if message["type"] == "snapshot":
            snapshots.append(message)
        else:
            return snapshots, message


def test_snapshots_stream_then_done_then_cached(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(QUICK))
        snapshots, done = until_done(ws, 1)
    assert done["type"] == "done", done
    assert len(snapshots) >= 2
    steps = [s["step"] for s in snapshots]
    assert steps == sorted(steps) and steps[0] < steps[-1] < QUICK["steps"]
    first = snapshots[0]
    assert first["steps"] == 3000 and first["id"] == done["result"]["id"]
    instance = first["instances"][0]
    assert len(instance["gram"]) == 5 and len(instance["W"]) == 2 and len(instance["b"]) == 5
    # At most about 20 snapshots a second.
    span = done["result"]["train_seconds"]
    assert len(snapshots) <= 20 * span + 2
    assert done["result"]["cached"] is False

    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(QUICK))
        again = receive(ws)
    assert again["type"] == "done" and again["result"]["cached"] is True
    assert again["result"]["instances"] == done["result"]["instances"]


def test_new_request_cancels_the_running_one(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(LONG))
        first = receive(ws)
        assert first["type"] == "snapshot" and first["seq"] == 1
        # The API answers while a model trains: training is off the event loop.
        assert httpx.get(f"{live_server}/api/health", timeout=5).status_code == 200
        started = time.monotonic()
        ws.send(json.dumps(QUICK | {"steps": 300, "seed": 9}))
        _, done = until_done(ws, 2)
        elapsed = time.monotonic() - started
    assert done["type"] == "done" and done["result"]["request"]["steps"] == 300
    # The long job was cancelled, not finished first and never stored.
    assert elapsed < done["result"]["train_seconds"] + 20
    long_id = first["id"]
    assert httpx.get(f"{live_server}/api/models/{long_id}").status_code == 404


def test_bad_requests_get_errors_and_the_socket_stays_usable(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send("not json")
        error = receive(ws)
        assert error == error | {"type": "error", "seq": 1}
        ws.send(json.dumps(QUICK | {"n_hidden": 0}))
        error = receive(ws)
        assert error["type"] == "error" and error["seq"] == 2
        assert any("n_hidden" in map(str, e["loc"]) for e in error["detail"])
        ws.send(json.dumps(QUICK | {"n_features": 10**6}))
        error = receive(ws)
        assert error["seq"] == 3 and "max_features" in json.dumps(error["detail"])
        ws.send('{"steps": 1' + "0" * 400 + "}")  # an int far beyond any float
        error = receive(ws)
        assert error["type"] == "error" and "steps" in json.dumps(error["detail"])
        ws.send(b"\x00\x01binary")
        error = receive(ws)
        assert error["type"] == "error" and error["seq"] == 5
        ws.send(json.dumps(QUICK | {"steps": 100, "seed": 10}))
        _, done = until_done(ws, 6)
        assert done["type"] == "done"


def test_disconnect_cancels_training(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(LONG | {"seed": 11}))
        first = receive(ws)
        assert first["type"] == "snapshot"
    # The worker is free again: a small request on a new socket completes well before the
    # abandoned 50,000-step job could have.
    started = time.monotonic()
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(QUICK | {"steps": 200, "seed": 12}))
        _, done = until_done(ws, 1)
    assert done["type"] == "done"
    assert time.monotonic() - started < done["result"]["train_seconds"] + 20
    # One worker runs jobs in order: had the abandoned job run on, it would be stored by now.
    assert httpx.get(f"{live_server}/api/models/{first['id']}").status_code == 404


def test_repeating_the_running_request_joins_it(live_server: str) -> None:
    request = QUICK | {"steps": 8000, "seed": 13}
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(request))
        step = 0
        while step < 500:
            message = receive(ws)
            assert message["type"] == "snapshot"
            step = message["step"]
        ws.send(json.dumps(request))  # e.g. a slider moved away and back within the debounce
        snapshots, done = until_done(ws, 2)
    assert done["type"] == "done" and done["result"]["cached"] is False
    # The job went on rather than starting again from step 1.
    assert all(s["step"] > step for s in snapshots)


def test_concurrent_sockets_each_get_their_own_snapshots_and_result(live_server: str) -> None:
    # Three sockets, three requests of one training shape: the worker trains them in one batch,
    # and every message reaches the socket that asked, with its own id.
    requests = [QUICK | {"seed": 20 + k, "feature_probability": p} for k, p in enumerate(
        (0.3, 0.1, 0.03)
    )]  # fmt: skip
    ids = [
        httpx.post(f"{live_server}/api/models", json=r | {"steps": 1}).json()["id"]
        for r in requests  # ids of other requests: they must never reach these sockets
    ]
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(connect(ws_url(live_server), max_size=None)) for _ in requests
        ]
        for ws, request in zip(sockets, requests, strict=True):
            ws.send(json.dumps(request))
        for ws, request, other_id in zip(sockets, requests, ids, strict=True):
            snapshots, done = until_done(ws, 1)
            assert done["type"] == "done", done
            result = done["result"]
            assert result["cached"] is False
            assert result["request"]["feature_probability"] == [request["feature_probability"]]
            assert result["request"]["seed"] == request["seed"]
            assert snapshots and {s["id"] for s in snapshots} == {result["id"]}
            assert result["id"] != other_id


def health(base: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{base}/api/health").json()
    return answer


def test_huge_frames_are_refused_and_the_socket_stays_usable(live_server: str) -> None:
    limit = httpx.get(f"{live_server}/api/limits").json()["max_message_bytes"]
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(QUICK | {"importance": [1.0] * (limit // 4)}))  # 1–4× the limit
        error = receive(ws)
        assert error["type"] == "error" and error["seq"] == 1
        assert "max_message_bytes" in json.dumps(error["detail"])
        ws.send(json.dumps(QUICK | {"steps": 50, "seed": 20}))
        _, done = until_done(ws, 2)
        assert done["type"] == "done"
    # A frame beyond 4× the limit is cut off by the protocol layer before it is held whole.
    with connect(ws_url(live_server), max_size=None) as ws, pytest.raises(ConnectionClosed) as cut:
        ws.send("x" * (5 * limit))
        receive(ws, timeout=30)
    assert cut.value.rcvd is not None and cut.value.rcvd.code == 1009  # "message too big"


def test_wrong_types_are_refused_by_field(live_server: str) -> None:
    wrong = [
        "[]",
        "null",
        "42",
        '"a string"',
        "{}{}",
        json.dumps(QUICK | {"n_features": "five"}),
        json.dumps(QUICK | {"feature_probability": {"p": 0.1}}),
        json.dumps(QUICK | {"steps": 1.5}),
        json.dumps(QUICK | {"activation": ["relu"]}),
        json.dumps(QUICK | {"surprise": True}),
        json.dumps(QUICK | {"retrain": "yes"}),
        '{"n_features": NaN}',
        "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
    ]
    with connect(ws_url(live_server), max_size=None) as ws:
        for seq, text in enumerate(wrong, start=1):
            ws.send(text)
            error = receive(ws)
            assert error["type"] == "error" and error["seq"] == seq, (text, error)
            assert error["detail"], text
        ws.send(json.dumps(QUICK | {"steps": 50, "seed": 21}))
        _, done = until_done(ws, len(wrong) + 1)
        assert done["type"] == "done"


def test_a_flood_of_requests_ends_with_the_last_one_answered(live_server: str) -> None:
    flood = 500
    with connect(ws_url(live_server), max_size=None) as ws:
        for k in range(flood):  # every new request cancels the one before it
            request = QUICK | {"seed": 1000 + k} if k % 3 else {"n_features": -k}
            ws.send(json.dumps(request))
        ws.send(json.dumps(QUICK | {"steps": 50, "seed": 22}))
        _, done = until_done(ws, flood + 1)
        assert done["type"] == "done" and done["result"]["request"]["seed"] == 22
    deadline = time.monotonic() + 20
    while (now := health(live_server))["jobs"] or now["training_runs"] or now["live_sockets"]:
        assert time.monotonic() < deadline, now  # nothing goes on training for the flood
        time.sleep(0.1)
