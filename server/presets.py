"""The gallery's presets (``presets.json``) and what the repository ships trained in models_cache/.

A preset is data, not code: a title, the paper section it reproduces (with its link on
transformer-circuits.pub), a few sentences of teaching text, the view the gallery opens, and the
request or requests it trains (``requests``: model requests; ``phase_diagram``: one phase-diagram
request; ``sae``: one sparse autoencoder, on a model given as a request; ``double_descent``: one
double-descent sweep, whose every T's model ships too; ``power_sweep``: the power page's sweep,
whose every m's model ships). ``python -m server.precompute --all``
trains every preset into the cache, and models_cache/ ships the results (an SAE's and its
model's), so a fresh clone opens every preset without training. The cache never evicts shipped
entries.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.api.schemas.double_descent import DoubleDescentRequest
from server.api.schemas.models import ModelRequest
from server.api.schemas.phase_diagrams import PhaseDiagramRequest
from server.api.schemas.power_sweeps import PowerSweepRequest
from server.api.schemas.saes import SAERequest
from server.claims import Claim

PRESETS_FILE = Path(__file__).with_name("presets.json")

View = Literal[
    "basic_grid",  # per request a row, per instance a column: WᵀW and ‖Wᵢ‖ bars
    "geometry_2d",  # n → 2: every feature's column Wᵢ as an arrow, one plot per instance
    "geometry_3d",  # n → 3: every Wᵢ in a turnable 3-D scene, edges by |Ŵᵢ·Wⱼ|; replays snapshots
    "sparsity_sweep",  # ‖Wᵢ‖ and superposition per feature × sparsity, and ‖W‖²_F
    "feature_geometry",  # D* and every Dᵢ against 1/(1 − S), lines at the polytopes' fractions
    "dynamics",  # Dᵢ through training, with a step slider replaying the weight snapshots
    "neurons",  # stacked neuron bars, monosemantic vs polysemantic
    "phase_diagram",  # the phase-diagram page
    "sae",  # the SAE page: decoder directions over the features (m = 2), |cos| matrix, scores
    "double_descent",  # the memorisation page: loss and dimensionalities against T
    "power",  # the power page: the gain over the zero output against p, per m
    "vulnerability",  # adversarial vulnerability of each instance against 1/D* (one request)
    "loss_branches",  # every seed's loss against one feature's 1/(1 − S), coloured by geometry
]


class Preset(BaseModel):
    """One experiment of the paper, as the gallery shows it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]+$", description="URL-safe name, for --preset NAME")
    title: str
    section: str = Field(description="the paper section it reproduces")
    section_url: str = Field(
        description="that section on transformer-circuits.pub (or the paper's arXiv page)"
    )
    text: str = Field(description="two or three sentences of teaching text")
    view: View
    requests: list[ModelRequest] = Field(default_factory=list)
    phase_diagram: PhaseDiagramRequest | None = None
    sae: SAERequest | None = Field(
        None, description="an SAE on a toy model; its `model` is a request, so that it ships"
    )
    double_descent: DoubleDescentRequest | None = None
    power_sweep: PowerSweepRequest | None = Field(
        None, description="the power page's sweep (POST /api/power-sweeps/plan); each m ships"
    )

    @model_validator(mode="after")
    def _trains_something(self) -> Preset:
        given = [bool(self.requests), self.phase_diagram is not None, self.sae is not None]
        given += [self.double_descent is not None, self.power_sweep is not None]
        if sum(given) != 1:
            raise ValueError(
                f"preset {self.id}: give exactly one of requests, phase_diagram, sae, "
                "double_descent, power_sweep"
            )
        if self.sae is not None and self.sae.model is None:
            raise ValueError(f"preset {self.id}: an SAE preset gives its model as a request")
        return self


class PresetInfo(Preset):
    """A preset with the cache ids of what it trains (GET /api/presets)."""

    model_ids: list[str] = Field(description="per request, its id for GET /api/models/{id}")
    diagram_id: str | None = Field(description="for GET /api/phase-diagrams/{id}, or null")
    sae_id: str | None = Field(
        None, description="for GET /api/saes/{id} (its result names its model_id), or null"
    )
    sweep_id: str | None = Field(None, description="for GET /api/double-descent/{id}, or null")
    sweep_model_ids: list[str] = Field(
        default_factory=list,
        description="a double-descent preset: each T's model id; a power-sweep preset: each "
        "m's (GET /api/models/{id})",
    )
    cached: list[bool] = Field(
        default_factory=list,
        description="per request (or for the diagram), whether the server's cache holds it now",
    )
    claims: list[Claim] = Field(
        default_factory=list,
        description="the paper's claims, each beside its figure from the cached result "
        "(server.claims)",
    )


class PresetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    presets: list[Preset]


@cache
def presets() -> tuple[Preset, ...]:
    """Every preset, in the file's order.

    Raises:
        ValueError: the file does not validate, or two presets share an id.
    """
    loaded = PresetFile.model_validate_json(PRESETS_FILE.read_text()).presets
    ids = [p.id for p in loaded]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate preset ids in {PRESETS_FILE.name}")
    return tuple(loaded)


@cache
def preset_infos() -> tuple[PresetInfo, ...]:
    """Every preset with its ids (``cached`` left empty: the API fills it per request)."""
    return tuple(
        PresetInfo(
            **p.model_dump(),
            model_ids=[r.model_id() for r in p.requests],
            diagram_id=None if p.phase_diagram is None else p.phase_diagram.diagram_id(),
            sae_id=None if p.sae is None else p.sae.sae_id(),
            **_sweep_ids(p.double_descent),
            **_power_ids(p.power_sweep),
        )
        for p in presets()
    )


def _sweep_ids(sweep: DoubleDescentRequest | None) -> dict[str, object]:
    """A double-descent preset's ``sweep_id`` and ``sweep_model_ids`` (nothing otherwise)."""
    if sweep is None:
        return {}
    models = [sweep.model_request(T).model_id() for T in sweep.normalised_sweep().n_train_values]
    return {"sweep_id": sweep.sweep_id(), "sweep_model_ids": models}


def _power_ids(sweep: PowerSweepRequest | None) -> dict[str, object]:
    """A power-sweep preset's ``sweep_model_ids``: each m's model, with n capped at the default
    ``max_features`` (as the server plans it under default settings)."""
    if sweep is None:
        return {}
    return {"sweep_model_ids": [r.model_id() for r in sweep.shipped_requests()]}


def shipped_ids() -> frozenset[str]:
    """Cache ids (64 hex digits) of every shipped entry: every preset's results (an SAE's and
    its model's); :class:`~server.cache.ModelCache` keeps them whatever its size limit."""
    ids = set()
    for info in preset_infos():
        ids |= set(info.model_ids)
        ids |= {i for i in (info.diagram_id, info.sae_id) if i is not None}
        if info.sae is not None:
            ids.add(info.sae.resolved_model_id())
        if info.sweep_id is not None:
            ids.add(info.sweep_id)
        ids |= set(info.sweep_model_ids)
    return frozenset(ids)
