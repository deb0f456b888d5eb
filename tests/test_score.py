"""The cluster signals, one function each, and their parameters (acctgraph.cluster.score)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acctgraph.cluster import score
from acctgraph.cluster.score import (
    ACCOUNTS_IN_CLUSTER,
    CONTRIBUTION,
    LABEL,
    SIGNAL,
    SIGNAL_VALUE,
    SIGNAL_WEIGHTS,
    SIGNALS,
    SIZE,
    SUMMARY,
    ScoreParams,
    capability_targeting,
    declared_organisation,
    evidence,
    new_accounts,
    proxy_rotation,
    round_the_clock,
    score_clusters,
    signup_burst,
    template_concentration,
    volume,
)
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import ACTIVE_DAYS, FIRST_SEEN, HOUR, N_EXCHANGES
from acctgraph.graph.build import WEIGHT
from acctgraph.run.config import Config

DEFAULT = ScoreParams()
T0 = datetime(2026, 4, 1, tzinfo=UTC)


def _with(**changes: Any) -> ScoreParams:
    return dataclasses.replace(DEFAULT, **changes)


def _values(frame: pl.DataFrame, signal: str) -> dict[int, float]:
    """``{label: value}`` of a signal function's result."""
    assert frame.columns == [LABEL, signal]
    return dict(frame.sort(LABEL).iter_rows())


def _in_unit_interval(values: dict[int, float]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values.values())


# --- evidence --------------------------------------------------------------------------------

SIZES = pl.DataFrame({LABEL: [0, 1, 2], SIZE: [2, 4, 3]}, schema_overrides={SIZE: pl.UInt32})
EDGES = pl.DataFrame({LABEL: [0, 1, 1, 1], WEIGHT: [1.0, 50.0, 50.0, 50.0]})
KINDS = pl.DataFrame(
    {
        LABEL: [0, 0, 1, 1, 1, 1, 1],
        S.ATTRIBUTE_KIND: ["ip", "device", "ip", "device", "email", "payment", "ip_range"],
        ACCOUNTS_IN_CLUSTER: [2, 2, 4, 4, 4, 2, 3],
    },
    schema_overrides={ACCOUNTS_IN_CLUSTER: pl.UInt32},
)


def test_evidence_mixes_link_strength_and_kind_diversity() -> None:
    got = _values(evidence(SIZES, EDGES, KINDS, params=DEFAULT), "evidence")
    # Cluster 0: mean degree 2 x 1.0 / 2 = 1; two kinds held by half the members.
    assert got[0] == pytest.approx(0.5 * (1 - math.exp(-1 / 2.0)) + 0.5 * 2 / 4)
    # Cluster 1: strong links; five kinds held by at least half its four members (cut at four).
    assert got[1] == pytest.approx(0.5 * (1 - math.exp(-75 / 2.0)) + 0.5)
    assert got[2] == 0.0  # no internal edge, no shared value
    assert _in_unit_interval(got)


def test_evidence_parameters_are_used() -> None:
    base = _values(evidence(SIZES, EDGES, KINDS, params=DEFAULT), "evidence")
    full = _values(evidence(SIZES, EDGES, KINDS, params=_with(evidence_full_kinds=2)), "evidence")
    assert full[0] == pytest.approx(0.5 * (1 - math.exp(-0.5)) + 0.5) and full[0] > base[0]
    links_only = evidence(SIZES, EDGES, KINDS, params=_with(evidence_link_share=1.0))
    assert _values(links_only, "evidence")[0] == pytest.approx(1 - math.exp(-0.5))
    # Values of cluster 1 held by 2 or 3 of its 4 members stop counting at a share of 0.8.
    strict = evidence(SIZES, EDGES, KINDS, params=_with(evidence_holder_share=0.8))
    assert _values(strict, "evidence")[1] == pytest.approx(
        0.5 * (1 - math.exp(-75 / 2.0)) + 0.5 * 3 / 4
    )


# --- member-table signals --------------------------------------------------------------------


def _members(**columns: Any) -> pl.DataFrame:
    return pl.DataFrame({LABEL: [0] * len(next(iter(columns.values()))), **columns})


def test_new_accounts_counts_members_first_active_soon_after_creation() -> None:
    created = [T0, T0, T0, None]
    first = [T0 + timedelta(days=1), T0 + timedelta(days=10), T0 + timedelta(days=100), T0]
    members = _members(**{S.CREATED_AT: created, FIRST_SEEN: first})
    assert _values(new_accounts(members, params=DEFAULT), "new_accounts") == {0: 2 / 3}
    assert _values(new_accounts(members, params=_with(new_account_days=5)), "new_accounts") == {
        0: 1 / 3
    }
    unknown = _members(**{S.CREATED_AT: [None, None], FIRST_SEEN: [T0, T0]}).cast(
        {S.CREATED_AT: pl.Datetime("us", "UTC")}
    )
    assert _values(new_accounts(unknown, params=DEFAULT), "new_accounts") == {0: 0.0}


def test_signup_burst_is_the_largest_group_created_close_together() -> None:
    hours = [0, 1, 2, 100]
    members = _members(**{S.CREATED_AT: [T0 + timedelta(hours=h) for h in hours] + [None]})
    assert _values(signup_burst(members, params=DEFAULT), "signup_burst") == {0: 2 / 3}
    tight = signup_burst(members, params=_with(burst_hours=1.5))
    assert _values(tight, "signup_burst") == {0: 1 / 3}
    alone = _members(**{S.CREATED_AT: [T0, None]})
    assert _values(signup_burst(alone, params=DEFAULT), "signup_burst") == {0: 0.0}


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(0, 96 * 3600))),
        max_size=40,
    ),
    st.sampled_from([0.5, 1.0, 24.0]),
)
def test_signup_burst_matches_the_definition(
    rows: list[tuple[int, int | None]], burst_hours: float
) -> None:
    """The vectorised signal equals a direct count over every window start."""
    members = pl.DataFrame(
        {
            LABEL: [label for label, _ in rows],
            S.CREATED_AT: [None if s is None else T0 + timedelta(seconds=s) for _, s in rows],
        },
        schema={LABEL: pl.Int64, S.CREATED_AT: pl.Datetime("us", "UTC")},
    )
    got = _values(signup_burst(members, params=_with(burst_hours=burst_hours)), "signup_burst")
    expected = {}
    for label in {label for label, _ in rows}:
        times = sorted(s for other, s in rows if other == label and s is not None)
        if len(times) < 2:
            expected[label] = 0.0
            continue
        most = max(
            sum(1 for t in times if start <= t <= start + burst_hours * 3600) for start in times
        )
        expected[label] = (most - 1) / (len(times) - 1)
    assert got == expected


def test_volume_saturates_on_a_log_scale() -> None:
    members = pl.DataFrame(
        {
            LABEL: [0, 1, 2, 3],
            N_EXCHANGES: [0, 10, 200, 100_000],
            ACTIVE_DAYS: [1, 2, 2, None],  # no active days counts as one
        }
    )
    got = _values(volume(members, params=DEFAULT), "volume")
    assert got[0] == 0.0
    assert got[1] == pytest.approx(math.log1p(5) / math.log1p(100))
    assert got[2] == 1.0 and got[3] == 1.0
    assert _in_unit_interval(got)
    wider = _values(volume(members, params=_with(volume_saturation=1000.0)), "volume")
    assert wider[2] == pytest.approx(math.log1p(100) / math.log1p(1000))


def test_capability_targeting_is_the_share_of_capability_exchanges() -> None:
    members = pl.DataFrame(
        {
            LABEL: [0, 0, 1],
            N_EXCHANGES: [6, 2, 0],
            "n_coding": [2, 0, 0],
            "n_agentic": [1, 0, 0],
            "n_reasoning": [0, 1, 0],
        }
    )
    got = _values(capability_targeting(members), "capability_targeting")
    assert got == {0: 0.5, 1: 0.0}


def test_declared_organisation_is_the_share_in_the_commonest_org() -> None:
    members = pl.DataFrame(
        {
            LABEL: [0, 0, 0, 0, 1, 1, 1, 1, 2, 2],
            S.ORG_ID: ["a", "a", "a", None, "a", "a", "b", "b", None, None],
        }
    )
    got = _values(declared_organisation(members), "declared_organisation")
    assert got == {0: 0.75, 1: 0.5, 2: 0.0}


# --- round_the_clock -------------------------------------------------------------------------


def _hours(counts: list[int], label: int = 0) -> pl.DataFrame:
    return pl.DataFrame({LABEL: [label] * 24, HOUR: list(range(24)), S.N_EVENTS: counts})


def test_round_the_clock_uniform_traffic_scores_one_and_office_hours_zero() -> None:
    uniform = _hours([5] * 24)
    office = _hours([5 if 9 <= h < 17 else 0 for h in range(24)], label=1)
    got = _values(round_the_clock(pl.concat([uniform, office]), params=DEFAULT), "round_the_clock")
    assert got == {0: 1.0, 1: 0.0}


def test_round_the_clock_window_wraps_midnight_and_is_a_parameter() -> None:
    # Busy 20 hours, silent 20:00-24:00: the quietest 8 hours hold 4 busy hours of 20.
    day = _hours([0 if h >= 20 else 1 for h in range(24)])
    assert _values(round_the_clock(day, params=DEFAULT), "round_the_clock")[0] == pytest.approx(
        min(1.0, 4 / 20 * 24 / 8)
    )
    assert _values(round_the_clock(day, params=_with(quiet_window_hours=4)), "round_the_clock") == {
        0: 0.0
    }
    # Silent 22:00-02:00 wraps past midnight: the same.
    wrapped = _hours([0 if h >= 22 or h < 2 else 1 for h in range(24)])
    assert _values(
        round_the_clock(wrapped, params=_with(quiet_window_hours=4)), "round_the_clock"
    ) == {0: 0.0}


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=24, max_size=24))
def test_round_the_clock_is_in_the_unit_interval(counts: list[int]) -> None:
    for window in (1, 8, 23):
        got = _values(
            round_the_clock(_hours(counts), params=_with(quiet_window_hours=window)),
            "round_the_clock",
        )
        assert _in_unit_interval(got)


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 23), st.integers(0, 50)),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 23),
)
def test_round_the_clock_matches_the_definition(
    rows: list[tuple[int, int, int]], window: int
) -> None:
    """Members' hours summed per cluster; the quietest wrapping window's share, scaled."""
    hours = pl.DataFrame(
        {LABEL: [r[0] for r in rows], HOUR: [r[1] for r in rows], S.N_EVENTS: [r[2] for r in rows]},
        schema={LABEL: pl.Int64, HOUR: pl.Int8, S.N_EVENTS: pl.UInt32},
    )
    got = _values(
        round_the_clock(hours, params=_with(quiet_window_hours=window)), "round_the_clock"
    )
    expected = {}
    for label in {r[0] for r in rows}:
        day = [
            float(sum(n for lab, h, n in rows if lab == label and h == hour)) for hour in range(24)
        ]
        total = sum(day)
        quiet = (
            min(sum(day[(h + i) % 24] for i in range(window)) for h in range(24)) / total
            if total > 0
            else 0.0
        )
        expected[label] = min(1.0, quiet * (24 / window))
    assert got == expected


# --- template_concentration ------------------------------------------------------------------


def test_template_concentration_shrinks_below_min_template_events() -> None:
    shared = pl.DataFrame({LABEL: [0, 0, 1], S.N_EVENTS: [20, 10, 5]})
    events = pl.DataFrame({LABEL: [0, 0, 1, 2], S.N_EVENTS: [40, 20, 10, 10]})
    got = _values(template_concentration(shared, events, params=DEFAULT), "template_concentration")
    assert got == {0: pytest.approx(0.5), 1: pytest.approx(0.5 * 10 / 50)}  # 2: nothing shared
    strict = template_concentration(shared, events, params=_with(min_template_events=120))
    assert _values(strict, "template_concentration")[0] == pytest.approx(0.5 * 60 / 120)


# --- proxy_rotation --------------------------------------------------------------------------


def _ranges(per_member: list[int]) -> pl.DataFrame:
    rows = [
        (0, f"acct_{m}", f"10.{m}.{r}.0/24") for m, n in enumerate(per_member) for r in range(n)
    ]
    return pl.DataFrame(rows, schema=[LABEL, S.ACCOUNT_ID, "ip_range"], orient="row")


def test_proxy_rotation_from_the_median_member() -> None:
    assert _values(proxy_rotation(_ranges([1, 1, 30]), params=DEFAULT), "proxy_rotation") == {
        0: 0.0
    }
    assert _values(proxy_rotation(_ranges([3, 5, 30]), params=DEFAULT), "proxy_rotation") == {
        0: pytest.approx(4 / 9)
    }
    fewer = proxy_rotation(_ranges([3, 5, 30]), params=_with(proxy_rotation_ranges=5.0))
    assert _values(fewer, "proxy_rotation") == {0: 1.0}


def test_proxy_rotation_is_monotone_and_bounded() -> None:
    values = [
        _values(proxy_rotation(_ranges([n, n]), params=DEFAULT), "proxy_rotation")[0]
        for n in range(1, 16)
    ]
    assert values == sorted(values)
    assert values[0] == 0.0 and values[-1] == 1.0 and _in_unit_interval(dict(enumerate(values)))


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"quiet_window_hours": 0},
        {"quiet_window_hours": 24},  # the whole day: the signal would always be 1
        {"evidence_link_share": 1.5},
        {"evidence_holder_share": 0.0},
        {"evidence_full_kinds": 0},
        {"volume_saturation": 0.0},
        {"proxy_rotation_ranges": 1.0},
        {"summary_kinds": -1},
        {"summary_signals": len(SIGNALS) + 1},  # more than there are: a silent ceiling
        {"summary_min_contribution": -0.1},
        {"min_template_events": 0},
        {"min_automation": 1.5},
        {"weights": {"volume": float("nan")}},
        {"quiet_window_hours": 7.5},  # whole hours only
        {"volume_saturation": "100"},
    ],
)
def test_out_of_range_parameters_are_refused(bad: dict) -> None:
    with pytest.raises(ConfigError, match=f"score\\.(weights\\.)?{next(iter(bad))}"):
        Config.from_dict({"score": bad})


def test_defaults_reach_the_run_record() -> None:
    recorded = Config().to_dict()["score"]
    assert recorded["quiet_window_hours"] == 8 and recorded["volume_saturation"] == 100.0
    assert recorded["weights"] == SIGNAL_WEIGHTS
    # behaviour is 0 for every cluster but a behaviour cohort: the others sum to 1.0
    others = [w for name, w in SIGNAL_WEIGHTS.items() if w > 0 and name != "behaviour"]
    assert sum(others) == pytest.approx(1.0)


def test_summary_parameters_cut_the_summary() -> None:
    evidence_table = pl.DataFrame(
        {
            S.CLUSTER_ID: [1] * 4,
            S.ATTRIBUTE_KIND: ["device", "ip", "ip_range", "payment"],
            ACCOUNTS_IN_CLUSTER: [4, 3, 2, 2],
        }
    )
    contributions = pl.DataFrame(
        {
            S.CLUSTER_ID: [1] * 4,
            SIGNAL: ["volume", "evidence", "new_accounts", "signup_burst"],
            SIGNAL_VALUE: [0.9, 0.8, 0.5, 0.2],
            CONTRIBUTION: [0.09, 0.08, 0.075, 0.01],
        }
    )
    clusters = pl.DataFrame(
        {S.CLUSTER_ID: [1], SIZE: [4], S.CLUSTER_SCORE: [0.5], S.FLAGGED: [True]}
    )

    def summary(params: ScoreParams, table: pl.DataFrame = clusters) -> str:
        rows = score._summaries(evidence_table, contributions, table, params)
        return rows[SUMMARY][0]

    # flagged under the score threshold: the summary says why, right after the size
    below = clusters.with_columns(pl.lit(0.35).alias(S.CLUSTER_SCORE))
    assert summary(DEFAULT, below).startswith(
        "4 accounts; flagged under score 0.42 for capability targeting 0.00 in 4 automating accounts;"
    )
    unflagged = below.with_columns(pl.lit(False).alias(S.FLAGGED))
    assert "flagged under" not in summary(DEFAULT, unflagged)

    assert summary(DEFAULT) == (
        "4 accounts; 1 shared device (up to 4 accounts); 1 shared IP address (up to 3 accounts);"
        " 1 shared IP range (up to 2 accounts); volume 0.90; evidence 0.80; new accounts 0.50"
    )
    assert summary(_with(summary_kinds=1, summary_signals=1)) == (
        "4 accounts; 1 shared device (up to 4 accounts); volume 0.90"
    )
    assert summary(_with(summary_kinds=0, summary_min_contribution=0.0)).endswith(
        "new accounts 0.50"
    )
    assert "signup burst" in summary(_with(summary_signals=4, summary_min_contribution=0.0))


# --- the whole stage on a tiny simulated world -----------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    from acctgraph.load import dataset_from_frames
    from acctgraph.run.pipeline import run_pipeline
    from acctgraph.simulate import simulate_frames

    accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    return run_pipeline(dataset_from_frames(accounts, exchanges))


def test_signals_are_bounded_and_contributions_add_up(tiny) -> None:
    scored = tiny.scored
    assert scored.clusters.height > 0
    for signal in SIGNALS:
        assert scored.clusters[signal].is_between(0.0, 1.0).all(), signal
    totals = scored.contributions.group_by(S.CLUSTER_ID).agg(pl.col(CONTRIBUTION).sum())
    both = totals.join(scored.clusters.select(S.CLUSTER_ID, S.CLUSTER_SCORE), on=S.CLUSTER_ID)
    assert ((both[CONTRIBUTION].clip(0.0, 1.0) - both[S.CLUSTER_SCORE]).abs() < 1e-6).all()


def test_a_new_parameter_changes_the_stage_output(tiny) -> None:
    def rerun(params: ScoreParams):
        return score_clusters(
            tiny.communities.membership, tiny.graph, tiny.attributes, tiny.usage, params=params
        )

    again = rerun(tiny.config.score)
    assert again.clusters.equals(tiny.scored.clusters)
    changed = rerun(_with(quiet_window_hours=2)).clusters
    # Cluster ids follow the score, so compare each signal's values as a sorted list.
    differ = {
        signal
        for signal in SIGNALS
        if sorted(changed[signal]) != sorted(tiny.scored.clusters[signal])
    }
    assert differ == {"round_the_clock"}
