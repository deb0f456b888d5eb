"""Tests of acctgraph.evaluation.tuning: a point is a full run, sweeps and ablations are tables of evaluated runs."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from acctgraph.core.errors import ConfigError
from acctgraph.evaluation.metrics import evaluate
from acctgraph.evaluation.tuning import (
    CHANGES,
    METRICS,
    SWITCHED_OFF,
    Experiment,
    ablation,
    metrics,
    sweep,
    with_parameters,
)
from acctgraph.load import dataset_from_frames
from acctgraph.run.config import Config
from acctgraph.run.pipeline import run_from_usage, run_pipeline
from acctgraph.simulate import simulate_frames


@pytest.fixture(scope="module")
def world() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return simulate_frames("tiny", seed=11)


@pytest.fixture(scope="module")
def experiment(world) -> Experiment:
    accounts, exchanges, labels = world
    return Experiment(dataset_from_frames(accounts, exchanges), labels)


def full_run(world, config: Config):
    accounts, exchanges, _ = world
    return run_pipeline(dataset_from_frames(accounts, exchanges), config=config)


# --- a point is a full run ------------------------------------------------------------------

POINTS = {
    "defaults": {},
    "resolution": {"detect.resolution": 3.0},
    "prompt_template off": {"features.prompt_template.enabled": False},
    "co_activity off": {"features.co_activity.enabled": False},
    "ip_range hub cap": {"features.ip_range.hub_cap": 10, "graph.min_edge_weight": 0.45},
    "template bands": {"features.prompt_template.band_words": 6},
    "co-activity window": {"features.co_activity.window_hours": 12},
}


@pytest.mark.parametrize("name", list(POINTS))
def test_a_point_equals_a_full_run(world, experiment: Experiment, name: str) -> None:
    config = with_parameters(Config(), POINTS[name])
    reused = experiment.run(config)
    full = full_run(world, config)
    for table in ("members", "clusters", "evidence", "contributions"):
        assert_frame_equal(getattr(reused.scored, table), getattr(full.scored, table))
    assert_frame_equal(reused.graph.edges, full.graph.edges)
    assert reused.config == full.config == config
    assert [t["stage"] for t in full.timings] == ["usage"] + [t["stage"] for t in reused.timings]


def test_reductions_are_shared_only_when_their_parameters_agree(experiment: Experiment) -> None:
    base = experiment.usage()
    later = with_parameters(
        Config(),
        {
            "features.prompt_template.weight": 0.5,
            "features.co_activity.enabled": False,
            "features.co_activity.hub_cap": 10,
            "detect.resolution": 2.0,
        },
    )
    assert experiment.usage(later) is base
    shaped = with_parameters(Config(), {"features.prompt_template.band_words": 6})
    assert experiment.usage(shaped) is not base
    assert experiment.usage(shaped) is experiment.usage(shaped)


def test_input_warnings_are_counted_once(world) -> None:
    accounts, exchanges, labels = world
    experiment = Experiment(dataset_from_frames(accounts, exchanges), labels)
    for band_words in (6, 7, 8):
        experiment.usage(
            with_parameters(Config(), {"features.prompt_template.band_words": band_words})
        )
    once = full_run(world, Config()).dataset.warnings
    assert experiment.dataset.warnings.as_records() == once.as_records()
    assert once.count("ip_malformed") > 0


def test_run_from_usage_leaves_the_usage_untouched(world) -> None:
    accounts, exchanges, _ = world
    dataset = dataset_from_frames(accounts, exchanges)
    usage = run_pipeline(dataset).usage  # (a run's own usage has its template copies dropped)
    experiment = Experiment(dataset, world[2])
    shared = experiment.usage()
    templates = shared.templates.clone()
    run_from_usage(dataset, shared)
    assert_frame_equal(shared.templates, templates)
    assert shared.templates.height > 0 and usage.templates.height == 0


def test_point_metrics_are_the_evaluation_of_the_run(world, experiment: Experiment) -> None:
    config = with_parameters(Config(), {"graph.min_edge_weight": 0.6})
    full = full_run(world, config)
    expected = evaluate(full.scored.members, world[2])
    row = experiment.point(config)
    assert row == metrics(expected, full)
    assert list(row) == list(METRICS)
    assert row["flagged_legitimate"] == expected.false_positives
    assert row["clusters"] == full.scored.clusters.height


# --- sweep ------------------------------------------------------------------------------------


def test_sweep_runs_every_combination_in_grid_order(experiment: Experiment) -> None:
    grid = {"graph.min_edge_weight": [0.2, 0.6], "features.ip.enabled": [True, False]}
    points = experiment.sweep(grid)
    assert points.columns == list(grid) + list(METRICS)
    assert points.select(list(grid)).rows() == [
        (0.2, True),
        (0.2, False),
        (0.6, True),
        (0.6, False),
    ]
    assert dict(zip(points.columns[2:], points.dtypes[2:])) == METRICS
    row = points.row(3, named=True)
    config = with_parameters(Config(), {"graph.min_edge_weight": 0.6, "features.ip.enabled": False})
    assert {name: row[name] for name in METRICS} == experiment.point(config)


def test_sweep_is_deterministic_and_the_function_matches_the_method(
    world, experiment: Experiment
) -> None:
    accounts, exchanges, labels = world
    grid = {"detect.resolution": [1, 3.0]}  # mixed int and float values make one float column
    first = sweep(dataset_from_frames(accounts, exchanges), labels, grid)
    assert first.schema["detect.resolution"] == pl.Float64
    assert_frame_equal(first, experiment.sweep(grid))


def test_sweep_starts_from_the_given_configuration(world) -> None:
    accounts, exchanges, labels = world
    base = with_parameters(Config(), {"graph.min_edge_weight": 0.6})
    points = sweep(dataset_from_frames(accounts, exchanges), labels, {"seed": [42]}, config=base)
    assert (
        points.row(0, named=True)["recall"]
        == Experiment(dataset_from_frames(accounts, exchanges), labels).evaluate(base).recall
    )


def test_the_edge_threshold_trades_precision_for_recall(experiment: Experiment) -> None:
    # On the tiny world: too low a threshold links strangers, too high splits operators.
    points = experiment.sweep({"graph.min_edge_weight": [0.1, 0.3, 0.8]})
    precision = points["precision"].to_list()
    recall = points["recall"].to_list()
    assert precision[0] < precision[1] and recall[2] < recall[1]
    assert points["flagged_legitimate_organisation"].to_list()[1:] == [0, 0]


def test_sweep_checks_every_point_before_running_any(experiment: Experiment, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(Experiment, "point", lambda self, config=None: calls.append(config))
    with pytest.raises(ConfigError, match="resolution must be positive"):
        experiment.sweep({"detect.resolution": [1.0, 0.0]})
    with pytest.raises(ConfigError, match="unknown options"):
        experiment.sweep({"detect.resolutoin": [1.0]})
    with pytest.raises(ConfigError, match="at least one parameter"):
        experiment.sweep({})
    with pytest.raises(ConfigError, match="no values"):
        experiment.sweep({"detect.resolution": []})
    assert calls == []


# --- ablation -----------------------------------------------------------------------------


def test_ablation_switches_each_kind_off_in_turn(world, experiment: Experiment) -> None:
    table = experiment.ablation(["ip_range", "prompt_template"])
    assert table[SWITCHED_OFF].to_list() == [None, "ip_range", "prompt_template"]
    assert table.columns == [SWITCHED_OFF, *METRICS, *(f"{m}_change" for m in CHANGES)]
    for metric in CHANGES:
        change = table[f"{metric}_change"].to_list()
        values = table[metric].to_list()
        assert change[0] == 0.0
        assert change[1:] == [round(v - values[0], 6) for v in values[1:]]
    off = full_run(world, with_parameters(Config(), {"features.prompt_template.enabled": False}))
    assert table.row(2, named=True)["bcubed_f1"] == evaluate(off.scored.members, world[2]).bcubed_f1
    assert (
        table.row(2, named=True)["recall_change"] < 0
    )  # templates carry much of the evidence here


def test_ablation_defaults_to_every_enabled_kind(world) -> None:
    accounts, exchanges, labels = world
    kept = ("payment", "prompt_template")
    config = with_parameters(
        Config(),
        {f"features.{f.kind}.enabled": False for f in Config().features if f.kind not in kept},
    )
    table = ablation(dataset_from_frames(accounts, exchanges), labels, config=config)
    assert table[SWITCHED_OFF].to_list() == [None, *kept]


def test_ablation_rejects_unknown_and_disabled_kinds(experiment: Experiment) -> None:
    with pytest.raises(ConfigError, match="'card' is not an enabled attribute kind"):
        experiment.ablation(["card"])
    disabled = Experiment(
        experiment.dataset,
        experiment.labels,
        config=with_parameters(Config(), {"features.ip.enabled": False}),
    )
    with pytest.raises(ConfigError, match="'ip' is not an enabled"):
        disabled.ablation(["ip"])


# --- parameters by dotted path -------------------------------------------------------------


def test_with_parameters_sets_nested_options_and_keeps_the_rest() -> None:
    base = Config.from_dict(
        {"seed": 7, "features": {"ip_range": {"weight": 0.3}}, "attributes": ["team_id"]}
    )
    tuned = with_parameters(
        base, {"score.weights.volume": 0.3, "features.ip_range.hub_cap": 12, "seed": 8}
    )
    assert tuned.score.weights["volume"] == 0.3
    assert tuned.score.weights["evidence"] == base.score.weights["evidence"]
    assert tuned.feature("ip_range").hub_cap == 12 and tuned.feature("ip_range").weight == 0.3
    assert tuned.seed == 8 and tuned.feature("column:team_id") == base.feature("column:team_id")
    assert with_parameters(base, {}) == base
    merged = with_parameters(base, {"features.ip_range": {"hub_cap": 12}})
    assert merged.feature("ip_range").weight == 0.3 and merged.feature("ip_range").hub_cap == 12


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"seed.value": 1}, "seed is a single value"),
        ({"detect..resolution": 1.0}, "dotted path"),
        ({"features.card.enabled": False}, "unknown attribute kind"),
        ({"features.ip.hub_cap": 1}, "hub_cap must be at least 2"),
        ({"clustering.resolution": 1.0}, "unknown configuration keys"),
    ],
)
def test_with_parameters_rejects_bad_paths_and_values(parameters, message) -> None:
    with pytest.raises(ConfigError, match=message):
        with_parameters(Config(), parameters)
