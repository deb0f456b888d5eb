"""Public entry points: write a world to a directory, or return it as frames."""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.core.version import __version__
from acctgraph.simulate import dirt
from acctgraph.simulate.generate import (
    build_roster,
    exchange_chunks,
    labels,
    new_dirt_counts,
    resolve_spec,
)
from acctgraph.simulate.spec import WorldSpec

EXCHANGES_ARROW = pa.schema(
    [
        (S.ACCOUNT_ID, pa.string()),
        (S.TIMESTAMP, pa.timestamp("us", tz="UTC")),
        (S.IP, pa.string()),
        (S.PROMPT, pa.string()),
        (S.USER_AGENT, pa.string()),
        (S.MODEL, pa.string()),
        (S.INPUT_TOKENS, pa.int64()),
        (S.OUTPUT_TOKENS, pa.int64()),
    ]
)
ACCOUNT_FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate` wrote.

    ``n_accounts`` counts every account (labels); ``n_accounts_in_table`` those in the
    accounts file; ``n_exchanges`` the rows of exchanges.parquet (duplicates included).
    ``operators`` lists each operator's id, tradecraft, accounts and exchange rows.
    """

    out_dir: str
    n_accounts: int
    n_accounts_in_table: int
    n_exchanges: int
    n_fraud_accounts: int
    n_fraud_exchanges: int
    operators: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    dirt: dict[str, int] = field(default_factory=dict)


class _RowGroupWriter:
    """Parquet writer emitting row groups of exactly ``rows`` rows (the last excepted),
    whatever the sizes of the frames written: memory holds at most one row group plus
    one frame. Row-group boundaries (and every row) do not depend on the chunking; the
    data pages inside a row group do (pyarrow cuts them at the frames' boundaries), so
    byte-identical files need the same ``chunk_exchanges``, as the same spec gives."""

    def __init__(self, path: Path, rows: int, level: int) -> None:
        self._writer = pq.ParquetWriter(
            path, EXCHANGES_ARROW, compression="zstd", compression_level=level
        )
        self._rows = rows
        self._pending: list[pa.Table] = []
        self._n = 0

    def write(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow().cast(EXCHANGES_ARROW)
        self._pending.append(table)
        self._n += table.num_rows
        while self._n >= self._rows:
            merged = pa.concat_tables(self._pending)
            self._writer.write_table(merged.slice(0, self._rows), row_group_size=self._rows)
            rest = merged.slice(self._rows)
            self._pending = [rest]
            self._n = rest.num_rows

    def close(self) -> None:
        if self._n:
            self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._rows)
        self._writer.close()


def simulate_frames(
    spec: WorldSpec | str, *, seed: int, scale: float = 1.0
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Generate a world in memory: ``(accounts, exchanges, labels)``.

    The frames hold exactly what :func:`simulate` writes (``created_at`` is ISO 8601
    text, with the planted unparseable values). Meant for tiny and sample worlds.
    ``scale`` multiplies the accounts as :meth:`WorldSpec.scaled` does.

    Examples
    --------
    >>> accounts, exchanges, labels = simulate_frames("tiny", seed=1)
    >>> labels.height >= accounts.height, exchanges.height > 10 * accounts.height
    (True, True)
    """
    spec = resolve_spec(spec, scale)
    world, roster, operators = build_roster(spec, seed)
    counts = new_dirt_counts()
    accounts = dirt.accounts(roster, spec, counts)
    chunks = list(exchange_chunks(world, roster, counts, {}))
    exchanges = pl.concat(chunks) if chunks else pl.DataFrame(schema=S.EXCHANGES_SCHEMA)
    return accounts, exchanges, labels(roster, operators if spec.tradecraft_in_labels else None)


def simulate(
    spec: WorldSpec | str,
    *,
    seed: int,
    out: str | Path,
    accounts_format: str = "csv",
    scale: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Generate a world with ground truth and write it to ``out``.

    Writes ``accounts.csv`` (or ``accounts.parquet``), ``exchanges.parquet`` (zstd,
    sorted by account and time), ``labels.csv`` and a ``README.md`` describing the
    world. The same spec and seed give byte-identical files. Exchanges are generated
    and written in chunks of about ``spec.chunk_exchanges`` rows (Parquet row groups of
    ``spec.row_group_rows``), so memory is bounded by the roster (one row per account)
    plus one chunk whatever the size of the world: the ``incident`` preset (1M accounts,
    ~40M exchanges) peaks at about 2 GB.

    Parameters
    ----------
    spec
        A :class:`WorldSpec` or a preset name (``tiny``, ``sample``, ``bench``,
        ``incident``, ``random``).
    seed
        Non-negative integer seed.
    out
        Output directory (created if missing; existing files are overwritten).
    accounts_format
        ``csv`` or ``parquet``.
    scale
        Multiplies the number of accounts (:meth:`WorldSpec.scaled`): ``1/8`` of the
        ``incident`` preset is 125,000 accounts and about 5M exchanges. 1 (default)
        leaves the spec untouched.
    progress
        Called with (exchanges generated so far, exchanges planned): once with 0 when
        the accounts and labels are written, then after each chunk of exchanges.

    Examples
    --------
    >>> import tempfile
    >>> summary = simulate("tiny", seed=3, out=tempfile.mkdtemp())
    >>> sorted(summary.files)
    ['README.md', 'accounts.csv', 'exchanges.parquet', 'labels.csv']
    """
    spec = resolve_spec(spec, scale)
    if accounts_format not in ACCOUNT_FORMATS:
        raise ConfigError(
            f"accounts_format must be one of {ACCOUNT_FORMATS}, got {accounts_format!r}"
        )
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    world, roster, operators = build_roster(spec, seed)
    counts = new_dirt_counts()
    accounts = dirt.accounts(roster, spec, counts)
    accounts_file = f"{S.ACCOUNTS}.{accounts_format}"
    if accounts_format == "csv":
        accounts.write_csv(out_dir / accounts_file)
    else:
        pq.write_table(
            accounts.to_arrow().cast(pa.schema([(c, pa.string()) for c in accounts.columns])),
            out_dir / accounts_file,
            compression="zstd",
            compression_level=spec.compression_level,
        )
    truth = labels(roster, operators if spec.tradecraft_in_labels else None)
    truth.write_csv(out_dir / f"{S.LABELS}.csv")

    planned = int(roster["n_exchanges"].sum())
    per_operator: dict[str, int] = {}
    writer = _RowGroupWriter(
        out_dir / f"{S.EXCHANGES}.parquet", spec.row_group_rows, spec.compression_level
    )
    done = 0
    if progress is not None:  # the roster, accounts and labels are written
        progress(done, planned)
    try:
        for frame in exchange_chunks(world, roster, counts, per_operator):
            writer.write(frame)
            done = min(planned, done + frame.height)
            if progress is not None:
                progress(done, planned)
    finally:
        writer.close()
    del roster

    for op in operators:
        op["n_exchanges"] = per_operator.get(op["operator_id"], 0)
    n_exchanges = sum(per_operator.values())
    summary = SimulationSummary(
        out_dir=str(out_dir),
        n_accounts=truth.height,
        n_accounts_in_table=accounts.height,
        n_exchanges=n_exchanges,
        n_fraud_accounts=int(truth[S.OPERATOR_ID].is_not_null().sum()),
        n_fraud_exchanges=n_exchanges - per_operator.get("", 0),
        operators=operators,
        files=sorted([accounts_file, f"{S.EXCHANGES}.parquet", f"{S.LABELS}.csv", "README.md"]),
        dirt=dict(counts),
    )
    (out_dir / "README.md").write_text(readme(spec, seed, summary, truth), encoding="utf-8")
    return summary


def readme(spec: WorldSpec, seed: int, summary: SimulationSummary, truth: pl.DataFrame) -> str:
    """The generated description of a world directory."""
    kinds = truth.group_by(S.KIND).len().sort(S.KIND)
    lines = [
        f"# Simulated world: {spec.name}, seed {seed}",
        "",
        (
            "Synthetic accounts and API exchanges with ground truth, made by `acctgraph simulate`"
            f" (acctgraph {__version__}, Python {platform.python_version()}, polars {pl.__version__},"
            f" pyarrow {pa.__version__}, numpy {np.__version__})."
        ),
        "Nothing here describes real people. How the world is built, and what every",
        "population, operator tradecraft and kind of dirt means: docs/simulator.md.",
        "",
        "## Files",
        "",
        (
            f"- `{next(f for f in summary.files if f.startswith(S.ACCOUNTS))}`: "
            f"{summary.n_accounts_in_table:,} accounts (created_at as ISO 8601 text, UTC)"
        ),
        f"- `exchanges.parquet`: {summary.n_exchanges:,} exchanges, sorted by account and time",
        (
            f"- `labels.csv`: ground truth for all {summary.n_accounts:,} accounts "
            "(operator_id empty for legitimate accounts)"
        ),
        "",
        "## Counts",
        "",
        "| what | count |",
        "| --- | ---: |",
        f"| accounts (labels) | {summary.n_accounts:,} |",
        f"| accounts in the accounts table | {summary.n_accounts_in_table:,} |",
        f"| exchanges | {summary.n_exchanges:,} |",
        (
            f"| fraudulent accounts | {summary.n_fraud_accounts:,} "
            f"({summary.n_fraud_accounts / max(summary.n_accounts, 1):.1%}) |"
        ),
        (
            f"| fraudulent exchanges | {summary.n_fraud_exchanges:,} "
            f"({summary.n_fraud_exchanges / max(summary.n_exchanges, 1):.1%}) |"
        ),
    ]
    lines += [f"| kind `{k}` | {n:,} |" for k, n in kinds.iter_rows()]
    lines += [
        "",
        "## Operators",
        "",
        "| operator | accounts | exchanges | tradecraft |",
        "| --- | ---: | ---: | --- |",
    ]
    lines += [
        f"| {op['operator_id']} | {op['n_accounts']:,} | {op['n_exchanges']:,} | {op['tradecraft']} |"
        for op in summary.operators
    ]
    lines += [
        "",
        "## Dirt",
        "",
        "Planted on purpose; a loader must survive all of it.",
        "",
        "| kind | count |",
        "| --- | ---: |",
    ]
    lines += [f"| {k} | {n:,} |" for k, n in summary.dirt.items()]
    lines += [
        "",
        (
            "Window: every exchange falls in "
            f"{spec.window_start:%Y-%m-%dT%H:%MZ} .. {spec.window_end:%Y-%m-%dT%H:%MZ}."
        ),
        "",
    ]
    return "\n".join(lines)
