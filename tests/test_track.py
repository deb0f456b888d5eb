"""Runs over time: operation ids carried over from the previous run, what changed, and the
investigators' decisions (acctgraph.cluster.track, acctgraph.load.decisions)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report import assert_safe_html, assert_safe_markdown

from acctgraph import run_pipeline, write_outputs
from acctgraph.cluster.track import (
    Previous,
    TrackParams,
    apply_decisions,
    match_operations,
)
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError, InputError
from acctgraph.load import dataset_from_frames
from acctgraph.load.decisions import load_decisions
from acctgraph.run.pipeline import previous_run
from acctgraph.runfolder import load_run
from acctgraph.simulate import first_weeks, simulate_frames

WEEKS = 4
HOSTILE_NOTE = '=HYPERLINK("http://x") <img src=x onerror=alert(1)>'


def _previous(members: dict[str, str | None], flagged: set[str] | None = None) -> Previous:
    """A previous run from ``account → operation id``; every operation flagged unless
    ``flagged`` names them."""
    frame = pl.DataFrame(
        {"account_id": list(members), "cluster_id": list(members.values())},
        schema={"account_id": pl.String, "cluster_id": pl.String},
    )
    ops = frame.drop_nulls().group_by("cluster_id").len("size").sort("cluster_id")
    is_flagged = [flagged is None or c in flagged for c in ops["cluster_id"]]
    frame = frame.join(
        ops.select("cluster_id", pl.Series("flagged", is_flagged)), on="cluster_id", how="left"
    ).with_columns(pl.col("flagged").fill_null(False))
    clusters = ops.with_columns(
        pl.lit(0.8).alias("cluster_score"), pl.Series("flagged", is_flagged)
    )
    return Previous.from_tables(members=frame, clusters=clusters)


def _names(accounts: list[str], membership: list[int], previous: Previous) -> dict[int, str]:
    return dict(match_operations(pl.Series(accounts), membership, previous).names.iter_rows())


# --- the matching rule -----------------------------------------------------------


def test_a_grown_operation_keeps_its_id_and_a_new_one_gets_none():
    previous = _previous({"a": "op-000001", "b": "op-000001", "c": "op-000002", "d": "op-000002"})
    accounts = ["a", "b", "c", "d", "e", "f", "g"]
    assert _names(accounts, [0, 0, 1, 1, 0, 2, 2], previous) == {0: "op-000001", 1: "op-000002"}


def test_a_split_operation_leaves_its_id_to_the_larger_part():
    previous = _previous({x: "op-000007" for x in "abcdef"})
    assert _names(list("abcdef"), [0, 0, 1, 1, 1, 1], previous) == {1: "op-000007"}


def test_merged_operations_leave_the_id_of_the_one_with_more_accounts_in_it():
    previous = _previous({**{x: "op-000003" for x in "ab"}, **{x: "op-000002" for x in "cde"}})
    assert _names(list("abcde"), [4] * 5, previous) == {4: "op-000002"}


def test_ties_go_to_the_smaller_previous_id():
    previous = _previous({**{x: "op-000009" for x in "ab"}, **{x: "op-000004" for x in "cd"}})
    assert _names(list("abcd"), [0] * 4, previous) == {0: "op-000004"}


def test_a_small_overlap_is_not_a_successor():
    previous = _previous({x: "op-000001" for x in "abcdefgh"})
    accounts = list("abcdefgh") + list("uvwxyz") + ["t"]
    # two of eight old accounts in a new cluster of nine, the other six alone: neither more
    # than a quarter of the old operation nor of the new cluster
    membership = [0, 0, 1, 2, 3, 4, 5, 6] + [0] * 7
    assert _names(accounts, membership, previous) == {}
    # six of eight in a cluster of their own: the successor
    membership = [0, 0, 9, 9, 9, 9, 9, 9] + [0] * 7
    assert _names(accounts, membership, previous) == {9: "op-000001"}


def test_a_fragment_does_not_take_the_id_of_an_operation_that_went_elsewhere():
    """An operation of ten whose accounts went four to a cluster formed with a tiny
    operation's three, two to a fragment of their own and four nowhere: the larger cluster
    keeps the larger operation's id, the tiny operation's id is left (absorbed)."""
    big = {f"b{i}": "op-000001" for i in range(10)}
    tiny = {f"t{i}": "op-000002" for i in range(3)}
    previous = _previous({**big, **tiny})
    accounts = [*big, *tiny, "n1", "n2"]
    membership = [7, 7, 7, 7, 8, 8, 20, 21, 22, 23] + [7, 7, 7] + [7, 7]
    assert _names(accounts, membership, previous) == {7: "op-000001"}


def test_new_numbers_start_above_every_number_issued():
    previous = Previous.from_tables(
        members=pl.DataFrame({"account_id": ["a"], "cluster_id": ["op-000005"], "flagged": [True]}),
        clusters=pl.DataFrame(
            {"cluster_id": ["op-000005"], "size": [2], "cluster_score": [0.5], "flagged": [True]}
        ),
        next_number=40,
    )
    assert previous.next_number == 40
    assert (
        Previous.from_tables(
            members=previous.members, clusters=previous.clusters, next_number=3
        ).next_number
        == 6
    )


def test_track_parameters_are_checked():
    with pytest.raises(ConfigError, match="track.min_overlap"):
        TrackParams(min_overlap=1.0)
    with pytest.raises(ConfigError, match="track.benign_growth"):
        TrackParams(benign_growth=-0.1)


@settings(max_examples=60, deadline=None)
@given(
    old=st.lists(st.integers(0, 4) | st.none(), min_size=1, max_size=30),
    new=st.lists(st.integers(0, 5), min_size=1, max_size=30),
)
def test_matching_is_one_to_one_and_only_between_overlapping_groups(old, new):
    n = min(len(old), len(new))
    accounts = [f"a{i:02d}" for i in range(n)]
    previous = _previous(
        {a: None if o is None else S.operation_id(o + 1) for a, o in zip(accounts, old)}
    )
    names = _names(accounts, new[:n], previous)
    assert len(set(names.values())) == len(names)
    for label, cluster_id in names.items():
        mine = {a for a, n_ in zip(accounts, new) if n_ == label}
        theirs = {
            a
            for a, o in zip(accounts, old)
            if o is not None and S.operation_id(o + 1) == cluster_id
        }
        shared = len(mine & theirs)
        assert len(mine) >= 2
        least = TrackParams().min_overlap
        assert shared > least * len(theirs) or shared > least * len(mine)
    assert names == _names(accounts, new[:n], previous)  # deterministic


# --- the decisions file ------------------------------------------------------------

HEADER = "target,decision,decided_by,decided_at,note\n"


def test_the_latest_decision_per_target_wins(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    path.write_text(
        HEADER
        + "op-000002,under_review,ana,2026-06-03,\n"
        + "op-000002,benign,ben,2026-06-04T08:00:00+02:00,lab\n"
        + "op-000002,confirmed,ana,2026-06-04T07:00:00Z,later in UTC\n"
    )
    from acctgraph.cluster.track import latest_decisions

    latest = latest_decisions(load_decisions(path))
    assert latest.select("target", "decision", "row").rows() == [("op-000002", "confirmed", 4)]


@pytest.mark.parametrize(
    "line, column, row",
    [
        (",benign,ana,2026-06-01,x", "target", 3),
        ("op-000001,maybe,ana,2026-06-01,x", "decision", 3),
        ("op-000001,benign,,2026-06-01,x", "decided_by", 3),
        ("op-000001,benign,ana,yesterday,x", "decided_at", 3),
        ("op-000001,benign,ana,2026-13-01,x", "decided_at", 3),
    ],
)
def test_a_malformed_row_names_the_file_column_and_row(tmp_path: Path, line, column, row):
    path = tmp_path / "decisions.csv"
    path.write_text(HEADER + "op-000009,confirmed,ana,2026-06-01,fine\n" + line + "\n")
    with pytest.raises(InputError) as caught:
        load_decisions(path)
    text = str(caught.value)
    assert str(path) in text and f"column {column!r}" in text and f"row {row}" in text


def test_a_file_without_a_required_column_is_refused(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    path.write_text("target,decision\nop-000001,benign\n")
    with pytest.raises(InputError, match="no column 'decided_by', 'decided_at'"):
        load_decisions(path)


@settings(max_examples=80, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(-12 * 60, 14 * 60),
    style=st.sampled_from(["T", " "]),
)
def test_iso_times_parse_to_the_same_instant(tmp_path_factory, moment, offset_minutes, style):
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    local = moment.astimezone(__import__("datetime").timezone(timedelta(minutes=offset_minutes)))
    text = local.isoformat(sep=style, timespec="milliseconds")
    path = tmp_path_factory.mktemp("d") / "decisions.csv"
    path.write_text(HEADER + f"x,benign,ana,{text},\n" + f"y,benign,ana,{moment.date()},\n")
    parsed = load_decisions(path)["decided_time"].to_list()
    assert parsed[0] == moment
    assert parsed[1] == datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


# --- a world in time: four weeks, then six --------------------------------------------


@pytest.fixture(scope="module")
def world():
    return simulate_frames("tiny", seed=5)


@pytest.fixture(scope="module")
def first(world, tmp_path_factory) -> Path:
    accounts, exchanges, _ = world
    out = tmp_path_factory.mktemp("first")
    write_outputs(
        run_pipeline(dataset_from_frames(*first_weeks(accounts, exchanges, weeks=WEEKS)[:2])), out
    )
    return out


def _second(world, first: Path, out: Path, decisions: pl.DataFrame | None = None):
    accounts, exchanges, _ = world
    result = run_pipeline(
        dataset_from_frames(accounts, exchanges), previous=previous_run(first), decisions=decisions
    )
    write_outputs(result, out)
    return result


@pytest.fixture(scope="module")
def second(world, first, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("second")
    _second(world, first, out)
    return out


def test_accounts_flagged_in_the_first_weeks_keep_their_operation_id(first, second):
    before = load_run(first).members.filter(pl.col("flagged"))
    after = load_run(second).members.select("account_id", pl.col("cluster_id").alias("_now"))
    kept = before.join(after, on="account_id", how="left")
    assert before.height > 20
    assert (kept["cluster_id"] == kept["_now"]).fill_null(False).mean() >= 0.95


def test_the_changes_list_exactly_the_accounts_that_joined_and_left(first, second):
    m1, run = load_run(first).members, load_run(second)
    m2, changes, moved = run.members, run.changes, run.changed_members
    assert changes is not None and moved is not None and changes.height > 0
    assert changes["cluster_id"].is_unique().all()
    for row in changes.iter_rows(named=True):
        op = row["cluster_id"]
        before = set(m1.filter(pl.col("cluster_id") == op)["account_id"])
        after = set(m2.filter(pl.col("cluster_id") == op)["account_id"])
        mine = moved.filter(pl.col("cluster_id") == op)
        assert set(mine.filter(pl.col("movement") == "joined")["account_id"]) == after - before
        assert set(mine.filter(pl.col("movement") == "left")["account_id"]) == before - after
        assert row["joined"] == len(after - before) and row["left"] == len(before - after)
        assert row["accounts_after"] in (None, len(after))
    joined = moved.filter(pl.col("movement") == "joined")
    assert joined["new_account"].to_list() == [
        a not in set(m1["account_id"]) for a in joined["account_id"]
    ]


def test_no_operation_id_is_reused(first, second):
    old = load_run(first)
    next_number = old.record["operations"]["next_number"]
    old_ids = set(old.clusters["cluster_id"])
    new_ids = set(load_run(second).clusters["cluster_id"]) - old_ids
    assert new_ids and all(S.operation_number(c) >= next_number for c in new_ids)
    assert load_run(second).record["operations"]["next_number"] > max(
        S.operation_number(c) for c in load_run(second).clusters["cluster_id"]
    )


def test_ids_change_nothing_else(world, second, tmp_path):
    accounts, exchanges, _ = world
    plain = run_pipeline(dataset_from_frames(accounts, exchanges))
    tracked = load_run(second)
    assert plain.scored.members.select("account_id", "flagged", "cluster_score").equals(
        tracked.members.select("account_id", "flagged", "cluster_score")
    )
    # the same partition, named differently
    pairs = plain.scored.members.join(tracked.members, on="account_id", suffix="_t").drop_nulls(
        "cluster_id"
    )
    assert (
        pairs.group_by("cluster_id").agg(pl.col("cluster_id_t").n_unique())["cluster_id_t"].max()
        == 1
    )


def test_a_run_with_previous_is_deterministic(world, first, second, tmp_path):
    _second(world, first, tmp_path)
    for name in ("members.parquet", "clusters.csv", "changes.csv", "changed_members.csv"):
        assert (tmp_path / name).read_bytes() == (second / name).read_bytes(), name


def test_decisions_benign_allowlist_and_confirmed(world, first, second, tmp_path):
    changes = load_run(second).changes
    ops = load_run(first).clusters.filter(pl.col("flagged"))["cluster_id"].to_list()
    grown = changes.filter((pl.col("joined") > 0) & pl.col("flagged_after"))["cluster_id"]
    assert len(ops) >= 3 and grown.len() >= 1
    confirmed = grown[-1]
    benign, allowed = [op for op in ops if op != confirmed][:2]
    m1 = load_run(first).members
    org = m1.filter(pl.col("cluster_id") == allowed)["account_id"].to_list()
    rows = [
        (benign, "benign", "ana", "2026-06-01", HOSTILE_NOTE),
        (confirmed, "confirmed", "ben", "2026-06-01", "distillation"),
        *[(a, "allowlist", "ana", "2026-06-01", "partner org") for a in org],
    ]
    decisions = pl.DataFrame(
        rows, schema=["target", "decision", "decided_by", "decided_at", "note"], orient="row"
    )
    path = tmp_path / "decisions.csv"
    decisions.write_csv(path)
    result = _second(world, first, tmp_path / "run", load_decisions(path))
    run = load_run(tmp_path / "run")
    clusters, members = run.clusters, run.members
    # benign: not flagged, unless it grew by more than half or gained identity evidence
    applied = run.decisions.filter(pl.col("target") == benign).row(0, named=True)
    changed = applied["effect"].startswith("judged benign, but it changed materially")
    assert changed or applied["effect"].startswith("not flagged (judged benign")
    now = clusters.filter(pl.col("cluster_id") == benign)
    scored = load_run(second).clusters.filter(pl.col("cluster_id") == benign)
    assert now.height == 1 and now["flagged"][0] == (changed and scored["flagged"][0])
    assert not changed  # this operation grew by less than half and gained no identity value
    # allowlisted accounts are never flagged, and listed with the reason
    assert not members.filter(pl.col("account_id").is_in(org))["flagged"].any()
    listed = run.decisions.filter(pl.col("decision") == "allowlist")
    assert set(listed["target"]) == set(org) and set(listed["note"]) == {"partner org"}
    # a confirmed operation that grew is listed first, with its new members first
    assert run.changes["cluster_id"][0] == confirmed
    assert run.changes["decision"][0] == "confirmed"
    assert clusters.filter(pl.col("cluster_id") == confirmed)["flagged"][0]
    joined = run.changed_members.filter(pl.col("movement") == "joined")
    assert joined["cluster_id"][0] == confirmed
    assert clusters["decision"].drop_nulls().len() == 2
    # explain says so, for an allowlisted account and for the confirmed operation's members
    from acctgraph.investigate.explain import explain_account

    text = explain_account(run, org[0]).to_text()
    assert "decision on this account: allowlist by ana, 2026-06-01 (partner org)" in text
    member = members.filter(pl.col("cluster_id") == confirmed)["account_id"][0]
    assert "decision on this operation: confirmed by ben" in explain_account(run, member).to_text()
    # the graph page says so
    from acctgraph.viz.drawing import cluster_drawing

    drawing = cluster_drawing(run, confirmed)
    assert drawing.title.endswith("decision: confirmed") and drawing.facts[0][0] == "decision"
    # the clusters' summaries say so, and run.json counts the decisions
    summary = clusters.filter(pl.col("cluster_id") == confirmed)["summary"][0]
    assert "decision: confirmed (ben, 2026-06-01)" in summary
    assert run.record["operations"]["decisions"]["account/allowlist"] == len(org)
    assert result.tracked is not None and result.tracked.decisions is not None
    # the report says what changed and what was decided, the investigator's text escaped
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    markdown = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert_safe_html(html)
    assert_safe_markdown(markdown)
    since = html.split('<h2 id="since">', 1)[1].split('<h2 id="decisions">', 1)[0]
    assert f'<td class="mono">{confirmed}</td><td>' in since
    assert "&lt;img src=x onerror=alert(1)&gt;" in html.split('<h2 id="decisions">', 1)[1]
    assert "## Since the last run" in markdown and "## Decisions" in markdown
    assert (
        "decision: confirmed" in html
        and (tmp_path / "run" / "decisions.csv").read_text(encoding="utf-8").count("'=HYPERLINK")
        == 1
    )


def _one_operation(size: int, evidence_kinds=("ip_range",)):
    from acctgraph.cluster.score import Scored

    members = pl.DataFrame(
        {
            "account_id": [f"a{i:03d}" for i in range(size)],
            "cluster_id": ["op-000001"] * size,
            "cluster_score": [0.8] * size,
            "flagged": [True] * size,
        }
    )
    clusters = pl.DataFrame(
        {
            "cluster_id": ["op-000001"],
            "size": [size],
            "cluster_score": [0.8],
            "flagged": [True],
            "summary": [f"{size} accounts"],
        }
    )
    evidence = pl.DataFrame(
        {
            "cluster_id": ["op-000001"] * len(evidence_kinds),
            "attribute_kind": list(evidence_kinds),
            "value": ["v"] * len(evidence_kinds),
        }
    )
    return Scored(
        members=members, clusters=clusters, contributions=pl.DataFrame(), evidence=evidence
    )


def _benign(at: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "target": ["op-000001"],
            "decision": ["benign"],
            "decided_by": ["ana"],
            "decided_at": [at],
            "note": [""],
            "row": [2],
            "decided_time": [datetime.fromisoformat(at).replace(tzinfo=UTC)],
        }
    )


def test_a_benign_operation_that_grows_by_half_is_flagged_again():
    today = _one_operation(10)

    def flagged(previous_size: int) -> bool:
        before = _one_operation(previous_size)
        previous = Previous.from_tables(
            members=before.members, clusters=before.clusters, evidence=before.evidence
        )
        out, _ = apply_decisions(today, _benign("2026-06-01"), previous=previous)
        assert out.members["flagged"].to_list() == [out.clusters["flagged"][0]] * 10
        return bool(out.clusters["flagged"][0])

    assert not flagged(7)  # 7 -> 10: grew by 43%
    assert flagged(6)  # 6 -> 10: grew by 67%
    with_card = _one_operation(10, evidence_kinds=("ip_range", "payment"))
    previous = Previous.from_tables(
        members=today.members, clusters=today.clusters, evidence=today.evidence
    )
    out, applied = apply_decisions(with_card, _benign("2026-06-01"), previous=previous)
    assert out.clusters["flagged"][0] and "now shares payment values" in applied["effect"][0]


def test_slow_growth_of_a_benign_operation_adds_up_from_run_to_run():
    """10 accounts when judged benign; 14 the next day (not flagged), 16 the day after: more
    than half over 10, so flagged again, though only 14% over the day before. Judged benign
    again later (a new decided_at), the baseline starts over."""
    day = {size: _one_operation(size) for size in (10, 14, 16)}
    previous = Previous.from_tables(
        members=day[10].members, clusters=day[10].clusters, evidence=day[10].evidence
    )
    scored, applied = apply_decisions(day[14], _benign("2026-06-01"), previous=previous)
    assert not scored.clusters["flagged"][0] and applied["baseline_size"][0] == 10
    previous = Previous.from_tables(
        members=scored.members,
        clusters=scored.clusters,
        evidence=day[14].evidence,
        decisions=applied,
    )
    scored, applied = apply_decisions(day[16], _benign("2026-06-01"), previous=previous)
    assert scored.clusters["flagged"][0] and applied["baseline_size"][0] == 10
    assert "grew from 10 to 16 accounts" in applied["effect"][0]
    scored, applied16 = apply_decisions(day[16], _benign("2026-06-03"), previous=previous)
    assert not scored.clusters["flagged"][0] and applied16["baseline_size"][0] == 14
    # a run in the chain without the decisions file carries the baselines on
    from acctgraph.cluster.track import track

    _, quiet = track(day[14], previous=previous, matched=None, decisions=None)
    assert quiet.decisions is None and quiet.baselines["baseline_size"].to_list() == [10]
    later = Previous.from_tables(
        members=day[14].members, clusters=day[14].clusters, baselines=quiet.baselines
    )
    scored, applied = apply_decisions(day[16], _benign("2026-06-01"), previous=later)
    assert scored.clusters["flagged"][0] and applied["baseline_size"][0] == 10


# --- the command line -----------------------------------------------------------------


def _acctgraph(*args) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "acctgraph"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)


def test_the_cli_refuses_a_malformed_decisions_file_before_reading_the_inputs(first, tmp_path):
    bad = tmp_path / "decisions.csv"
    bad.write_text(HEADER + "op-000001,benign,ana,2026-06-01,\nop-000002,ban,ana,2026-06-01,\n")
    done = _acctgraph("run", first, "--out", tmp_path / "out", "--decisions", bad, "--quiet")
    assert done.returncode == 2, done.stderr
    assert str(bad) in done.stderr and "'decision'" in done.stderr and "row 3" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


def test_a_run_older_than_operation_ids_is_refused_as_previous(first, tmp_path):
    old = tmp_path / "old"
    import shutil

    shutil.copytree(first, old)
    for name in ("members", "clusters"):
        frame = pl.read_parquet(old / f"{name}.parquet")
        frame.with_columns(
            pl.col("cluster_id").str.strip_prefix("op-").cast(pl.Int64)
        ).write_parquet(old / f"{name}.parquet")
    with pytest.raises(InputError, match="older acctgraph"):
        previous_run(old)


def test_an_allowlisted_organisation_is_never_flagged(world, first, tmp_path):
    """An organisation (a value of the accounts' org_id) on the allowlist: none of its accounts
    is flagged, even when they make up a cluster the scores flag."""
    accounts, exchanges, _ = world
    flagged = load_run(first).members.filter(pl.col("flagged"))
    cluster = flagged["cluster_id"].sort()[0]
    staff = flagged.filter(pl.col("cluster_id") == cluster)["account_id"].implode()
    accounts = accounts.with_columns(
        pl.when(pl.col("account_id").is_in(staff))
        .then(pl.lit("org_partner"))
        .otherwise(pl.col("org_id"))
        .alias("org_id")
    )
    decisions = pl.DataFrame(
        {
            "target": ["org_partner"],
            "decision": ["allowlist"],
            "decided_by": ["ana"],
            "decided_at": ["2026-06-01"],
            "note": ["partner's load tests"],
        }
    )
    path = tmp_path / "decisions.csv"
    decisions.write_csv(path)
    result = run_pipeline(
        dataset_from_frames(accounts, exchanges),
        previous=previous_run(first),
        decisions=load_decisions(path),
    )
    members = result.scored.members
    ours = members.filter(pl.col("account_id").is_in(staff))
    assert ours.height == staff.list.len()[0] and not ours["flagged"].any()
    applied = result.tracked.decisions.row(0, named=True)
    assert applied["target_kind"] == "organisation"
    assert applied["effect"].startswith(f"its {ours.height:,} accounts not flagged (allowlisted)")
    from acctgraph.investigate.explain import explain_account

    write_outputs(result, tmp_path / "run")
    text = explain_account(load_run(tmp_path / "run"), ours["account_id"][0]).to_text()
    assert "decision on this organisation: allowlist by ana" in text


def _decisions(*rows) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (target, decision, "ana", "2026-06-01", "", i + 2, datetime(2026, 6, 1, tzinfo=UTC))
            for i, (target, decision) in enumerate(rows)
        ],
        schema=["target", "decision", "decided_by", "decided_at", "note", "row", "decided_time"],
        orient="row",
    )


def test_an_operation_decision_needs_the_previous_run():
    """Without --previous, op-000001 is whatever cluster scored highest today: not applied."""
    today = _one_operation(10)
    scored, applied = apply_decisions(today, _decisions(("op-000001", "allowlist")))
    assert scored.clusters["flagged"][0]
    assert applied["effect"][0].startswith("not applied: operation ids carry over only with")
    previous = Previous.from_tables(  # a run that issued no id
        members=today.members.with_columns(pl.lit(None, dtype=pl.String).alias("cluster_id")),
        clusters=today.clusters.clear(),
    )
    scored, applied = apply_decisions(
        today, _decisions(("op-000001", "allowlist")), previous=previous
    )
    assert scored.clusters["flagged"][0] and "no earlier run issued" in applied["effect"][0]


def test_an_allowlisted_operation_that_grows_by_half_is_flagged_again():
    """Its id may pass to a cluster of mostly new accounts: the allowlist does not follow it
    there unchanged."""
    before, after = _one_operation(10), _one_operation(43)
    previous = Previous.from_tables(
        members=before.members, clusters=before.clusters, evidence=before.evidence
    )
    scored, applied = apply_decisions(
        after, _decisions(("op-000001", "allowlist")), previous=previous
    )
    assert scored.clusters["flagged"][0] and scored.members["flagged"].all()
    assert applied["effect"][0].startswith("allowlisted, but it changed materially since (grew")


def test_a_confirmed_operation_absorbed_by_a_benign_one_stays_flagged():
    """op-000001 (confirmed, 4 accounts) merged into op-000002 (benign, 10): the merged
    operation changed materially, and the confirmed accounts stay flagged whatever it scores."""
    from acctgraph.cluster.score import Scored

    ids = [f"a{i:02d}" for i in range(14)]
    old = pl.DataFrame(
        {
            "account_id": ids,
            "cluster_id": ["op-000001"] * 4 + ["op-000002"] * 10,
            "flagged": [True] * 14,
        }
    )
    previous = Previous.from_tables(
        members=old,
        clusters=pl.DataFrame(
            {
                "cluster_id": ["op-000001", "op-000002"],
                "size": [4, 10],
                "cluster_score": [0.8, 0.6],
                "flagged": [True, True],
            }
        ),
    )
    now = Scored(
        members=pl.DataFrame(
            {
                "account_id": ids,
                "cluster_id": ["op-000002"] * 14,
                "cluster_score": [0.4] * 14,
                "flagged": [False] * 14,
            }
        ),
        clusters=pl.DataFrame(
            {
                "cluster_id": ["op-000002"],
                "size": [14],
                "cluster_score": [0.4],
                "flagged": [False],
                "summary": ["14 accounts"],
            }
        ),
        contributions=pl.DataFrame(),
        evidence=pl.DataFrame(schema={"cluster_id": pl.String, "attribute_kind": pl.String}),
    )
    scored, applied = apply_decisions(
        now, _decisions(("op-000001", "confirmed"), ("op-000002", "benign")), previous=previous
    )
    effects = dict(zip(applied["target"], applied["effect"], strict=True))
    assert effects["op-000001"].startswith(
        "no cluster has this id now: 4 of its 4 accounts are in op-000002 (absorbed)"
    )
    assert "took in 4 accounts of a confirmed operation" in effects["op-000002"]
    flagged = dict(scored.members.select("account_id", "flagged").iter_rows())
    assert [flagged[a] for a in ids] == [True] * 4 + [False] * 10


def test_a_target_naming_two_kinds_must_say_which():
    today = _one_operation(3)
    organisations = pl.DataFrame({"account_id": ["a000", "a001"], "org_id": ["a002", "a002"]})
    with pytest.raises(
        InputError, match="names an account and an organisation; write account:a002"
    ):
        apply_decisions(today, _decisions(("a002", "allowlist")), organisations=organisations)
    scored, applied = apply_decisions(
        today, _decisions(("org:a002", "allowlist")), organisations=organisations
    )
    assert applied["target_kind"][0] == "organisation"
    assert scored.members["flagged"].to_list() == [False, False, True]


def test_a_ragged_row_or_a_repeated_column_is_refused_by_row(tmp_path: Path):
    path = tmp_path / "decisions.csv"
    path.write_text(
        HEADER
        + 'op-000001,benign,ana,2026-06-01,"a lab, Berlin"\n\n'
        + "op-000002,benign,ana,2026-06-01,a lab, Berlin\n"
    )
    with pytest.raises(InputError, match=r"rows 4; the header is row 1\): quote a note"):
        load_decisions(path)
    path.write_text("target,decision,decided_by,decided_at,target\nx,benign,a,2026-06-01,y\n")
    with pytest.raises(InputError, match="column 'target' 2 times"):
        load_decisions(path)
    path.write_text("\ufefftarget,decision,decided_by,decided_at\nx,benign,a,2026-06-01\n")
    assert load_decisions(path)["note"].to_list() == [""]
