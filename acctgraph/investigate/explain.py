"""Why an account is where it is, and what links two accounts: read from a finished run.

Everything here works from a run folder (:func:`acctgraph.runfolder.load_run`): the
bipartite incidence (account, value, strength), the value table (kind, kind
weight, holders, hub status), the projection edges and the members and
clusters tables. Nothing is recomputed from the inputs.

A value shared by accounts ``a`` and ``b`` contributes ``kind_weight ×
strength_a × strength_b`` to their link, exactly as in
:mod:`acctgraph.graph.build`; a hub value that the graph layer *dropped* (held
by too large a share of the accounts) contributes nothing and is shown as
such. The projection's edge weight can differ from the sum of contributions:
infrastructure kinds (IP, range, co-activity) only corroborate other evidence,
hub values are linked through rings, and pairs below the edge threshold are
not linked.

Paths. When two accounts share nothing that counts, :func:`explain_pair` finds
the shortest weighted path through the bipartite graph (account → value →
account …). An account–value edge costs ``-ln(strength × sqrt(kind_weight /
max_kind_weight))``, so one hop account → value → account costs
``-ln(contribution / max_kind_weight)``: the path found maximises the product
of the hops' (normalised) contributions. This was chosen over ``1 /
contribution`` because it splits exactly over the two edges of a hop, is never
negative (strengths are at most 1) and makes a chain of strong, specific links
beat a single weak one only when it is strong enough at every hop. Dropped hub
values are not crossed.

Examples
--------
Five accounts: ``a`` and ``b`` share a card, ``b`` and ``c`` a device, ``c``
and ``d`` another card; ``e`` shares nothing.

>>> import polars as pl, tempfile
>>> from acctgraph.load import dataset_from_frames
>>> from acctgraph import run_pipeline, write_outputs
>>> from acctgraph.runfolder import load_run
>>> accounts = pl.DataFrame({"account_id": ["a", "b", "c", "d", "e"],
...     "payment_fingerprint": ["card1", "card1", "card2", "card2", None],
...     "device_id": [None, "dev1", "dev1", None, None]})
>>> exchanges = pl.DataFrame({"account_id": ["a", "b", "c", "d", "e"], "timestamp": [1776852000] * 5})
>>> out = tempfile.mkdtemp()
>>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
>>> run = load_run(out)
>>> explain_account(run, "a").ties.select("attribute_kind", "value").rows()
[('payment', 'card1')]
>>> pair = explain_account(run, "a", with_account="d")
>>> pair.shared.height, pair.path.select("account_id", "value", "next_account_id").rows()
(0, [('a', 'card1', 'b'), ('b', 'dev1', 'c'), ('c', 'card2', 'd')])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from acctgraph.cards.linkage import comparison_phrase, links_seen_from
from acctgraph.cluster.score import (
    ACCOUNTS_IN_CLUSTER,
    ACCOUNTS_OUTSIDE,
    CONTRIBUTION,
    SIZE,
    SUMMARY,
)
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError, InputError
from acctgraph.core.textsafe import cap, visible
from acctgraph.graph.build import (
    ACCOUNT_INDEX,
    DROPPED,
    HUB_ACTION,
    INFRASTRUCTURE,
    KIND_WEIGHT,
    N_ACCOUNTS,
    SOURCE,
    STRENGTH,
    TARGET,
    VALUE_INDEX,
    VALUE_WEIGHT,
    WEIGHT,
)
from acctgraph.investigate.behaviour import account_behaviour
from acctgraph.investigate.bipartite import (
    CLUSTER_SIZE,
    account_table,
    bipartite_graph,
    shared_contribution,
)
from acctgraph.investigate.records import DECIMALS, frame_records
from acctgraph.investigate.terminal import terminal_text, text_table
from acctgraph.runfolder import Run

OTHER_ACCOUNT_ID = "other_account_id"
OTHER_CLUSTER_ID = "other_cluster_id"
SAME_CLUSTER = "same_cluster"
CONTRIBUTION_IN_CLUSTER = "contribution_in_cluster"
CONTRIBUTION_OUTSIDE = "contribution_outside"
N_SHARED = "n_shared"
VALUES_HELD = "values_held"
SHARED_IN_CLUSTER = "shared_in_cluster"
CLUSTER_VALUES = "cluster_values"
MEMBERS_SHARING = "members_sharing"
STRENGTH_A = "strength_a"
STRENGTH_B = "strength_b"
HOP = "hop"
NEXT_ACCOUNT_ID = "next_account_id"
NEXT_CLUSTER_ID = "next_cluster_id"
LINKED_ACCOUNTS = "linked_accounts"

#: Rows per table of an explanation (values, links, shared values) unless ``top`` says otherwise.
DEFAULT_ROWS_PER_SECTION = 10


# =============================================================================
# Looking accounts up
# =============================================================================


def find_accounts(run: Run, account_ids: Sequence[str]) -> pl.DataFrame:
    """The account table's rows for ``account_ids`` (in the order given); unknown ids raise.

    Rows are those of :func:`~acctgraph.investigate.bipartite.account_table`.

    Raises
    ------
    InputError
        Naming the first few ids that are not accounts of the run (ids match exactly).
    """
    wanted = pl.DataFrame(
        {S.ACCOUNT_ID: list(account_ids)}, schema={S.ACCOUNT_ID: pl.String}
    ).with_row_index("_order")
    found = wanted.join(account_table(run), on=S.ACCOUNT_ID, how="left").sort("_order")
    missing = found.filter(pl.col(ACCOUNT_INDEX).is_null())[S.ACCOUNT_ID].to_list()
    if missing:
        listed = ", ".join(repr(cap(visible(str(m)), 80)) for m in missing[:5])
        raise InputError(
            f"account id {listed} is not in this run ({run.graph_accounts.height:,} accounts); "
            "ids must match exactly, including case",
            path=str(run.path),
        )
    return found.drop("_order")


def _check_top(top: int | None) -> None:
    if top is not None and top < 1:
        raise ConfigError(f"top must be at least 1 (or None for everything), got {top}")


def _head(frame: pl.DataFrame, top: int | None) -> pl.DataFrame:
    return frame if top is None else frame.head(top)


def _cluster_phrase(
    cluster_id: str | None,
    flagged: bool | None,
    score: float | None = None,
    size: int | None = None,
) -> str:
    if cluster_id is None:
        return "no cluster"
    parts = [f"cluster {cluster_id}"]
    if size is not None:
        parts.append(f"{size} accounts")
    if score is not None:
        parts.append(f"score {score:.2f}")
    parts.append("flagged" if flagged else "not flagged")
    return parts[0] + " (" + ", ".join(parts[1:]) + ")"


# =============================================================================
# One account
# =============================================================================


@dataclass(frozen=True)
class AccountExplanation:
    """Why an account is where it is (every field a table; :meth:`to_text` renders them).

    Attributes
    ----------
    account
        One row: ``account_id, cluster_id, cluster_size, cluster_score, flagged,
        summary, values_held, linked_accounts`` (cluster fields null when the
        account is in no cluster of two or more).
    ties
        Values the account holds with at least one other member of its cluster:
        ``attribute_kind, value, accounts_in_cluster`` (this account included),
        ``accounts_outside, n_accounts, value_weight, strength,
        contribution_in_cluster`` (summed over the other members holding it),
        ``contribution_outside, hub_action, infrastructure``; strongest first.
    unshared
        Values it holds that no other member holds (shared only with accounts
        outside its cluster), same columns, by ``contribution_outside``.
    kinds
        Per attribute kind: ``values_held``, ``shared_in_cluster`` (of those),
        ``cluster_values`` (values of the kind held by two or more members) and
        ``members_sharing`` (members holding one of them). A kind with
        ``cluster_values > 0`` and ``shared_in_cluster == 0`` is evidence the
        cluster has and this account lacks.
    links
        Its strongest projection edges: ``other_account_id, weight,
        other_cluster_id, same_cluster, n_shared, contribution`` (sum of the
        shared values' contributions).
    link_values
        The shared values making each link: ``other_account_id,
        attribute_kind, value, n_accounts, contribution, hub_action,
        infrastructure``.
    min_edge_weight
        The run's edge threshold (pairs below it are not linked), from run.json.
    attachment
        When the account joined its cluster by behaviour rather than by links
        (:mod:`acctgraph.cluster.attach`): its row of ``attached`` (kind, similarity,
        members' median similarity, profile values shared); else None.
    linkage_kinds
        The kinds compared by record linkage (their shared values are listed with the
        others, but link accounts only through ``record_links``).
    record_links
        When the run declared accounts columns (record linkage): its links, one row
        per other account and compared column (``other_account_id, probability,
        match_weight, attribute_kind, comparison, level, own_value, other_value,
        similarity, bits``), strongest link first; None otherwise.
    behaviour
        When its cluster is a behaviour cohort (:mod:`acctgraph.cluster.cohort`,
        the run's ``cohorts`` table): ``cohort`` (that table's row: signature,
        accounts, members_share, other_holders, other_share, contrast,
        hours_active, capability_share, merged_clusters, joined_alone, ...)
        and ``account`` (its own figures,
        :func:`~acctgraph.investigate.behaviour.account_behaviour`: its share of
        the signature, hours active, capability share); else None (also for
        runs written before cohorts existed).
    merges
        When its cluster was merged from flagged clusters by behaviour
        (:mod:`acctgraph.cluster.merge`, the run's ``merges`` table): that table's
        rows for the cluster, in step order; else None.
    decisions
        In runs with a decisions file: the rows of the run's ``decisions`` table about
        this account or its operation (:mod:`acctgraph.cluster.track`); else None.
    """

    account: pl.DataFrame
    ties: pl.DataFrame
    unshared: pl.DataFrame
    kinds: pl.DataFrame
    links: pl.DataFrame
    link_values: pl.DataFrame
    min_edge_weight: float | None
    attachment: dict[str, Any] | None = None
    behaviour: dict[str, Any] | None = None
    record_links: pl.DataFrame | None = None
    linkage_kinds: frozenset[str] = frozenset()
    merges: list[dict[str, Any]] | None = None
    decisions: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one list of records per table (raw values, floats rounded to 6 places)."""
        return {
            "decisions": self.decisions,
            "merges": self.merges,
            "record_links": None if self.record_links is None else frame_records(self.record_links),
            "account": frame_records(self.account)[0],
            "ties": frame_records(self.ties),
            "unshared": frame_records(self.unshared),
            "kinds": frame_records(self.kinds),
            "links": frame_records(self.links),
            "link_values": frame_records(self.link_values),
            "min_edge_weight": self.min_edge_weight,
            "attachment": self.attachment,
            "behaviour": self.behaviour,
        }

    def to_text(self, *, values_per_link: int = 3) -> str:
        """Plain text for the terminal; attacker-written values are escaped and capped."""
        a = self.account.row(0, named=True)
        lines = [f"account {terminal_text(a[S.ACCOUNT_ID], 80)}"]
        clustered = a[S.CLUSTER_ID] is not None
        lines.append(
            "  "
            + _cluster_phrase(a[S.CLUSTER_ID], a[S.FLAGGED], a[S.CLUSTER_SCORE], a[CLUSTER_SIZE])
        )
        if clustered and a[SUMMARY]:
            lines.append(f"  cluster summary: {terminal_text(a[SUMMARY], 200)}")
        lines.append(
            f"  holds {a[VALUES_HELD]} value(s) shared with other accounts; "
            f"linked to {a[LINKED_ACCOUNTS]} account(s) in the projection"
        )
        if self.attachment is not None:
            t = self.attachment
            lines.append(
                f"  attached by behaviour: its {terminal_text(t[S.ATTRIBUTE_KIND], 24)} profile has cosine "
                f"{t['similarity']:.3f} with the cluster's (members' median {t['members_similarity']:.3f}) "
                f"and holds {t['shared_values']} of the cluster's profile values; no link of its own "
                f"cleared the edge threshold"
            )
        if self.behaviour is not None:
            lines += _behaviour_lines(self.behaviour)
        if self.merges:
            lines += _merge_lines(self.merges)
        for d in self.decisions or []:
            lines.append(
                f"  decision on this {d['target_kind']}: {d['decision'].replace('_', ' ')} by "
                f"{terminal_text(d['decided_by'], 40)}, {terminal_text(d['decided_at'], 30)} "
                f"({terminal_text(d['note'], 120)}): {d['effect']}"
            )
        lines.append("")
        if clustered:
            lines.append(f"Values tying it to its cluster ({self.ties.height} shown)")
            lines += (
                _value_rows(self.ties, CONTRIBUTION_IN_CLUSTER, linkage_kinds=self.linkage_kinds)
                if self.ties.height
                else ["  (none)"]
            )
            lines.append("")
        threshold = (
            "" if self.min_edge_weight is None else f"; edge threshold {self.min_edge_weight:g}"
        )
        lines.append(f"Strongest links ({self.links.height} shown{threshold})")
        if self.links.height:
            rows = []
            for link in self.links.iter_rows(named=True):
                values = self.link_values.filter(pl.col(OTHER_ACCOUNT_ID) == link[OTHER_ACCOUNT_ID])
                described = [
                    f"{terminal_text(k, 16)}={terminal_text(v, 32)} ({c:.2f})"
                    for k, v, c in values.select(S.ATTRIBUTE_KIND, S.VALUE, CONTRIBUTION)
                    .head(values_per_link)
                    .iter_rows()
                ]
                if values.height > values_per_link:
                    described.append(f"+{values.height - values_per_link} more")
                other = link[OTHER_CLUSTER_ID]
                rows.append(
                    [
                        terminal_text(link[OTHER_ACCOUNT_ID], 40),
                        f"{link[WEIGHT]:.2f}",
                        "same" if link[SAME_CLUSTER] else ("-" if other is None else str(other)),
                        "; ".join(described),
                    ]
                )
            lines += text_table(
                ["account", "weight", "cluster", "shared values (contribution)"], rows, right=[1]
            )
        else:
            lines.append(
                "  (none: with every account, what it shares stays below the threshold; "
                "infrastructure values count only as corroboration of other evidence)"
            )
        lines.append("")
        if self.record_links is not None and self.record_links.height:
            lines += self._record_link_lines()
        lines.append(
            "What it does not share" if clustered else "What it shares, and why that is not enough"
        )
        lines += self._not_shared_lines(clustered)
        return "\n".join(lines) + "\n"

    def _record_link_lines(self) -> list[str]:
        """Each record link: the other account, its match probability and every comparison."""
        assert self.record_links is not None
        lines = ["Record links on declared columns (Fellegi-Sunter: bits per column add up)"]
        for (other,), group in self.record_links.group_by(OTHER_ACCOUNT_ID, maintain_order=True):
            first = group.row(0, named=True)
            lines.append(
                f"  {terminal_text(other, 40)}: match probability {first['probability']:.3f}, "
                f"match weight {first['match_weight']:+.1f} bits"
            )
            for row in group.iter_rows(named=True):
                phrase = comparison_phrase(
                    row[S.ATTRIBUTE_KIND],
                    row["level"],
                    row["own_value"],
                    row["other_value"],
                    row["similarity"],
                    row["comparison"],
                )
                lines.append(f"    {row['bits']:+6.1f}  {terminal_text(phrase, 120)}")
        lines.append("")
        return lines

    def _not_shared_lines(self, clustered: bool) -> list[str]:
        a = self.account.row(0, named=True)
        lines = []
        if clustered:
            lacking = self.kinds.filter(
                (pl.col(CLUSTER_VALUES) > 0) & (pl.col(SHARED_IN_CLUSTER) == 0)
            )
            for kind, n_values, n_members in lacking.select(
                S.ATTRIBUTE_KIND, CLUSTER_VALUES, MEMBERS_SHARING
            ).iter_rows():
                lines.append(
                    f"  {terminal_text(kind, 24)}: the cluster shares {n_values} value(s) (held by {n_members} of "
                    f"{a[CLUSTER_SIZE]} members); this account holds none of them"
                )
            if not lines:
                lines.append("  it holds a shared value of every kind its cluster shares")
        elif a[LINKED_ACCOUNTS]:
            lines.append(
                "  it is linked to other accounts, but community detection left it out of their "
                "clusters (weakly attached accounts are detached)"
            )
        if self.unshared.height:
            lines.append(
                f"  values it holds that no other member of its cluster holds ({self.unshared.height} shown):"
                if clustered
                else f"  values it shares with other accounts ({self.unshared.height} shown):"
            )
            lines += _value_rows(
                self.unshared,
                CONTRIBUTION_OUTSIDE,
                in_cluster=clustered,
                linkage_kinds=self.linkage_kinds,
            )
        elif not a[VALUES_HELD]:
            lines.append("  it holds no value that any other account holds")
        return lines


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _behaviour_lines(behaviour: dict[str, Any]) -> list[str]:
    """The behaviour that ties the account to its cohort, with the cohort's figures beside its own."""
    c, a = behaviour["cohort"], behaviour["account"]
    other_holders = c.get("other_holders") or 0
    lines = [
        "  tied by behaviour (a behaviour cohort of "
        f"{c.get('accounts')} accounts; no shared card or device needed):",
        f"    prompt '{terminal_text(str(c.get('signature')), 80)}' is "
        f"{_percent(a.get('signature_share'))} of this account's {a.get('sampled_prompts')} "
        f"sampled prompts (cohort median {_percent(c.get('members_share'))}; "
        f"{_percent(c.get('other_share'))} of its {other_holders:,} other holder"
        f"{'' if other_holders == 1 else 's'}; contrast {c.get('contrast') or 0:.1f}x)",
        f"    active in {a.get('hours_active')} of 24 hours (UTC) (cohort: "
        f"{c.get('hours_active')} of 24); {_percent(a.get('capability_share'))} coding, agentic "
        f"or reasoning prompts (cohort {_percent(c.get('capability_share'))})",
    ]
    if a.get("top_prompt") is not None and (a.get("top_prompt_share") or 0) > (
        a.get("signature_share") or 0
    ):
        lines.append(
            f"    its own most-sent prompt is '{terminal_text(str(a['top_prompt']), 80)}' "
            f"({_percent(a.get('top_prompt_share'))})"
        )
    twins = c.get("twins") or 0
    if twins:
        lines.append(
            f"    told apart from {twins} other operation{'' if twins == 1 else 's'} favouring "
            f"the same prompt by its own prompt '{terminal_text(str(c.get('own_prompt')), 80)}'"
        )
    merged, alone = c.get("merged_clusters") or 0, c.get("joined_alone") or 0
    if merged or alone:
        lines.append(
            f"    the cohort merged {merged} linked cluster{'' if merged == 1 else 's'} "
            f"and {alone} account{'' if alone == 1 else 's'} that were in no cluster"
        )
    return lines


def _decisions(run: Run, account_id: str, cluster: str | None) -> list[dict[str, Any]] | None:
    """The decisions about the account or its operation (runs with ``--decisions``)."""
    table = run.decisions
    if table is None:
        return None
    about = (pl.col("target_kind") == "account") & pl.col("target").is_in(
        [account_id, f"account:{account_id}"]
    )
    profile = run.profile_accounts
    if S.ORG_ID in profile.columns:
        org = profile.filter(pl.col(S.ACCOUNT_ID) == account_id)[S.ORG_ID]
        if org.len() and org[0] is not None:
            about = about | (pl.col("target_kind") == "organisation") & pl.col("target").is_in(
                [org[0], f"org:{org[0]}"]
            )
    if cluster is not None:
        about = about | (pl.col("target_kind") == "operation") & (pl.col("target") == cluster)
    rows = table.filter(about).drop("row").to_dicts()
    return rows or None


def _merge_lines(merges: list[dict[str, Any]]) -> list[str]:
    """The steps that merged flagged clusters into the account's cluster, with their figures."""
    lines = [
        f"  merged by behaviour from {len(merges) + 1} flagged clusters (merges.csv): "
        "they send the same prompts in similar shares and behave alike"
    ]
    for m in merges:
        lines.append(
            f"    step {m['step']}: {m['accounts']} accounts (first "
            f"{terminal_text(m['first_account'], 40)}) joined {m['into_accounts']}: prompt "
            f"overlap {_percent(m['template_overlap'])} over {m['shared_templates']} prompts "
            f"(most shared '{terminal_text(m['top_template'], 50)}'), behaviour "
            f"{m['divergence']:.2f} nats per account apart ({m['differs_most'].replace('_', ' ')} "
            "differ most)"
        )
    return lines


def _merges(run: Run, cluster: str | None) -> list[dict[str, Any]] | None:
    """The run's merge steps for ``cluster``, or None (none, old runs, no cluster)."""
    table = getattr(run, "merges", None)
    if table is None or cluster is None:
        return None
    rows = table.filter(pl.col(S.CLUSTER_ID) == cluster).sort("step")
    return frame_records(rows) if rows.height else None


def _behaviour(run: Run, account_id: str, cluster: str | None) -> dict[str, Any] | None:
    """The account's cohort row and its own behaviour figures, or None (no cohort, old runs)."""
    table = getattr(run, "cohorts", None)
    if cluster is None or table is None or S.CLUSTER_ID not in table.columns:
        return None
    found = table.filter(pl.col(S.CLUSTER_ID) == cluster)
    if not found.height:
        return None
    cohort = frame_records(found)[0]
    signature = cohort.get("signature")
    figures = account_behaviour(
        run, account_id, signature=None if signature is None else str(signature)
    )
    return {"cohort": cohort, "account": frame_records(pl.DataFrame([figures]))[0]}


def _value_rows(
    frame: pl.DataFrame,
    contribution: str,
    *,
    in_cluster: bool = True,
    linkage_kinds: frozenset[str] = frozenset(),
) -> list[str]:
    rows = []
    for row in frame.iter_rows(named=True):
        notes = []
        if row[S.ATTRIBUTE_KIND] in linkage_kinds:
            notes.append("record linkage: links only through the comparisons below")
        if row[HUB_ACTION]:
            notes.append(f"hub: {row[HUB_ACTION]}")
        if row[INFRASTRUCTURE]:
            notes.append("infrastructure: corroborates only")
        rows.append(
            [
                terminal_text(row[S.ATTRIBUTE_KIND], 20),
                terminal_text(row[S.VALUE]),
                str(row[ACCOUNTS_IN_CLUSTER]),
                str(row[ACCOUNTS_OUTSIDE]),
                f"{row[VALUE_WEIGHT]:.2f}",
                f"{row[contribution]:.2f}",
                "; ".join(notes),
            ]
        )
    headers = ["kind", "value", "in cluster", "outside", "weight", "contribution (sum)", "note"]
    if not in_cluster:  # an account in no cluster: every other holder is outside
        headers[3] = "other holders"
        headers.pop(2)
        rows = [r[:2] + r[3:] for r in rows]
        return text_table(headers, rows, right=[2, 3, 4])
    return text_table(headers, rows, right=[2, 3, 4, 5])


def explain_account(
    run: Run,
    account_id: str,
    *,
    with_account: str | None = None,
    top: int | None = DEFAULT_ROWS_PER_SECTION,
) -> AccountExplanation | PairExplanation:
    """Why ``account_id`` is in its cluster (or in none); with ``with_account``, what links the two.

    Parameters
    ----------
    run
        A finished run (:func:`acctgraph.runfolder.load_run`).
    account_id
        The account to explain (matched exactly).
    with_account
        Another account: return :func:`explain_pair`'s answer instead.
    top
        At most this many rows in ``ties``, ``unshared`` and ``links``
        (``None``: all). ``kinds`` is always complete.

    Returns
    -------
    AccountExplanation or PairExplanation

    Raises
    ------
    InputError
        If an account id is not in the run.

    Examples
    --------
    >>> import polars as pl, tempfile
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> from acctgraph.runfolder import load_run
    >>> accounts = pl.DataFrame({"account_id": ["a", "b", "c"],
    ...     "payment_fingerprint": ["card1", "card1", "card1"], "device_id": ["d1", "d1", None]})
    >>> exchanges = pl.DataFrame({"account_id": ["a", "b", "c"], "timestamp": [1776852000] * 3})
    >>> out = tempfile.mkdtemp()
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> why = explain_account(load_run(out), "c")
    >>> why.ties.select("attribute_kind", "value", "accounts_in_cluster").rows()
    [('payment', 'card1', 3)]
    >>> why.kinds.filter(pl.col("shared_in_cluster") == 0).select("attribute_kind", "members_sharing").rows()
    [('device', 2)]
    """
    if with_account is not None:
        return explain_pair(run, account_id, with_account, top=top)
    _check_top(top)
    me = find_accounts(run, [account_id]).row(0, named=True)
    index, cluster = me[ACCOUNT_INDEX], me[S.CLUSTER_ID]
    accounts = account_table(run).select(ACCOUNT_INDEX, S.ACCOUNT_ID, S.CLUSTER_ID)
    values = run.values.select(
        VALUE_INDEX,
        S.ATTRIBUTE_KIND,
        S.VALUE,
        N_ACCOUNTS,
        KIND_WEIGHT,
        VALUE_WEIGHT,
        HUB_ACTION,
        INFRASTRUCTURE,
    )
    incidence = run.incidence
    own = incidence.filter(pl.col(ACCOUNT_INDEX) == index).select(
        VALUE_INDEX, pl.col(STRENGTH).alias("_self")
    )
    same = (
        (pl.col(S.CLUSTER_ID) == cluster).fill_null(False) if cluster is not None else pl.lit(False)
    )
    co = (
        incidence.filter(pl.col(ACCOUNT_INDEX) != index)
        .join(own, on=VALUE_INDEX)
        .join(accounts, on=ACCOUNT_INDEX)
        .join(values.select(VALUE_INDEX, KIND_WEIGHT, HUB_ACTION), on=VALUE_INDEX)
        .with_columns(
            shared_contribution(STRENGTH, "_self").alias(CONTRIBUTION), same.alias(SAME_CLUSTER)
        )
    )
    per_value = co.group_by(VALUE_INDEX).agg(
        pl.col(SAME_CLUSTER).sum().alias("_in"),
        (~pl.col(SAME_CLUSTER)).sum().alias(ACCOUNTS_OUTSIDE),
        pl.col(CONTRIBUTION)
        .filter(pl.col(SAME_CLUSTER))
        .sum()
        .round(DECIMALS)
        .alias(CONTRIBUTION_IN_CLUSTER),
        pl.col(CONTRIBUTION)
        .filter(~pl.col(SAME_CLUSTER))
        .sum()
        .round(DECIMALS)
        .alias(CONTRIBUTION_OUTSIDE),
    )
    held = (
        own.join(values, on=VALUE_INDEX)
        .join(per_value, on=VALUE_INDEX, how="left")
        .select(
            S.ATTRIBUTE_KIND,
            S.VALUE,
            (pl.col("_in").fill_null(0) + 1).cast(pl.UInt32).alias(ACCOUNTS_IN_CLUSTER),
            pl.col(ACCOUNTS_OUTSIDE).fill_null(0).cast(pl.UInt32),
            N_ACCOUNTS,
            VALUE_WEIGHT,
            pl.col("_self").round(DECIMALS).alias(STRENGTH),
            pl.col(CONTRIBUTION_IN_CLUSTER).fill_null(0.0),
            pl.col(CONTRIBUTION_OUTSIDE).fill_null(0.0),
            HUB_ACTION,
            INFRASTRUCTURE,
        )
    )
    ties = held.filter(pl.col(ACCOUNTS_IN_CLUSTER) >= 2).sort(
        [CONTRIBUTION_IN_CLUSTER, ACCOUNTS_IN_CLUSTER, S.ATTRIBUTE_KIND, S.VALUE],
        descending=[True, True, False, False],
    )
    unshared = held.filter(pl.col(ACCOUNTS_IN_CLUSTER) == 1).sort(
        [CONTRIBUTION_OUTSIDE, S.ATTRIBUTE_KIND, S.VALUE], descending=[True, False, False]
    )

    # Projection edges of this account.
    edges = run.edges.filter((pl.col(SOURCE) == index) | (pl.col(TARGET) == index)).select(
        pl.when(pl.col(SOURCE) == index)
        .then(pl.col(TARGET))
        .otherwise(pl.col(SOURCE))
        .cast(pl.UInt32)
        .alias(ACCOUNT_INDEX),
        WEIGHT,
    )
    link_sums = co.group_by(ACCOUNT_INDEX).agg(
        pl.len().alias(N_SHARED), pl.col(CONTRIBUTION).sum().round(DECIMALS)
    )
    links_all = (
        edges.join(accounts, on=ACCOUNT_INDEX)
        .join(link_sums, on=ACCOUNT_INDEX, how="left")
        .select(
            ACCOUNT_INDEX,
            pl.col(S.ACCOUNT_ID).alias(OTHER_ACCOUNT_ID),
            pl.col(WEIGHT).round(DECIMALS),
            pl.col(S.CLUSTER_ID).alias(OTHER_CLUSTER_ID),
            same.alias(SAME_CLUSTER),
            pl.col(N_SHARED).fill_null(0).cast(pl.UInt32),
            pl.col(CONTRIBUTION).fill_null(0.0),
        )
        .sort([WEIGHT, OTHER_ACCOUNT_ID], descending=[True, False])
    )
    links = _head(links_all, top)
    link_values = (
        co.join(
            links.select(ACCOUNT_INDEX, OTHER_ACCOUNT_ID, pl.int_range(pl.len()).alias("_rank")),
            on=ACCOUNT_INDEX,
        )
        .join(
            values.select(VALUE_INDEX, S.ATTRIBUTE_KIND, S.VALUE, N_ACCOUNTS, INFRASTRUCTURE),
            on=VALUE_INDEX,
        )
        .sort(
            ["_rank", CONTRIBUTION, S.ATTRIBUTE_KIND, S.VALUE],
            descending=[False, True, False, False],
        )
        .select(
            OTHER_ACCOUNT_ID,
            S.ATTRIBUTE_KIND,
            S.VALUE,
            N_ACCOUNTS,
            CONTRIBUTION,
            HUB_ACTION,
            INFRASTRUCTURE,
        )
    )

    kinds = _kinds(run, held, accounts, values, cluster)
    cluster_row: dict[str, Any] = {CLUSTER_SIZE: None, SUMMARY: None}
    if cluster is not None:
        found = run.clusters.filter(pl.col(S.CLUSTER_ID) == cluster)
        if found.height:
            cluster_row = {CLUSTER_SIZE: int(found[SIZE][0]), SUMMARY: found[SUMMARY][0]}
    account = pl.DataFrame(
        [
            {
                S.ACCOUNT_ID: me[S.ACCOUNT_ID],
                S.CLUSTER_ID: cluster,
                **cluster_row,
                S.CLUSTER_SCORE: me[S.CLUSTER_SCORE],
                S.FLAGGED: bool(me[S.FLAGGED]),
                VALUES_HELD: held.height,
                LINKED_ACCOUNTS: edges.height,
            }
        ],
        schema={
            S.ACCOUNT_ID: pl.String,
            S.CLUSTER_ID: pl.String,
            CLUSTER_SIZE: pl.Int64,
            S.CLUSTER_SCORE: pl.Float64,
            S.FLAGGED: pl.Boolean,
            SUMMARY: pl.String,
            VALUES_HELD: pl.Int64,
            LINKED_ACCOUNTS: pl.Int64,
        },
    )
    return AccountExplanation(
        account=account,
        ties=_head(ties, top),
        unshared=_head(unshared, top),
        kinds=kinds,
        links=links.drop(ACCOUNT_INDEX),
        link_values=link_values,
        min_edge_weight=run.record.get("parameters", {}).get("graph", {}).get("min_edge_weight"),
        attachment=_attachment(run, me[S.ACCOUNT_ID]),
        behaviour=_behaviour(run, me[S.ACCOUNT_ID], cluster),
        merges=_merges(run, cluster),
        decisions=_decisions(run, account_id, cluster),
        record_links=_record_links(run, me[S.ACCOUNT_ID], top),
        linkage_kinds=frozenset(
            kind
            for kind, how in run.record.get("comparisons", {}).items()
            if str(how).endswith("record linkage")
        ),
    )


def _record_links(run: Run, account_id: str, top: int | None) -> pl.DataFrame | None:
    """The account's record links (declared accounts columns), from its side; None without."""
    links = run.links
    if links is None:
        return None
    oriented = links_seen_from(links, [account_id]).drop(S.ACCOUNT_ID)
    ranked = (
        oriented.select(OTHER_ACCOUNT_ID, "match_weight")
        .unique()
        .sort("match_weight", OTHER_ACCOUNT_ID, descending=[True, False])
    )
    kept = _head(ranked, top).with_row_index("_rank")
    return (
        oriented.join(kept.select(OTHER_ACCOUNT_ID, "_rank"), on=OTHER_ACCOUNT_ID)
        .sort("_rank", "bits", S.ATTRIBUTE_KIND, descending=[False, True, False])
        .drop("_rank")
    )


def _attachment(run: Run, account_id: str) -> dict[str, Any] | None:
    """The account's row of the run's ``attached`` table (floats rounded), or None."""
    table = run.attached
    if table is None:
        return None
    found = table.filter(pl.col(S.ACCOUNT_ID) == account_id)
    return frame_records(found)[0] if found.height else None


def _kinds(
    run: Run, held: pl.DataFrame, accounts: pl.DataFrame, values: pl.DataFrame, cluster: str | None
) -> pl.DataFrame:
    """Per kind: what the account holds and shares, and what its cluster shares."""
    mine = held.group_by(S.ATTRIBUTE_KIND).agg(
        pl.len().cast(pl.UInt32).alias(VALUES_HELD),
        (pl.col(ACCOUNTS_IN_CLUSTER) >= 2).sum().cast(pl.UInt32).alias(SHARED_IN_CLUSTER),
    )
    if cluster is None:
        theirs = pl.DataFrame(
            schema={
                S.ATTRIBUTE_KIND: pl.String,
                CLUSTER_VALUES: pl.UInt32,
                MEMBERS_SHARING: pl.UInt32,
            }
        )
    else:
        members = accounts.filter(pl.col(S.CLUSTER_ID) == cluster).select(ACCOUNT_INDEX)
        member_rows = run.incidence.join(members, on=ACCOUNT_INDEX).select(
            ACCOUNT_INDEX, VALUE_INDEX
        )
        shared_values = (
            member_rows.group_by(VALUE_INDEX).agg(pl.len().alias("_n")).filter(pl.col("_n") >= 2)
        )
        theirs = (
            member_rows.join(shared_values.select(VALUE_INDEX), on=VALUE_INDEX)
            .join(values.select(VALUE_INDEX, S.ATTRIBUTE_KIND), on=VALUE_INDEX)
            .group_by(S.ATTRIBUTE_KIND)
            .agg(
                pl.col(VALUE_INDEX).n_unique().cast(pl.UInt32).alias(CLUSTER_VALUES),
                pl.col(ACCOUNT_INDEX).n_unique().cast(pl.UInt32).alias(MEMBERS_SHARING),
            )
        )
    return (
        mine.join(theirs, on=S.ATTRIBUTE_KIND, how="full", coalesce=True)
        .with_columns(
            pl.col(VALUES_HELD, SHARED_IN_CLUSTER, CLUSTER_VALUES, MEMBERS_SHARING).fill_null(0)
        )
        .select(S.ATTRIBUTE_KIND, VALUES_HELD, SHARED_IN_CLUSTER, CLUSTER_VALUES, MEMBERS_SHARING)
        .sort(S.ATTRIBUTE_KIND)
    )


# =============================================================================
# Two accounts
# =============================================================================


@dataclass(frozen=True)
class PairExplanation:
    """The evidence between two accounts.

    Attributes
    ----------
    accounts
        Two rows (``a`` then ``b``): ``account_id, cluster_id, cluster_score, flagged``.
    shared
        Values both hold: ``attribute_kind, value, n_accounts, kind_weight,
        strength_a, strength_b, contribution, hub_action, infrastructure``,
        largest contribution first (at most ``top`` rows).
    by_kind
        Every shared value counted per kind: ``attribute_kind, n_shared,
        contribution``, largest contribution first.
    edge_weight
        Their projection edge weight, or ``None`` when they are not linked.
    path
        When they share nothing that counts: the shortest weighted path through
        the bipartite graph, one row per hop (``hop, account_id,
        attribute_kind, value, next_account_id, next_cluster_id, n_accounts,
        contribution, hub_action, infrastructure``). Empty when they share a
        value directly, or when no path exists (see ``connected``).
    connected
        Whether any chain of shared (not dropped) values joins them.
    """

    accounts: pl.DataFrame
    shared: pl.DataFrame
    by_kind: pl.DataFrame
    edge_weight: float | None
    path: pl.DataFrame
    connected: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one list of records per table (raw values, floats rounded to 6 places)."""
        return {
            "accounts": frame_records(self.accounts),
            "shared": frame_records(self.shared),
            "by_kind": frame_records(self.by_kind),
            "edge_weight": self.edge_weight,
            "path": frame_records(self.path),
            "connected": self.connected,
        }

    def to_text(self) -> str:
        """Plain text for the terminal; attacker-written values are escaped and capped."""
        a, b = self.accounts.iter_rows(named=True)
        lines = [
            f"evidence between {terminal_text(a[S.ACCOUNT_ID], 60)} and {terminal_text(b[S.ACCOUNT_ID], 60)}"
        ]
        for row in (a, b):
            lines.append(
                f"  {terminal_text(row[S.ACCOUNT_ID], 60)}: "
                + _cluster_phrase(row[S.CLUSTER_ID], row[S.FLAGGED], row[S.CLUSTER_SCORE])
            )
        same = a[S.CLUSTER_ID] is not None and a[S.CLUSTER_ID] == b[S.CLUSTER_ID]
        lines.append(
            f"  same cluster: {'yes' if same else 'no'}; projection edge: "
            + (f"weight {self.edge_weight:.2f}" if self.edge_weight is not None else "none")
        )
        lines.append("")
        if self.shared.height:
            total_values = int(self.by_kind[N_SHARED].sum())
            total = float(self.by_kind[CONTRIBUTION].sum())
            lines.append(
                f"Shared values: {total_values}, total contribution {total:.3f} "
                "(contribution = kind weight × strength a × strength b)"
            )
            lines.append(
                "  by kind: "
                + "; ".join(
                    f"{terminal_text(kind, 20)} {n} ({c:.3f})"
                    for kind, n, c in self.by_kind.iter_rows()
                )
            )
            lines.append(f"  strongest {self.shared.height}:")
            rows = []
            for row in self.shared.iter_rows(named=True):
                notes = []
                if row[HUB_ACTION]:
                    notes.append(
                        f"hub: {row[HUB_ACTION]}"
                        + (" (not counted)" if row[HUB_ACTION] == DROPPED else "")
                    )
                if row[INFRASTRUCTURE]:
                    notes.append("infrastructure: corroborates only")
                rows.append(
                    [
                        terminal_text(row[S.ATTRIBUTE_KIND], 20),
                        terminal_text(row[S.VALUE]),
                        str(row[N_ACCOUNTS]),
                        f"{row[KIND_WEIGHT]:.2f}",
                        f"{row[STRENGTH_A]:.2f}",
                        f"{row[STRENGTH_B]:.2f}",
                        f"{row[CONTRIBUTION]:.3f}",
                        "; ".join(notes),
                    ]
                )
            lines += text_table(
                [
                    "kind",
                    "value",
                    "holders",
                    "kind weight",
                    "strength a",
                    "strength b",
                    "contribution",
                    "note",
                ],
                rows,
                right=[2, 3, 4, 5, 6],
            )
        else:
            lines.append("They share no value directly.")
        if self.path.height:
            lines.append("")
            weakest = float(self.path.select(pl.col(CONTRIBUTION).min()).item())
            lines.append(
                f"Shortest weighted path through shared values ({self.path.height} hops; "
                f"weakest hop {weakest:.3f})"
            )
            rows = []
            for row in self.path.iter_rows(named=True):
                nxt = row[NEXT_CLUSTER_ID]
                rows.append(
                    [
                        str(row[HOP]),
                        terminal_text(row[S.ACCOUNT_ID], 40),
                        f"{terminal_text(row[S.ATTRIBUTE_KIND], 20)}={terminal_text(row[S.VALUE], 40)}",
                        str(row[N_ACCOUNTS]),
                        f"{row[CONTRIBUTION]:.3f}",
                        terminal_text(row[NEXT_ACCOUNT_ID], 40),
                        "-" if nxt is None else str(nxt),
                    ]
                )
            lines += text_table(
                ["hop", "from", "shared value", "holders", "contribution", "to", "to's cluster"],
                rows,
                right=[0, 3, 4],
            )
        elif not self.shared.filter(pl.col(CONTRIBUTION) > 0).height and not self.connected:
            lines.append("No chain of shared values joins them.")
        return "\n".join(lines) + "\n"


def _path(run: Run, a: int, b: int, accounts: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """Shortest weighted bipartite path from account ``a`` to ``b`` (see the module docstring)."""
    graph, table = bipartite_graph(run)
    max_weight = float(table.select(pl.col(KIND_WEIGHT).max()).item()) if table.height else 1.0
    cost = (
        table.select(
            (-(pl.col(STRENGTH) * (pl.col(KIND_WEIGHT) / max_weight).sqrt()).log()).clip(0.0, None)
        )
        .to_series()
        .to_list()
    )
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # igraph warns when the target is unreachable
        vertices = graph.get_shortest_path(a, b, weights=cost, output="vpath")
    empty = _path_empty()
    if len(vertices) < 3:
        return empty, False
    n_accounts = run.graph_accounts.height
    hops = pl.DataFrame(
        {
            HOP: list(range(1, len(vertices) // 2 + 1)),
            "_from": vertices[0:-1:2],
            "_value": [v - n_accounts for v in vertices[1::2]],
            "_to": vertices[2::2],
        },
        schema={HOP: pl.Int64, "_from": pl.UInt32, "_value": pl.UInt32, "_to": pl.UInt32},
    )
    strength = table.select(ACCOUNT_INDEX, VALUE_INDEX, STRENGTH)
    names = accounts.select(ACCOUNT_INDEX, S.ACCOUNT_ID, S.CLUSTER_ID)
    path = (
        hops.join(
            strength.rename({ACCOUNT_INDEX: "_from", VALUE_INDEX: "_value", STRENGTH: STRENGTH_A}),
            on=["_from", "_value"],
        )
        .join(
            strength.rename({ACCOUNT_INDEX: "_to", VALUE_INDEX: "_value", STRENGTH: STRENGTH_B}),
            on=["_to", "_value"],
        )
        .join(run.values.rename({VALUE_INDEX: "_value"}), on="_value")
        .join(names.select(pl.col(ACCOUNT_INDEX).alias("_from"), S.ACCOUNT_ID), on="_from")
        .join(
            names.select(
                pl.col(ACCOUNT_INDEX).alias("_to"),
                pl.col(S.ACCOUNT_ID).alias(NEXT_ACCOUNT_ID),
                pl.col(S.CLUSTER_ID).alias(NEXT_CLUSTER_ID),
            ),
            on="_to",
        )
        .with_columns(shared_contribution(STRENGTH_A, STRENGTH_B).alias(CONTRIBUTION))
        .sort(HOP)
        .select(empty.columns)
    )
    return path, True


def explain_pair(
    run: Run, account_a: str, account_b: str, *, top: int | None = DEFAULT_ROWS_PER_SECTION
) -> PairExplanation:
    """The evidence between two accounts: the values they share, or the path that joins them.

    Parameters
    ----------
    run
        A finished run (:func:`acctgraph.runfolder.load_run`).
    account_a, account_b
        Account ids (matched exactly).
    top
        At most this many rows in ``shared`` (``None``: all); ``by_kind`` counts every one.

    Returns
    -------
    PairExplanation
        Shared values with their contributions (``kind_weight × strength_a ×
        strength_b``); when none counts, the shortest weighted path through the
        bipartite graph (module docstring).

    Raises
    ------
    InputError
        If an account id is not in the run.

    Examples
    --------
    >>> import polars as pl, tempfile
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> from acctgraph.runfolder import load_run
    >>> accounts = pl.DataFrame({"account_id": ["a", "b", "c"],
    ...     "payment_fingerprint": ["card1", "card1", None], "device_id": [None, "d1", "d1"]})
    >>> exchanges = pl.DataFrame({"account_id": ["a", "b", "c"], "timestamp": [1776852000] * 3})
    >>> out = tempfile.mkdtemp()
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> run = load_run(out)
    >>> explain_pair(run, "a", "b").shared.select("value", "contribution").rows()
    [('card1', 1.0)]
    >>> explain_pair(run, "a", "c").path.select("hop", "account_id", "value", "next_account_id").rows()
    [(1, 'a', 'card1', 'b'), (2, 'b', 'd1', 'c')]
    """
    _check_top(top)
    if account_a == account_b:
        raise InputError(
            f"explain a pair of two different accounts, got {cap(visible(account_a), 80)!r} twice"
        )
    found = find_accounts(run, [account_a, account_b])
    a, b = found[ACCOUNT_INDEX].to_list()
    accounts = account_table(run)
    values = run.values.select(
        VALUE_INDEX, S.ATTRIBUTE_KIND, S.VALUE, N_ACCOUNTS, KIND_WEIGHT, HUB_ACTION, INFRASTRUCTURE
    )
    incidence = run.incidence.select(ACCOUNT_INDEX, VALUE_INDEX, STRENGTH)
    shared = (
        incidence.filter(pl.col(ACCOUNT_INDEX) == a)
        .select(VALUE_INDEX, pl.col(STRENGTH).alias(STRENGTH_A))
        .join(
            incidence.filter(pl.col(ACCOUNT_INDEX) == b).select(
                VALUE_INDEX, pl.col(STRENGTH).alias(STRENGTH_B)
            ),
            on=VALUE_INDEX,
        )
        .join(values, on=VALUE_INDEX)
        .with_columns(
            shared_contribution(STRENGTH_A, STRENGTH_B).alias(CONTRIBUTION),
            pl.col(STRENGTH_A, STRENGTH_B).round(DECIMALS),
        )
        .select(
            S.ATTRIBUTE_KIND,
            S.VALUE,
            N_ACCOUNTS,
            KIND_WEIGHT,
            STRENGTH_A,
            STRENGTH_B,
            CONTRIBUTION,
            HUB_ACTION,
            INFRASTRUCTURE,
        )
        .sort([CONTRIBUTION, S.ATTRIBUTE_KIND, S.VALUE], descending=[True, False, False])
    )
    lo, hi = min(a, b), max(a, b)
    edge = run.edges.filter((pl.col(SOURCE) == lo) & (pl.col(TARGET) == hi))
    edge_weight = round(float(edge[WEIGHT][0]), DECIMALS) if edge.height else None
    counted = shared.filter(pl.col(CONTRIBUTION) > 0).height > 0
    by_kind = (
        shared.group_by(S.ATTRIBUTE_KIND)
        .agg(pl.len().cast(pl.UInt32).alias(N_SHARED), pl.col(CONTRIBUTION).sum().round(DECIMALS))
        .sort([CONTRIBUTION, S.ATTRIBUTE_KIND], descending=[True, False])
    )
    if counted:
        path, connected = _path_empty(), True
    else:
        path, connected = _path(run, a, b, accounts)
    return PairExplanation(
        accounts=found.select(S.ACCOUNT_ID, S.CLUSTER_ID, S.CLUSTER_SCORE, S.FLAGGED),
        shared=_head(shared, top),
        by_kind=by_kind,
        edge_weight=edge_weight,
        path=path,
        connected=connected,
    )


def _path_empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            HOP: pl.Int64,
            S.ACCOUNT_ID: pl.String,
            S.ATTRIBUTE_KIND: pl.String,
            S.VALUE: pl.String,
            NEXT_ACCOUNT_ID: pl.String,
            NEXT_CLUSTER_ID: pl.String,
            N_ACCOUNTS: pl.UInt32,
            CONTRIBUTION: pl.Float64,
            HUB_ACTION: pl.String,
            INFRASTRUCTURE: pl.Boolean,
        }
    )
