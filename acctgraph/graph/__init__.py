"""Graphs built from the long attribute table: bipartite, projection, hub handling."""

from acctgraph.graph.build import AccountGraph, GraphParams, build_graph

__all__ = ["AccountGraph", "GraphParams", "build_graph"]
