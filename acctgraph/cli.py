"""The ``acctgraph`` command line: each command parses arguments and makes one library call."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from acctgraph import __version__
from acctgraph.errors import AcctGraphError, ConfigError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _parse_map(values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in values:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ConfigError(f"--map expects CONTRACT_NAME=COLUMN, got {item!r}")
        mapping[name.strip()] = column.strip()
    return mapping


def _stderr_progress(quiet: bool):
    if quiet:
        return None
    from rich.console import Console

    console = Console(stderr=True)
    started = time.perf_counter()

    def report(stage: str) -> None:
        console.print(f"[dim]{time.perf_counter() - started:7.1f}s[/dim] {stage}…", highlight=False)

    return report


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="acctgraph")
def cli() -> None:
    """acctgraph: find the operations behind fake accounts.

    Reads account and exchange tables, links accounts through what they share
    (payment, devices, IPs, email shapes, prompt templates, bursts), finds
    operator clusters and writes evidence an investigator can cite.

    \b
    Examples:
      acctgraph run data/sample --out out/sample
      acctgraph evaluate --members out/sample/members.parquet --labels data/sample/labels.csv
      acctgraph simulate --preset tiny --seed 1 --out world/
    """


@cli.command(context_settings=CONTEXT)
@click.option("--preset", type=click.Choice(["tiny", "sample", "bench"]), default="tiny", show_default=True,
              help="World size: tiny ≈2k accounts, sample ≈20k, bench ≈200k accounts / 5M exchanges.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write accounts, exchanges, labels and a README into.")
@click.option("--format", "accounts_format", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="Format of the accounts table (exchanges are always Parquet).")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def simulate(preset: str, seed: int, out: Path, accounts_format: str, quiet: bool) -> None:
    """Write a simulated world with planted operators and ground-truth labels.

    \b
    Example:
      acctgraph simulate --preset sample --seed 7 --out world/
    """
    from acctgraph.simulate import simulate as run_simulation

    summary = run_simulation(preset, seed=seed, out=out, accounts_format=accounts_format)
    click.echo(
        f"wrote {out}: {summary.n_accounts:,} accounts ({summary.n_fraud_accounts:,} fraudulent, "
        f"{len(summary.operators)} operators), {summary.n_exchanges:,} exchanges"
    )


@cli.command(context_settings=CONTEXT)
@click.option("--members", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="members table of a run (account_id, cluster_id, flagged).")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="ground truth (account_id, operator_id, kind).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the figures as JSON to this file ('-' for stdout only).")
def evaluate(members: Path, labels: Path, json_path: Path | None) -> None:
    """Score a clustering against ground truth: precision, recall, B-cubed, ARI/NMI, per operator.

    \b
    Example:
      acctgraph evaluate --members out/sample/members.parquet --labels data/sample/labels.csv
    """
    from acctgraph.evaluate import evaluate as run_evaluation
    from acctgraph.load import load_labels, load_members

    result = run_evaluation(load_members(members), load_labels(labels))
    if json_path is not None and str(json_path) == "-":
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(result.to_text())
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")


@cli.command(context_settings=CONTEXT)
@click.argument("input_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--accounts", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Accounts file (instead of INPUT_DIR).")
@click.option("--exchanges", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Exchanges file (instead of INPUT_DIR).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output directory.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="acctgraph.toml with parameters (layout in the README and acctgraph/config.py).")
@click.option("--map", "maps", multiple=True, metavar="NAME=COLUMN",
              help="Map a contract column to your column name, e.g. --map account_id=user_id (repeatable).")
@click.option("--attribute", "attributes", multiple=True, metavar="COLUMN",
              help="Use an extra accounts column as a further linking kind (repeatable).")
@click.option("--seed", type=int, default=None, help="Seed of community detection (default 42 or config).")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def run(input_dir: Path | None, accounts: Path | None, exchanges: Path | None, out: Path,
        config_path: Path | None, maps: tuple[str, ...], attributes: tuple[str, ...],
        seed: int | None, quiet: bool) -> None:
    """Find and score operator clusters; write members, clusters, evidence and run.json.

    \b
    Examples:
      acctgraph run data/sample --out out/sample
      acctgraph run --accounts users.csv --exchanges logs.parquet --map account_id=user_id --out out/case42
    """
    from acctgraph.config import Config
    from acctgraph.pipeline import run_and_write

    if input_dir is None and (accounts is None or exchanges is None):
        raise click.UsageError("give INPUT_DIR, or both --accounts and --exchanges")
    config = Config.from_toml(config_path) if config_path else Config()
    config = config.with_overrides(seed=seed, mapping=_parse_map(maps), attributes=list(attributes))
    result = run_and_write(input_dir, accounts=accounts, exchanges=exchanges, out=out, config=config,
                           progress=_stderr_progress(quiet))
    _print_top(result, out)


def _print_top(result, out: Path, limit: int = 10) -> None:
    from rich.console import Console
    from rich.table import Table

    from acctgraph import schema as S

    clusters = result.scored.clusters
    table = Table(title=f"Top clusters ({int(clusters[S.FLAGGED].sum())} flagged of {clusters.height})")
    for name in ("id", "accounts", "score", "flagged", "exchanges", "evidence"):
        table.add_column(name, overflow="fold")
    for row in clusters.head(limit).iter_rows(named=True):
        table.add_row(str(row[S.CLUSTER_ID]), str(row["size"]), f"{row[S.CLUSTER_SCORE]:.2f}",
                      "yes" if row[S.FLAGGED] else "", f"{row['exchanges'] or 0:,}", row["summary"])
    console = Console(width=160)
    console.print(table)
    console.print(f"outputs in {out}/: members, clusters, evidence (.parquet/.csv), run.json", highlight=False)
    warnings = result.dataset.warnings
    if len(warnings):
        console.print(f"{len(warnings)} kinds of input warnings, counted in run.json:", highlight=False)
        for w in warnings:
            console.print(f"  {w.code}: {w.count:,}", highlight=False)


def main() -> None:
    """Console entry point: run the CLI, turning acctgraph errors into exit status 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AcctGraphError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
