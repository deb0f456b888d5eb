"""Behaviour merge: flagged clusters that are one operator's pools become one cluster; two
operators on one prompt, unflagged clusters and the parts of a cut stay apart
(acctgraph.cluster.merge)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from behaviour_worlds import NIGHT_AND_DAY, OFFICE, operator_accounts, world
from hypothesis import given, settings
from hypothesis import strategies as st

from acctgraph.cluster.merge import MERGED_INTO, MergeParams, merge_by_behaviour
from acctgraph.cluster.split import SplitParams
from acctgraph.core.errors import ConfigError
from acctgraph.run.config import Config

SCRIPT = {"write a python function that": 0.5, "plan the tool calls to": 0.3}
PUBLIC = {"explain step by step": 0.6}


def _pools(seed=0, *, sizes=(40, 30, 20), templates=SCRIPT):
    """One operator's pools: each its own cards, one behaviour and one prompt mix."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, n in enumerate(sizes):
        rows += operator_accounts(
            rng, f"p{k}", n, hours=NIGHT_AND_DAY, exchanges=150, mix=(0.6, 0.3, 0.05, 0.05),
            shape="a8d4@gmail.com", teams=3,
        )  # fmt: skip
    ids, attributes, usage = world(rows, {f"p{k}": templates for k in range(len(sizes))})
    membership = [int(a[1]) + 10 for a in ids]  # pool k is cluster 10 + k
    return ids, attributes, usage, membership


def _merge(ids, attributes, usage, membership, *, flagged, splits=None, params=None):
    """Merge with the accounts of the ``flagged`` labels flagged."""
    members = pl.DataFrame(
        {"account_id": ids, "flagged": [label in set(flagged) for label in membership]}
    )
    return merge_by_behaviour(
        membership,
        pl.Series(ids),
        attributes,
        usage,
        members=members,
        params=params or MergeParams(),
        model=SplitParams(),
        splits=splits,
    )


def test_pools_of_one_operator_become_one_cluster_with_the_largest_pools_label():
    ids, attributes, usage, membership = _pools()
    out = _merge(ids, attributes, usage, membership, flagged=[10, 11, 12])
    assert out.membership == [10] * len(ids)
    table = out.table
    assert table["step"].to_list() == [1, 2]
    assert set(table["label"]) == {11, 12}
    assert set(table[MERGED_INTO]) == {10}  # the final cluster, also for the first step
    assert sorted(table["accounts"].to_list()) == [20, 30]
    assert (table["template_overlap"] >= 0.99).all()  # the same prompts in the same shares
    assert (table["shared_templates"] == 2).all()
    assert (table["divergence"] < MergeParams().max_divergence).all()
    assert set(table["first_account"]) == {"p1_000", "p2_000"}


def test_two_operators_on_one_public_prompt_stay_apart():
    """The same template at the same share, but night-and-day scripts against office users."""
    rng = np.random.default_rng(1)
    rows = operator_accounts(
        rng, "a", 40, hours=NIGHT_AND_DAY, exchanges=150, mix=(0.6, 0.3, 0.05, 0.05),
        shape="a8d4@gmail.com",
    ) + operator_accounts(
        rng, "b", 40, hours=OFFICE, exchanges=20, mix=(0.1, 0.1, 0.6, 0.2),
        shape="a.a@outlook.com",
    )  # fmt: skip
    ids, attributes, usage = world(rows, {"a": PUBLIC, "b": PUBLIC})
    membership = [1 if a[0] == "a" else 2 for a in ids]
    out = _merge(ids, attributes, usage, membership, flagged=[1, 2])
    assert out.membership == membership
    assert out.table.is_empty()


def test_one_behaviour_without_shared_prompts_is_not_enough():
    ids, attributes, usage, membership = _pools(sizes=(30, 30))
    other = attributes.with_columns(
        pl.when(pl.col("account_id").str.starts_with("p1"))
        .then(pl.concat_str(pl.lit("other "), pl.col("value").cast(pl.String)))
        .otherwise(pl.col("value").cast(pl.String))
        .cast(pl.Categorical)
        .alias("value")
    )
    out = _merge(ids, other, usage, membership, flagged=[10, 11])
    assert out.membership == membership


def test_clusters_that_were_not_flagged_never_merge():
    ids, attributes, usage, membership = _pools()
    out = _merge(ids, attributes, usage, membership, flagged=[10, 12])
    assert set(np.array(out.membership)[np.array(membership) == 11]) == {11}
    assert out.table["label"].to_list() == [12]
    alone = _merge(ids, attributes, usage, membership, flagged=[10])
    assert alone.membership == membership and alone.table.is_empty()


def test_parts_of_one_cut_cluster_are_never_merged_again():
    ids, attributes, usage, membership = _pools()
    splits = pl.DataFrame({"label": [10, 11], "split_from": [10, 10]})
    out = _merge(ids, attributes, usage, membership, flagged=[10, 11, 12], splits=splits)
    final = np.array(out.membership)
    assert set(final[np.array(membership) == 10]) != set(final[np.array(membership) == 11])
    assert out.table.height == 1  # pool 12 joins one of them


def test_the_switch_and_the_thresholds():
    ids, attributes, usage, membership = _pools()
    off = _merge(
        ids, attributes, usage, membership, flagged=[10, 11, 12], params=MergeParams(enabled=False)
    )
    assert off.membership == membership
    strict = _merge(
        ids,
        attributes,
        usage,
        membership,
        flagged=[10, 11, 12],
        params=MergeParams(max_divergence=1e-6),
    )
    assert strict.membership == membership


@pytest.mark.parametrize(
    "options",
    [{"min_template_overlap": 0}, {"min_template_overlap": 1.5}, {"max_divergence": 0}],
)
def test_bad_parameters_are_refused(options):
    with pytest.raises(ConfigError, match="merge"):
        MergeParams(**options)


def test_the_merge_section_round_trips_through_the_configuration():
    config = Config.from_dict({"merge": {"max_divergence": 2.5, "min_template_overlap": 0.2}})
    assert (config.merge.max_divergence, config.merge.min_template_overlap) == (2.5, 0.2)
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="merge"):
        Config.from_dict({"merge": {"nope": 1}})


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(2, 40), min_size=2, max_size=5),
    flagged=st.sets(st.integers(0, 4)),
    office=st.sets(st.integers(0, 4)),
)
def test_a_merge_only_joins_whole_flagged_clusters(seed, sizes, flagged, office):
    """Whatever the pools: every input cluster ends whole in one output cluster, unflagged
    clusters keep their accounts and label, each output label is an input label, the
    table has one step per label that disappeared and names where each part is now, and
    the result is deterministic."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, n in enumerate(sizes):
        behaviour = (
            {"hours": OFFICE, "exchanges": 20, "mix": (0.1, 0.1, 0.6, 0.2), "shape": "a.a@x.com"}
            if k in office
            else {
                "hours": NIGHT_AND_DAY,
                "exchanges": 150,
                "mix": (0.6, 0.3, 0.05, 0.05),
                "shape": "a8d4@gmail.com",
            }
        )
        rows += operator_accounts(rng, f"p{k}", n, teams=2, **behaviour)
    ids, attributes, usage = world(rows, {f"p{k}": SCRIPT for k in range(len(sizes))})
    membership = [int(a[1]) for a in ids]
    out = _merge(ids, attributes, usage, membership, flagged=flagged)
    before, after = np.array(membership), np.array(out.membership)
    for k in range(len(sizes)):
        assert len(set(after[before == k])) == 1
        if k not in flagged:
            assert set(after[before == k]) == {k} and set(before[after == k]) == {k}
    assert set(after) <= set(before)
    assert out.table.height == len(set(before)) - len(set(after))
    final = dict(zip(ids, out.membership, strict=True))
    for first, into in out.table.select("first_account", MERGED_INTO).iter_rows():
        assert final[first] == into  # each step names the cluster that holds its part now
    again = _merge(ids, attributes, usage, membership, flagged=flagged)
    assert again.membership == out.membership and again.table.equals(out.table)


@pytest.fixture(scope="module")
def pooled_world():
    """A random-tradecraft world whose operators buy cards in pools: the run with and without
    the merge, and the labels."""
    import acctgraph as ag

    accounts, exchanges, labels = ag.simulate_frames("random", seed=155)
    dataset = ag.dataset_from_frames(accounts, exchanges)
    merged = ag.run_pipeline(dataset)
    apart = ag.run_pipeline(dataset, config=Config.from_dict({"merge": {"enabled": False}}))
    return merged, apart, labels


def test_an_operators_pools_come_out_as_one_flagged_operation(pooled_world):
    """The merge joins only one operator's flagged pools: the flagged accounts are the same,
    B-cubed F1 rises, the parts of each merged cluster share an operator that holds at least a
    quarter of each, and its summary says why it was merged."""
    import acctgraph as ag

    merged, apart, labels = pooled_world
    assert merged.merges is not None and merged.merges.height >= 2
    flagged = [
        set(r.scored.members.filter(pl.col("flagged"))["account_id"]) for r in (merged, apart)
    ]
    assert flagged[0] == flagged[1]
    assert (
        ag.evaluate(merged.scored.members, labels).bcubed_f1
        > ag.evaluate(apart.scored.members, labels).bcubed_f1 + 0.05
    )
    parts = (
        merged.scored.members.select("account_id", "cluster_id")
        .join(
            apart.scored.members.select("account_id", pl.col("cluster_id").alias("part")),
            on="account_id",
        )
        .join(labels.select("account_id", "operator_id"), on="account_id")
        .filter(pl.col("cluster_id").is_in(merged.merges["cluster_id"].unique().implode()))
    )
    # Each part's main operators: those holding at least a quarter of it (a part may already
    # hold two twin operators whose pools share cards; the merge cannot part them).
    main = (
        parts.drop_nulls("operator_id")
        .group_by("cluster_id", "part", "operator_id")
        .len()
        .join(
            parts.group_by("cluster_id", "part").len().rename({"len": "size"}),
            on=["cluster_id", "part"],
        )
        .filter(pl.col("len") >= 0.25 * pl.col("size"))
    )
    assert main.select("cluster_id", "part").n_unique() == (
        merged.merges.height + merged.merges["cluster_id"].n_unique()
    )
    # Every merged cluster joins parts of one operator: some operator is main in all of them.
    for (cluster_id,), rows in main.group_by("cluster_id"):
        n_parts = rows["part"].n_unique()
        shared = rows.group_by("operator_id").len().filter(pl.col("len") == n_parts)
        assert shared.height >= 1, f"{cluster_id} joins parts of different operators"
    for cluster_id in merged.merges["cluster_id"].unique():
        summary = merged.scored.clusters.filter(pl.col("cluster_id") == cluster_id)["summary"][0]
        assert "merged by behaviour from" in summary and "flagged" in summary


def test_the_merge_steps_are_written_and_read_back(pooled_world, tmp_path):
    import json

    import acctgraph as ag

    merged, _, _ = pooled_world
    ag.write_outputs(merged, tmp_path)
    assert (tmp_path / "merges.csv").is_file()
    run = ag.load_run(tmp_path)
    assert run.merges is not None and run.merges.equals(merged.merges)
    detect = json.loads((tmp_path / "run.json").read_text())["detect"]
    assert detect["merged_by_behaviour"] == merged.merges.height


def test_the_report_shows_each_merge_step_with_attacker_text_escaped(pooled_world, tmp_path):
    """Each merged cluster's card has a table of its steps; the most shared prompt is the
    adversary's text and is escaped in HTML and Markdown."""
    import acctgraph as ag

    merged, _, _ = pooled_world
    ag.write_outputs(merged, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("<h3>Merged by behaviour</h3>") == merged.merges["cluster_id"].n_unique()
    hostile = "<script>alert(1)</script> | =cmd \u202eevil"
    merges = merged.merges.with_columns(pl.lit(hostile).alias("top_template"))
    merges.write_parquet(tmp_path / "merges.parquet")
    ag.write_report(ag.load_run(tmp_path))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "\u202e" not in html and "\u202e" not in markdown
    assert "<script>" not in markdown


def test_explain_names_the_merge_steps_of_the_accounts_cluster(pooled_world, tmp_path):
    import acctgraph as ag

    merged, _, _ = pooled_world
    ag.write_outputs(merged, tmp_path)
    run = ag.load_run(tmp_path)
    step = merged.merges.row(0, named=True)
    explanation = ag.explain_account(run, step["first_account"])
    steps = explanation.to_dict()["merges"]
    assert [s["step"] for s in steps] == sorted(
        merged.merges.filter(pl.col("cluster_id") == step["cluster_id"])["step"].to_list()
    )
    text = explanation.to_text()
    assert f"merged by behaviour from {len(steps) + 1} flagged clusters" in text
    assert f"first {step['first_account']}" in text
    alone = merged.scored.members.filter(pl.col("cluster_id").is_null())["account_id"][0]
    assert ag.explain_account(run, alone).merges is None
