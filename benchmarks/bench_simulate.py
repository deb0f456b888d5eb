"""Time world generation and measure its peak memory, one fresh process per preset.

Each preset runs ``acctgraph.simulate.simulate`` (what ``acctgraph simulate`` calls)
in a child process, which reports its own peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``); the parent measures wall time.
Prints one Markdown table row per preset.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py [--preset bench] [--seed 1] [--repeat 1]
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
    "| preset | seed | accounts | exchanges | fraud exchanges | wall (s) | peak RSS (MiB) "
    "| exchanges.parquet (MiB) | all files (MiB) |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def child(preset: str, seed: int, out: str) -> None:
    """Generate one world and print its summary and this process's peak RSS as JSON."""
    from acctgraph.simulate import simulate

    summary = simulate(preset, seed=seed, out=out)
    files = {p.name: p.stat().st_size for p in Path(out).iterdir()}
    print(
        json.dumps(
            {
                "n_accounts": summary.n_accounts,
                "n_exchanges": summary.n_exchanges,
                "n_fraud_exchanges": summary.n_fraud_exchanges,
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "files": files,
            }
        )
    )


def measure(preset: str, seed: int) -> str:
    """Run one preset in a fresh process; return its Markdown row."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", preset, "--seed", str(seed), "--out", out],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
    result = json.loads(done.stdout.strip().splitlines()[-1])
    mib = 1024 * 1024
    return (
        f"| {preset} | {seed} | {result['n_accounts']:,} | {result['n_exchanges']:,} "
        f"| {result['n_fraud_exchanges'] / result['n_exchanges']:.1%} | {wall:.1f} "
        f"| {result['peak_rss_kib'] / 1024:,.0f} | {result['files']['exchanges.parquet'] / mib:.1f} "
        f"| {sum(result['files'].values()) / mib:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="preset(s) to time (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seed, args.out)
        return
    print(HEADER)
    for preset in args.preset or ["tiny", "sample", "bench"]:
        for _ in range(args.repeat):
            print(measure(preset, args.seed), flush=True)


if __name__ == "__main__":
    main()
