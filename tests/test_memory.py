"""The memory budget: reading sizes, the plan, refusals up front, and outputs that do not depend on it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from acctgraph.cli import cli
from acctgraph.core.errors import ConfigError
from acctgraph.core.memory import GB, MB, parse_size, plan_memory, resolve_budget
from acctgraph.load import load_dataset
from acctgraph.run.config import Config
from acctgraph.run.pipeline import memory_plan, run_pipeline
from acctgraph.run.write import write_outputs

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SCALES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(SCALES)), st.booleans())
def test_sizes_read_with_any_unit(number: int, unit: str, byte_suffix: bool) -> None:
    text = f"{number}{unit}{'B' if byte_suffix else ''}"
    assert parse_size(text) == number * SCALES[unit]
    assert parse_size(text.lower()) == number * SCALES[unit]


@pytest.mark.parametrize("text", ["", "GB", "-1GB", "8 gigabytes", "1e9", "8GBB", "0x10"])
def test_what_is_not_a_size_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="memory budget"):
        parse_size(text)


def test_a_budget_below_the_floor_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least"):
        resolve_budget("10MB")


def test_the_default_budget_is_a_share_of_the_machine() -> None:
    budget, source = resolve_budget(None)
    assert budget >= 256 * MB and source.startswith("default")


def test_more_attribute_rows_per_exchange_split_the_graph_more() -> None:
    sizes = dict(n_accounts=1_000_000, n_exchanges=40_000_000, source="test", machine=(None, None))
    before = plan_memory(8 * GB, **sizes)
    usual = plan_memory(8 * GB, n_attribute_rows=36_000_000, **sizes)  # 0.9 a row: the model's
    chatty = plan_memory(8 * GB, n_attribute_rows=54_000_000, **sizes)
    assert usual == before
    assert chatty.estimate_bytes > before.estimate_bytes
    assert chatty.graph_partitions > before.graph_partitions
    assert chatty.usage_partitions >= before.usage_partitions


def test_a_smaller_budget_splits_the_work_more() -> None:
    sizes = dict(n_accounts=2_000_000, n_exchanges=80_000_000, source="test", machine=(None, None))
    roomy, tight = plan_memory(32 * GB, **sizes), plan_memory(8 * GB, **sizes)
    assert roomy.fits() and roomy.usage_partitions == 1
    assert tight.usage_partitions > roomy.usage_partitions
    assert tight.pair_budget < roomy.pair_budget
    assert tight.estimate_bytes < roomy.estimate_bytes
    assert not tight.fits()  # the graph builder's per-row tables are not partitioned yet
    assert not plan_memory(1 * GB, **sizes).fits()


def test_config_reads_and_writes_the_budget(tmp_path: Path) -> None:
    config = Config.from_dict({"memory_budget": "6GiB"})
    assert config.memory_budget == "6GiB"
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="memory_budget"):
        Config.from_dict({"memory_budget": 8})
    with pytest.raises(ConfigError, match="memory budget 'lots'"):
        Config.from_dict({"memory_budget": "lots"})


def test_cli_refuses_a_budget_the_input_cannot_meet_before_reading_exchanges(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    done = _acctgraph("run", SAMPLE, "--out", out, "--memory-budget", "300MB")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "memory budget 300MB" in done.stderr and "raise --memory-budget" in done.stderr
    assert "20,000 accounts" in done.stderr and "301,408 exchanges" in done.stderr
    assert "usage" not in done.stderr  # refused before the pass over the exchanges
    assert not (out / "members.parquet").exists()
    done = _acctgraph("run", SAMPLE, "--out", out, "--memory-budget", "lots", "--quiet")
    assert done.returncode == 2 and "memory budget 'lots'" in done.stderr, done.stderr


def _acctgraph(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "acctgraph"
    return subprocess.run(
        [str(command), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_the_plan_is_recorded_in_run_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(SAMPLE), "--out", str(out), "--memory-budget", "2GB", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    assert record["memory"]["budget_bytes"] == 2 * GB
    assert record["memory"]["source"] == "set: 2GB"
    assert record["memory"]["estimate_bytes"] <= 2 * GB
    assert record["parameters"]["memory_budget"] == "2GB"


def test_outputs_do_not_depend_on_how_the_work_is_split(tmp_path: Path) -> None:
    """Five account partitions over the exchanges, seven in the graph builder and a
    projection of 1,000 pairs at a time give the same bytes as one pass."""
    dataset = load_dataset(SAMPLE)
    whole = memory_plan(dataset, Config())
    assert whole.usage_partitions == 1
    split = dataclasses.replace(whole, usage_partitions=5, graph_partitions=7, pair_budget=1000)
    outputs = []
    for plan, name in ((whole, "whole"), (split, "split")):
        write_outputs(
            run_pipeline(load_dataset(SAMPLE), config=Config(), plan=plan), tmp_path / name
        )
        outputs.append(tmp_path / name)
    first, second = outputs
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    for name in names:
        if name in ("run.json", "report.html", "report.md"):
            continue
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    one, two = (json.loads((folder / "run.json").read_text()) for folder in outputs)
    assert one["memory"]["usage_partitions"] == 1 and two["memory"]["usage_partitions"] == 5
    for record in (one, two):
        record.pop("timing"), record.pop("memory")
    assert one == two  # warnings (IP counts summed over the parts) included


def test_duplicate_rows_are_counted_the_same_in_account_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The load stage's second pass (exchanges per account, rows repeated exactly) gives the
    same counts and examples when it runs in account partitions."""
    import acctgraph.core.memory as memory
    import acctgraph.load.dataset as dataset_module

    seen: list[int] = []
    read = dataset_module.read_exchanges

    def spy(*args: Any, rows_per_part: int) -> Any:
        seen.append(rows_per_part)
        return read(*args, rows_per_part=rows_per_part)

    monkeypatch.setattr(dataset_module, "read_exchanges", spy)
    whole = load_dataset(SAMPLE)  # the default budget: one partition
    monkeypatch.setattr(memory, "MIN_LOAD_ROWS", 50_000)
    split = load_dataset(SAMPLE, memory_budget="256MB")  # 301,408 rows: 7 partitions
    assert seen[0] > whole.inputs[1].rows and seen[1] == 50_000
    assert whole.warnings.count("exchanges_duplicate_rows") > 0
    assert whole.warnings.as_records() == split.warnings.as_records()
    assert whole.accounts.equals(split.accounts)
