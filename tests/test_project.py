"""The projection against a brute-force reference written from its documented rules.

The reference walks every value in plain Python: cliques for ordinary values,
``ring_orders`` account-ranked rings with ``ring_neighbours`` links for hub
values (a pair counts once per value), per-contribution rounding to micro-units,
per (pair, kind) crumbs, then infrastructure corroboration and the threshold.
The fast path (array arithmetic, chunks, threads) must give the same edges, bit
for bit, whatever the chunk budget and the number of threads.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import acctgraph.graph.project as project_module
from acctgraph.graph.project import (
    _MULTIPLIERS,
    _RING_MODULUS,
    ACCOUNT_INDEX,
    FIXED_POINT,
    HUB_ACTION,
    KIND_CODE,
    RING,
    STRENGTH,
    VALUE_INDEX,
    project,
)

KIND_WEIGHTS = [1.0, 0.8, 1.5, 0.25]
INFRASTRUCTURE = [False, False, True, True]
PARAMS = dict(min_edge_weight=0.3, corroboration_base=0.25, corroboration_factor=2.0)


def reference(holders: pl.DataFrame, *, n_accounts: int, k: int, orders: int, **params) -> dict:
    per_kind: dict[tuple[int, int, int], int] = defaultdict(int)
    for (_value,), rows in (
        holders.sort(ACCOUNT_INDEX).partition_by(VALUE_INDEX, as_dict=True).items()
    ):
        accounts = rows[ACCOUNT_INDEX].to_list()
        strength = dict(zip(accounts, rows[STRENGTH].to_list(), strict=True))
        kind = rows[KIND_CODE][0]
        if rows[HUB_ACTION][0] == RING:
            pairs = set()
            for order in range(orders):
                rank = sorted(accounts, key=lambda a: (a + 1) * _MULTIPLIERS[order] % _RING_MODULUS)
                for i, a in enumerate(rank):
                    for step in range(1, k + 1):
                        b = rank[(i + step) % len(rank)]
                        if a != b:
                            pairs.add((min(a, b), max(a, b)))
        else:
            pairs = {(a, b) for i, a in enumerate(accounts) for b in accounts[i + 1 :]}
        for a, b in pairs:
            contribution = KIND_WEIGHTS[kind] * (strength[a] * strength[b]) * FIXED_POINT
            per_kind[(a, b, kind)] += int(np.rint(contribution))
    crumb = int(params["min_edge_weight"] / 20 * FIXED_POINT)
    other: dict[tuple[int, int], int] = defaultdict(int)
    infra: dict[tuple[int, int], int] = defaultdict(int)
    for (a, b, kind), w in per_kind.items():
        if w >= max(crumb, 1):
            (infra if INFRASTRUCTURE[kind] else other)[(a, b)] += w
    base = int(params["corroboration_base"] * FIXED_POINT)
    edges = {}
    for pair in set(other) | set(infra):
        o = other.get(pair, 0)
        w = o + min(infra.get(pair, 0), base + int(o * params["corroboration_factor"]))
        if w >= int(params["min_edge_weight"] * FIXED_POINT):
            edges[pair] = w / FIXED_POINT
    return edges


@st.composite
def holder_tables(draw):
    n_accounts = draw(st.integers(2, 40))
    rows = []
    for value in range(draw(st.integers(1, 25))):
        size = draw(st.integers(2, n_accounts))
        accounts = draw(
            st.lists(st.integers(0, n_accounts - 1), min_size=size, max_size=size, unique=True)
        )
        ring = draw(st.booleans())
        kind = draw(st.integers(0, len(KIND_WEIGHTS) - 1))
        for account in accounts:
            strength = draw(st.sampled_from([1.0, 0.5, 0.25, 0.7071067811865476, 0.3, 0.9]))
            rows.append((account, value, strength, kind, RING if ring else None))
    frame = pl.DataFrame(
        rows,
        schema={
            ACCOUNT_INDEX: pl.UInt32,
            VALUE_INDEX: pl.UInt32,
            STRENGTH: pl.Float64,
            KIND_CODE: pl.UInt8,
            HUB_ACTION: pl.String,
        },
        orient="row",
    )
    return frame, n_accounts


def run(holders: pl.DataFrame, n_accounts: int, **kwargs) -> pl.DataFrame:
    return project(
        holders,
        n_accounts=n_accounts,
        kind_weights=KIND_WEIGHTS,
        infrastructure=INFRASTRUCTURE,
        **PARAMS,
        **kwargs,
    )


@settings(max_examples=60, deadline=None)
@given(
    holder_tables(),
    st.integers(1, 3),
    st.integers(1, 2),
    st.sampled_from([1, 7, 50, 10_000]),
    st.integers(1, 2),
    st.sampled_from([None, 0]),
)
def test_projection_matches_the_reference(
    table, k: int, orders: int, budget: int, workers: int, ring_memory: int | None
) -> None:
    holders, n_accounts = table
    edges = run(
        holders,
        n_accounts,
        ring_neighbours=k,
        ring_orders=orders,
        pair_budget=budget,
        workers=workers,
        ring_memory=ring_memory,
    )
    expected = reference(holders, n_accounts=n_accounts, k=k, orders=orders, **PARAMS)
    assert {(s, t): w for s, t, w in edges.iter_rows()} == pytest.approx(expected, abs=0, rel=0)
    assert edges.select((pl.col("source") < pl.col("target")).all()).item() in (True, None)
    assert edges.equals(edges.sort("source", "target"))


def test_chunks_threads_and_blocks_do_not_change_a_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    n_accounts, rows = 3_000, []
    for value in range(600):
        size = int(rng.integers(2, 120))
        for account in rng.choice(n_accounts, size, replace=False):
            rows.append(
                (
                    int(account),
                    value,
                    float(rng.random()),
                    int(rng.integers(0, 4)),
                    RING if size > 40 else None,
                )
            )
    holders = pl.DataFrame(
        rows,
        schema={
            ACCOUNT_INDEX: pl.UInt32,
            VALUE_INDEX: pl.UInt32,
            STRENGTH: pl.Float64,
            KIND_CODE: pl.UInt8,
            HUB_ACTION: pl.String,
        },
        orient="row",
    )
    one = run(holders, n_accounts, ring_neighbours=5, ring_orders=2, workers=1)
    assert one.height > 1_000
    for budget, workers, ring_memory in (
        (5_000, 1, None),
        (5_000, 2, None),
        (777, 2, None),
        (777, 2, 0),  # ring pairs in temporary files, read back chunk by chunk
        (5_000, 1, 1_000),
    ):
        assert run(
            holders,
            n_accounts,
            ring_neighbours=5,
            ring_orders=2,
            pair_budget=budget,
            workers=workers,
            ring_memory=ring_memory,
        ).equals(one)
    # Ring pairs are made in blocks of positions; blocks that cut through rings change nothing.
    monkeypatch.setattr(project_module, "_BLOCK", 97)
    assert run(
        holders, n_accounts, ring_neighbours=5, ring_orders=2, pair_budget=777, workers=2
    ).equals(one)


def test_a_hub_shared_by_an_operation_links_its_members_through_every_value() -> None:
    # 60 accounts share 30 hub values: ring neighbours are the same for every value,
    # so their contributions add up on the same pairs (as the full cliques would).
    rows = [(a, v, 1.0, 0, RING) for v in range(30) for a in range(60)]
    holders = pl.DataFrame(
        rows,
        schema={
            ACCOUNT_INDEX: pl.UInt32,
            VALUE_INDEX: pl.UInt32,
            STRENGTH: pl.Float64,
            KIND_CODE: pl.UInt8,
            HUB_ACTION: pl.String,
        },
        orient="row",
    )
    edges = run(holders, 60, ring_neighbours=5, ring_orders=2)
    assert edges["weight"].min() == pytest.approx(30.0)
    assert edges.height <= 60 * 10
