"""Benchmark `acctgraph run` end to end on simulated worlds: time, peak memory, quality.

Each world runs in a fresh process (``acctgraph run WORLD --out TMP --quiet``);
wall time and peak RSS are measured for that child process, per-stage times are
read from its run.json, and quality from ``acctgraph.evaluation.metrics`` against the
world's labels. Prints one markdown row per world.

Usage::

    .venv/bin/python benchmarks/bench_run.py /tmp/w_sample11 /tmp/w_bench11 [--repeat 3]

Worlds come from ``acctgraph simulate --preset {sample,bench} --seed N --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from acctgraph.evaluation.metrics import evaluate
from acctgraph.load import load_labels, load_members

ACCTGRAPH = str(Path(sys.executable).with_name("acctgraph"))
STAGES = ("load", "usage", "attributes", "graph", "detect", "score", "write")


def run_once(world: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `acctgraph run` child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [ACCTGRAPH, "run", str(world), "--out", str(out), "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far: only meaningful when it grows,
    # so each repeat of a world runs in its own benchmark process via --repeat's subprocess loop.
    return wall, max(peak, before) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worlds", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="runs per world (median reported)")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if not args.single:
        print(
            "| world | accounts | exchanges | wall s | peak RSS MiB | "
            + " | ".join(f"{s} s" for s in STAGES)
            + " | precision | recall | B-cubed F1 | flagged legit org | hardest operator (recall) |"
        )
        print("|" + "---|" * (10 + len(STAGES)))
        for world in args.worlds:
            rows = [
                subprocess.run(
                    [sys.executable, __file__, str(world), "--single"],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                for _ in range(args.repeat)
            ]
            results = [json.loads(r) for r in rows]
            wall = statistics.median(r["wall"] for r in results)
            peak = statistics.median(r["peak"] for r in results)
            first = results[0]
            stages = " | ".join(
                f"{statistics.median(r['stages'].get(s, 0.0) for r in results):.1f}" for s in STAGES
            )
            spread = (
                f" ({min(r['wall'] for r in results):.1f}–{max(r['wall'] for r in results):.1f})"
                if len(results) > 1
                else ""
            )
            print(
                f"| {world.name} | {first['accounts']:,} | {first['exchanges']:,} | {wall:.1f}{spread} | "
                f"{peak:,.0f} | {stages} | {first['precision']:.3f} | {first['recall']:.3f} | "
                f"{first['bcubed_f1']:.3f} | {first['flagged_org']} | {first['hardest']} |",
                flush=True,
            )
        return

    world = args.worlds[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        wall, peak = run_once(world, out)
        record = json.loads((out / "run.json").read_text())
        result = evaluate(
            load_members(out / "members.parquet"), load_labels(world / "labels.csv")
        ).to_dict()
    exchanges = pl.scan_parquet(world / "exchanges.parquet").select(pl.len()).collect().item()
    hardest = min(result["operators"], key=lambda o: (o["recall"], o["operator_id"]))
    print(
        json.dumps(
            {
                "wall": wall,
                "peak": peak,
                "stages": {t["stage"]: t["seconds"] for t in record["timing"]},
                "accounts": record["rows"]["accounts_in"],
                "exchanges": exchanges,
                "precision": result["accounts"]["precision"] or 0.0,
                "recall": result["accounts"]["recall"] or 0.0,
                "bcubed_f1": result["clustering"]["bcubed_f1"] or 0.0,
                "flagged_org": result["flagged_legitimate_organisation"],
                "hardest": f"{hardest['operator_id']} ({hardest['recall']:.2f})",
                "pid": os.getpid(),
            }
        )
    )


if __name__ == "__main__":
    main()
