"""Synthetic sparse features (TMS §"Demonstrating Superposition › Experiment Setup").

Each feature xᵢ is 0 with probability S = 1 − p and, otherwise, independently:

- ``uniform`` magnitude (the paper's): U[0, 1];
- ``boolean`` magnitude: exactly 1 (Linsefors's "Boolean-ish" features, docs/THEORY.md F13);
- ``signed``: either of the above times a fair random sign, so U[−1, 1] or ±1: the symmetric inputs
  ξᵢ·bᵢ of Chowdhury & Weiner's power-activation model (docs/THEORY.md F15).

Feature sets (TMS §"Correlated and Anticorrelated Features") link features' activity:

- ``correlated``: "the same sample determines whether they're zero": the set's first feature's
  draw decides, for every member, whether it is active; the members' values stay independent.
- ``anticorrelated``: the set is entirely zero with probability S; otherwise exactly one member,
  chosen uniformly, is active. Each member is then active with probability p/k for a set of k.

One uniform draw u per entry gives both the mask and the value, in two or three cheap in-place
passes (benchmarks/RESULTS.md, "Training speed": sampling is half of a fast step). The paper's
case is x = max(0, 1 − u/p): positive exactly when u < p, and then uniform on (0, 1] (the end
points have probability zero).
The signed case is t = 1 − 2u/p, which is in (−1, 1] exactly when u < p.

Batches are feature-major, (rows, n_features, B), like the model's inputs (``model.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from server.tms.config import FeatureSet, Magnitude, ModelConfig, SetKind

MIN_PROBABILITY = 1e-30  # the least p the float32 sampler uses: k/p stays far below float32's max


@dataclass(frozen=True)
class FeatureDistribution:
    """How an active feature's value is drawn: its ``magnitude``, whether it gets a random sign
    (the power and absolute-value models' symmetric inputs), and linked feature ``sets``; with
    ``normalize``, each whole vector is then scaled to unit length (zero stays zero)."""

    magnitude: Magnitude = "uniform"
    signed: bool = False
    sets: tuple[FeatureSet, ...] = ()
    normalize: bool = False

    @classmethod
    def of(cls, config: ModelConfig) -> FeatureDistribution:
        """The inputs a :class:`~server.tms.config.ModelConfig` describes."""
        return cls(config.magnitude, config.signed, config.feature_sets, config.normalize_inputs)

    def probability_term(self, feature_probability: Tensor) -> Tensor:
        """What :meth:`features_from_uniform_` needs of p, computed once per batch layout.

        Args:
            feature_probability: p = 1 − S, (rows, n_features), values in (0, 1].

        Returns:
            (rows, n_features, 1): p itself for unsigned boolean features, else −1/p or −2/p.
        """
        # Below MIN_PROBABILITY, −1/p would overflow float32 to −inf and the masks would make
        # NaN (−inf · 0); no batch ever sees such a feature active either way.
        p = feature_probability.clamp_min(MIN_PROBABILITY).unsqueeze(-1)
        if self.magnitude == "boolean" and not self.signed:
            return p.clone()
        return (-2.0 if self.signed else -1.0) / p

    def features_from_uniform_(self, u: Tensor, term: Tensor) -> Tensor:
        """Turn uniform draws into sparse features, in place.

        Args:
            u: (rows, n_features, B), uniform on [0, 1).
            term: :meth:`probability_term` of the rows' p, (rows, n_features, 1).

        Returns:
            u itself, now x.
        """
        if not self.sets:
            return self._normalized_(self._independent_(u, term))
        members = [list(s.features) for s in self.sets]
        raw = [u[:, index, :].clone() for index in members]  # (rows, k, B) each, before u changes
        self._independent_(u, term)
        for feature_set, index, draws in zip(self.sets, members, raw, strict=True):
            p = self._probability(term[:, index[:1], :])  # (rows, 1, 1): the set's p
            u[:, index, :] = self._linked(feature_set.kind, draws, p)
        return self._normalized_(u)

    def _normalized_(self, x: Tensor) -> Tensor:
        """x (rows, n_features, B) with each vector x[r, :, s] scaled to unit length when
        ``normalize`` (an all-zero vector stays zero), in place; else x unchanged."""
        if not self.normalize:
            return x
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True)  # (rows, 1, B)
        return x.div_(norm.clamp_min_(1e-30))

    def _probability(self, term: Tensor) -> Tensor:
        """p back from :meth:`probability_term`."""
        if self.magnitude == "boolean" and not self.signed:
            return term
        return (-2.0 if self.signed else -1.0) / term

    def _value(self, v: Tensor) -> Tensor:
        """An active feature's value from v ~ U[0, 1): U(0, 1], U(−1, 1], 1 or ±1."""
        value = 1.0 - (2.0 if self.signed else 1.0) * v
        if self.magnitude == "boolean":
            return value.sign() if self.signed else torch.ones_like(value)
        return value

    def _linked(self, kind: SetKind, draws: Tensor, p: Tensor) -> Tensor:
        """A set's features from its members' draws (rows, k, B) and its p (rows, 1, 1)."""
        leader = draws[:, :1, :]  # (rows, 1, B): decides the set's activity
        active = leader < p
        if kind == "correlated":
            values = self._value(draws)  # members' own draws give their values
            values[:, :1, :] = self._value(leader / p)  # the leader's, given u < p, is U[0, 1)
            return values * active
        k = draws.shape[1]
        scaled = leader * (k / p)  # in [0, k) when active: which member, and where within it
        chosen = scaled.floor()
        member = torch.arange(k, device=draws.device, dtype=draws.dtype).view(1, k, 1)
        return self._value(scaled - chosen) * (active & (chosen == member))

    def _independent_(self, u: Tensor, term: Tensor) -> Tensor:
        if not self.signed:
            if self.magnitude == "boolean":
                return u.lt_(term)  # 1 where u < p, else 0 (lt_ keeps u's float dtype)
            return u.mul_(term).add_(1.0).relu_()  # max(0, 1 − u/p)
        t = u.mul_(term).add_(1.0)  # 1 − 2u/p: in (−1, 1] iff u < p
        active = t > -1.0
        if self.magnitude == "boolean":
            t.sign_()
        return t.mul_(active)


PAPER_FEATURES = FeatureDistribution()  # unsigned U[0, 1]: the paper's distribution


def sample_features(
    feature_probability: Tensor,
    batch_size: int,
    generator: torch.Generator,
    distribution: FeatureDistribution = PAPER_FEATURES,
) -> Tensor:
    """Draw a batch of sparse feature vectors.

    Args:
        feature_probability: p = 1 − S, shape (rows, n_features), values in (0, 1].
        batch_size: samples to draw, B.
        generator: torch generator on the same device as ``feature_probability``.
        distribution: the active features' magnitude and sign; the paper's U[0, 1] by default.

    Returns:
        x of shape (rows, n_features, B), dtype of ``feature_probability``.
    """
    p = feature_probability
    u = torch.rand((*p.shape, batch_size), generator=generator, device=p.device, dtype=p.dtype)
    return distribution.features_from_uniform_(u, distribution.probability_term(p))
