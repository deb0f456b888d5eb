"""The Spark engine against polars on one world: the same outputs, time and memory.

For each world folder (accounts and exchanges as ``acctgraph simulate`` writes them),
``acctgraph run`` runs ``--repeat`` times with each engine, alternating, each in a fresh
process alone on the machine (local Spark: ``--spark-master``, default ``local[2]``).
Printed per run: wall seconds; peak resident memory of the Python process and of the
whole process tree (the local Spark JVM is a child of the run's process; the tree's
figure is the largest sum of resident sets seen, sampled every 0.2 s); the load and
usage stages' seconds (``run.json`` timing: on Spark they hold the Spark jobs). Then
whether members, clusters, evidence, contributions, attached and cohorts are
byte-identical between the engines (the issue's test of equality at bench size).

Example::

    .venv/bin/python benchmarks/bench_spark.py /tmp/w/bench1 --out /tmp/bench_spark --repeat 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import psutil

ACCTGRAPH = str(Path(sys.executable).parent / "acctgraph")
TABLES = ["members", "clusters", "evidence", "contributions", "attached", "cohorts"]


def run_once(world: Path, out: Path, engine: str, master: str) -> dict[str, float]:
    """One ``acctgraph run``; wall seconds, peak RSS (process and tree), stage seconds."""
    shutil.rmtree(out, ignore_errors=True)
    command = [ACCTGRAPH, "run", str(world), "--out", str(out), "--quiet", "--engine", engine]
    if engine == "spark":
        command += ["--spark-master", master]
    started = time.perf_counter()
    process = psutil.Popen(command)
    own = tree = 0
    while process.poll() is None:
        try:
            parts = [process, *process.children(recursive=True)]
            sizes = [p.memory_info().rss for p in parts]
        except psutil.Error:
            sizes = []
        if sizes:
            own = max(own, sizes[0])
            tree = max(tree, sum(sizes))
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{engine} run failed with status {process.returncode}")
    timing = {
        t["stage"]: t["seconds"] for t in json.loads((out / "run.json").read_text())["timing"]
    }
    return {
        "wall_s": wall,
        "peak_process_gb": own / 1e9,
        "peak_tree_gb": tree / 1e9,
        "load_s": timing.get("load", float("nan")),
        "usage_s": timing.get("usage", float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("worlds", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--spark-master", default="local[2]")
    args = parser.parse_args()
    for world in args.worlds:
        print(f"== {world}")
        for i in range(args.repeat):
            for engine in ("polars", "spark"):
                figures = run_once(world, args.out / world.name / engine, engine, args.spark_master)
                print(
                    f"{engine:7s} run {i + 1}: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()),
                    flush=True,
                )
        one, other = (args.out / world.name / engine for engine in ("polars", "spark"))
        for name in TABLES:
            same = (one / f"{name}.parquet").read_bytes() == (
                other / f"{name}.parquet"
            ).read_bytes()
            print(f"{name}.parquet byte-identical: {same}")


if __name__ == "__main__":
    main()
