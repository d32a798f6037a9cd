"""What the server exposes: no CORS wildcard, no cross-site live sockets, ids that never become
paths, weights that are never unpickled, and the optional shared token."""

from __future__ import annotations

import ast
import hashlib
import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

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
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/api/models/live", headers={"Origin": EVIL}),
    ):
        pass
    assert refused.value.code == 1008
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
        for path in ("/api/models/live", "/api/phase-diagrams/live"):
            with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(path):
                pass
            assert refused.value.code == 1008
        with client.websocket_connect(f"/api/models/live?token={TOKEN}") as ws:
            ws.send_text(json.dumps(SMALL))
            assert ws.receive_json()["type"] in ("snapshot", "done")
        # The pages and Plotly.js hold no data and stay public, so a page can ask for the token.
        assert client.get("/").status_code == 200
        assert client.get("/vendor/plotly.min.js").status_code == 200
