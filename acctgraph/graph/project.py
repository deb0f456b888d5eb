"""The account projection of the bipartite graph, in bounded memory.

Every shared value adds ``kind_weight × strength_a × strength_b`` to each pair of
its holders: ordinary values to every pair (a clique), hub values only to
neighbours in account-ordered rings (see :mod:`acctgraph.graph.build`). The
pairs are generated with array arithmetic rather than joins: holders of a value
are contiguous and sorted by account, so the partners of row ``i`` are simply
rows ``i+1 … end-1`` of its value, and each pair is made once (source < target).

Work is split into chunks of *source* accounts so that no chunk generates more
than ``pair_budget`` raw pairs. Chunks partition the pairs, so each chunk's
edges are final: per kind, pair totals below ``min_edge_weight / 20`` are
dropped (ten kinds of such crumbs cannot lift a pair over the threshold);
infrastructure kinds only corroborate other evidence; pairs below
``min_edge_weight`` are dropped. Weights are summed as integers in micro-units,
so the result does not depend on chunking or on the order of additions.

Examples
--------
>>> import polars as pl
>>> holders = pl.DataFrame({"account_index": [0, 1, 2, 0, 2], "value_index": [0, 0, 0, 1, 1],
...     "strength": [1.0, 1.0, 1.0, 0.5, 0.5], "kind_code": [0, 0, 0, 1, 1],
...     "hub_action": [None] * 5})
>>> project(holders, n_accounts=3, kind_weights=[1.0, 0.8], infrastructure=[False, False],
...         min_edge_weight=0.3, corroboration_base=0.25, corroboration_factor=2.0,
...         ring_neighbours=5, ring_orders=2).rows()
[(0, 1, 1.0), (0, 2, 1.2), (1, 2, 1.0)]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import sparse

ACCOUNT_INDEX = "account_index"
VALUE_INDEX = "value_index"
STRENGTH = "strength"
KIND_CODE = "kind_code"
HUB_ACTION = "hub_action"
RING = "ring"
SOURCE = "source"
TARGET = "target"
WEIGHT = "weight"

FIXED_POINT = 1_000_000  # micro-units: exact, order-free integer sums
# Odd multipliers coprime to the modulus: each gives an independent-looking order of accounts.
_MULTIPLIERS = (2654435761, 2246822519, 3266489917, 668265263)
_RING_MODULUS = 4294967311
DEFAULT_PAIR_BUDGET = 12_000_000


def project(
    holders: pl.DataFrame,
    *,
    n_accounts: int,
    kind_weights: Sequence[float],
    infrastructure: Sequence[bool],
    min_edge_weight: float,
    corroboration_base: float,
    corroboration_factor: float,
    ring_neighbours: int,
    ring_orders: int,
    pair_budget: int = DEFAULT_PAIR_BUDGET,
) -> pl.DataFrame:
    """Weighted account pairs ``source, target, weight`` (source < target), sorted.

    Parameters
    ----------
    holders
        ``account_index, value_index, strength, kind_code, hub_action``: one row
        per (account, shared value); ``kind_code`` indexes ``kind_weights``;
        ``hub_action`` is ``"ring"`` for hub values linked through rings, null
        for ordinary values (dropped hubs must already be removed).
    n_accounts
        Number of accounts (vertex ids are ``0 … n_accounts-1``).
    kind_weights, infrastructure
        Per kind code: the evidence weight and whether the kind only corroborates.
    pair_budget
        Upper bound on raw pairs generated at once (memory ≈ 40 bytes each).
    """
    empty = pl.DataFrame(schema={SOURCE: pl.Int64, TARGET: pl.Int64, WEIGHT: pl.Float64})
    if holders.height == 0:
        return empty
    kind_weight = np.asarray(kind_weights, dtype=np.float64)
    infra = np.asarray(infrastructure, dtype=bool)

    clique = _Cliques(holders.filter(pl.col(HUB_ACTION).is_null()))
    rings = _Rings(holders.filter(pl.col(HUB_ACTION) == RING), ring_neighbours=ring_neighbours,
                   ring_orders=ring_orders)
    del holders  # the arrays above hold everything the projection needs
    per_source = clique.pairs_per_source(n_accounts) + rings.pairs_per_source(n_accounts)
    bounds = _chunk_bounds(per_source, pair_budget)
    rings.group_by_chunk(bounds, n_kinds=len(kind_weight))

    crumb = int(min_edge_weight / 20 * FIXED_POINT)
    threshold = int(min_edge_weight * FIXED_POINT)
    base = int(corroboration_base * FIXED_POINT)
    sources, targets, weights = [], [], []
    for chunk, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        clique_first, clique_second = clique.pairs(lo, hi)  # sorted by first row, hence by kind
        clique_kind = clique.kind[clique_first]
        clique_edges = np.searchsorted(clique_kind, np.arange(len(kind_weight) + 1))
        shape = (hi - lo, n_accounts)
        other = sparse.csr_array(shape, dtype=np.int64)
        infra_sum = sparse.csr_array(shape, dtype=np.int64)
        for code in range(len(kind_weight)):
            part = slice(clique_edges[code], clique_edges[code + 1])
            ring_first, ring_second = rings.pairs(chunk, code)
            if part.stop == part.start and len(ring_first) == 0:
                continue
            source = np.concatenate([clique.account[clique_first[part]], rings.account[ring_first]]) - lo
            target = np.concatenate([clique.account[clique_second[part]], rings.account[ring_second]])
            product = np.concatenate([
                clique.strength[clique_first[part]] * clique.strength[clique_second[part]],
                rings.strength[ring_first] * rings.strength[ring_second],
            ])
            # kind weight × (s_source × s_target) in micro-units, rounded half to even.
            weight = np.rint(kind_weight[code] * product * FIXED_POINT).astype(np.int64)
            del product
            # Sum the kind's contributions per pair (duplicates summed in C), drop crumbs.
            summed = sparse.coo_array((weight, (source.astype(np.int32), target.astype(np.int32))),
                                      shape=shape).tocsr()
            del source, target, weight
            summed.sum_duplicates()
            summed.data[summed.data < crumb] = 0
            summed.eliminate_zeros()
            if infra[code]:
                infra_sum = infra_sum + summed
            else:
                other = other + summed
        del clique_first, clique_second, clique_kind
        pair_source, pair_target, w = _corroborate(other, infra_sum, base=base,
                                                   factor=corroboration_factor, threshold=threshold)
        sources.append(pair_source + lo)
        targets.append(pair_target)
        weights.append(w)
    if not sources:
        return empty
    return pl.DataFrame({
        SOURCE: np.concatenate(sources).astype(np.int64),
        TARGET: np.concatenate(targets).astype(np.int64),
        WEIGHT: np.concatenate(weights).astype(np.float64) / FIXED_POINT,
    })


def _corroborate(
    other: sparse.csr_array, infra: sparse.csr_array, *, base: int, factor: float, threshold: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs with ``other + min(infra, base + factor × other) >= threshold``, row-major sorted."""
    other = other.tocoo()
    infra = infra.tocoo()
    n = other.shape[1]
    other_key = other.row.astype(np.int64) * n + other.col
    infra_key = infra.row.astype(np.int64) * n + infra.col
    keys = other_key if base < threshold else np.union1d(other_key, infra_key)
    # Infrastructure alone never reaches the threshold when base < threshold: skip those pairs.
    other_w = _lookup(other_key, other.data, keys)
    infra_w = _lookup(infra_key, infra.data, keys)
    w = other_w + np.minimum(infra_w, base + (other_w.astype(np.float64) * factor).astype(np.int64))
    keep = w >= threshold
    keys, w = keys[keep], w[keep]
    return keys // n, keys % n, w


def _lookup(keys: np.ndarray, data: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``data`` at ``wanted`` keys (0 where absent); ``keys`` sorted ascending."""
    if len(keys) == 0:
        return np.zeros(len(wanted), dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, data[at], 0).astype(np.int64)


class _Cliques:
    """Ordinary values: every pair of holders. Rows sorted by (value, account), so the
    partners of row ``i`` are rows ``i+1 … end-1`` of its value and each pair is made once."""

    def __init__(self, holders: pl.DataFrame) -> None:
        rows = holders.sort(VALUE_INDEX, ACCOUNT_INDEX)
        self.account = rows[ACCOUNT_INDEX].to_numpy().astype(np.int32)
        self.kind = rows[KIND_CODE].to_numpy().astype(np.int8)
        self.strength = rows[STRENGTH].to_numpy().astype(np.float64)
        value = rows[VALUE_INDEX].to_numpy()
        size = len(value)
        starts = np.flatnonzero(np.r_[True, value[1:] != value[:-1]]) if size else np.zeros(0, np.int64)
        ends = np.r_[starts[1:], size].astype(np.int64)
        self.partners = np.repeat(ends, np.diff(np.r_[starts, size])) - np.arange(size) - 1

    def pairs_per_source(self, n_accounts: int) -> np.ndarray:
        return np.bincount(self.account, weights=self.partners, minlength=n_accounts)[:n_accounts]

    def pairs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Row pairs (first, second) whose source account is in ``[lo, hi)``, sorted by first."""
        rows = np.flatnonzero((self.account >= lo) & (self.account < hi) & (self.partners > 0))
        counts = self.partners[rows]
        first = np.repeat(rows, counts)
        second = first + 1 + (np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts))
        return first, second


class _Rings:
    """Hub values: holders laid out in ``ring_orders`` account-only pseudo-random orders,
    each linked to the next ``ring_neighbours`` holders (cyclically), so contributions of
    many hub values shared by the same accounts land on the same pairs. A pair reached
    twice for one value (in two orders, or both ways round a small ring) counts once."""

    def __init__(self, holders: pl.DataFrame, *, ring_neighbours: int, ring_orders: int) -> None:
        self.k = ring_neighbours
        holders = holders.sort(VALUE_INDEX, ACCOUNT_INDEX)  # a value's rows contiguous: local gathers
        value = holders[VALUE_INDEX].to_numpy()
        self.account = holders[ACCOUNT_INDEX].to_numpy().astype(np.int32)
        self.kind = holders[KIND_CODE].to_numpy().astype(np.int8)
        self.strength = holders[STRENGTH].to_numpy().astype(np.float64)
        count = len(value)
        starts = np.flatnonzero(np.r_[True, value[1:] != value[:-1]]) if count else np.zeros(0, np.int64)
        sizes = np.diff(np.r_[starts, count])
        group = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
        self.start = np.repeat(starts, sizes).astype(np.int32)
        self.size = np.repeat(sizes, sizes).astype(np.int32)
        # Within one order no pair repeats when every ring is longer than twice the neighbours.
        self.simple = bool(count == 0 or sizes.min() > 2 * ring_neighbours)
        self.orders = []  # per order: row at each sorted position, and each row's position
        for order in range(ring_orders if count else 0):
            rank = ((self.account.astype(np.uint64) + np.uint64(1))
                    * np.uint64(_MULTIPLIERS[order % len(_MULTIPLIERS)]) % np.uint64(_RING_MODULUS))
            # Ranks are distinct per account (a bijection below the prime modulus): no ties.
            perm = np.argsort((group.astype(np.uint64) << np.uint64(33)) | rank).astype(np.int32)
            position = np.empty(count, dtype=np.int32)
            position[perm] = np.arange(count, dtype=np.int32) - self.start
            self.orders.append((perm, position))
        steps = list(self._steps())
        self.first = np.concatenate([f for f, _ in steps]) if steps else np.zeros(0, np.int32)
        self.second = np.concatenate([s for _, s in steps]) if steps else np.zeros(0, np.int32)
        del self.orders, steps

    def _steps(self):
        """(first, second) row arrays (first holds the smaller account), each pair once."""
        start, size = self.start, self.size  # in sorted order == row order (values contiguous)
        pos = np.arange(len(start), dtype=np.int32) - start
        for o, (perm, _) in enumerate(self.orders):
            for step in range(1, self.k + 1):
                target = start + (pos + step) % size
                if self.simple:
                    row, other, sz = perm, perm[target], size
                else:
                    forward = step % size
                    keep = (forward == step) & (forward != 0) & (
                        (2 * forward < size) | ((2 * forward == size) & (pos < (pos + forward) % size)))
                    row, other, sz = perm[keep], perm[target[keep]], size[keep]
                for q in range(o):  # already linked in an earlier order?
                    position = self.orders[q][1]
                    d = (position[other] - position[row]) % sz
                    fresh = (d == 0) | (np.minimum(d, sz - d) > self.k)
                    row, other, sz = row[fresh], other[fresh], sz[fresh]
                a, b = self.account[row], self.account[other]
                distinct = a != b
                smaller = a < b
                yield (np.where(smaller, row, other)[distinct].astype(np.int32),
                       np.where(smaller, other, row)[distinct].astype(np.int32))

    def pairs_per_source(self, n_accounts: int) -> np.ndarray:
        source = self.account[self.first] if len(self.first) else np.zeros(0, np.int64)
        return np.bincount(source, minlength=n_accounts)[:n_accounts].astype(np.float64)

    def group_by_chunk(self, bounds: list[int], *, n_kinds: int) -> None:
        """Order the pairs by (source chunk, kind) so that each is one contiguous slice."""
        chunk = np.searchsorted(np.asarray(bounds[1:-1]), self.account[self.first], side="right")
        key = (chunk * n_kinds + self.kind[self.first]).astype(np.int64)
        order = np.argsort(key, kind="stable")
        self.first, self.second = self.first[order], self.second[order]
        self.offsets = np.searchsorted(key[order], np.arange((len(bounds) - 1) * n_kinds + 1))
        self.n_kinds = n_kinds

    def pairs(self, chunk: int, code: int) -> tuple[np.ndarray, np.ndarray]:
        """Row pairs of one source chunk and kind (after :meth:`group_by_chunk`)."""
        at = chunk * self.n_kinds + code
        part = slice(self.offsets[at], self.offsets[at + 1])
        return self.first[part], self.second[part]


def _chunk_bounds(per_source: np.ndarray, budget: int) -> list[int]:
    """Account-index bounds ``[0, b1, …, n]`` so each chunk makes at most ~``budget`` pairs."""
    n = len(per_source)
    if n == 0:
        return [0, 0]
    cumulative = np.cumsum(per_source)
    bounds = [0]
    k = 1
    while k * budget < cumulative[-1]:
        cut = int(np.searchsorted(cumulative, k * budget, side="right"))
        if cut > bounds[-1]:
            bounds.append(cut)
        k += 1
    bounds.append(n)
    return bounds
