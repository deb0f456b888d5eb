"""Benchmark the connected-components baseline on simulated worlds.

Runs :func:`acctgraph.evaluation.baseline.connected_components_baseline` on each world,
scores it with :func:`acctgraph.evaluation.metrics.evaluate` and prints one Markdown
table row per world: accounts, exchanges, baseline seconds, peak RSS of the
process, account-level precision / recall / F1, B-cubed F1 and the number of
legitimate organisation/automation accounts flagged (target 0).

A world is a directory as written by ``acctgraph simulate``: ``accounts.*``,
``exchanges.*`` (Parquet preferred; streamed) and ``labels.csv``. Files are read
with polars directly so the benchmark does not depend on ``acctgraph.load``.

Usage::

    .venv/bin/python benchmarks/bench_baseline.py WORLD_DIR [WORLD_DIR ...]
    .venv/bin/python benchmarks/bench_baseline.py --simulate sample --seed 0
    .venv/bin/python benchmarks/bench_baseline.py WORLD_DIR --json evaluation.json

Run each world in a fresh process if you compare peak RSS across worlds: the
figure is the process peak, so the largest world read so far dominates.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import polars as pl

from acctgraph.core import schema as S
from acctgraph.evaluation.baseline import connected_components_baseline
from acctgraph.evaluation.metrics import evaluate

HEADER = (
    "| world | accounts | exchanges | seconds | peak RSS (MiB) | precision | recall | F1 "
    "| B-cubed F1 | flagged legit org |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def find_table(world: Path, table: str) -> Path:
    """The one file ``table.<suffix>`` in ``world`` (Parquet first)."""
    suffixes = sorted(S.SUFFIXES, key=lambda s: s != ".parquet")
    for suffix in suffixes:
        path = world / f"{table}{suffix}"
        if path.exists():
            return path
    raise SystemExit(f"{world}: no {table} file (looked for {table}{{{','.join(suffixes)}}})")


def scan(path: Path) -> pl.LazyFrame:
    """Lazy reader for any of the suffixes in ``schema.SUFFIXES``; CSV columns as strings."""
    name = path.name
    if name.endswith(".parquet"):
        return pl.scan_parquet(path)
    if name.endswith((".ndjson", ".jsonl")):
        return pl.scan_ndjson(path)
    if name.endswith((".ndjson.gz", ".jsonl.gz")):
        return pl.read_ndjson(path).lazy()
    if name.endswith(".csv.gz"):
        return pl.read_csv(path, infer_schema=False).lazy()
    return pl.scan_csv(path, infer_schema=False)


def read_world(world: Path) -> tuple[pl.DataFrame, pl.LazyFrame, pl.DataFrame]:
    accounts = scan(find_table(world, S.ACCOUNTS)).collect()
    exchanges = scan(find_table(world, S.EXCHANGES))
    labels = pl.read_csv(find_table(world, S.LABELS), infer_schema=False)
    return accounts, exchanges, labels


def simulated_world(name: str, seed: int) -> tuple[pl.DataFrame, pl.LazyFrame, pl.DataFrame]:
    """Frames from ``acctgraph.simulate.simulate_frames`` (a mapping or an object of tables)."""
    try:
        from acctgraph.simulate import simulate_frames  # type: ignore[attr-defined]
    except ImportError as error:
        raise SystemExit(f"acctgraph.simulate.simulate_frames is not available: {error}") from None
    frames = simulate_frames(name, seed=seed)

    def table(key: str):
        return frames[key] if isinstance(frames, dict) else getattr(frames, key)

    return table(S.ACCOUNTS), table(S.EXCHANGES).lazy(), table(S.LABELS)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(name: str, accounts: pl.DataFrame, exchanges: pl.LazyFrame, labels: pl.DataFrame):
    n_exchanges = exchanges.select(pl.len()).collect().item()
    start = time.perf_counter()
    members = connected_components_baseline(accounts, exchanges)
    seconds = time.perf_counter() - start
    result = evaluate(members, labels)

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    row = (
        f"| {name} | {members.height:,} | {n_exchanges:,} | {seconds:.2f} | "
        f"{peak_rss_mib():,.0f} | {cell(result.precision)} | {cell(result.recall)} | "
        f"{cell(result.f1)} | {cell(result.bcubed_f1)} | {result.flagged_legitimate_organisation} |"
    )
    return row, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worlds", nargs="*", type=Path, help="world directories")
    parser.add_argument("--simulate", metavar="NAME", help="simulate a named world instead")
    parser.add_argument("--seed", type=int, default=0, help="seed for --simulate (default 0)")
    parser.add_argument("--no-header", action="store_true", help="print rows only")
    parser.add_argument("--json", type=Path, help="write the last evaluation's to_dict() here")
    parser.add_argument("--text", action="store_true", help="also print each evaluation's text")
    args = parser.parse_args(argv)
    if not args.worlds and not args.simulate:
        parser.error("give a world directory or --simulate NAME")

    if not args.no_header:
        print(HEADER)
    runs = [(str(w.name), lambda w=w: read_world(w)) for w in args.worlds]
    if args.simulate:
        runs.append(
            (
                f"{args.simulate} (seed {args.seed})",
                lambda: simulated_world(args.simulate, args.seed),
            )
        )
    result = None
    for name, load in runs:
        row, result = run(name, *load())
        print(row, flush=True)
        if args.text:
            print(result.to_text(), file=sys.stderr)
    if args.json and result is not None:
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
