"""acctgraph: find the operations behind fake accounts.

Load account and exchange tables, link accounts through the attribute values
they share, find operator clusters with Leiden, score them with explainable
signals and write evidence an investigator can cite.

This module is the public front: ``__all__`` lists the calls a user needs, and
README, docs and notebooks import only these (and the documented subpackages
:mod:`acctgraph.features`, :mod:`acctgraph.cards`, :mod:`acctgraph.viz`,
:mod:`acctgraph.evaluation.tuning`, :mod:`acctgraph.simulate`). Names are
imported on first use, so ``import acctgraph`` is cheap and the command line
starts fast.

Examples
--------
>>> import acctgraph as ag
>>> accounts, exchanges, labels = ag.simulate_frames("tiny", seed=3)
>>> result = ag.run_pipeline(ag.dataset_from_frames(accounts, exchanges), config=ag.Config(seed=7))
>>> result.scored.members.height == result.dataset.accounts.height   # every account, once
True
>>> ag.evaluate(result.scored.members, labels).precision >= 0.9
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from acctgraph.core.version import __version__

# Public name -> the module that defines it, in the order data flows.
_FRONT: dict[str, str] = {
    # errors
    "AcctGraphError": "acctgraph.core.errors",
    "InputError": "acctgraph.core.errors",
    "ConfigError": "acctgraph.core.errors",
    # load
    "Dataset": "acctgraph.load",
    "load_dataset": "acctgraph.load",
    "dataset_from_frames": "acctgraph.load",
    "load_labels": "acctgraph.load",
    "load_members": "acctgraph.load",
    "load_decisions": "acctgraph.load.decisions",
    # the exchanges on Apache Spark (pip install 'acctgraph[spark]')
    "spark_session": "acctgraph.spark.session",
    "spark_dataset": "acctgraph.spark.load",
    # the stages, one by one
    "compute_usage": "acctgraph.features",
    "attribute_table": "acctgraph.features",
    "build_graph": "acctgraph.graph",
    "detect_communities": "acctgraph.cluster.detect",
    "attach_unlinked": "acctgraph.cluster.attach",
    "find_cohorts": "acctgraph.cluster.cohort",
    "split_by_behaviour": "acctgraph.cluster.split",
    "merge_by_behaviour": "acctgraph.cluster.merge",
    "detach_thin_members": "acctgraph.cluster.detect",
    "score_clusters": "acctgraph.cluster.score",
    "match_operations": "acctgraph.cluster.track",
    "apply_decisions": "acctgraph.cluster.track",
    "operation_changes": "acctgraph.cluster.track",
    # a whole run
    "Config": "acctgraph.run.config",
    "RunResult": "acctgraph.run.result",
    "run_pipeline": "acctgraph.run.pipeline",
    "run_from_usage": "acctgraph.run.pipeline",
    "run_and_write": "acctgraph.run.pipeline",
    "previous_run": "acctgraph.run.pipeline",
    "write_outputs": "acctgraph.run.write",
    # a finished run
    "Run": "acctgraph.runfolder",
    "load_run": "acctgraph.runfolder",
    "load_cards": "acctgraph.cards",
    "write_report": "acctgraph.report.document",
    "write_graph_pages": "acctgraph.viz",
    "show_cluster": "acctgraph.viz",
    "show_overview": "acctgraph.viz",
    "to_graphml": "acctgraph.viz",
    "to_gexf": "acctgraph.viz",
    "explain_account": "acctgraph.investigate.explain",
    "explain_pair": "acctgraph.investigate.explain",
    "expand_from_seeds": "acctgraph.investigate.expand",
    "read_seeds": "acctgraph.investigate.expand",
    # safe display of attacker-written text and tables
    "document_text": "acctgraph.report.display",
    "safe_for_spreadsheet": "acctgraph.core.tables",
    # evaluation and simulated worlds
    "Evaluation": "acctgraph.evaluation.metrics",
    "evaluate": "acctgraph.evaluation.metrics",
    "simulate": "acctgraph.simulate",
    "simulate_frames": "acctgraph.simulate",
}

__all__ = [
    "__version__",
    "AcctGraphError",
    "InputError",
    "ConfigError",
    "Dataset",
    "load_dataset",
    "dataset_from_frames",
    "load_labels",
    "load_members",
    "load_decisions",
    "spark_session",
    "spark_dataset",
    "compute_usage",
    "attribute_table",
    "build_graph",
    "detect_communities",
    "attach_unlinked",
    "find_cohorts",
    "split_by_behaviour",
    "detach_thin_members",
    "merge_by_behaviour",
    "score_clusters",
    "match_operations",
    "apply_decisions",
    "operation_changes",
    "Config",
    "RunResult",
    "run_pipeline",
    "run_from_usage",
    "run_and_write",
    "previous_run",
    "write_outputs",
    "Run",
    "load_run",
    "load_cards",
    "write_report",
    "write_graph_pages",
    "show_cluster",
    "show_overview",
    "to_graphml",
    "to_gexf",
    "explain_account",
    "explain_pair",
    "expand_from_seeds",
    "read_seeds",
    "document_text",
    "safe_for_spreadsheet",
    "Evaluation",
    "evaluate",
    "simulate",
    "simulate_frames",
]


def __getattr__(name: str) -> Any:
    module = _FRONT.get(name)
    if module is None:
        raise AttributeError(f"module 'acctgraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - what type checkers and IDEs see
    from acctgraph.cards import load_cards
    from acctgraph.cluster.attach import attach_unlinked
    from acctgraph.cluster.cohort import find_cohorts
    from acctgraph.cluster.detect import detach_thin_members, detect_communities
    from acctgraph.cluster.merge import merge_by_behaviour
    from acctgraph.cluster.score import score_clusters
    from acctgraph.cluster.split import split_by_behaviour
    from acctgraph.cluster.track import apply_decisions, match_operations, operation_changes
    from acctgraph.core.errors import AcctGraphError, ConfigError, InputError
    from acctgraph.core.tables import safe_for_spreadsheet
    from acctgraph.evaluation.metrics import Evaluation, evaluate
    from acctgraph.features import attribute_table, compute_usage
    from acctgraph.graph import build_graph
    from acctgraph.investigate.expand import expand_from_seeds, read_seeds
    from acctgraph.investigate.explain import explain_account, explain_pair
    from acctgraph.load import Dataset, dataset_from_frames, load_dataset, load_labels, load_members
    from acctgraph.load.decisions import load_decisions
    from acctgraph.report.display import document_text
    from acctgraph.report.document import write_report
    from acctgraph.run.config import Config
    from acctgraph.run.pipeline import previous_run, run_and_write, run_from_usage, run_pipeline
    from acctgraph.run.result import RunResult
    from acctgraph.run.write import write_outputs
    from acctgraph.runfolder import Run, load_run
    from acctgraph.simulate import simulate, simulate_frames
    from acctgraph.spark.load import spark_dataset
    from acctgraph.spark.session import spark_session
    from acctgraph.viz import show_cluster, show_overview, to_gexf, to_graphml, write_graph_pages
