"""The in-memory result of a run: every intermediate, for notebooks and for writing a run folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from acctgraph.cluster.detect import Communities
from acctgraph.cluster.score import Scored
from acctgraph.cluster.track import Tracked
from acctgraph.core import schema as S
from acctgraph.core.memory import MemoryPlan
from acctgraph.features import Usage
from acctgraph.graph import AccountGraph
from acctgraph.load import Dataset
from acctgraph.run.config import Config


@dataclass
class RunResult:
    """Every intermediate of a run, for notebooks and for writing.

    ``attributes`` is the long attribute table without the infrastructure kinds' rows
    (network addresses, ranges, co-activity windows), which nothing after the graph
    reads (the values that link accounts are in ``graph.values`` and ``graph.incidence``);
    ``attribute_rows`` counts the whole table's rows. The table is keyed by
    ``account_index``, the account's position in ``graph.account_ids`` (four bytes a row
    instead of the id's text); :meth:`attributes_by_id` gives it with ``account_id``.
    Running the stages one by one (the README's Python section) keeps the whole table,
    keyed by ``account_id``.
    """

    config: Config
    dataset: Dataset
    usage: Usage
    attributes: pl.DataFrame
    graph: AccountGraph
    communities: Communities
    scored: Scored
    timings: list[dict[str, Any]] = field(default_factory=list)
    attached: pl.DataFrame | None = (
        None  # accounts attached to a cluster by behaviour (acctgraph.cluster.attach)
    )
    cohorts: pl.DataFrame | None = (
        None  # behaviour cohorts by cluster id (acctgraph.cluster.cohort)
    )
    splits: pl.DataFrame | None = (
        None  # parts of clusters cut by behaviour, by cluster id (acctgraph.cluster.split)
    )
    merges: pl.DataFrame | None = (
        None  # flagged clusters merged by behaviour, by cluster id (acctgraph.cluster.merge)
    )
    links: pl.DataFrame | None = (
        None  # record links of declared accounts columns, one row per pair and column
    )
    attribute_rows: int | None = None  # rows of the whole attribute table (None: attributes')
    memory: MemoryPlan | None = None  # how the run split its work (acctgraph.core.memory)
    tracked: Tracked | None = None  # ids across runs, changes, decisions (acctgraph.cluster.track)
    sources: list[dict[str, Any]] = field(default_factory=list)
    """The previous run and the decisions file, as ``run.json`` records them."""

    def attributes_by_id(self) -> pl.DataFrame:
        """:attr:`attributes` keyed by ``account_id`` (the attribute table's columns and order)."""
        if S.ACCOUNT_INDEX not in self.attributes.columns:
            return self.attributes
        return self.attributes.select(
            self.graph.account_ids.gather(self.attributes[S.ACCOUNT_INDEX]).alias(S.ACCOUNT_ID),
            pl.exclude(S.ACCOUNT_INDEX),
        )
