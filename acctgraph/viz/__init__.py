"""Interactive graph views of a finished run: HTML pages, notebook display, GraphML/GEXF export.

Everything here reads a run folder (:func:`acctgraph.runfolder.load_run`) and never
recomputes the graph.

- :func:`write_graph_pages` writes ``OUT/graphs/cluster_<id>.html`` (the
  bipartite view of one cluster: accounts and the values linking them) and
  ``OUT/graphs/overview.html`` (clusters joined where they share values);
  ``acctgraph viz`` and ``acctgraph run`` call it.
- :func:`show_cluster` and :func:`show_overview` return objects that a Jupyter
  notebook displays inline, in a sandboxed iframe.
- :func:`to_graphml` and :func:`to_gexf` export a cluster, or the whole graph,
  with attributes, for Gephi or networkx.

Pages are self-contained (vis-network inlined, no external URL), escape every
string drawn from the data, and stay within a node budget
(:data:`~acctgraph.viz.drawing.NODE_BUDGET`): above it accounts holding the same
drawn values are grouped and the least shared values left out, and the page
says so.
"""

from acctgraph.viz.drawing import (
    EDGE_BUDGET,
    NODE_BUDGET,
    Drawing,
    cluster_drawing,
    select_clusters,
)
from acctgraph.viz.export import (
    GraphView,
    graph_for_export,
    show_cluster,
    show_overview,
    to_gexf,
    to_graphml,
)
from acctgraph.viz.overview import overview_drawing
from acctgraph.viz.pages import (
    DEFAULT_CLUSTER_PAGES,
    GraphPages,
    PageInfo,
    page_name,
    render,
    write_graph_pages,
)

__all__ = [
    "DEFAULT_CLUSTER_PAGES",
    "EDGE_BUDGET",
    "NODE_BUDGET",
    "Drawing",
    "GraphPages",
    "GraphView",
    "PageInfo",
    "cluster_drawing",
    "graph_for_export",
    "overview_drawing",
    "page_name",
    "render",
    "select_clusters",
    "show_cluster",
    "show_overview",
    "to_gexf",
    "to_graphml",
    "write_graph_pages",
]
