"""The account × value graph built from the long attribute table.

:mod:`~acctgraph.graph.build` (specificity and cosine weights, hub handling),
:mod:`~acctgraph.graph.project` (the projection to weighted account pairs, with
infrastructure corroboration) and :mod:`~acctgraph.graph.randomness` (igraph's
random generator, seeded and given back).
"""

from acctgraph.graph.build import AccountGraph, GraphParams, build_graph

__all__ = ["AccountGraph", "GraphParams", "build_graph"]
