"""Writing a run folder: the tables, ``run.json``, then the outputs that read the folder back.

The layout of a run folder is described in :mod:`acctgraph.runfolder`, which reads
it and never imports this module or the pipeline.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from acctgraph.cards import compute_cards, write_cards, write_template_samples
from acctgraph.cluster.split import SPLIT_FROM
from acctgraph.core import schema as S
from acctgraph.core.tables import write_json, write_table
from acctgraph.core.version import __version__
from acctgraph.features import ExtraColumn
from acctgraph.graph.build import ACCOUNT_INDEX
from acctgraph.report.document import write_report
from acctgraph.run.config import Config
from acctgraph.run.result import RunResult
from acctgraph.run.timing import timed
from acctgraph.runfolder import (
    CHANGED_MEMBERS,
    CHANGES,
    COHORTS,
    DECISION_BASELINES,
    DECISIONS,
    GRAPH_DIR,
    LINKS,
    MERGES,
    PROFILES_DIR,
    SPLITS,
    load_run,
)
from acctgraph.viz import write_graph_pages

LIBRARIES = ("polars", "igraph", "leidenalg", "networkx", "pyvis", "numpy", "pyarrow")


def versions() -> dict[str, str]:
    """acctgraph, Python and library versions."""
    out = {
        "acctgraph": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def engine_record(result: RunResult) -> dict[str, Any]:
    """Where the exchanges were loaded and reduced: polars on this machine, or Spark
    (its master and version). The outputs are the same either way."""
    spark = result.dataset.spark
    if spark is None:
        return {"name": "polars"}
    return {"name": "spark", **spark.describe()}


def run_record(result: RunResult) -> dict[str, Any]:
    """The content of ``run.json``: everything needed to cite and reproduce the run."""
    scored = result.scored
    return {
        "tool": "acctgraph",
        "versions": versions(),
        "parameters": result.config.to_dict(),
        "seed": result.config.seed,
        "engine": engine_record(result),
        "inputs": [vars(f) for f in result.dataset.inputs] + result.sources,
        "rows": {
            "accounts_in": result.dataset.accounts.height,
            "attribute_rows": result.attribute_rows
            if result.attribute_rows is not None
            else result.attributes.height,
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
                .agg(pl.len())
                .sort("attribute_kind", "hub_action")
                .iter_rows()
            },
            "values": result.graph.hubs.sort(
                "n_accounts", "attribute_kind", "value", descending=[True, False, False]
            )
            .head(200)
            .to_dicts(),
        },
        "comparisons": comparisons(result.config),
        "linkage": {
            "note": "record linkage of declared accounts columns (acctgraph.graph.linkage): "
            "pairs compared, pairs linked, and the model (m and u per column and level among "
            "the compared pairs; the row '*' gives the share of matches among them)",
            "objective": "CPM" if result.graph.linkage_only else result.config.detect.objective,
            "compared_pairs": result.graph.links.candidates,
            "linked_pairs": result.graph.links.pairs.height,
            "model": [
                {k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
                for row in result.graph.links.model.to_dicts()
            ],
        },
        "detect": {
            "resplit": result.communities.resplit,
            "detached": result.communities.detached,
            "attached": result.communities.attached,
            "cohorts": 0 if result.cohorts is None else result.cohorts.height,
            "split_by_behaviour": 0
            if result.splits is None
            else result.splits[SPLIT_FROM].n_unique(),
            "merged_by_behaviour": 0 if result.merges is None else result.merges.height,
        },
        "operations": operations_record(result),
        "memory": None
        if result.memory is None
        else {
            "note": "the budget and how the run split its work to keep to it "
            "(acctgraph.core.memory); the output does not depend on it",
            **result.memory.to_dict(),
        },
        "warnings": result.dataset.warnings.as_records(),
        "timing": result.timings,
    }


def operations_record(result: RunResult) -> dict[str, Any]:
    """``run.json``'s ``operations``: where the next run's new ids start, and what this
    run carried over from the previous one and decided (:mod:`acctgraph.cluster.track`)."""
    tracked = result.tracked
    if tracked is None:
        return {}
    record: dict[str, Any] = {
        "note": "cluster ids are operation ids, never reused: next_number is the first the "
        "next run may issue; with --previous, clusters inherit ids by the rule in "
        "acctgraph.cluster.track",
        "next_number": tracked.next_number,
        "inherited": tracked.matched,
    }
    if tracked.changes is not None:
        record["changes"] = {
            change: n
            for change, n in tracked.changes.group_by("change").len().sort("change").iter_rows()
        }
    if tracked.decisions is not None:
        record["decisions"] = {
            f"{kind}/{decision}": n
            for kind, decision, n in tracked.decisions.group_by("target_kind", "decision")
            .len()
            .sort("target_kind", "decision")
            .iter_rows()
        }
    return record


def comparisons(config: Config) -> dict[str, str]:
    """How each enabled kind compares two accounts, as shown to readers (``run.json``'s
    ``comparisons``; the cards' ``kinds`` table and the report name it)."""
    linked = config.linkage_columns
    return {
        f.kind: (
            f"{f.describe()}, record linkage"
            if f.kind in linked
            else (
                "exact (shared value, discounted by holders)"
                if isinstance(f, ExtraColumn)
                else f.describe()
            )
        )
        for f in config.features
        if f.enabled
    }


def write_outputs(result: RunResult, out: str | Path) -> list[Path]:
    """Write members, clusters, evidence, contributions, attached, cohorts, links (when
    accounts columns were declared), the graph and profile tables
    (:mod:`acctgraph.runfolder`), template samples, run.json, ``config.toml``
    (:func:`write_config`), the evidence cards (:mod:`acctgraph.cards`), the graph pages
    (``out/graphs/``, :func:`acctgraph.viz.write_graph_pages`) and, last, ``report.html`` /
    ``report.md`` (:func:`acctgraph.report.document.write_report`) into ``out``.

    The time of each writing step is added to ``result.timings``; run.json is written
    once before the cards (which read the run folder) and again at the end, with every timing.
    """
    out = Path(out)
    scored = result.scored

    def tables() -> list[Path]:
        written = write_table(scored.members, out, S.MEMBERS)
        written += write_table(scored.clusters, out, S.CLUSTERS)
        written += write_table(scored.evidence, out, S.EVIDENCE)
        written += write_table(scored.contributions, out, "contributions")
        if result.attached is not None:
            written += write_table(result.attached, out, "attached")
        if result.cohorts is not None:
            written += write_table(result.cohorts, out, COHORTS)
        if result.splits is not None:
            written += write_table(result.splits, out, SPLITS)
        if result.merges is not None:
            written += write_table(result.merges, out, MERGES)
        if result.links is not None:
            written += write_table(result.links, out, LINKS)
        tracked = result.tracked
        optional = {
            CHANGES: tracked.changes if tracked else None,
            CHANGED_MEMBERS: tracked.moved if tracked else None,
            DECISIONS: tracked.decisions if tracked else None,
        }
        baselines = tracked.baselines if tracked else None
        path = out / f"{DECISION_BASELINES}.parquet"
        if baselines is not None and baselines.height:
            baselines.write_parquet(path, compression="zstd", statistics=False)
            written.append(path)
        else:
            path.unlink(missing_ok=True)
        for name, table in optional.items():
            if table is not None:
                written += write_table(table, out, name)
            else:  # a table an earlier run left in this folder would be read as this run's
                for suffix in (".parquet", ".csv"):
                    (out / f"{name}{suffix}").unlink(missing_ok=True)
        return written + write_run_tables(result, out)

    paths = _timed(result, "write", tables)
    # Template figures and sample prompts need the inputs (a run folder holds no raw prompts).
    paths += _timed(
        result,
        "template_samples",
        lambda: write_template_samples(
            out,
            members=scored.members,
            clusters=scored.clusters,
            attributes=result.attributes,
            exchanges=(
                result.dataset.exchanges
                if result.dataset.spark is None
                else result.dataset.spark.of_accounts
            ),
            activity=result.usage.activity,
            prompt=result.config.prompt_template,
            account_ids=result.graph.account_ids,
        ),
    )
    paths.append(write_json(run_record(result), out / "run.json"))
    paths.append(write_config(result, out))
    # Cards, graph pages and the report read the run folder just written, exactly as
    # `acctgraph report` / `acctgraph viz` would later (one Run: each table read once).
    graph = result.graph
    run = load_run(  # the graph tables just written from these frames: not held twice
        out,
        {
            "values": graph.values,
            "incidence": graph.incidence,
            "edges": graph.edges,
            "hubs": graph.hubs,
        },
    )
    paths += _timed(result, "cards", lambda: write_cards(compute_cards(run), out))
    paths += _timed(result, "graph_pages", lambda: write_graph_pages(run, clean=True).paths)
    # Last, the report (it links the graph pages that exist), then run.json again with its timing.
    paths += _timed(result, "report", lambda: write_report(run, out))
    write_json(run_record(result), out / "run.json")
    return paths


def write_config(result: RunResult, out: Path) -> Path:
    """Write ``config.toml``: the run's parameters (:meth:`~acctgraph.run.config.Config.to_toml`),
    which ``acctgraph run --config`` reads to reproduce the run on the same input."""
    path = out / "config.toml"
    path.write_text(result.config.to_toml(), encoding="utf-8", newline="\n")
    return path


def write_run_tables(result: RunResult, out: Path) -> list[Path]:
    """Write ``graph/`` and ``profiles/`` (Parquet only) for a finished run; returns the paths."""
    graph = result.graph
    usage = result.usage
    tables = {
        (GRAPH_DIR, "accounts"): graph.account_ids.to_frame().with_row_index(ACCOUNT_INDEX),
        (GRAPH_DIR, "values"): graph.values,
        (GRAPH_DIR, "incidence"): graph.incidence,
        (GRAPH_DIR, "edges"): graph.edges,
        (GRAPH_DIR, "hubs"): graph.hubs,
        (PROFILES_DIR, "accounts"): usage.accounts.join(
            usage.activity, on=S.ACCOUNT_ID, how="left"
        ).sort(S.ACCOUNT_ID),
        (PROFILES_DIR, "hours"): usage.hours,
        (PROFILES_DIR, "daily"): usage.daily,
    }
    paths = []
    for (folder, name), frame in tables.items():
        path = out / folder / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path, compression="zstd", statistics=False)
        paths.append(path)
    return paths


def _timed(result: RunResult, stage: str, fn: Callable[[], list[Path]]) -> list[Path]:
    """Run one writing step and append its time and peak memory to ``result.timings``."""
    paths, timing = timed(stage, fn)
    result.timings.append(timing)
    return paths
