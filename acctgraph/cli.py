"""The ``acctgraph`` command line: each command parses arguments and makes one library call.

Commands call the public front (:mod:`acctgraph`, loaded lazily so that ``--help`` stays
fast) and the documented :mod:`acctgraph.simulate`; tests/test_layers.py checks it. The
defaults of the ``--top`` options repeat the library's (tests/test_cli.py checks they agree).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from acctgraph.core.errors import AcctGraphError, ConfigError
from acctgraph.core.version import __version__

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
@click.option(
    "--preset",
    type=click.Choice(["tiny", "sample", "bench", "incident", "incident-chatty", "random"]),
    default="tiny",
    show_default=True,
    help="World size: tiny ≈2k accounts, sample ≈20k, bench ≈200k accounts / 5M exchanges, "
    "incident 1M accounts / 40M exchanges (≈5 min, ≈2 GB); incident-chatty the same accounts "
    "with chattier legitimate users and quieter operators (45M exchanges); random ≈20k accounts "
    "whose operators' tradecraft is drawn from the seed (labels.csv gets a tradecraft column).",
)
@click.option(
    "--scale",
    default="1",
    show_default=True,
    metavar="FACTOR",
    help="Multiply the preset's accounts (and so its exchanges), e.g. 1/8 or 0.5.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write accounts, exchanges, labels and a README into.",
)
@click.option(
    "--format",
    "accounts_format",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="Format of the accounts table (exchanges are always Parquet).",
)
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def simulate(
    preset: str, scale: str, seed: int, out: Path, accounts_format: str, quiet: bool
) -> None:
    """Write a simulated world with planted operators and ground-truth labels.

    \b
    Examples:
      acctgraph simulate --preset sample --seed 7 --out world/
      acctgraph simulate --preset incident --scale 1/8 --seed 1 --out incident_8/
    """
    from acctgraph.simulate import parse_scale
    from acctgraph.simulate import simulate as run_simulation

    started, shown = time.perf_counter(), [-1]

    def report(done: int, planned: int) -> None:  # every tenth of the exchanges, on stderr
        tenth = 10 * done // max(planned, 1)
        if tenth > shown[0]:
            shown[0] = tenth
            click.echo(
                f"{time.perf_counter() - started:7.1f}s {done:,} of {planned:,} exchanges", err=True
            )

    summary = run_simulation(
        preset,
        seed=seed,
        out=out,
        accounts_format=accounts_format,
        scale=parse_scale(scale),
        progress=None if quiet else report,
    )
    click.echo(
        f"wrote {out}: {summary.n_accounts:,} accounts ({summary.n_fraud_accounts:,} fraudulent, "
        f"{len(summary.operators)} operators), {summary.n_exchanges:,} exchanges"
    )


@cli.command(context_settings=CONTEXT)
@click.option(
    "--members",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="members table of a run (account_id, cluster_id, flagged).",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="ground truth (account_id, operator_id, kind).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures as JSON to this file ('-' for stdout only).",
)
@click.option(
    "--clusters",
    type=click.Choice(["flagged", "all"]),
    default="flagged",
    show_default=True,
    help="Score the flagged clusters (an operation detector's claim) or all clusters, "
    "flagged or not (record linkage: labels name every record's entity).",
)
def evaluate(members: Path, labels: Path, json_path: Path | None, clusters: str) -> None:
    """Score a clustering against ground truth: precision, recall, B-cubed, ARI/NMI, per operator.

    \b
    Example:
      acctgraph evaluate --members out/sample/members.parquet --labels data/sample/labels.csv
    """
    from acctgraph import evaluate as run_evaluation
    from acctgraph import load_labels, load_members

    result = run_evaluation(load_members(members), load_labels(labels), clusters=clusters)
    if json_path is not None and str(json_path) == "-":
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(result.to_text())
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")


def _spark(master: str | None) -> Any:
    """A Spark session (``--engine spark``), or a usage error saying what to install."""
    try:
        from acctgraph import spark_session

        return spark_session(master)
    except ImportError as exc:
        raise click.UsageError(str(exc)) from None


@cli.command(context_settings=CONTEXT)
@click.argument(
    "input_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--accounts",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Accounts file (instead of INPUT_DIR).",
)
@click.option(
    "--exchanges",
    type=click.Path(path_type=str),  # text: a URI (s3a://bucket/x) must keep its "//"
    default=None,
    help="Exchanges file (instead of INPUT_DIR); with --engine spark also a directory of "
    "part files or a Hive-style partitioned directory.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="acctgraph.toml with parameters (layout in the README and acctgraph/run/config.py).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="NAME=COLUMN",
    help="Map a contract column to your column name, e.g. --map account_id=user_id (repeatable).",
)
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    metavar="[exchanges.]COLUMN[:COMPARISON[:PARAM]]",
    help="Declare a column as evidence (repeatable). Accounts columns are compared record "
    "against record: exact (default), fuzzy[:0.9] (Jaro-Winkler), number[:TOLERANCE], "
    "date[:DAYS]; e.g. --attribute surname:fuzzy --attribute date_of_birth:date. Exchanges "
    "columns are weighted by use: exchanges.COLUMN (profile, the default), "
    "exchanges.COLUMN:exact, exchanges.COLUMN:coactivity[:10m] (same value, same window).",
)
@click.option(
    "--seed", type=int, default=None, help="Seed of community detection (default 42 or config)."
)
@click.option(
    "--memory-budget",
    default=None,
    metavar="SIZE",
    help="Peak memory to plan for, e.g. 8GB, 6GiB (default: a third of the machine's memory). "
    "The work is split to fit it; the output does not depend on it. A budget the input "
    "cannot meet is refused before the exchanges are read.",
)
@click.option(
    "--previous",
    "previous",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    metavar="RUN",
    help="An earlier run folder: clusters keep its operation ids (op-000123) where they "
    "overlap most, and changes.csv / changed_members.csv and the report say what changed.",
)
@click.option(
    "--decisions",
    "decisions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="CSV",
    help="Investigators' decisions (target, decision, decided_by, decided_at, note): "
    "confirmed, benign, allowlist or under_review per operation id or account id. Read, "
    "never written.",
)
@click.option(
    "--engine",
    type=click.Choice(["polars", "spark"]),
    default="polars",
    show_default=True,
    help="Where the exchanges are loaded and reduced: polars on this machine, or Apache "
    "Spark (pip install 'acctgraph[spark]'; a Java runtime). The outputs are the same.",
)
@click.option(
    "--spark-master",
    default=None,
    metavar="URL",
    help="With --engine spark: the Spark master (local[2], spark://host:7077, yarn, ...); "
    "default: spark-submit's, else local[*].",
)
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def run(
    input_dir: Path | None,
    accounts: Path | None,
    exchanges: str | None,
    out: Path,
    config_path: Path | None,
    maps: tuple[str, ...],
    attributes: tuple[str, ...],
    seed: int | None,
    memory_budget: str | None,
    previous: Path | None,
    decisions: Path | None,
    engine: str,
    spark_master: str | None,
    quiet: bool,
) -> None:
    """Find and score operator clusters; write members, clusters, evidence and run.json.

    \b
    Examples:
      acctgraph run data/sample --out out/sample
      acctgraph run --accounts users.csv --exchanges logs.parquet --map account_id=user_id --out out/case42
      acctgraph run today/ --out out/today --previous out/yesterday --decisions decisions.csv
      acctgraph run case/ --out out/case --engine spark --spark-master local[2]
    """
    from acctgraph import Config, run_and_write

    if input_dir is None and (accounts is None or exchanges is None):
        raise click.UsageError("give INPUT_DIR, or both --accounts and --exchanges")
    config = Config.from_toml(config_path) if config_path else Config()
    config = config.with_overrides(
        seed=seed,
        mapping=_parse_map(maps),
        attributes=list(attributes),
        memory_budget=memory_budget,
    )
    result = run_and_write(
        input_dir,
        accounts=accounts,
        exchanges=exchanges,
        out=out,
        config=config,
        progress=_stderr_progress(quiet),
        previous=previous,
        decisions=decisions,
        spark=_spark(spark_master) if engine == "spark" else None,
    )
    _print_top(result, out)


def _print_top(result, out: Path, limit: int = 10) -> None:
    from rich.console import Console
    from rich.table import Table

    from acctgraph.core import schema as S

    clusters = result.scored.clusters
    table = Table(
        title=f"Top clusters ({int(clusters[S.FLAGGED].sum())} flagged of {clusters.height})"
    )
    for name in ("id", "accounts", "score", "flagged", "exchanges", "evidence"):
        table.add_column(name, overflow="fold")
    ranked = clusters.sort([S.CLUSTER_SCORE, S.CLUSTER_ID], descending=[True, False])
    for row in ranked.head(limit).iter_rows(named=True):
        table.add_row(
            str(row[S.CLUSTER_ID]),
            str(row["size"]),
            f"{row[S.CLUSTER_SCORE]:.2f}",
            "yes" if row[S.FLAGGED] else "",
            f"{row['exchanges'] or 0:,}",
            row["summary"],
        )
    console = Console(width=160)
    console.print(table)
    console.print(
        f"outputs in {out}/: members, clusters, evidence (.parquet/.csv), run.json", highlight=False
    )
    tracked = result.tracked
    if tracked is not None and tracked.changes is not None:
        counts = tracked.changes.group_by("change").len().sort("change").iter_rows()
        console.print(
            "since the previous run (changes.csv): "
            + (", ".join(f"{n:,} {change}" for change, n in counts) or "no flagged operation"),
            highlight=False,
        )
    if tracked is not None and tracked.decisions is not None:
        console.print(
            f"{tracked.decisions.height:,} decisions applied (decisions.csv in {out}/)",
            highlight=False,
        )
    warnings = result.dataset.warnings
    if len(warnings):
        console.print(
            f"{len(warnings)} kinds of input warnings, counted in run.json:", highlight=False
        )
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


@cli.command(context_settings=CONTEXT)
@click.option(
    "--run",
    "run_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A finished run folder (the --out of `acctgraph run`).",
)
@click.option(
    "--cluster",
    "cluster_ids",
    multiple=True,
    metavar="ID",
    help="Draw this cluster (repeatable; op-000003 or 3); default: every flagged cluster, "
    "then the best scores.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Without --cluster: draw flagged clusters, then others by score until this many.",
)
def viz(run_dir: Path, cluster_ids: tuple[str, ...], top: int) -> None:
    """Write interactive graph pages: RUN/graphs/cluster_<id>.html and RUN/graphs/overview.html.

    Pages are self-contained HTML (open them offline in any browser). A cluster
    page draws its accounts and the values linking them; big clusters are
    collapsed to a node budget and the page says what was collapsed.

    \b
    Examples:
      acctgraph viz --run out/sample
      acctgraph viz --run out/sample --cluster op-000003 --cluster 7
    """
    from acctgraph import load_run, write_graph_pages

    pages = write_graph_pages(load_run(run_dir), clusters=list(cluster_ids) or None, top=top)
    click.echo(pages.to_text())


@cli.command(context_settings=CONTEXT)
@click.option(
    "--run",
    "run_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A finished run folder (the --out of `acctgraph run`).",
)
def report(run_dir: Path) -> None:
    """(Re)write RUN/report.html and RUN/report.md from a finished run.

    The report renders the run's tables and evidence cards (RUN/cards/, or
    computed on the fly for a run written before cards existed) and links the
    graph pages in RUN/graphs/ that exist. It opens offline and makes no request.

    \b
    Example:
      acctgraph report --run out/sample
    """
    from acctgraph import load_run, write_report

    for path in write_report(load_run(run_dir), run_dir):
        click.echo(f"wrote {path}")


@cli.command(context_settings=CONTEXT)
@click.argument("account_id")
@click.option(
    "--run",
    "run_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A finished run folder (the --out of `acctgraph run`).",
)
@click.option(
    "--with",
    "with_account",
    default=None,
    metavar="OTHER_ID",
    help="Show the evidence between ACCOUNT_ID and this account: shared values, or the shortest "
    "weighted path through shared values.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rows per section (values, links, shared values).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON (raw values, non-ASCII escaped) instead of text.",
)
def explain(
    account_id: str, run_dir: Path, with_account: str | None, top: int, as_json: bool
) -> None:
    """Say why an account is in its cluster (or in none), or what links two accounts.

    Reads the run's graph tables; nothing is recomputed. Shows the account's
    cluster, the values tying it to the other members, its strongest links and
    what it does not share. Values are attacker-written: control and bidi
    characters are shown as escapes (\\u202e) and long values are cut.

    \b
    Examples:
      acctgraph explain acct_0042 --run out/sample
      acctgraph explain acct_0042 --run out/sample --with acct_0077
      acctgraph explain acct_0042 --run out/sample --json > why.json
    """
    from acctgraph import explain_account, load_run

    result = explain_account(load_run(run_dir), account_id, with_account=with_account, top=top)
    if as_json:
        click.echo(
            json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=True, default=str)
        )
    else:
        click.echo(result.to_text(), nl=False)


@cli.command(context_settings=CONTEXT)
@click.option(
    "--run",
    "run_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A finished run folder (the --out of `acctgraph run`).",
)
@click.option(
    "--seeds",
    "seeds_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Known-bad accounts: CSV, Parquet or NDJSON with an account_id column (or see --column).",
)
@click.option(
    "--column",
    default=None,
    help="Column of the seeds file holding the ids (default: account_id, else the first column).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Candidates to return.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the ranked candidates to FILE.csv (spreadsheet formulas neutralised) or FILE.parquet.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON (raw values, non-ASCII escaped) instead of text.",
)
def expand(
    run_dir: Path,
    seeds_path: Path,
    column: str | None,
    top: int,
    out_path: Path | None,
    as_json: bool,
) -> None:
    """Rank accounts by how strongly they are linked to known-bad seed accounts.

    Personalised PageRank from the seeds over the run's account projection and
    bipartite graph, combined with behaviour (prompt shares, hours, IP ranges,
    capabilities; see acctgraph/investigate/expand.py), with the values and
    behaviour each candidate shares with the seeds, its cluster and whether that
    cluster was flagged.
    Seeds not in the run are counted and listed; it fails only if none is found.

    \b
    Examples:
      acctgraph expand --run out/sample --seeds known_bad.csv
      acctgraph expand --run out/sample --seeds banned.parquet --column user --top 50 --out who_else.csv
    """
    from acctgraph import expand_from_seeds, load_run, read_seeds

    if out_path is not None and out_path.suffix.lower() not in (".csv", ".parquet"):
        raise click.BadParameter("expected a .csv or .parquet file name", param_hint="--out")
    result = expand_from_seeds(load_run(run_dir), read_seeds(seeds_path, column=column), top=top)
    if out_path is not None:
        result.write(out_path)
        click.echo(f"wrote {out_path}", err=True)
    if as_json:
        click.echo(
            json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=True, default=str)
        )
    else:
        click.echo(result.to_text(), nl=False)


if __name__ == "__main__":  # spark-submit runs this file (README, "On Apache Spark")
    main()
