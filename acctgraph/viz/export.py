"""Graph views outside the run folder: inline in a notebook, or exported to GraphML/GEXF for Gephi.

Notebook display puts the page in an iframe with ``srcdoc`` and
``sandbox="allow-scripts"``: the page's origin is then opaque, so nothing in it
can reach the notebook, its kernel or its cookies, and it needs no file on disk.

Exports hold every value linking the chosen accounts (no node budget), with
attributes on nodes (accounts: cluster, score, flagged, profile facts; values:
kind, value, holders in the cluster and in all, kind and value weight, hub
status, infrastructure) and edges (events, strength, weight), or, in the
``accounts`` view, the projection's weighted account pairs. Strings drawn from
the data go through :func:`acctgraph.core.textsafe.visible`, which also
replaces the characters XML cannot hold (NUL and other controls) with escapes,
so the files always read back, and are capped at :data:`EXPORT_TEXT_LIMIT`
characters.

Examples
--------
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> from acctgraph import run_pipeline, write_outputs
>>> from acctgraph.runfolder import load_run
>>> import tempfile, pathlib, networkx as nx
>>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
>>> run = load_run(out)
>>> path = to_graphml(run, out / "cluster_1.graphml", cluster="op-000001")
>>> graph = nx.read_graphml(path)
>>> sorted({kind for _, kind in graph.nodes(data="type")})
['account', 'value']
>>> "<iframe srcdoc=" in show_cluster(run, 1)._repr_html_()
True
"""

from __future__ import annotations

import html
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.textsafe import cap, visible
from acctgraph.graph.build import (
    ACCOUNT_INDEX,
    HUB_ACTION,
    INFRASTRUCTURE,
    KIND_WEIGHT,
    N_ACCOUNTS,
    SOURCE,
    STRENGTH,
    TARGET,
    VALUE_INDEX,
    VALUE_WEIGHT,
)
from acctgraph.runfolder import Run, load_run
from acctgraph.viz.drawing import (
    EDGE_BUDGET,
    IN_CLUSTER,
    NODE_BUDGET,
    cluster_drawing,
    cluster_row,
)
from acctgraph.viz.overview import overview_drawing
from acctgraph.viz.pages import render

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

View = Literal["bipartite", "accounts"]
EXPORT_TEXT_LIMIT = 2000
PROFILE_COLUMNS = (
    S.DISPLAY_NAME,
    S.EMAIL,
    S.COUNTRY,
    S.ORG_ID,
    S.CREATED_AT,
    "n_exchanges",
    "active_days",
    "first_seen",
    "last_seen",
)


class GraphView:
    """A graph page for a notebook: displayed inline in a sandboxed iframe.

    Attributes
    ----------
    html
        The full, self-contained page (also what :meth:`save` writes).
    counts
        Nodes, edges and the totals before collapsing (see :class:`~acctgraph.viz.drawing.Drawing`).
    """

    def __init__(self, page: str, *, title: str, counts: dict[str, int], height: int = 720) -> None:
        self.html = page
        self.title = title
        self.counts = counts
        self.height = height

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
            f'title="{html.escape(self.title, quote=True)}" '
            f'style="width: 100%; height: {int(self.height)}px; border: 1px solid #ddd"></iframe>'
        )

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (it opens in any browser, offline)."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8", newline="\n")
        return path

    def __repr__(self) -> str:
        nodes, edges = self.counts.get("nodes", 0), self.counts.get("edges", 0)
        return f"GraphView({self.title!r}: {nodes:,} nodes, {edges:,} edges)"


def _run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else load_run(run)


def show_cluster(
    run: Run | str | Path,
    cluster_id: str | int,
    *,
    node_budget: int = NODE_BUDGET,
    edge_budget: int = EDGE_BUDGET,
    seed: int | None = None,
    height: int = 720,
) -> GraphView:
    """A cluster's page for inline display in Jupyter (the last expression of a cell shows it)."""
    run = _run(run)
    drawing = cluster_drawing(
        run, S.parse_operation_id(cluster_id), node_budget=node_budget, edge_budget=edge_budget
    )
    page = render(
        drawing,
        seed=int(run.record.get("seed", 42)) if seed is None else seed,
        budget=f"{node_budget:,} nodes, {edge_budget:,} edges",
    )
    return GraphView(page, title=drawing.title, counts=dict(drawing.counts), height=height)


def show_overview(
    run: Run | str | Path, *, seed: int | None = None, height: int = 720
) -> GraphView:
    """The overview of clusters for inline display in Jupyter."""
    run = _run(run)
    drawing = overview_drawing(run)
    page = render(
        drawing,
        seed=int(run.record.get("seed", 42)) if seed is None else seed,
        budget="clusters and links drawn",
    )
    return GraphView(page, title=drawing.title, counts=dict(drawing.counts), height=height)


# =============================================================================
# GraphML / GEXF
# =============================================================================


def _attribute(value: Any) -> Any:
    """A value GraphML and GEXF can hold, or None to leave the attribute out."""
    if value is None:
        return None
    if isinstance(value, str):
        return cap(visible(value), EXPORT_TEXT_LIMIT)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _attributes(row: dict[str, Any]) -> dict[str, Any]:
    return {key: out for key, value in row.items() if (out := _attribute(value)) is not None}


def graph_for_export(
    run: Run | str | Path, *, cluster: str | int | None = None, view: View = "bipartite"
) -> nx.Graph:
    """A networkx graph of one cluster (or of every account) with attributes.

    Parameters
    ----------
    run
        A finished run or its folder.
    cluster
        A cluster id (``op-000003``, or its number ``3``); ``None`` for the whole graph.
    view
        ``"bipartite"``: accounts and values, an edge where an account holds a value (for a
        cluster, the values at least two of its accounts hold; for the whole graph, every
        value held by two or more accounts). ``"accounts"``: accounts only, joined by the
        run's weighted projection.

    Node ids are ``a<account_index>`` and ``v<value_index>``; ``label`` holds the account id or
    the value, ``type`` is ``account`` or ``value`` and ``bipartite`` 0 or 1.
    """
    import networkx as nx

    run = _run(run)
    if view not in ("bipartite", "accounts"):
        raise ValueError(f"view must be 'bipartite' or 'accounts', got {view!r}")
    members = run.members.select(S.ACCOUNT_ID, S.CLUSTER_ID, S.CLUSTER_SCORE, S.FLAGGED)
    if cluster is not None:
        cluster = S.parse_operation_id(cluster)
        cluster_row(run, cluster)
        members = members.filter(pl.col(S.CLUSTER_ID) == cluster)
    present = [c for c in PROFILE_COLUMNS if c in run.profile_accounts.columns]
    profile = run.profile_accounts.select(S.ACCOUNT_ID, *present)
    accounts = (
        members.join(run.graph_accounts, on=S.ACCOUNT_ID)
        .join(profile, on=S.ACCOUNT_ID, how="left")
        .sort(ACCOUNT_INDEX)
    )
    graph = nx.Graph(
        name=f"acctgraph {'cluster ' + str(cluster) if cluster is not None else 'graph'} ({view})"
    )
    graph.add_nodes_from(
        (
            f"a{row.pop(ACCOUNT_INDEX)}",
            {
                "type": "account",
                "bipartite": 0,
                "label": _attribute(row.pop(S.ACCOUNT_ID)),
                **_attributes(row),
            },
        )
        for row in accounts.iter_rows(named=True)
    )
    chosen = accounts.select(ACCOUNT_INDEX)
    if view == "accounts":
        edges = (
            run.edges.join(
                chosen.rename({ACCOUNT_INDEX: SOURCE}).cast(pl.Int64), on=SOURCE, how="semi"
            )
            .join(chosen.rename({ACCOUNT_INDEX: TARGET}).cast(pl.Int64), on=TARGET, how="semi")
            .sort(SOURCE, TARGET)
        )
        graph.add_edges_from((f"a{s}", f"a{t}", {"weight": w}) for s, t, w in edges.iter_rows())
        return graph
    incidence = run.incidence.join(chosen, on=ACCOUNT_INDEX, how="semi")
    held = incidence.group_by(VALUE_INDEX).agg(pl.len().alias(IN_CLUSTER))
    if cluster is not None:
        held = held.filter(pl.col(IN_CLUSTER) >= 2)
    values = (
        held.join(run.values, on=VALUE_INDEX)
        .select(
            VALUE_INDEX,
            S.ATTRIBUTE_KIND,
            S.VALUE,
            IN_CLUSTER,
            N_ACCOUNTS,
            KIND_WEIGHT,
            VALUE_WEIGHT,
            HUB_ACTION,
            INFRASTRUCTURE,
        )
        .sort(VALUE_INDEX)
    )
    if cluster is None:
        values = values.drop(IN_CLUSTER)
    graph.add_nodes_from(
        (
            f"v{row.pop(VALUE_INDEX)}",
            {
                "type": "value",
                "bipartite": 1,
                "label": _attribute(row[S.VALUE]),
                **_attributes(row),
            },
        )
        for row in values.iter_rows(named=True)
    )
    links = incidence.join(values.select(VALUE_INDEX, KIND_WEIGHT), on=VALUE_INDEX).sort(
        ACCOUNT_INDEX, VALUE_INDEX
    )
    graph.add_edges_from(
        (f"a{a}", f"v{v}", {"n_events": int(n), "strength": s, "weight": k * s})
        for a, v, n, s, k in links.select(
            ACCOUNT_INDEX, VALUE_INDEX, S.N_EVENTS, STRENGTH, KIND_WEIGHT
        ).iter_rows()
    )
    return graph


def to_graphml(
    run: Run | str | Path,
    path: str | Path,
    *,
    cluster: str | int | None = None,
    view: View = "bipartite",
) -> Path:
    """Write a cluster (or the whole graph) as GraphML; see :func:`graph_for_export`."""
    import networkx as nx

    path = Path(path)
    nx.write_graphml(graph_for_export(run, cluster=cluster, view=view), path)
    return path


def to_gexf(
    run: Run | str | Path,
    path: str | Path,
    *,
    cluster: str | int | None = None,
    view: View = "bipartite",
) -> Path:
    """Write a cluster (or the whole graph) as GEXF (Gephi's format); see :func:`graph_for_export`."""
    import networkx as nx

    path = Path(path)
    nx.write_gexf(graph_for_export(run, cluster=cluster, view=view), path)
    return path
