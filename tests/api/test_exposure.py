"""What the server exposes: no CORS wildcard, no cross-site live sockets, ids that never become
paths, weights that are never unpickled, and the optional shared token."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pickle
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from server.api.app import create_app
from server.api.settings import Limits, Settings
from server.cache import META, WEIGHTS

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"n_features": 4, "n_hidden": 2, "steps": 20, "batch_size": 32}
EVIL = "http://evil.example"


def settings(cache_dir: Path, **overrides: Any) -> Settings:
    return Settings(cache_dir=cache_dir, device="cpu", limits=Limits(max_steps=1000), **overrides)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path))) as test_client:
        yield test_client


def refusal(client: TestClient, path: str, headers: dict[str, str] | None = None) -> Any:
    """The WebSocketDisconnect of a socket the server opens only to close (1008, a reason)."""
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(path, headers=headers or {}) as ws,
    ):
        ws.receive_text()
    return refused.value


def test_the_default_host_is_loopback() -> None:
    assert Settings().host == "127.0.0.1"


def test_no_cors_headers_by_default(client: TestClient) -> None:
    response = client.get("/api/limits", headers={"Origin": EVIL})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/api/models",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_origins_are_a_setting_and_never_a_wildcard(tmp_path: Path) -> None:
    allowed = "https://course.example:8443"
    with TestClient(create_app(settings(tmp_path, cors_origins=[allowed]))) as client:
        ok = client.get("/api/limits", headers={"Origin": allowed})
        assert ok.headers["access-control-allow-origin"] == allowed
        preflight = client.options(
            "/api/models",
            headers={
                "Origin": allowed,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == allowed
        other = client.get("/api/limits", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in other.headers


def test_live_sockets_refuse_other_sites_pages(client: TestClient) -> None:
    """Browsers apply no CORS to WebSockets: the server checks the Origin itself."""
    refused = refusal(client, "/api/models/live", {"Origin": EVIL})
    assert refused.code == 1008 and "cors_origins" in refused.reason
    # The explorer's own page (same host) and scripts (no Origin) get in.
    for headers in ({"Origin": "http://testserver"}, {}):
        with client.websocket_connect("/api/models/live", headers=headers) as ws:
            ws.send_text(json.dumps(SMALL))
            while (message := ws.receive_json())["type"] == "snapshot":
                pass
            assert message["type"] == "done"


def api_operations(app: FastAPI) -> list[tuple[str, str]]:
    """(METHOD, path template) of every HTTP operation the app documents."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def id_parameters() -> list[tuple[str, str]]:
    """(method, path) of every operation with a path parameter."""
    return [op for op in api_operations(create_app(Settings(device="cpu"))) if "{" in op[1]]


TRAVERSALS = [
    "..",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fsecret",
    "....//....//secret",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "0" * 64 + "%2F..%2F..%2Fsecret",
    "0" * 63 + "%00",
    "A" * 64,
    "~",
    "secret",
]


def test_every_id_parameter_refuses_path_traversal(tmp_path: Path) -> None:
    routes = id_parameters()
    assert {path for _, path in routes} >= {
        "/api/models/{model_id}",
        "/api/models/{model_id}/snapshots/{index}",
        "/api/phase-diagrams/{diagram_id}",
        "/api/models/{model_id}/weights",
        "/api/jobs/{job_id}",  # job ids are looked up, never paths; tested here all the same
    }
    assert {method for method, _ in routes} <= {"GET", "DELETE"}, "a new kind of id route: test it"
    cache = tmp_path / "cache"
    # A valid-looking entry outside the cache, and a secret beside it: neither may be reached.
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / META).write_text('{"secret": true}')
    with TestClient(create_app(settings(cache))) as client:
        for method, path in routes:
            for attack in TRAVERSALS:
                url = path.replace(path[path.index("{") : path.index("}") + 1], attack)
                url = re.sub(r"\{[^}]+\}", "0", url)  # any other parameter (an index): valid
                response = client.request(method, url)
                assert response.status_code in (404, 422), (url, response.status_code)
                assert "secret" not in response.text.replace(attack, "")
    assert (tmp_path / "secret" / META).exists()


class Booby:
    """Unpickling this writes a file: the proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "unpickled!"))


def test_a_pickle_in_the_cache_is_never_loaded(tmp_path: Path) -> None:
    cache, marker = tmp_path / "cache", tmp_path / "unpickled"
    with TestClient(create_app(settings(cache))) as client:
        trained = client.post("/api/models", json=SMALL).json()
        entry = cache / trained["id"]
        payload = pickle.dumps(Booby(marker))
        # Pickles beside a whole entry are ignored; the entry still serves.
        for name in ("weights.pt", "weights.pkl", "model.bin"):
            (entry / name).write_bytes(payload)
        assert client.get(f"/api/models/{trained['id']}").status_code == 200
        # A pickle in place of the weights, with a checksum that matches it, is still refused.
        meta = json.loads((entry / META).read_text())
        (entry / WEIGHTS).write_bytes(payload)
        meta["weights_sha256"] = hashlib.sha256(payload).hexdigest()
        (entry / META).write_text(json.dumps(meta))
        assert client.get(f"/api/models/{trained['id']}").status_code == 404
        again = client.post("/api/models", json=SMALL).json()
        assert again["cached"] is False and again["instances"] == trained["instances"]
    assert not marker.exists()


def test_the_server_code_has_no_way_to_unpickle() -> None:
    """No module of the server imports pickle or calls torch.load / numpy.load."""
    for source in (ROOT / "server").rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any("pickle" in n or n == "joblib" for n in names), source
            if isinstance(node, ast.Attribute) and node.attr == "load":
                base = ast.unparse(node.value)
                assert base not in ("torch", "np", "numpy", "pickle"), f"{source}: {base}.load"


TOKEN = "classroom-secret"


def test_a_token_guards_every_api_route_and_socket(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, token=TOKEN))
    bodies = {
        "/api/models": SMALL,
        "/api/phase-diagrams": {"grid_size": 2, "steps": 10, "n_restarts": 1},
        "/api/jobs": {"model": SMALL},
        "/api/saes": {"model": SMALL, "n_latents": 3, "steps": 10, "batch_size": 32},
        "/api/double-descent": {"n_features": 5, "steps": 10, "n_train_values": [3]},
        "/api/power-sweeps/plan": {},
    }
    queries = {  # the operations with required query parameters
        "/api/interference/bounds": "n_features=5&n_hidden=2",
        "/api/theory/power": "k=3&n_hidden=2&n_features=9",
    }
    calls = []  # every API operation of the app, with an id of zeros for its parameter
    for method, template in api_operations(app):
        path = re.sub(r"\{[^}]+\}", "0" * 64, template)
        calls.append((method, f"{path}?{queries.get(path, '')}", bodies.get(path)))
    assert all(body is not None for method, _, body in calls if method == "POST")
    assert len(calls) >= 10
    with TestClient(app) as client:
        for method, path, body in calls:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                response = client.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert "token" in response.json()["detail"]
            good = client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert good.status_code in (200, 202, 404), (method, path, good.text)
            assert client.request(method, f"{path}&token={TOKEN}", json=body).status_code in (
                200,
                202,
                404,
            )
        for path in (
            "/api/models/live",
            "/api/phase-diagrams/live",
            "/api/saes/live",
            "/api/double-descent/live",
        ):
            refused = refusal(client, path)
            assert refused.code == 1008 and "token" in refused.reason
        with client.websocket_connect(f"/api/models/live?token={TOKEN}") as ws:
            ws.send_text(json.dumps(SMALL))
            assert ws.receive_json()["type"] in ("snapshot", "done")
        # The pages and Plotly.js hold no data and stay public, so a page can ask for the token.
        assert client.get("/").status_code == 200
        assert client.get("/vendor/plotly.min.js").status_code == 200


@pytest.mark.parametrize("how", ["flag", "environment"])
@pytest.mark.parametrize("token", ["", "short"])
def test_an_empty_or_short_token_refuses_to_start(tmp_path: Path, how: str, token: str) -> None:
    """``--token "$(cmd)"`` with a failing cmd gave an empty token, which served with no
    authentication at all."""
    args = ["--token", token] if how == "flag" else []
    env = {**os.environ} | ({"SUPERPOSITION_TOKEN": token} if how == "environment" else {})
    done = subprocess.run(
        [sys.executable, "-m", "server", "--cache-dir", str(tmp_path), "--port", "0", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "token" in done.stderr and "at least 16" in done.stderr, done.stderr
    if token:
        assert token not in done.stderr.replace("token", "")  # the secret is never echoed
    with pytest.raises(ValidationError):
        Settings(token=token)


def test_host_names_outside_the_allow_list_are_refused(tmp_path: Path) -> None:
    """DNS rebinding: a page of evil.example that resolves its name to this server's address
    calls it as its own origin; the Host header still names evil.example."""
    with TestClient(create_app(settings(tmp_path))) as client:
        for host in ("evil.example", "evil.example:8000", "localhost.evil.example"):
            response = client.get("/api/limits", headers={"Host": host})
            assert response.status_code == 403, host
            assert "allowed_hosts" in response.json()["detail"]
            assert client.get("/", headers={"Host": host}).status_code == 403
            refused = refusal(
                client, "/api/models/live", {"Host": host, "Origin": f"http://{host}"}
            )
            assert refused.code == 1008 and "allowed_hosts" in refused.reason
        for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "10.0.0.7", "app.localhost"):
            assert client.get("/api/limits", headers={"Host": host}).status_code == 200, host
    allowed = settings(tmp_path, allowed_hosts=["course.example"])
    with TestClient(create_app(allowed)) as client:
        assert client.get("/api/limits", headers={"Host": "course.example"}).status_code == 200
        assert client.get("/api/limits", headers={"Host": "evil.example"}).status_code == 403
    # Serving the network: the machine's own name (what students type) is allowed by default.
    network = settings(tmp_path, host="0.0.0.0")
    with TestClient(create_app(network)) as client:
        own = socket.gethostname()
        assert client.get("/api/limits", headers={"Host": f"{own}:8000"}).status_code == 200
        assert client.get("/api/limits", headers={"Host": "evil.example"}).status_code == 403


def test_a_refused_socket_is_closed_with_1008_and_its_reason(live_server: str) -> None:
    """On a real server: a socket closed before it opens reads as HTTP 403 with no body; the
    documented behaviour is a close with 1008 and the reason."""
    url = live_server.replace("http://", "ws://") + "/api/models/live"
    with (
        ws_connect(url, additional_headers={"Origin": EVIL}, proxy=None) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "cors_origins" in closed.value.rcvd.reason
