"""The run configuration: keys and value types checked, ceilings refused, TOML written and read back."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acctgraph.cluster.detect import DetectParams
from acctgraph.core.errors import ConfigError
from acctgraph.features import Payment
from acctgraph.graph import GraphParams
from acctgraph.graph.project import (
    ACCOUNT_INDEX,
    HUB_ACTION,
    KIND_CODE,
    MAX_RING_ORDERS,
    RING,
    STRENGTH,
    VALUE_INDEX,
    project,
)
from acctgraph.run.config import Config
from acctgraph.simulate import simulate

ACCTGRAPH = Path(sys.executable).parent / "acctgraph"
TABLES = [
    f"{name}.{ext}"
    for name in ("members", "clusters", "evidence", "contributions")
    for ext in ("csv", "parquet")
]


def _acctgraph(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    return subprocess.run(
        [str(ACCTGRAPH), *map(str, args)], capture_output=True, text=True, timeout=300
    )


# =============================================================================
# Value types
# =============================================================================


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"detect": {"resolution": "high"}}, 'detect.resolution: expected a number, got "high"'),
        ({"detect": {"objective": 1}}, "detect.objective: expected a string, got 1"),
        ({"seed": "7"}, 'seed: expected an integer, got "7"'),
        ({"seed": True}, "seed: expected an integer, got true"),
        ({"graph": {"ring_orders": 2.0}}, "graph.ring_orders: expected an integer, got 2.0"),
        (
            {"graph": {"min_edge_weight": True}},
            "graph.min_edge_weight: expected a number, got true",
        ),
        ({"graph": {"alpha": math.nan}}, "graph.alpha: expected a finite number, got NaN"),
        (
            {"features": {"ip": {"enabled": 1}}},
            "features.ip.enabled: expected true or false, got 1",
        ),
        (
            {"features": {"payment": {"alpha": "x"}}},
            'features.payment.alpha: expected a number, got "x"',
        ),
        (
            {"features": {"prompt_template": {"max_chars": 1.5}}},
            "features.prompt_template.max_chars: expected an integer, got 1.5",
        ),
        (
            {"score": {"weights": {"volume": "x"}}},
            'score.weights.volume: expected a number, got "x"',
        ),
        ({"score": {"weights": 3}}, "score.weights: expected a table of numbers, got 3"),
        ({"attach": {"enabled": "yes"}}, 'attach.enabled: expected true or false, got "yes"'),
        ({"attributes": "team"}, 'attributes: expected an array of strings, got "team"'),
        ({"attributes": [1]}, "attributes[0]: expected a string, got 1"),
        ({"map": {"account_id": 3}}, "map.account_id: expected a string, got 3"),
        ({"graph": 3}, "graph: expected a table of options, got 3"),
        ({"features": {"ip": True}}, "features.ip: expected a table of options, got true"),
    ],
)
def test_a_wrong_type_is_refused_with_its_full_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_dict(data)
    assert str(caught.value) == message


def test_an_integer_is_a_number_and_stays_a_float() -> None:
    cfg = Config.from_dict({"detect": {"resolution": 2}, "features": {"ip_range": {"weight": 1}}})
    assert cfg.detect.resolution == 2.0 and isinstance(cfg.detect.resolution, float)
    assert isinstance(cfg.feature("ip_range").weight, float)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sed": 1}, "unknown configuration keys ['sed']"),
        ({"graph": {"ring_order": 2}}, "graph: unknown options ['ring_order']"),
        ({"features": {"nope": {}}}, "features.nope: unknown attribute kind"),
        (
            {"features": {"ip_range": {"prefix": 24}}},
            "features.ip_range: unknown options ['prefix']",
        ),
        ({"score": {"weights": {"volum": 0.1}}}, "score.weights: unknown keys ['volum']"),
        (
            {"attributes": ["team"], "features": {"column:team": {"name": "x"}}},
            "features.column:team: unknown options ['name']",
        ),
    ],
)
def test_an_unknown_key_is_refused_at_every_level(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_dict(data)
    assert str(caught.value).startswith(message + ";")


def test_the_cli_exits_2_naming_the_file_and_the_key(tmp_path: Path) -> None:
    config = tmp_path / "acctgraph.toml"
    config.write_text('[detect]\nresolution = "high"\n')
    done = _acctgraph("run", tmp_path, "--out", tmp_path / "out", "--config", config, "--quiet")
    assert done.returncode == 2
    assert (
        done.stderr.strip() == f'error: {config}: detect.resolution: expected a number, got "high"'
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


# =============================================================================
# Ceilings and ranges
# =============================================================================


def test_ring_orders_above_the_ceiling_are_refused_naming_it() -> None:
    assert GraphParams(ring_orders=MAX_RING_ORDERS).ring_orders == MAX_RING_ORDERS
    with pytest.raises(
        ConfigError, match=f"graph.ring_orders must be between 1 and {MAX_RING_ORDERS}"
    ):
        GraphParams(ring_orders=MAX_RING_ORDERS + 1)
    with pytest.raises(ConfigError, match="graph.ring_orders"):
        Config.from_dict({"graph": {"ring_orders": MAX_RING_ORDERS + 1}})


def test_the_ring_order_ceiling_is_real() -> None:
    """One order more than the ceiling links no further pair: it would only cost time."""
    rng = np.random.default_rng(3)
    rows = []
    for value in range(40):
        size = int(rng.integers(12, 60))
        for account in rng.choice(400, size, replace=False):
            rows.append((int(account), value, float(rng.random()), 0, RING))
    holders = pl.DataFrame(
        rows,
        schema={
            ACCOUNT_INDEX: pl.UInt32,
            VALUE_INDEX: pl.UInt32,
            STRENGTH: pl.Float64,
            KIND_CODE: pl.UInt8,
            HUB_ACTION: pl.String,
        },
        orient="row",
    )

    def edges(orders: int) -> pl.DataFrame:
        return project(
            holders,
            n_accounts=400,
            kind_weights=[1.0],
            infrastructure=[False],
            min_edge_weight=0.0,
            corroboration_base=0.25,
            corroboration_factor=2.0,
            ring_neighbours=2,
            ring_orders=orders,
            workers=1,
        )

    below = edges(MAX_RING_ORDERS - 1)
    at = edges(MAX_RING_ORDERS)
    assert at.height > below.height  # each order up to the ceiling adds pairs
    assert edges(MAX_RING_ORDERS + 1).equals(at)


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: GraphParams(corroboration_base=-0.1), "graph.corroboration_base"),
        (lambda: GraphParams(corroboration_factor=-1.0), "graph.corroboration_factor"),
        (lambda: GraphParams(ring_orders=0), "graph.ring_orders"),
        (lambda: DetectParams(beta=0.0), "detect.beta"),
        (lambda: DetectParams(n_iterations=0), "detect.n_iterations"),
        (lambda: DetectParams(min_member_strength=-0.1), "detect.min_member_strength"),
        (lambda: DetectParams(min_member_strength=1.5), "detect.min_member_strength"),
    ],
)
def test_values_out_of_range_are_refused(make, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        make()


# =============================================================================
# TOML out and back
# =============================================================================


def _round_trip(cfg: Config) -> Config:
    return Config.from_dict(tomllib.loads(cfg.to_toml()))


def test_the_default_config_round_trips_through_toml() -> None:
    cfg = Config()
    assert any(f.alpha is None for f in cfg.features)  # omitted in TOML, default on the way back
    assert "None" not in cfg.to_toml() and "null" not in cfg.to_toml()
    assert _round_trip(cfg) == cfg


def test_a_config_with_overrides_round_trips_through_toml() -> None:
    cfg = Config.from_dict(
        {
            "seed": 7,
            "attributes": ["team id", "org"],
            "map": {"account_id": "user id", "exchanges.prompt": "text"},
            "features": {
                "ip_range": {"weight": 0.3, "alpha": 1.0},
                "co_activity": {"enabled": False},
            },
            "graph": {"ring_orders": 4, "min_edge_weight": 0.1},
            "detect": {"objective": "CPM", "resolution": 0.005},
            "score": {"weights": {"volume": 0.2}},
        }
    ).with_overrides(seed=11, attributes=["extra"])
    back = _round_trip(cfg)
    assert back == cfg
    assert back.feature("column:team id").weight == cfg.feature("column:team id").weight


def test_an_unset_alpha_that_toml_cannot_omit_is_written_as_the_graph_alpha() -> None:
    features = tuple(
        dataclasses.replace(f, alpha=None) if isinstance(f, Payment) else f
        for f in Config().features
    )
    cfg = Config(features=features, graph=GraphParams(alpha=0.7))
    back = _round_trip(cfg)
    assert back.feature("payment").alpha == 0.7  # what the graph builder used for None
    assert back.alphas == {**cfg.alphas, "payment": 0.7}


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    resolution=finite.filter(lambda x: x > 0),
    min_edge_weight=finite.filter(lambda x: x >= 0),
    weight=st.floats(0.0, 100.0),
    volume=finite,
    batch=st.integers(1, 2**62),
    # any column name a declaration can hold: no ":" (it separates the comparison) and no
    # table prefix
    column=st.text(min_size=1, max_size=12).filter(
        lambda c: ":" not in c and c.strip() and not c.startswith(("accounts.", "exchanges."))
    ),
)
def test_round_trip_holds_for_any_numbers(
    seed: int,
    resolution: float,
    min_edge_weight: float,
    weight: float,
    volume: float,
    batch: int,
    column: str,
) -> None:
    cfg = Config.from_dict(
        {
            "seed": seed,
            "attributes": [column],
            "map": {"account_id": column},
            "features": {"ip_range": {"weight": weight}},
            "graph": {"min_edge_weight": min_edge_weight},
            "detect": {"resolution": resolution},
            "attach": {"batch": batch},
            "score": {"weights": {"volume": volume}},
        }
    )
    assert _round_trip(cfg) == cfg


def test_from_run_reads_the_parameters_back(tmp_path: Path) -> None:
    cfg = Config.from_dict({"seed": 3, "detect": {"resolution": 0.5}})
    (tmp_path / "run.json").write_text(json.dumps({"parameters": cfg.to_dict()}), encoding="utf-8")
    assert Config.from_run(tmp_path) == cfg
    with pytest.raises(ConfigError, match="run.json"):
        Config.from_run(tmp_path / "nowhere")


def test_a_run_writes_a_config_that_reproduces_it(tmp_path: Path) -> None:
    world = tmp_path / "world"
    simulate("tiny", seed=5, out=world)
    first, second = tmp_path / "first", tmp_path / "second"
    done = _acctgraph("run", world, "--out", first, "--seed", "9", "--quiet")
    assert done.returncode == 0, done.stderr
    assert Config.from_toml(first / "config.toml").seed == 9
    done = _acctgraph("run", world, "--out", second, "--config", first / "config.toml", "--quiet")
    assert done.returncode == 0, done.stderr
    for name in TABLES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "config.toml").read_bytes() == (second / "config.toml").read_bytes()
