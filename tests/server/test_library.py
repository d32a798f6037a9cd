"""The core as a library: it imports no web framework, its configs validate, `train` gives the
weights the server gives, its measures are the results' measures, and its AdamW fallback is
AdamW."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.schemas.models import ModelRequest
from server.api.settings import Settings
from server.tms import ModelConfig, TrainConfig, train
from server.tms.optim import AdamGroup, adamw_step

ROOT = Path(__file__).resolve().parents[2]
WEB = ("fastapi", "starlette", "pydantic", "pydantic_settings", "uvicorn", "httpx")


def test_the_core_imports_no_web_framework() -> None:
    """Every module of server.tms, imported in a fresh interpreter, leaves sys.modules free of the
    web stack."""
    modules = sorted(p.stem for p in (ROOT / "server" / "tms").glob("*.py"))
    assert {"config", "training", "trained", "metrics", "measures"} <= set(modules)
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    full = 'server.tms' if name == '__init__' else 'server.tms.' + name\n"
        "    importlib.import_module(full)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout))
    assert "torch" in loaded  # the check sees what was imported
    assert loaded.isdisjoint(WEB), loaded & set(WEB)


def test_the_notebook_example_gives_the_servers_weights(tmp_path: Path) -> None:
    """The README's library call and the equivalent POST /api/models train the same weights."""
    model = train(
        ModelConfig(
            n_features=5, n_hidden=2, feature_probability=[0.1, 0.03], importance_decay=0.9
        ),
        TrainConfig(steps=400, seed=11),
    )
    assert model.W.shape == (2, 2, 5) and model.b.shape == (2, 5)
    assert model.loss_history.shape == (len(model.history_steps), 2)
    body = {
        "n_features": 5,
        "n_hidden": 2,
        "feature_probability": [0.1, 0.03],
        "importance_decay": 0.9,
        "steps": 400,
        "seed": 11,
    }
    settings = Settings(cache_dir=tmp_path, device="cpu")
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/models", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    for k, instance in enumerate(result["instances"]):
        assert torch.equal(torch.tensor(instance["W"]), model.W[k])
        assert torch.equal(torch.tensor(instance["b"]), model.b[k])
        assert instance["loss"] == model.loss[k].item()
        assert instance["theory_loss"] == model.theory_losses[k]
        torch.testing.assert_close(
            torch.tensor(instance["dimensionality"]), model.dimensionality[k].float()
        )
        torch.testing.assert_close(
            torch.tensor(instance["superposition"]), model.superposition[k].float()
        )
        torch.testing.assert_close(torch.tensor(instance["gram"]), model.gram[k].float())
    steps = [point["step"] for point in result["loss_history"]]
    assert steps == model.history_steps


@pytest.mark.parametrize(
    "fields",
    [
        {"task": "absolute_value", "n_features": 4, "n_hidden": 6, "n_restarts": 2},
        {"activation": "linear", "n_features": 6, "n_hidden": 2, "feature_probability": 1.0},
        {"hidden_activation": "relu", "n_features": 5, "n_hidden": 3, "snapshots": 3},
    ],
)
def test_a_request_and_its_configs_train_alike(tmp_path: Path, fields: dict) -> None:
    """ModelRequest.to_config/train_config are the edge: the request's POST gives the weights
    (W_out, exact loss and neurons included) that `train` gives for its configs."""
    request = ModelRequest(steps=60, batch_size=128, seed=3, **fields)
    model = train(request.to_config(), request.train_config())
    with TestClient(create_app(Settings(cache_dir=tmp_path, device="cpu"))) as client:
        result = client.post("/api/models", json=request.model_dump(exclude_none=True)).json()
    (instance,) = result["instances"]
    assert torch.equal(torch.tensor(instance["W"]), model.W[0])
    if model.W_out is not None:
        assert torch.equal(torch.tensor(instance["W_out"]), model.W_out[0])
    assert instance["exact_loss"] == model.exact_loss[0]
    neurons = model.neurons
    assert (instance["neurons"] is None) == (neurons is None)
    if neurons is not None:
        assert instance["neurons"]["dead"] == neurons[0].dead
        assert [n["top_feature"] for n in instance["neurons"]["neurons"]] == [
            n.top_feature for n in neurons[0].neurons
        ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"feature_probability": 0.0}, "in \\(0, 1\\]"),
        ({"feature_probability": [[0.1, 0.2]]}, "per-feature"),
        ({"importance": [1.0, 2.0]}, "importance must have"),
        ({"importance": [1.0] * 5, "importance_decay": 0.9}, "either"),
        ({"activation": "power", "power": 2}, "power must be one of"),
        ({"task": "absolute_value", "activation": "linear"}, "absolute_value"),
        ({"n_hidden": 0}, "at least 1"),
    ],
)
def test_model_configs_refuse_bad_values(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**fields)


def test_train_configs_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=float("nan"))


def test_the_configs_defaults_are_the_apis() -> None:
    """One set of defaults: a request with nothing set is the default configs."""
    request = ModelRequest()
    assert request.train_config() == TrainConfig()
    default = ModelConfig()
    config = request.to_config()
    assert (config.n_features, config.n_hidden, config.activation) == (
        default.n_features,
        default.n_hidden,
        default.activation,
    )
    assert config.probability_rows == default.probability_rows
    assert TrainConfig().steps == 3000


def test_the_adamw_fallback_is_the_fused_step() -> None:
    """optim.adamw_step's public fallback gives the fused kernel's update, and both torch's."""
    generator = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 2, 5, generator=generator), torch.randn(3, 5, generator=generator)]
    grads = [torch.randn_like(p) for p in params]

    def group(fused: bool) -> AdamGroup:
        g = AdamGroup(lr=1e-2, weight_decay=0.01)
        g.params = [p.clone() for p in params]
        g.grads = [x.clone() for x in grads]
        g.exp_avgs = [torch.zeros_like(p) for p in params]
        g.exp_avg_sqs = [torch.zeros_like(p) for p in params]
        g.steps = [torch.zeros(()) for _ in params]
        for _ in range(5):
            adamw_step(g, fused=fused)
        return g

    fused, fallback = group(True), group(False)
    reference = [p.clone().requires_grad_(True) for p in params]
    optimizer = torch.optim.AdamW(reference, lr=1e-2, weight_decay=0.01)
    for _ in range(5):
        for p, g in zip(reference, grads, strict=True):
            p.grad = g.clone()
        optimizer.step()
    for a, b, c in zip(fused.params, fallback.params, reference, strict=True):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, c.detach())
        assert not torch.equal(a, params[0] if a.dim() == 3 else params[1])
    assert [s.item() for s in fallback.steps] == [5.0, 5.0]


def test_the_library_example_runs() -> None:
    out = subprocess.run(
        [sys.executable, "examples/library_example.py", "--steps", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "W: (2, 2, 5)" in out
    assert out.count("loss 0.0") == 2 and "D* = " in out
