"""server.client against a real server (the `live_server` fixture): numpy results, figures, jobs,
phase diagrams, weights, errors, and the example script."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from benchmarks.serve import start_server, stop_server
from server.client import (
    SAE,
    ApiError,
    Client,
    Instance,
    JobCancelled,
    ModelResult,
    PhaseDiagram,
)

ROOT = Path(__file__).resolve().parents[2]
SMALL = {
    "n_features": 5,
    "n_hidden": 2,
    "feature_probability": [0.1, 0.05],
    "importance_decay": 0.9,
    "steps": 300,
    "batch_size": 256,
    "seed": 101,
}
# A few seconds on 2 CPU cores: long enough to be seen mid-training by a poll.
PROGRESS = {"n_features": 20, "n_hidden": 5, "steps": 3000, "batch_size": 1024, "seed": 102}
# About a minute on 2 CPU cores: it ends only if cancelled, in these tests.
LONG = PROGRESS | {"steps": 50_000, "seed": 103}


@pytest.fixture(scope="module")
def client(live_server: str) -> Iterator[Client]:
    with Client(live_server, poll_interval=0.02) as api:
        yield api


@pytest.fixture(scope="module")
def result(client: Client) -> ModelResult:
    return client.train(progress=False, **SMALL)


def test_train_returns_numpy_arrays(result: ModelResult) -> None:
    assert len(result.id) == 64 and result.request["steps"] == 300
    assert result.request["feature_probability"] == [0.1, 0.05]
    assert len(result.instances) == 2
    for instance, p in zip(result.instances, [0.1, 0.05], strict=True):
        assert isinstance(instance, Instance)
        assert instance.W.shape == (2, 5) and instance.W.dtype == np.float64
        assert instance.gram.shape == (5, 5)
        np.testing.assert_allclose(instance.gram, instance.W.T @ instance.W, rtol=1e-5, atol=1e-7)
        for name in ("b", "feature_norms", "superposition", "dimensionality", "importance"):
            value = getattr(instance, name)
            assert isinstance(value, np.ndarray) and value.shape == (5,), name
        np.testing.assert_allclose(instance.feature_norms, np.linalg.norm(instance.W, axis=0))
        np.testing.assert_allclose(instance.importance, 0.9 ** np.arange(5))
        for name in ("dimensions_per_feature", "loss", "gain"):
            assert isinstance(getattr(instance, name), np.floating), name
        assert instance.feature_probability == p
        assert instance.loss > 0 and instance.W_out is None and instance.neurons is None
        assert instance.theory_loss["zero_output"] > instance.loss
        assert all(isinstance(v, np.float64) for v in instance.theory_loss.values())
    steps, losses = result.loss_history.steps, result.loss_history.losses
    assert steps.dtype == np.int64 and steps[-1] == 300 and np.all(np.diff(steps) > 0)
    assert losses.shape == (len(steps), 2) and np.all(losses > 0)


def test_each_figure_kind(result: ModelResult) -> None:
    titles = {
        "gram": "Gram matrix WᵀW",
        "norms": "Feature norms ‖Wᵢ‖",
        "directions": "Feature directions W[:, i]",
        "bias": "Bias b",
        "loss": "Training loss",
    }
    figures = {kind: result.figure(kind) for kind in titles}
    for kind, figure in figures.items():
        assert isinstance(figure, go.Figure), kind
        title = figure.layout.title.text
        assert title.startswith(titles[kind]), title
        assert "n = 5, m = 2, p = 0.1" in title and "instance 0 of 2" in title, title
    assert "p = 0.05" in result.figure("gram", instance=1).layout.title.text

    (heatmap,) = figures["gram"].data
    assert isinstance(heatmap, go.Heatmap) and heatmap.zmid == 0
    zmax = np.abs(result.instances[0].gram).max()
    assert heatmap.zmax == pytest.approx(zmax) and heatmap.zmin == pytest.approx(-zmax)
    assert heatmap.colorscale[0][1] == "#053061" and heatmap.colorscale[-1][1] == "#67001f"
    assert figures["gram"].layout.yaxis.autorange == "reversed"

    bars, key = figures["norms"].data
    assert isinstance(bars, go.Bar) and bars.orientation == "h"
    np.testing.assert_allclose(bars.x, result.instances[0].feature_norms)
    assert key.marker.cmin == 0 and key.marker.cmax == 1
    most = int(np.argmax(result.instances[0].superposition))
    least = int(np.argmin(result.instances[0].superposition))
    brightness = [sum(map(int, c[4:-1].split(","))) for c in bars.marker.color]
    assert brightness[most] >= brightness[least]  # yellow (superposed) over black

    arrows, labels = figures["directions"].data
    assert arrows.marker.symbol == "arrow" and list(labels.text) == [str(i) for i in range(5)]
    assert figures["directions"].layout.shapes[0].type == "circle"

    (bias,) = figures["bias"].data
    np.testing.assert_allclose(bias.y, result.instances[0].b)
    assert figures["bias"].layout.yaxis.title.text == "bias b<sub>i</sub>"

    curve, *lines = figures["loss"].data
    assert figures["loss"].layout.yaxis.type == "log"
    np.testing.assert_allclose(curve.x, result.loss_history.steps)
    assert "x′ = 0: zero output" in {line.name for line in lines}


def test_figure_refusals(client: Client, result: ModelResult) -> None:
    with pytest.raises(ValueError, match="gram, norms, directions, bias, loss"):
        result.figure("histogram")
    with pytest.raises(ValueError, match="instance is 2; this model has 2"):
        result.figure("gram", instance=2)
    wide = client.train(progress=False, **SMALL | {"n_hidden": 3, "feature_probability": 0.1})
    with pytest.raises(ValueError, match="m = 2; this model has m = 3"):
        wide.figure("directions")
    assert wide.figure("gram").layout.title.text.endswith("n = 5, m = 3, p = 0.1")


def test_adversarial_vulnerability(client: Client, result: ModelResult) -> None:
    measured = client.adversarial(result.id, instance=0, epsilon=0.2, samples=1024, seed=1)
    assert (measured.id, measured.instance, measured.epsilon) == (result.id, 0, 0.2)
    assert measured.samples == 1024 and measured.worst_feature.shape == (
        result.request["n_features"],
    )
    assert measured.attack_norm == pytest.approx(0.2 * measured.mean_input_norm)
    with pytest.raises(ApiError) as refused:
        client.adversarial(result.id, samples=0)
    assert refused.value.status == 422 and "samples" in str(refused.value)


def test_a_second_training_is_cached(client: Client, result: ModelResult) -> None:
    assert result.cached is False
    again = client.train(progress=False, **SMALL | {"importance_decay": 0.9})
    assert again.cached is True and again.id == result.id
    np.testing.assert_array_equal(again.instances[1].W, result.instances[1].W)
    assert client.model(result.id).request == result.request


def test_weights_equal_the_results_W_and_b(client: Client, result: ModelResult) -> None:
    weights = client.weights(result.id)
    assert set(weights) == {"W", "b"} and weights["W"].dtype == np.float32
    for k, instance in enumerate(result.instances):
        np.testing.assert_array_equal(weights["W"][k], instance.W)
        np.testing.assert_array_equal(weights["b"][k], instance.b)
    with pytest.raises(ApiError) as absent:
        client.weights("0" * 64)
    assert absent.value.status == 404


def test_the_absolute_value_model_brings_W_out_and_neurons(client: Client) -> None:
    model = client.train(
        progress=False, n_features=3, n_hidden=6, task="absolute_value", steps=100, seed=104
    )
    (instance,) = model.instances
    assert instance.W.shape == (6, 3) and instance.W_out is not None
    assert instance.W_out.shape == (3, 6)
    np.testing.assert_array_equal(client.weights(model.id)["W_out"][0], instance.W_out)
    neurons = instance.neurons
    assert neurons is not None and neurons.strength.shape == (6,)
    assert neurons.top_feature.dtype == np.int64 and set(neurons.top_feature) <= {0, 1, 2}
    kinds = list(neurons.kind)
    assert (kinds.count("monosemantic"), kinds.count("dead")) == (
        neurons.monosemantic,
        neurons.dead,
    )
    assert "absolute value" in model.describe()


def test_a_jobs_progress_is_seen_mid_training(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    job = client.submit(**PROGRESS)
    assert job.kind == "model" and len(job.id) == 32
    seen = []
    while not (status := job.status()).finished:
        seen.append((status.status, status.step))
        time.sleep(0.01)
    assert any(s == "running" and 0 < step < 3000 for s, step in seen), seen
    done = job.wait(progress=True)
    assert done.status == "done" and done.step == 3000
    assert "3000/3000" in capsys.readouterr().err  # the tqdm bar
    trained = job.result()
    assert isinstance(trained, ModelResult) and trained.instances[0].W.shape == (5, 20)
    assert done.result_url == f"/api/models/{trained.id}"


def test_cancel_a_job(client: Client) -> None:
    job = client.submit(**LONG)
    while job.status().step == 0:
        time.sleep(0.01)
    with pytest.raises(TimeoutError, match="still running"):
        job.wait(progress=False, timeout=0.1)
    cancelled = job.cancel()
    assert cancelled.status == "cancelled" and 0 < cancelled.step < 50_000
    with pytest.raises(JobCancelled, match="cancelled at step"):
        job.wait(progress=False)
    with pytest.raises(JobCancelled):
        job.result()
    assert client.job(job.id).last == job.status()  # the same job, found by its id


def test_errors_carry_the_servers_detail(client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        client.train(progress=False, **SMALL | {"steps": 60_000})
    error = refused.value
    assert error.status == 422 and error.detail[0]["loc"] == ["body", "model", "steps"]
    assert "model.steps: steps is 60000; the limit is max_steps = 50000" in str(error)
    with pytest.raises(ApiError, match=r"422.*n_featurez"):
        client.submit(n_featurez=5)
    with pytest.raises(ApiError) as missing:
        client.model("0" * 64)
    assert missing.value.status == 404 and "not found" in str(missing.value)


def test_phase_diagram_grids_and_legend(client: Client) -> None:
    diagram = client.phase_diagram(progress=False, grid_size=3, steps=100, n_restarts=1)
    assert isinstance(diagram, PhaseDiagram)
    assert diagram.feature_probability.shape == diagram.relative_importance.shape == (3,)
    assert diagram.feature_probability[0] == pytest.approx(1.0)
    assert diagram.relative_importance[-1] == pytest.approx(10.0)
    assert diagram.legend == {0: "not_learned", 1: "dedicated", 2: "superposition"}
    assert diagram.codes == {"not_learned": 0, "dedicated": 1, "superposition": 2}
    for names, codes in (
        (diagram.empirical, diagram.empirical_codes),
        (diagram.theory, diagram.theory_codes),
    ):
        assert names.shape == codes.shape == (3, 3) and codes.dtype == np.int64
        assert np.array_equal(np.vectorize(diagram.legend.get)(codes), names)
    assert diagram.agreement == pytest.approx(np.mean(diagram.empirical == diagram.theory))
    for grid in (diagram.loss, diagram.extra_norm, diagram.extra_superposition):
        assert grid.shape == (3, 3) and grid.dtype == np.float64
    assert all(grid.shape == (3, 3) for grid in diagram.candidate_losses.values())
    assert diagram.W.shape == (3, 3, 1, 2) and diagram.b.shape == (3, 3, 2)
    np.testing.assert_allclose(diagram.extra_norm, np.abs(diagram.W[..., 0, 1]), rtol=1e-5)


def test_an_sae_through_a_job(client: Client, result: ModelResult) -> None:
    """Client.sae on a model trained earlier (by its id): numpy arrays, the scores, the job's
    kind, and the same SAE again by id from the cache."""
    fields = {"model_id": result.id, "instance": 1, "n_latents": 6, "steps": 200,
              "batch_size": 128, "resample_interval": 100}  # fmt: skip
    sae = client.sae(progress=False, **fields)
    assert isinstance(sae, SAE) and not sae.cached and sae.model_id == result.id
    assert sae.W_dec.shape == (2, 6) and sae.W_enc.shape == (6, 2) and sae.cosines.shape == (5, 6)
    np.testing.assert_allclose(np.linalg.norm(sae.W_dec, axis=0), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(sae.features, result.instances[1].W)
    assert sae.feature_probability.tolist() == [0.05] * 5
    assert [step for step, _ in sae.resampled] == [100]
    if sae.represented:
        best = sae.cosines[sae.represented].max(axis=1).mean()
        assert sae.mmcs == pytest.approx(best, abs=1e-9)
    assert sae.dead_latents == int((sae.latent_frequency == 0).sum())
    assert client.get_sae(sae.id).W_dec.tolist() == sae.W_dec.tolist()
    job = client.submit_sae(**fields)
    assert job.kind == "sae" and job.from_cache
    with pytest.raises(ApiError) as refused:
        client.sae(progress=False, **fields | {"instance": 2})
    assert refused.value.detail[0]["loc"] == ["body", "sae", "instance"]


def test_the_token_is_sent(tmp_path: Path) -> None:
    proc, base = start_server(tmp_path, env={"SUPERPOSITION_TOKEN": "room-secret-token-1"})
    try:
        with Client(base) as anonymous, pytest.raises(ApiError) as refused:
            anonymous.submit(**SMALL)
        assert refused.value.status == 401 and "token" in str(refused.value)
        with Client(base, token="room-secret-token-1", poll_interval=0.02) as api:
            trained = api.train(progress=False, **SMALL | {"steps": 20})
            assert api.weights(trained.id)["W"].shape == (2, 2, 5)
    finally:
        stop_server(proc)


def test_the_example_script(live_server: str, tmp_path: Path) -> None:
    out = tmp_path / "gram.html"
    run = subprocess.run(
        [
            sys.executable,
            "examples/client_example.py",
            "--base-url",
            live_server,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines() if " " in line)
    assert lines["W"] == "shape (2, 5)"
    assert 0 < float(lines["loss"]) < 0.1
    assert 0 < float(lines["D*"]) <= 1
    norms = [float(v) for v in lines["feature"].removeprefix("norms ").split()]
    assert len(norms) == 5 and norms[0] > 0.9  # the most important feature is learned
    assert lines["figure"] == f"saved to {out}"
    html = out.read_text()
    assert "Gram matrix WᵀW · n = 5, m = 2, p = 0.1" in html
    assert "<script src=" not in html  # Plotly.js inside, no CDN
