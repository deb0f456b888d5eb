"""The in-memory result of a run: every intermediate, for notebooks and for writing a run folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from acctgraph.cluster.detect import Communities
from acctgraph.cluster.score import Scored
from acctgraph.features import Usage
from acctgraph.graph import AccountGraph
from acctgraph.load import Dataset
from acctgraph.run.config import Config


@dataclass
class RunResult:
    """Every intermediate of a run, for notebooks and for writing."""

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
    links: pl.DataFrame | None = (
        None  # record links of declared accounts columns, one row per pair and column
    )
