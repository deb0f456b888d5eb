"""How the cost of `acctgraph run` grows: the incident world at 1/8, 1/4, 1/2 and full size.

For each size, in one go and each in its own fresh child process:

1. **world**: ``acctgraph simulate --preset incident --scale S --seed SEED`` into
   ``WORLDS/w_incident_8``, ``w_incident_4``, ``w_incident_2`` and ``w_incident`` (full
   size). A world already there is reused when its README names the same preset,
   scale and seed (worlds are deterministic); otherwise it is generated once, and the
   simulator's wall time and peak RSS are kept next to it
   (``WORLDS/w_incident_8.simulate.json``).
2. **floor**: one scan of the exchanges with polars, reading every column the run
   uses (``account_id, timestamp, ip, prompt, output_tokens``) and computing nothing:
   ``scan_parquet(...).select(cols).collect_batches(engine="streaming")``, each batch
   dropped as it arrives (bounded memory: 0.6 GB at full size, where a plain
   ``collect()`` would hold every prompt, ~7 GB). Repeated ``--floor-repeat`` times in the same
   child; the median is the floor (files in the page cache, as for the run, which
   reads them right after).
3. **run**: ``acctgraph run WORLD --out WORLDS/scale_runs/NAME --quiet``: wall time, peak
   RSS of that child (``os.wait4`` rusage), per-stage seconds and peak RSS from its
   run.json, quality from ``acctgraph.evaluation.metrics`` against the world's labels. The run
   gets a time limit and an address-space cap too (``--run-timeout``, ``--run-memory-gb``).
4. **baseline**: the naive connected-components baseline (``acctgraph.evaluation.baseline``, read
   and scored as in ``benchmarks/bench_baseline.py``), with a time limit and an
   address-space cap (``RLIMIT_AS``) so that "ran out of time / memory at size X" is
   recorded instead of taking the machine down.

Writes, under ``--report-dir`` (default ``docs/``): ``scaling.json`` (every raw
figure), ``scaling-table.md`` (the Markdown tables, also printed) and the plot of
time and peak memory against exchanges, ``scaling.png`` (matplotlib, when importable)
or ``scaling.svg`` (drawn by this script: no dependency).

Usage (the whole measurement: about 15-25 minutes once the worlds exist; generating
the four worlds adds about 10 minutes and 2.6 GB of disk, kept for the next time)::

    .venv/bin/python benchmarks/bench_scale.py /tmp

    # options: which sizes, seed, where the outputs go, limits of the baseline and the run
    .venv/bin/python benchmarks/bench_scale.py /tmp --scales 1/8 1/4 1/2 1 --seed 1 \\
        --report-dir docs --baseline-timeout 900 --baseline-memory-gb 20 \\
        --run-timeout 3600 --run-memory-gb 20 --floor-repeat 3
    # a smoke test on the smallest size, outputs outside docs/
    .venv/bin/python benchmarks/bench_scale.py /tmp --scales 1/8 --report-dir /tmp/scale_smoke

Run nothing else on the machine meanwhile; the figures are those of one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCTGRAPH = str(Path(sys.executable).with_name("acctgraph"))
PRESET = "incident"
SCALES = ("1/8", "1/4", "1/2", "1")
FLOOR_COLUMNS = ("account_id", "timestamp", "ip", "prompt", "output_tokens")
"""Exchange columns `acctgraph run` reads (acctgraph/features/reduce.py)."""
GIB = 1024**3
MIB = 1024**2


# --------------------------------------------------------------------------- child processes
@dataclass
class Child:
    """What happened to one child process."""

    status: str  # "ok", "timeout", "memory", "error"
    wall: float
    peak_rss_mib: float
    returncode: int | None
    stdout: str = ""
    stderr_tail: str = ""


_MEMORY_SIGNS = (
    "MemoryError",
    "memory allocation",
    "Cannot allocate memory",
    "out of memory",
    "std::bad_alloc",
    "alloc failed",
    "capacity overflow",
)


def run_child(
    command: list[str], *, timeout: float, memory_bytes: int | None, cwd: str | None = None
) -> Child:
    """Run ``command`` in a fresh process (own session), with a time limit and an address-space cap.

    Peak RSS comes from ``os.wait4`` (this child and the descendants it waited for). A
    child killed by the time limit is ``timeout``; one that died of a failed allocation
    (MemoryError and the like on stderr, SIGKILL from the kernel, or SIGABRT/SIGSEGV
    under the cap) is ``memory``.
    """

    if memory_bytes:  # a tiny shim sets the limit, then execs the command (limits survive exec)
        shim = (
            "import os, resource, sys; "
            "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2); "
            "os.execv(sys.argv[2], sys.argv[2:])"
        )
        executable = shutil.which(command[0]) or command[0]
        command = [sys.executable, "-c", shim, str(memory_bytes), executable, *command[1:]]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True, cwd=cwd)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.1)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    code = process.returncode
    if timed_out:
        verdict = "timeout"
    elif code == 0:
        verdict = "ok"
    elif (
        any(sign in stderr for sign in _MEMORY_SIGNS)
        or code == -signal.SIGKILL
        or (memory_bytes and code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS))
    ):
        verdict = "memory"
    else:
        verdict = "error"
    return Child(verdict, wall, usage.ru_maxrss / 1024.0, code, stdout, stderr[-2000:])


def _child_json(child: Child) -> dict:
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def floor_child(world: Path, repeat: int) -> None:
    """Child: scan the exchanges ``repeat`` times, keeping nothing; print seconds and rows."""
    import polars as pl

    seconds, rows = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = 0
        lazy = pl.scan_parquet(world / "exchanges.parquet").select(FLOOR_COLUMNS)
        for batch in lazy.collect_batches(engine="streaming"):
            rows += batch.height
        seconds.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def baseline_child(world: Path) -> None:
    """Child: the naive baseline on one world, as benchmarks/bench_baseline.py runs it."""
    sys.path.insert(0, str(HERE))
    import polars as pl
    from bench_baseline import read_world

    from acctgraph.evaluation.baseline import connected_components_baseline
    from acctgraph.evaluation.metrics import evaluate

    start = time.perf_counter()
    accounts, exchanges, labels = read_world(world)
    read = time.perf_counter() - start
    n_exchanges = exchanges.select(pl.len()).collect().item()
    start = time.perf_counter()
    members = connected_components_baseline(accounts, exchanges)
    seconds = time.perf_counter() - start
    result = evaluate(members, labels)
    print(
        json.dumps(
            {
                "read_seconds": read,
                "seconds": seconds,
                "exchanges": n_exchanges,
                "flagged": int(members["flagged"].sum()),
                "precision": result.precision,
                "recall": result.recall,
                "f1": result.f1,
                "bcubed_f1": result.bcubed_f1,
                "flagged_legit_org": result.flagged_legitimate_organisation,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


# --------------------------------------------------------------------------- one size
def world_name(scale: float) -> str:
    """``w_incident`` at full size, ``w_incident_8`` at 1/8, ``w_incident_x0.3`` otherwise."""
    if scale == 1:
        return "w_incident"
    inverse = 1 / scale
    if abs(inverse - round(inverse)) < 1e-9:
        return f"w_incident_{round(inverse)}"
    return f"w_incident_x{scale:g}"


def ensure_world(worlds: Path, scale_text: str, seed: int) -> tuple[Path, dict]:
    """The world of this size (generated unless an identical one is there) and its simulator figures."""
    sys.path.insert(0, str(HERE))
    from bench_simulate import measure

    from acctgraph.simulate.generate import resolve_spec
    from acctgraph.simulate.spec import parse_scale

    scale = parse_scale(scale_text)
    spec = resolve_spec(PRESET, scale)
    name = world_name(scale)
    world = worlds / name
    sidecar = worlds / f"{name}.simulate.json"
    expected = f"# Simulated world: {spec.name}, seed {seed}"
    readme = world / "README.md"
    if readme.exists():
        first = readme.read_text(encoding="utf-8").splitlines()[0]
        if first != expected:
            raise SystemExit(
                f"{world} holds another world ({first!r}, expected {expected!r}); "
                "move it away or give another WORLDS directory"
            )
        figures = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        return world, {**figures, "generated_now": False}
    simulator_files = {"accounts.csv", "accounts.parquet", "exchanges.parquet", "labels.csv"}
    if world.exists() and not {p.name for p in world.iterdir()} <= simulator_files:
        raise SystemExit(f"{world} exists and is not a simulated world; move it away")
    print(f"generating {world} ({spec.name}, seed {seed})...", file=sys.stderr, flush=True)
    result = measure(PRESET, scale_text, seed, str(world))
    figures = {
        "wall": result["wall"],
        "roster_seconds": result.get("roster_seconds"),
        "peak_rss_mib": result["peak_rss_kib"] / 1024,
        "exchanges_parquet_mib": result["files"]["exchanges.parquet"] / MIB,
        "files_mib": sum(result["files"].values()) / MIB,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    sidecar.write_text(json.dumps(figures, indent=2) + "\n")
    return world, {**figures, "generated_now": True}


def world_counts(world: Path) -> dict:
    """Accounts, exchanges and fraud share, read from the files."""
    import polars as pl

    labels = pl.read_csv(world / "labels.csv", infer_schema=False)
    exchanges = pl.scan_parquet(world / "exchanges.parquet").select(pl.len()).collect().item()
    return {
        "accounts": labels.height,
        "fraud_accounts": int(labels["operator_id"].is_not_null().sum()),
        "exchanges": int(exchanges),
        "exchanges_parquet_mib": (world / "exchanges.parquet").stat().st_size / MIB,
    }


def measure_run(world: Path, out: Path, *, timeout: float, memory_bytes: int | None) -> dict:
    """`acctgraph run` in a fresh child: wall, peak RSS, run.json stages, quality."""
    from acctgraph.evaluation.metrics import evaluate
    from acctgraph.load import load_labels, load_members

    if out.exists():
        shutil.rmtree(out)
    child = run_child(
        [ACCTGRAPH, "run", str(world), "--out", str(out), "--quiet"],
        timeout=timeout,
        memory_bytes=memory_bytes,
    )
    figures: dict = {
        "status": child.status,
        "wall": child.wall,
        "peak_rss_mib": child.peak_rss_mib,
        "returncode": child.returncode,
    }
    if child.status != "ok":
        figures["stderr_tail"] = child.stderr_tail
        return figures
    record = json.loads((out / "run.json").read_text())
    figures["stages"] = [
        {
            "stage": t["stage"],
            "seconds": t.get("seconds"),
            "peak_rss_mb": t.get("peak_rss_mb"),
            "cpu_user_seconds": t.get("cpu_user_seconds"),
            "cpu_system_seconds": t.get("cpu_system_seconds"),
        }
        for t in record.get("timing", [])
    ]
    result = evaluate(
        load_members(out / "members.parquet"), load_labels(world / "labels.csv")
    ).to_dict()
    hardest = min(result["operators"], key=lambda o: (o["recall"], o["operator_id"]))
    figures["quality"] = {
        "precision": result["accounts"]["precision"],
        "recall": result["accounts"]["recall"],
        "bcubed_f1": result["clustering"]["bcubed_f1"],
        "flagged_legit_org": result["flagged_legitimate_organisation"],
        "hardest_operator": f"{hardest['operator_id']} ({hardest['recall']:.2f})",
    }
    return figures


def measure_floor(world: Path, repeat: int) -> dict:
    child = run_child(
        [sys.executable, __file__, "--child-floor", str(world), "--floor-repeat", str(repeat)],
        timeout=3600,
        memory_bytes=None,
    )
    if child.status != "ok":
        return {"status": child.status, "stderr_tail": child.stderr_tail}
    data = _child_json(child)
    return {
        "status": "ok",
        "seconds": statistics.median(data["seconds"]),
        "runs": data["seconds"],
        "rows": data["rows"],
        "peak_rss_mib": child.peak_rss_mib,
        "wall": child.wall,
    }


def measure_baseline(world: Path, *, timeout: float, memory_bytes: int | None) -> dict:
    child = run_child(
        [sys.executable, __file__, "--child-baseline", str(world)],
        timeout=timeout,
        memory_bytes=memory_bytes,
    )
    figures = {
        "status": child.status,
        "wall": child.wall,
        "peak_rss_mib": child.peak_rss_mib,
        "returncode": child.returncode,
    }
    if child.status == "ok":
        figures.update(_child_json(child))
        figures["peak_rss_mib"] = child.peak_rss_mib
    else:
        figures["stderr_tail"] = child.stderr_tail
    return figures


# --------------------------------------------------------------------------- reporting
def growth_exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y against log x (1 = linear growth); None with < 2 points."""
    points = [
        (math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y and y > 0
    ]
    if len(points) < 2:
        return None
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else None


def _cell(value, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _outcome(figures: dict, fmt: str = "{:.1f}", key: str = "wall") -> str:
    status = figures.get("status")
    if status == "ok":
        return _cell(figures.get(key), fmt)
    if status is None:
        return "not run"
    return f"**{status}** after {figures.get('wall', 0):.0f} s"


def stage_names(sizes: list[dict]) -> list[str]:
    names: list[str] = []
    for size in sizes:
        for stage in size.get("run", {}).get("stages", []):
            if stage["stage"] not in names:
                names.append(stage["stage"])
    return names


def markdown(report: dict) -> str:
    sizes = report["sizes"]
    stages = stage_names(sizes)
    lines = [
        (
            f"Measured {report['date']} ({report['machine']}), seed {report['seed']}, "
            f"preset `{PRESET}`; commit {report['commit']}."
        ),
        "",
        "| "
        + " | ".join(
            [
                "size",
                "accounts",
                "exchanges",
                "floor s",
                "run wall s",
                "run / floor",
                "run peak RSS MiB",
                *(f"{s} s" for s in stages),
                "precision",
                "recall",
                "B-cubed F1",
                "flagged legit org",
                "hardest operator",
            ]
        )
        + " |",
        "|---|" + "---:|" * (10 + len(stages)) + "---|",
    ]
    for size in sizes:
        run, floor = size.get("run", {}), size.get("floor", {})
        by_stage = {s["stage"]: s["seconds"] for s in run.get("stages", [])}
        quality = run.get("quality", {})
        ratio = (
            (run["wall"] / floor["seconds"])
            if run.get("status") == "ok" and floor.get("seconds")
            else None
        )
        lines.append(
            f"| {size['scale']} | {size['accounts']:,} | {size['exchanges']:,} "
            f"| {_cell(floor.get('seconds'))} | {_outcome(run)} | {_cell(ratio, '{:.1f}×')} "
            f"| {_cell(run.get('peak_rss_mib'), '{:,.0f}')} "
            + "".join(f"| {_cell(by_stage.get(s))} " for s in stages)
            + f"| {_cell(quality.get('precision'), '{:.3f}')} | {_cell(quality.get('recall'), '{:.3f}')} "
            f"| {_cell(quality.get('bcubed_f1'), '{:.3f}')} | {_cell(quality.get('flagged_legit_org'), '{}')} "
            f"| {quality.get('hardest_operator', '–')} |"
        )
    lines += [
        "",
        (
            "| size | exchanges | floor peak RSS MiB | baseline s (call) | baseline wall s "
            "| baseline peak RSS MiB | baseline precision | baseline B-cubed F1 "
            "| baseline flagged legit org | simulate s | simulate peak RSS MiB | exchanges.parquet MiB |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        base, floor, sim = size.get("baseline", {}), size.get("floor", {}), size.get("simulate", {})
        ok = base.get("status") == "ok"
        sim_note = "" if sim.get("generated_now", True) else " (earlier)"
        lines.append(
            f"| {size['scale']} | {size['exchanges']:,} | {_cell(floor.get('peak_rss_mib'), '{:,.0f}')} "
            f"| {_outcome(base, '{:.1f}', 'seconds')} | {_cell(base.get('wall')) if ok else '–'} "
            f"| {_cell(base.get('peak_rss_mib'), '{:,.0f}')} "
            f"| {_cell(base.get('precision') if ok else None, '{:.3f}')} "
            f"| {_cell(base.get('bcubed_f1') if ok else None, '{:.3f}')} "
            f"| {_cell(base.get('flagged_legit_org') if ok else None, '{:,}')} "
            f"| {_cell(sim.get('wall'))}{sim_note if sim.get('wall') else ''} "
            f"| {_cell(sim.get('peak_rss_mib'), '{:,.0f}')} | {size['exchanges_parquet_mib']:,.0f} |"
        )
    largest = next(
        (size for size in reversed(sizes) if size.get("run", {}).get("status") == "ok"), None
    )
    if largest and any(t.get("cpu_user_seconds") is not None for t in largest["run"]["stages"]):
        lines += [
            "",
            (
                f"CPU per stage at size {largest['scale']} (user and kernel seconds over all threads; "
                "cores = CPU seconds / wall seconds):"
            ),
            "",
            "| stage | wall s | user s | system s | cores |",
            "|---|---:|---:|---:|---:|",
        ]
        for t in largest["run"]["stages"]:
            cpu = (t.get("cpu_user_seconds") or 0) + (t.get("cpu_system_seconds") or 0)
            lines.append(
                f"| {t['stage']} | {_cell(t['seconds'])} | {_cell(t.get('cpu_user_seconds'))} "
                f"| {_cell(t.get('cpu_system_seconds'))} "
                f"| {_cell(cpu / t['seconds'] if t['seconds'] else None, '{:.2f}')} |"
            )
    growth = report.get("growth", {})
    if any(value is not None for value in growth.values()):
        lines += [
            "",
            "Growth exponents (least-squares slope of log cost against log exchanges; 1 = linear):",
            "",
        ]
        lines += ["| what | exponent |", "|---|---:|"]
        lines += [
            f"| {name} | {value:.2f} |" for name, value in growth.items() if value is not None
        ]
        fastest = fastest_stage(report)
        if fastest:
            lines += [
                "",
                (
                    f"Fastest-growing stage (of those taking at least 5% of the largest run): "
                    f"`{fastest[0]}`, exponent {fastest[1]:.2f}."
                ),
            ]
    return "\n".join(lines) + "\n"


def fastest_stage(report: dict) -> tuple[str, float] | None:
    """The stage with the largest growth exponent among those that matter at the largest size."""
    runs = [s["run"] for s in report["sizes"] if s.get("run", {}).get("status") == "ok"]
    if not runs:
        return None
    largest = runs[-1]
    total = sum(t["seconds"] or 0 for t in largest["stages"]) or 1.0
    candidates = [
        (t["stage"], report["growth"].get(f"stage {t['stage']}"))
        for t in largest["stages"]
        if (t["seconds"] or 0) >= 0.05 * total
    ]
    candidates = [c for c in candidates if c[1] is not None]
    return max(candidates, key=lambda c: c[1]) if candidates else None


def growth(sizes: list[dict]) -> dict[str, float | None]:
    ok = [s for s in sizes if s.get("run", {}).get("status") == "ok"]
    xs = [s["exchanges"] for s in ok]
    out: dict[str, float | None] = {
        "run wall": growth_exponent(xs, [s["run"]["wall"] for s in ok]),
        "run peak RSS": growth_exponent(xs, [s["run"]["peak_rss_mib"] for s in ok]),
        "floor": growth_exponent(
            [s["exchanges"] for s in sizes if s.get("floor", {}).get("seconds")],
            [s["floor"]["seconds"] for s in sizes if s.get("floor", {}).get("seconds")],
        ),
    }
    for stage in stage_names(sizes):
        values = [
            next((t["seconds"] for t in s["run"]["stages"] if t["stage"] == stage), None)
            for s in ok
        ]
        out[f"stage {stage}"] = growth_exponent(xs, values)
    base = [s for s in sizes if s.get("baseline", {}).get("status") == "ok"]
    out["baseline call"] = growth_exponent(
        [s["exchanges"] for s in base], [s["baseline"]["seconds"] for s in base]
    )
    return out


# --------------------------------------------------------------------------- plots
def series(
    sizes: list[dict],
) -> tuple[list[tuple[str, list, list]], list[tuple[str, list, list]], list]:
    """(time series, memory series, failures) as (label, x in millions, y)."""

    def pick(part: str, key: str, divide: float = 1.0):
        rows = [
            s
            for s in sizes
            if s.get(part, {}).get("status") == "ok" and s[part].get(key) is not None
        ]
        return [s["exchanges"] / 1e6 for s in rows], [s[part][key] / divide for s in rows]

    times = [
        ("acctgraph run (wall)", *pick("run", "wall")),
        ("naive baseline (call)", *pick("baseline", "seconds")),
        ("floor: one polars scan", *pick("floor", "seconds")),
    ]
    memory = [
        ("acctgraph run", *pick("run", "peak_rss_mib", 1024)),
        ("naive baseline", *pick("baseline", "peak_rss_mib", 1024)),
        ("floor scan", *pick("floor", "peak_rss_mib", 1024)),
    ]
    failures = [
        (f"{part} {s[part]['status']}", s["exchanges"] / 1e6)
        for s in sizes
        for part in ("run", "baseline")
        if s.get(part, {}).get("status") not in (None, "ok")
    ]
    return times, memory, failures


def plot_png(sizes: list[dict], path: Path, targets: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times, memory, failures = series(sizes)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, data, ylabel, target in (
        (axes[0], times, "seconds", targets.get("seconds")),
        (axes[1], memory, "peak RSS (GiB)", targets.get("gib")),
    ):
        for label, x, y in data:
            if x:
                ax.plot(x, y, marker="o", label=label)
        if data[0][1]:  # linear growth from the smallest size, for reference
            x0, y0 = data[0][1][0], data[0][2][0]
            xs = [x for _, xx, _ in data for x in xx]
            ax.plot(
                [x0, max(xs)],
                [y0, y0 * max(xs) / x0],
                ls=":",
                color="grey",
                label="linear from 1/8",
            )
        if target:
            ax.axhline(target, color="red", lw=0.8, ls="--", label=f"target {target:g}")
        for label, x in failures:
            ax.axvline(x, color="black", lw=0.6, ls="-.")
            ax.annotate(label, (x, ax.get_ylim()[1]), rotation=90, va="top", ha="right", fontsize=7)
        ax.set_xlabel("exchanges (millions)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("time against exchanges")
    axes[1].set_title("peak memory against exchanges")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def ticks(top: float) -> list[float]:
    """Round tick values from 0 to ``top``: steps of 1, 2 or 5 times a power of ten (3 to 6 ticks)."""
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(int(top // step) + 1)]


def plot_svg(sizes: list[dict], path: Path, targets: dict) -> None:
    """The same two panels as :func:`plot_png`, drawn as plain SVG (no dependency)."""
    times, memory, failures = series(sizes)
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c")
    width, height, pad = 460, 300, 50
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height}" '
            'font-family="sans-serif" font-size="11">'
        )
    ]
    for panel, (data, title, target) in enumerate(
        (
            (times, "seconds against exchanges (M)", targets.get("seconds")),
            (memory, "peak RSS GiB against exchanges (M)", targets.get("gib")),
        )
    ):
        ox = panel * width
        xs = [x for _, xx, _ in data for x in xx] or [1]
        ys = [y for _, _, yy in data for y in yy] + ([target] if target else []) or [1]
        xmax, ymax = max(xs) * 1.05, max(ys) * 1.1

        def px(x, ox=ox, xmax=xmax):
            return ox + pad + (width - 2 * pad) * x / xmax

        def py(y, ymax=ymax):
            return height - pad + (2 * pad - height) * y / ymax

        parts.append(f'<text x="{ox + width / 2}" y="20" text-anchor="middle">{title}</text>')
        parts.append(
            f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(xmax)}" y2="{py(0)}" stroke="black"/>'
        )
        parts.append(
            f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(0)}" y2="{py(ymax)}" stroke="black"/>'
        )
        for xv in ticks(xmax):
            parts.append(
                f'<text x="{px(xv):.1f}" y="{py(0) + 15:.1f}" text-anchor="middle">{xv:g}</text>'
            )
        for yv in ticks(ymax):
            parts.append(
                f'<text x="{px(0) - 5:.1f}" y="{py(yv) + 4:.1f}" text-anchor="end">{yv:g}</text>'
            )
        if target:
            parts.append(
                f'<line x1="{px(0)}" y1="{py(target):.1f}" x2="{px(xmax)}" y2="{py(target):.1f}" '
                f'stroke="red" stroke-dasharray="4 3"/><text x="{px(xmax)}" y="{py(target) - 4:.1f}" '
                f'text-anchor="end" fill="red">target {target:g}</text>'
            )
        for (label, x, y), colour, row in zip(data, colours, range(3), strict=True):
            if x:
                points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, y, strict=True))
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
                parts += [
                    f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="{colour}"/>'
                    for a, b in zip(x, y, strict=True)
                ]
            parts.append(
                f'<text x="{px(0) + 10}" y="{40 + 14 * row}" fill="{colour}">{label}</text>'
            )
        for label, x in failures:
            parts.append(
                f'<line x1="{px(x):.1f}" y1="{py(0)}" x2="{px(x):.1f}" y2="{py(ymax)}" '
                f'stroke="black" stroke-dasharray="2 2"/><text x="{px(x) - 3:.1f}" y="{py(ymax) + 10}" '
                f'text-anchor="end">{label}</text>'
            )
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- main
def machine() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    load = os.getloadavg()[0]
    return f"{cores} cores, {memory:.0f} GiB, Python {platform.python_version()}, load average at start {load:.1f}"


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"`{head}`" + (" with uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "worlds", type=Path, nargs="?", help="directory holding (or to hold) the worlds"
    )
    parser.add_argument(
        "--scales", nargs="+", default=list(SCALES), help="sizes (default: 1/8 1/4 1/2 1)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=HERE.parent / "docs",
        help="where scaling.json, scaling-table.md and the plot go (default: docs/)",
    )
    parser.add_argument(
        "--plot",
        choices=("auto", "png", "svg"),
        default="auto",
        help="auto: PNG when matplotlib is importable, else SVG",
    )
    parser.add_argument("--floor-repeat", type=int, default=3)
    parser.add_argument("--run-timeout", type=float, default=3600, help="seconds (default 3600)")
    parser.add_argument(
        "--run-memory-gb", type=float, default=20, help="address-space cap of the run, GiB"
    )
    parser.add_argument("--baseline-timeout", type=float, default=900, help="seconds (default 900)")
    parser.add_argument(
        "--baseline-memory-gb",
        type=float,
        default=20,
        help="address-space cap (RLIMIT_AS) of the baseline, GiB (default 20)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-run", action="store_true", help="worlds, floor and baseline only")
    parser.add_argument("--child-floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_floor:
        floor_child(args.child_floor, args.floor_repeat)
        return 0
    if args.child_baseline:
        baseline_child(args.child_baseline)
        return 0
    if args.worlds is None:
        parser.error("give the WORLDS directory")

    from acctgraph.simulate.spec import parse_scale

    scales = sorted(args.scales, key=parse_scale)
    args.worlds.mkdir(parents=True, exist_ok=True)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "commit": commit(),
        "seed": args.seed,
        "preset": PRESET,
        "floor_columns": list(FLOOR_COLUMNS),
        "limits": {
            "run_timeout_s": args.run_timeout,
            "run_memory_gib": args.run_memory_gb,
            "baseline_timeout_s": args.baseline_timeout,
            "baseline_memory_gib": args.baseline_memory_gb,
        },
        "sizes": [],
    }
    raw = args.report_dir / "scaling.json"
    for scale_text in scales:
        world, simulated = ensure_world(args.worlds, scale_text, args.seed)
        size = {
            "scale": scale_text,
            "world": str(world),
            **world_counts(world),
            "simulate": simulated,
        }
        print(
            f"{world.name}: {size['exchanges']:,} exchanges; floor...", file=sys.stderr, flush=True
        )
        size["floor"] = measure_floor(world, args.floor_repeat)
        if not args.skip_run:
            print(f"{world.name}: acctgraph run...", file=sys.stderr, flush=True)
            size["run"] = measure_run(
                world,
                args.worlds / "scale_runs" / world.name,
                timeout=args.run_timeout,
                memory_bytes=int(args.run_memory_gb * GIB) or None,
            )
        if not args.skip_baseline:
            print(f"{world.name}: baseline...", file=sys.stderr, flush=True)
            size["baseline"] = measure_baseline(
                world,
                timeout=args.baseline_timeout,
                memory_bytes=int(args.baseline_memory_gb * GIB) or None,
            )
        report["sizes"].append(size)
        report["growth"] = growth(report["sizes"])
        raw.write_text(
            json.dumps(report, indent=2) + "\n"
        )  # after every size: a crash keeps the rest
    table = markdown(report)
    (args.report_dir / "scaling-table.md").write_text(table, encoding="utf-8")
    print(table)
    targets = {"seconds": 300.0, "gib": 10.0}
    use_png = args.plot == "png" or (args.plot == "auto" and _has_matplotlib())
    plot = args.report_dir / ("scaling.png" if use_png else "scaling.svg")
    (plot_png if use_png else plot_svg)(report["sizes"], plot, targets)
    print(f"wrote {raw}, {args.report_dir / 'scaling-table.md'}, {plot}", file=sys.stderr)
    return 0


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
