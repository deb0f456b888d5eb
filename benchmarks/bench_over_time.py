"""Runs over time: a world's first weeks, then all of it with ``--previous``.

For each world folder (accounts, exchanges and labels as ``acctgraph simulate``
writes them): the exchanges before ``--weeks`` weeks after the first one, and the
accounts created before then or active in them, are written to a slice; ``acctgraph
run`` runs on the slice, then on the whole world twice, with ``--previous`` the
slice's run and without. Printed per world:

- ``kept``: the share of the accounts flagged in the first run whose cluster id in the
  second run is the one they had (issue 19: at least 0.95);
- ``joined exact``: whether ``changed_members`` lists exactly the accounts of each
  operation in ``changes`` that were not in it before (and exactly those that left);
- ``reused``: new ids numbered below the first run's ``next_number`` (must be 0);
- ``same flags``: whether the second run flags the same accounts with and without
  ``--previous`` (ids are the only difference without decisions);
- wall seconds of the second run with and without ``--previous``.

Example::

    .venv/bin/python benchmarks/bench_over_time.py /tmp/q/worlds/random101 --out /tmp/over
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from acctgraph.simulate import first_weeks

ACCTGRAPH = [str(Path(sys.executable).parent / "acctgraph")]


def slice_world(world: Path, out: Path, weeks: float) -> str:
    """Write the world's first ``weeks`` to ``out``; returns the cut-off time (ISO)."""
    out.mkdir(parents=True, exist_ok=True)
    if (world / "accounts.parquet").is_file():
        accounts = pl.read_parquet(world / "accounts.parquet")
    else:
        accounts = pl.read_csv(world / "accounts.csv", infer_schema=False)
    keep, early, cut = first_weeks(
        accounts, pl.scan_parquet(world / "exchanges.parquet"), weeks=weeks
    )
    early.sink_parquet(out / "exchanges.parquet")
    keep.write_csv(out / "accounts.csv")
    return cut.isoformat()


def run(data: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [*ACCTGRAPH, "run", str(data), "--out", str(out), "--quiet", *extra],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def compare(first: Path, second: Path, plain: Path) -> dict[str, object]:
    m1 = pl.read_parquet(first / "members.parquet")
    m2 = pl.read_parquet(second / "members.parquet")
    m3 = pl.read_parquet(plain / "members.parquet")
    flagged = m1.filter(pl.col("flagged")).select("account_id", pl.col("cluster_id").alias("_1"))
    now = flagged.join(m2.select("account_id", "cluster_id"), on="account_id", how="left")
    kept = float((now["cluster_id"] == now["_1"]).fill_null(False).mean() or 0.0)
    changes = pl.read_parquet(second / "changes.parquet")
    moved = pl.read_parquet(second / "changed_members.parquet")
    exact = True
    for cluster_id in changes["cluster_id"].to_list():
        before = set(m1.filter(pl.col("cluster_id") == cluster_id)["account_id"].to_list())
        after = set(m2.filter(pl.col("cluster_id") == cluster_id)["account_id"].to_list())
        mine = moved.filter(pl.col("cluster_id") == cluster_id)
        joined = set(mine.filter(pl.col("movement") == "joined")["account_id"].to_list())
        left = set(mine.filter(pl.col("movement") == "left")["account_id"].to_list())
        exact &= joined == after - before and left == before - after
    next_number = json.loads((first / "run.json").read_text())["operations"]["next_number"]
    old_ids = set(pl.read_parquet(first / "clusters.parquet")["cluster_id"].to_list())
    new_ids = [
        c for c in pl.read_parquet(second / "clusters.parquet")["cluster_id"] if c not in old_ids
    ]
    reused = sum(int(c.removeprefix("op-")) < next_number for c in new_ids)
    same = m2.select("account_id", "flagged").equals(m3.select("account_id", "flagged"))
    return {
        "flagged_first": flagged.height,
        "kept": round(kept, 4),
        "joined_exact": exact,
        "reused": reused,
        "same_flags": same,
        "changes": dict(changes.group_by("change").len().sort("change").iter_rows()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("worlds", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weeks", type=float, default=4.0)
    parser.add_argument("--config", type=Path, help="acctgraph.toml for every run")
    args = parser.parse_args()
    config = ("--config", str(args.config)) if args.config else ()
    rows = []
    for world in args.worlds:
        base = args.out / world.name
        cut = (
            slice_world(world, base / "slice", args.weeks) if not (base / "slice").is_dir() else "?"
        )
        t1 = run(base / "slice", base / "first", *config)
        t2 = run(world, base / "second", "--previous", str(base / "first"), *config)
        t3 = run(world, base / "plain", *config)
        row = {"world": world.name, "cut": cut, "first_s": round(t1, 1)}
        row |= {"with_previous_s": round(t2, 1), "without_s": round(t3, 1)}
        row |= compare(base / "first", base / "second", base / "plain")
        print(json.dumps(row), flush=True)
        rows.append(row)
    kept = sorted(r["kept"] for r in rows)
    print(
        json.dumps(
            {
                "worlds": len(rows),
                "kept_min": kept[0],
                "kept_median": kept[len(kept) // 2],
                "all_exact": all(r["joined_exact"] for r in rows),
                "reused": sum(r["reused"] for r in rows),
                "all_same_flags": all(r["same_flags"] for r in rows),
                "time_ratio_median": sorted(r["with_previous_s"] / r["without_s"] for r in rows)[
                    len(rows) // 2
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
