"""What a cluster page draws, as plain data: nodes, edges, legend, facts and what was collapsed.

A :class:`Drawing` is built from a finished run's tables (:mod:`acctgraph.runfolder`),
never by recomputing the graph, and rendered by :mod:`acctgraph.viz.pages`
(HTML files, or inline in a notebook through :mod:`acctgraph.viz.export`). Every
string in it that came from the data has been passed through
:func:`acctgraph.core.textsafe.visible` and capped: tooltips are plain text. The
overview's drawing is in :mod:`acctgraph.viz.overview`.

Cluster drawings are bipartite: the cluster's accounts and the attribute values
held by at least two of them, an edge where an account holds a value. The
values are those of the evidence table (at most ``evidence_max_per_kind`` per
kind, the most shared first), ranked so that kinds take turns. Above the node or
edge budget, the lowest-ranked values are left out and accounts with the same
*signature* (the set of drawn values they hold) are drawn as one group node; the
largest number of values is kept such that groups + values and the edges fit
both budgets. The drawing's notes say what was collapsed.

Examples
--------
>>> from acctgraph.viz.drawing import select_clusters
>>> import polars as pl
>>> clusters = pl.DataFrame({"cluster_id": ["op-000001", "op-000002", "op-000003", "op-000004"],
...                          "cluster_score": [0.9, 0.8, 0.4, 0.3],
...                          "flagged": [True, True, False, False]})
>>> select_clusters(clusters, top=3)
['op-000001', 'op-000002', 'op-000003']
>>> select_clusters(clusters, top=1)
['op-000001', 'op-000002']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from acctgraph.cards.linkage import comparison_phrase
from acctgraph.core import schema as S
from acctgraph.core.errors import InputError
from acctgraph.core.textsafe import cap, visible
from acctgraph.features.kinds import PromptTemplate
from acctgraph.graph.build import (
    ACCOUNT_INDEX,
    DROPPED,
    HUB_ACTION,
    INFRASTRUCTURE,
    KIND_WEIGHT,
    N_ACCOUNTS,
    RING,
    STRENGTH,
    VALUE_INDEX,
    VALUE_WEIGHT,
)
from acctgraph.graph.project import FIXED_POINT

if TYPE_CHECKING:  # pragma: no cover
    from acctgraph.runfolder import Run

#: Most nodes a cluster page draws; above it accounts are grouped and values trimmed.
NODE_BUDGET = 1500
#: Most edges a cluster page draws.
EDGE_BUDGET = 8000

ACCOUNT = "account"
ACCOUNT_GROUP = "account_group"
IN_CLUSTER = "in_cluster"
_VALUE_RANK = "_rank"  # private column: a value's place in the drawing order
PROMPT_TEMPLATE_KIND = PromptTemplate.kind

LABEL_CHARS = 28
TITLE_CHARS = 240


def plain(text: object, limit: int = TITLE_CHARS) -> str:
    """Attacker-written text made safe to show as plain text: invisible characters escaped, capped."""
    if text is None:
        return "—"
    return cap(visible(str(text)), limit)


def format_when(moment: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM UTC``, or ``unknown``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "unknown"


def format_number(value: float | int | None, digits: int = 2) -> str:
    """Thousands separated; floats with ``digits`` decimals; ``—`` for None."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


@dataclass
class Drawing:
    """One page's content.

    Attributes
    ----------
    title
        Page heading (plain text).
    nodes
        One dict per node: ``id`` (int), ``label``, ``group`` (an attribute kind,
        ``account`` or ``account_group``; for the overview ``cluster``), ``title``
        (tooltip, plain text), ``value`` (size), optional ``color`` and ``page``.
    edges
        One dict per edge: ``from``, ``to`` (node ids), ``value`` (width), ``title``.
    legend
        ``(group, label, count)`` per group drawn, in display order.
    facts
        ``(label, text)`` pairs for the page header.
    notes
        What was collapsed or left out to stay within the budget (empty when nothing was).
    counts
        Figures for tests and callers: ``nodes``, ``edges`` and, for a cluster,
        ``accounts``, ``values`` (within ``per_kind``), ``shared_values``,
        ``links``, ``values_drawn`` and ``account_nodes``; for the overview,
        ``clusters`` and ``pairs``.
    cluster_id
        The cluster drawn, or ``None`` for the overview.
    contributions
        For a cluster, ``(signal, value, weight, contribution)`` as display text,
        one per row of its contributions table, largest contribution first.
    """

    title: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    legend: list[tuple[str, str, int]]
    facts: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    cluster_id: str | None = None
    contributions: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def collapsed(self) -> bool:
        return bool(self.notes)


def select_clusters(clusters: pl.DataFrame, *, top: int) -> list[str]:
    """Every flagged cluster, then the highest-scoring others until ``top`` clusters are chosen.

    Ties in score are broken by cluster id, so the choice is deterministic.
    """
    ordered = clusters.sort([S.CLUSTER_SCORE, S.CLUSTER_ID], descending=[True, False])
    flagged = ordered.filter(pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list()
    others = (
        ordered.filter(~pl.col(S.FLAGGED))[S.CLUSTER_ID].head(max(0, top - len(flagged))).to_list()
    )
    return [str(c) for c in flagged + others]


# =============================================================================
# Cluster drawing
# =============================================================================


def cluster_row(run: Run, cluster_id: str) -> dict[str, Any]:
    """The cluster's row of the clusters table; an :class:`~acctgraph.core.errors.InputError` if there is none."""
    rows = run.clusters.filter(pl.col(S.CLUSTER_ID) == cluster_id)
    if rows.height == 0:
        ids = run.clusters[S.CLUSTER_ID]
        span = f"{ids.min()!s}..{ids.max()!s}" if len(ids) else "none"
        raise InputError(
            f"has no cluster {cluster_id} (cluster ids in this run: {span})",
            path=str(run.path / f"{S.CLUSTERS}.parquet"),
        )
    return rows.row(0, named=True)


def _signature_fit(links: pl.DataFrame, accounts: pl.DataFrame, k: int) -> tuple[int, int]:
    """(groups, edges) when only the ``k`` best-ranked values are drawn."""
    signatures = (
        links.filter(pl.col(_VALUE_RANK) < k)
        .group_by(ACCOUNT_INDEX)
        .agg(pl.col(_VALUE_RANK).sort().alias("_sig"))
    )
    per_account = accounts.select(ACCOUNT_INDEX).join(signatures, on=ACCOUNT_INDEX, how="left")
    groups = per_account.select(pl.col("_sig").fill_null([]).unique()).to_series()
    return groups.len(), int(groups.list.len().sum() or 0)


def _largest_fit(
    links: pl.DataFrame, accounts: pl.DataFrame, n_values: int, node_budget: int, edge_budget: int
) -> int:
    """Largest ``k`` such that groups(k) + k ≤ node_budget and edges(k) ≤ edge_budget (both grow with k)."""
    low, high = 0, min(n_values, node_budget - 1)
    while low < high:
        mid = (low + high + 1) // 2
        groups, edges = _signature_fit(links, accounts, mid)
        if groups + mid <= node_budget and edges <= edge_budget:
            low = mid
        else:
            high = mid - 1
    return low


def _top_templates(incidence: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """Per account, its most used shared prompt template: ``account_index, top_template, top_template_events``.

    Ties go to the smaller value index, i.e. the alphabetically first template (values are
    numbered in (kind, value) order).
    """
    templates = values.filter(pl.col(S.ATTRIBUTE_KIND) == PROMPT_TEMPLATE_KIND).select(
        VALUE_INDEX, S.VALUE
    )
    best = (
        incidence.join(templates.select(VALUE_INDEX), on=VALUE_INDEX, how="semi")
        .group_by(ACCOUNT_INDEX)
        .agg(
            pl.col(VALUE_INDEX, S.N_EVENTS)
            .sort_by([S.N_EVENTS, VALUE_INDEX], descending=[True, False])
            .first()
        )
    )
    return best.join(templates, on=VALUE_INDEX).select(
        ACCOUNT_INDEX,
        pl.col(S.VALUE).alias("top_template"),
        pl.col(S.N_EVENTS).alias("top_template_events"),
    )


def _account_title(row: dict[str, Any], as_of: datetime | None, n_shared: int) -> str:
    created = row.get(S.CREATED_AT)
    age = (
        f" ({(as_of - created).days:,} days before the data's last activity)"
        if created and as_of
        else ""
    )
    lines = [
        f"account {plain(row[S.ACCOUNT_ID], 80)}",
        f"display name: {plain(row.get(S.DISPLAY_NAME), 80)}",
        f"created: {format_when(created)}{age}",
        (
            f"exchanges: {format_number(row.get('n_exchanges'))} on {format_number(row.get('active_days'))} days, "
            f"{format_when(row.get('first_seen'))} to {format_when(row.get('last_seen'))}"
            if row.get("n_exchanges")
            else "exchanges: none seen"
        ),
        f"country: {plain(row.get(S.COUNTRY), 40)}; org: {plain(row.get(S.ORG_ID), 40)}",
        f"top template: {plain(row.get('top_template'), 120)}"
        + (f" ({row['top_template_events']:,} events)" if row.get("top_template_events") else ""),
        f"holds {n_shared:,} of the values drawn here",
    ]
    return "\n".join(lines)


def _group_facts(accounts: pl.DataFrame, node_of: pl.DataFrame) -> dict[int, dict[str, Any]]:
    """Per group node: size, exchanges (sum, median), creation span and the first five account ids."""
    exchanges = pl.col("n_exchanges").fill_null(0)
    facts = (
        accounts.join(node_of, on=ACCOUNT_INDEX)
        .group_by("_node")
        .agg(
            pl.len().alias("n"),
            exchanges.sum().alias("exchanges"),
            exchanges.median().alias("median"),
            pl.col(S.CREATED_AT).min().alias("first"),
            pl.col(S.CREATED_AT).max().alias("last"),
            pl.col(S.ACCOUNT_ID).sort().head(5).alias("ids"),
        )
    )
    return {row.pop("_node"): row for row in facts.iter_rows(named=True)}


def _group_title(facts: dict[str, Any], n_values: int) -> str:
    n, ids = facts["n"], facts["ids"]
    lines = [
        f"group of {n:,} accounts holding the same {n_values:,} drawn values"
        if n_values
        else f"group of {n:,} accounts holding none of the drawn values",
        f"exchanges: {int(facts['exchanges'] or 0):,} in all, median {float(facts['median'] or 0):,.0f}",
        f"created: {format_when(facts['first'])} to {format_when(facts['last'])}"
        if facts["first"]
        else "created: unknown",
        "e.g. " + ", ".join(plain(i, 40) for i in ids) + (", …" if n > len(ids) else ""),
    ]
    return "\n".join(lines)


_HUB_NOTES = {
    RING: "hub: held by more accounts than its kind's cap, linked sparsely (ring)",
    DROPPED: "hub: held by too many accounts, not used for linking (dropped)",
}


def _record_link_edges(
    run: Run, cluster_id: str, accounts: pl.DataFrame, node_of: dict[int, int]
) -> list[dict[str, Any]]:
    """Dashed account-to-account edges for the cluster's record links, titled with their comparisons."""
    links = run.links
    if links is None:
        return []
    inside = links.filter(pl.col(S.CLUSTER_ID) == cluster_id)
    if not inside.height:
        return []
    index = dict(accounts.select(S.ACCOUNT_ID, ACCOUNT_INDEX).iter_rows())
    edges: dict[tuple[int, int], list[Any]] = {}
    for row in inside.sort(
        "account_a", "account_b", "bits", descending=[False, False, True]
    ).iter_rows(named=True):
        a, b = index.get(row["account_a"]), index.get(row["account_b"])
        if a is None or b is None or node_of.get(a) == node_of.get(b):
            continue
        key = (node_of[a], node_of[b])
        entry = edges.setdefault(key, [row["probability"], row["match_weight"], []])
        if len(entry[2]) < 6:
            phrase = comparison_phrase(
                row[S.ATTRIBUTE_KIND],
                row["level"],
                row["value_a"],
                row["value_b"],
                row["similarity"],
                row["comparison"],
            )
            entry[2].append(f"{row['bits']:+.1f} {plain(phrase, 90)}")
    return [
        {
            "from": a,
            "to": b,
            "value": round(float(probability), 4),
            "dashes": True,
            "title": f"record link: match probability {probability:.3f} "
            f"({weight:+.1f} bits): " + "; ".join(phrases),
        }
        for (a, b), (probability, weight, phrases) in sorted(edges.items())
    ]


def _value_title(row: dict[str, Any]) -> str:
    outside = row[N_ACCOUNTS] - row[IN_CLUSTER]
    lines = [
        f"{row[S.ATTRIBUTE_KIND]}: {plain(row[S.VALUE])}",
        f"held by {row[IN_CLUSTER]:,} accounts in this cluster and {outside:,} outside "
        f"({row[N_ACCOUNTS]:,} in all)",
        f"weight {row[VALUE_WEIGHT]:.3f} (kind weight {row[KIND_WEIGHT]:.2f})",
    ]
    if row.get(INFRASTRUCTURE):
        lines.append("infrastructure kind: only corroborates other evidence")
    if row.get(HUB_ACTION) in _HUB_NOTES:
        lines.append(_HUB_NOTES[row[HUB_ACTION]])
    return "\n".join(lines)


def _kind_counts(frame: pl.DataFrame, *, most: bool = False) -> str:
    counts = (
        frame.group_by(S.ATTRIBUTE_KIND)
        .agg(pl.len(), pl.col(IN_CLUSTER).max().alias("_most"))
        .sort(["len", S.ATTRIBUTE_KIND], descending=[True, False])
    )
    return ", ".join(
        f"{kind} {n:,}" + (f" (≤{m:,})" if most else "") for kind, n, m in counts.iter_rows()
    )


def evidence_per_kind(run: Run) -> int:
    """The run's ``score.evidence_max_per_kind`` (values listed per cluster and kind)."""
    return run.score_params.evidence_max_per_kind


def cluster_drawing(
    run: Run,
    cluster_id: str,
    *,
    node_budget: int = NODE_BUDGET,
    edge_budget: int = EDGE_BUDGET,
    per_kind: int | None = None,
) -> Drawing:
    """The bipartite drawing of one cluster: its accounts and the values at least two of them hold.

    Parameters
    ----------
    run
        A finished run (:func:`acctgraph.runfolder.load_run`).
    cluster_id
        A ``cluster_id`` of the run's clusters table.
    node_budget, edge_budget
        Above either, accounts are grouped by signature and the least shared
        values are left out (see the module docstring); the drawing's ``notes``
        say what was collapsed.
    per_kind
        Values drawn per kind at most, the most shared first: by default the run's
        ``evidence_max_per_kind``, so that the page draws the values of the evidence table.
    """
    per_kind = evidence_per_kind(run) if per_kind is None else per_kind
    if node_budget < 2 or edge_budget < 1:
        raise ValueError("node_budget must be at least 2 and edge_budget at least 1")
    cluster = cluster_row(run, cluster_id)
    profiles = run.profile_accounts
    accounts = (
        run.members.filter(pl.col(S.CLUSTER_ID) == cluster_id)
        .select(S.ACCOUNT_ID)
        .join(run.graph_accounts, on=S.ACCOUNT_ID, how="inner")
        .join(profiles, on=S.ACCOUNT_ID, how="left")
        .sort(S.ACCOUNT_ID)
    )
    incidence = run.incidence.join(accounts.select(ACCOUNT_INDEX), on=ACCOUNT_INDEX, how="semi")
    values = (
        incidence.group_by(VALUE_INDEX)
        .agg(pl.len().alias(IN_CLUSTER))
        .filter(pl.col(IN_CLUSTER) >= 2)
        .join(run.values, on=VALUE_INDEX, how="inner")
        # value_index numbers values in (kind, value) order, so it breaks ties as the evidence
        # table does (most cluster holders first, then by value) without sorting strings.
        .sort([IN_CLUSTER, VALUE_INDEX], descending=[True, False])
        .with_columns(pl.int_range(pl.len()).over(S.ATTRIBUTE_KIND).alias("_kind_rank"))
        # Kinds take turns (each kind's most shared value, then each kind's second, ...), so that
        # a few cards or devices are not crowded out by thousands of template or co-activity values.
        .sort(["_kind_rank", IN_CLUSTER, VALUE_INDEX], descending=[False, True, False])
        .with_row_index(_VALUE_RANK)
    )
    n_shared = values.height
    values = values.filter(
        pl.col("_kind_rank") < per_kind
    )  # ranks stay 0..n-1: kind rank sorts first
    links = incidence.join(
        values.select(VALUE_INDEX, _VALUE_RANK, S.ATTRIBUTE_KIND, KIND_WEIGHT), on=VALUE_INDEX
    )
    last_seen = profiles["last_seen"].max() if "last_seen" in profiles.columns else None
    as_of = last_seen if isinstance(last_seen, datetime) else None

    n_accounts, n_values = accounts.height, values.height
    over_budget = n_accounts + n_values > node_budget or links.height > edge_budget
    keep = (
        _largest_fit(links, accounts, n_values, node_budget, edge_budget)
        if over_budget
        else n_values
    )
    drawn_values = values.filter(pl.col(_VALUE_RANK) < keep)
    drawn_links = links.filter(pl.col(_VALUE_RANK) < keep)

    signatures = (
        accounts.select(ACCOUNT_INDEX)
        .join(
            drawn_links.group_by(ACCOUNT_INDEX).agg(pl.col(_VALUE_RANK).sort().alias("_sig")),
            on=ACCOUNT_INDEX,
            how="left",
        )
        .with_columns(pl.col("_sig").fill_null([]))
    )
    # Accounts sharing a signature are indistinguishable in the drawing; group them only
    # when over budget (otherwise every account is its own node). Account indexes follow
    # account ids, so sorting by the first member orders the nodes by account id.
    if over_budget:
        groups = (
            signatures.group_by("_sig")
            .agg(pl.col(ACCOUNT_INDEX).sort().alias("_members"))
            .with_columns(pl.col("_members").list.first().alias("_first"))
        )
    else:
        groups = signatures.select(
            pl.col("_sig"),
            pl.concat_list(ACCOUNT_INDEX).alias("_members"),
            pl.col(ACCOUNT_INDEX).alias("_first"),
        )
    groups = groups.sort("_first").with_row_index("_node")
    node_of = groups.select("_node", pl.col("_members").alias(ACCOUNT_INDEX)).explode(ACCOUNT_INDEX)
    account_node_of = dict(node_of.select(ACCOUNT_INDEX, "_node").iter_rows())
    # Facts: per single account, its profile and top template; per group, aggregates.
    singles = groups.filter(pl.col("_members").list.len() == 1).select(
        pl.col("_first").alias(ACCOUNT_INDEX)
    )
    top = _top_templates(incidence.join(singles, on=ACCOUNT_INDEX, how="semi"), run.values)
    by_index = {
        row[ACCOUNT_INDEX]: row
        for row in accounts.join(singles, on=ACCOUNT_INDEX, how="semi")
        .join(top, on=ACCOUNT_INDEX, how="left")
        .iter_rows(named=True)
    }
    group_facts = _group_facts(
        accounts,
        node_of.join(
            groups.filter(pl.col("_members").list.len() > 1).select("_node"), on="_node", how="semi"
        ),
    )

    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    value_node: dict[int, int] = {}
    n_group_nodes = 0
    for node_id, sig, members, first in groups.iter_rows():
        if len(members) == 1:
            row = by_index[first]
            nodes.append(
                {
                    "id": node_id,
                    "label": plain(row[S.ACCOUNT_ID], LABEL_CHARS),
                    "group": ACCOUNT,
                    "title": _account_title(row, as_of, len(sig)),
                    "value": 1,
                }
            )
        else:
            n_group_nodes += 1
            nodes.append(
                {
                    "id": node_id,
                    "label": f"{len(members):,} accounts",
                    "group": ACCOUNT_GROUP,
                    "title": _group_title(group_facts[node_id], len(sig)),
                    "value": len(members),
                }
            )
    for row in drawn_values.iter_rows(named=True):
        node_id = len(nodes)
        value_node[row[_VALUE_RANK]] = node_id
        label = plain(row[S.VALUE], LABEL_CHARS)
        node = {
            "id": node_id,
            "label": label,
            "group": row[S.ATTRIBUTE_KIND],
            "title": _value_title(row),
            "value": row[IN_CLUSTER],
        }
        if row[HUB_ACTION]:
            node.update(shape="diamond", label=f"{label} ({row[IN_CLUSTER]:,}/{row[N_ACCOUNTS]:,})")
        nodes.append(node)

    value_rows = {row[_VALUE_RANK]: row for row in drawn_values.iter_rows(named=True)}
    edge_frame = (
        drawn_links.with_columns(
            pl.col(ACCOUNT_INDEX)
            .replace_strict(account_node_of, return_dtype=pl.Int64)
            .alias("_from"),
            # Summed in integer micro-units: exact, whatever order the engine adds rows in.
            (pl.col(KIND_WEIGHT) * pl.col(STRENGTH) * FIXED_POINT)
            .round()
            .cast(pl.Int64)
            .alias("_w"),
        )
        .group_by("_from", _VALUE_RANK)
        .agg(
            pl.len().alias("_n"),
            pl.col("_w").sum(),
            pl.col(S.N_EVENTS).sum(),
            pl.col(ACCOUNT_INDEX).first().alias("_account"),
        )
        .sort("_from", _VALUE_RANK)
    )
    for source, rank, n, weight, n_events, account in edge_frame.iter_rows():
        value = value_rows[rank]
        who = (
            f"{n:,} accounts hold"
            if n > 1
            else plain(by_index[account][S.ACCOUNT_ID], 60) + " holds"
        )
        edges.append(
            {
                "from": source,
                "to": value_node[rank],
                "value": round(weight / FIXED_POINT, 4),
                "title": f"{who} {value[S.ATTRIBUTE_KIND]} {plain(value[S.VALUE], 60)} "
                f"({n_events:,} events)",
            }
        )

    record_links = _record_link_edges(run, cluster_id, accounts, account_node_of)
    edges += record_links

    notes = []
    if record_links:
        notes.append(
            f"{len(record_links):,} dashed lines are record links between accounts (declared "
            "columns compared record against record); hover one for its match probability "
            "and the comparisons that made it."
        )
    if n_group_nodes:
        n_single = len(groups) - n_group_nodes
        largest = int(groups.select(pl.col("_members").list.len().max()).item() or 0)
        notes.append(
            f"{n_accounts:,} accounts are drawn as {len(groups):,} nodes: {n_single:,} single accounts and "
            f"{n_group_nodes:,} groups of accounts that hold exactly the same drawn values "
            f"(largest group {largest:,} accounts); hover a group for its size and example ids."
        )
    if keep < n_values:
        hidden = values.filter(pl.col(_VALUE_RANK) >= keep)
        notes.append(
            f"{n_values - keep:,} of {n_values:,} shared values are not drawn (each kind's least shared "
            f"values; by kind, with the most cluster accounts any of them has): "
            f"{_kind_counts(hidden, most=True)}. The run's evidence table lists them."
        )
    n_hubs = drawn_values.filter(pl.col(HUB_ACTION).is_not_null()).height

    legend = _legend(nodes)
    score = cluster[S.CLUSTER_SCORE]
    facts = [
        ("accounts", f"{cluster['size']:,}"),
        ("score", f"{score:.2f}" + (" (flagged)" if cluster[S.FLAGGED] else "")),
        ("exchanges", format_number(cluster.get("exchanges"))),
        (
            "active",
            f"{format_when(cluster.get('first_activity'))} to {format_when(cluster.get('last_activity'))}",
        ),
        (
            "shared values",
            f"{n_shared:,} held by two or more of its accounts; the evidence table keeps the "
            f"{n_values:,} most shared (at most {per_kind:,} per kind): {_kind_counts(values)}"
            + (f"; {keep:,} of them are drawn" if keep < n_values else ", all drawn")
            if n_shared
            else "none",
        ),
        ("summary", plain(cluster.get("summary"), 600)),
    ]
    decision = _decision_fact(run, cluster_id, cluster.get("decision"))
    if decision:
        facts.insert(0, ("decision", decision))
    if n_hubs:
        facts.append(
            (
                "hubs",
                f"{n_hubs:,} drawn values are hubs (diamonds, labelled with their holders in "
                f"the cluster / in all): held by more accounts than their kind's cap, linked "
                f"sparsely or not at all",
            )
        )
    contributions = [
        (
            row["signal"],
            f"{row['signal_value']:.2f}",
            f"{row['weight']:.2f}",
            f"{row['contribution']:+.3f}",
        )
        for row in run.contributions.filter(pl.col(S.CLUSTER_ID) == cluster_id)
        .sort(["contribution", "signal"], descending=[True, False])
        .iter_rows(named=True)
    ]
    return Drawing(
        title=f"Cluster {cluster_id}: {cluster['size']:,} accounts, score {score:.2f}"
        + (
            f", decision: {str(cluster['decision']).replace('_', ' ')}"
            if cluster.get("decision")
            else ""
        ),
        nodes=nodes,
        edges=edges,
        legend=legend,
        facts=facts,
        notes=notes,
        counts={
            "nodes": len(nodes),
            "edges": len(edges),
            "accounts": n_accounts,
            "values": n_values,
            "shared_values": n_shared,
            "links": links.height,
            "values_drawn": keep,
            "account_nodes": len(groups),
        },
        cluster_id=cluster_id,
        contributions=contributions,
    )


def _decision_fact(run: Run, cluster_id: str, decision: str | None) -> str:
    """The investigators' decision on the cluster and what it did (runs with ``--decisions``),
    and how many of its accounts carry a decision of their own."""
    table = run.decisions
    if table is None:
        return ""
    parts = []
    mine = table.filter(
        (pl.col("target_kind") == "operation") & (pl.col(S.CLUSTER_ID) == cluster_id)
    )
    if decision and mine.height:
        row = mine.row(0, named=True)
        parts.append(
            f"{decision.replace('_', ' ')} by {plain(row['decided_by'], 60)} on "
            f"{plain(row['decided_at'], 40)} ({plain(row['note'], 200)}): {row['effect']}"
        )
    accounts = table.filter(
        pl.col("target_kind").is_in(["account", "organisation"])
        & (pl.col(S.CLUSTER_ID) == cluster_id)
    )
    if accounts.height:
        counts = accounts.group_by("decision").len().sort("decision").iter_rows()
        parts.append(
            "accounts and organisations with a decision of their own: "
            + ", ".join(f"{n:,} {d.replace('_', ' ')}" for d, n in counts)
        )
    return "; ".join(parts)


def _legend(nodes: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["group"]] = counts.get(node["group"], 0) + 1
    names = {ACCOUNT: "account", ACCOUNT_GROUP: "group of accounts (same drawn values)"}
    order = [g for g in (ACCOUNT, ACCOUNT_GROUP) if g in counts] + sorted(
        g for g in counts if g not in (ACCOUNT, ACCOUNT_GROUP)
    )
    return [(group, names.get(group, group.replace("_", " ")), counts[group]) for group in order]
