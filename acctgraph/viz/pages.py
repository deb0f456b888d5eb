"""Self-contained, safe HTML pages of a :class:`~acctgraph.viz.drawing.Drawing`.

Each page inlines vis-network 9.1.2 (the copy shipped inside the pyvis package)
and its data; it loads nothing from anywhere, so it opens on an air-gapped
laptop, and a Content-Security-Policy forbids it to connect anywhere. pyvis's own
``Network``/template machinery is not used: its stock template requests
bootstrap from a CDN in every mode, builds its Jinja environment without
autoescape (a tooltip containing "href" switches every tooltip to innerHTML), and
``add_node`` is quadratic. Instead:

- the template (``acctgraph/templates/graph_page.html``) is rendered with
  autoescape on;
- node and edge data travel as JSON in a ``<script type="application/json">``
  block with ``<``, ``>`` and ``&`` escaped, so no string can close the tag;
- tooltips are plain strings (vis-network shows them with ``innerText``), and
  the side panel shows them with ``textContent``;
- positions are computed in Python (igraph Fruchterman–Reingold, seeded, its
  grid variant above ``GRID_ABOVE`` linked nodes; unlinked nodes on a grid
  below) and physics is off, so the drawing appears at once and never moves by
  itself.

The vis ``Network`` is ``window.network``; ``window.acctgraphPage.expected``
holds the node and edge counts the page was built with, and
``window.acctgraphPage.ready`` turns true after the first drawing
(``readyAt``: milliseconds since navigation started, for benchmarks).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from time import perf_counter
from typing import Any

import igraph as ig
import jinja2

from acctgraph.cluster.score import SIZE
from acctgraph.core import schema as S
from acctgraph.core.version import __version__
from acctgraph.graph.randomness import seeded_igraph
from acctgraph.runfolder import GRAPH_PAGES_DIR, OVERVIEW_PAGE, REPORT_HTML, Run, load_run
from acctgraph.viz.drawing import (
    ACCOUNT,
    ACCOUNT_GROUP,
    EDGE_BUDGET,
    NODE_BUDGET,
    Drawing,
    cluster_drawing,
    cluster_row,
    select_clusters,
)
from acctgraph.viz.overview import overview_drawing, score_colour

#: Clusters written by default: every flagged one, then the best scores until this many.
DEFAULT_CLUSTER_PAGES = 20
REPORT = f"../{REPORT_HTML}"  # pages live in GRAPH_PAGES_DIR, next to the report
VIS_ASSET = ("lib", "vis-9.1.2", "vis-network.min.js")
PAGE_NAME = re.compile(
    r"^cluster_(op-[0-9]{6,}|[0-9]+)\.html$"
)  # and pages of runs before operation ids
GRID_ABOVE = 300  # nodes above which the layout uses Fruchterman-Reingold's grid variant

KIND_COLOURS = {
    ACCOUNT: "#4e79a7",
    ACCOUNT_GROUP: "#1d3f6e",
    "payment": "#e15759",
    "device": "#f28e2b",
    "ip": "#76b7b2",
    "ip_range": "#59a14f",
    "email": "#b07aa1",
    "email_domain": "#d7b5d8",
    "email_shape": "#edc948",
    "prompt_template": "#ff9da7",
    "signup_burst": "#9c755f",
    "co_activity": "#bab0ac",
}
EXTRA_COLOURS = ("#17becf", "#bcbd22", "#8c564b", "#7f7f7f", "#aec7e8", "#98df8a", "#c5b0d5")
SHAPES = {ACCOUNT: "dot", ACCOUNT_GROUP: "hexagon"}


def page_name(cluster_id: str) -> str:
    """File name of a cluster's page inside ``OUT/graphs/`` (ValueError for a malformed id).

    >>> page_name("op-000007")
    'cluster_op-000007.html'
    """
    return f"cluster_{S.parse_operation_id(cluster_id)}.html"


@cache
def vis_network_js() -> str:
    """vis-network 9.1.2 as shipped in pyvis 0.3.2, checked to be safe to inline in a script tag."""
    asset = resources.files("pyvis").joinpath(*VIS_ASSET)
    text = asset.read_text(encoding="utf-8")
    lowered = text.lower()
    if "</script" in lowered or "<!--" in lowered:  # pragma: no cover - would break the page
        raise RuntimeError(f"{asset} cannot be inlined in a <script> element")
    return text


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` are escaped.

    >>> script_json({"name": "</script><img src=x onerror=alert(1)>"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cimg src=x onerror=alert(1)\\\\u003e"}'
    """
    text = json.dumps(
        data, ensure_ascii=True, separators=(",", ":"), sort_keys=True, allow_nan=False
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("acctgraph", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _colours(groups: list[str]) -> dict[str, str]:
    extra = sorted(g for g in groups if g not in KIND_COLOURS)
    colours = {g: KIND_COLOURS[g] for g in groups if g in KIND_COLOURS}
    colours.update({g: EXTRA_COLOURS[i % len(EXTRA_COLOURS)] for i, g in enumerate(extra)})
    return colours


def layout(
    n: int, edges: list[tuple[int, int]], weights: list[float], *, seed: int
) -> list[tuple[float, float]]:
    """Fruchterman–Reingold positions in screen units, seeded and rounded (same input, same bytes).

    >>> layout(3, [(0, 1), (1, 2)], [1.0, 1.0], seed=1) == layout(3, [(0, 1), (1, 2)], [1.0, 1.0], seed=1)
    True
    """
    if n == 0:
        return []
    linked_set = {v for edge in edges for v in edge}
    linked = sorted(linked_set)
    alone = [v for v in range(n) if v not in linked_set]
    positions: list[tuple[float, float]] = [(0.0, 0.0)] * n
    side = max(300.0, 55.0 * math.sqrt(len(linked)))
    if linked:
        # Force-directed layout of the linked nodes only: unlinked ones would be flung to a ring.
        index = {v: i for i, v in enumerate(linked)}
        graph = ig.Graph(n=len(linked), edges=[(index[a], index[b]) for a, b in edges])
        with seeded_igraph(seed):
            # The grid variant (repulsion from nearby nodes only) is linear per iteration,
            # with the same look.
            coords = graph.layout_fruchterman_reingold(
                weights=weights or None, niter=300, grid=len(linked) > GRID_ABOVE
            ).coords
        xs = [c[0] for c in coords]
        ys = [c[1] for c in coords]
        span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
        cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
        for v, (x, y) in zip(linked, coords):
            positions[v] = (round((x - cx) / span * side, 1), round((y - cy) / span * side, 1))
    if alone:
        # Unlinked nodes on a grid below the drawing, in node order.
        step = 40.0
        per_row = max(1, int(side // step) + 1)
        top = side / 2 + 2 * step if linked else 0.0
        for i, v in enumerate(alone):
            positions[v] = (
                round(-side / 2 + (i % per_row) * step, 1),
                round(top + (i // per_row) * step, 1),
            )
    return positions


def _options(drawing: Drawing, colours: dict[str, str]) -> dict[str, Any]:
    big = len(drawing.edges) > 3000
    groups: dict[str, Any] = {}
    for group, colour in colours.items():
        groups[group] = {
            "color": {
                "background": colour,
                "border": "#444444",
                "highlight": {"background": colour, "border": "#000000"},
                "hover": {"background": colour, "border": "#000000"},
            },
            "shape": SHAPES.get(group, "square" if drawing.cluster_id is not None else "dot"),
        }
    return {
        "autoResize": True,
        "physics": {"enabled": False},
        "layout": {"improvedLayout": False},
        "interaction": {
            "hover": True,
            "tooltipDelay": 120,
            "hideEdgesOnDrag": big,
            "hideEdgesOnZoom": big,
            "navigationButtons": False,
            "keyboard": False,
            "multiselect": True,
        },
        "nodes": {
            "shape": "dot",
            "borderWidth": 1,
            "font": {"size": 12, "face": "sans-serif"},
            "scaling": {"min": 6, "max": 34, "label": {"enabled": False}},
        },
        "edges": {
            "smooth": False,
            "selectionWidth": 2,
            "color": {
                "color": "#8a8a8a",
                "highlight": "#222222",
                "hover": "#222222",
                "opacity": 0.45,
            },
            "scaling": {"min": 0.5, "max": 5},
        },
        "groups": groups,
    }


def render(
    drawing: Drawing,
    *,
    links: Sequence[tuple[str, str]] = (),
    page_list: Sequence[tuple[str, str]] = (),
    seed: int = 42,
    budget: str | None = None,
) -> str:
    """The HTML of one page.

    Parameters
    ----------
    drawing
        What to draw (:func:`~acctgraph.viz.drawing.cluster_drawing` or
        :func:`~acctgraph.viz.overview.overview_drawing`).
    links
        ``(href, text)`` navigation links in the header (relative paths written by acctgraph).
    page_list
        ``(href, text)`` links listed in the side panel (the overview lists the cluster pages).
    seed
        Seed of the layout.
    budget
        Text naming the budget, shown above the collapse notes.
    """
    positions = layout(
        len(drawing.nodes),
        [(e["from"], e["to"]) for e in drawing.edges],
        [min(3.0, max(0.1, math.log1p(e["value"]))) for e in drawing.edges],
        seed=seed,
    )
    nodes = [{**node, "x": x, "y": y} for node, (x, y) in zip(drawing.nodes, positions)]
    overview = drawing.cluster_id is None
    if overview:
        colours = {}
        legend: list[dict[str, Any]] = [
            {"colour": score_colour(s), "label": f"score {s:.2f}", "count": None, "dot": True}
            for s in (0.0, 0.25, 0.5, 0.75, 1.0)
        ]
        legend += [
            {"colour": "#ffffff", "label": label, "count": count, "dot": True}
            for _, label, count in drawing.legend
        ]
        legend_note = (
            "Node size: accounts in the cluster; edge width: weight of the values two clusters "
            "share. Double-click a cluster with a page to open it."
        )
    else:
        colours = _colours([group for group, _, _ in drawing.legend])
        legend = [
            {"colour": colours[group], "label": label, "count": count, "dot": group == ACCOUNT}
            for group, label, count in drawing.legend
        ]
        legend_note = (
            "Node size: accounts holding the value (groups: accounts in the group); edge width: "
            "link weight (kind weight × strength). Diamonds are hub values. Hover a node for its "
            "facts, click to keep them in the panel below."
        )
    data = {
        "nodes": nodes,
        "edges": [{"id": i, **edge} for i, edge in enumerate(drawing.edges)],
        "options": _options(drawing, colours),
        "expected": {"nodes": len(nodes), "edges": len(drawing.edges), **drawing.counts},
    }
    template = _environment().get_template("graph_page.html")
    return template.render(
        title=drawing.title,
        kind="overview" if overview else "cluster",
        cluster_id=drawing.cluster_id,
        counts={"nodes": len(nodes), "edges": len(drawing.edges)},
        links=list(links),
        facts=drawing.facts,
        notes=drawing.notes,
        budget=budget or "",
        legend=legend,
        legend_note=legend_note,
        contributions=drawing.contributions,
        page_list=list(page_list),
        data_json=script_json(data),
        vis_js=vis_network_js(),
        version=__version__,
    )


@dataclass(frozen=True)
class PageInfo:
    """One written page: where, what it draws, whether it was collapsed, and how long it took."""

    path: Path
    cluster_id: str | None
    nodes: int
    edges: int
    collapsed: bool
    seconds: float


@dataclass(frozen=True)
class GraphPages:
    """What :func:`write_graph_pages` wrote."""

    out_dir: Path
    clusters: list[PageInfo]
    overview: PageInfo

    @property
    def paths(self) -> list[Path]:
        """Every page written: the cluster pages, then the overview."""
        return [info.path for info in self.clusters] + [self.overview.path]

    def to_text(self, limit: int = 20) -> str:
        lines = [
            f"wrote {len(self.clusters)} cluster page(s) and the overview into {self.out_dir}/ "
            f"(open {self.overview.path})"
        ]
        for info in self.clusters[:limit]:
            lines.append(
                f"  {info.path.name}: {info.nodes:,} nodes, {info.edges:,} edges"
                + (" (collapsed to fit the budget)" if info.collapsed else "")
            )
        if len(self.clusters) > limit:
            lines.append(f"  … and {len(self.clusters) - limit} more")
        return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def write_graph_pages(
    run: Run | str | Path,
    out_dir: str | Path | None = None,
    *,
    clusters: list[str] | None = None,
    top: int = DEFAULT_CLUSTER_PAGES,
    node_budget: int = NODE_BUDGET,
    edge_budget: int = EDGE_BUDGET,
    seed: int | None = None,
    clean: bool = False,
) -> GraphPages:
    """Write ``cluster_<id>.html`` for the chosen clusters and ``overview.html`` into ``out_dir``.

    Parameters
    ----------
    run
        A finished run (:func:`acctgraph.runfolder.load_run`) or its folder.
    out_dir
        Where to write; default the run folder's ``graphs/`` (pages link to ``../report.html``).
    clusters
        Cluster ids to draw; default every flagged cluster, then the best scores up to ``top``.
    top
        See ``clusters``.
    node_budget, edge_budget
        Above these a cluster page groups accounts and leaves out the least shared values
        (:func:`~acctgraph.viz.drawing.cluster_drawing`).
    seed
        Layout seed (default: the run's seed).
    clean
        Remove ``cluster_<id>.html`` files in ``out_dir`` that this call did not write (pages of
        an earlier run into the same folder).

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> import tempfile, pathlib
    >>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> pages = write_graph_pages(load_run(out), out / "graphs", top=2)
    >>> pages.overview.path.name, len(pages.clusters) >= 2
    ('overview.html', True)
    """
    run = run if isinstance(run, Run) else load_run(run)
    out_dir = run.path / GRAPH_PAGES_DIR if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = int(run.record.get("seed", 42)) if seed is None else seed
    if clusters is None:
        ids = select_clusters(run.clusters, top=top)
    else:
        ids = list(dict.fromkeys(S.parse_operation_id(c) for c in clusters))
    known = set(run.clusters[S.CLUSTER_ID].to_list())
    for cluster_id in ids:
        if cluster_id not in known:  # fail before writing anything
            cluster_row(run, cluster_id)
    budget = f"{node_budget:,} nodes, {edge_budget:,} edges"
    written: list[PageInfo] = []
    for cluster_id in ids:
        start = perf_counter()
        drawing = cluster_drawing(run, cluster_id, node_budget=node_budget, edge_budget=edge_budget)
        html = render(
            drawing,
            seed=seed,
            budget=budget,
            links=[
                (f"{REPORT}#cluster-{cluster_id}", "back to the report"),
                (OVERVIEW_PAGE, "overview of all clusters"),
            ],
        )
        path = out_dir / page_name(cluster_id)
        _write(path, html)
        written.append(
            PageInfo(
                path,
                cluster_id,
                drawing.counts["nodes"],
                drawing.counts["edges"],
                drawing.collapsed,
                round(perf_counter() - start, 3),
            )
        )
    on_disk: dict[str, str] = {}
    for path in sorted(out_dir.glob("cluster_*.html")):
        match = PAGE_NAME.match(path.name)
        if not match or match.group(1) in ids:
            continue
        if clean:
            path.unlink()
        elif match.group(1) in known:
            on_disk[match.group(1)] = path.name
    pages: dict[str, str] = {
        **on_disk,
        **{info.cluster_id: info.path.name for info in written if info.cluster_id is not None},
    }
    start = perf_counter()
    overview = overview_drawing(run, pages=pages)
    sizes = dict(zip(run.clusters[S.CLUSTER_ID].to_list(), run.clusters[SIZE].to_list()))
    page_list = [
        (name, f"cluster {cid} ({sizes.get(cid, 0):,} accounts)")
        for cid, name in sorted(pages.items())
    ]
    html = render(
        overview,
        seed=seed,
        page_list=page_list,
        links=[(REPORT, "back to the report")],
        budget="clusters and links drawn",
    )
    _write(out_dir / OVERVIEW_PAGE, html)
    overview_info = PageInfo(
        out_dir / OVERVIEW_PAGE,
        None,
        overview.counts["nodes"],
        overview.counts["edges"],
        overview.collapsed,
        round(perf_counter() - start, 3),
    )
    return GraphPages(out_dir, written, overview_info)
