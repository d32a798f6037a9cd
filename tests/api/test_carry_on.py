"""Training that carries on (``init_from``) and the live controls (pause, resume, step, speed):
issue 16's contract, against a real server (REST, jobs and the live socket)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import torch
from websockets.sync.client import ClientConnection, connect

from tests.api.test_live import receive, until_done, ws_url

BASE = {"n_features": 5, "n_hidden": 2, "feature_probability": 0.1, "steps": 300, "seed": 3}
LR, WEIGHT_DECAY = 1e-3, 0.01  # the request defaults: one AdamW step moves a weight ≤ lr(1 + wd|w|)


def post(base: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base}/api/models", json=body, timeout=120)


def weights(result: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    W = torch.tensor([instance["W"] for instance in result["instances"]])
    b = torch.tensor([instance["b"] for instance in result["instances"]])
    return W, b


def assert_one_step_from(after: dict[str, Any], before: dict[str, Any]) -> None:
    """Every weight moved by at most one AdamW step (Adam's first step is lr per entry)."""
    for new, old in zip(weights(after), weights(before), strict=True):
        bound = LR * (1 + WEIGHT_DECAY * old.abs()) + 1e-6
        assert ((new - old).abs() <= bound).all(), (new - old).abs().max()
        assert (new - old).abs().max() > LR / 2  # it did take the step


def test_a_model_carries_on_from_a_trained_one(live_server: str) -> None:
    start = post(live_server, BASE).json()
    warm = BASE | {"steps": 1, "seed": 4, "feature_probability": 0.01, "init_from": start["id"]}
    carried = post(live_server, warm)
    assert carried.status_code == 200, carried.text
    result = carried.json()
    assert result["request"]["init_from"] == start["id"]
    assert_one_step_from(result, start)
    fresh = post(live_server, warm | {"init_from": None}).json()
    assert fresh["id"] != result["id"]  # the starting point is part of the id
    assert (weights(fresh)[0] - weights(start)[0]).abs().max() > 0.1  # fresh really is fresh
    again = post(live_server, warm).json()
    assert again["id"] == result["id"] and again["cached"] is True


def test_one_instance_seeds_every_instance(live_server: str) -> None:
    start = post(live_server, BASE).json()
    body = BASE | {"steps": 1, "feature_probability": [0.3, 0.1, 0.01], "init_from": start["id"]}
    result = post(live_server, body).json()
    W, _ = weights(result)
    assert W.shape == (3, 2, 5)
    for k in range(3):
        assert_one_step_from(
            {"instances": [result["instances"][k]]}, {"instances": start["instances"]}
        )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"n_hidden": 3}, "n_hidden 2 ≠ 3"),
        ({"activation": "linear"}, "activation relu ≠ linear"),
        ({"feature_probability": [0.1, 0.2]}, None),  # 1 instance seeds 2: fits
    ],
)
def test_a_start_that_does_not_fit_is_a_422_naming_init_from(
    live_server: str, change: dict[str, Any], says: str | None
) -> None:
    two = post(live_server, BASE | {"feature_probability": [0.1, 0.2]}).json()
    one = post(live_server, BASE).json()
    start = one if says is not None else two
    body = BASE | change | {"steps": 1, "init_from": start["id"]}
    response = post(live_server, body)
    if says is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "init_from"] and says in error["msg"], error


def test_instance_counts_must_match_unless_one(live_server: str) -> None:
    two = post(live_server, BASE | {"feature_probability": [0.1, 0.2]}).json()
    response = post(
        live_server, BASE | {"feature_probability": [0.1, 0.2, 0.3], "init_from": two["id"]}
    )
    assert response.status_code == 422
    assert "instances 2 ≠ 3" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("init_from", "says"),
    [
        ("0" * 64, "no trained model"),
        ("current", "live socket"),
        ("snapshot-" + "a" * 64, "live socket"),
    ],
)
def test_unknown_or_live_only_starts_are_422(live_server: str, init_from: str, says: str) -> None:
    response = post(live_server, BASE | {"init_from": init_from})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "init_from"] and says in error["msg"]
    job = httpx.post(
        f"{live_server}/api/jobs", json={"model": BASE | {"init_from": init_from}}, timeout=30
    )
    assert job.status_code == 422
    assert job.json()["detail"][0]["loc"] == ["body", "model", "init_from"]


def test_a_malformed_init_from_is_refused_by_its_pattern(live_server: str) -> None:
    response = post(live_server, BASE | {"init_from": "../../etc/passwd"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "init_from"]


# -- the live socket ------------------------------------------------------------------------------
LONG = BASE | {"steps": 50_000, "seed": 5}


def next_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while (message := receive(ws, timeout=60))["type"] != kind:
        assert message["type"] in ("snapshot", "control"), message
    return message


def quiet(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Every message within ``seconds``."""
    messages, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            messages.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return messages


def test_current_carries_on_from_the_socket_s_latest_weights(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(BASE | {"seed": 21}))
        _, first = until_done(ws, 1)
        ws.send(json.dumps(BASE | {"seed": 22, "steps": 1, "init_from": "current"}))
        _, second = until_done(ws, 2)
        assert second["type"] == "done", second
        assert second["result"]["request"]["init_from"] == first["result"]["id"]
        assert_one_step_from(second["result"], first["result"])

        # Mid-training, "current" is the latest snapshot's weights.
        ws.send(json.dumps(LONG | {"seed": 23}))
        snapshot = next_of(ws, "snapshot")
        ws.send(json.dumps(LONG | {"seed": 23, "steps": 1, "init_from": "current"}))
        _, third = until_done(ws, 4)
    assert third["type"] == "done", third
    name = third["result"]["request"]["init_from"]
    assert name.startswith("snapshot-") and len(name) == len("snapshot-") + 64
    # It started from the last snapshot the socket was sent, which may be newer than the first.
    assert third["result"]["instances"][0]["W"] != snapshot["instances"][0]["W"]


def test_current_before_anything_trained_is_an_error(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(BASE | {"init_from": "current"}))
        message = receive(ws)
    assert message["type"] == "error"
    assert message["detail"][0]["loc"] == ["init_from"]


def test_pause_step_resume_and_speed(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps(LONG | {"seed": 31}))
        next_of(ws, "snapshot")
        ws.send(json.dumps({"type": "pause"}))
        ack = next_of(ws, "control")
        assert ack["control"] == "pause" and ack["applied"] and ack["paused"]
        stopped = next_of(ws, "snapshot")
        assert stopped["paused"] is True
        # Paused: the step counter stands still (no snapshot comes, and health shows it held).
        assert [m for m in quiet(ws, 0.6) if m["type"] == "snapshot"] == []
        health = httpx.get(f"{live_server}/api/health", timeout=10).json()
        assert health["held_runs"] == 1

        ws.send(json.dumps({"type": "step", "steps": 7}))
        assert next_of(ws, "control")["applied"]
        stepped = next_of(ws, "snapshot")
        while not stepped["paused"]:  # snapshots on the way, then the one where it paused
            stepped = next_of(ws, "snapshot")
        assert stepped["step"] == stopped["step"] + 7

        ws.send(json.dumps({"type": "speed", "steps_per_second": 20}))
        assert next_of(ws, "control")["steps_per_second"] == 20
        ws.send(json.dumps({"type": "resume"}))
        resumed = next_of(ws, "control")
        assert resumed["applied"] and not resumed["paused"]
        time.sleep(1.0)
        latest = [m for m in quiet(ws, 0.5) if m["type"] == "snapshot"]
        assert latest and not latest[-1]["paused"]
        # 1.5 s at 20 steps a second: the paced training went on, and no faster than its pace.
        assert stepped["step"] < latest[-1]["step"] <= stepped["step"] + 20 * 1.5 + 5

        ws.send(json.dumps({"type": "speed", "steps_per_second": None}))
        next_of(ws, "control")
        ws.send(json.dumps(BASE | {"seed": 32}))  # a new request runs, not paused
        snapshots, done = until_done(ws, 2)
    assert done["type"] == "done"
    assert all(not s["paused"] for s in snapshots)


def test_controls_with_nothing_training_and_bad_controls(live_server: str) -> None:
    with connect(ws_url(live_server), max_size=None) as ws:
        ws.send(json.dumps({"type": "pause"}))
        ack = receive(ws)
        assert ack["type"] == "control" and not ack["applied"] and "nothing" in ack["detail"]
        ws.send(json.dumps({"type": "step", "steps": 0}))
        error = receive(ws)
        assert error["type"] == "error" and error["detail"][0]["loc"][-1] == "steps"
        ws.send(json.dumps(BASE | {"seed": 41}))  # the socket still works
        _, done = until_done(ws, 1)
    assert done["type"] == "done"
