"""`acctgraph run` under memory budgets: peak, time, the plan, and identical outputs.

For each budget (``default`` = no ``--memory-budget``), in a fresh child process:
``acctgraph run WORLD --out OUT/BUDGET --quiet [--memory-budget BUDGET]``. Records the
wall time and the child's peak RSS (``os.wait4``), the plan and the estimate from its
run.json (``memory``), each stage's own peak, and whether every table
(members, clusters, evidence, contributions, attached, cohorts, the graph's tables) is
byte-identical to the first budget's. A budget that is refused (exit status 2) is
recorded with its message: that is the up-front refusal working.

Usage::

    .venv/bin/python benchmarks/bench_memory.py /tmp/w/inc1 --out /tmp/mem \\
        --budgets default 6GB 4GB

Prints one Markdown row per budget; run nothing else on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TABLES = (
    "members.parquet",
    "clusters.parquet",
    "evidence.parquet",
    "contributions.parquet",
    "attached.parquet",
    "cohorts.parquet",
    "graph/edges.parquet",
    "graph/incidence.parquet",
    "graph/values.parquet",
)


def run_once(world: Path, out: Path, budget: str) -> dict[str, object]:
    command = [str(Path(sys.executable).parent / "acctgraph"), "run", str(world)]
    command += ["--out", str(out), "--quiet"]
    if budget != "default":
        command += ["--memory-budget", budget]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    record: dict[str, object] = {
        "budget": budget,
        "exit": os.waitstatus_to_exitcode(status),
        "seconds": round(wall, 1),
        "peak_mb": round(usage.ru_maxrss / 1024.0),
    }
    if record["exit"] != 0:
        record["message"] = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        return record
    run = json.loads((out / "run.json").read_text())
    record["plan"] = run["memory"]
    record["stages"] = {t["stage"]: t.get("stage_peak_rss_mb") for t in run["timing"]}
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budgets", nargs="+", default=["default", "6GB", "4GB"])
    args = parser.parse_args(argv)
    records = []
    reference: Path | None = None
    for budget in args.budgets:
        out = args.out / budget
        record = run_once(args.world, out, budget)
        if record["exit"] == 0:
            if reference is None:
                reference = out
            record["identical"] = all(
                (out / name).read_bytes() == (reference / name).read_bytes()
                for name in TABLES
                if (reference / name).exists()
            )
        records.append(record)
        print(json.dumps(record), file=sys.stderr, flush=True)
    print(
        "| budget | exit | seconds | peak MB | estimate | usage parts | pair budget | identical |"
    )
    print("|---|---|---:|---:|---|---:|---:|---|")
    for r in records:
        plan = r.get("plan") or {}
        print(
            f"| {r['budget']} | {r['exit']} | {r['seconds']} | {r['peak_mb']:,} | "
            f"{plan.get('estimate', '-')} | {plan.get('usage_partitions', '-')} | "
            f"{plan.get('pair_budget', '-')} | {r.get('identical', r.get('message', '-'))} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
