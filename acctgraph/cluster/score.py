"""Cluster signals, the score as a sum of named contributions, and the evidence table.

Sharing alone is not suspicious: families share a card and a home, companies
share an office and a domain, automation shares templates. The score therefore
rests on *behaviour* that separates an operation from such groups, each signal
in 0..1 and each with a documented weight (weights sum to 1):

==========================  ======================================================
signal                      what it measures
==========================  ======================================================
``evidence``                strength and diversity of what members share: kinds
                            with a value held by at least half the members, and
                            the internal link weight per member
``new_accounts``            share of members first active within ``new_account_days``
                            of creation (operators use fresh accounts)
``signup_burst``            share of members created within ``burst_hours`` of
                            each other (beyond the first)
``volume``                  median exchanges per member per active day (log scale)
``round_the_clock``         share of the cluster's traffic in its quietest eight
                            hours of the day (people sleep; scripts do not)
``template_concentration``  share of members' (sampled) prompt bands that other
                            members also sent
``capability_targeting``    share of traffic eliciting code, agentic tool use or
                            step-by-step reasoning (what distillation harvests)
``proxy_rotation``          median distinct IP ranges per member (residential
                            proxy pools rotate; homes and offices do not)
``declared_organisation``   negative: share of members in one declared
                            enterprise ``org_id`` (a contract, not a throwaway)
==========================  ======================================================

``cluster_score = clip(Σ weight × signal, 0, 1)``; ``flagged`` when the score
reaches ``flag_threshold``, the cluster has at least ``min_flag_size``
members, and it behaves like automation: at least one of ``volume``,
``round_the_clock`` and ``template_concentration`` reaches
``min_automation``. An operation at scale must automate; a family of new
accounts that writes code, or an office onboarded in one morning, does not.
``template_concentration`` is shrunk towards 0 when the cluster's sampled
prompt bands number fewer than ``min_template_events``: repetition needs
traffic to be evidence. The contributions are a table (:attr:`Scored.contributions`) that
every view renders; nothing downstream recomputes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import (
    ACTIVE_DAYS,
    FIRST_SEEN,
    HOUR,
    LAST_SEEN,
    N_EXCHANGES,
    Usage,
)
from acctgraph.features.kinds import PromptTemplate
from acctgraph.features.prompt import AGENTIC, CODING, REASONING
from acctgraph.graph.build import (
    ACCOUNT_INDEX,
    N_ACCOUNTS,
    SOURCE,
    TARGET,
    VALUE_INDEX,
    VALUE_WEIGHT,
    WEIGHT,
    AccountGraph,
)

LABEL = "_label"
PROMPT_TEMPLATE_KIND = PromptTemplate.kind
SIZE = "size"
SIGNAL = "signal"
SIGNAL_VALUE = "signal_value"
CONTRIBUTION = "contribution"
ACCOUNTS_IN_CLUSTER = "accounts_in_cluster"
ACCOUNTS_OUTSIDE = "accounts_outside"
EXCHANGES = "exchanges"
FIRST_ACTIVITY = "first_activity"
LAST_ACTIVITY = "last_activity"
SUMMARY = "summary"
MIN_ACCOUNT = "_min_account"

SIGNAL_WEIGHTS: dict[str, float] = {
    "evidence": 0.10,
    "new_accounts": 0.15,
    "signup_burst": 0.05,
    "volume": 0.10,
    "round_the_clock": 0.15,
    "template_concentration": 0.15,
    "capability_targeting": 0.20,
    "proxy_rotation": 0.10,
    "declared_organisation": -0.6,
}
SIGNALS = tuple(SIGNAL_WEIGHTS)


@dataclass(frozen=True, kw_only=True)
class ScoreParams:
    """Scoring parameters; ``weights`` maps each signal to its weight."""

    weights: dict[str, float] = field(default_factory=lambda: dict(SIGNAL_WEIGHTS))
    flag_threshold: float = 0.42
    min_flag_size: int = 3
    min_automation: float = 0.3
    min_template_events: int = 50
    new_account_days: float = 30.0
    burst_hours: float = 24.0
    evidence_per_member: float = 2.0
    evidence_max_per_kind: int = 50

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(SIGNALS)
        if unknown:
            raise ConfigError(
                f"score.weights: unknown signals {sorted(unknown)}; known: {list(SIGNALS)}"
            )
        if not 0.0 <= self.flag_threshold <= 1.0:
            raise ConfigError("score.flag_threshold must be in [0, 1]")


@dataclass
class Scored:
    """Output tables of the scoring stage (schemas in the module docstring)."""

    members: pl.DataFrame
    clusters: pl.DataFrame
    contributions: pl.DataFrame
    evidence: pl.DataFrame


def _quietest_share(hours: list[float]) -> float:
    total = sum(hours)
    if total <= 0:
        return 0.0
    windows = [sum(hours[(h + i) % 24] for i in range(8)) for h in range(24)]
    return min(windows) / total


def score_clusters(
    membership: list[int],
    graph: AccountGraph,
    attributes: pl.DataFrame,
    usage: Usage,
    *,
    params: ScoreParams,
) -> Scored:
    """Score every community of two or more accounts and build the output tables.

    Parameters
    ----------
    membership
        Community label per vertex of ``graph`` (from :mod:`acctgraph.cluster.detect`).
    graph
        The :class:`~acctgraph.graph.AccountGraph` the communities were found on.
    attributes
        The long attribute table.
    usage
        Per-account aggregates (activity, hours, templates, IP usage).
    params
        :class:`ScoreParams`.
    """
    labels = pl.DataFrame(
        {S.ACCOUNT_ID: graph.account_ids, LABEL: pl.Series(membership, dtype=pl.Int64)}
    ).with_row_index(ACCOUNT_INDEX)
    sizes = labels.group_by(LABEL).agg(
        pl.len().alias(SIZE), pl.col(S.ACCOUNT_ID).min().alias(MIN_ACCOUNT)
    )
    labels = labels.join(sizes, on=LABEL).with_columns(
        pl.when(pl.col(SIZE) >= 2).then(pl.col(LABEL)).alias(LABEL)
    )
    clustered = labels.filter(pl.col(LABEL).is_not_null()).select(
        S.ACCOUNT_ID, ACCOUNT_INDEX, LABEL
    )

    shared = _shared_values(clustered, graph)
    signals = _signals(clustered, graph, attributes, shared, usage, params)
    weights = params.weights
    contributions = (
        signals.unpivot(index=LABEL, variable_name=SIGNAL, value_name=SIGNAL_VALUE)
        .with_columns(
            pl.col(SIGNAL)
            .replace_strict(weights, default=0.0, return_dtype=pl.Float64)
            .alias(WEIGHT),
        )
        .with_columns(
            pl.col(SIGNAL_VALUE).round(6),
            pl.when(pl.col(SIGNAL_VALUE).round(6) == 0)
            .then(0.0)  # a zero, never -0.0
            .otherwise((pl.col(WEIGHT) * pl.col(SIGNAL_VALUE).round(6)).round(6))
            .alias(CONTRIBUTION),
        )
    )
    # The score is the sum of the contributions exactly as stored (so the table adds up).
    totals = contributions.group_by(LABEL).agg(
        pl.col(CONTRIBUTION).sum().clip(0.0, 1.0).round(6).alias(S.CLUSTER_SCORE)
    )
    activity = usage.activity.join(clustered.select(S.ACCOUNT_ID, LABEL), on=S.ACCOUNT_ID)
    cluster_table = (
        sizes.filter(pl.col(SIZE) >= 2)
        .join(totals, on=LABEL, how="left")
        .join(
            activity.group_by(LABEL).agg(
                pl.col(N_EXCHANGES).sum().alias(EXCHANGES),
                pl.col(FIRST_SEEN).min().alias(FIRST_ACTIVITY),
                pl.col(LAST_SEEN).max().alias(LAST_ACTIVITY),
            ),
            on=LABEL,
            how="left",
        )
        .with_columns(pl.col(S.CLUSTER_SCORE).fill_null(0.0))
        .join(
            signals.select(
                LABEL,
                pl.max_horizontal("volume", "round_the_clock", "template_concentration").alias(
                    "_automation"
                ),
            ),
            on=LABEL,
            how="left",
        )
        .with_columns(
            (
                (pl.col(S.CLUSTER_SCORE) >= params.flag_threshold)
                & (pl.col(SIZE) >= params.min_flag_size)
                & (pl.col("_automation").fill_null(0.0) >= params.min_automation)
            ).alias(S.FLAGGED)
        )
        .drop("_automation")
        .sort([S.CLUSTER_SCORE, SIZE, MIN_ACCOUNT], descending=[True, True, False])
        .with_row_index(S.CLUSTER_ID, offset=1)
        .with_columns(pl.col(S.CLUSTER_ID).cast(pl.Int64))
    )
    ids = cluster_table.select(LABEL, S.CLUSTER_ID)

    members = (
        labels.select(S.ACCOUNT_ID, LABEL)
        .join(
            cluster_table.select(LABEL, S.CLUSTER_ID, S.CLUSTER_SCORE, S.FLAGGED),
            on=LABEL,
            how="left",
        )
        .select(
            S.ACCOUNT_ID,
            S.CLUSTER_ID,
            pl.col(S.CLUSTER_SCORE).fill_null(0.0),
            pl.col(S.FLAGGED).fill_null(False),
        )
        .sort(S.ACCOUNT_ID)
    )
    contributions = (
        contributions.join(ids, on=LABEL)
        .select(S.CLUSTER_ID, SIGNAL, SIGNAL_VALUE, WEIGHT, CONTRIBUTION)
        .sort(
            S.CLUSTER_ID,
            pl.col(SIGNAL).replace_strict({s: i for i, s in enumerate(SIGNALS)}, default=99),
        )
    )
    evidence = _evidence(shared, graph, params).join(ids, on=LABEL).drop(LABEL)
    evidence = evidence.select(
        S.CLUSTER_ID,
        S.ATTRIBUTE_KIND,
        S.VALUE,
        ACCOUNTS_IN_CLUSTER,
        ACCOUNTS_OUTSIDE,
        WEIGHT,
        "hub_action",
        S.N_EVENTS,
    ).sort(
        S.CLUSTER_ID,
        S.ATTRIBUTE_KIND,
        ACCOUNTS_IN_CLUSTER,
        S.VALUE,
        descending=[False, False, True, False],
    )
    wide = contributions.pivot(on=SIGNAL, index=S.CLUSTER_ID, values=SIGNAL_VALUE)
    clusters = (
        cluster_table.drop(LABEL, MIN_ACCOUNT)
        .join(wide, on=S.CLUSTER_ID, how="left")
        .join(_summaries(evidence, contributions, cluster_table), on=S.CLUSTER_ID, how="left")
        .sort(S.CLUSTER_ID)
    )
    leading = [
        S.CLUSTER_ID,
        SIZE,
        S.CLUSTER_SCORE,
        S.FLAGGED,
        EXCHANGES,
        FIRST_ACTIVITY,
        LAST_ACTIVITY,
        SUMMARY,
    ]
    clusters = clusters.select(*leading, *[c for c in clusters.columns if c not in leading])
    return Scored(
        members=members, clusters=clusters, contributions=contributions, evidence=evidence
    )


def _signals(
    clustered: pl.DataFrame,
    graph: AccountGraph,
    attributes: pl.DataFrame,
    shared: pl.DataFrame,
    usage: Usage,
    params: ScoreParams,
) -> pl.DataFrame:
    """One row per cluster label, one column per signal, each in 0..1."""
    by_label = clustered.select(S.ACCOUNT_ID, LABEL)
    size = by_label.group_by(LABEL).agg(pl.len().alias(SIZE))

    # evidence: internal weight per member and diversity of kinds held by half the members.
    index_label = clustered.select(ACCOUNT_INDEX, LABEL)
    internal = (
        graph.edges.join(index_label.rename({ACCOUNT_INDEX: SOURCE}), on=SOURCE)
        .join(index_label.rename({ACCOUNT_INDEX: TARGET, LABEL: "_l2"}), on=TARGET)
        .filter(pl.col(LABEL) == pl.col("_l2"))
        .group_by(LABEL)
        .agg(pl.col(WEIGHT).sum().alias("_w"))
    )
    diversity = (
        shared.join(size, on=LABEL)
        .filter(pl.col(ACCOUNTS_IN_CLUSTER) * 2 >= pl.col(SIZE))
        .join(graph.values.select(VALUE_INDEX, S.ATTRIBUTE_KIND), on=VALUE_INDEX)
        .group_by(LABEL)
        .agg(pl.col(S.ATTRIBUTE_KIND).n_unique().alias("_kinds"))
    )
    evidence = (
        size.join(internal, on=LABEL, how="left")
        .join(diversity, on=LABEL, how="left")
        .select(
            LABEL,
            (
                0.5
                * (
                    1.0
                    - (
                        -(2.0 * pl.col("_w").fill_null(0.0) / pl.col(SIZE))
                        / params.evidence_per_member
                    ).exp()
                )
                + 0.5 * (pl.col("_kinds").fill_null(0) / 4.0).clip(0.0, 1.0)
            ).alias("evidence"),
        )
    )

    accounts = usage.accounts.select(
        S.ACCOUNT_ID, S.CREATED_AT, *([S.ORG_ID] if S.ORG_ID in usage.accounts.columns else [])
    )
    if S.ORG_ID not in accounts.columns:
        accounts = accounts.with_columns(pl.lit(None, pl.String).alias(S.ORG_ID))
    act = (
        by_label.join(usage.activity, on=S.ACCOUNT_ID, how="left")
        .join(accounts, on=S.ACCOUNT_ID, how="left")
        .with_columns(
            ((pl.col(FIRST_SEEN) - pl.col(S.CREATED_AT)).dt.total_seconds() / 86400.0).alias(
                "_age"
            ),
            (pl.col(N_EXCHANGES) / pl.col(ACTIVE_DAYS).fill_null(1).clip(1, None)).alias(
                "_per_day"
            ),
        )
    )
    n_cap = pl.col(f"n_{CODING}") + pl.col(f"n_{AGENTIC}") + pl.col(f"n_{REASONING}")
    per_cluster = act.group_by(LABEL).agg(
        (pl.col("_age") < params.new_account_days).sum().alias("_new"),
        pl.col("_age").is_not_null().sum().alias("_aged"),
        pl.col("_per_day").median().alias("_per_day"),
        n_cap.sum().alias("_cap"),
        pl.col(N_EXCHANGES).sum().alias("_n"),
        pl.col(S.ORG_ID).drop_nulls().mode().first().alias("_org"),
        pl.col(S.CREATED_AT).drop_nulls().sort().alias("_created"),
    )
    org_share = (
        act.join(per_cluster.select(LABEL, "_org"), on=LABEL)
        .group_by(LABEL)
        .agg(
            ((pl.col(S.ORG_ID) == pl.col("_org")).fill_null(False).sum() / pl.len()).alias(
                "declared_organisation"
            )
        )
    )
    burst_hours = params.burst_hours

    def burst(created: list) -> float:
        if len(created) < 2:
            return 0.0
        best, lo = 1, 0
        for hi in range(len(created)):
            while (created[hi] - created[lo]).total_seconds() > burst_hours * 3600:
                lo += 1
            best = max(best, hi - lo + 1)
        return (best - 1) / (len(created) - 1)

    per_cluster = per_cluster.with_columns(
        pl.col("_created").map_elements(burst, return_dtype=pl.Float64).alias("signup_burst")
    )

    hours = (
        usage.hours.join(by_label, on=S.ACCOUNT_ID)
        .group_by(LABEL, HOUR)
        .agg(pl.col(S.N_EVENTS).sum())
    )
    night = {
        label: _quietest_share([float(h.get(i, 0.0)) for i in range(24)])
        for label, h in (
            (lab, dict(zip(sub[HOUR].to_list(), sub[S.N_EVENTS].to_list())))
            for (lab,), sub in hours.partition_by(LABEL, as_dict=True).items()
        )
    }
    round_the_clock = pl.DataFrame(
        {LABEL: list(night), "round_the_clock": [min(1.0, v * 3.0) for v in night.values()]},
        schema={LABEL: pl.Int64, "round_the_clock": pl.Float64},
    )

    # Template rows come from the attribute table (the prompt_template kind), which holds
    # the same (account, band, n_events) rows as Usage.templates.
    template_values = graph.values.filter(pl.col(S.ATTRIBUTE_KIND) == PROMPT_TEMPLATE_KIND).select(
        VALUE_INDEX
    )
    shared_templates = shared.join(template_values, on=VALUE_INDEX)
    all_band_events = (
        attributes.lazy()
        .filter(pl.col(S.ATTRIBUTE_KIND) == PROMPT_TEMPLATE_KIND)
        .group_by(S.ACCOUNT_ID)
        .agg(pl.col(S.N_EVENTS).sum().alias("_all"))
        .join(by_label.lazy(), on=S.ACCOUNT_ID)
        .group_by(LABEL)
        .agg(pl.col("_all").sum())
        .collect()
    )
    template_share = (
        shared_templates.group_by(LABEL)
        .agg(pl.col(S.N_EVENTS).sum().alias("_shared"))
        .join(all_band_events, on=LABEL)
        .select(
            LABEL,
            (
                pl.col("_shared")
                / pl.col("_all")
                * (pl.col("_all") / params.min_template_events).clip(None, 1.0)
            )
            .clip(0.0, 1.0)
            .alias("template_concentration"),
        )
    )

    rotation = (
        usage.ip_usage.join(by_label, on=S.ACCOUNT_ID)
        .group_by(LABEL, S.ACCOUNT_ID)
        .agg(pl.col("ip_range").n_unique().alias("_ranges"))
        .group_by(LABEL)
        .agg(pl.col("_ranges").median().alias("_ranges"))
        .select(LABEL, ((pl.col("_ranges") - 1.0) / 9.0).clip(0.0, 1.0).alias("proxy_rotation"))
    )

    out = (
        size.select(LABEL)
        .join(evidence, on=LABEL, how="left")
        .join(
            per_cluster.select(
                LABEL,
                pl.when(pl.col("_aged") > 0)
                .then(pl.col("_new") / pl.col("_aged"))
                .otherwise(0.0)
                .alias("new_accounts"),
                "signup_burst",
                (pl.col("_per_day").fill_null(0.0).log1p() / math.log1p(100.0))
                .clip(0.0, 1.0)
                .alias("volume"),
                pl.when(pl.col("_n") > 0)
                .then(pl.col("_cap") / pl.col("_n"))
                .otherwise(0.0)
                .alias("capability_targeting"),
            ),
            on=LABEL,
            how="left",
        )
        .join(round_the_clock, on=LABEL, how="left")
        .join(template_share, on=LABEL, how="left")
        .join(rotation, on=LABEL, how="left")
        .join(org_share, on=LABEL, how="left")
        .with_columns(pl.exclude(LABEL).cast(pl.Float64).fill_null(0.0))
        .select(LABEL, *SIGNALS)
        .sort(LABEL)
    )
    return out


def _shared_values(clustered: pl.DataFrame, graph: AccountGraph) -> pl.DataFrame:
    """``LABEL, value_index, accounts_in_cluster, n_events`` for values two or more members hold.

    Read from the graph's integer incidence (values held by a single account are
    not in it, and cannot be shared inside a cluster anyway).
    """
    return (
        graph.incidence.lazy()
        .select(ACCOUNT_INDEX, VALUE_INDEX, S.N_EVENTS)
        .join(clustered.lazy().select(ACCOUNT_INDEX, LABEL), on=ACCOUNT_INDEX)
        .group_by(LABEL, VALUE_INDEX)
        .agg(pl.len().alias(ACCOUNTS_IN_CLUSTER), pl.col(S.N_EVENTS).sum().alias(S.N_EVENTS))
        .filter(pl.col(ACCOUNTS_IN_CLUSTER) >= 2)
        .collect()
    )


def _evidence(shared: pl.DataFrame, graph: AccountGraph, params: ScoreParams) -> pl.DataFrame:
    """Values held by two or more members of a cluster, with how many outside hold them.

    Value ids follow (kind, value) order, so sorting by id is sorting by value.
    """
    values = graph.values.select(
        VALUE_INDEX,
        S.ATTRIBUTE_KIND,
        S.VALUE,
        N_ACCOUNTS,
        VALUE_WEIGHT,
        "hub_action",
        pl.col(S.ATTRIBUTE_KIND).rank("dense").alias("_kind"),
    )
    inside = (
        shared.join(values.select(VALUE_INDEX, "_kind"), on=VALUE_INDEX)
        .sort(
            LABEL, "_kind", ACCOUNTS_IN_CLUSTER, VALUE_INDEX, descending=[False, False, True, False]
        )
        .filter(pl.int_range(pl.len()).over(LABEL, "_kind") < params.evidence_max_per_kind)
        .drop("_kind")
    )
    return (
        inside.join(values.drop("_kind"), on=VALUE_INDEX)
        .with_columns((pl.col(N_ACCOUNTS) - pl.col(ACCOUNTS_IN_CLUSTER)).alias(ACCOUNTS_OUTSIDE))
        .drop(N_ACCOUNTS, VALUE_INDEX)
        .rename({VALUE_WEIGHT: WEIGHT})
    )


_KIND_PHRASES = {
    "payment": "payment fingerprints",
    "device": "devices",
    "ip": "IP addresses",
    "ip_range": "IP ranges",
    "email": "mailboxes",
    "email_domain": "email domains",
    "email_shape": "email patterns",
    "prompt_template": "prompt templates",
    "signup_burst": "signup bursts",
    "co_activity": "co-active windows",
}


def _summaries(
    evidence: pl.DataFrame, contributions: pl.DataFrame, clusters: pl.DataFrame
) -> pl.DataFrame:
    """One line per cluster: the shared values by kind, then the strongest behaviour signals."""
    kinds = (
        evidence.group_by(S.CLUSTER_ID, S.ATTRIBUTE_KIND)
        .agg(pl.len().alias("_k"), pl.col(ACCOUNTS_IN_CLUSTER).max().alias("_top"))
        .sort(S.CLUSTER_ID, "_top", S.ATTRIBUTE_KIND, descending=[False, True, False])
    )
    top_signals = (
        contributions.filter(pl.col(CONTRIBUTION) > 0.05)
        .sort(S.CLUSTER_ID, CONTRIBUTION, SIGNAL, descending=[False, True, False])
        .group_by(S.CLUSTER_ID, maintain_order=True)
        .head(3)
    )
    kind_text: dict[int, list[str]] = {}
    for cid, kind, k, top in kinds.iter_rows():
        if len(kind_text.setdefault(cid, [])) < 3:
            kind_text[cid].append(
                f"{k} shared {_KIND_PHRASES.get(kind, kind)} (up to {top} accounts)"
            )
    signal_text: dict[int, list[str]] = {}
    for cid, signal, value in top_signals.select(S.CLUSTER_ID, SIGNAL, SIGNAL_VALUE).iter_rows():
        signal_text.setdefault(cid, []).append(f"{signal.replace('_', ' ')} {value:.2f}")
    rows = []
    for cid, size in clusters.select(S.CLUSTER_ID, SIZE).iter_rows():
        parts = [f"{size} accounts"] + kind_text.get(cid, []) + signal_text.get(cid, [])
        rows.append((cid, "; ".join(parts)))
    return pl.DataFrame(rows, schema={S.CLUSTER_ID: pl.Int64, SUMMARY: pl.String}, orient="row")
