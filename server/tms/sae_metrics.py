"""How well a learned dictionary recovers the toy model's features, which are known exactly
(docs/THEORY.md F18).

Every measure compares the toy model's feature directions W[:, i] (the columns of W, (n_hidden,
n_features)) with the SAE's decoder columns W_dec[:, j] ((n_hidden, n_latents)) by cosine:

- ``cosines``: cos(W[:, i], W_dec[:, j]), signed, (n_features, n_latents); a zero column has
  cosine 0 with everything.
- Only features the model represents count: ‖W[:, i]‖ ≥ ``REPRESENTED_NORM`` (0.5; a feature the
  model dropped has no direction to recover).
- ``feature_matches``: for each such feature, the latent of largest cosine and that cosine.
- ``mmcs``, the mean max cosine similarity (Sharkey, Braun & Millidge, "Taking features out of
  superposition with sparse autoencoders", 2022): the mean over those features of their largest
  cosine with any decoder column. Several features may pick the same latent.
- ``mcc``, the mean cosine under a one-to-one matching of features to latents (SAELens's
  synthetic-data benchmark): the assignment of largest total cosine
  (``scipy.optimize.linear_sum_assignment``), averaged over the represented features; a feature
  left without a latent (fewer latents than features) counts as cosine 0.

Signed cosines, not absolute ones: a decoder column pointing against a feature does not
represent it (its latent is non-negative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

REPRESENTED_NORM = 0.5  # ‖W[:, i]‖ at or above which a feature counts as represented


@dataclass(frozen=True)
class Match:
    """A feature, the latent it is matched with, and their cosine."""

    feature: int
    latent: int
    cosine: float


def cosines(features: np.ndarray, W_dec: np.ndarray) -> np.ndarray:
    """cos(W[:, i], W_dec[:, j]) for every feature i and latent j.

    Args:
        features: (n_hidden, n_features), the toy model's W.
        W_dec: (n_hidden, n_latents), the decoder (any column norms).

    Returns:
        (n_features, n_latents) float64 in [−1, 1]; 0 for a zero or non-finite column.
    """
    f = np.asarray(features, dtype=np.float64)
    d = np.asarray(W_dec, dtype=np.float64)
    fn = np.linalg.norm(f, axis=0)
    dn = np.linalg.norm(d, axis=0)
    f = f / np.where(fn > 0, fn, 1.0)
    d = d / np.where(dn > 0, dn, 1.0)
    # A diverged (non-finite) column points nowhere: cosine 0, like a zero one.
    return np.nan_to_num(np.clip(f.T @ d, -1.0, 1.0), nan=0.0)


def represented(features: np.ndarray, threshold: float = REPRESENTED_NORM) -> list[int]:
    """The features with ‖W[:, i]‖ ≥ ``threshold``, in order."""
    norms = np.linalg.norm(np.asarray(features, dtype=np.float64), axis=0)
    return [int(i) for i in np.flatnonzero(norms >= threshold)]


def feature_matches(cos: np.ndarray, features: list[int]) -> list[Match]:
    """For each of ``features`` (rows of ``cos``), its latent of largest cosine."""
    return [Match(i, int(cos[i].argmax()), float(cos[i].max())) for i in features]


def mmcs(cos: np.ndarray, features: list[int]) -> float:
    """Mean over ``features`` of the largest cosine with any latent; NaN if there are none."""
    if not features:
        return float("nan")
    return float(np.mean([cos[i].max() for i in features]))


def matching(cos: np.ndarray, features: list[int]) -> list[Match]:
    """The one-to-one matching of ``features`` to latents of largest total cosine.

    Returns:
        One :class:`Match` per matched feature, in feature order (fewer than ``features`` when
        there are fewer latents).
    """
    if not features:
        return []
    sub = cos[features]  # (F, L)
    rows, cols = linear_sum_assignment(sub, maximize=True)
    return [Match(features[r], int(c), float(sub[r, c])) for r, c in zip(rows, cols, strict=True)]


def mcc(cos: np.ndarray, features: list[int]) -> float:
    """Mean cosine under :func:`matching`, over every one of ``features`` (an unmatched one
    counts 0); NaN if there are none."""
    if not features:
        return float("nan")
    return float(sum(m.cosine for m in matching(cos, features)) / len(features))


def latent_order(matched: list[Match], n_latents: int) -> list[int]:
    """The latents in the order of the features they are matched to, then the unmatched ones:
    the column order of the |cosine| matrix, so that a good dictionary shows a diagonal."""
    first = [m.latent for m in sorted(matched, key=lambda m: m.feature)]
    return first + [j for j in range(n_latents) if j not in set(first)]
