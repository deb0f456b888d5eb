"""The run's bipartite graph as explain and expand read it: accounts, the graph, a shared value's weight.

Both tools work from a run folder (:func:`acctgraph.runfolder.load_run`) and
recompute nothing: :func:`account_table` puts each account of the graph next to
its cluster, :func:`bipartite_graph` turns the incidence table into an igraph
graph (accounts first, then values), and :func:`shared_contribution` is what one value
shared by two accounts adds to their link, exactly as in
:mod:`acctgraph.graph.build`: ``kind_weight × strength_a × strength_b``, and
nothing for a hub value the graph layer dropped.
"""

from __future__ import annotations

import igraph as ig
import polars as pl

from acctgraph.core import schema as S
from acctgraph.graph.build import (
    ACCOUNT_INDEX,
    DROPPED,
    HUB_ACTION,
    INFRASTRUCTURE,
    KIND_WEIGHT,
    STRENGTH,
    VALUE_INDEX,
)
from acctgraph.investigate.records import DECIMALS
from acctgraph.runfolder import Run

#: Column of the explain and expand tables: the number of accounts in the account's cluster.
CLUSTER_SIZE = "cluster_size"


def account_table(run: Run) -> pl.DataFrame:
    """``account_index, account_id, cluster_id, cluster_score, flagged`` for every account of a run.

    Examples
    --------
    >>> import polars as pl, tempfile
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> from acctgraph.runfolder import load_run
    >>> accounts = pl.DataFrame({"account_id": ["a", "b", "c"], "device_id": ["d1", "d1", None]})
    >>> exchanges = pl.DataFrame({"account_id": ["a", "b", "c"], "timestamp": [1776852000] * 3})
    >>> out = tempfile.mkdtemp()
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> account_table(load_run(out)).select("account_index", "account_id", "cluster_id").rows()
    [(0, 'a', 'op-000001'), (1, 'b', 'op-000001'), (2, 'c', None)]
    """
    return (
        run.graph_accounts.join(
            run.members.select(S.ACCOUNT_ID, S.CLUSTER_ID, S.CLUSTER_SCORE, S.FLAGGED),
            on=S.ACCOUNT_ID,
            how="left",
        )
        .with_columns(pl.col(S.FLAGGED).fill_null(False))
        .sort(ACCOUNT_INDEX)
    )


def shared_contribution(strength_a: str, strength_b: str) -> pl.Expr:
    """``kind_weight × strength_a × strength_b`` over columns of a frame; 0 for dropped hub values.

    Needs the ``kind_weight`` and ``hub_action`` columns of the run's value
    table; the result is rounded to :data:`~acctgraph.investigate.records.DECIMALS` places.

    Examples
    --------
    >>> frame = pl.DataFrame({"kind_weight": [0.5, 1.0], "hub_action": [None, "dropped"],
    ...                       "a": [0.8, 1.0], "b": [0.5, 1.0]})
    >>> frame.select(shared_contribution("a", "b")).to_series().to_list()
    [0.2, 0.0]
    """
    return (
        pl.when(pl.col(HUB_ACTION).fill_null("") == DROPPED)
        .then(0.0)
        .otherwise(pl.col(KIND_WEIGHT) * pl.col(strength_a) * pl.col(strength_b))
        .round(DECIMALS)
    )


def bipartite_graph(run: Run) -> tuple[ig.Graph, pl.DataFrame]:
    """The run's bipartite graph as igraph: vertices ``0..A-1`` accounts, ``A + value_index`` values.

    Dropped hub values and zero-strength links are left out. Returns the graph
    and its edge table (``account_index, value_index, kind_weight, strength,
    infrastructure``, in the graph's edge order: sorted by value then account).

    Examples
    --------
    >>> import polars as pl, tempfile
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> from acctgraph.runfolder import load_run
    >>> accounts = pl.DataFrame({"account_id": ["a", "b", "c"], "device_id": ["d1", "d1", None]})
    >>> exchanges = pl.DataFrame({"account_id": ["a", "b", "c"], "timestamp": [1776852000] * 3})
    >>> out = tempfile.mkdtemp()
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> graph, edges = bipartite_graph(load_run(out))
    >>> graph.vcount(), graph.get_edgelist()
    (4, [(0, 3), (1, 3)])
    """
    n_accounts = run.graph_accounts.height
    table = (
        run.incidence.select(ACCOUNT_INDEX, VALUE_INDEX, STRENGTH)
        .join(
            run.values.select(VALUE_INDEX, KIND_WEIGHT, HUB_ACTION, INFRASTRUCTURE), on=VALUE_INDEX
        )
        .filter(
            (pl.col(HUB_ACTION).fill_null("") != DROPPED)
            & (pl.col(STRENGTH) > 0)
            & (pl.col(KIND_WEIGHT) > 0)
        )
        .select(ACCOUNT_INDEX, VALUE_INDEX, KIND_WEIGHT, STRENGTH, INFRASTRUCTURE)
        .sort(VALUE_INDEX, ACCOUNT_INDEX)
    )
    edges = list(zip(table[ACCOUNT_INDEX].to_list(), (table[VALUE_INDEX] + n_accounts).to_list()))
    graph = ig.Graph(n=n_accounts + run.values.height, edges=edges)
    return graph, table
