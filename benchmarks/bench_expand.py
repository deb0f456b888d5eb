"""Benchmark `acctgraph expand`: seeded with 1% of an operator, how much of it comes back on top?

For each world (``acctgraph simulate --preset sample --seed N --out DIR``) the
script runs ``acctgraph run`` once (cached in ``--runs``), then for every
operator of labels.csv (rows with an ``operator_id`` and a kind that is not
legitimate) draws ``max(1, round(1% of its size))`` seed accounts, expands from
them and scores the ranking against the operator's other accounts:

- ``recall@size``: share of the operator's non-seed accounts among the top
  ``size`` candidates (``size`` = all of its accounts, seeds included);
- ``recall@2size``: the same among the top ``2 × size``;
- ``precision@size``: share of the top ``size`` candidates that belong to the
  operator (at most ``(size - seeds) / size``, since seeds are not candidates).

Each operator is seeded ``--draws`` times with different seed accounts (draws
are deterministic); figures are means over draws, then over operators.
Several configurations can be compared (``--configs``); ``cluster`` is the
baseline "members of the seeds' detected clusters" (what the detector alone
answers, ranked by account id).

Usage::

    .venv/bin/python benchmarks/bench_expand.py /tmp/w_sample11 /tmp/w_sample12 \\
        --configs combined projection bipartite cluster [--per-operator]

A configuration is
``METHOD[:DAMPING[:INFRASTRUCTURE_WEIGHT[:BIPARTITE_SHARE[:BEHAVIOUR_SHARE]]]]``
(unset parts take :func:`acctgraph.investigate.expand.expand_from_seeds`'s defaults), e.g.
``combined``, ``projection:0.5``, ``bipartite:0.85:0.3``, ``behaviour``, ``cluster``;
``combined:0.85:1:0.05:0`` is the ranking before behaviour was added.

``--seeds N`` seeds every operator with ``min(N, size - 1)`` accounts instead
of a share (issue 15: "expansion from 10 known accounts"). ``--by-tradecraft``
also reports, per configuration, the min, median and mean ``recall@size`` over
behaviour-only operators (labels.csv ``tradecraft`` with ``templates=public``
and ``payment=none;device=random``) and over the others.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from acctgraph.core import schema as S
from acctgraph.investigate.expand import SeedExpander
from acctgraph.load import load_labels
from acctgraph.runfolder import load_run

ACCTGRAPH = str(Path(sys.executable).with_name("acctgraph"))


@dataclass(frozen=True)
class Scores:
    recall_size: float
    recall_2size: float
    precision_size: float


def ensure_run(world: Path, runs: Path) -> Path:
    """The run folder of ``world`` under ``runs`` (``acctgraph run`` once if missing)."""
    out = runs / world.name
    if not (out / "run.json").is_file():
        subprocess.run(
            [ACCTGRAPH, "run", str(world), "--out", str(out), "--quiet"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def operators(labels: pl.DataFrame) -> dict[str, list[str]]:
    """Operator id → its sorted account ids (non-legitimate kinds only)."""
    bad = labels.filter(
        pl.col(S.OPERATOR_ID).is_not_null() & ~pl.col(S.KIND).is_in(list(S.LEGIT_KINDS))
    )
    return {
        op: sorted(ids)
        for op, ids in bad.group_by(S.OPERATOR_ID)
        .agg(pl.col(S.ACCOUNT_ID))
        .sort(S.OPERATOR_ID)
        .iter_rows()
    }


def behaviour_only(labels: pl.DataFrame) -> set[str]:
    """Operators whose tradecraft shares no identity: public templates, no card, random devices."""
    if "tradecraft" not in labels.columns:
        return set()
    rows = labels.filter(
        pl.col(S.OPERATOR_ID).is_not_null()
        & pl.col("tradecraft").str.contains("templates=public", literal=True)
        & pl.col("tradecraft").str.contains("payment=none;device=random", literal=True)
    )
    return set(rows[S.OPERATOR_ID].unique().to_list())


def n_seeds(size: int, *, share: float, count: int | None) -> int:
    if count is not None:
        return max(1, min(count, size - 1))
    return max(1, round(share * size))


def draw_seeds(
    accounts: list[str], *, share: float, draw: int, operator: str, count: int | None = None
) -> list[str]:
    n = n_seeds(len(accounts), share=share, count=count)
    return sorted(random.Random(f"{operator}/{draw}").sample(accounts, n))


def score(ranked: list[str], members: set[str], seeds: list[str]) -> Scores:
    size = len(members)
    target = members - set(seeds)
    hits1 = len(set(ranked[:size]) & target)
    hits2 = len(set(ranked[: 2 * size]) & target)
    return Scores(hits1 / len(target), hits2 / len(target), hits1 / size)


def ranking(config: str, run, expanders: dict, seeds: list[str], top: int) -> list[str]:
    if config == "cluster":
        members = run.members
        clusters = (
            members.filter(pl.col(S.ACCOUNT_ID).is_in(seeds) & pl.col(S.CLUSTER_ID).is_not_null())[
                S.CLUSTER_ID
            ]
            .unique()
            .to_list()
        )
        return (
            members.filter(
                pl.col(S.CLUSTER_ID).is_in(clusters) & ~pl.col(S.ACCOUNT_ID).is_in(seeds)
            )
            .sort(S.ACCOUNT_ID)[S.ACCOUNT_ID]
            .to_list()[:top]
        )
    if config not in expanders:
        parts = config.split(":")
        kwargs: dict = {"method": parts[0]}
        names = ("damping", "infrastructure_weight", "bipartite_share", "behaviour_share")
        for name, text in zip(names, parts[1:]):
            kwargs[name] = float(text)
        expanders[config] = SeedExpander(run, **kwargs)
    return expanders[config].expand(seeds, top=top).candidates[S.ACCOUNT_ID].to_list()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("worlds", nargs="+", type=Path)
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("/tmp/expand_runs"),
        help="where run folders are cached (one per world, named like it)",
    )
    parser.add_argument("--configs", nargs="+", default=["combined"])
    parser.add_argument(
        "--share", type=float, default=0.01, help="share of each operator used as seeds"
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="seed accounts per operator (instead of --share)"
    )
    parser.add_argument(
        "--by-tradecraft",
        action="store_true",
        help="min and median recall@size over behaviour-only and other operators",
    )
    parser.add_argument("--draws", type=int, default=5, help="seed draws per operator")
    parser.add_argument("--per-operator", action="store_true", help="one row per operator too")
    args = parser.parse_args()

    print(
        "| world | configuration | operators | recall@size | recall@2size | precision@size "
        "| worst operator recall@size | ms per expand |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|")
    detail = []
    for world in args.worlds:
        run = load_run(ensure_run(world, args.runs))
        labels = load_labels(world / "labels.csv")
        ops = operators(labels)
        careful = behaviour_only(pl.read_csv(world / "labels.csv", infer_schema=False))
        expanders: dict = {}
        for config in args.configs:
            per_op: dict[str, Scores] = {}
            elapsed, calls = 0.0, 0
            for op, accounts in ops.items():
                draws = []
                for draw in range(args.draws):
                    seeds = draw_seeds(
                        accounts, share=args.share, draw=draw, operator=op, count=args.seeds
                    )
                    if config not in expanders and config != "cluster":
                        ranking(
                            config, run, expanders, seeds, 1
                        )  # build the walk graph outside the timing
                    start = time.perf_counter()
                    ranked = ranking(config, run, expanders, seeds, 2 * len(accounts))
                    elapsed += time.perf_counter() - start
                    calls += 1
                    draws.append(score(ranked, set(accounts), seeds))
                per_op[op] = Scores(
                    *(
                        statistics.fmean(getattr(d, f) for d in draws)
                        for f in ("recall_size", "recall_2size", "precision_size")
                    )
                )
                detail.append(
                    (
                        world.name,
                        config,
                        op,
                        len(accounts),
                        n_seeds(len(accounts), share=args.share, count=args.seeds),
                        per_op[op],
                        op in careful,
                    )
                )
            mean = {
                f: statistics.fmean(getattr(s, f) for s in per_op.values())
                for f in ("recall_size", "recall_2size", "precision_size")
            }
            worst_op, worst = min(per_op.items(), key=lambda kv: (kv[1].recall_size, kv[0]))
            print(
                f"| {world.name} | {config} | {len(per_op)} | {mean['recall_size']:.3f} | "
                f"{mean['recall_2size']:.3f} | {mean['precision_size']:.3f} | "
                f"{worst_op} ({len(ops[worst_op])} accounts): {worst.recall_size:.3f} | "
                f"{1000 * elapsed / calls:.0f} |",
                flush=True,
            )
    if args.by_tradecraft:
        print()
        print(
            "| configuration | operators | class | min recall@size | median recall@size "
            "| mean recall@size |"
        )
        print("|---|---:|---|---:|---:|---:|")
        for config in args.configs:
            for label, wanted in (("behaviour-only", True), ("identity-sharing", False)):
                values = [d[5].recall_size for d in detail if d[1] == config and d[6] == wanted]
                if values:
                    print(
                        f"| {config} | {len(values)} | {label} | {min(values):.3f} | "
                        f"{statistics.median(values):.3f} | {statistics.fmean(values):.3f} |"
                    )
    if args.per_operator:
        print()
        print(
            "| world | configuration | operator | accounts | seeds | recall@size | recall@2size | precision@size |"
        )
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for name, config, op, size, seeded, s, _ in detail:
            print(
                f"| {name} | {config} | {op} | {size} | {seeded} | {s.recall_size:.3f} | "
                f"{s.recall_2size:.3f} | {s.precision_size:.3f} |"
            )


if __name__ == "__main__":
    main()
