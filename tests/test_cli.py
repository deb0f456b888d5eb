"""The command line: help texts, run/evaluate/simulate end to end, exit status and messages on bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from acctgraph.cli import cli
from acctgraph.core import schema as S
from acctgraph.simulate import simulate

ACCTGRAPH = Path(sys.executable).parent / "acctgraph"
SEED = 5


def _acctgraph(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    return subprocess.run(
        [str(ACCTGRAPH), *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    simulate("tiny", seed=SEED, out=out)
    return out


@pytest.fixture(scope="module")
def run_dir(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    result = CliRunner().invoke(cli, ["run", str(world_dir), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, (result.output, result.exception)
    return out


# =============================================================================
# Help
# =============================================================================

COMMANDS = sorted(cli.commands)


def test_every_command_is_covered() -> None:
    assert set(COMMANDS) >= {"run", "evaluate", "simulate"}


@pytest.mark.parametrize("args", [[]] + [[name] for name in COMMANDS])
def test_help_has_examples(args: list[str]) -> None:
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(cli, [*args, flag])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output
        assert "Usage:" in result.output


def test_help_and_version_through_the_console_script() -> None:
    for args in ([], *([name] for name in COMMANDS)):
        done = _acctgraph(*args, "--help")
        assert done.returncode == 0, done.stderr
        assert "Example" in done.stdout
    version = _acctgraph("--version")
    assert version.returncode == 0 and "acctgraph" in version.stdout


# =============================================================================
# run
# =============================================================================


def test_run_writes_every_output(run_dir: Path) -> None:
    for table in (S.MEMBERS, S.CLUSTERS, S.EVIDENCE):
        for suffix in (".parquet", ".csv"):
            assert (run_dir / f"{table}{suffix}").stat().st_size > 0, f"{table}{suffix}"
    members = pl.read_parquet(run_dir / f"{S.MEMBERS}.parquet")
    assert dict(members.schema) == S.MEMBERS_SCHEMA
    assert pl.read_csv(run_dir / f"{S.MEMBERS}.csv").height == members.height


def test_run_json_records_provenance(run_dir: Path, world_dir: Path) -> None:
    record = json.loads((run_dir / "run.json").read_text())
    for key in ("versions", "parameters", "seed", "inputs", "rows", "warnings", "timing"):
        assert key in record, key
    assert record["seed"] == 42
    assert record["parameters"]["seed"] == 42
    for library in ("acctgraph", "python", "polars", "igraph"):
        assert record["versions"][library]
    tables = {entry["table"]: entry for entry in record["inputs"]}
    assert set(tables) == {S.ACCOUNTS, S.EXCHANGES}
    for entry in tables.values():
        path = Path(entry["path"])
        assert path.parent == world_dir
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["rows"] > 0
    members = pl.read_parquet(run_dir / f"{S.MEMBERS}.parquet")
    assert record["rows"]["members_out"] == members.height
    assert record["rows"]["flagged_accounts"] == int(members[S.FLAGGED].sum())
    assert {w["code"] for w in record["warnings"]} >= {"ip_malformed", "ip_not_global"}
    stages = [t["stage"] for t in record["timing"]]
    assert stages[0] == "load" and stages[-1] == "report"
    assert {"usage", "graph", "detect", "score", "write", "cards", "graph_pages"} <= set(stages)
    assert all(t["seconds"] >= 0 for t in record["timing"])


def test_run_seed_option_is_recorded(world_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _acctgraph("run", world_dir, "--out", out, "--seed", "7", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Top clusters" in done.stdout
    record = json.loads((out / "run.json").read_text())
    assert record["seed"] == 7


# =============================================================================
# Bad inputs: exit status 2, a message naming the file, no traceback
# =============================================================================

GOOD_EXCHANGES = "account_id,timestamp,ip\na1,2026-05-01T10:00:00Z,81.2.69.1\n"


def _assert_clean_error(done: subprocess.CompletedProcess[str], *names: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "Traceback" not in done.stdout
    for name in names:
        assert name in done.stderr, (name, done.stderr)


def test_missing_required_column(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (world / "accounts.csv").write_text("user_id,email\nu1,a@example.com\n")
    (world / "exchanges.csv").write_text(GOOD_EXCHANGES)
    done = _acctgraph("run", world, "--out", tmp_path / "out", "--quiet")
    _assert_clean_error(done, str(world / "accounts.csv"), "account_id")


def test_directory_without_accounts_table(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (world / "exchanges.csv").write_text(GOOD_EXCHANGES)
    (world / "accounts.txt").write_text("account_id\na1\n")
    done = _acctgraph("run", world, "--out", tmp_path / "out", "--quiet")
    _assert_clean_error(done, str(world), "accounts")


def test_garbage_parquet(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (world / "accounts.parquet").write_bytes(b"PAR1 this is not a parquet file at all PAR1")
    (world / "exchanges.csv").write_text(GOOD_EXCHANGES)
    done = _acctgraph("run", world, "--out", tmp_path / "out", "--quiet")
    _assert_clean_error(done, str(world / "accounts.parquet"))


def test_garbage_parquet_given_as_file(tmp_path: Path) -> None:
    accounts = tmp_path / "users.parquet"
    accounts.write_bytes(b"\x00\x01garbage")
    exchanges = tmp_path / "log.csv"
    exchanges.write_text(GOOD_EXCHANGES)
    done = _acctgraph(
        "run", "--accounts", accounts, "--exchanges", exchanges, "--out", tmp_path / "out"
    )
    _assert_clean_error(done, str(accounts))


@pytest.mark.parametrize("bad_map", ["account_id", "=user_id", "account_id=", "account_id= "])
def test_bad_map_syntax(world_dir: Path, tmp_path: Path, bad_map: str) -> None:
    done = _acctgraph("run", world_dir, "--out", tmp_path / "out", "--map", bad_map, "--quiet")
    _assert_clean_error(done, "--map")


def test_map_to_unknown_contract_name(world_dir: Path, tmp_path: Path) -> None:
    done = _acctgraph(
        "run", world_dir, "--out", tmp_path / "out", "--map", "no_such=user_id", "--quiet"
    )
    _assert_clean_error(done, "no_such")


def test_map_to_missing_column(world_dir: Path, tmp_path: Path) -> None:
    done = _acctgraph(
        "run", world_dir, "--out", tmp_path / "out", "--map", "account_id=user_id", "--quiet"
    )
    _assert_clean_error(done, "user_id")


def test_config_with_unknown_key(world_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "acctgraph.toml"
    config.write_text("seed = 3\nbogus_key = 1\n")
    done = _acctgraph("run", world_dir, "--out", tmp_path / "out", "--config", config, "--quiet")
    _assert_clean_error(done, str(config), "bogus_key")


def test_config_not_toml(world_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "acctgraph.toml"
    config.write_text("seed = = 3\n")
    done = _acctgraph("run", world_dir, "--out", tmp_path / "out", "--config", config, "--quiet")
    _assert_clean_error(done, str(config))


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    no_input = _acctgraph("run", "--out", tmp_path / "out")
    _assert_clean_error(no_input, "INPUT_DIR")
    missing = _acctgraph("run", tmp_path / "nowhere", "--out", tmp_path / "out")
    _assert_clean_error(missing, "nowhere")


# =============================================================================
# evaluate
# =============================================================================


def test_evaluate_prints_and_writes_json(run_dir: Path, world_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "evaluation.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--members",
            str(run_dir / f"{S.MEMBERS}.parquet"),
            "--labels",
            str(world_dir / "labels.csv"),
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert "precision" in result.stdout
    figures = json.loads(report.read_text())
    assert 0.0 <= figures["accounts"]["precision"] <= 1.0
    assert 0.0 <= figures["accounts"]["recall"] <= 1.0


def test_evaluate_csv_members_and_json_to_stdout(run_dir: Path, world_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--members",
            str(run_dir / f"{S.MEMBERS}.csv"),
            "--labels",
            str(world_dir / "labels.csv"),
            "--json",
            "-",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    figures = json.loads(result.stdout)
    assert "precision" in figures["accounts"]


def test_evaluate_bad_labels_exit_2(run_dir: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("user,op\nx,y\n")
    done = _acctgraph("evaluate", "--members", run_dir / f"{S.MEMBERS}.parquet", "--labels", labels)
    _assert_clean_error(done, str(labels))


# =============================================================================
# simulate
# =============================================================================


def test_simulate_same_seed_same_bytes(tmp_path: Path) -> None:
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        result = CliRunner().invoke(
            cli, ["simulate", "--preset", "tiny", "--seed", "3", "--out", str(out)]
        )
        assert result.exit_code == 0, (result.output, result.exception)
        assert "accounts" in result.stdout
    names = sorted(p.name for p in outs[0].iterdir())
    assert {"exchanges.parquet", "labels.csv"} <= set(names)
    assert names == sorted(p.name for p in outs[1].iterdir())
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
