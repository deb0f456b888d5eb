"""Detector quality over many simulated worlds: one row per world, then min and median.

Simulates each seed of a preset (in memory; worlds are cached as Parquet under
``--cache`` so that configurations can be compared on the same worlds), runs the
whole pipeline with a configuration, and scores it with
:func:`acctgraph.evaluate`. Prints a Markdown table: per world the account-level
precision and recall, B-cubed F1, the worst operator's recall, the worst
operator's share in its two largest flagged clusters, the organisation or
automation accounts flagged, the worst behaviour-only operator's recall (on the
``random`` preset, whose labels carry each operator's tradecraft: an operator
with ``templates=public``, ``payment=none`` and ``device=random`` shares nothing
but behaviour), and the seconds of the run; then the minimum and median of each
column over the worlds, the figures the issues' targets are stated in.

Usage::

    .venv/bin/python benchmarks/bench_quality.py --preset random --seeds 201-220
    .venv/bin/python benchmarks/bench_quality.py --preset random --seeds 101-110 \\
        --config tuned.toml --cache /tmp/worlds --workers 2

Tune on some seeds, report on others: docs/benchmarks.md names the seeds of each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl

import acctgraph as ag

COLUMNS = ("precision", "recall", "bcubed_f1", "worst_operator", "worst_two_largest", "org_flagged")


def _world(preset: str, seed: int, cache: Path) -> Path:
    folder = cache / f"{preset}{seed}"
    if not (folder / "labels.csv").is_file():
        accounts, exchanges, labels = ag.simulate_frames(preset, seed=seed)
        folder.mkdir(parents=True, exist_ok=True)
        accounts.write_parquet(folder / "accounts.parquet")
        exchanges.write_parquet(folder / "exchanges.parquet")
        labels.write_csv(folder / "labels.csv")
    return folder


def _behaviour_only(labels: pl.DataFrame) -> set[str]:
    if "tradecraft" not in labels.columns:
        return set()
    crafts = labels.filter(pl.col("operator_id").is_not_null()).select("operator_id", "tradecraft")
    return {
        op
        for op, craft in crafts.unique().iter_rows()
        if craft
        and "templates=public" in craft
        and "payment=none" in craft
        and "device=random" in craft
    }


def one_world(args: tuple[str, int, Path, str | None]) -> dict[str, object]:
    """Simulate (or read) one world, run it and return its figures."""
    preset, seed, cache, config_path = args
    folder = _world(preset, seed, cache)
    config = ag.Config.from_toml(config_path) if config_path else ag.Config()
    start = time.perf_counter()
    result = ag.run_pipeline(ag.load_dataset(folder), config=config)
    seconds = time.perf_counter() - start
    labels = pl.read_csv(folder / "labels.csv", schema_overrides={"operator_id": pl.String})
    figures = ag.evaluate(result.scored.members, labels)
    operators = figures.operators
    quiet = _behaviour_only(labels)
    behaviour = [o.recall for o in operators if o.operator_id in quiet]
    return {
        "seed": seed,
        "precision": figures.precision,
        "recall": figures.recall,
        "bcubed_f1": figures.bcubed_f1,
        "worst_operator": min(o.recall for o in operators),
        "worst_two_largest": min(o.two_largest_share for o in operators),
        "org_flagged": figures.flagged_legitimate_organisation,
        "behaviour_only": min(behaviour) if behaviour else None,
        "seconds": seconds,
    }


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out += list(range(int(low), int(high or low) + 1))
    return out


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="random")
    parser.add_argument("--seeds", default="201-220", help="e.g. 201-220 or 1,2,5-7")
    parser.add_argument("--config", default=None, help="a TOML configuration (default: defaults)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/acctgraph-quality-worlds"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(args.preset, s, args.cache, args.config) for s in _seeds(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one_world, jobs))
    names = [*COLUMNS, "behaviour_only", "seconds"]
    print("| seed | " + " | ".join(names) + " |")
    print("|" + "---|" * (len(names) + 1))
    for row in rows:
        print(f"| {row['seed']} | " + " | ".join(_cell(row[n]) for n in names) + " |")
    for label, pick in (("min", min), ("median", statistics.median)):
        cells = []
        for name in names:
            values = [row[name] for row in rows if row[name] is not None]
            cells.append(_cell(float(pick(values))) if values else "–")  # type: ignore[arg-type]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
