"""The overview page's drawing: clusters as nodes, joined where they share attribute values.

Clusters are sized by accounts and coloured by score; flagged ones have a thick
border. Every flagged cluster is drawn, then the best scores up to a budget;
an edge joins two clusters that share values, weighted by the summed value
weight, strongest first up to an edge budget. A value held by many clusters
(a carrier range, a popular phrasing) links them by chance: it draws no edge
and is counted in the notes.

Examples
--------
>>> score_colour(0.0), score_colour(0.5), score_colour(1.0)
('#fff5c8', '#fd8d3c', '#a0001e')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from acctgraph.core import schema as S
from acctgraph.graph.build import ACCOUNT_INDEX, VALUE_INDEX, VALUE_WEIGHT
from acctgraph.graph.project import FIXED_POINT
from acctgraph.viz.drawing import (
    Drawing,
    format_number,
    format_when,
    plain,
    select_clusters,
)

if TYPE_CHECKING:  # pragma: no cover
    from acctgraph.runfolder import Run

#: Most clusters the overview draws (flagged first, then by score).
OVERVIEW_BUDGET = 1000
#: Most cluster–cluster edges the overview draws (strongest first).
OVERVIEW_EDGE_BUDGET = 5000
#: A value held by more clusters than this links clusters by chance (a carrier range):
#: the overview counts it but draws no edges for it.
OVERVIEW_VALUE_CAP = 25


def overview_drawing(
    run: Run,
    *,
    pages: dict[str, str] | None = None,
    budget: int = OVERVIEW_BUDGET,
    edge_budget: int = OVERVIEW_EDGE_BUDGET,
    value_cap: int = OVERVIEW_VALUE_CAP,
) -> Drawing:
    """Clusters as nodes (sized by accounts, coloured by score), joined where they share values.

    Parameters
    ----------
    run
        A finished run.
    pages
        ``cluster_id → file name`` of cluster pages to open on double click.
    budget
        Most clusters drawn: flagged first, then by score.
    edge_budget
        Most cluster pairs drawn, strongest (most shared value weight) first.
    value_cap
        Values held by more clusters than this draw no edges (counted in the notes).
    """
    pages = pages or {}
    clusters = run.clusters.sort([S.CLUSTER_SCORE, S.CLUSTER_ID], descending=[True, False])
    chosen = select_clusters(clusters, top=budget)[: max(budget, int(clusters[S.FLAGGED].sum()))]
    drawn = clusters.filter(pl.col(S.CLUSTER_ID).is_in(chosen)).sort(
        [S.CLUSTER_SCORE, S.CLUSTER_ID], descending=[True, False]
    )
    node_of = {cid: i for i, cid in enumerate(drawn[S.CLUSTER_ID].to_list())}

    held = (
        run.members.filter(pl.col(S.CLUSTER_ID).is_in(list(node_of)))
        .select(S.ACCOUNT_ID, S.CLUSTER_ID)
        .join(run.graph_accounts, on=S.ACCOUNT_ID)
        .join(run.incidence.select(ACCOUNT_INDEX, VALUE_INDEX), on=ACCOUNT_INDEX)
        .select(VALUE_INDEX, S.CLUSTER_ID)
        .unique()
    )
    spread = (
        held.group_by(VALUE_INDEX).agg(pl.len().alias("_clusters")).filter(pl.col("_clusters") >= 2)
    )
    too_common = spread.filter(pl.col("_clusters") > value_cap)
    linking = held.join(
        spread.filter(pl.col("_clusters") <= value_cap).select(VALUE_INDEX), on=VALUE_INDEX
    )
    linking = linking.join(
        run.values.select(VALUE_INDEX, S.ATTRIBUTE_KIND, VALUE_WEIGHT), on=VALUE_INDEX
    )
    pairs = (
        linking.join(
            linking.select(VALUE_INDEX, pl.col(S.CLUSTER_ID).alias("_other")), on=VALUE_INDEX
        )
        .filter(pl.col(S.CLUSTER_ID) < pl.col("_other"))
        .group_by(S.CLUSTER_ID, "_other", S.ATTRIBUTE_KIND)
        # Integer micro-units: the sums are exact whatever order rows are added in.
        .agg(
            pl.len().alias("_n"),
            (pl.col(VALUE_WEIGHT) * FIXED_POINT).round().cast(pl.Int64).sum().alias("_w"),
        )
        .sort(
            [S.CLUSTER_ID, "_other", "_n", S.ATTRIBUTE_KIND], descending=[False, False, True, False]
        )
        .group_by(S.CLUSTER_ID, "_other", maintain_order=True)
        .agg(
            pl.col("_n").sum().alias("_shared"),
            pl.col("_w").sum().alias("_weight"),
            (pl.col(S.ATTRIBUTE_KIND) + " " + pl.col("_n").cast(pl.String))
            .str.join(", ")
            .alias("_kinds"),
        )
        .sort(["_weight", S.CLUSTER_ID, "_other"], descending=[True, False, False])
    )
    n_pairs = pairs.height
    pairs = pairs.head(edge_budget).sort(S.CLUSTER_ID, "_other")

    nodes = []
    for row in drawn.iter_rows(named=True):
        cid = row[S.CLUSTER_ID]
        score = row[S.CLUSTER_SCORE]
        title = "\n".join(
            [
                f"cluster {cid}: {row['size']:,} accounts, score {score:.2f}"
                + (" (flagged)" if row[S.FLAGGED] else ""),
                f"exchanges: {format_number(row.get('exchanges'))}; active {format_when(row.get('first_activity'))} to "
                f"{format_when(row.get('last_activity'))}",
                plain(row.get("summary"), 400),
                f"double-click to open its page ({pages[cid]})"
                if cid in pages
                else "no page written for it",
            ]
        )
        node = {
            "id": node_of[cid],
            "label": str(cid),
            "group": "flagged" if row[S.FLAGGED] else "cluster",
            "title": title,
            "value": int(row["size"]),
            "borderWidth": 3 if row[S.FLAGGED] else 1,
            "color": {
                "background": score_colour(score),
                "border": "#000000" if row[S.FLAGGED] else "#777777",
            },
        }
        if cid in pages:
            node["page"] = pages[cid]
        nodes.append(node)
    edges = [
        {
            "from": node_of[a],
            "to": node_of[b],
            "value": round(w / FIXED_POINT, 4),
            "title": f"clusters {a} and {b} share {n:,} values: {kinds}",
        }
        for a, b, n, w, kinds in pairs.iter_rows()
    ]
    notes = []
    if len(node_of) < clusters.height:
        notes.append(
            f"{len(node_of):,} of {clusters.height:,} clusters are drawn (every flagged cluster, then "
            f"the highest scores); the clusters table lists them all."
        )
    if n_pairs > len(edges):
        notes.append(
            f"{len(edges):,} of {n_pairs:,} linked cluster pairs are drawn (those sharing the most "
            f"value weight)."
        )
    if too_common.height:
        notes.append(
            f"{too_common.height:,} values held by more than {value_cap} drawn clusters link them by "
            f"chance (shared infrastructure) and draw no edges."
        )
    flagged = int(drawn[S.FLAGGED].sum())
    legend = [
        ("flagged", "flagged cluster (thick border)", flagged),
        ("cluster", "cluster not flagged", len(nodes) - flagged),
    ]
    facts = [
        ("clusters", f"{clusters.height:,} ({int(clusters[S.FLAGGED].sum()):,} flagged)"),
        ("accounts in clusters", f"{int(clusters['size'].sum()):,}"),
        ("drawn", f"{len(nodes):,} clusters, {len(edges):,} links"),
        (
            "colour",
            "score from 0 (pale) to 1 (dark red); size: accounts; edge width: shared value weight",
        ),
    ]
    return Drawing(
        title="Clusters and the values they share",
        nodes=nodes,
        edges=edges,
        legend=[item for item in legend if item[2]],
        facts=facts,
        notes=notes,
        counts={
            "nodes": len(nodes),
            "edges": len(edges),
            "clusters": clusters.height,
            "pairs": n_pairs,
        },
    )


_SCORE_STOPS = ((0.0, (255, 245, 200)), (0.5, (253, 141, 60)), (1.0, (160, 0, 30)))


def score_colour(score: float | None) -> str:
    """A hex colour from pale yellow (0) through orange (0.5) to dark red (1).

    >>> score_colour(0.0), score_colour(1.0)
    ('#fff5c8', '#a0001e')
    """
    s = min(1.0, max(0.0, float(score or 0.0)))
    for (a, ca), (b, cb) in zip(_SCORE_STOPS, _SCORE_STOPS[1:]):
        if s <= b:
            t = (s - a) / (b - a)
            return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb))
    return "#a0001e"  # pragma: no cover
