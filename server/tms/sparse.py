"""Exact sparse sampling: draw only a batch's non-zero entries (TMS §"Experiment Setup").

The dense sampler (``data.FeatureDistribution``) draws one uniform per input entry, so a step at
p = 0.001 pays for 1,000 times more random numbers than it has non-zero inputs. This module draws
the same distribution from far fewer numbers. For every *lane*, a (row, unit) pair where a unit is
a feature outside any set, or a whole correlated or anticorrelated set (``config.FeatureSet``),
whose activity is decided by one Bernoulli(p) per sample:

1. the number k of the B samples in which the lane is active: Binomial(B, p) (``torch.binomial``);
2. which k samples: a uniformly random k-subset of the B, taken as the first k distinct values of
   an i.i.d. uniform stream of sample indices (rounds that redraw exactly the shortfall, so the
   set is that of the sequential draw, whatever order the duplicates are found in);
3. the values at those samples, one uniform each, through the dense sampler's own value map
   (U(0, 1], U(−1, 1], 1 or ±1): an independent feature's value, every member's own value of a
   correlated set, and for an anticorrelated set the chosen member (uniform among the k) and its
   value.

Given k, the Bernoulli(p)ᴮ indicator vector is uniform over the k-subsets, so 1–3 give exactly
the dense sampler's joint law, sets and signs included (``tests/server/test_sparse.py``
compares the two). ``normalize`` then scales each vector as the dense sampler does.

Rows whose largest p is above :data:`SPARSE_MAX_PROBABILITY`, and runs too small to win (a
fixed cost model), draw densely: the sparse draw costs some 150 eager ops and some tens of ns
per non-zero entry, the dense one 3–4 ns per entry (benchmarks/RESULTS.md, "Training at the
speed limit"). The choice
depends on the run's own request only (its p, shape and batch), never on what else trains
beside it or on this machine's speed, so a run's inputs are the same alone or batched.
"""

from __future__ import annotations

import torch
from torch import Tensor

from server.tms.data import FeatureDistribution

# A row may draw sparsely when every p in it is at most this: above it, on these CPUs, the
# sparse draw's cost per non-zero entry (about 40 ns: a binomial share, a position, duplicate
# checks, a value, a scatter) outweighs the dense draw's 3–4 ns per entry (benchmarks/RESULTS.md,
# "Training at the speed limit": at 400 × 1,024 entries a row, sparse won at p = 0.01 and lost
# at 0.05).
SPARSE_MAX_PROBABILITY = 0.03
# The cost model that decides, from the run's own request alone (constants, never timings taken
# at run time, so that a request trains to the same weights on every machine): the sparse rows
# draw sparsely when their dense cost (entries × DENSE_NS) exceeds the sparse draw's fixed cost
# (some 150 eager ops, about 2.5 µs each on an idle core) plus NNZ_NS per expected non-zero
# entry, plus COPY_NS per entry of the run's dense rows when it has both kinds. Fitted to
# ``benchmarks/train_speed.py``'s "project's draw" against "dense draw": with these, A (82k
# sparse-able entries) and C (0.5M beside 1.5M dense ones) draw densely, D (1.6M) partly
# sparsely.
DENSE_NS = 4.0
SPARSE_FIXED_NS = 400_000.0
NNZ_NS = 40.0
COPY_NS = 1.0  # a mixed run's dense rows are drawn apart and copied in: per dense entry


class SparseSampler:
    """Draws a run's batches, the sparse rows through their non-zero entries only.

    Args:
        probability: p, (rows, n_features), values in (0, 1]; a set's members share their p.
        distribution: magnitude, sign, feature sets and normalisation, as the dense sampler's.
        batch_size: B.
        every_row: draw every row sparsely, whatever its p (tests and measurements).

    The rows to draw sparsely (``sparse_rows``) are fixed here from p, n_features and B alone
    (:data:`SPARSE_MAX_PROBABILITY` and the cost model below it).
    """

    def __init__(
        self,
        probability: Tensor,
        distribution: FeatureDistribution,
        batch_size: int,
        every_row: bool = False,
    ) -> None:
        rows, n = probability.shape
        self.distribution, self.batch_size, self.n_features = distribution, batch_size, n
        self.n_rows = rows
        device = probability.device
        sparse = probability.amax(dim=1) <= SPARSE_MAX_PROBABILITY  # (rows,)
        entries = int(sparse.sum()) * n * batch_size
        expected_nonzero = float(probability[sparse].sum()) * batch_size
        copied = (rows - int(sparse.sum())) * n * batch_size if bool(sparse.any()) else 0
        sparse_cost = SPARSE_FIXED_NS + expected_nonzero * NNZ_NS + copied * COPY_NS
        if every_row:
            sparse = torch.ones_like(sparse)
        elif entries * DENSE_NS <= sparse_cost:
            sparse = torch.zeros_like(sparse)
        self.sparse_rows = sparse.nonzero().flatten()  # (rows_s,)
        self.dense_rows = (~sparse).nonzero().flatten()  # (rows_d,)
        self.all_dense = len(self.sparse_rows) == 0
        self.all_sparse = len(self.dense_rows) == 0
        # Dense rows that form one block (the usual case: p falls along the instances) are drawn
        # straight into the batch, the same numbers as through a temporary and a copy.
        d = self.dense_rows.tolist()
        contiguous = bool(d) and d == list(range(d[0], d[0] + len(d)))
        self._dense_block = slice(d[0], d[0] + len(d)) if contiguous else None
        self.dense_term = distribution.probability_term(probability[self.dense_rows])
        # units: features outside any set, then each set; a unit's leader decides its activity
        in_sets = {j for s in distribution.sets for j in s.features}
        self.singles = torch.tensor([j for j in range(n) if j not in in_sets], dtype=torch.long)
        leaders = self.singles.tolist() + [s.features[0] for s in distribution.sets]
        p_sparse = probability[self.sparse_rows]  # (rows_s, n)
        self.lane_probability = p_sparse[:, leaders].contiguous()  # (rows_s, units)
        self.units = len(leaders)
        self.rows_s = len(self.sparse_rows)
        self._claims = torch.empty(0, dtype=torch.long, device=device)
        self._written: list[Tensor] = []

    def entries(self) -> Tensor:
        """The flat positions in the last drawn batch (rows, n, B), row-major, of its sparse
        rows' non-zero entries: sorted, each once (a duplicate draw wrote its keeper's value
        to the same position). Call after :meth:`draw`; read the values from the batch."""
        if not self._written:
            return torch.empty(0, dtype=torch.long, device=self.lane_probability.device)
        return torch.unique(torch.cat(self._written))

    def expected_active(self) -> Tensor:
        """(rows_s,) float: the expected number of samples of a batch in which a sparse row has
        any active feature, B · (1 − Πᵤ (1 − pᵤ)) over its units."""
        inactive = torch.log1p(-self.lane_probability.double().clamp_max(1 - 1e-12)).sum(dim=1)
        return self.batch_size * (1 - inactive.exp())

    def draw(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Fill ``x`` (rows, n_features, B) with a fresh batch from ``generator``, in place.

        The dense rows' uniforms are drawn first, then the sparse rows' counts, positions and
        values: a fixed order, so the run's stream does not depend on anything else.
        """
        if self.all_dense:
            torch.rand(x.shape, generator=generator, out=x)
            return self.distribution.features_from_uniform_(x, self.dense_term)
        if not self.all_sparse:
            if self._dense_block is not None:  # drawn in place: no (rows_d, n, B) temporary
                u = x[self._dense_block]
                torch.rand(u.shape, generator=generator, out=u)
            else:
                u = torch.rand(
                    (len(self.dense_rows), *x.shape[1:]), generator=generator, device=x.device
                )
            dense = self.distribution.features_from_uniform_(u, self.dense_term)
            if self._dense_block is None:
                x.index_copy_(0, self.dense_rows, dense)
        if self.all_sparse:
            x.zero_()
            self._sparse_into(x, generator, None)
        else:
            x.index_fill_(0, self.sparse_rows, 0.0)
            self._sparse_into(x, generator, self.sparse_rows)
        return self.distribution._normalized_(x)

    def _sparse_into(self, out: Tensor, generator: torch.Generator, rows: Tensor | None) -> None:
        """The sparse rows' non-zero entries into ``out`` (rows, n, B), contiguous, whose sparse
        rows are all zero; ``rows``: the sparse rows' indices in ``out`` (None: every row).

        Lanes are unit-major (lane = unit · rows_s + row), so every round's draws are grouped by
        unit: the single features' draws first, then each set's.
        """
        B, n, dist = self.batch_size, self.n_features, self.distribution
        device, rows_s = out.device, self.rows_s
        written: list[Tensor] = []  # the flat positions in ``out`` of every entry written
        self._written = written
        p = self.lane_probability.mT.reshape(-1)  # (lanes,), unit-major
        counts = torch.binomial(torch.full_like(p, float(B)), p, generator=generator).long()
        flat = out.view(-1)
        singles = self.singles.to(device)
        for lane, sample, value_of in self._positions(counts, generator, device):
            unit, row = lane // rows_s, lane % rows_s
            if rows is not None:
                row = rows.index_select(0, row)
            # the draws of one round, split by unit group (a sync per group: sets are few)
            sizes = self._group_sizes(lane) if dist.sets else [len(lane)]
            group_sizes = [int(s) for s in sizes]
            offset = 0
            for g, size in enumerate(group_sizes):
                if size == 0:
                    continue
                r, t = row[offset : offset + size], sample[offset : offset + size]
                # a duplicate's keeper is in its own lane, so in this group: index within it
                winner = value_of[offset : offset + size] - offset
                offset += size
                if g == 0:  # single features
                    feature = singles.index_select(0, unit[offset - size : offset])
                    v = torch.rand(size, generator=generator, device=device)
                    keys = (r * n + feature) * B + t
                    flat.scatter_(0, keys, dist._value(v.index_select(0, winner)))
                    written.append(keys)
                    continue
                feature_set = dist.sets[g - 1]
                members = torch.tensor(feature_set.features, dtype=torch.long, device=device)
                k = len(members)
                if feature_set.kind == "correlated":  # every member active, its own value
                    v = torch.rand((size, k), generator=generator, device=device).index_select(
                        0, winner
                    )
                    keys = (r.unsqueeze(1) * n + members) * B + t.unsqueeze(1)
                    flat.scatter_(0, keys.reshape(-1), dist._value(v).reshape(-1))
                    written.append(keys.reshape(-1))
                else:  # one member, chosen uniformly, and its value
                    v = (
                        torch.rand(size, generator=generator, device=device).index_select(0, winner)
                        * k
                    )
                    chosen = v.floor().clamp_max_(k - 1)
                    keys = (r * n + members.index_select(0, chosen.long())) * B + t
                    flat.scatter_(0, keys, dist._value(v - chosen))
                    written.append(keys)

    def _group_sizes(self, lane: Tensor) -> Tensor:
        """How many of a round's draws (in lane order) fall in each unit group: the single
        features, then each set."""
        rows_s, n_singles = self.rows_s, len(self.singles)
        edges = [n_singles * rows_s + s * rows_s for s in range(len(self.distribution.sets) + 1)]
        bounds = torch.tensor([0, *edges], device=lane.device)
        return torch.searchsorted(lane, bounds).diff()

    def _positions(
        self, counts: Tensor, generator: torch.Generator, device: torch.device
    ) -> list[tuple[Tensor, Tensor, Tensor]]:
        """For every lane, ``counts[lane]`` distinct sample indices, a uniform subset of the B.

        Each round draws as many fresh indices as each lane still lacks. An index already kept
        in an earlier round, or drawn twice in the round, is a duplicate: of a round's draws of
        one index the earliest keeps it (``scatter_reduce`` "amin", whatever the threads'
        order). So a lane's set is the first k distinct values of its i.i.d. uniform stream: a
        uniform k-subset.

        Returns:
            per round: lane and sample of its draws in lane order, and for each draw the index
            (within the round) of the draw that keeps its (lane, sample): duplicates then write
            their keeper's value, so the result does not depend on which is written last. The
            first round returns every draw (duplicates are rare); later rounds (a few draws)
            only their keepers.
        """
        B, lanes = self.batch_size, counts.numel()
        if self._claims.numel() != lanes * B + 1 or self._claims.device != device:
            # which draw (a step-wide increasing id) keeps each (lane, sample); the last slot
            # takes the draws that are not to be claimed. Ids only grow, so a claim made in an
            # earlier step is below this step's first id.
            self._claims = torch.full((lanes * B + 1,), -1, dtype=torch.long, device=device)
            self._next_id = 0
        claims, dummy = self._claims, lanes * B
        lane_ids = torch.arange(lanes, device=device)
        step_base = self._next_id
        rounds: list[tuple[Tensor, Tensor, Tensor]] = []
        # A lane active in more than a quarter of the samples (never at the p that draw sparsely
        # in training, but exact at any p) takes the first k of a random permutation instead:
        # redrawing duplicates would take about B log B draws there.
        full = 4 * counts > B
        if bool(full.any()):
            big = full.nonzero().flatten()
            order = torch.rand((len(big), B), generator=generator, device=device).argsort(dim=1)
            chosen = torch.arange(B, device=device) < counts[big].unsqueeze(1)
            lane = big.repeat_interleave(counts[big])
            rounds.append((lane, order[chosen], torch.arange(len(lane), device=device)))
        need = torch.where(full, 0, counts)
        while True:
            total = int(need.sum())
            if total == 0:
                return rounds
            base = self._next_id
            self._next_id += total
            lane = torch.repeat_interleave(lane_ids, need)
            u = torch.rand(total, generator=generator, device=device, dtype=torch.float64)
            sample = (u * B).long().clamp_max_(B - 1)
            keys = lane * B + sample
            ids = torch.arange(base, base + total, device=device)
            first = base == step_base
            if first:
                claims.scatter_reduce_(0, keys, ids, "amin", include_self=False)
                holder = claims.index_select(0, keys)
                won = holder == ids
                rounds.append((lane, sample, holder - base))
            else:
                taken = claims.index_select(0, keys) >= step_base
                claims.scatter_reduce_(
                    0, torch.where(taken, dummy, keys), ids, "amin", include_self=False
                )
                won = ~taken & (claims.index_select(0, keys) == ids)
                kept_lane, kept_sample = lane[won], sample[won]
                rounds.append((kept_lane, kept_sample, torch.arange(len(kept_lane), device=device)))
            kept = torch.zeros(lanes, dtype=torch.long, device=device)
            need = need - kept.index_add_(0, lane, won.long())
