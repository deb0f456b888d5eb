"""Operations over time: ids carried over from the previous run, what changed, and decisions.

Investigators run acctgraph every day on the latest weeks of traffic. Three things
tie one run to the last:

**Stable operation ids.** A cluster's id (``cluster_id``, ``op-000123``) is inherited
from the previous run's operation it overlaps most (:func:`match_operations`). The
rule: every pair of a previous operation ``P`` and a cluster ``C`` of this run that
share accounts is a candidate when the shared accounts are more than
``min_overlap`` (a quarter) of ``P``'s accounts present in this run, or more than
``min_overlap`` of ``C``'s accounts. Candidates are taken greedily, the largest
number of shared accounts first (ties: the smaller previous id, then the cluster
whose smallest account id sorts first); each previous id goes to at most one cluster
and each cluster takes at most one id. So the ids follow the accounts: when
operations merge, the merged cluster keeps the id of the one that brought the most
accounts; when one splits, its largest part keeps it; a small fragment never takes
the id of an operation whose accounts mostly went elsewhere, and a cluster made
mostly of new accounts takes the id of an operation only if it holds a quarter of it. Clusters left without an id get new numbers,
above every number the previous run issued or inherited (``next_number``, kept in
``run.json``), in order of score: an id is never reused, even after its operation
dissolved.

**What changed** (:func:`operation_changes`): one row per operation flagged in this
run or the previous one (or with a decision), saying whether it is ``new``, ``split``
(a new id, half or more of its accounts from one previous operation), ``grown``,
``shrunk``, ``reshuffled`` (as many accounts, not the same ones), ``unchanged``,
``merged`` (it absorbed previous operations that have no successor of their own),
``absorbed`` (a previous operation whose accounts went mostly into another's
successor) or ``dissolved``; with the accounts before and after, how many joined and
left, and the score and flag before and after. A second table lists exactly which
accounts joined and left each of those operations, and from or to where.

**Decisions** (:func:`apply_decisions`; the file is read by
:func:`acctgraph.load.decisions.load_decisions`). The latest decision per target. A
decision on an operation applies only in a run given the previous one, and only to an
id an earlier run issued (a run without ``--previous`` numbers its operations afresh,
so ``op-000004`` would name another cluster):

- an operation ``confirmed``: flagged whatever its score; the changes table lists
  confirmed operations that gained accounts first. When no cluster has its id any
  more, its accounts stay flagged wherever they went, and the effect names the
  cluster that absorbed most of them;
- an operation ``benign`` or ``allowlist``: not flagged, unless it changed materially
  since the decision: it grew by more than ``benign_growth`` (half) of its size when the
  decision was first applied, it now shares a value of an identity kind (a card, a
  device, an address; ``identity_kinds``) that it did not share then, or it took in
  accounts of a confirmed operation. An id passes to the cluster that holds the most
  of the operation's accounts, which may have changed; so neither decision follows it
  unchecked (to allowlist for good, allowlist the accounts or the organisation). The
  size and kinds when the decision was first applied (the previous run's, when the
  operation was in it) are carried from run to run (``decision_baselines``), also
  through runs without a decisions file, so slow growth adds up; a new
  ``decided_at`` for the target starts a new baseline;
- an account ``allowlist`` or ``benign``: never flagged (its cluster may be);
  an account ``confirmed``: flagged; the same for every account of an organisation
  (a target that is a value of the accounts table's ``org_id``), unless the account
  has a decision of its own;
- ``under_review``: shown, changes nothing.

Every decision is listed with its effect, and in runs with a decisions file the
clusters table has a ``decision`` column.

Examples
--------
>>> import polars as pl
>>> previous = Previous.from_tables(
...     members=pl.DataFrame({"account_id": ["a", "b", "c", "d"],
...                           "cluster_id": ["op-000001", "op-000001", "op-000001", None],
...                           "flagged": [True, True, True, False]}),
...     clusters=pl.DataFrame({"cluster_id": ["op-000001"], "size": [3],
...                            "cluster_score": [0.8], "flagged": [True]}))
>>> matched = match_operations(pl.Series(["a", "b", "c", "d", "e"]), [0, 0, 1, 1, 1], previous)
>>> matched.names.rows(), matched.next_number
([(0, 'op-000001')], 2)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from acctgraph.cluster.cohort import LABEL
from acctgraph.cluster.score import SIZE, Scored
from acctgraph.cluster.split import SplitParams
from acctgraph.core import schema as S
from acctgraph.core.errors import InputError, check_parameters
from acctgraph.load.decisions import (
    DECIDED_AT,
    DECIDED_BY,
    DECIDED_TIME,
    DECISION,
    NOTE,
    ROW,
    TARGET,
)

CHANGE = "change"
RELATED = "related_ids"
ACCOUNTS_BEFORE = "accounts_before"
ACCOUNTS_AFTER = "accounts_after"
JOINED = "joined"
LEFT = "left"
SCORE_BEFORE = "score_before"
SCORE_AFTER = "score_after"
FLAGGED_BEFORE = "flagged_before"
FLAGGED_AFTER = "flagged_after"
FLAG_CHANGE = "flag_change"
MOVEMENT = "movement"
OTHER_CLUSTER = "other_cluster_id"
NEW_ACCOUNT = "new_account"
TARGET_KIND = "target_kind"
EFFECT = "effect"
BASELINE_SIZE = "baseline_size"
BASELINE_IDENTITY = "baseline_identity"

IDENTITY_KINDS = SplitParams().identity_kinds
"""The identity kinds of the benign rule by default: the split's (a card, a device, an address)."""

CHANGES = (
    "new",
    "split",
    "merged",
    "grown",
    "shrunk",
    "reshuffled",
    "unchanged",
    "absorbed",
    "dissolved",
)

CHANGES_SCHEMA: dict[str, pl.DataType] = {
    S.CLUSTER_ID: pl.String(),
    CHANGE: pl.String(),
    RELATED: pl.String(),
    ACCOUNTS_BEFORE: pl.Int64(),
    ACCOUNTS_AFTER: pl.Int64(),
    JOINED: pl.Int64(),
    LEFT: pl.Int64(),
    SCORE_BEFORE: pl.Float64(),
    SCORE_AFTER: pl.Float64(),
    FLAGGED_BEFORE: pl.Boolean(),
    FLAGGED_AFTER: pl.Boolean(),
    FLAG_CHANGE: pl.String(),
    DECISION: pl.String(),
}
MOVED_SCHEMA: dict[str, pl.DataType] = {
    S.CLUSTER_ID: pl.String(),
    S.ACCOUNT_ID: pl.String(),
    MOVEMENT: pl.String(),
    OTHER_CLUSTER: pl.String(),
    NEW_ACCOUNT: pl.Boolean(),
}
BASELINES_SCHEMA: dict[str, pl.DataType] = {
    TARGET: pl.String(),
    DECIDED_AT: pl.String(),
    BASELINE_SIZE: pl.Int64(),
    BASELINE_IDENTITY: pl.String(),
}
APPLIED_SCHEMA: dict[str, pl.DataType] = {
    TARGET: pl.String(),
    TARGET_KIND: pl.String(),
    DECISION: pl.String(),
    DECIDED_BY: pl.String(),
    DECIDED_AT: pl.String(),
    NOTE: pl.String(),
    S.CLUSTER_ID: pl.String(),
    EFFECT: pl.String(),
    BASELINE_SIZE: pl.Int64(),
    BASELINE_IDENTITY: pl.String(),
    ROW: pl.Int64(),
}


@dataclass(frozen=True)
class TrackParams:
    """How runs follow each other (``[track]``).

    Parameters
    ----------
    min_overlap
        A cluster inherits a previous operation's id only when they share more than
        this share of the previous operation's accounts present in this run, or of
        the cluster's accounts (see the module docstring).
    benign_growth
        A benign operation is flagged again when it has grown by more than this share
        of its size at the decision.
    warm_start
        Start Leiden from the previous run's operations (:func:`initial_membership`)
        instead of every account alone. Off: a run's clusters depend on its input only.
    """

    min_overlap: float = 0.25
    benign_growth: float = 0.5
    warm_start: bool = False

    def __post_init__(self) -> None:
        check_parameters(
            [
                (
                    0.0 <= self.min_overlap < 1.0,
                    f"track.min_overlap must be in [0, 1), got {self.min_overlap!r}",
                ),
                (
                    self.benign_growth >= 0.0,
                    f"track.benign_growth must be at least 0, got {self.benign_growth!r}",
                ),
            ]
        )


@dataclass(frozen=True)
class Previous:
    """What a run needs of the run before it.

    Attributes
    ----------
    members
        ``account_id, cluster_id, flagged``: the previous members table.
    clusters
        ``cluster_id, size, cluster_score, flagged``.
    identity
        ``cluster_id, identity``: each previous operation's identity kinds with shared
        values, sorted and joined by spaces (the benign rule's baseline).
    next_number
        The first operation number the previous run did not issue.
    baselines
        :data:`BASELINES_SCHEMA`: the size and identity kinds of each benign or allowlisted
        operation when its decision was first applied, from the previous run's decisions
        and the baselines it carried (so a run in the chain without ``--decisions`` loses
        none).
    """

    members: pl.DataFrame
    clusters: pl.DataFrame
    identity: pl.DataFrame
    next_number: int
    baselines: pl.DataFrame = dataclasses.field(
        default_factory=lambda: pl.DataFrame(schema=BASELINES_SCHEMA)
    )

    @classmethod
    def from_tables(
        cls,
        *,
        members: pl.DataFrame,
        clusters: pl.DataFrame,
        evidence: pl.DataFrame | None = None,
        decisions: pl.DataFrame | None = None,
        next_number: int | None = None,
        identity_kinds: Sequence[str] = IDENTITY_KINDS,
        baselines: pl.DataFrame | None = None,
    ) -> Previous:
        """From a previous run's tables; ``next_number`` defaults to one above its ids, and
        ``decisions`` (its applied decisions table) and ``baselines`` give the baselines."""
        ids = clusters[S.CLUSTER_ID].drop_nulls()
        highest = max((S.operation_number(c) for c in ids), default=0)
        return cls(
            members=members.select(S.ACCOUNT_ID, S.CLUSTER_ID, S.FLAGGED),
            clusters=clusters.select(S.CLUSTER_ID, SIZE, S.CLUSTER_SCORE, S.FLAGGED),
            identity=identity_table(evidence, identity_kinds),
            next_number=max(highest + 1, next_number or 1),
            baselines=carried_baselines(baselines, decisions),
        )


def carried_baselines(*tables: pl.DataFrame | None) -> pl.DataFrame:
    """:data:`BASELINES_SCHEMA` rows of ``tables`` (baselines tables or applied decisions
    tables), the first row per (target, decided_at) kept, sorted."""
    parts = [
        t.filter(pl.col(BASELINE_SIZE).is_not_null()).select(list(BASELINES_SCHEMA))
        for t in tables
        if t is not None and BASELINE_SIZE in t.columns
    ]
    if not parts:
        return pl.DataFrame(schema=BASELINES_SCHEMA)
    return (
        pl.concat([p.cast(pl.Schema(BASELINES_SCHEMA)) for p in parts])
        .unique([TARGET, DECIDED_AT], keep="first", maintain_order=True)
        .sort(TARGET, DECIDED_AT)
    )


def identity_table(evidence: pl.DataFrame | None, identity_kinds: Sequence[str]) -> pl.DataFrame:
    """``cluster_id, identity``: the identity kinds each cluster's evidence holds, sorted,
    joined by spaces."""
    schema = pl.Schema({S.CLUSTER_ID: pl.String(), "identity": pl.String()})
    if evidence is None or evidence.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        evidence.select(S.CLUSTER_ID, pl.col(S.ATTRIBUTE_KIND).cast(pl.String))
        .filter(pl.col(S.ATTRIBUTE_KIND).is_in(list(identity_kinds)))
        .unique()
        .group_by(S.CLUSTER_ID)
        .agg(pl.col(S.ATTRIBUTE_KIND).sort().str.join(" ").alias("identity"))
        .cast(schema)
        .sort(S.CLUSTER_ID)
    )


@dataclass(frozen=True)
class Matched:
    """Ids inherited by this run's clusters.

    Attributes
    ----------
    names
        ``label, cluster_id``: the community labels that keep a previous id.
    next_number
        The number of this run's first new id.
    """

    names: pl.DataFrame
    next_number: int


def match_operations(
    account_ids: pl.Series,
    membership: Sequence[int],
    previous: Previous,
    *,
    params: TrackParams | None = None,
) -> Matched:
    """Which of this run's communities inherit which previous operation ids.

    Parameters
    ----------
    account_ids
        The accounts, in the order of ``membership``.
    membership
        Community label per account (communities of one account are not clusters).
    previous
        The previous run (:class:`Previous`).
    params
        :class:`TrackParams` (the rule is in the module docstring).
    """
    params = params or TrackParams()
    labels = pl.DataFrame(
        {S.ACCOUNT_ID: account_ids, LABEL: pl.Series(list(membership), dtype=pl.Int64)}
    )
    sizes = (
        labels.group_by(LABEL)
        .agg(pl.len().alias("_size"), pl.col(S.ACCOUNT_ID).min().alias("_first"))
        .filter(pl.col("_size") >= 2)
    )
    old = previous.members.filter(pl.col(S.CLUSTER_ID).is_not_null()).select(
        S.ACCOUNT_ID, S.CLUSTER_ID
    )
    present = (
        old.join(labels, on=S.ACCOUNT_ID, how="semi")
        .group_by(S.CLUSTER_ID)
        .agg(pl.len().alias("_old"))
    )
    candidates = (
        old.join(labels.join(sizes, on=LABEL, how="semi"), on=S.ACCOUNT_ID)
        .group_by(S.CLUSTER_ID, LABEL)
        .agg(pl.len().alias("_n"))
        .join(present, on=S.CLUSTER_ID)
        .join(sizes, on=LABEL)
        .filter(
            (pl.col("_n") > params.min_overlap * pl.col("_old"))
            | (pl.col("_n") > params.min_overlap * pl.col("_size"))
        )
        .sort(["_n", _number(S.CLUSTER_ID), "_first"], descending=[True, False, False])
    )
    taken_ids: set[str] = set()
    taken_labels: set[int] = set()
    rows: list[tuple[int, str]] = []
    for cluster_id, label in candidates.select(S.CLUSTER_ID, LABEL).iter_rows():
        if cluster_id in taken_ids or label in taken_labels:
            continue
        taken_ids.add(cluster_id)
        taken_labels.add(label)
        rows.append((label, cluster_id))
    names = pl.DataFrame(rows, schema={LABEL: pl.Int64, S.CLUSTER_ID: pl.String}, orient="row")
    return Matched(names=names.sort(LABEL), next_number=previous.next_number)


def initial_membership(account_ids: pl.Series, previous: Previous) -> list[int]:
    """A community label per account for Leiden to start from: the accounts of one
    previous operation share a label, every other account is alone (``[track]
    warm_start``). Labels are 0.. in account order, so the start is deterministic."""
    old = pl.DataFrame({S.ACCOUNT_ID: account_ids}).join(
        previous.members.select(S.ACCOUNT_ID, S.CLUSTER_ID),
        on=S.ACCOUNT_ID,
        how="left",
        maintain_order="left",
    )
    key = pl.coalesce(pl.col(S.CLUSTER_ID), pl.lit("account:") + pl.col(S.ACCOUNT_ID))
    return old.select(key.rank("dense").cast(pl.Int64) - 1)[S.CLUSTER_ID].to_list()


def _number(column: str) -> pl.Expr:
    """An operation id column as its number, for orders that must hold past op-999999."""
    return pl.col(column).str.strip_prefix(S.OPERATION_PREFIX).cast(pl.Int64)


# =============================================================================
# Decisions
# =============================================================================


def latest_decisions(decisions: pl.DataFrame) -> pl.DataFrame:
    """The latest decision per target (by ``decided_at``, then file row), in file order."""
    return decisions.sort(DECIDED_TIME, ROW).group_by(TARGET, maintain_order=True).last().sort(ROW)


def apply_decisions(
    scored: Scored,
    decisions: pl.DataFrame | None,
    *,
    previous: Previous | None = None,
    params: TrackParams | None = None,
    identity_kinds: Sequence[str] = IDENTITY_KINDS,
    organisations: pl.DataFrame | None = None,
) -> tuple[Scored, pl.DataFrame]:
    """The scored tables with the decisions applied, and the table of what each did.

    A target is an operation id (``op-000123``), an account id, or an organisation (a
    value of ``organisations``' ``org_id``: ``account_id, org_id``, the accounts table's
    declared organisations); ``account:ID`` and ``org:ID`` say which when a name could be
    both, and a target that matches two kinds without a prefix is refused. An operation
    decision needs ``previous``: ids are carried from run to run, and a run without
    ``previous`` numbers its operations afresh, so an id names the operation the decision
    was about only when the previous run issued it. Precedence for an account's flag: its
    own decision, then its organisation's, then a confirmed operation it belonged to,
    then its cluster's.

    Returns ``(scored, applied)``: ``scored.clusters`` gains a ``decision`` column
    (after ``flagged``; null where none) and its ``flagged`` and ``summary`` follow the
    decisions, as does ``scored.members``' ``flagged``; ``applied`` has one row per
    target (:data:`APPLIED_SCHEMA`), in file order. Without decisions (None) ``scored``
    is returned as it is; an empty decisions table adds the empty column.

    Raises
    ------
    InputError
        A target without a prefix names two kinds of thing (the row is named).
    """
    params = params or TrackParams()
    clusters = scored.clusters
    members = scored.members
    if decisions is None:
        return scored, pl.DataFrame(schema=APPLIED_SCHEMA)
    latest = latest_decisions(decisions)
    known_accounts = set(members[S.ACCOUNT_ID].to_list())
    org_accounts: dict[str, list[str]] = {}
    if organisations is not None:
        for org, account in (
            organisations.drop_nulls(S.ORG_ID)
            .select(S.ORG_ID, S.ACCOUNT_ID)
            .sort(S.ACCOUNT_ID)
            .iter_rows()
        ):
            org_accounts.setdefault(org, []).append(account)
    size_now = dict(clusters.select(S.CLUSTER_ID, SIZE).iter_rows())
    flagged_now = dict(clusters.select(S.CLUSTER_ID, S.FLAGGED).iter_rows())
    identity_now = dict(identity_table(scored.evidence, identity_kinds).iter_rows())
    cluster_of = dict(members.select(S.ACCOUNT_ID, S.CLUSTER_ID).iter_rows())
    previous_accounts: dict[str, list[str]] = {}
    if previous is not None:
        for account, op in (
            previous.members.drop_nulls(S.CLUSTER_ID)
            .select(S.ACCOUNT_ID, S.CLUSTER_ID)
            .sort(S.ACCOUNT_ID)
            .iter_rows()
        ):
            previous_accounts.setdefault(op, []).append(account)
    baselines = _baselines(previous)
    resolved = [
        (row, *_resolve(row, known_accounts, org_accounts)) for row in latest.iter_rows(named=True)
    ]
    # accounts of confirmed operations, where they are now: a benign operation that took
    # them in has changed materially, and they stay flagged wherever they went
    confirmed_accounts = {
        account
        for row, kind, name in resolved
        if kind == "operation" and row[DECISION] == "confirmed"
        for account in previous_accounts.get(name, [])
    }

    op_flag: dict[str, bool] = {}
    op_decision: dict[str, str] = {}
    op_phrase: dict[str, str] = {}
    account_flag: dict[str, bool] = {}
    org_flag: dict[str, bool] = {}
    carried_flag: dict[str, bool] = {}
    applied = []
    for row, kind, name in resolved:
        decision = row[DECISION]
        who = f"{row[DECIDED_BY]}, {row[DECIDED_AT]}"
        baseline_size: int | None = None
        baseline_identity: str | None = None
        cluster_id: str | None = None
        if kind == "operation":
            issued = previous is not None and S.operation_number(name) < previous.next_number
            if previous is None:
                effect = (
                    "not applied: operation ids carry over only with --previous (a run without "
                    "it numbers its operations afresh)"
                )
            elif not issued:
                effect = "not applied: no earlier run issued this operation id"
            elif name not in size_now:
                went = [cluster_of.get(a) for a in previous_accounts.get(name, [])]
                now = [c for c in went if c is not None]
                cluster_id = max(sorted(set(now)), key=now.count) if now else None
                effect = (
                    f"no cluster has this id now: {now.count(cluster_id):,} of its "
                    f"{len(went):,} accounts are in {cluster_id} (absorbed)"
                    if cluster_id
                    else "no cluster has this id now: the operation dissolved"
                )
                if decision == "confirmed":
                    for account in previous_accounts.get(name, []):
                        carried_flag[account] = True
                    effect += "; its accounts stay flagged (confirmed)"
            elif decision == "confirmed":
                cluster_id = name
                op_flag[name] = True
                effect = "flagged (confirmed)" + (
                    "" if flagged_now[name] else "; its score alone would not flag it"
                )
            elif decision in ("benign", "allowlist"):
                cluster_id = name
                carried = baselines.get((name, row[DECIDED_AT]))
                baseline_size, baseline_identity = carried or (
                    _previous_size(previous, name) or size_now[name],
                    _previous_identity(previous, name, identity_now.get(name, "")),
                )
                reasons = []
                if size_now[name] > (1.0 + params.benign_growth) * baseline_size:
                    reasons.append(f"grew from {baseline_size:,} to {size_now[name]:,} accounts")
                gained = sorted(
                    set(identity_now.get(name, "").split()) - set((baseline_identity or "").split())
                )
                if gained:
                    reasons.append(f"now shares {', '.join(gained)} values")
                taken = sum(cluster_of.get(a) == name for a in confirmed_accounts)
                if taken:
                    reasons.append(f"took in {taken:,} accounts of a confirmed operation")
                label = "judged benign" if decision == "benign" else "allowlisted"
                if reasons:
                    effect = (
                        f"{label}, but it changed materially since ("
                        + "; ".join(reasons)
                        + "): "
                        + ("flagged again" if flagged_now[name] else "its score does not flag it")
                    )
                else:
                    op_flag[name] = False
                    effect = f"not flagged ({label}; it has not changed materially since)"
            else:
                cluster_id = name
                effect = "shown as under review; flags unchanged"
            if cluster_id is not None and cluster_id == name:
                op_decision[name] = decision
                op_phrase[name] = f"decision: {decision.replace('_', ' ')} ({who}): {effect}"
        elif kind == "account":
            cluster_id = cluster_of.get(name)
            if decision in ("allowlist", "benign"):
                account_flag[name] = False
                effect = (
                    f"account not flagged "
                    f"({'allowlisted' if decision == 'allowlist' else 'judged benign'})"
                )
            elif decision == "confirmed":
                account_flag[name] = True
                effect = "account flagged (confirmed)"
            else:
                effect = "shown as under review; flags unchanged"
        elif kind == "organisation":
            accounts = org_accounts[name]
            clusters_of = [cluster_of[a] for a in accounts if cluster_of.get(a) is not None]
            cluster_id = (
                max(sorted(set(clusters_of)), key=clusters_of.count) if clusters_of else None
            )
            in_flagged = sum(bool(flagged_now.get(c)) for c in clusters_of)
            if decision in ("allowlist", "benign", "confirmed"):
                for account in accounts:
                    org_flag[account] = decision == "confirmed"
                what = {
                    "confirmed": "flagged (confirmed)",
                    "allowlist": "not flagged (allowlisted)",
                    "benign": "not flagged (judged benign)",
                }[decision]
                effect = (
                    f"its {len(accounts):,} accounts {what}; {in_flagged:,} of them are in "
                    "clusters flagged by score"
                )
            else:
                effect = "shown as under review; flags unchanged"
        else:
            effect = (
                "no account, organisation or operation has this id in this run or the previous one"
            )
        applied.append(
            {
                TARGET: row[TARGET],
                TARGET_KIND: kind,
                DECISION: decision,
                DECIDED_BY: row[DECIDED_BY],
                DECIDED_AT: row[DECIDED_AT],
                NOTE: row[NOTE],
                S.CLUSTER_ID: cluster_id,
                EFFECT: effect,
                BASELINE_SIZE: baseline_size,
                BASELINE_IDENTITY: baseline_identity,
                ROW: row[ROW],
            }
        )
    op_flags = pl.DataFrame(
        list(op_flag.items()),
        schema={S.CLUSTER_ID: pl.String, "_op_flag": pl.Boolean},
        orient="row",
    )
    account_flags = pl.DataFrame(
        list({**carried_flag, **org_flag, **account_flag}.items()),
        schema={S.ACCOUNT_ID: pl.String, "_account_flag": pl.Boolean},
        orient="row",
    )
    phrases = pl.DataFrame(
        [(c, op_decision[c], op_phrase[c]) for c in op_decision],
        schema={S.CLUSTER_ID: pl.String, "_decision": pl.String, "_phrase": pl.String},
        orient="row",
    )
    clusters = (
        clusters.join(op_flags, on=S.CLUSTER_ID, how="left")
        .join(phrases, on=S.CLUSTER_ID, how="left")
        .with_columns(
            pl.coalesce("_op_flag", S.FLAGGED).alias(S.FLAGGED),
            pl.when(pl.col("_phrase").is_not_null())
            .then(pl.col("summary") + "; " + pl.col("_phrase"))
            .otherwise(pl.col("summary"))
            .alias("summary"),
        )
    )
    clusters = _with_decision_column(
        clusters.drop("_op_flag", "_phrase"), pl.col("_decision")
    ).drop("_decision")
    members = (
        members.join(
            clusters.select(S.CLUSTER_ID, pl.col(S.FLAGGED).alias("_c")),
            on=S.CLUSTER_ID,
            how="left",
        )
        .join(account_flags, on=S.ACCOUNT_ID, how="left")
        .with_columns(pl.coalesce("_account_flag", pl.col("_c"), pl.lit(False)).alias(S.FLAGGED))
        .drop("_c", "_account_flag")
    )
    table = pl.DataFrame(applied, schema=APPLIED_SCHEMA)
    return dataclasses.replace(scored, clusters=clusters, members=members), table


ACCOUNT_PREFIX = "account:"
ORGANISATION_PREFIX = "org:"
_OPERATION = re.compile(rf"^{S.OPERATION_PREFIX}[0-9]{{{S.OPERATION_DIGITS},}}$")


def _resolve(
    row: dict[str, Any], accounts: set[str], organisations: dict[str, list[str]]
) -> tuple[str, str]:
    """``(kind, name)`` of a decision's target: operation, account, organisation or unknown."""
    target = row[TARGET]
    if target.startswith(ACCOUNT_PREFIX):
        name = target.removeprefix(ACCOUNT_PREFIX)
        return ("account" if name in accounts else "unknown"), name
    if target.startswith(ORGANISATION_PREFIX):
        name = target.removeprefix(ORGANISATION_PREFIX)
        return ("organisation" if name in organisations else "unknown"), name
    kinds = [
        kind
        for kind, matches in (
            ("operation", bool(_OPERATION.match(target))),
            ("account", target in accounts),
            ("organisation", target in organisations),
        )
        if matches
    ]
    if len(kinds) > 1:
        raise InputError(
            f"decision target {target!r} (row {row[ROW]} of the decisions file) names "
            f"{' and '.join('an ' + k if k[0] in 'aeiou' else 'a ' + k for k in kinds)}; "
            f"write {ACCOUNT_PREFIX}{target} or {ORGANISATION_PREFIX}{target}",
            column=TARGET,
        )
    return (kinds[0] if kinds else "unknown"), target


def _with_decision_column(clusters: pl.DataFrame, value: pl.Expr) -> pl.DataFrame:
    columns = clusters.columns
    at = columns.index(S.FLAGGED) + 1
    return clusters.with_columns(value.cast(pl.String).alias(DECISION)).select(
        *columns[:at], DECISION, *[c for c in columns[at:] if c != DECISION]
    )


def _baselines(previous: Previous | None) -> dict[tuple[str, str], tuple[int, str]]:
    """(target, decided_at) → (size, identity kinds) when that benign or allowlist decision
    was first applied: a decision made again later (a new ``decided_at``) starts over."""
    if previous is None:
        return {}
    return {
        (target, at): (int(size), identity or "")
        for target, at, size, identity in previous.baselines.select(
            TARGET, DECIDED_AT, BASELINE_SIZE, BASELINE_IDENTITY
        ).iter_rows()
    }


def _previous_size(previous: Previous | None, cluster_id: str) -> int | None:
    if previous is None:
        return None
    found = previous.clusters.filter(pl.col(S.CLUSTER_ID) == cluster_id)[SIZE]
    return int(found[0]) if found.len() else None


def _previous_identity(previous: Previous | None, cluster_id: str, now: str) -> str:
    if previous is None or _previous_size(previous, cluster_id) is None:
        return now
    found = previous.identity.filter(pl.col(S.CLUSTER_ID) == cluster_id)["identity"]
    return str(found[0]) if found.len() else ""


# =============================================================================
# Changes
# =============================================================================


def operation_changes(
    scored: Scored, previous: Previous, applied: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What changed since the previous run: ``(changes, moved)``.

    ``changes`` (:data:`CHANGES_SCHEMA`): one row per operation flagged in either run
    or with a decision; ``moved`` (:data:`MOVED_SCHEMA`): the accounts that joined or
    left each of them (``other_cluster_id``: where a joining account was before, where
    a leaving one is now; ``new_account``: absent from the previous run). Confirmed
    operations that gained accounts come first, then flagged before unflagged, then
    by id; ``moved`` follows the same order, joined before left, then by account.
    """
    now = scored.members.filter(pl.col(S.CLUSTER_ID).is_not_null()).select(
        S.ACCOUNT_ID, S.CLUSTER_ID
    )
    before = previous.members.filter(pl.col(S.CLUSTER_ID).is_not_null()).select(
        S.ACCOUNT_ID, pl.col(S.CLUSTER_ID).alias("_before")
    )
    seen = previous.members.select(S.ACCOUNT_ID)
    clusters = scored.clusters.select(
        S.CLUSTER_ID,
        pl.col(SIZE).cast(pl.Int64).alias(ACCOUNTS_AFTER),
        pl.col(S.CLUSTER_SCORE).alias(SCORE_AFTER),
        pl.col(S.FLAGGED).alias(FLAGGED_AFTER),
    )
    old = previous.clusters.select(
        S.CLUSTER_ID,
        pl.col(SIZE).cast(pl.Int64).alias(ACCOUNTS_BEFORE),
        pl.col(S.CLUSTER_SCORE).alias(SCORE_BEFORE),
        pl.col(S.FLAGGED).alias(FLAGGED_BEFORE),
    )
    joined = (
        now.join(before, on=S.ACCOUNT_ID, how="left")
        .filter(pl.col("_before").is_null() | (pl.col("_before") != pl.col(S.CLUSTER_ID)))
        .join(seen.with_columns(pl.lit(False).alias(NEW_ACCOUNT)), on=S.ACCOUNT_ID, how="left")
        .select(
            S.CLUSTER_ID,
            S.ACCOUNT_ID,
            pl.lit("joined").alias(MOVEMENT),
            pl.col("_before").alias(OTHER_CLUSTER),
            pl.col(NEW_ACCOUNT).fill_null(True),
        )
    )
    left = (
        before.join(now, on=S.ACCOUNT_ID, how="left")
        .filter(pl.col(S.CLUSTER_ID).is_null() | (pl.col("_before") != pl.col(S.CLUSTER_ID)))
        .select(
            pl.col("_before").alias(S.CLUSTER_ID),
            S.ACCOUNT_ID,
            pl.lit("left").alias(MOVEMENT),
            pl.col(S.CLUSTER_ID).alias(OTHER_CLUSTER),
            pl.lit(False).alias(NEW_ACCOUNT),
        )
    )
    # Where each previous operation's accounts went, and where each cluster's came from.
    flows = (
        before.join(now, on=S.ACCOUNT_ID)
        .group_by("_before", S.CLUSTER_ID)
        .agg(pl.len().alias("_n"))
    )
    inherited = set(old[S.CLUSTER_ID].to_list()) & set(clusters[S.CLUSTER_ID].to_list())
    successor_less = old.filter(~pl.col(S.CLUSTER_ID).is_in(list(inherited)))
    destination = (
        flows.sort(["_n", S.CLUSTER_ID], descending=[True, False])
        .group_by("_before", maintain_order=True)
        .first()
        .select(pl.col("_before").alias(S.CLUSTER_ID), pl.col(S.CLUSTER_ID).alias("_into"))
    )
    absorbed = (
        successor_less.join(destination, on=S.CLUSTER_ID, how="left")
        .filter(pl.col("_into").is_in(list(inherited)))
        .select(S.CLUSTER_ID, "_into")
    )
    source = (
        flows.sort(["_n", "_before"], descending=[True, False])
        .group_by(S.CLUSTER_ID, maintain_order=True)
        .first()
        .select(S.CLUSTER_ID, pl.col("_before").alias("_from"), "_n")
    )
    counts = (
        pl.concat([joined, left])
        .group_by(S.CLUSTER_ID)
        .agg(
            (pl.col(MOVEMENT) == "joined").sum().cast(pl.Int64).alias(JOINED),
            (pl.col(MOVEMENT) == "left").sum().cast(pl.Int64).alias(LEFT),
        )
    )
    merged_from = absorbed.group_by("_into").agg(
        pl.col(S.CLUSTER_ID).sort().str.join(" ").alias("_merged")
    )
    current = (
        clusters.join(old, on=S.CLUSTER_ID, how="left")
        .join(counts, on=S.CLUSTER_ID, how="left")
        .join(source, on=S.CLUSTER_ID, how="left")
        .join(merged_from, left_on=S.CLUSTER_ID, right_on="_into", how="left")
        .with_columns(pl.col(JOINED, LEFT).fill_null(0))
        .with_columns(
            pl.when(pl.col(ACCOUNTS_BEFORE).is_null())
            .then(
                pl.when(pl.col("_n").fill_null(0) * 2 >= pl.col(ACCOUNTS_AFTER))
                .then(pl.lit("split"))
                .otherwise(pl.lit("new"))
            )
            .when(pl.col("_merged").is_not_null())
            .then(pl.lit("merged"))
            .when(pl.col(ACCOUNTS_AFTER) > pl.col(ACCOUNTS_BEFORE))
            .then(pl.lit("grown"))
            .when(pl.col(ACCOUNTS_AFTER) < pl.col(ACCOUNTS_BEFORE))
            .then(pl.lit("shrunk"))
            .when(pl.col(JOINED) > 0)
            .then(pl.lit("reshuffled"))
            .otherwise(pl.lit("unchanged"))
            .alias(CHANGE)
        )
        .with_columns(
            pl.when(pl.col(CHANGE) == "split")
            .then(pl.col("_from"))
            .when(pl.col(CHANGE) == "merged")
            .then(pl.col("_merged"))
            .alias(RELATED)
        )
    )
    gone = (
        successor_less.join(absorbed, on=S.CLUSTER_ID, how="left")
        .join(counts, on=S.CLUSTER_ID, how="left")
        .with_columns(
            pl.col(JOINED).fill_null(0),
            pl.col(LEFT).fill_null(0),
            pl.lit(None, dtype=pl.Int64).alias(ACCOUNTS_AFTER),
            pl.lit(None, dtype=pl.Float64).alias(SCORE_AFTER),
            pl.lit(None, dtype=pl.Boolean).alias(FLAGGED_AFTER),
            pl.when(pl.col("_into").is_not_null())
            .then(pl.lit("absorbed"))
            .otherwise(pl.lit("dissolved"))
            .alias(CHANGE),
            pl.col("_into").alias(RELATED),
        )
    )
    decided = (
        pl.DataFrame(schema={S.CLUSTER_ID: pl.String, DECISION: pl.String})
        if applied is None or applied.is_empty()
        else applied.filter(pl.col(TARGET_KIND) == "operation").select(
            pl.col(TARGET).alias(S.CLUSTER_ID), DECISION
        )
    )
    columns = [c for c in CHANGES_SCHEMA if c != DECISION]
    changes = (
        pl.concat(
            [
                current.with_columns(pl.lit(None, dtype=pl.String).alias(FLAG_CHANGE)).select(
                    columns
                ),
                gone.with_columns(pl.lit(None, dtype=pl.String).alias(FLAG_CHANGE)).select(columns),
            ]
        )
        .join(decided, on=S.CLUSTER_ID, how="left")
        .with_columns(
            pl.when(
                pl.col(FLAGGED_AFTER).fill_null(False) & ~pl.col(FLAGGED_BEFORE).fill_null(False)
            )
            .then(pl.lit("newly flagged"))
            .when(~pl.col(FLAGGED_AFTER).fill_null(False) & pl.col(FLAGGED_BEFORE).fill_null(False))
            .then(pl.lit("no longer flagged"))
            .alias(FLAG_CHANGE)
        )
        .filter(
            pl.col(FLAGGED_BEFORE).fill_null(False)
            | pl.col(FLAGGED_AFTER).fill_null(False)
            | pl.col(DECISION).is_not_null()
        )
        .with_columns(
            ((pl.col(DECISION) == "confirmed") & (pl.col(JOINED) > 0))
            .fill_null(False)
            .alias("_first"),
            pl.col(FLAGGED_AFTER).fill_null(False).alias("_flagged"),
        )
        .sort(["_first", "_flagged", _number(S.CLUSTER_ID)], descending=[True, True, False])
        .with_row_index("_order")
    )
    moved = (
        pl.concat([joined, left])
        .join(changes.select(S.CLUSTER_ID, "_order"), on=S.CLUSTER_ID)
        .sort(["_order", MOVEMENT, S.ACCOUNT_ID], descending=[False, True, False])
        .select(list(MOVED_SCHEMA))
        .cast(pl.Schema(MOVED_SCHEMA))
    )
    changes = changes.select(list(CHANGES_SCHEMA)).cast(pl.Schema(CHANGES_SCHEMA))
    return changes, moved


@dataclass(frozen=True)
class Tracked:
    """How a run follows the previous one, and the decisions it applied.

    Attributes
    ----------
    next_number
        The first operation number this run did not issue or inherit (``run.json``'s
        ``operations.next_number``, where the next run starts).
    matched
        Clusters that kept a previous operation's id (0 without a previous run).
    changes, moved
        :func:`operation_changes`' tables; None without a previous run.
    decisions
        :func:`apply_decisions`' table; None without a decisions file.
    baselines
        The baselines this run carries to the next (:func:`carried_baselines` of the
        previous run's and this run's); empty when there are none.
    """

    next_number: int
    matched: int = 0
    changes: pl.DataFrame | None = None
    moved: pl.DataFrame | None = None
    decisions: pl.DataFrame | None = None
    baselines: pl.DataFrame | None = None


def track(
    scored: Scored,
    *,
    previous: Previous | None,
    matched: Matched | None,
    decisions: pl.DataFrame | None,
    params: TrackParams | None = None,
    identity_kinds: Sequence[str] = IDENTITY_KINDS,
    organisations: pl.DataFrame | None = None,
) -> tuple[Scored, Tracked]:
    """Apply the decisions to ``scored`` and compare it with the previous run.

    ``matched`` is :func:`match_operations`' answer that ``scored`` was numbered with.
    Returns the scored tables with the decisions applied and the :class:`Tracked` record.
    """
    scored, applied = apply_decisions(
        scored,
        decisions,
        previous=previous,
        params=params,
        identity_kinds=identity_kinds,
        organisations=organisations,
    )
    numbers = [S.operation_number(c) for c in scored.clusters[S.CLUSTER_ID].to_list()]
    next_number = max([max(numbers, default=0) + 1, previous.next_number if previous else 1])
    changes, moved = (
        (None, None) if previous is None else operation_changes(scored, previous, applied)
    )
    return scored, Tracked(
        next_number=next_number,
        matched=0 if matched is None else matched.names.height,
        changes=changes,
        moved=moved,
        decisions=applied if decisions is not None else None,
        baselines=carried_baselines(previous.baselines if previous else None, applied),
    )
