"""Time world generation and measure its peak memory, one fresh process per preset.

Each preset runs ``acctgraph.simulate.simulate`` (what ``acctgraph simulate`` calls)
in a child process, which reports its own peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and how long it took to build the
roster and write the accounts and labels ("roster (s)"; the rest of the time is
generating and writing exchanges); the parent measures wall time (imports included).
Prints one Markdown table row per run.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--preset bench] [--seed 1] [--repeat 1]
    # the incident world, measured once and kept for later runs (about 4.5 minutes, 1.4 GB on disk)
    .venv/bin/python benchmarks/bench_simulate.py --preset incident --out /tmp/w_incident
    # a fraction of it
    .venv/bin/python benchmarks/bench_simulate.py --preset incident --scale 1/8 \\
        --out /tmp/w_incident_8

Without ``--out`` the world goes to a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = (
    "| preset | scale | seed | accounts | exchanges | fraud exchanges | wall (s) | roster (s) "
    "| peak RSS (MiB) | exchanges.parquet (MiB) | all files (MiB) |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def child(preset: str, scale: str, seed: int, out: str) -> None:
    """Generate one world and print its summary and this process's peak RSS as JSON."""
    from acctgraph.simulate import simulate
    from acctgraph.simulate.spec import parse_scale

    start = time.perf_counter()
    first_chunk: list[float] = []

    def progress(done: int, planned: int) -> None:
        if not first_chunk:  # first call: roster, accounts table and labels written
            first_chunk.append(time.perf_counter() - start)

    summary = simulate(preset, seed=seed, out=out, scale=parse_scale(scale), progress=progress)
    files = {p.name: p.stat().st_size for p in Path(out).iterdir()}
    print(
        json.dumps(
            {
                "n_accounts": summary.n_accounts,
                "n_accounts_in_table": summary.n_accounts_in_table,
                "n_fraud_accounts": summary.n_fraud_accounts,
                "n_exchanges": summary.n_exchanges,
                "n_fraud_exchanges": summary.n_fraud_exchanges,
                "seconds": time.perf_counter() - start,
                "roster_seconds": first_chunk[0] if first_chunk else None,
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "files": files,
            }
        )
    )


def measure(preset: str, scale: str, seed: int, out: str | None = None) -> dict:
    """Run one preset in a fresh process; return the child's figures plus ``wall`` (seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = out or tmp
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                preset,
                "--scale",
                scale,
                "--seed",
                str(seed),
                "--out",
                target,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def row(preset: str, scale: str, seed: int, result: dict) -> str:
    """The Markdown row of one measurement."""
    mib = 1024 * 1024
    roster = result.get("roster_seconds")
    return (
        f"| {preset} | {scale} | {seed} | {result['n_accounts']:,} | {result['n_exchanges']:,} "
        f"| {result['n_fraud_exchanges'] / result['n_exchanges']:.1%} | {result['wall']:.1f} "
        f"| {'' if roster is None else f'{roster:.1f}'} "
        f"| {result['peak_rss_kib'] / 1024:,.0f} "
        f"| {result['files']['exchanges.parquet'] / mib:.1f} "
        f"| {sum(result['files'].values()) / mib:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset", action="append", help="preset(s) to time (default: tiny, sample, bench)"
    )
    parser.add_argument("--scale", default="1", help="multiply the preset's accounts (1/8, 0.5...)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", help="keep the world in this directory (one preset, one repeat)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.scale, args.seed, args.out)
        return
    presets = args.preset or ["tiny", "sample", "bench"]
    if args.out and (len(presets) > 1 or args.repeat > 1):
        parser.error("--out keeps one world: give one --preset and no --repeat")
    print(HEADER)
    for preset in presets:
        for _ in range(args.repeat):
            result = measure(preset, args.scale, args.seed, args.out)
            print(row(preset, args.scale, args.seed, result), flush=True)


if __name__ == "__main__":
    main()
