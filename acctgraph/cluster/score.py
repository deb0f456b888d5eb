"""Cluster signals, the score as a sum of named contributions, and the evidence table.

Sharing alone is not suspicious: families share a card and a home, companies
share an office and a domain, automation shares templates. The score therefore
rests on *behaviour* that separates an operation from such groups. Each signal
is a number in [0, 1] computed by the function of the same name below, with
its constants in :class:`ScoreParams`:

==========================  ======================================================
signal                      what it measures
==========================  ======================================================
``evidence``                strength and diversity of what members share:
                            ``evidence_link_share × (1 - exp(-d / evidence_per_member))
                            + (1 - evidence_link_share) × min(1, k / evidence_full_kinds)``,
                            where ``d`` is the members' mean weighted degree inside the
                            cluster (2 × the summed weight of internal edges / size) and
                            ``k`` the number of kinds with a value held by at least
                            ``evidence_holder_share`` of the members (and by two or more)
``new_accounts``            share of members (with a creation time and activity) first
                            active less than ``new_account_days`` after creation
                            (operators use fresh accounts)
``signup_burst``            ``(n - 1) / (m - 1)``: ``n`` the most members created within
                            ``burst_hours`` of one another, ``m`` the members with a
                            creation time (0 when ``m < 2``)
``volume``                  ``min(1, log1p(v) / log1p(volume_saturation))``, ``v`` the
                            median over members of exchanges per active day
``round_the_clock``         ``min(1, q × 24 / quiet_window_hours)``, ``q`` the share of the
                            cluster's events in its quietest ``quiet_window_hours``
                            consecutive hours of the day (wrapping at midnight): 1 when
                            traffic is as heavy in that window as on average, 0 when
                            the window is empty (people sleep; scripts do not)
``template_concentration``  ``min(1, s / e × min(1, e / min_template_events))``: ``e``
                            the members' prompt-template events in the attribute
                            table, ``s`` those on template values that two or more
                            members hold in the graph (repetition needs traffic to
                            be evidence)
``capability_targeting``    share of exchanges eliciting code, agentic tool use or
                            step-by-step reasoning (what distillation harvests)
``proxy_rotation``          ``min(1, (r - 1) / (proxy_rotation_ranges - 1))``, ``r`` the
                            median over members of their distinct IP ranges
                            (residential proxy pools rotate; homes and offices do not)
``declared_organisation``   share of members in the cluster's most common declared
                            enterprise ``org_id`` (a contract, not a throwaway)
``behaviour``               behaviour cohorts only (:mod:`acctgraph.cluster.cohort`), 0
                            for every other cluster: ``min(1, (c - 1) /
                            (behaviour_full_contrast - 1))``, ``c`` the ratio of the
                            members' median share of their signature prompt to its
                            other holders' share (scripts repeat; people vary)
==========================  ======================================================

``cluster_score = clip(Σ weight × signal, 0, 1)``, summed over the contributions
as stored (each rounded to six decimals), so the table adds up. With the default
``weights`` the positive weights other than ``behaviour`` sum to 1.0,
``behaviour`` (which only a behaviour cohort has) weighs 0.2 on top, and
``declared_organisation`` weighs -0.6: a cluster inside one declared organisation loses most of its
score. A cluster is ``flagged`` when its score reaches ``flag_threshold``, it
has at least ``min_flag_size`` members, and it behaves like automation: at
least one of ``volume``, ``round_the_clock``, ``template_concentration`` and
``behaviour`` reaches ``min_automation``. An operation at scale must automate; a family of
new accounts that writes code, or an office onboarded in one morning, does not.
A cluster of established accounts (``new_accounts`` below
``established_new_accounts``) whose traffic hardly asks for the capabilities
distillation harvests (``capability_targeting`` below
``established_capability``) is not flagged at any score: that is a customer's
own batch automation (its summary says so), not a distillation operation.
A cluster that scores lower, down to ``capability_flag_threshold``, is flagged
when it is larger than a household (``capability_flag_size``), automates, and
aims a good part of its traffic at the capabilities distillation harvests
(``capability_flag_share``): a careful operation with a user's volume, office
hours and paraphrased prompts scores 0.3-0.42, and the legitimate groups that
score as much (batch automation, households, developers' pairs) are small or
hardly ask for code, tools or reasoning.

Only communities of two or more accounts are clusters. The contributions are a
table (:attr:`Scored.contributions`) that every view renders; nothing
downstream recomputes them.

Examples
--------
>>> params = ScoreParams(quiet_window_hours=6)
>>> hours = pl.DataFrame({"_label": [0] * 24, "hour": range(24), "n_events": [5] * 24})
>>> round_the_clock(hours, params=params)["round_the_clock"].to_list()
[1.0]
>>> office = hours.with_columns(pl.when(pl.col("hour").is_between(9, 16)).then(5).otherwise(0).alias("n_events"))
>>> round_the_clock(office, params=params)["round_the_clock"].to_list()
[0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import polars as pl

from acctgraph.cluster.merge import MERGED_INTO
from acctgraph.cluster.split import SPLIT_FROM
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.core.textsafe import cap
from acctgraph.features.base import (
    ACTIVE_DAYS,
    FIRST_SEEN,
    HOUR,
    LAST_SEEN,
    N_EXCHANGES,
    Usage,
    join_accounts,
)
from acctgraph.features.ip import IP_RANGE  # the range column of Usage.ip_usage
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
CAPABILITY_COUNTS = tuple(f"n_{c}" for c in (CODING, AGENTIC, REASONING))  # Usage.activity
DECIMALS = 6  # signal values, contributions and scores are stored rounded to this
HOURS_PER_DAY = 24

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
    "behaviour": 0.2,
}
SIGNALS = tuple(SIGNAL_WEIGHTS)
AUTOMATION_SIGNALS = ("volume", "round_the_clock", "template_concentration", "behaviour")


@dataclass(frozen=True, kw_only=True)
class ScoreParams:
    """Scoring parameters: the signals' constants, their weights and when a cluster is flagged.

    Parameters
    ----------
    weights
        Weight of each signal in the score (missing signals weigh 0). Default: the
        positive weights sum to 1.0 and ``declared_organisation`` weighs -0.6.
    flag_threshold
        Least score of a flagged cluster, in [0, 1]. Default 0.42.
    min_flag_size
        Fewest members of a flagged cluster, at least 2 (every cluster has two). Default 3.
    min_automation
        Least value, in [0, 1], that one of ``volume``, ``round_the_clock`` and
        ``template_concentration`` must reach for the cluster to be flagged. Default 0.3.
    capability_flag_threshold
        A cluster scoring below ``flag_threshold`` is flagged too when its score
        reaches this, it has at least ``capability_flag_size`` members and its
        ``capability_targeting`` reaches ``capability_flag_share`` (and it
        behaves like automation). In [0, 1]; at ``flag_threshold`` or above it
        adds nothing. Default 0.3.
    capability_flag_size
        Fewest members of a cluster flagged by ``capability_flag_threshold``. At
        least 2. Default 8.
    capability_flag_share
        Least ``capability_targeting`` of a cluster flagged by
        ``capability_flag_threshold``, in [0, 1]. Default 0.3.
    established_new_accounts, established_capability
        A cluster whose ``new_accounts`` is below the first and whose
        ``capability_targeting`` is below the second is never flagged (a
        customer's batch automation). Both in [0, 1]; 0 switches the rule off.
        Defaults 0.1 and 0.1.
    min_template_events
        Template events a cluster needs for ``template_concentration`` to count in
        full; below it the signal shrinks in proportion. At least 1. Default 50.
    new_account_days
        ``new_accounts``: a member is new when first active less than this many
        days after its creation. Positive. Default 30.0.
    burst_hours
        ``signup_burst``: members created within this many hours of one another
        form a burst. Positive. Default 24.0.
    evidence_per_member
        ``evidence``: mean internal weighted degree at which the link part reaches
        1 - 1/e. Positive. Default 2.0.
    evidence_max_per_kind
        Shared values listed in the evidence table per cluster and kind (the most
        widely held first). At least 1. Default 50.
    evidence_holder_share
        ``evidence``: a kind counts towards diversity when one of its values is
        held by at least this share of the members, in (0, 1]. Default 0.5.
    evidence_full_kinds
        ``evidence``: number of such kinds at which the diversity part reaches 1.
        At least 1. Default 4.
    evidence_link_share
        ``evidence``: weight of the link part; the diversity part weighs the rest.
        In [0, 1]. Default 0.5.
    volume_saturation
        ``volume``: median exchanges per member per active day at which the
        signal reaches 1 (log scale). Positive. Default 100.0.
    quiet_window_hours
        ``round_the_clock``: length of the quietest window of the day, whole hours
        from 1 to 23 (24 would always give 1). Default 8.
    proxy_rotation_ranges
        ``proxy_rotation``: median distinct IP ranges per member at which the
        signal reaches 1 (one range gives 0). Above 1. Default 10.0.
    summary_kinds
        Kinds of shared values named in a cluster's ``summary`` (the most widely
        held first). At least 0. Default 3.
    summary_signals
        Signals named in a cluster's ``summary`` (the largest contributions
        first), from 0 to the number of signals. Default 3.
    summary_min_contribution
        A signal is named in the ``summary`` only when its contribution exceeds
        this, in [0, 1]. Default 0.05.
    behaviour_full_contrast
        ``behaviour``: the contrast (members' share of their signature prompt over
        its other holders') at which the signal reaches 1. Above 1. Default 5.0.

    Raises
    ------
    ConfigError
        For an unknown signal in ``weights`` or a value out of its range.
    """

    weights: dict[str, float] = field(default_factory=lambda: dict(SIGNAL_WEIGHTS))
    flag_threshold: float = 0.42
    min_flag_size: int = 3
    min_automation: float = 0.3
    capability_flag_threshold: float = 0.3
    capability_flag_size: int = 8
    capability_flag_share: float = 0.3
    established_new_accounts: float = 0.1
    established_capability: float = 0.1
    min_template_events: int = 50
    new_account_days: float = 30.0
    burst_hours: float = 24.0
    evidence_per_member: float = 2.0
    evidence_max_per_kind: int = 50
    evidence_holder_share: float = 0.5
    evidence_full_kinds: int = 4
    evidence_link_share: float = 0.5
    volume_saturation: float = 100.0
    quiet_window_hours: int = 8
    proxy_rotation_ranges: float = 10.0
    summary_kinds: int = 3
    summary_signals: int = 3
    summary_min_contribution: float = 0.05
    behaviour_full_contrast: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"score.{f.name} must be a whole number, got {value!r}")
            if f.type == "float" and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise ConfigError(f"score.{f.name} must be a number, got {value!r}")
        unknown = set(self.weights) - set(SIGNALS)
        if unknown:
            raise ConfigError(
                f"score.weights: unknown signals {sorted(unknown)}; known: {list(SIGNALS)}"
            )
        for name, weight in self.weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise ConfigError(f"score.weights.{name} must be a number, got {weight!r}")
            if not math.isfinite(weight):
                raise ConfigError(f"score.weights.{name} must be a finite number, got {weight}")
        checks: list[tuple[str, bool, str]] = [
            ("flag_threshold", 0.0 <= self.flag_threshold <= 1.0, "in [0, 1]"),
            ("min_flag_size", self.min_flag_size >= 2, "at least 2"),
            ("min_automation", 0.0 <= self.min_automation <= 1.0, "in [0, 1]"),
            (
                "capability_flag_threshold",
                0.0 <= self.capability_flag_threshold <= 1.0,
                "in [0, 1]",
            ),
            ("capability_flag_size", self.capability_flag_size >= 2, "at least 2"),
            ("capability_flag_share", 0.0 <= self.capability_flag_share <= 1.0, "in [0, 1]"),
            (
                "established_new_accounts",
                0.0 <= self.established_new_accounts <= 1.0,
                "in [0, 1]",
            ),
            ("established_capability", 0.0 <= self.established_capability <= 1.0, "in [0, 1]"),
            ("min_template_events", self.min_template_events >= 1, "at least 1"),
            ("new_account_days", self.new_account_days > 0, "positive"),
            ("burst_hours", self.burst_hours > 0, "positive"),
            ("evidence_per_member", self.evidence_per_member > 0, "positive"),
            ("evidence_max_per_kind", self.evidence_max_per_kind >= 1, "at least 1"),
            ("evidence_holder_share", 0.0 < self.evidence_holder_share <= 1.0, "in (0, 1]"),
            ("evidence_full_kinds", self.evidence_full_kinds >= 1, "at least 1"),
            ("evidence_link_share", 0.0 <= self.evidence_link_share <= 1.0, "in [0, 1]"),
            ("volume_saturation", self.volume_saturation > 0, "positive"),
            ("quiet_window_hours", 1 <= self.quiet_window_hours < HOURS_PER_DAY, "from 1 to 23"),
            ("proxy_rotation_ranges", self.proxy_rotation_ranges > 1, "above 1"),
            ("summary_kinds", self.summary_kinds >= 0, "at least 0"),
            (
                "summary_signals",
                0 <= self.summary_signals <= len(SIGNALS),
                f"from 0 to {len(SIGNALS)} (the number of signals)",
            ),
            (
                "summary_min_contribution",
                0.0 <= self.summary_min_contribution <= 1.0,
                "in [0, 1]",
            ),
            ("behaviour_full_contrast", self.behaviour_full_contrast > 1, "above 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"score.{name} must be {expected}, got {getattr(self, name)!r}")


@dataclass
class Scored:
    """Output tables of the scoring stage.

    Attributes
    ----------
    members
        ``account_id, cluster_id, cluster_score, flagged``: every account, sorted
        by account (``cluster_id`` null outside clusters).
    clusters
        ``cluster_id, size, cluster_score, flagged, exchanges, first_activity,
        last_activity, summary`` and one column per signal, sorted by ``cluster_id``:
        an operation id (``op-000001``), inherited from an earlier run or numbered by
        score, then size, then smallest account.
    contributions
        ``cluster_id, signal, signal_value, weight, contribution``: one row per
        cluster and signal; a cluster's contributions sum to its score before clipping.
    evidence
        ``cluster_id, attribute_kind, value, accounts_in_cluster, accounts_outside,
        weight, hub_action, n_events``: values two or more members hold (at most
        ``evidence_max_per_kind`` per cluster and kind).
    """

    members: pl.DataFrame
    clusters: pl.DataFrame
    contributions: pl.DataFrame
    evidence: pl.DataFrame


def score_clusters(
    membership: list[int],
    graph: AccountGraph,
    attributes: pl.DataFrame,
    usage: Usage,
    *,
    params: ScoreParams,
    cohorts: pl.DataFrame | None = None,
    splits: pl.DataFrame | None = None,
    merges: pl.DataFrame | None = None,
    names: pl.DataFrame | None = None,
    first_number: int = 1,
) -> Scored:
    """Score every community of two or more accounts and build the output tables.

    Parameters
    ----------
    membership
        Community label per vertex of ``graph`` (from :mod:`acctgraph.cluster.detect`).
    graph
        The :class:`~acctgraph.graph.AccountGraph` the communities were found on.
    attributes
        The long attribute table, keyed by ``account_id`` or by ``account_index`` (positions
        in ``graph.account_ids``).
    usage
        Per-account aggregates (activity, hours, templates, IP usage).
    params
        :class:`ScoreParams`.
    cohorts
        :attr:`Cohorts.table <acctgraph.cluster.cohort.Cohorts>`: the labels that are
        behaviour cohorts and their figures (the ``behaviour`` signal and the
        summary's first phrase); ``None`` when there are none.
    splits
        :attr:`Split.table <acctgraph.cluster.split.Split>`: the labels that are parts of
        a cluster cut by behaviour (a phrase of the summary); ``None`` when there are none.
    merges
        :attr:`Merge.table <acctgraph.cluster.merge.Merge>`: the flagged clusters merged
        into one operation by behaviour (a phrase of the summary); ``None`` when none were.
    names
        ``label, cluster_id``: labels that keep an operation id of an earlier run
        (:func:`acctgraph.cluster.track.match_operations`); ``None``: none do.
    first_number
        The number of the first new operation id (``op-000001`` by default); the others
        follow in order of score, then size, then smallest account.

    Returns
    -------
    Scored
        The members, clusters, contributions and evidence tables.
    """
    labels, sizes = _labels(membership, graph)
    clustered = labels.filter(pl.col(LABEL).is_not_null()).select(
        S.ACCOUNT_ID, ACCOUNT_INDEX, LABEL
    )
    shared = _shared_values(clustered, graph)
    cohorts = _empty_cohorts() if cohorts is None else cohorts
    signals = _signals(clustered, graph, attributes, shared, usage, params, cohorts)
    contributions = _contributions(signals, params.weights)
    cluster_table = _cluster_table(
        sizes, contributions, signals, clustered, usage, params, names, first_number
    )
    ids = cluster_table.select(LABEL, S.CLUSTER_ID)
    contributions = _numbered_contributions(contributions, ids)
    evidence_table = _evidence_table(shared, graph, ids, params)
    return Scored(
        members=_members(labels, cluster_table),
        clusters=_clusters(
            cluster_table,
            contributions,
            evidence_table,
            params,
            _tie_phrases(
                _behaviour_phrases(cohorts, ids),
                _split_phrases(splits, ids),
                _merge_phrases(merges, ids),
                _link_phrases(clustered, graph, ids),
            ),
        ),
        contributions=contributions,
        evidence=evidence_table,
    )


def _labels(membership: list[int], graph: AccountGraph) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every account with its community label (null when alone), and each community's size.

    ``labels``: ``account_id, account_index, label, size, _min_account``; ``sizes``:
    ``label, size, _min_account`` (the smallest account id, a tie-breaker for numbering).
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
    return labels, sizes.filter(pl.col(SIZE) >= 2)


def _signals(
    clustered: pl.DataFrame,
    graph: AccountGraph,
    attributes: pl.DataFrame,
    shared: pl.DataFrame,
    usage: Usage,
    params: ScoreParams,
    cohorts: pl.DataFrame,
) -> pl.DataFrame:
    """One row per cluster label, one column per signal (in :data:`SIGNALS` order), each in 0..1."""
    by_label = clustered.select(S.ACCOUNT_ID, LABEL)
    size = by_label.group_by(LABEL).agg(pl.len().alias(SIZE))
    members = _member_activity(by_label, usage)
    parts = [
        evidence(
            size,
            _internal_edges(clustered, graph),
            _shared_kinds(shared, graph),
            params=params,
        ),
        new_accounts(members, params=params),
        signup_burst(members, params=params),
        volume(members, params=params),
        round_the_clock(usage.hours.join(by_label, on=S.ACCOUNT_ID), params=params),
        template_concentration(
            _shared_of_kind(shared, graph, PROMPT_TEMPLATE_KIND),
            _template_events(attributes, clustered),
            params=params,
        ),
        capability_targeting(members),
        proxy_rotation(usage.ip_usage.join(by_label, on=S.ACCOUNT_ID), params=params),
        declared_organisation(members),
        behaviour(cohorts, params=params),
    ]
    out = size.select(LABEL)
    for part in parts:
        out = out.join(part, on=LABEL, how="left")
    return (
        out.with_columns(pl.exclude(LABEL).cast(pl.Float64).fill_null(0.0))
        .select(LABEL, *SIGNALS)
        .sort(LABEL)
    )


# --- inputs of the signals ---------------------------------------------------------------


def _member_activity(by_label: pl.DataFrame, usage: Usage) -> pl.DataFrame:
    """One row per member: its label, activity columns (:attr:`Usage.activity`), creation and org."""
    accounts = usage.accounts.select(
        S.ACCOUNT_ID, S.CREATED_AT, *([S.ORG_ID] if S.ORG_ID in usage.accounts.columns else [])
    )
    if S.ORG_ID not in accounts.columns:
        accounts = accounts.with_columns(pl.lit(None, pl.String).alias(S.ORG_ID))
    return by_label.join(usage.activity, on=S.ACCOUNT_ID, how="left").join(
        accounts, on=S.ACCOUNT_ID, how="left"
    )


def _internal_edges(clustered: pl.DataFrame, graph: AccountGraph) -> pl.DataFrame:
    """``label, weight``: the graph's edges whose two ends are in the same cluster."""
    index_label = clustered.select(ACCOUNT_INDEX, LABEL)
    return (
        graph.edges.join(index_label.rename({ACCOUNT_INDEX: SOURCE}), on=SOURCE)
        .join(index_label.rename({ACCOUNT_INDEX: TARGET, LABEL: "_l2"}), on=TARGET)
        .filter(pl.col(LABEL) == pl.col("_l2"))
        .select(LABEL, WEIGHT)
    )


def _shared_kinds(shared: pl.DataFrame, graph: AccountGraph) -> pl.DataFrame:
    """``label, attribute_kind, accounts_in_cluster``: the kind of each shared value."""
    return shared.join(graph.values.select(VALUE_INDEX, S.ATTRIBUTE_KIND), on=VALUE_INDEX).select(
        LABEL, S.ATTRIBUTE_KIND, ACCOUNTS_IN_CLUSTER
    )


def _shared_of_kind(shared: pl.DataFrame, graph: AccountGraph, kind: str) -> pl.DataFrame:
    """The rows of ``shared`` whose value is of ``kind``."""
    of_kind = graph.values.filter(pl.col(S.ATTRIBUTE_KIND) == kind).select(VALUE_INDEX)
    return shared.join(of_kind, on=VALUE_INDEX)


def _template_events(attributes: pl.DataFrame, clustered: pl.DataFrame) -> pl.DataFrame:
    """``label, n_events``: each cluster's prompt-template events in the attribute table.

    The attribute table's prompt_template rows are the same (account, band,
    n_events) rows as :attr:`Usage.templates`; only the members' rows are summed.
    ``clustered``: ``account_id, account_index, label`` of the members (the index is
    the graph's, as an attribute table keyed by ``account_index`` is).
    """
    return (
        join_accounts(
            attributes.lazy().filter(pl.col(S.ATTRIBUTE_KIND) == PROMPT_TEMPLATE_KIND),
            clustered.select(S.ACCOUNT_ID, ACCOUNT_INDEX, LABEL),
        )
        .group_by(LABEL)
        .agg(pl.col(S.N_EVENTS).sum())
        .collect()
    )


# --- one function per signal: each returns ``label, <signal>`` for the labels it can score ---


def evidence(
    size: pl.DataFrame,
    internal_edges: pl.DataFrame,
    shared_kinds: pl.DataFrame,
    *,
    params: ScoreParams,
) -> pl.DataFrame:
    """Strength and diversity of what members share.

    ``evidence_link_share × (1 - exp(-d / evidence_per_member)) + (1 -
    evidence_link_share) × min(1, k / evidence_full_kinds)``, ``d`` the mean
    weighted degree inside the cluster (2 × internal edge weight / size) and
    ``k`` the kinds with a value held by at least ``evidence_holder_share`` of
    the members.

    Parameters
    ----------
    size
        ``label, size``: every cluster.
    internal_edges
        ``label, weight``: edges inside a cluster.
    shared_kinds
        ``label, attribute_kind, accounts_in_cluster``: values two or more members hold.
    params
        :class:`ScoreParams`.
    """
    internal = internal_edges.group_by(LABEL).agg(pl.col(WEIGHT).sum().alias("_w"))
    diversity = (
        shared_kinds.join(size, on=LABEL)
        .filter(pl.col(ACCOUNTS_IN_CLUSTER) >= params.evidence_holder_share * pl.col(SIZE))
        .group_by(LABEL)
        .agg(pl.col(S.ATTRIBUTE_KIND).n_unique().alias("_kinds"))
    )
    link_share = params.evidence_link_share
    mean_degree = 2.0 * pl.col("_w").fill_null(0.0) / pl.col(SIZE)
    links = 1.0 - (-mean_degree / params.evidence_per_member).exp()
    kinds = (pl.col("_kinds").fill_null(0) / float(params.evidence_full_kinds)).clip(0.0, 1.0)
    return (
        size.join(internal, on=LABEL, how="left")
        .join(diversity, on=LABEL, how="left")
        .select(LABEL, (link_share * links + (1.0 - link_share) * kinds).alias("evidence"))
    )


def new_accounts(members: pl.DataFrame, *, params: ScoreParams) -> pl.DataFrame:
    """Share of members first active less than ``new_account_days`` after their creation.

    Members without a creation time or without activity are left out of the
    share; a cluster with none left scores 0.

    Parameters
    ----------
    members
        ``label, first_seen, created_at``: one row per member.
    params
        :class:`ScoreParams`.
    """
    age_days = (pl.col(FIRST_SEEN) - pl.col(S.CREATED_AT)).dt.total_seconds() / 86400.0
    return (
        members.with_columns(age_days.alias("_age"))
        .group_by(LABEL)
        .agg(
            (pl.col("_age") < params.new_account_days).sum().alias("_new"),
            pl.col("_age").is_not_null().sum().alias("_aged"),
        )
        .select(
            LABEL,
            pl.when(pl.col("_aged") > 0)
            .then(pl.col("_new") / pl.col("_aged"))
            .otherwise(0.0)
            .alias("new_accounts"),
        )
    )


def signup_burst(members: pl.DataFrame, *, params: ScoreParams) -> pl.DataFrame:
    """``(n - 1) / (m - 1)``: ``n`` the most members created within ``burst_hours`` of one another.

    ``m`` counts the members with a creation time; fewer than two give 0.

    Parameters
    ----------
    members
        ``label, created_at``: one row per member.
    params
        :class:`ScoreParams`.
    """
    span = int(params.burst_hours * 3600 * 1_000_000)  # microseconds
    created = (
        members.select(LABEL, pl.col(S.CREATED_AT).dt.epoch("us").alias("_t"))
        .drop_nulls("_t")
        .sort(LABEL, "_t")
    )
    label = created[LABEL].to_numpy()
    times = created["_t"].to_numpy()
    starts = np.flatnonzero(np.r_[True, label[1:] != label[:-1]]) if len(label) else label
    ends = np.r_[starts[1:], len(label)].astype(np.int64)
    share = np.zeros(len(starts))
    for k, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist())):
        if hi - lo < 2:
            continue
        seg = times[lo:hi]
        # the first member created within ``span`` before each member (two pointers, at once)
        first = np.searchsorted(seg, seg - span, side="left")
        most = int((np.arange(hi - lo) - first).max()) + 1
        share[k] = (most - 1) / (hi - lo - 1)
    found = pl.DataFrame(
        {LABEL: label[starts].astype(np.int64), "signup_burst": share},
        schema={LABEL: pl.Int64, "signup_burst": pl.Float64},
    )
    return (
        members.select(LABEL)
        .unique()
        .join(found, on=LABEL, how="left")
        .with_columns(pl.col("signup_burst").fill_null(0.0))
    )


def volume(members: pl.DataFrame, *, params: ScoreParams) -> pl.DataFrame:
    """``min(1, log1p(v) / log1p(volume_saturation))``, ``v`` the median exchanges per active day.

    Parameters
    ----------
    members
        ``label, n_exchanges, active_days``: one row per member (a member without
        active days counts one).
    params
        :class:`ScoreParams`.
    """
    per_day = pl.col(N_EXCHANGES) / pl.col(ACTIVE_DAYS).fill_null(1).clip(1, None)
    return (
        members.group_by(LABEL)
        .agg(per_day.median().alias("_per_day"))
        .select(
            LABEL,
            (pl.col("_per_day").fill_null(0.0).log1p() / math.log1p(params.volume_saturation))
            .clip(0.0, 1.0)
            .alias("volume"),
        )
    )


def round_the_clock(hours: pl.DataFrame, *, params: ScoreParams) -> pl.DataFrame:
    """``min(1, q × 24 / quiet_window_hours)``, ``q`` the share of events in the quietest window.

    The window is ``quiet_window_hours`` consecutive hours of the day (UTC,
    wrapping at midnight); evenly spread traffic gives 1, traffic that stops
    for the window every day gives 0.

    Parameters
    ----------
    hours
        ``label, hour, n_events``: events per member (or per cluster) and hour of the day.
    params
        :class:`ScoreParams`.
    """
    per_hour = hours.group_by(LABEL, HOUR).agg(pl.col(S.N_EVENTS).sum())
    labels, row = np.unique(per_hour[LABEL].to_numpy(), return_inverse=True)
    day = np.zeros((len(labels), HOURS_PER_DAY))
    day[row, per_hour[HOUR].to_numpy().astype(np.int64)] = per_hour[S.N_EVENTS].to_numpy()
    window = np.zeros_like(day)  # window[:, h]: events in hours h .. h + window - 1 (wrapping)
    for offset in range(params.quiet_window_hours):
        window += np.roll(day, -offset, axis=1)
    total = day.sum(axis=1)
    quiet = np.divide(window.min(axis=1), total, out=np.zeros(len(labels)), where=total > 0)
    scale = HOURS_PER_DAY / params.quiet_window_hours  # 1 / the window's share of uniform traffic
    return pl.DataFrame(
        {LABEL: labels, "round_the_clock": np.minimum(1.0, quiet * scale)},
        schema={LABEL: pl.Int64, "round_the_clock": pl.Float64},
    )


def template_concentration(
    shared_templates: pl.DataFrame, template_events: pl.DataFrame, *, params: ScoreParams
) -> pl.DataFrame:
    """``min(1, s / e × min(1, e / min_template_events))``: template events on shared bands.

    ``e`` is the members' template events, ``s`` those on bands two or more
    members hold; a cluster with fewer than ``min_template_events`` events is
    shrunk towards 0. Clusters without shared bands are absent (they score 0).

    Parameters
    ----------
    shared_templates
        ``label, n_events``: one row per band two or more members hold.
    template_events
        ``label, n_events``: the members' template events (any number of rows per label).
    params
        :class:`ScoreParams`.
    """
    all_events = template_events.group_by(LABEL).agg(pl.col(S.N_EVENTS).sum().alias("_all"))
    return (
        shared_templates.group_by(LABEL)
        .agg(pl.col(S.N_EVENTS).sum().alias("_shared"))
        .join(all_events, on=LABEL)
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


def behaviour(cohorts: pl.DataFrame, *, params: ScoreParams) -> pl.DataFrame:
    """``label, behaviour`` for the behaviour cohorts (the other clusters get 0).

    >>> table = pl.DataFrame({"_label": [3, 4], "contrast": [3.0, 40.0]})
    >>> behaviour(table, params=ScoreParams())["behaviour"].to_list()
    [0.5, 1.0]
    """
    full = params.behaviour_full_contrast
    return cohorts.select(
        LABEL,
        ((pl.col("contrast") - 1.0) / (full - 1.0)).clip(0.0, 1.0).alias("behaviour"),
    )


def _empty_cohorts() -> pl.DataFrame:
    return pl.DataFrame(schema={LABEL: pl.Int64, "contrast": pl.Float64})


def _link_phrases(clustered: pl.DataFrame, graph: AccountGraph, ids: pl.DataFrame) -> pl.DataFrame:
    """``cluster_id, _behaviour``: the record links inside each cluster (declared columns)."""
    pairs = graph.links.pairs
    if pairs.is_empty():
        return pl.DataFrame(schema={S.CLUSTER_ID: pl.String, "_behaviour": pl.String})
    index_label = clustered.select(pl.col(ACCOUNT_INDEX).cast(pl.Int64), LABEL)
    inside = (
        pairs.with_columns(pl.col(SOURCE).cast(pl.Int64), pl.col(TARGET).cast(pl.Int64))
        .join(index_label.rename({ACCOUNT_INDEX: SOURCE}), on=SOURCE)
        .join(index_label.rename({ACCOUNT_INDEX: TARGET, LABEL: "_l2"}), on=TARGET)
        .filter(pl.col(LABEL) == pl.col("_l2"))
        .group_by(LABEL)
        .agg(pl.len().alias("_n"), pl.col("probability").min().alias("_min"))
        .join(ids, on=LABEL)
        .sort(S.CLUSTER_ID)
    )
    rows = [
        (
            cid,
            f"record links on declared columns: {n} pair{'' if n == 1 else 's'}, "
            f"match probability {low:.2f} or more",
        )
        for cid, n, low in inside.select(S.CLUSTER_ID, "_n", "_min").iter_rows()
    ]
    return pl.DataFrame(
        rows, schema={S.CLUSTER_ID: pl.String, "_behaviour": pl.String}, orient="row"
    )


def _tie_phrases(*tables: pl.DataFrame) -> pl.DataFrame:
    """The phrases of what ties each cluster, joined by ``; `` per cluster."""
    return (
        pl.concat(tables)
        .group_by(S.CLUSTER_ID, maintain_order=True)
        .agg(pl.col("_behaviour").str.join("; "))
        .sort(S.CLUSTER_ID)
    )


def _behaviour_phrases(cohorts: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """``cluster_id, _behaviour``: what ties each behaviour cohort, with its contrast."""
    if "signature" not in cohorts.columns or cohorts.is_empty():
        return pl.DataFrame(schema={S.CLUSTER_ID: pl.String, "_behaviour": pl.String})
    rows = []
    for row in cohorts.join(ids, on=LABEL).sort(S.CLUSTER_ID).iter_rows(named=True):
        signature = row["signature"]
        shown = cap(signature, 60)
        parts = [
            f"behaviour: prompt '{shown}' is {row['members_share']:.0%} of these accounts' "
            f"sampled prompts and {row['other_share']:.0%} of its {row['other_holders']:,} "
            "other holders'",
            f"active in {row['hours_active']} of 24 hours (UTC)",
            f"{row['capability_share']:.0%} coding, agentic or reasoning prompts",
        ]
        if row["merged_clusters"]:
            merged = row["merged_clusters"]
            parts.append(f"{merged} linked cluster{'' if merged == 1 else 's'} merged")
        if row.get("split_from"):
            parts.append(f"split out of {row['split_from']} cluster(s) that chained operations")
        if row.get("twins"):
            own = cap(str(row.get("own_prompt") or ""), 60)
            parts.append(
                f"told apart from {row['twins']} other operation"
                f"{'' if row['twins'] == 1 else 's'} favouring the same prompt by its own "
                f"prompt '{own}'"
            )
        rows.append((row[S.CLUSTER_ID], "; ".join(parts)))
    return pl.DataFrame(
        rows, schema={S.CLUSTER_ID: pl.String, "_behaviour": pl.String}, orient="row"
    )


def _split_phrases(splits: pl.DataFrame | None, ids: pl.DataFrame) -> pl.DataFrame:
    """``cluster_id, _behaviour``: for each part of a cluster cut by behaviour, what parts it."""
    schema = {S.CLUSTER_ID: pl.String, "_behaviour": pl.String}
    if splits is None or splits.is_empty():
        return pl.DataFrame(schema=schema)
    parts = splits.join(ids, left_on="label", right_on=LABEL)
    siblings = parts.group_by(SPLIT_FROM).agg(pl.col(S.CLUSTER_ID).sort().alias("_parts"))
    rows = []
    for row in parts.join(siblings, on=SPLIT_FROM).iter_rows(named=True):
        others = [str(c) for c in row["_parts"] if c != row[S.CLUSTER_ID]]
        rows.append(
            (
                row[S.CLUSTER_ID],
                f"cut by behaviour from cluster{'' if len(others) == 1 else 's'} "
                f"{', '.join(others)}: {row['differs_most'].replace('_', ' ')} differ most "
                f"(log-likelihood gap {row['divergence']:.1f} per account)",
            )
        )
    return pl.DataFrame(rows, schema=schema, orient="row").sort(S.CLUSTER_ID)


def _merge_phrases(merges: pl.DataFrame | None, ids: pl.DataFrame) -> pl.DataFrame:
    """``cluster_id, _behaviour``: for each cluster merged from flagged clusters, what
    joined them (the weakest prompt overlap and the widest behaviour gap of its steps)."""
    schema = {S.CLUSTER_ID: pl.String, "_behaviour": pl.String}
    if merges is None or merges.is_empty():
        return pl.DataFrame(schema=schema)
    steps = (
        merges.join(ids, left_on=MERGED_INTO, right_on=LABEL)
        .group_by(S.CLUSTER_ID)
        .agg(
            pl.len().alias("_steps"),
            pl.col("template_overlap").min().alias("_overlap"),
            pl.col("divergence").max().alias("_divergence"),
            pl.col("top_template")
            .sort_by("template_overlap", "step", descending=[True, False])
            .first(),
        )
        .sort(S.CLUSTER_ID)
    )
    rows = [
        (
            row[S.CLUSTER_ID],
            f"merged by behaviour from {row['_steps'] + 1} flagged clusters: their prompt "
            f"traffic overlaps {row['_overlap']:.0%} or more (most shared prompt "
            f"'{cap(row['top_template'], 60)}') and their behaviour is at most "
            f"{row['_divergence']:.1f} nats per account apart",
        )
        for row in steps.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


def capability_targeting(members: pl.DataFrame) -> pl.DataFrame:
    """Share of the members' exchanges that elicit code, agentic tool use or reasoning.

    Parameters
    ----------
    members
        ``label, n_exchanges, n_coding, n_agentic, n_reasoning``: one row per member.
    """
    return (
        members.group_by(LABEL)
        .agg(
            sum((pl.col(c) for c in CAPABILITY_COUNTS[1:]), pl.col(CAPABILITY_COUNTS[0]))
            .sum()
            .alias("_cap"),
            pl.col(N_EXCHANGES).sum().alias("_n"),
        )
        .select(
            LABEL,
            pl.when(pl.col("_n") > 0)
            .then(pl.col("_cap") / pl.col("_n"))
            .otherwise(0.0)
            .alias("capability_targeting"),
        )
    )


def proxy_rotation(ip_usage: pl.DataFrame, *, params: ScoreParams) -> pl.DataFrame:
    """``min(1, (r - 1) / (proxy_rotation_ranges - 1))``, ``r`` the median distinct ranges per member.

    Parameters
    ----------
    ip_usage
        ``label, account_id, ip_range``: the ranges each member used.
    params
        :class:`ScoreParams`.
    """
    return (
        ip_usage.group_by(LABEL, S.ACCOUNT_ID)
        .agg(pl.col(IP_RANGE).n_unique().alias("_ranges"))
        .group_by(LABEL)
        .agg(pl.col("_ranges").median())
        .select(
            LABEL,
            ((pl.col("_ranges") - 1.0) / (params.proxy_rotation_ranges - 1.0))
            .clip(0.0, 1.0)
            .alias("proxy_rotation"),
        )
    )


def declared_organisation(members: pl.DataFrame) -> pl.DataFrame:
    """Share of members in the cluster's most common declared ``org_id`` (0 when none declares one).

    Parameters
    ----------
    members
        ``label, org_id``: one row per member.
    """
    largest = (
        members.drop_nulls(S.ORG_ID)
        .group_by(LABEL, S.ORG_ID)
        .agg(pl.len().alias("_n"))
        .group_by(LABEL)
        .agg(pl.col("_n").max())
    )
    return (
        members.group_by(LABEL)
        .agg(pl.len().alias("_members"))
        .join(largest, on=LABEL, how="left")
        .select(
            LABEL,
            (pl.col("_n").fill_null(0) / pl.col("_members")).alias("declared_organisation"),
        )
    )


# --- from signals to the output tables --------------------------------------------------


def _contributions(signals: pl.DataFrame, weights: dict[str, float]) -> pl.DataFrame:
    """``label, signal, signal_value, weight, contribution``, values rounded to :data:`DECIMALS`."""
    value = pl.col(SIGNAL_VALUE).round(DECIMALS)
    return (
        signals.unpivot(index=LABEL, variable_name=SIGNAL, value_name=SIGNAL_VALUE)
        .with_columns(
            pl.col(SIGNAL)
            .replace_strict(weights, default=0.0, return_dtype=pl.Float64)
            .alias(WEIGHT),
        )
        .with_columns(
            value,
            pl.when(value == 0)
            .then(0.0)  # a zero, never -0.0
            .otherwise((pl.col(WEIGHT) * value).round(DECIMALS))
            .alias(CONTRIBUTION),
        )
    )


def _established(params: ScoreParams) -> pl.Expr:
    """True for a cluster of established accounts that hardly asks for harvested capabilities."""
    return (pl.col("_new").fill_null(0.0) < params.established_new_accounts) & (
        pl.col("_capability").fill_null(0.0) < params.established_capability
    )


def _cluster_table(
    sizes: pl.DataFrame,
    contributions: pl.DataFrame,
    signals: pl.DataFrame,
    clustered: pl.DataFrame,
    usage: Usage,
    params: ScoreParams,
    names: pl.DataFrame | None,
    first_number: int,
) -> pl.DataFrame:
    """One row per cluster: score, flag, activity span and id (see :func:`_named`)."""
    # The score is the sum of the contributions exactly as stored (so the table adds up).
    totals = contributions.group_by(LABEL).agg(
        pl.col(CONTRIBUTION).sum().clip(0.0, 1.0).round(DECIMALS).alias(S.CLUSTER_SCORE)
    )
    activity = usage.activity.join(clustered.select(S.ACCOUNT_ID, LABEL), on=S.ACCOUNT_ID)
    automation = signals.select(
        LABEL,
        pl.max_horizontal(*AUTOMATION_SIGNALS).alias("_automation"),
        pl.col("capability_targeting").alias("_capability"),
        pl.col("new_accounts").alias("_new"),
    )
    return (
        sizes.join(totals, on=LABEL, how="left")
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
        .join(automation, on=LABEL, how="left")
        .with_columns(
            (
                (
                    (pl.col(S.CLUSTER_SCORE) >= params.flag_threshold)
                    & (pl.col(SIZE) >= params.min_flag_size)
                    | (pl.col(S.CLUSTER_SCORE) >= params.capability_flag_threshold)
                    & (pl.col(SIZE) >= params.capability_flag_size)
                    & (pl.col("_capability").fill_null(0.0) >= params.capability_flag_share)
                )
                & (pl.col("_automation").fill_null(0.0) >= params.min_automation)
                & ~_established(params)
            ).alias(S.FLAGGED)
        )
        .drop("_automation", "_capability", "_new")
        .sort([S.CLUSTER_SCORE, SIZE, MIN_ACCOUNT], descending=[True, True, False])
        .pipe(_named, names, first_number)
    )


def _named(ranked: pl.DataFrame, names: pl.DataFrame | None, first_number: int) -> pl.DataFrame:
    """``ranked`` (clusters by score, size, smallest account) with a ``cluster_id`` column.

    A label in ``names`` (``label, cluster_id``) keeps its id; the others are numbered
    from ``first_number`` in rank order (``op-000001`` for the highest score in a run
    without ``names``).
    """
    if names is None:
        names = pl.DataFrame(schema={LABEL: pl.Int64, S.CLUSTER_ID: pl.String})
    named = ranked.join(names.select(LABEL, S.CLUSTER_ID), on=LABEL, how="left")
    fresh = pl.col(S.CLUSTER_ID).is_null()
    return named.with_columns(
        pl.when(fresh)
        .then(S.operation_ids(fresh.cum_sum() - 1 + first_number))
        .otherwise(pl.col(S.CLUSTER_ID))
        .alias(S.CLUSTER_ID)
    ).select(S.CLUSTER_ID, pl.exclude(S.CLUSTER_ID))


def _members(labels: pl.DataFrame, cluster_table: pl.DataFrame) -> pl.DataFrame:
    """``account_id, cluster_id, cluster_score, flagged`` for every account, sorted by account."""
    return (
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


def _numbered_contributions(contributions: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """The contributions by cluster id, signals in :data:`SIGNALS` order."""
    return (
        contributions.join(ids, on=LABEL)
        .select(S.CLUSTER_ID, SIGNAL, SIGNAL_VALUE, WEIGHT, CONTRIBUTION)
        .sort(
            S.CLUSTER_ID,
            pl.col(SIGNAL).replace_strict({s: i for i, s in enumerate(SIGNALS)}, default=99),
        )
    )


def _evidence_table(
    shared: pl.DataFrame, graph: AccountGraph, ids: pl.DataFrame, params: ScoreParams
) -> pl.DataFrame:
    """The evidence table by cluster id, sorted by kind, then most widely held, then value."""
    return (
        _evidence_rows(shared, graph, params)
        .join(ids, on=LABEL)
        .drop(LABEL)
        .select(
            S.CLUSTER_ID,
            S.ATTRIBUTE_KIND,
            S.VALUE,
            ACCOUNTS_IN_CLUSTER,
            ACCOUNTS_OUTSIDE,
            WEIGHT,
            "hub_action",
            S.N_EVENTS,
        )
        .sort(
            S.CLUSTER_ID,
            S.ATTRIBUTE_KIND,
            ACCOUNTS_IN_CLUSTER,
            S.VALUE,
            descending=[False, False, True, False],
        )
    )


def _clusters(
    cluster_table: pl.DataFrame,
    contributions: pl.DataFrame,
    evidence_table: pl.DataFrame,
    params: ScoreParams,
    behaviour_phrases: pl.DataFrame,
) -> pl.DataFrame:
    """The clusters table: the leading columns, the summary, then one column per signal."""
    wide = contributions.pivot(on=SIGNAL, index=S.CLUSTER_ID, values=SIGNAL_VALUE)
    summaries = _summaries(evidence_table, contributions, cluster_table, params, behaviour_phrases)
    clusters = (
        cluster_table.drop(LABEL, MIN_ACCOUNT)
        .join(wide, on=S.CLUSTER_ID, how="left")
        .join(summaries, on=S.CLUSTER_ID, how="left")
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
    return clusters.select(*leading, *[c for c in clusters.columns if c not in leading])


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


def _evidence_rows(shared: pl.DataFrame, graph: AccountGraph, params: ScoreParams) -> pl.DataFrame:
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


_KIND_PHRASES = {  # kind: (one, several)
    "payment": ("payment fingerprint", "payment fingerprints"),
    "device": ("device", "devices"),
    "ip": ("IP address", "IP addresses"),
    "ip_range": ("IP range", "IP ranges"),
    "email": ("mailbox", "mailboxes"),
    "email_domain": ("email domain", "email domains"),
    "email_shape": ("email pattern", "email patterns"),
    "prompt_template": ("prompt template", "prompt templates"),
    "signup_burst": ("signup burst", "signup bursts"),
    "co_activity": ("co-active window", "co-active windows"),
}


def _shared_phrase(count: int, kind: str) -> str:
    """``"1 shared device"``, ``"3 shared devices"``; an unknown kind is named as it is."""
    one, several = _KIND_PHRASES.get(kind, (kind, kind))
    return f"{count} shared {one if count == 1 else several}"


def _summaries(
    evidence_table: pl.DataFrame,
    contributions: pl.DataFrame,
    clusters: pl.DataFrame,
    params: ScoreParams,
    behaviour_phrases: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One line per cluster: its size, what ties a behaviour cohort, why a cluster scoring under
    ``flag_threshold`` is flagged, then up to ``summary_kinds`` kinds of shared values (the
    most widely held first), then up to ``summary_signals`` signals contributing more than
    ``summary_min_contribution`` (the largest first)."""
    kinds = (
        evidence_table.group_by(S.CLUSTER_ID, S.ATTRIBUTE_KIND)
        .agg(pl.len().alias("_k"), pl.col(ACCOUNTS_IN_CLUSTER).max().alias("_top"))
        .sort(S.CLUSTER_ID, "_top", S.ATTRIBUTE_KIND, descending=[False, True, False])
    )
    top_signals = (
        contributions.filter(pl.col(CONTRIBUTION) > params.summary_min_contribution)
        .sort(S.CLUSTER_ID, CONTRIBUTION, SIGNAL, descending=[False, True, False])
        .group_by(S.CLUSTER_ID, maintain_order=True)
        .head(params.summary_signals)
    )
    kind_text: dict[str, list[str]] = {}
    for cid, kind, k, top in kinds.iter_rows():
        if len(kind_text.setdefault(cid, [])) < params.summary_kinds:
            kind_text[cid].append(f"{_shared_phrase(k, kind)} (up to {top} accounts)")
    signal_text: dict[str, list[str]] = {}
    for cid, signal, value in top_signals.select(S.CLUSTER_ID, SIGNAL, SIGNAL_VALUE).iter_rows():
        signal_text.setdefault(cid, []).append(f"{signal.replace('_', ' ')} {value:.2f}")
    ties = dict(behaviour_phrases.iter_rows()) if behaviour_phrases is not None else {}
    capability = dict(
        contributions.filter(pl.col(SIGNAL) == "capability_targeting")
        .select(S.CLUSTER_ID, SIGNAL_VALUE)
        .iter_rows()
    )
    new_accounts = dict(
        contributions.filter(pl.col(SIGNAL) == "new_accounts")
        .select(S.CLUSTER_ID, SIGNAL_VALUE)
        .iter_rows()
    )
    rows = []
    for cid, size, score, flagged in clusters.select(
        S.CLUSTER_ID, SIZE, S.CLUSTER_SCORE, S.FLAGGED
    ).iter_rows():
        parts = [f"{size} accounts", *([ties[cid]] if cid in ties else [])]
        if flagged and score < params.flag_threshold:  # flagged by the capability band
            parts.append(
                f"flagged under score {params.flag_threshold:.2f} for capability targeting "
                f"{capability.get(cid, 0.0):.2f} in {size} automating accounts"
            )
        elif (
            not flagged
            and score >= params.flag_threshold
            and new_accounts.get(cid, 0.0) < params.established_new_accounts
            and capability.get(cid, 0.0) < params.established_capability
        ):
            parts.append(
                f"not flagged at score {score:.2f}: established accounts (new accounts "
                f"{new_accounts.get(cid, 0.0):.2f}) whose prompts hardly target coding, agentic "
                f"or reasoning capabilities ({capability.get(cid, 0.0):.2f}), like a "
                "customer's batch automation"
            )
        parts += kind_text.get(cid, []) + signal_text.get(cid, [])
        rows.append((cid, "; ".join(parts)))
    return pl.DataFrame(rows, schema={S.CLUSTER_ID: pl.String, SUMMARY: pl.String}, orient="row")
