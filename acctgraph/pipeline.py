"""The one module that knows the order of the stages.

load → usage (exchange reductions) → attributes → graph → detect → score → write

Each stage is also public on its own (see the README's Python section), so a
notebook can run them one by one and look at every intermediate table.
:func:`run_from_usage` runs the stages after the one pass over the exchanges,
so that many configurations can share that pass (:mod:`acctgraph.tuning`).

Examples
--------
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> accounts, exchanges, labels = simulate_frames("tiny", seed=3)
>>> result = run_pipeline(dataset_from_frames(accounts, exchanges))
>>> result.scored.members.height == result.dataset.accounts.height
True
"""

from __future__ import annotations

import dataclasses
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from acctgraph import __version__
from acctgraph import schema as S
from acctgraph.attach import attach_unlinked
from acctgraph.cards import compute_cards, write_cards, write_template_samples
from acctgraph.config import Config
from acctgraph.detect import Communities, detect_communities
from acctgraph.features import Usage, attribute_table, compute_usage
from acctgraph.graph import AccountGraph, build_graph
from acctgraph.graph.build import ACCOUNT_INDEX
from acctgraph.load import Dataset
from acctgraph.report.document import write_report
from acctgraph.report.tables import write_json, write_table
from acctgraph.runs import load_run, write_run_tables
from acctgraph.score import Scored, score_clusters
from acctgraph.viz import write_graph_pages

Progress = Callable[[str], None]
LIBRARIES = ("polars", "igraph", "leidenalg", "networkx", "pyvis", "numpy", "pyarrow")


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
    attached: pl.DataFrame | None = None  # accounts attached to a cluster by behaviour (acctgraph.attach)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _timing(name: str, start: float, cpu: tuple[float, float]) -> dict[str, Any]:
    """One stage's wall seconds, CPU seconds (user and kernel, all threads) and peak RSS so far."""
    user, system = _cpu()
    return {"stage": name, "seconds": round(time.perf_counter() - start, 3),
            "cpu_user_seconds": round(user - cpu[0], 2), "cpu_system_seconds": round(system - cpu[1], 2),
            "peak_rss_mb": round(_peak_rss_mb(), 1)}


class _Stages:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: list[dict[str, Any]] = []

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress:
            self.progress(name)
        start, cpu = time.perf_counter(), _cpu()
        value = fn()
        self.timings.append(_timing(name, start, cpu))
        return value


def run_pipeline(dataset: Dataset, *, config: Config | None = None, progress: Progress | None = None) -> RunResult:
    """Run every stage after loading on an already loaded dataset."""
    config = config or Config()
    stage = _Stages(progress)
    # Passed straight on, not kept in a local: run_from_usage then holds the only reference and
    # can free the template and co-activity tables once they are in the attribute table.
    result = run_from_usage(dataset, stage("usage", lambda: compute_usage(
        dataset, prompt=config.feature("prompt_template"), co_activity=config.feature("co_activity"))),
        config=config, progress=progress)
    result.timings = stage.timings + result.timings
    return result


def run_from_usage(dataset: Dataset, usage: Usage, *, config: Config | None = None,
                   progress: Progress | None = None) -> RunResult:
    """Run every stage from the attribute table on, reusing exchange reductions computed earlier.

    ``usage`` must be ``compute_usage(dataset, prompt=..., co_activity=...)`` with
    this configuration's ``prompt_template`` and ``co_activity`` features (their
    ``enabled``, ``weight``, ``hub_cap`` and ``alpha`` act later and may differ);
    the result is then the same as :func:`run_pipeline`'s. ``usage`` is not
    modified, so one reduction serves many configurations (the expensive pass
    over the exchanges is done once; :mod:`acctgraph.tuning` relies on this).

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    >>> dataset = dataset_from_frames(accounts, exchanges)
    >>> usage = compute_usage(dataset)             # the defaults' prompt_template and co_activity
    >>> coarse, fine = (run_from_usage(dataset, usage, config=Config.from_dict({"detect": {"resolution": r}}))
    ...                 for r in (0.5, 2.0))
    >>> coarse.scored.members.height == fine.scored.members.height == dataset.accounts.height
    True
    """
    config = config or Config()
    stage = _Stages(progress)
    attributes = stage("attributes", lambda: attribute_table(usage, config.features))
    # From here on the attribute table holds the template and co-activity rows; drop the
    # copies in `usage` so that the two largest per-account tables are not held twice.
    usage = dataclasses.replace(usage, templates=usage.templates.clear(), co_activity=usage.co_activity.clear())
    graph = stage("graph", lambda: build_graph(
        attributes, weights=config.weights, hub_caps=config.hub_caps, similarities=config.similarities,
        infrastructure=config.infrastructure, alphas=config.alphas,
        params=config.graph,
        account_ids=dataset.accounts[S.ACCOUNT_ID]))
    communities = stage("detect", lambda: detect_communities(
        graph.to_igraph(), params=config.detect, seed=config.seed))
    membership, attached = stage("attach", lambda: attach_unlinked(
        communities.membership, graph.incidence, graph.values, n_accounts=len(graph.account_ids),
        kinds=config.behaviour_kinds, params=config.attach))
    communities = dataclasses.replace(communities, membership=membership, attached=attached.height)
    scored = stage("score", lambda: score_clusters(
        communities.membership, graph, attributes, usage, params=config.score))
    return RunResult(config, dataset, usage, attributes, graph, communities, scored, stage.timings,
                     attached=_attached_table(attached, graph, scored))


def _attached_table(attached: pl.DataFrame, graph: AccountGraph, scored: Scored) -> pl.DataFrame:
    """The attachments keyed by account and final cluster id (see :mod:`acctgraph.attach`)."""
    ids = graph.account_ids.to_frame().with_row_index(ACCOUNT_INDEX).with_columns(
        pl.col(ACCOUNT_INDEX).cast(pl.Int64))
    return (
        attached.join(ids, on=ACCOUNT_INDEX)
        .join(scored.members.select(S.ACCOUNT_ID, S.CLUSTER_ID), on=S.ACCOUNT_ID)
        .select(S.ACCOUNT_ID, S.CLUSTER_ID, pl.exclude(S.ACCOUNT_ID, S.CLUSTER_ID, ACCOUNT_INDEX, "^_.*$"))
        .sort(S.CLUSTER_ID, S.ACCOUNT_ID)
    )


def versions() -> dict[str, str]:
    """acctgraph, Python and library versions."""
    out = {"acctgraph": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_record(result: RunResult) -> dict[str, Any]:
    """The content of ``run.json``: everything needed to cite and reproduce the run."""
    scored = result.scored
    return {
        "tool": "acctgraph",
        "versions": versions(),
        "parameters": result.config.to_dict(),
        "seed": result.config.seed,
        "inputs": [vars(f) for f in result.dataset.inputs],
        "rows": {
            "accounts_in": result.dataset.accounts.height,
            "attribute_rows": result.attributes.height,
            "graph_values": result.graph.values.height,
            "graph_edges": result.graph.edges.height,
            "members_out": scored.members.height,
            "clusters_out": scored.clusters.height,
            "flagged_clusters": int(scored.clusters[S.FLAGGED].sum()),
            "flagged_accounts": int(scored.members[S.FLAGGED].sum()),
        },
        "hubs": {
            "note": "values held by more accounts than their kind's hub_cap: 'ring' = linked sparsely, "
                    "'dropped' = not linked; 'values' lists the largest 200, 'by_kind' counts all",
            "count": result.graph.hubs.height,
            "by_kind": {
                f"{kind}/{action}": n
                for kind, action, n in result.graph.hubs.group_by("attribute_kind", "hub_action")
                .agg(pl.len()).sort("attribute_kind", "hub_action").iter_rows()
            },
            "values": result.graph.hubs.sort("n_accounts", "attribute_kind", "value", descending=[True, False, False])
            .head(200).to_dicts(),
        },
        "detect": {"resplit": result.communities.resplit, "detached": result.communities.detached,
                   "attached": result.communities.attached},
        "warnings": result.dataset.warnings.as_records(),
        "timing": result.timings,
    }


def write_outputs(result: RunResult, out: str | Path) -> list[Path]:
    """Write members, clusters, evidence, contributions, attached, the graph and profile tables
    (:mod:`acctgraph.runs`), template samples, run.json, the evidence cards
    (:mod:`acctgraph.cards`), the graph pages (``out/graphs/``,
    :func:`acctgraph.viz.write_graph_pages`) and, last, ``report.html`` / ``report.md``
    (:func:`acctgraph.report.document.write_report`) into ``out``.

    The time of each writing step is added to ``result.timings``; run.json is written
    once before the cards (which read the run folder) and again at the end, with every timing.
    """
    out = Path(out)
    start, cpu = time.perf_counter(), _cpu()
    paths: list[Path] = []
    scored = result.scored
    paths += write_table(scored.members, out, S.MEMBERS)
    paths += write_table(scored.clusters, out, S.CLUSTERS)
    paths += write_table(scored.evidence, out, S.EVIDENCE)
    paths += write_table(scored.contributions, out, "contributions")
    if result.attached is not None:
        paths += write_table(result.attached, out, "attached")
    paths += write_run_tables(result, out)
    result.timings.append(_timing("write", start, cpu))
    # Template figures and sample prompts need the inputs (a run folder holds no raw prompts).
    paths += _timed(result, "template_samples", lambda: write_template_samples(result, out))
    paths.append(write_json(run_record(result), out / "run.json"))
    # Cards, graph pages and the report read the run folder just written, exactly as
    # `acctgraph report` / `acctgraph viz` would later (one Run: each table read once).
    run = load_run(out)
    paths += _timed(result, "cards", lambda: write_cards(compute_cards(run), out))
    paths += _timed(result, "graph_pages",
                    lambda: write_graph_pages(run, out / "graphs", clean=True).paths)
    # Last, the report (it links the graph pages that exist), then run.json again with its timing.
    paths += _timed(result, "report", lambda: write_report(run, out))
    write_json(run_record(result), out / "run.json")
    return paths


def _timed(result: RunResult, stage: str, fn: Callable[[], list[Path]]) -> list[Path]:
    """Run one writing step and append its time and peak memory to ``result.timings``."""
    start, cpu = time.perf_counter(), _cpu()
    paths = fn()
    result.timings.append(_timing(stage, start, cpu))
    return paths


def run_and_write(
    input_dir: str | Path | None = None,
    *,
    accounts: str | Path | None = None,
    exchanges: str | Path | None = None,
    out: str | Path,
    config: Config | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Load the inputs, run every stage and write the outputs (what ``acctgraph run`` does)."""
    from acctgraph.load import load_dataset

    config = config or Config()
    stage = _Stages(progress)
    dataset = stage("load", lambda: load_dataset(
        input_dir, accounts=accounts, exchanges=exchanges, mapping=dict(config.mapping)))
    result = run_pipeline(dataset, config=config, progress=progress)
    result.timings = stage.timings + result.timings
    if progress:
        progress("write")
    write_outputs(result, out)
    return result
