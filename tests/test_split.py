"""Behaviour split: a cluster holding two operators' behaviour is cut along it; one
operator's teams stay together (acctgraph.cluster.split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from behaviour_worlds import NIGHT_AND_DAY, OFFICE
from behaviour_worlds import operator_accounts as _operator
from behaviour_worlds import world as _usage
from hypothesis import given, settings
from hypothesis import strategies as st

from acctgraph.cluster.split import SplitParams, split_by_behaviour
from acctgraph.core.errors import ConfigError
from acctgraph.run.config import Config


def _two_operators(seed=0, *, teams=4):
    rng = np.random.default_rng(seed)
    a = _operator(
        rng, "a", 60, hours=NIGHT_AND_DAY, exchanges=200, mix=(0.6, 0.2, 0.1, 0.1),
        shape="a8d4@gmail.com", teams=teams,
    )  # fmt: skip
    b = _operator(
        rng, "b", 40, hours=OFFICE, exchanges=15, mix=(0.1, 0.1, 0.6, 0.2),
        shape="a.a@outlook.com",
    )  # fmt: skip
    return _usage(a + b)


def _parts(ids, membership):
    by_label: dict[int, set[str]] = {}
    for a, label in zip(ids, membership, strict=True):
        by_label.setdefault(label, set()).add(a[0])
    return sorted(sorted(v) for v in by_label.values())


def test_two_operators_in_one_cluster_are_cut_apart_along_their_behaviour():
    ids, attributes, usage = _two_operators()
    out = split_by_behaviour(
        [7] * len(ids), pl.Series(ids), attributes, usage, params=SplitParams()
    )
    labels = np.array(out.membership)
    assert set(labels[:60]) == {7}  # the larger part keeps the label
    assert len(set(labels[60:])) == 1 and labels[60] == 8  # a new label above every other
    assert out.table.height == 2
    assert sorted(out.table["accounts"].to_list()) == [40, 60]
    assert set(out.table["split_from"]) == {7}
    assert (out.table["divergence"] >= SplitParams().min_divergence).all()


def test_teams_of_one_operator_that_share_no_card_stay_one_cluster():
    rng = np.random.default_rng(3)
    rows = []
    for t in range(3):  # three teams, each with its own cards, one behaviour
        rows += _operator(
            rng, f"t{t}", 30, hours=NIGHT_AND_DAY, exchanges=120, mix=(0.6, 0.2, 0.1, 0.1),
            shape="a8d4@gmail.com", teams=3,
        )  # fmt: skip
    ids, attributes, usage = _usage(rows)
    out = split_by_behaviour(
        [0] * len(ids), pl.Series(ids), attributes, usage, params=SplitParams()
    )
    assert out.membership == [0] * len(ids)
    assert out.table.is_empty()


def test_a_team_sharing_a_card_moves_as_one():
    """A card shared across the behaviours keeps its holders together, whatever they do."""
    ids, attributes, usage = _two_operators()
    shared = pl.DataFrame(
        {
            "account_id": ["a_000", "b_000"],
            "attribute_kind": ["payment"] * 2,
            "value": ["c"] * 2,
            "n_events": pl.Series([1, 1], dtype=pl.UInt32),
        }
    ).with_columns(pl.col("attribute_kind", "value").cast(pl.Categorical))
    out = split_by_behaviour(
        [0] * len(ids), pl.Series(ids), pl.concat([attributes, shared]), usage, params=SplitParams()
    )
    label = dict(zip(ids, out.membership, strict=True))
    assert label["a_000"] == label["b_000"]
    assert len(set(out.membership)) == 2


def test_small_clusters_and_the_switch_leave_membership_alone():
    ids, attributes, usage = _two_operators()
    membership = [0] * len(ids)
    off = split_by_behaviour(
        membership, pl.Series(ids), attributes, usage, params=SplitParams(enabled=False)
    )
    assert off.membership == membership
    big = split_by_behaviour(
        membership, pl.Series(ids), attributes, usage, params=SplitParams(min_cluster=101)
    )
    assert big.membership == membership


def test_the_split_is_deterministic_and_ignores_other_clusters():
    ids, attributes, usage = _two_operators(seed=5)
    membership = [0] * len(ids)
    membership[-1] = 99  # an account alone elsewhere
    first = split_by_behaviour(membership, pl.Series(ids), attributes, usage, params=SplitParams())
    again = split_by_behaviour(membership, pl.Series(ids), attributes, usage, params=SplitParams())
    assert first.membership == again.membership
    assert first.table.equals(again.table)
    assert first.membership[-1] == 99
    assert _parts(ids[:-1], first.membership[:-1]) == [["a"], ["b"]]


@pytest.mark.parametrize(
    "options",
    [{"min_cluster": 1}, {"min_divergence": 0}, {"hour_bin": 5}, {"count_cap": 0}],
)
def test_bad_parameters_are_refused(options):
    with pytest.raises(ConfigError, match="split"):
        SplitParams(**options)


def test_the_split_section_round_trips_through_the_configuration():
    config = Config.from_dict({"split": {"min_divergence": 6.5, "identity_kinds": ["payment"]}})
    assert config.split.min_divergence == 6.5
    assert config.split.identity_kinds == ("payment",)
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="split"):
        Config.from_dict({"split": {"nope": 1}})


@pytest.fixture(scope="module")
def sample_result():
    import acctgraph as ag

    root = Path(__file__).resolve().parents[1]
    return ag.run_pipeline(ag.load_dataset(root / "data" / "sample"))


def test_parts_of_a_cut_cluster_share_no_identity_and_name_each_other(sample_result):
    """On the bundled sample: each part's summary names the clusters it was cut from, and no
    card, device or address is held on both sides of a cut."""
    splits = sample_result.splits
    assert splits is not None and splits.height >= 2
    members = sample_result.scored.members
    clusters = sample_result.scored.clusters
    for _, group in splits.group_by("split_from"):
        ids = sorted(group["cluster_id"].to_list())
        assert len(ids) == group["parts"][0] >= 2
        for cid in ids:
            summary = clusters.filter(pl.col("cluster_id") == cid)["summary"][0]
            others = ", ".join(str(c) for c in ids if c != cid)
            assert (
                f"cut by behaviour from cluster{'s' if len(ids) > 2 else ''} {others}:" in summary
            )
        held = (
            sample_result.attributes_by_id()
            .filter(
                pl.col("attribute_kind").cast(pl.String).is_in(list(SplitParams().identity_kinds))
            )
            .join(members.select("account_id", "cluster_id"), on="account_id")
            .filter(pl.col("cluster_id").is_in(ids))
            .group_by("attribute_kind", "value")
            .agg(pl.col("cluster_id").n_unique().alias("parts"))
        )
        assert (held["parts"] == 1).all()
        sizes = dict(
            members.filter(pl.col("cluster_id").is_in(ids)).group_by("cluster_id").len().iter_rows()
        )
        for cid, accounts in group.select("cluster_id", "accounts").iter_rows():
            assert 0 < sizes[cid] <= accounts  # thin members may be detached after the cut


def test_two_operators_without_any_shared_identity_are_cut_only_when_far_apart():
    ids, attributes, usage = _two_operators(teams=0)  # no card, device or address shared
    params = SplitParams()
    out = split_by_behaviour([0] * len(ids), pl.Series(ids), attributes, usage, params=params)
    assert _parts(ids, out.membership) == [["a"], ["b"]]
    assert (out.table["divergence"] >= params.rest_divergence).all()
    off = SplitParams(rest_divergence=0)
    kept = split_by_behaviour([0] * len(ids), pl.Series(ids), attributes, usage, params=off)
    assert kept.membership == [0] * len(ids)


def test_one_operator_without_shared_identity_is_not_cut():
    rng = np.random.default_rng(8)
    rows = _operator(
        rng, "s", 90, hours=NIGHT_AND_DAY, exchanges=60, mix=(0.5, 0.3, 0.1, 0.1),
        shape="a8d4@gmail.com",
    )  # fmt: skip
    ids, attributes, usage = _usage(rows)
    out = split_by_behaviour(
        [3] * len(ids), pl.Series(ids), attributes, usage, params=SplitParams()
    )
    assert out.membership == [3] * len(ids)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_cards=st.integers(1, 12),
    office_share=st.floats(0.0, 1.0),
)
def test_cuts_never_part_accounts_that_share_identity(seed, n_cards, office_share):
    """Whatever the behaviour mix and however cards are shared, accounts holding one card
    end in one part, every part has ``min_part`` accounts, and small clusters are untouched."""
    rng = np.random.default_rng(seed)
    n_office = int(round(60 * office_share))
    rows = _operator(
        rng, "a", 60 - n_office, hours=NIGHT_AND_DAY, exchanges=150, mix=(0.6, 0.2, 0.1, 0.1),
        shape="a8d4@gmail.com",
    ) + _operator(
        rng, "b", n_office, hours=OFFICE, exchanges=12, mix=(0.1, 0.1, 0.6, 0.2),
        shape="a.a@outlook.com",
    )  # fmt: skip
    rows += _operator(rng, "s", 8, hours=OFFICE, exchanges=5, mix=(0.2, 0.2, 0.2, 0.4), shape="a@x")
    cards = rng.integers(0, n_cards, size=len(rows))
    rows = [
        (*r[:5], f"card{c}" if rng.random() < 0.5 else None)
        for r, c in zip(rows, cards, strict=True)
    ]
    ids, attributes, usage = _usage(rows)
    membership = [0] * 60 + [1] * 8
    params = SplitParams()
    out = split_by_behaviour(membership, pl.Series(ids), attributes, usage, params=params)
    label = dict(zip(ids, out.membership, strict=True))
    assert out.membership[60:] == [1] * 8
    for _, holders in attributes.group_by("value"):  # within the examined cluster
        inside = [a for a in holders["account_id"] if a[0] != "s"]
        assert len({label[a] for a in inside}) <= 1
    sizes = np.unique(out.membership[:60], return_counts=True)[1]
    assert len(sizes) == 1 or (sizes >= params.min_part).all()
    assert (
        out.membership
        == split_by_behaviour(
            membership, pl.Series(ids), attributes, usage, params=params
        ).membership
    )
