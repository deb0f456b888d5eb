"""Attachment of unlinked accounts to clusters by broad behavioural overlap (acctgraph.cluster.attach)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from acctgraph.cluster.attach import SHARED_VALUES, SIMILARITY, AttachParams, attach_unlinked
from acctgraph.core.errors import ConfigError
from acctgraph.graph.build import ACCOUNT_INDEX, HUB_ACTION, STRENGTH, VALUE_INDEX
from acctgraph.run.config import Config

KIND = "prompt_template"
PARAMS = AttachParams(min_cluster_size=10, min_values=20, min_shared=10, min_similarity=0.25)


def _world(seed: int = 0):
    """40 operator accounts (cluster 0) drawing 30 of 60 template values each; account 40 does
    the same but is unlinked; 41 holds 25 values of its own plus 2 of the operator's; 42 holds
    one operator value only; 43-52 another cluster with its own values; 53 unlinked like 40 but
    already in cluster 1 (it must not move)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int]] = []
    for account in list(range(41)) + [53]:
        rows += [(account, int(v)) for v in rng.choice(60, 30, replace=False)]
    rows += [(41, v) for v in range(100, 125)] + [(41, 0), (41, 1)]
    rows += [(42, 0)]
    for account in range(43, 53):
        rows += [(account, int(v)) for v in rng.choice(np.arange(200, 240), 25, replace=False)]
    rows += [(account, 100 + (account % 25)) for account in range(43, 53)]  # 41's values are shared
    incidence = pl.DataFrame(
        {ACCOUNT_INDEX: [a for a, _ in rows], VALUE_INDEX: [v for _, v in rows]}
    )
    incidence = incidence.with_columns(pl.lit(1.0 / np.sqrt(30)).alias(STRENGTH)).sort(
        VALUE_INDEX, ACCOUNT_INDEX
    )
    values = pl.DataFrame(
        {
            VALUE_INDEX: range(240),
            "attribute_kind": [KIND] * 240,
            HUB_ACTION: pl.Series([None] * 240, dtype=pl.String),
        }
    )
    membership = [0] * 40 + [2, 3, 4] + [1] * 10 + [1]
    return membership, incidence, values


def test_broad_overlap_attaches_and_nothing_else_moves() -> None:
    membership, incidence, values = _world()
    new, attached = attach_unlinked(
        membership, incidence, values, n_accounts=54, kinds=[KIND], params=PARAMS
    )
    assert attached[ACCOUNT_INDEX].to_list() == [40]
    assert new[40] == 0
    changed = [i for i, (a, b) in enumerate(zip(membership, new)) if a != b]
    assert changed == [40]  # 41 (two shared values), 42 (one) and 53 (already clustered) stay
    row = attached.row(0, named=True)
    assert row[SHARED_VALUES] >= 10 and row[SIMILARITY] >= 0.25


def test_disabled_or_no_kinds_changes_nothing() -> None:
    membership, incidence, values = _world()
    for params, kinds in ((AttachParams(enabled=False), [KIND]), (PARAMS, [])):
        new, attached = attach_unlinked(
            membership, incidence, values, n_accounts=54, kinds=kinds, params=params
        )
        assert new == membership and attached.height == 0


def test_other_kinds_and_dropped_values_are_not_compared() -> None:
    membership, incidence, values = _world()
    new, attached = attach_unlinked(
        membership, incidence, values, n_accounts=54, kinds=["co_activity"], params=PARAMS
    )
    assert new == membership and attached.height == 0
    dropped = values.with_columns(pl.lit("dropped").alias(HUB_ACTION))
    new, attached = attach_unlinked(
        membership, incidence, dropped, n_accounts=54, kinds=[KIND], params=PARAMS
    )
    assert new == membership and attached.height == 0


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_result_does_not_depend_on_batch_size(batch: int) -> None:
    membership, incidence, values = _world(seed=5)
    reference = attach_unlinked(
        membership, incidence, values, n_accounts=54, kinds=[KIND], params=PARAMS
    )
    other = attach_unlinked(
        membership,
        incidence,
        values,
        n_accounts=54,
        kinds=[KIND],
        params=AttachParams(**{**PARAMS.__dict__, "batch": batch}),
    )
    assert other[0] == reference[0]
    assert other[1].equals(reference[1])


def test_thresholds_gate_attachment() -> None:
    membership, incidence, values = _world()
    strict = AttachParams(
        **{**PARAMS.__dict__, "min_shared": 31}
    )  # more than account 40 holds (30)
    assert (
        attach_unlinked(membership, incidence, values, n_accounts=54, kinds=[KIND], params=strict)[
            1
        ].height
        == 0
    )
    strict = AttachParams(**{**PARAMS.__dict__, "min_similarity": 0.99})
    assert (
        attach_unlinked(membership, incidence, values, n_accounts=54, kinds=[KIND], params=strict)[
            1
        ].height
        == 0
    )
    # No value is held by all 40 members (each holds 30 of 60): the profile is empty.
    for holders, expected in ((2, 1), (40, 0)):
        params = AttachParams(
            **{**PARAMS.__dict__, "profile_min_members": holders, "min_cluster_size": 40}
        )
        attached = attach_unlinked(
            membership, incidence, values, n_accounts=54, kinds=[KIND], params=params
        )[1]
        assert attached.height == expected, holders
    small = AttachParams(**{**PARAMS.__dict__, "min_cluster_size": 41})  # no cluster has a profile
    assert (
        attach_unlinked(membership, incidence, values, n_accounts=54, kinds=[KIND], params=small)[
            1
        ].height
        == 0
    )


def test_config_section_round_trips_and_validates() -> None:
    config = Config.from_dict({"attach": {"min_similarity": 0.4, "enabled": False}})
    assert config.attach.min_similarity == 0.4 and not config.attach.enabled
    assert Config.from_dict(config.to_dict()) == config
    assert Config().behaviour_kinds == ["prompt_template"]
    for bad in (
        {"min_similarity": 0.0},
        {"min_cluster_size": 1},
        {"profile_share": 2.0},
        {"batch": 0},
        {"profile_min_members": 0},
        {"profile_min_members": 11},  # above min_cluster_size (10): small clusters get no profile
    ):
        with pytest.raises(ConfigError):
            Config.from_dict({"attach": bad})


# --- end to end ------------------------------------------------------------------------------

LOOSE = {
    "attach": {
        "min_cluster_size": 3,
        "min_values": 3,
        "min_shared": 2,
        "min_similarity": 0.1,
        "relative_similarity": 0.5,
    }
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    from acctgraph.load import dataset_from_frames
    from acctgraph.run.pipeline import run_pipeline
    from acctgraph.run.write import write_outputs
    from acctgraph.simulate import simulate_frames

    accounts, exchanges, _ = simulate_frames("tiny", seed=5)
    dataset = dataset_from_frames(accounts, exchanges)
    plain = run_pipeline(dataset, config=Config.from_dict({"attach": {"enabled": False}}))
    loose = run_pipeline(dataset, config=Config.from_dict(LOOSE))
    out = tmp_path_factory.mktemp("attach_run")
    write_outputs(loose, out)
    return plain, loose, out


def test_attachments_only_add_unlinked_accounts_to_clusters(runs) -> None:
    plain, loose, _ = runs
    attached = loose.attached
    assert attached is not None and attached.height > 0, "the loose settings should attach someone"
    before = plain.scored.members.select("account_id", pl.col("cluster_id").alias("before"))
    after = loose.scored.members.join(before, on="account_id")
    moved = after.filter(pl.col("cluster_id").is_null() != pl.col("before").is_null())
    # Only attached accounts changed from unclustered to clustered; nobody left a cluster.
    assert moved.filter(pl.col("cluster_id").is_null()).height == 0
    assert sorted(moved["account_id"].to_list()) == sorted(attached["account_id"].to_list())
    listed = attached.join(loose.scored.members, on="account_id", suffix="_m")
    assert (listed["cluster_id"] == listed["cluster_id_m"]).all()
    assert (attached[SIMILARITY] >= 0.1).all() and (attached[SHARED_VALUES] >= 2).all()
    assert loose.communities.attached == attached.height


def test_attached_table_and_explanation_are_written(runs) -> None:
    from acctgraph.investigate.explain import explain_account
    from acctgraph.runfolder import load_run

    _, loose, out = runs
    assert (out / "attached.parquet").is_file() and (out / "attached.csv").is_file()
    run = load_run(out)
    assert run.attached is not None and run.attached.equals(loose.attached)
    account = loose.attached["account_id"][0]
    why = explain_account(run, account)
    assert why.attachment is not None and why.attachment["account_id"] == account
    assert "attached by behaviour" in why.to_text()
    assert run.record["detect"]["attached"] == loose.attached.height


def test_report_counts_attached_members(runs) -> None:
    from acctgraph.cards import load_cards
    from acctgraph.report.document import _attached_counts, render_report, report_view
    from acctgraph.runfolder import load_run

    _, loose, out = runs
    run = load_run(out)
    expected = {c: n for c, n in loose.attached.group_by("cluster_id").len().iter_rows()}
    assert _attached_counts(run) == expected
    view = report_view(run, load_cards(run), out=out)
    for section in view["sections"]:
        assert section["attached"] == (
            f"{expected[section['id']]:,}" if section["id"] in expected else None
        )
    # A carded cluster with attached members says so, in both formats.
    view["sections"][0]["attached"] = "7"
    html, markdown = render_report(view)
    assert "7 of them joined by behaviour" in html and "7 of them joined by behaviour" in markdown
