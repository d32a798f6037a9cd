"""server.claims: each preset's claim beside the figure computed from the shipped result, and
GET /api/presets serving them (the cards never type a figure by hand)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.settings import Settings
from server.cache import ModelCache
from server.claims import MODEL_CLAIMS, Claim, geometry, preset_claims
from server.presets import PresetInfo, preset_infos
from tests.server.test_shipped_cache import SHIPPED, shipped

INFOS = {info.id: info for info in preset_infos()}


def ids(info: PresetInfo) -> list[str]:
    others = (info.diagram_id, info.sae_id, info.sweep_id)
    return info.model_ids + [i for i in others if i is not None]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> ModelCache:
    """A copy of the shipped models_cache/ (a failed load removes the entry it reads)."""
    root = tmp_path_factory.mktemp("claims") / "cache"
    shutil.copytree(SHIPPED, root)
    return ModelCache(root)


def claims(preset: str, cache: ModelCache) -> list[Claim]:
    return preset_claims(INFOS[preset], cache, ids(INFOS[preset]))


def test_every_shipped_preset_has_a_measured_claim(cache: ModelCache) -> None:
    for info in preset_infos():
        found = preset_claims(info, cache, ids(info))
        assert found, info.id
        assert all(c.measured for c in found), info.id


def test_the_pentagon_figure_is_the_shipped_weights_dimensionality(
    cache: ModelCache, tmp_path: Path
) -> None:
    """Against numpy of our own here: Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)² of the shipped W."""
    W = np.array(shipped("pentagon", tmp_path).instances[0].W)
    unit = W / np.linalg.norm(W, axis=0)
    d = np.linalg.norm(W, axis=0) ** 2 / ((unit.T @ W) ** 2).sum(axis=1)
    (claim,) = claims("pentagon", cache)
    mean = d.mean()
    assert claim.measured == f"Dᵢ = {mean:.2f} ± {np.abs(d - mean).max():.2f} for all five"
    assert claim.agrees is True


def test_the_polyhedra_say_which_are_reached(cache: ModelCache) -> None:
    found = claims("polyhedra-3d", cache)
    assert [c.agrees for c in found] == [False, False, True, True]
    assert "tetrahedron" in found[0].claim and "(not reached)" in found[0].measured
    assert found[2].measured == "Dᵢ = 0.50 ± 0.00 for all 6"
    assert found[3].measured is not None and found[3].measured.startswith("Dᵢ = 0.37")


def test_the_learning_dynamics_card_says_no_jump(cache: ModelCache) -> None:
    (claim,) = claims("learning-dynamics", cache)
    assert claim.agrees is False and "20 steps apart" in (claim.measured or "")


def test_a_result_not_cached_has_no_figure(tmp_path: Path) -> None:
    (claim,) = preset_claims(INFOS["pentagon"], ModelCache(tmp_path), ids(INFOS["pentagon"]))
    assert claim.measured is None and claim.agrees is None


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    root = tmp_path / "cache"
    root.mkdir()
    entry = INFOS["pentagon"].model_ids[0]
    shutil.copytree(SHIPPED / entry, root / entry)
    with TestClient(create_app(Settings(cache_dir=root, device="cpu"))) as test_client:
        yield test_client


def test_presets_endpoint_serves_the_claims(client: TestClient) -> None:
    served = {p["id"]: p for p in client.get("/api/presets").json()}
    (pentagon,) = served["pentagon"]["claims"]
    assert pentagon["agrees"] is True and pentagon["measured"].startswith("Dᵢ = 0.40")
    (missing,) = served["intro-2d"]["claims"]  # not in this cache
    assert missing["measured"] is None


def test_the_digon_card_finds_its_jump(cache: ModelCache) -> None:
    (claim,) = claims("energy-jump-digon", cache)
    assert claim.agrees is True
    assert claim.measured is not None and "loss on 2¹⁶ fixed fresh samples" in claim.measured


def test_the_adversarial_card_measures_the_rise_with_the_attack(cache: ModelCache) -> None:
    (claim,) = claims("adversarial-vulnerability", cache)
    assert claim.agrees is True and claim.measured is not None
    assert claim.measured.startswith("vulnerability 1.0")  # dense: orthogonal features
    r = float(claim.measured.rsplit("r = ", 1)[1])
    rise = float(claim.measured.split("(", 1)[1].split("×", 1)[0])
    assert r > 0.7 and rise > 3


def test_only_the_relu_hidden_layer_aligns_features_with_neurons(
    cache: ModelCache, tmp_path: Path
) -> None:
    """TMS §"Superposition in a Privileged Basis", against our own chance level here: scipy's
    Haar rotations (not the claim's), seeded differently. The linear hidden layer's W is no more
    aligned with the neurons than its rotations at any sparsity; the dense ReLU W beats them all."""
    from scipy.stats import ortho_group

    def alignment(W: np.ndarray) -> float:  # mean over neurons of the top feature's share
        return float(np.mean([(row**2).max() / (row**2).sum() for row in W]))

    rotations = ortho_group.rvs(dim=5, size=500, random_state=7)
    linear = shipped("linear-vs-relu-hidden", tmp_path / "l", 0)
    relu = shipped("linear-vs-relu-hidden", tmp_path / "r", 1)
    assert linear.request.hidden_activation == "none" and relu.request.hidden_activation == "relu"
    for instance in linear.instances:
        W = np.array(instance.W)
        beaten = np.mean([alignment(Q @ W) >= alignment(W) for Q in rotations])
        assert beaten > 0.05, instance.feature_probability
    dense = np.array(relu.instances[0].W)
    assert alignment(dense) > 0.99  # every neuron holds one feature
    assert max(alignment(Q @ dense) for Q in rotations) < alignment(dense)
    (claim,) = claims("linear-vs-relu-hidden", cache)
    assert claim.agrees is True and claim.measured is not None
    assert "ReLU W's alignment 1.00 at 1 − S = 0.75" in claim.measured


def test_correlated_sets_form_local_orthogonal_bases(cache: ModelCache, tmp_path: Path) -> None:
    """TMS §"Local Almost-Orthogonal Bases", from the shipped W with loops of our own: within each
    correlated set of ten the features are nearly orthogonal, across the sets they interfere."""
    result = shipped("local-orthogonal-bases", tmp_path)
    (claim,) = claims("local-orthogonal-bases", cache)
    assert claim.agrees is True and claim.measured is not None
    for instance in result.instances:
        W = np.array(instance.W)
        unit = [W[:, i] / np.linalg.norm(W[:, i]) for i in range(20)]
        within = [
            abs(unit[i] @ unit[j])
            for i in range(20)
            for j in range(20)
            if i != j and i // 10 == j // 10
        ]
        across = [abs(unit[i] @ unit[j]) for i in range(10) for j in range(10, 20)]
        figure = f"{np.mean(within):.3f} within, {np.mean(across):.2f} across"
        assert f"1 − S = {instance.feature_probability:g}: {figure}" in claim.measured
        assert np.mean(across) > 0.15  # the model as a whole is in superposition
    assert np.mean(within) < 0.02  # the sparsest (the last instance): nearly orthogonal sets


def test_the_pentagon_branches_card_says_where_the_losses_cross(cache: ModelCache) -> None:
    (claim,) = claims("pentagon-collapse-seeds", cache)
    assert claim.agrees is True and claim.measured is not None
    assert "the crossing lies between 1 − S = 0.015 and 0.0125" in claim.measured


def test_the_branches_claim_fails_without_both_geometries_at_one_sparsity(
    tmp_path: Path,
) -> None:
    """Keeping only the pentagon seeds leaves nothing to cross: the card must not agree."""
    result = shipped("pentagon-collapse-seeds", tmp_path)
    kept = [i for i in result.instances if geometry(np.array(i.W), 4) == "pentagon"]
    (claim,) = MODEL_CLAIMS["pentagon-collapse-seeds"](
        [result.model_copy(update={"instances": kept})]
    )
    assert claim.agrees is False and claim.measured is not None
    assert claim.measured.startswith("no sparsity has seeds of both geometries")
