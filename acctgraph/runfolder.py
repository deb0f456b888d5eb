"""A finished run's output folder, written once and read back without recomputing the world.

Layout of ``OUT/`` (every table Parquet; the five top-level tables also CSV):

- ``members``, ``clusters``, ``evidence``, ``contributions``: the detector's
  answer (see the README);
- ``attached``: accounts attached to a cluster by behaviour
  (:mod:`acctgraph.cluster.attach`);
- ``cohorts``: the behaviour cohorts, one row per cluster that is one
  (:mod:`acctgraph.cluster.cohort`): cluster_id, signature, accounts,
  members_share, other_holders, other_share, contrast, hours_active,
  capability_share, merged_clusters, split_from, joined_alone, twins,
  own_prompt;
- ``splits``: the parts of clusters cut by behaviour, one row per part
  (:mod:`acctgraph.cluster.split`): cluster_id, split_from (the part that kept
  the cut cluster's label), accounts (when cut; thin members may be detached
  after), parts, divergence, differs_most,
  median_exchanges, top_hours_share, top_email_shape;
- ``merges``: the flagged clusters merged into one operation by behaviour, one
  row per merge step (:mod:`acctgraph.cluster.merge`): cluster_id (the merged
  operation), step, accounts (of the part that joined), into_accounts (of the
  cluster it joined), template_overlap, shared_templates, top_template,
  divergence, differs_most, first_account (the joining part's smallest account id);
- ``changes`` and ``changed_members`` (runs with ``--previous``): what changed since
  the previous run, one row per operation flagged in either run, and the accounts
  that joined or left each (:mod:`acctgraph.cluster.track`);
- ``decisions`` (runs with ``--decisions``): each target's latest decision and what
  it did to this run, with the benign rule's baseline (:mod:`acctgraph.cluster.track`);
- ``decision_baselines`` (Parquet only; runs with ``--decisions`` or after one): the
  size and identity kinds of each benign or allowlisted operation when its decision
  was first applied, carried from run to run;
- ``run.json``: tool, versions, parameters, seed, inputs, rows, hubs, detect
  (re-split, detached, attached, cohort, split and merge counts), warnings, timing;
- ``config.toml``: the parameters as a config file; ``acctgraph run --config
  OUT/config.toml`` on the same input reproduces the run;
- ``graph/``: the weighted bipartite graph with integer ids, so that
  ``explain``, ``expand`` and the graph views need not rebuild it:
  ``accounts`` (account_index, account_id), ``values`` (value_index,
  attribute_kind, value, n_accounts, kind_weight, value_weight, hub_action,
  infrastructure), ``incidence`` (account_index, value_index, n_events,
  strength), ``edges`` (source, target, weight: the account projection) and
  ``hubs`` (attribute_kind, value, n_accounts, hub_cap, hub_action);
- ``profiles/``: per-account behaviour: ``accounts`` (the validated accounts
  table joined with per-account activity figures), ``hours`` (account_id, hour,
  n_events) and ``daily`` (account_id, day, n_events); ``cluster_templates`` and
  ``template_samples`` (top templates per carded cluster with sample prompts,
  :mod:`acctgraph.cards`);
- ``cards/`` (one Parquet table per card section) and ``cards.json``: the
  evidence cards (:mod:`acctgraph.cards`);
- ``graphs/``: interactive graph pages, ``overview.html`` and one page per
  cluster (:mod:`acctgraph.viz`);
- ``report.html`` and ``report.md``: the investigation report.

Examples
--------
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> from acctgraph import run_pipeline, write_outputs
>>> import tempfile
>>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
>>> out = tempfile.mkdtemp()
>>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
>>> run = load_run(out)
>>> run.members.height == run.profile_accounts.height == run.graph_accounts.height
True
>>> run.graph().edges.columns
['source', 'target', 'weight']
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from acctgraph.cluster.score import ScoreParams
from acctgraph.core import schema as S
from acctgraph.core.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from acctgraph.graph import AccountGraph

GRAPH_DIR = "graph"
PROFILES_DIR = "profiles"
RUN_JSON = "run.json"
CONTRIBUTIONS = "contributions"
ATTACHED = "attached"
COHORTS = "cohorts"
SPLITS = "splits"
MERGES = "merges"
LINKS = "links"
CHANGES = "changes"
CHANGED_MEMBERS = "changed_members"
DECISIONS = "decisions"
DECISION_BASELINES = "decision_baselines"
GRAPH_PAGES_DIR = "graphs"  # the interactive pages (graph/ holds the graph tables)
OVERVIEW_PAGE = "overview.html"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"


class Run:
    """Read access to a finished run folder; every table is read on first use and cached.

    Parameters
    ----------
    path
        The ``--out`` folder of ``acctgraph run``.
    written
        Graph tables the caller has just written to this folder from these very frames
        (``values``, ``incidence``, ``edges``, ``hubs``), used instead of reading the files
        back: the writer of a run draws its pages from the run folder without holding its
        largest tables twice. A Parquet round trip gives equal frames (a test checks it).
    """

    SHAREABLE = ("values", "incidence", "edges", "hubs")

    def __init__(self, path: str | Path, written: Mapping[str, pl.DataFrame] | None = None) -> None:
        self.path = Path(path)
        if not (self.path / RUN_JSON).is_file():
            raise InputError(
                "is not a finished acctgraph run (no run.json); run `acctgraph run` first",
                path=str(self.path),
            )
        for name, frame in (written or {}).items():
            if name not in self.SHAREABLE:
                raise ValueError(f"{name!r} is not one of {', '.join(self.SHAREABLE)}")
            self.__dict__[name] = frame  # the cached_property's slot: read as if from the file

    def _optional(self, name: str) -> pl.DataFrame | None:
        """A top-level table that older runs (or runs without it) do not have: None then."""
        return self._read(name) if (self.path / f"{name}.parquet").is_file() else None

    def _read(self, *parts: str) -> pl.DataFrame:
        path = self.path.joinpath(*parts[:-1], parts[-1] + ".parquet")
        if not path.is_file():
            raise InputError(
                "is missing from the run folder (written by a newer acctgraph run)", path=str(path)
            )
        return pl.read_parquet(path)

    @cached_property
    def record(self) -> dict[str, Any]:
        """The parsed ``run.json``."""
        return json.loads((self.path / RUN_JSON).read_text(encoding="utf-8"))

    @cached_property
    def score_params(self) -> ScoreParams:
        """The scoring parameters the run used (``run.json``); defaults for any the run
        does not record (runs written by an older acctgraph)."""
        recorded = self.record.get("parameters", {}).get("score", {})
        known = {f.name for f in dataclasses.fields(ScoreParams) if f.init}
        return ScoreParams(**{k: v for k, v in recorded.items() if k in known})

    @cached_property
    def members(self) -> pl.DataFrame:
        return self._read(S.MEMBERS)

    @cached_property
    def clusters(self) -> pl.DataFrame:
        return self._read(S.CLUSTERS)

    @cached_property
    def evidence(self) -> pl.DataFrame:
        return self._read(S.EVIDENCE)

    @cached_property
    def contributions(self) -> pl.DataFrame:
        return self._read(CONTRIBUTIONS)

    @cached_property
    def attached(self) -> pl.DataFrame | None:
        """Accounts attached to a cluster by behaviour (:mod:`acctgraph.cluster.attach`); None for runs
        made before attachment existed."""
        return self._optional(ATTACHED)

    @cached_property
    def cohorts(self) -> pl.DataFrame | None:
        """The behaviour cohorts by cluster id (:mod:`acctgraph.cluster.cohort`); None for runs
        made before cohorts existed."""
        return self._optional(COHORTS)

    @cached_property
    def splits(self) -> pl.DataFrame | None:
        """The parts of clusters cut by behaviour (:mod:`acctgraph.cluster.split`); None for
        runs made before the split existed."""
        return self._optional(SPLITS)

    @cached_property
    def merges(self) -> pl.DataFrame | None:
        """The flagged clusters merged by behaviour, one row per step
        (:mod:`acctgraph.cluster.merge`); None for runs made before the merge existed."""
        return self._optional(MERGES)

    @cached_property
    def links(self) -> pl.DataFrame | None:
        """The record links of declared accounts columns, one row per pair and column
        (:func:`acctgraph.run.pipeline.links_table`); None when the run declared none."""
        return self._optional(LINKS)

    @cached_property
    def changes(self) -> pl.DataFrame | None:
        """What changed since the previous run (:func:`acctgraph.cluster.track.operation_changes`);
        None for runs made without ``--previous``."""
        return self._optional(CHANGES)

    @cached_property
    def changed_members(self) -> pl.DataFrame | None:
        """The accounts that joined or left each operation of :attr:`changes`; None
        without ``--previous``."""
        return self._optional(CHANGED_MEMBERS)

    @cached_property
    def decisions(self) -> pl.DataFrame | None:
        """The decisions applied to this run and what each did
        (:func:`acctgraph.cluster.track.apply_decisions`); None without ``--decisions``."""
        return self._optional(DECISIONS)

    @cached_property
    def decision_baselines(self) -> pl.DataFrame | None:
        """The benign and allowlist baselines this run carries to the next
        (:func:`acctgraph.cluster.track.carried_baselines`); None when there are none."""
        return self._optional(DECISION_BASELINES)

    @cached_property
    def graph_accounts(self) -> pl.DataFrame:
        """``account_index, account_id`` (position = vertex id of the projection)."""
        return self._read(GRAPH_DIR, "accounts")

    @cached_property
    def values(self) -> pl.DataFrame:
        return self._read(GRAPH_DIR, "values")

    @cached_property
    def incidence(self) -> pl.DataFrame:
        return self._read(GRAPH_DIR, "incidence")

    @cached_property
    def edges(self) -> pl.DataFrame:
        return self._read(GRAPH_DIR, "edges")

    @cached_property
    def hubs(self) -> pl.DataFrame:
        return self._read(GRAPH_DIR, "hubs")

    @cached_property
    def profile_accounts(self) -> pl.DataFrame:
        """The accounts table joined with activity figures (n_exchanges, first/last seen, ...)."""
        return self._read(PROFILES_DIR, "accounts")

    @cached_property
    def hours(self) -> pl.DataFrame:
        return self._read(PROFILES_DIR, "hours")

    @cached_property
    def daily(self) -> pl.DataFrame:
        return self._read(PROFILES_DIR, "daily")

    def graph(self) -> AccountGraph:
        """The run's :class:`~acctgraph.graph.AccountGraph`, as built (not recomputed)."""
        from acctgraph.graph import AccountGraph

        return AccountGraph(
            account_ids=self.graph_accounts[S.ACCOUNT_ID],
            values=self.values,
            incidence=self.incidence,
            edges=self.edges,
            hubs=self.hubs,
        )

    def __repr__(self) -> str:
        rows = self.record.get("rows", {})
        return (
            f"Run({str(self.path)!r}: {rows.get('accounts_in', '?')} accounts, "
            f"{rows.get('clusters_out', '?')} clusters, {rows.get('flagged_clusters', '?')} flagged)"
        )


def load_run(path: str | Path, written: Mapping[str, pl.DataFrame] | None = None) -> Run:
    """Open a finished run folder (see the module docstring for what it holds; ``written``:
    see :class:`Run`)."""
    return Run(path, written)
