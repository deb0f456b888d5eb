"""Behaviour cohorts: accounts tied only by behaviour form an operation; people who merely
use the same popular prompt do not (acctgraph.cluster.cohort)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from behaviour_worlds import activity_frame, hours_frame

from acctgraph.cluster.cohort import CohortParams, find_cohorts
from acctgraph.cluster.score import ScoreParams, behaviour
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import Usage

PUBLIC = "explain hidden reasoning process explicitly step"


def _world(
    *,
    n_operator: int = 40,
    n_light: int = 300,
    n_heavy: int = 15,
    seed: int = 0,
    prompt: str = PUBLIC,
    exits: str = "198.51",
    prefix: str = "op",
) -> tuple[list[str], pl.DataFrame, Usage]:
    """Accounts that share nothing but behaviour, among people who use the same prompt.

    Operator accounts (``op_*``): 20 exchanges, half of them the public prompt, at all
    hours, through a few exits of one network. Light users (``light_*``): 20
    exchanges, the public prompt once. Heavy users (``heavy_*``): the public prompt is
    half of their traffic too, but each sends by day in their own time zone from their
    own home range.
    """
    rng = np.random.default_rng(seed)
    ids: list[str] = []
    templates: list[tuple[str, str, int]] = []
    hours: list[tuple[str, int, int]] = []
    ips: list[tuple[str, str, int, str]] = []
    activity: list[tuple[str, int, int, int, int, int]] = []
    for i in range(n_operator):
        a = f"{prefix}_{i:03d}"
        ids.append(a)
        templates.append((a, prompt, 10))
        for h in rng.choice(24, 12, replace=False):
            hours.append((a, int(h), 2))
        for r in rng.choice(4, 2, replace=False):
            ips.append((a, f"{exits}.{r}.7", 10, f"{exits}.{r}.0/24"))
        activity.append((a, 20, 2, 2, 8, 8))
    for i in range(n_light):
        a = f"light_{i:03d}"
        ids.append(a)
        templates.append((a, PUBLIC, 1))
        start = int(rng.integers(24))
        for h in range(start, start + 10, 2):
            hours.append((a, h % 24, 4))
        ips.append((a, f"203.0.{i % 200}.9", 20, f"203.0.{i % 200}.0/24"))
        activity.append((a, 20, 1, 0, 1, 18))
    for i in range(n_heavy):
        a = f"heavy_{i:03d}"
        ids.append(a)
        templates.append((a, PUBLIC, 10))
        start = int(rng.integers(24))
        for h in range(start, start + 10, 2):
            hours.append((a, h % 24, 4))
        ips.append((a, f"192.0.{i}.9", 20, f"192.0.{i}.0/24"))
        activity.append((a, 20, 2, 2, 8, 8))
    account_table = pl.DataFrame({"account_id": ids})
    usage = Usage(
        accounts=account_table,
        emails=pl.DataFrame(),
        ip_usage=pl.DataFrame(
            ips,
            schema={
                "account_id": pl.String,
                "ip": pl.String,
                "n_events": pl.UInt32,
                "ip_range": pl.String,
            },
            orient="row",
        ),
        templates=pl.DataFrame(),
        co_activity=pl.DataFrame(),
        activity=activity_frame(activity),
        hours=hours_frame(hours)
        .group_by("account_id", "hour")
        .agg(pl.col("n_events").sum())
        .sort("account_id", "hour"),
        daily=pl.DataFrame(),
        warnings=WarningLog(),
    )
    template_table = pl.DataFrame(
        templates,
        schema={"account_id": pl.String, "value": pl.String, "n_events": pl.UInt32},
        orient="row",
    ).with_columns(pl.lit("prompt_template").alias("attribute_kind"))
    return ids, template_table, usage


def _run(ids, templates, usage, membership=None, edges=None, **params):
    membership = list(range(len(ids))) if membership is None else membership
    return find_cohorts(
        membership,
        pl.Series("account_id", ids),
        templates,
        usage,
        sample_size=256,
        params=CohortParams(**params),
        edges=edges,
    )


def _members(result, ids, label):
    return {a for a, m in zip(ids, result.membership, strict=True) if m == label}


def test_accounts_tied_only_by_behaviour_become_one_operation():
    ids, templates, usage = _world()
    result = _run(ids, templates, usage)
    assert result.table.height == 1
    row = result.table.row(0, named=True)
    members = _members(result, ids, row["_label"])
    operators = {a for a in ids if a.startswith("op_")}
    assert len(members & operators) >= 0.9 * len(operators)
    assert not any(a.startswith("light_") for a in members)
    assert sum(a.startswith("heavy_") for a in members) <= 2  # people by day, at home
    # the figures that make it suspicious
    assert row["signature"] == PUBLIC
    assert row["members_share"] == pytest.approx(0.5)
    assert row["other_share"] < 0.1 and row["contrast"] > 5
    assert row["other_holders"] >= 300
    assert row["hours_active"] >= 20
    assert row["joined_alone"] == row["accounts"]


def test_heavy_users_who_do_not_act_together_are_no_operation():
    ids, templates, usage = _world(n_operator=0)
    result = _run(ids, templates, usage)
    assert result.table.is_empty()
    assert result.membership == list(range(len(ids)))


def test_a_prompt_everyone_sends_heavily_is_no_contrast():
    ids, templates, usage = _world(n_light=0, n_heavy=60)
    assert _run(ids, templates, usage, min_contrast=1.0).table.height == 1
    assert _run(ids, templates, usage, min_contrast=2.0).table.is_empty()


def test_a_cluster_mostly_inside_an_operation_is_merged_and_others_stay():
    ids, templates, usage = _world()
    membership = list(range(len(ids)))
    # ten operator accounts already form a cluster (say they shared a card); two light users
    # form another one with one operator account
    for i in range(10):
        membership[i] = 0
    membership[10] = 1
    membership[ids.index("light_000")] = 1
    membership[ids.index("light_001")] = 1
    result = _run(ids, templates, usage, membership=membership)
    row = result.table.row(0, named=True)
    members = _members(result, ids, row["_label"])
    assert {f"op_{i:03d}" for i in range(10)} <= members
    assert row["merged_clusters"] == 1
    label_of = dict(zip(ids, result.membership, strict=True))
    assert label_of["light_000"] == label_of["light_001"] == label_of["op_010"] == 1


def test_same_input_same_operations():
    ids, templates, usage = _world(seed=3)
    first = _run(ids, templates, usage)
    again = _run(ids, templates.sample(fraction=1.0, shuffle=True, seed=1), usage)
    assert first.membership == again.membership
    assert first.table.equals(again.table)


def test_disabled_stage_changes_nothing():
    ids, templates, usage = _world()
    result = _run(ids, templates, usage, enabled=False)
    assert result.membership == list(range(len(ids)))
    assert result.table.is_empty()


@pytest.mark.parametrize(
    "bad",
    [
        {"min_exchanges": 0},
        {"min_holders": 1},
        {"min_dominant_share": 0.0},
        {"min_similarity": 1.5},
        {"weights": {"hours": 1.0}},
        {"weights": {"hours": 0.5, "ip": 1.0, "capability": -0.5}},
        {"weights": {"hours": 0.5, "ip": 0.5, "capability": 0.5}},
        {"neighbours": 0},
        {"min_size": 1},
        {"min_contrast": 0.5},
        {"hour_bin": 5},
        {"min_member_similarity": -0.1},
        {"min_member_similarity": 1.5},
        {"split_lift": 0.5},
        {"split_values": 1},
        {"split_overlap": 0.0},
        {"split_overlap": 1.5},
    ],
)
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ConfigError, match="cohort"):
        CohortParams(**bad)


def test_behaviour_signal_follows_the_contrast():
    table = pl.DataFrame({"_label": [1, 2, 3], "contrast": [1.0, 3.0, 50.0]})
    got = behaviour(table, params=ScoreParams(behaviour_full_contrast=5.0))
    assert got["behaviour"].to_list() == [0.0, 0.5, 1.0]


def test_the_batch_size_does_not_change_the_result():
    ids, templates, usage = _world(seed=5)
    whole = _run(ids, templates, usage)
    in_rows = _run(ids, templates, usage, batch_cells=50)  # a few rows at a time
    assert whole.membership == in_rows.membership
    assert whole.table.equals(in_rows.table)


def test_a_cluster_chaining_two_operations_is_split_between_them():
    ids_a, templates_a, usage_a = _world(seed=1)
    ids_b, templates_b, usage_b = _world(
        seed=2,
        n_light=0,
        n_heavy=0,
        prompt="act senior rust developer implement",
        exits="100.64",
        prefix="ob",
    )
    ids = ids_a + ids_b + ["quiet"]
    templates = pl.concat([templates_a, templates_b])
    usage = usage_a
    for name in ("ip_usage", "activity", "hours"):
        setattr(usage, name, pl.concat([getattr(usage_a, name), getattr(usage_b, name)]))
    # one detected cluster holds both operators and an account with no prompts, which is
    # linked to two of operator B's accounts only
    position = {a: i for i, a in enumerate(ids)}
    membership = list(range(len(ids)))
    chained = [a for a in ids if a.startswith(("op_", "ob_"))] + ["quiet"]
    for a in chained:
        membership[position[a]] = 0
    quiet = position["quiet"]
    edges = pl.DataFrame(
        {
            "source": [quiet, quiet],
            "target": [position["ob_000"], position["ob_001"]],
            "weight": [1.0, 1.0],
        },
        schema={"source": pl.UInt32, "target": pl.UInt32, "weight": pl.Float64},
    )
    # the quiet account shares no prompt: no behaviour check, so that only the split acts
    result = _run(
        ids, templates, usage, membership=membership, edges=edges, min_member_similarity=0.0
    )
    assert result.table.height == 2
    label = dict(zip(ids, result.membership, strict=True))
    a_labels = {label[a] for a in ids if a.startswith("op_")}
    b_labels = {label[a] for a in ids if a.startswith("ob_")}
    assert len(a_labels) == 1 and len(b_labels) == 1 and a_labels != b_labels
    assert label["quiet"] in b_labels  # follows its links
    assert result.table["split_from"].to_list() == [1, 1]
    # without the split, the cluster stays whole
    whole = _run(ids, templates, usage, membership=membership, edges=edges, split_chains=False)
    assert {whole.membership[position[a]] for a in chained} == {0}


def test_people_a_merged_cluster_carried_in_stay_out_unless_tied_to_the_operation():
    ids, templates, usage = _world()
    membership = list(range(len(ids)))
    # Leiden put 30 operator accounts with six light users of the prompt (a shared exit);
    # light_005 also shares a card with op_000; light_003 and light_004 share their
    # office's domain, with each other only
    crowd = [f"op_{i:03d}" for i in range(30)] + [f"light_{i:03d}" for i in range(6)]
    for a in crowd:
        membership[ids.index(a)] = 0
    card = pl.DataFrame(
        {
            "account_id": ["op_000", "light_005", "light_003", "light_004"],
            "value": ["card-1", "card-1", "office.example", "office.example"],
            "n_events": [1, 1, 1, 1],
            "attribute_kind": ["payment", "payment", "email_domain", "email_domain"],
        },
        schema=templates.schema,
    )
    attributes = pl.concat([templates, card])

    def run(similarity: float):
        return find_cohorts(
            membership,
            pl.Series("account_id", ids),
            attributes,
            usage,
            sample_size=256,
            params=CohortParams(min_member_similarity=similarity),
            soft_kinds={"prompt_template", "ip", "ip_range", "co_activity"},
        )

    # a light user here resembles the operation by hours and capability mix (0.35)
    result = run(0.5)
    row = result.table.row(0, named=True)
    members = _members(result, ids, row["_label"])
    assert {a for a in ids if a.startswith("op_")} <= members
    assert "light_005" in members  # the card keeps it
    label_of = dict(zip(ids, result.membership, strict=True))
    assert {label_of[f"light_{i:03d}"] for i in range(5)} == {0}  # left where they were
    # without the check the whole cluster joins
    everyone = run(0.0)
    assert set(crowd) <= _members(everyone, ids, everyone.table.row(0, named=True)["_label"])


def _with_own_prompts(templates, ids, prompts_of):
    """Add, for each operator account, its own prompts (4 exchanges each)."""
    rows = [
        (a, prompt, 4, "prompt_template")
        for a in ids
        if a.startswith("op_")
        for prompt in prompts_of(int(a[3:]))
    ]
    extra = pl.DataFrame(rows, schema=templates.schema, orient="row")
    return pl.concat([templates, extra])


def test_twins_that_share_a_public_prompt_are_told_apart_by_their_own_prompts():
    # 60 operator accounts favour the same public prompt through the same exits; the first
    # 30 also send prompt "alpha", the others "beta": two operators, not one
    ids, templates, usage = _world(n_operator=60, seed=3)
    alpha, beta = "write parser tokens alpha", "solve puzzle grid beta"
    templates = _with_own_prompts(templates, ids, lambda i: [alpha] if i < 30 else [beta])
    result = _run(ids, templates, usage)
    labels = {m for a, m in zip(ids, result.membership, strict=True) if a.startswith("op_")}
    assert len(labels) == 2
    for label in labels:
        members = _members(result, ids, label)
        first = {a for a in members if int(a[3:]) < 30}
        assert first in (set(), members)  # each operation holds one operator only
        assert len(members) == 30
    table = result.table.sort("own_prompt")
    assert table["twins"].to_list() == [1, 1]
    assert table["own_prompt"].to_list() == sorted([alpha, beta])
    assert table["signature"].unique().to_list() == [PUBLIC]
    # without the cut, one operation
    joined = _run(ids, templates, usage, split_twins=False)
    assert joined.table.height == 1 and joined.table["twins"].to_list() == [0]
    assert joined.table["own_prompt"].to_list() == [None]


def test_one_operator_sending_several_prompts_at_random_is_not_cut():
    ids, templates, usage = _world(n_operator=60, seed=4)
    rng = np.random.default_rng(9)
    own = ["write parser tokens alpha", "solve puzzle grid beta", "plan agent steps gamma"]
    chosen = {i: [p for p in own if rng.random() < 0.5] for i in range(60)}
    templates = _with_own_prompts(templates, ids, lambda i: chosen[i])
    result = _run(ids, templates, usage)
    assert result.table.height == 1
    assert result.table["twins"].to_list() == [0]
    assert len(_members(result, ids, result.table["_label"][0])) == 60


def test_prompts_common_outside_the_operation_do_not_cut_it():
    # the light users send "alpha" and "beta" as often as the operator's accounts do
    ids, templates, usage = _world(n_operator=60, seed=3)
    alpha, beta = "write parser tokens alpha", "solve puzzle grid beta"
    templates = _with_own_prompts(templates, ids, lambda i: [alpha] if i < 30 else [beta])
    light = [a for a in ids if a.startswith("light_")]
    common = pl.DataFrame(
        [(a, alpha if k % 2 else beta, 1, "prompt_template") for k, a in enumerate(light)],
        schema=templates.schema,
        orient="row",
    )
    result = _run(ids, pl.concat([templates, common]), usage)
    assert result.table.height == 1 and result.table["twins"].to_list() == [0]
