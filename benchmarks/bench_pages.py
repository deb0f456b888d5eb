"""Benchmark graph pages: time to write them, and time to open them in headless Chromium.

Reads a finished run folder (``acctgraph run WORLD --out RUN``), never recomputes it:

1. writes the default pages (every flagged cluster, then the best scores up to 20,
   and the overview) into ``--out`` and reports the time per page;
2. opens the largest cluster page (most accounts) and the overview ``--repeat``
   times each in Debian's Chromium (headless, every non-file request blocked) and
   reports the open time: from navigation to the first drawing of the network,
   as seen from Python (wall) and by the page (``performance.now()``);
3. with ``--synthetic N``, fabricates a cluster of the N accounts holding the most
   values (a copy of the run folder whose graph and profile tables are symlinks;
   only the members and clusters tables change), writes its page (collapsed to the
   node budget) and opens it the same way; with ``--unbudgeted`` also the same cluster
   drawn without a budget (every account and value: what the budget avoids).

Prints markdown tables.

Usage::

    .venv/bin/python benchmarks/bench_pages.py /tmp/o_bench21_viz --synthetic 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl

from acctgraph.core import schema as S
from acctgraph.runfolder import GRAPH_DIR, PROFILES_DIR, RUN_JSON, load_run
from acctgraph.viz import write_graph_pages

CHROMIUM = "/usr/lib/chromium/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def open_times(browser, path: Path, repeat: int) -> dict[str, float | int]:
    """Median and max open time of a page (fresh context each time) and what it drew."""
    walls, inside = [], []
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        blocked: list[str] = []

        def route(route, blocked=blocked) -> None:
            if route.request.url.startswith(("file:", "about:", "data:")):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        page.route("**/*", route)
        start = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_function(
            "window.acctgraphPage && window.acctgraphPage.ready", timeout=120_000, polling=20
        )
        walls.append(time.perf_counter() - start)
        inside.append(page.evaluate("window.acctgraphPage.readyAt") / 1000.0)
        nodes, edges = page.evaluate(
            "[network.body.data.nodes.length, network.body.data.edges.length]"
        )
        assert not blocked, blocked
        context.close()
    return {
        "wall_median": statistics.median(walls),
        "wall_max": max(walls),
        "page_median": statistics.median(inside),
        "nodes": nodes,
        "edges": edges,
        "mib": path.stat().st_size / 2**20,
    }


def synthetic_run(run_dir: Path, target: Path, n_accounts: int) -> tuple[Path, int]:
    """A run folder with one extra cluster: the ``n_accounts`` accounts holding the most values."""
    run = load_run(run_dir)
    target.mkdir(parents=True)
    for name in (GRAPH_DIR, PROFILES_DIR):
        (target / name).symlink_to((run_dir / name).resolve(), target_is_directory=True)
    shutil.copy(run_dir / RUN_JSON, target / RUN_JSON)
    shutil.copy(run_dir / "contributions.parquet", target / "contributions.parquet")
    heavy = (
        run.incidence.group_by("account_index")
        .agg(pl.len().alias("_n"))
        .sort(["_n", "account_index"], descending=[True, False])
        .head(n_accounts)
        .join(run.graph_accounts, on="account_index")
    )
    cluster_id = int(run.clusters[S.CLUSTER_ID].max()) + 1
    members = run.members.with_columns(
        pl.when(pl.col(S.ACCOUNT_ID).is_in(heavy[S.ACCOUNT_ID].implode()))
        .then(pl.lit(cluster_id))
        .otherwise(pl.col(S.CLUSTER_ID))
        .alias(S.CLUSTER_ID)
    )
    members.write_parquet(target / "members.parquet")
    row = run.clusters.head(1).with_columns(
        pl.lit(cluster_id, pl.Int64).alias(S.CLUSTER_ID),
        pl.lit(heavy.height, pl.UInt32).alias("size"),
        pl.lit(0.5).alias(S.CLUSTER_SCORE),
        pl.lit(False).alias(S.FLAGGED),
        pl.lit(f"synthetic: the {heavy.height:,} accounts holding the most values").alias(
            "summary"
        ),
    )
    pl.concat([run.clusters, row]).write_parquet(target / "clusters.parquet")
    return target, cluster_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run folder")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write pages (default: a temp dir)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--synthetic", type=int, default=0, help="also draw a fabricated cluster of N accounts"
    )
    parser.add_argument(
        "--unbudgeted", action="store_true", help="also open the synthetic cluster unbudgeted"
    )
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench_pages_"))
    out = args.out or work / "graphs"
    start = time.perf_counter()
    run = load_run(args.run)
    for table in (
        "members",
        "clusters",
        "incidence",
        "values",
        "graph_accounts",
        "profile_accounts",
    ):
        getattr(run, table)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pages = write_graph_pages(run, out)
    total = time.perf_counter() - start
    seconds = [info.seconds for info in pages.clusters]
    print(f"## {args.run}: {run}\n")
    print(
        "| pages written | tables read s | writing s (all pages) | per cluster page s: median | max | "
        "overview s | MiB in all |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    mib = sum(p.stat().st_size for p in out.glob("*.html")) / 2**20
    print(
        f"| {len(pages.clusters)} + overview | {load_seconds:.2f} | {total:.2f} | {statistics.median(seconds):.2f} "
        f"| {max(seconds):.2f} | {pages.overview.seconds:.2f} | {mib:.1f} |\n"
    )

    sizes = dict(zip(run.clusters[S.CLUSTER_ID].to_list(), run.clusters["size"].to_list()))
    largest = max(pages.clusters, key=lambda info: (sizes[info.cluster_id], -info.cluster_id))
    targets = [
        (
            f"cluster {largest.cluster_id} ({sizes[largest.cluster_id]:,} accounts, the largest)",
            largest.path,
            largest.collapsed,
        ),
        ("overview", pages.overview.path, pages.overview.collapsed),
    ]
    if args.synthetic:
        synthetic, cluster_id = synthetic_run(args.run, work / "synthetic", args.synthetic)
        start = time.perf_counter()
        fabricated = write_graph_pages(
            load_run(synthetic), synthetic / "graphs", clusters=[cluster_id]
        )
        info = fabricated.clusters[0]
        print(
            f"synthetic cluster of {args.synthetic:,} accounts: page written in {info.seconds:.2f} s "
            f"(with reading the tables and the overview: {time.perf_counter() - start:.2f} s)\n"
        )
        targets.append(
            (f"synthetic cluster ({args.synthetic:,} accounts)", info.path, info.collapsed)
        )
        if args.unbudgeted:
            start = time.perf_counter()
            full = write_graph_pages(
                load_run(synthetic),
                work / "unbudgeted",
                clusters=[cluster_id],
                node_budget=10**7,
                edge_budget=10**8,
            ).clusters[0]
            print(f"the same cluster without a budget: page written in {full.seconds:.2f} s\n")
            targets.append(
                (f"synthetic cluster ({args.synthetic:,} accounts), no budget", full.path, False)
            )
    print(
        f"| page | accounts drawn as | nodes | edges | MiB | open s (wall, median of {args.repeat}) | "
        "max | open s (in page) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium, args=LAUNCH_ARGS, headless=True
        )
        for label, path, collapsed in targets:
            figures = open_times(browser, path, args.repeat)
            shown = json.loads(
                path.read_text(encoding="utf-8")
                .split('id="graph-data">', 1)[1]
                .split("</script>", 1)[0]
            ).get("expected", {})
            drawn = (
                f"{shown.get('account_nodes', 0):,} nodes" + (" (collapsed)" if collapsed else "")
                if "account_nodes" in shown
                else f"{shown.get('nodes', 0):,} clusters"
            )
            print(
                f"| {label} | {drawn} | {figures['nodes']:,} | {figures['edges']:,} | {figures['mib']:.1f} "
                f"| {figures['wall_median']:.2f} | {figures['wall_max']:.2f} | {figures['page_median']:.2f} |"
            )
        browser.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
