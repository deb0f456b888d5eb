"""Tuning on a labelled world: parameter sweeps and ablations, each point a full run scored against the labels.

Every point is a complete detector run (attributes → graph → detect → attach → score,
:func:`acctgraph.run.pipeline.run_from_usage`) evaluated with
:func:`acctgraph.evaluation.metrics.evaluate`. Only the first stage, the one pass over
the exchanges (:func:`acctgraph.features.compute_usage`), is shared: it is
computed once per distinct value of the parameters that shape it (the text
and sampling options of ``prompt_template`` and ``co_activity.window_hours``; a kind's
``enabled``, ``weight``, ``hub_cap`` and ``alpha`` act later) and reused. A
point's members are exactly those of ``run_pipeline(dataset, config=point)``.

Parameters are named by dotted paths into the configuration file's layout
(:mod:`acctgraph.run.config`) and validated as a configuration file is:
``detect.resolution``, ``graph.min_edge_weight``, ``features.ip_range.hub_cap``,
``features.co_activity.enabled``, ``score.flag_threshold``,
``score.weights.volume``, ``seed``.

- :func:`sweep`: every combination of a few values of one or two parameters,
  one row per point;
- :func:`ablation`: the configuration as given, then each attribute kind
  switched off in turn: what each kind contributes;
- :class:`Experiment`: the expert half, one dataset and its labels; run,
  evaluate, sweep and ablate any configuration while sharing the reductions.

Result tables hold the point's parameters, then :data:`METRICS`; they hold no
timing, so the same inputs give equal tables.

Examples
--------
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> accounts, exchanges, labels = simulate_frames("tiny", seed=3)
>>> dataset = dataset_from_frames(accounts, exchanges)
>>> points = sweep(dataset, labels, {"detect.resolution": [0.5, 2.0]})
>>> points.select("detect.resolution", "bcubed_f1").height
2
>>> kinds = ablation(dataset, labels, kinds=["payment", "prompt_template"])
>>> kinds["switched_off"].to_list()
[None, 'payment', 'prompt_template']
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import ConfigError
from acctgraph.evaluation.metrics import Evaluation, evaluate
from acctgraph.features import Usage
from acctgraph.load import Dataset
from acctgraph.run.config import Config
from acctgraph.run.pipeline import compute_usage_for, run_from_usage
from acctgraph.run.result import RunResult

SWITCHED_OFF = "switched_off"
"""Column of :func:`ablation`: the kind switched off (null on the first row, every kind on)."""

METRICS: dict[str, pl.DataType] = {
    "precision": pl.Float64(),
    "recall": pl.Float64(),
    "f1": pl.Float64(),
    "bcubed_precision": pl.Float64(),
    "bcubed_recall": pl.Float64(),
    "bcubed_f1": pl.Float64(),
    "adjusted_rand_index": pl.Float64(),
    "normalized_mutual_information": pl.Float64(),
    "flagged_accounts": pl.Int64(),
    "flagged_clusters": pl.Int64(),
    "flagged_legitimate": pl.Int64(),
    "flagged_legitimate_organisation": pl.Int64(),
    "clusters": pl.Int64(),
    "graph_edges": pl.Int64(),
}
"""Columns of every result table after the parameters, and their types.

Account-level precision, recall and F1 of ``flagged``; B-cubed precision,
recall and F1, ARI and NMI of the clustering (definitions:
:mod:`acctgraph.evaluation.metrics`); flagged accounts and clusters; flagged legitimate
accounts, and those of organisations or automation (target 0); clusters of
two or more accounts; edges of the account projection. Undefined ratios are
null.
"""

CHANGES = ("precision", "recall", "bcubed_f1")
"""Metrics whose change from the first row :func:`ablation` reports as ``<metric>_change``."""

# The parameters of a kind that act after the exchange reductions (graph layer, attribute table).
_LATER = frozenset({"enabled", "weight", "hub_cap", "alpha"})
_USAGE_KINDS = ("prompt_template", "co_activity")


def with_parameters(config: Config, parameters: Mapping[str, Any]) -> Config:
    """A copy of ``config`` with the parameters named by dotted paths set, validated.

    Parameters
    ----------
    config
        The configuration to start from.
    parameters
        Dotted path (the configuration file's layout, e.g. ``"detect.resolution"``
        or ``"features.ip_range.hub_cap"``) → value.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        For an unknown section, kind or option, or an invalid value, with the
        message a configuration file would get.

    Examples
    --------
    >>> tuned = with_parameters(Config(), {"detect.resolution": 0.5, "features.ip.enabled": False})
    >>> tuned.detect.resolution, tuned.feature("ip").enabled, tuned.feature("payment").enabled
    (0.5, False, True)
    >>> with_parameters(Config(), {"detect.resolutoin": 0.5})
    Traceback (most recent call last):
    ...
    acctgraph.core.errors.ConfigError: detect: unknown options ['resolutoin']; known: [...]
    """
    data = config.to_dict()
    for path, value in parameters.items():
        keys = path.split(".")
        if not all(keys):
            raise ConfigError(f"{path!r}: expected a dotted path such as 'detect.resolution'")
        node = data
        for depth, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(f"{path!r}: {where} is a single value, not a table of options")
            node = child
        last = keys[-1]
        if isinstance(value, Mapping) and isinstance(node.get(last), dict):
            node[last] = {**node[last], **value}
        else:
            node[last] = value
    return Config.from_dict(data)


def _usage_key(config: Config) -> tuple[Any, ...]:
    """The parameters that shape :func:`compute_usage`: every own option of the two kinds it reads."""
    return tuple(
        (
            kind,
            tuple(
                sorted(
                    (name, value)
                    for name, value in dataclasses.asdict(config.feature(kind)).items()
                    if name not in _LATER
                )
            ),
        )
        for kind in _USAGE_KINDS
    )


def metrics(evaluation: Evaluation, result: RunResult) -> dict[str, Any]:
    """One row of :data:`METRICS` for a run and its evaluation.

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph.run.pipeline import run_pipeline
    >>> accounts, exchanges, labels = simulate_frames("tiny", seed=3)
    >>> result = run_pipeline(dataset_from_frames(accounts, exchanges))
    >>> row = metrics(evaluate(result.scored.members, labels), result)
    >>> list(row) == list(METRICS)
    True
    """
    return {
        "precision": evaluation.precision,
        "recall": evaluation.recall,
        "f1": evaluation.f1,
        "bcubed_precision": evaluation.bcubed_precision,
        "bcubed_recall": evaluation.bcubed_recall,
        "bcubed_f1": evaluation.bcubed_f1,
        "adjusted_rand_index": evaluation.adjusted_rand_index,
        "normalized_mutual_information": evaluation.normalized_mutual_information,
        "flagged_accounts": evaluation.flagged_accounts,
        "flagged_clusters": evaluation.flagged_clusters,
        "flagged_legitimate": evaluation.false_positives,
        "flagged_legitimate_organisation": evaluation.flagged_legitimate_organisation,
        "clusters": result.scored.clusters.height,
        "graph_edges": result.graph.edges.height,
    }


class Experiment:
    """One dataset and its labels: run, evaluate, sweep and ablate configurations, sharing the reductions.

    Parameters
    ----------
    dataset
        A loaded dataset (:func:`acctgraph.load.load_dataset` or
        :func:`~acctgraph.load.dataset_from_frames`).
    labels
        Its ground truth (``account_id, operator_id, kind``; e.g.
        :func:`acctgraph.load.load_labels` or the third frame of
        :func:`acctgraph.simulate.simulate_frames`).
    config
        The base configuration (default: :class:`~acctgraph.run.config.Config`'s defaults).

    The exchange reductions are kept in memory per distinct value of the
    parameters that shape them, so sweep those parameters over a few values
    only on large data.

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> accounts, exchanges, labels = simulate_frames("tiny", seed=3)
    >>> experiment = Experiment(dataset_from_frames(accounts, exchanges), labels)
    >>> coarse = experiment.evaluate(with_parameters(experiment.config, {"detect.resolution": 0.25}))
    >>> coarse.labelled_accounts == labels.height
    True
    >>> experiment.usage() is experiment.usage(with_parameters(experiment.config, {"features.ip.enabled": False}))
    True
    """

    def __init__(
        self, dataset: Dataset, labels: pl.DataFrame, *, config: Config | None = None
    ) -> None:
        self.dataset = dataset
        self.labels = labels
        self.config = config or Config()
        self._usage: dict[tuple[Any, ...], Usage] = {}

    def usage(self, config: Config | None = None) -> Usage:
        """The exchange reductions for ``config`` (computed on first use, then reused)."""
        config = config or self.config
        key = _usage_key(config)
        if key not in self._usage:
            # compute_usage adds its input warnings to the dataset's log: count them once only.
            dataset = (
                self.dataset
                if not self._usage
                else dataclasses.replace(self.dataset, warnings=WarningLog())
            )
            self._usage[key] = compute_usage_for(dataset, config=config)
        return self._usage[key]

    def run(self, config: Config | None = None) -> RunResult:
        """Every stage after the reductions for ``config``: the same result as a full run."""
        config = config or self.config
        return run_from_usage(self.dataset, self.usage(config), config=config)

    def evaluate(self, config: Config | None = None) -> Evaluation:
        """Run ``config`` and score its members against the labels."""
        return evaluate(self.run(config).scored.members, self.labels)

    def point(self, config: Config | None = None) -> dict[str, Any]:
        """Run and evaluate ``config``; one row of :data:`METRICS`."""
        result = self.run(config)
        return metrics(evaluate(result.scored.members, self.labels), result)

    def sweep(self, grid: Mapping[str, Sequence[Any]]) -> pl.DataFrame:
        """Run every combination of the values in ``grid``; see :func:`sweep`."""
        if not grid:
            raise ConfigError(
                "sweep needs at least one parameter, e.g. {'detect.resolution': [0.5, 1.0, 2.0]}"
            )
        paths = list(grid)
        values = [list(grid[path]) for path in paths]
        for path, options in zip(paths, values):
            if not options:
                raise ConfigError(f"sweep: no values given for {path!r}")
        combinations = list(itertools.product(*values))
        # Validate every point before running any, so a typo fails at once.
        configs = [with_parameters(self.config, dict(zip(paths, combo))) for combo in combinations]
        rows = [self.point(config) for config in configs]
        columns = [
            pl.Series(path, [combo[i] for combo in combinations], strict=False)
            for i, path in enumerate(paths)
        ]
        return pl.DataFrame(columns).hstack(_metrics_frame(rows))

    def ablation(self, kinds: Sequence[str] | None = None) -> pl.DataFrame:
        """The base configuration, then each kind of ``kinds`` switched off; see :func:`ablation`."""
        enabled = [f.kind for f in self.config.features if f.enabled]
        kinds = list(enabled if kinds is None else kinds)
        for kind in kinds:
            if kind not in enabled:
                raise ConfigError(
                    f"ablation: {kind!r} is not an enabled attribute kind; enabled: {enabled}"
                )
        configs = [self.config] + [
            with_parameters(self.config, {f"features.{kind}.enabled": False}) for kind in kinds
        ]
        table = pl.DataFrame(
            {SWITCHED_OFF: [None, *kinds]}, schema={SWITCHED_OFF: pl.String}
        ).hstack(_metrics_frame([self.point(config) for config in configs]))
        return table.with_columns(
            (pl.col(metric) - pl.col(metric).first()).round(6).alias(f"{metric}_change")
            for metric in CHANGES
        )


def _metrics_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=METRICS, orient="row")


def sweep(
    dataset: Dataset,
    labels: pl.DataFrame,
    grid: Mapping[str, Sequence[Any]],
    *,
    config: Config | None = None,
) -> pl.DataFrame:
    """Run the detector at every combination of a few parameter values and score each run.

    Parameters
    ----------
    dataset
        A loaded dataset.
    labels
        Its ground truth (``account_id, operator_id, kind``).
    grid
        Dotted parameter path → values, e.g. ``{"detect.resolution": [0.5, 1, 2],
        "features.ip_range.hub_cap": [20, 40]}``; every combination is run, the
        first parameter varying slowest.
    config
        Configuration for every other parameter (defaults if None).

    Returns
    -------
    polars.DataFrame
        One row per point, in grid order: a column per parameter (named by
        its path), then :data:`METRICS`.

    Raises
    ------
    ConfigError
        If a path or value is not valid (checked for every point before any runs).

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> accounts, exchanges, labels = simulate_frames("tiny", seed=3)
    >>> points = sweep(dataset_from_frames(accounts, exchanges), labels,
    ...                {"detect.resolution": [0.5, 1.0], "features.co_activity.enabled": [True, False]})
    >>> points.select("detect.resolution", "features.co_activity.enabled").rows()
    [(0.5, True), (0.5, False), (1.0, True), (1.0, False)]
    >>> points["flagged_legitimate_organisation"].to_list()
    [0, 0, 0, 0]
    """
    return Experiment(dataset, labels, config=config).sweep(grid)


def ablation(
    dataset: Dataset,
    labels: pl.DataFrame,
    *,
    kinds: Sequence[str] | None = None,
    config: Config | None = None,
) -> pl.DataFrame:
    """What each attribute kind contributes: the detector with every kind, then with each switched off.

    Parameters
    ----------
    dataset
        A loaded dataset.
    labels
        Its ground truth (``account_id, operator_id, kind``).
    kinds
        The kinds to switch off, one at a time (default: every enabled kind, in
        configuration order).
    config
        The configuration to start from (defaults if None).

    Returns
    -------
    polars.DataFrame
        ``switched_off`` (null on the first row: every kind on), :data:`METRICS`,
        and ``precision_change``, ``recall_change``, ``bcubed_f1_change``: the
        difference from the first row. A kind whose removal lowers a metric
        contributes to it; one whose removal changes nothing is redundant on
        this world (another kind carries the same evidence).

    Raises
    ------
    ConfigError
        If a kind is unknown or not enabled.

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> accounts, exchanges, labels = simulate_frames("tiny", seed=3)
    >>> table = ablation(dataset_from_frames(accounts, exchanges), labels, kinds=["prompt_template"])
    >>> table.select("switched_off", "bcubed_f1_change").row(0)
    (None, 0.0)
    >>> table["bcubed_f1_change"][1] < 0     # prompt templates carry much of the evidence
    True
    """
    return Experiment(dataset, labels, config=config).ablation(kinds)
