"""The account projection of the bipartite graph, in bounded memory.

Every shared value adds ``kind_weight × strength_a × strength_b`` to each pair of
its holders: ordinary values to every pair (a clique), hub values only to
neighbours in account-ordered rings (see :mod:`acctgraph.graph.build`). The
pairs are generated with array arithmetic rather than joins: holders of a value
are contiguous and sorted by account, so the partners of row ``i`` are simply
rows ``i+1 … end-1`` of its value, and each pair is made once (source < target).

Work is split into chunks of *source* accounts so that no chunk generates more
than ``pair_budget`` raw pairs; chunks run on ``workers`` threads. Chunks
partition the pairs, so each chunk's edges are final: contributions are summed
per (pair, kind) in one sparse matrix (column = target × kinds + kind), totals
below ``min_edge_weight / 20`` are dropped (ten kinds of such crumbs cannot
lift a pair over the threshold); infrastructure kinds only corroborate other
evidence (a pair's weight is ``other + min(infrastructure, corroboration_base +
corroboration_factor × other)``); pairs below ``min_edge_weight`` are dropped.
Weights are summed as integers in micro-units, so the result does not depend on
chunking, threads or the order of additions (tests/test_project.py checks it
against a brute-force reference).

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

import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

from acctgraph.core import schema as S

ACCOUNT_INDEX = S.ACCOUNT_INDEX
VALUE_INDEX = "value_index"
STRENGTH = "strength"
KIND_CODE = "kind_code"
HUB_ACTION = "hub_action"
RING = "ring"
SOURCE = "source"
TARGET = "target"
WEIGHT = "weight"

_EDGES_SCHEMA = {SOURCE: pl.Int64, TARGET: pl.Int64, WEIGHT: pl.Float64}
FIXED_POINT = 1_000_000  # micro-units: exact, order-free integer sums
# Odd multipliers coprime to the modulus: each gives an independent-looking order of accounts.
_MULTIPLIERS = (2654435761, 2246822519, 3266489917, 668265263)
# More ring orders than multipliers would repeat an order: only CPU time, no new pairs.
MAX_RING_ORDERS = len(_MULTIPLIERS)
_RING_MODULUS = 4294967311
DEFAULT_PAIR_BUDGET = 8_000_000
_BLOCK = 1 << 22  # ring positions per step block: ~40 bytes of temporaries each


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
    workers: int = 2,
    ring_memory: int | None = None,
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
    min_edge_weight, corroboration_base, corroboration_factor, ring_neighbours, ring_orders
        As in :class:`acctgraph.graph.build.GraphParams` (see the module docstring).
    pair_budget
        Upper bound on raw pairs generated at once per worker (memory ≈ 60 bytes each).
    workers
        Threads projecting chunks at once (the output does not depend on it).
    ring_memory
        The most bytes the hub rings' pairs may take in memory (None: no limit); beyond
        it they are written to temporary files and read back one chunk at a time (the
        output does not depend on it).
    """
    if holders.height == 0:
        return pl.DataFrame(schema=_EDGES_SCHEMA)
    kind_weight = np.asarray(kind_weights, dtype=np.float64)
    infra = np.asarray(infrastructure, dtype=bool)

    # Arrays sorted by (value, account), the table freed before the memory-hungry ring steps.
    clique_rows = _sorted_arrays(holders.filter(pl.col(HUB_ACTION).is_null()))
    ring_rows = _sorted_arrays(holders.filter(pl.col(HUB_ACTION) == RING))
    del holders
    clique = _Cliques(clique_rows)
    rings = _Rings(
        ring_rows,
        ring_neighbours=ring_neighbours,
        ring_orders=ring_orders,
        n_accounts=n_accounts,
        workers=workers,
        memory=ring_memory,
    )
    settings = _Settings(
        kind_weight=kind_weight,
        infra=infra,
        crumb=max(1, int(min_edge_weight / 20 * FIXED_POINT)),
        threshold=int(min_edge_weight * FIXED_POINT),
        base=int(corroboration_base * FIXED_POINT),
        factor=corroboration_factor,
        n_accounts=n_accounts,
    )
    try:
        return _edges(clique, rings, pair_budget, workers, settings)
    finally:
        rings.close()


def _edges(
    clique: _Cliques, rings: _Rings, pair_budget: int, workers: int, settings: _Settings
) -> pl.DataFrame:
    """Every chunk's final edges, concatenated in chunk order."""
    per_source = clique.pairs_per_source(settings.n_accounts) + rings.pairs_per_source()
    bounds = _chunk_bounds(per_source, pair_budget)
    rings.assign_chunks(bounds)
    # Chunks are independent and their edges final: two threads (numpy and scipy release the
    # GIL in their loops) and results concatenated in chunk order, so the output is the same.
    parts = in_threads(
        lambda chunk: _chunk_edges(
            clique, rings, chunk, bounds[chunk], bounds[chunk + 1], settings
        ),
        range(len(bounds) - 1),
        workers,
    )
    parts = [part for part in parts if len(part[0])]
    if not parts:
        return pl.DataFrame(schema=_EDGES_SCHEMA)
    return pl.DataFrame(
        {
            SOURCE: np.concatenate([source for source, _, _ in parts]).astype(np.int64),
            TARGET: np.concatenate([target for _, target, _ in parts]).astype(np.int64),
            WEIGHT: np.concatenate([w for _, _, w in parts]).astype(np.float64) / FIXED_POINT,
        }
    )


@dataclass(frozen=True)
class _Settings:
    kind_weight: np.ndarray
    infra: np.ndarray
    crumb: int
    threshold: int
    base: int
    factor: float
    n_accounts: int


def _chunk_edges(
    clique: _Cliques, rings: _Rings, chunk: int, lo: int, hi: int, s: _Settings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Final edges ``(source, target, weight)`` of the source accounts ``[lo, hi)``, row-major sorted.

    Contributions are summed per (pair, kind) in one sparse matrix whose column is
    ``target × kinds + kind``: after conversion to CSR a pair's kinds are adjacent, so
    crumbs are dropped per kind and the kinds then summed per pair in one pass.
    """
    n_kinds = len(s.kind_weight)
    clique_first, clique_second = clique.pairs(lo, hi)
    ring_first, ring_second = rings.pairs(chunk)
    source = np.concatenate([clique.account[clique_first], rings.account[ring_first]]) - lo
    kind = np.concatenate([clique.kind[clique_first], rings.kind[ring_first]]).astype(np.int64)
    column = (
        np.concatenate([clique.account[clique_second], rings.account[ring_second]])
        * np.int64(n_kinds)
        + kind
    )
    product = np.concatenate(
        [
            clique.strength[clique_first] * clique.strength[clique_second],
            rings.strength[ring_first] * rings.strength[ring_second],
        ]
    )
    del clique_first, clique_second, ring_first, ring_second
    # kind weight × (s_source × s_target) in micro-units, rounded half to even.
    weight = np.rint(s.kind_weight[kind] * product * FIXED_POINT).astype(np.int64)
    del product, kind
    summed = sparse.coo_array(
        (weight, (source, column)), shape=(hi - lo, s.n_accounts * n_kinds)
    ).tocsr()
    del source, column, weight
    summed.sum_duplicates()  # also sorts each row's columns
    row = np.repeat(np.arange(hi - lo, dtype=np.int64), np.diff(summed.indptr))
    keep = summed.data >= s.crumb  # per (pair, kind): crumbs and zeros dropped
    row, column, data = row[keep], summed.indices[keep].astype(np.int64), summed.data[keep]
    del summed, keep
    pair = row * s.n_accounts + column // n_kinds
    infra = s.infra[column % n_kinds]
    del row, column
    if len(pair) == 0:
        return pair, pair, pair
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    other = np.add.reduceat(np.where(infra, 0, data), starts)
    infra_w = np.add.reduceat(np.where(infra, data, 0), starts)
    # Infrastructure only corroborates: it counts up to base + factor × the other evidence.
    w = other + np.minimum(infra_w, s.base + (other.astype(np.float64) * s.factor).astype(np.int64))
    keep = w >= s.threshold
    keys, w = pair[starts][keep], w[keep]
    return keys // s.n_accounts + lo, keys % s.n_accounts, w


def _sorted_arrays(holders: pl.DataFrame) -> dict[str, np.ndarray]:
    """Numpy columns of ``holders`` in (value, account) order (sorted only if not already)."""
    value = holders[VALUE_INDEX].to_numpy()
    account = holders[ACCOUNT_INDEX].to_numpy().astype(np.int32)
    columns: dict[str, np.ndarray] = {
        KIND_CODE: holders[KIND_CODE].to_numpy().astype(np.int8),
        STRENGTH: holders[STRENGTH].to_numpy().astype(np.float64),
    }
    ordered = bool(
        np.all(
            (value[1:] > value[:-1]) | ((value[1:] == value[:-1]) & (account[1:] > account[:-1]))
        )
    )
    if not ordered:
        order = np.lexsort((account, value))
        value, account = value[order], account[order]
        columns = {name: column[order] for name, column in columns.items()}
    return {VALUE_INDEX: value, ACCOUNT_INDEX: account, **columns}


class _Cliques:
    """Ordinary values: every pair of holders. Rows sorted by (value, account), so the
    partners of row ``i`` are rows ``i+1 … end-1`` of its value and each pair is made once."""

    def __init__(self, rows: dict[str, np.ndarray]) -> None:
        """``rows``: :func:`_sorted_arrays` (emptied: the arrays move here)."""
        value = rows.pop(VALUE_INDEX)
        self.account, self.kind, self.strength = (
            rows.pop(ACCOUNT_INDEX),
            rows.pop(KIND_CODE),
            rows.pop(STRENGTH),
        )
        size = len(value)
        starts = np.flatnonzero(np.r_[True, value[1:] != value[:-1]])  # [0] when empty: no group
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
    twice for one value (in two orders, or both ways round a small ring) counts once.

    Pairs are made per job (an order and a step), in blocks of ring positions so that
    temporaries stay small, into one slot per job; each slot is then reordered by source
    chunk (:meth:`assign_chunks`), so a chunk's pairs are one slice per job and no
    per-pair chunk or source array is kept.
    """

    def __init__(
        self,
        rows: dict[str, np.ndarray],
        *,
        ring_neighbours: int,
        ring_orders: int,
        n_accounts: int,
        workers: int = 1,
        memory: int | None = None,
    ) -> None:
        """``rows``: :func:`_sorted_arrays` (emptied: the arrays move here); a value's rows are
        contiguous, so the gathers below stay local. ``memory``: the most bytes the pairs may
        take in memory (None: no limit); beyond it they are kept in temporary files."""
        self.k = ring_neighbours
        self.workers = workers
        value = rows.pop(VALUE_INDEX)
        self.account, self.kind, self.strength = (
            rows.pop(ACCOUNT_INDEX),
            rows.pop(KIND_CODE),
            rows.pop(STRENGTH),
        )
        count = len(value)
        starts = np.flatnonzero(np.r_[True, value[1:] != value[:-1]])  # [0] when empty: no group
        sizes = np.diff(np.r_[starts, count])
        self.group = np.repeat(np.arange(len(starts), dtype=np.uint64), sizes)
        self.start = np.repeat(starts, sizes).astype(np.int32)
        self.size = np.repeat(sizes, sizes).astype(np.int32)
        del value, starts
        # Within one order no pair repeats when every ring is longer than twice the neighbours.
        self.simple = bool(count == 0 or sizes.min() > 2 * ring_neighbours)
        n_orders = ring_orders if count else 0
        # Per order: the row at each sorted position, and each row's position.
        self.orders = in_threads(self._order, range(n_orders), workers)
        del self.group
        # Each (order, step) makes at most one pair per row: a job fills a buffer of `count`
        # rows (jobs in threads, `workers` at a time), counting pairs per source account, and
        # hands the pairs to the store: in memory, or in files when they would take more than
        # `memory` bytes.
        jobs = [(o, step) for o in range(n_orders) for step in range(1, self.k + 1)]
        self.n_accounts = n_accounts
        spill = memory is not None and len(jobs) * count * 8 > memory
        self.store: _MemoryPairs | _FilePairs = _FilePairs() if spill else _MemoryPairs()

        def fill(job: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            first = np.empty(count, dtype=np.int32)
            second = np.empty(count, dtype=np.int32)
            per_source = np.zeros(n_accounts, dtype=np.int64)
            at = 0
            for lo in range(0, count, _BLOCK):
                made_first, made_second = self._step(*jobs[job], lo, min(lo + _BLOCK, count))
                first[at : at + len(made_first)] = made_first
                second[at : at + len(made_second)] = made_second
                per_source += np.bincount(self.account[made_first], minlength=n_accounts)[
                    :n_accounts
                ]
                at += len(made_first)
            if at < 0.75 * count:  # many small rings: give back the unused rows
                return first[:at].copy(), second[:at].copy(), per_source
            return first[:at], second[:at], per_source

        self.job_sources: list[np.ndarray] = []  # pairs per source account, per job
        for batch in range(0, len(jobs), max(1, workers)):
            made = in_threads(fill, range(batch, min(batch + max(1, workers), len(jobs))), workers)
            for first, second, per_source in made:
                self.store.append(first, second)
                self.job_sources.append(per_source)
            del made
        del self.orders

    def _order(self, order: int) -> tuple[np.ndarray, np.ndarray]:
        rank = (
            (self.account.astype(np.uint64) + np.uint64(1))
            * np.uint64(_MULTIPLIERS[order % len(_MULTIPLIERS)])
            % np.uint64(_RING_MODULUS)
        )
        # Ranks are distinct per account (a bijection below the prime modulus): no ties.
        perm = np.argsort((self.group << np.uint64(33)) | rank).astype(np.int32)
        del rank
        position = np.empty(len(perm), dtype=np.int32)
        position[perm] = np.arange(len(perm), dtype=np.int32) - self.start
        return perm, position

    def _step(self, o: int, step: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(first, second) rows linked by ``step`` in order ``o`` from sorted positions
        ``[lo, hi)`` (first holds the smaller account), without pairs an earlier order
        already made for the same value."""
        start, size = self.start[lo:hi], self.size[lo:hi]  # in sorted order == row order
        perm = self.orders[o][0]
        pos = np.arange(lo, hi, dtype=np.int32) - start
        target = start + (pos + step) % size
        if self.simple:
            row, other, sz = perm[lo:hi], perm[target], size
        else:
            forward = step % size
            keep = (
                (forward == step)
                & (forward != 0)
                & ((2 * forward < size) | ((2 * forward == size) & (pos < (pos + forward) % size)))
            )
            row, other, sz = perm[lo:hi][keep], perm[target[keep]], size[keep]
        del target, pos
        for q in range(o):  # already linked in an earlier order?
            position = self.orders[q][1]
            d = (position[other] - position[row]) % sz
            fresh = np.minimum(d, sz - d) > self.k  # d is never 0: row and other differ
            row, other, sz = row[fresh], other[fresh], sz[fresh]
        a, b = self.account[row], self.account[other]
        distinct = a != b
        smaller = a < b
        return (
            np.where(smaller, row, other)[distinct].astype(np.int32),
            np.where(smaller, other, row)[distinct].astype(np.int32),
        )

    def pairs_per_source(self) -> np.ndarray:
        """Pairs per source account (the source of a pair is its smaller account)."""
        return (
            np.asarray(np.sum(self.job_sources, axis=0, dtype=np.float64))
            if self.job_sources
            else np.zeros(self.n_accounts)
        )

    def assign_chunks(self, bounds: list[int]) -> None:
        """Reorder each job's pairs by source chunk; ``self.offsets[j, c]`` is where chunk
        ``c`` starts among job ``j``'s pairs (in threads, one job at a time each)."""
        n_chunks = len(bounds) - 1
        # Chunk of each account (a lookup table: cheaper than a search per pair).
        chunk_of = np.repeat(
            np.arange(n_chunks, dtype=np.int16 if n_chunks < 1 << 15 else np.int32), np.diff(bounds)
        )
        self.offsets = np.zeros((len(self.job_sources), n_chunks + 1), dtype=np.int64)

        def reorder(job: int) -> None:
            first, second = self.store.read(job)
            order = np.argsort(chunk_of[self.account[first]], kind="stable")  # radix: 16-bit keys
            self.store.write(job, first[order], second[order])
            # Where each chunk starts: the pairs of the accounts before it.
            self.offsets[job] = np.r_[0, np.cumsum(self.job_sources[job])][bounds]

        in_threads(reorder, range(len(self.job_sources)), self.workers)
        del self.job_sources

    def pairs(self, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """Row pairs whose source account is in one chunk (after :meth:`assign_chunks`)."""
        parts = [
            self.store.read(job, lo, hi)
            for job, (lo, hi) in enumerate(self.offsets[:, chunk : chunk + 2])
            if hi > lo
        ]
        if not parts:
            empty = np.empty(0, dtype=np.int32)
            return empty, empty
        return (
            np.concatenate([first for first, _ in parts]),
            np.concatenate([second for _, second in parts]),
        )

    def close(self) -> None:
        """Remove the temporary files, if any."""
        self.store.close()


class _MemoryPairs:
    """Each job's (first, second) row arrays, in memory."""

    def __init__(self) -> None:
        self.jobs: list[tuple[np.ndarray, np.ndarray]] = []

    def append(self, first: np.ndarray, second: np.ndarray) -> None:
        self.jobs.append((first, second))

    def read(self, job: int, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        first, second = self.jobs[job]
        return first[lo:hi], second[lo:hi]

    def write(self, job: int, first: np.ndarray, second: np.ndarray) -> None:
        self.jobs[job] = (first, second)

    def close(self) -> None:
        self.jobs.clear()


class _FilePairs:
    """Each job's (first, second) row arrays in two files of int32, one after the other, in a
    temporary folder (``TMPDIR``); a chunk reads one slice per job."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="acctgraph-pairs-")
        self.paths = (os.path.join(self.folder, "first"), os.path.join(self.folder, "second"))
        for path in self.paths:
            open(path, "wb").close()
        self.slots = [0]  # job j's pairs are rows slots[j] … slots[j+1]-1 of each file

    def append(self, first: np.ndarray, second: np.ndarray) -> None:
        for path, array in zip(self.paths, (first, second), strict=True):
            with open(path, "ab") as handle:
                np.ascontiguousarray(array, dtype=np.int32).tofile(handle)
        self.slots.append(self.slots[-1] + len(first))

    def read(self, job: int, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.slots[job], self.slots[job + 1]
        count = (end - start if hi is None else hi) - lo
        first, second = (
            np.fromfile(path, dtype=np.int32, count=count, offset=4 * (start + lo))
            for path in self.paths
        )
        return first, second

    def write(self, job: int, first: np.ndarray, second: np.ndarray) -> None:
        for path, array in zip(self.paths, (first, second), strict=True):
            with open(path, "r+b") as handle:
                handle.seek(4 * self.slots[job])
                np.ascontiguousarray(array, dtype=np.int32).tofile(handle)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def in_threads(fn, items, workers: int) -> list:
    """``[fn(item) for item in items]``, on up to ``workers`` threads (numpy releases the GIL)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


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
