"""Tests of acctgraph.evaluation.baseline: known answers, invariants, determinism."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.evaluation.baseline import connected_components_baseline

ACCOUNT_COLUMNS = {
    S.ACCOUNT_ID: pl.String,
    S.PAYMENT_FINGERPRINT: pl.String,
    S.DEVICE_ID: pl.String,
    S.SIGNUP_IP: pl.String,
}
EXCHANGE_COLUMNS = {S.ACCOUNT_ID: pl.String, S.IP: pl.String}


def accounts_frame(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ACCOUNT_COLUMNS, orient="row")


def exchanges_frame(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EXCHANGE_COLUMNS, orient="row")


def clusters_of(members: pl.DataFrame) -> dict[str, int | None]:
    """Account → component number (0 = the largest; op-000001 in the table)."""
    return {
        account: None if cluster is None else S.operation_number(cluster) - 1
        for account, cluster in zip(members[S.ACCOUNT_ID], members[S.CLUSTER_ID], strict=True)
    }


def test_chain_through_card_and_ip_is_one_component() -> None:
    # a-b share card1; b's signup IP is the IP c sent an exchange from; d is alone
    accounts = accounts_frame(
        [
            ("a", "card1", None, None),
            ("b", "card1", None, "10.0.0.1"),
            ("c", None, None, None),
            ("d", "card2", "dev9", "10.0.0.2"),
        ]
    )
    exchanges = exchanges_frame([("c", "10.0.0.1"), ("c", "10.0.0.1"), ("d", "10.0.0.3")])
    members = connected_components_baseline(accounts, exchanges)
    assert members.schema == pl.Schema(S.MEMBERS_SCHEMA)
    assert clusters_of(members) == {"a": 0, "b": 0, "c": 0, "d": None}
    assert members[S.FLAGGED].to_list() == [True, True, True, False]
    assert members[S.CLUSTER_SCORE].to_list() == [1.0, 1.0, 1.0, 0.0]


def test_null_and_blank_values_do_not_link() -> None:
    accounts = accounts_frame(
        [
            ("a", None, "", "  "),
            ("b", None, "", "  "),
            ("c", "", None, None),
        ]
    )
    exchanges = exchanges_frame([("a", None), ("b", None), ("a", ""), ("b", "")])
    members = connected_components_baseline(accounts, exchanges)
    assert clusters_of(members) == {"a": None, "b": None, "c": None}
    assert not members[S.FLAGGED].any()


def test_exchange_ips_link_accounts() -> None:
    accounts = accounts_frame([("a", None, None, None), ("b", None, None, None)])
    exchanges = exchanges_frame([("a", "192.0.2.7"), ("b", "192.0.2.7"), ("e", "192.0.2.8")])
    members = connected_components_baseline(accounts, exchanges.lazy())
    assert clusters_of(members) == {"a": 0, "b": 0, "e": None}


def test_device_links_and_kinds_are_separate_namespaces() -> None:
    # a and b share a device; c's card has the same text as that device id: no link
    accounts = accounts_frame(
        [("a", None, "x", None), ("b", None, "x", None), ("c", "x", None, None)]
    )
    members = connected_components_baseline(accounts, exchanges_frame([]))
    assert clusters_of(members) == {"a": 0, "b": 0, "c": None}


def test_kinds_restrict_the_links() -> None:
    accounts = accounts_frame(
        [("a", "card", None, "10.0.0.1"), ("b", None, None, "10.0.0.1"), ("c", "card", None, None)]
    )
    exchanges = exchanges_frame([("d", "10.0.0.1")])
    everything = connected_components_baseline(accounts, exchanges)
    assert set(clusters_of(everything).values()) == {0}
    cards_only = connected_components_baseline(accounts, exchanges, kinds=(S.PAYMENT_FINGERPRINT,))
    assert clusters_of(cards_only) == {"a": 0, "b": None, "c": 0, "d": None}
    ips_only = connected_components_baseline(accounts, exchanges, kinds=(S.IP,))
    assert clusters_of(ips_only) == {"a": 0, "b": 0, "c": None, "d": 0}
    with pytest.raises(ConfigError, match="unknown baseline kinds"):
        connected_components_baseline(accounts, exchanges, kinds=("email",))


def test_cluster_ids_by_size_then_smallest_account() -> None:
    accounts = accounts_frame(
        [
            ("z1", "k1", None, None),
            ("z2", "k1", None, None),  # size 2, smallest z1
            ("m1", "k2", None, None),
            ("m2", "k2", None, None),
            ("m3", "k2", None, None),  # size 3
            ("b1", "k3", None, None),
            ("b2", "k3", None, None),  # size 2, smallest b1
            ("a0", None, None, None),
        ]
    )
    members = connected_components_baseline(accounts, exchanges_frame([]))
    assert clusters_of(members) == {
        "a0": None,
        "b1": 1,
        "b2": 1,
        "m1": 0,
        "m2": 0,
        "m3": 0,
        "z1": 2,
        "z2": 2,
    }
    assert members[S.ACCOUNT_ID].is_sorted()


def test_every_account_once() -> None:
    # duplicated account rows, an exchange-only account, a null account id
    accounts = accounts_frame(
        [
            ("a", "k", None, None),
            ("a", None, "dev", None),
            ("b", None, "dev", None),
            (None, "k", None, None),
        ]
    )
    exchanges = exchanges_frame([("x", None), ("x", "1.2.3.4"), (None, "1.2.3.4")])
    members = connected_components_baseline(accounts, exchanges)
    assert members[S.ACCOUNT_ID].to_list() == ["a", "b", "x"]
    assert clusters_of(members) == {"a": 0, "b": 0, "x": None}


def test_missing_optional_columns() -> None:
    accounts = pl.DataFrame({S.ACCOUNT_ID: ["a", "b"], S.DEVICE_ID: ["d", "d"]})
    exchanges = pl.DataFrame({S.ACCOUNT_ID: ["c"]})
    members = connected_components_baseline(accounts, exchanges)
    assert clusters_of(members) == {"a": 0, "b": 0, "c": None}


def test_empty_inputs() -> None:
    members = connected_components_baseline(accounts_frame([]), exchanges_frame([]).lazy())
    assert members.height == 0
    assert members.schema == pl.Schema(S.MEMBERS_SCHEMA)


# --- invariants on random worlds -------------------------------------------------

VALUES = st.one_of(st.none(), st.sampled_from(["", "v1", "v2", "v3", "v4", "v5"]))


@st.composite
def worlds(draw):
    ids = [f"acct{i:02d}" for i in range(draw(st.integers(0, 25)))]
    accounts = accounts_frame([(a, draw(VALUES), draw(VALUES), draw(VALUES)) for a in ids])
    exchange_ids = st.sampled_from(ids + ["only1", "only2"])
    exchanges = exchanges_frame(draw(st.lists(st.tuples(exchange_ids, VALUES), max_size=30)))
    return accounts, exchanges


def reference_components(accounts: pl.DataFrame, exchanges: pl.DataFrame) -> list[set[str]]:
    """Union-find over (kind, value) written out plainly."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    holders: dict[tuple[str, str], str] = {}

    def link(account: str, kind: str, value: str | None) -> None:
        find(account)
        if value is None or not value.strip():
            return
        key = (kind, value.strip())
        if key in holders:
            parent[find(account)] = find(holders[key])
        else:
            holders[key] = account

    for account, card, device, ip in accounts.iter_rows():
        link(account, "card", card)
        link(account, "device", device)
        link(account, "ip", ip)
    for account, ip in exchanges.iter_rows():
        link(account, "ip", ip)
    groups: dict[str, set[str]] = {}
    for account in parent:
        groups.setdefault(find(account), set()).add(account)
    return sorted(groups.values(), key=lambda g: (-len(g), min(g)))


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_matches_reference_union_find(world) -> None:
    accounts, exchanges = world
    members = connected_components_baseline(accounts, exchanges)
    expected = reference_components(accounts, exchanges)
    assert members[S.ACCOUNT_ID].to_list() == sorted(set().union(*expected))
    assert members[S.ACCOUNT_ID].is_unique().all()
    found = clusters_of(members)
    for cluster_id, group in enumerate(g for g in expected if len(g) >= 2):
        assert {found[a] for a in group} == {cluster_id}
    for group in expected:
        if len(group) == 1:
            assert found[next(iter(group))] is None
    assert (members[S.FLAGGED] == members[S.CLUSTER_ID].is_not_null()).all()


@settings(max_examples=60, deadline=None)
@given(worlds(), st.integers(0, 2**16))
def test_shuffled_input_gives_identical_output(world, seed) -> None:
    accounts, exchanges = world
    first = connected_components_baseline(accounts, exchanges)
    second = connected_components_baseline(
        accounts.sample(fraction=1.0, shuffle=True, seed=seed),
        exchanges.sample(fraction=1.0, shuffle=True, seed=seed + 1).lazy(),
    )
    assert_frame_equal(first, second)
