"""The command line: help texts, run/evaluate/simulate end to end, exit status and messages on bad input."""

from __future__ import annotations

import ast
import hashlib
import json
import re
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
TESTS = Path(__file__).resolve().parent
README = TESTS.parent / "README.md"


def _commands_run_by_tests() -> set[str]:
    """Command names that some test runs: the first argument of every ``_acctgraph(...)`` call and
    the first element of every ``CliRunner().invoke(cli, [...])`` list, read from tests/*.py."""
    names = set()
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            first: ast.expr | None = None
            if isinstance(node.func, ast.Name) and node.func.id == "_acctgraph" and node.args:
                first = node.args[0]
            elif (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "invoke"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.List)
                and node.args[1].elts
            ):
                first = node.args[1].elts[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _commands_in_readme() -> set[str]:
    """Commands shown in the README's "Command line" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^acctgraph ([a-z_]+)", section, flags=re.M))


def test_the_group_has_the_commands_the_docs_promise() -> None:
    assert {"run", "evaluate", "simulate", "explain", "expand", "report", "viz"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name: str) -> None:
    help_text = cli.commands[name].help or ""
    summary = help_text.strip().splitlines()[0] if help_text.strip() else ""
    assert len(summary) > 20, f"{name}: no one-line summary in its help"
    assert "Example" in help_text, f"{name}: no example in its help"
    assert re.search(rf"^\s+acctgraph {name}\b", help_text, flags=re.M), (
        f"{name}: its example does not run `acctgraph {name}`"
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_run_by_a_test_and_documented_in_the_readme(name: str) -> None:
    assert name in _commands_run_by_tests(), f"no test in {TESTS} runs `acctgraph {name}`"
    assert name in _commands_in_readme(), f"README.md's Command line section does not show {name}"


def test_the_readme_shows_no_command_that_does_not_exist() -> None:
    assert _commands_in_readme() <= set(COMMANDS)


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
    # each stage's own peak is sampled; the process peak so far never falls
    assert all(0 < t["stage_peak_rss_mb"] <= t["peak_rss_mb"] * 1.05 for t in record["timing"])
    peaks = [t["peak_rss_mb"] for t in record["timing"]]
    assert peaks == sorted(peaks)


def test_run_progress_names_the_reductions_and_quiet_silences_it(
    world_dir: Path, tmp_path: Path
) -> None:
    done = _acctgraph("run", world_dir, "--out", tmp_path / "loud")
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stderr.splitlines()]
    expected = [
        "load…",
        "usage…",
        "usage: addresses and co-activity windows…",
        "usage: activity by hour and day…",
        "graph…",
        "write…",
    ]
    found = [next(i for i, line in enumerate(lines) if line.endswith(e)) for e in expected]
    assert found == sorted(found)
    quiet = _acctgraph("run", world_dir, "--out", tmp_path / "quiet", "--quiet")
    assert quiet.returncode == 0 and "usage" not in quiet.stderr


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


def _independent_figures(members_path: Path, labels_path: Path) -> dict[str, float | int]:
    """Account-level and B-cubed figures computed here with polars, from the definitions in
    acctgraph.evaluation.metrics (labelled accounts; blank operator = legitimate; an unflagged
    account, or a flagged one without a cluster, is alone)."""
    members = pl.read_parquet(members_path).select(S.ACCOUNT_ID, S.CLUSTER_ID, S.FLAGGED)
    labels = pl.read_csv(labels_path, infer_schema=False).select(S.ACCOUNT_ID, S.OPERATOR_ID)
    table = (
        labels.join(members, on=S.ACCOUNT_ID, how="left")
        .with_columns(
            pl.col(S.FLAGGED).fill_null(False),
            (pl.col(S.OPERATOR_ID).str.strip_chars().fill_null("") != "").alias("fraud"),
        )
        .with_columns(
            pl.when(pl.col(S.FLAGGED) & pl.col(S.CLUSTER_ID).is_not_null())
            .then(pl.lit("cluster ") + pl.col(S.CLUSTER_ID).cast(pl.String))
            .otherwise(pl.lit("account ") + pl.col(S.ACCOUNT_ID))
            .alias("predicted"),
            pl.when(pl.col("fraud"))
            .then(pl.lit("operator ") + pl.col(S.OPERATOR_ID))
            .otherwise(pl.lit("account ") + pl.col(S.ACCOUNT_ID))
            .alias("truth"),
        )
    )
    fraud, flagged = pl.col("fraud"), pl.col(S.FLAGGED)
    counts = table.select(
        (fraud & flagged).sum().alias("true_positives"),
        (~fraud & flagged).sum().alias("false_positives"),
        (fraud & ~flagged).sum().alias("false_negatives"),
        (~fraud & ~flagged).sum().alias("true_negatives"),
    ).row(0, named=True)
    tp, fp, fn = counts["true_positives"], counts["false_positives"], counts["false_negatives"]
    assert tp + fp > 0 and tp + fn > 0, "the tiny world should flag some fraud"
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    bcubed = (
        table.filter(fraud | flagged)
        .select(
            (pl.len().over("predicted", "truth") / pl.len().over("predicted"))
            .mean()
            .alias("bcubed_precision"),
            (pl.len().over("predicted", "truth") / pl.len().over("truth"))
            .mean()
            .alias("bcubed_recall"),
            pl.len().alias("evaluation_set_size"),
        )
        .row(0, named=True)
    )
    return {
        **counts,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        **bcubed,
        "labelled_accounts": table.height,
    }


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
    figures = json.loads(report.read_text())
    assert set(figures) == {
        "population",
        "accounts",
        "clustering",
        "operators",
        "hardest_operator",
        "flagged_legitimate_by_kind",
        "flagged_legitimate_organisation",
        "data_quality",
    }
    assert set(figures["accounts"]) == {
        "true_positives",
        "false_positives",
        "false_negatives",
        "true_negatives",
        "precision",
        "recall",
        "f1",
    }
    expected = _independent_figures(run_dir / f"{S.MEMBERS}.parquet", world_dir / "labels.csv")
    accounts = figures["accounts"]
    for key in ("true_positives", "false_positives", "false_negatives", "true_negatives"):
        assert accounts[key] == expected[key], key
    for key in ("precision", "recall", "f1"):
        assert accounts[key] == pytest.approx(expected[key], abs=1e-6), key
    clustering = figures["clustering"]
    assert clustering["evaluation_set_size"] == expected["evaluation_set_size"]
    for key in ("bcubed_precision", "bcubed_recall"):
        assert clustering[key] == pytest.approx(expected[key], abs=1e-6), key
    assert figures["population"]["labelled_accounts"] == expected["labelled_accounts"]
    assert f"precision {expected['precision']:.4f}  recall {expected['recall']:.4f}" in (
        result.stdout
    )


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
    expected = _independent_figures(run_dir / f"{S.MEMBERS}.parquet", world_dir / "labels.csv")
    assert figures["accounts"]["true_positives"] == expected["true_positives"]
    assert figures["accounts"]["precision"] == pytest.approx(expected["precision"], abs=1e-6)
    assert figures["accounts"]["recall"] == pytest.approx(expected["recall"], abs=1e-6)


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


def test_the_top_defaults_of_the_command_line_are_the_librarys() -> None:
    from acctgraph.investigate.expand import DEFAULT_CANDIDATES
    from acctgraph.investigate.explain import DEFAULT_ROWS_PER_SECTION
    from acctgraph.viz import DEFAULT_CLUSTER_PAGES

    def default(command: str) -> object:
        return next(p.default for p in cli.commands[command].params if p.name == "top")

    assert default("explain") == DEFAULT_ROWS_PER_SECTION
    assert default("viz") == DEFAULT_CLUSTER_PAGES
    assert default("expand") == DEFAULT_CANDIDATES
