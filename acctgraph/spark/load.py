"""Loading the exchanges on Spark, with the one-machine loader's typing, checks and messages.

:func:`spark_dataset` is :func:`~acctgraph.load.load_dataset` with the exchanges read
by Spark: one file (``.parquet``, ``.csv``, ``.ndjson``/``.jsonl``, optionally
``.gz``), a directory of part files (``exchanges/part-*.parquet``) or a Hive-style
partitioned directory (``exchanges/day=2026-05-01/…``; the partition columns become
text columns). The accounts table, account-sized, is read on the driver by the
one-machine loader. Column names are case-sensitive (``spark.sql.caseSensitive`` is set).

The exchanges are read with the one-machine loader's conventions (text formats as text:
a CSV field that is empty and unquoted is null, ``""`` is an empty string, fields may
span lines; JSON scalars as text) by Spark's parsers, which differ on malformed files
(docs/data-contract.md), renamed by the same column mapping
(:func:`~acctgraph.load.columns.column_renames`), then typed and checked by the same
polars expressions (:func:`~acctgraph.load.checks.plan_columns`) applied to each Arrow
batch in Spark's Python workers. Check counts are one Spark aggregation; a failing
check's examples are the first failing rows in file order, numbered as the
one-machine loader numbers them (row 1 is the first data row; the files of a
directory in path order, one after the other), so a bad input is refused with the
same exit status and message. Exchanges per account, and rows repeated exactly (by a
64-bit row hash, as on one machine), are one Spark group-by.

The typed exchanges are persisted (memory, then disk) for the reductions
(:func:`acctgraph.spark.reduce.spark_usage`), which read them several times, until
:meth:`SparkExchanges.release` (``run_and_write`` releases them after writing).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import InputError
from acctgraph.load import Dataset
from acctgraph.load.checks import MAX_EXAMPLES, ROW, plan_columns, report_checks, typed_name
from acctgraph.load.columns import OUTPUT_SCHEMAS, check_columns, column_renames, table_mapping
from acctgraph.load.dataset import table_paths, universe
from acctgraph.load.formats import (
    InputFile,
    file_record,
    find_table_file,
    first_line,
    table_format,
)
from acctgraph.load.tables import read_accounts, warn_if_empty, warn_repeated_rows
from acctgraph.spark.session import arrow_batches, map_in_arrow, plain_type, to_polars

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_FILE = "__acctgraph_file"
_ID = "__acctgraph_id"
_PARTITION = "__acctgraph_partition"
_ID_BITS = 33
"""``monotonically_increasing_id`` holds the partition in its upper bits, the row's place
within the partition in its lower 33."""


@dataclass
class SparkExchanges:
    """The exchanges of a :class:`~acctgraph.load.Dataset` loaded on Spark.

    ``frame``: the typed exchanges (contract columns, then the file's other columns),
    selected from ``persisted``, which :meth:`release` drops. :meth:`of_accounts` brings the exchanges of a few accounts to the driver
    (what the cards' template samples read).
    """

    frame: Any
    persisted: Any = None

    def release(self) -> None:
        """Drop the persisted exchanges from Spark's memory and disk (after the run)."""
        if self.persisted is not None:
            self.persisted.unpersist()
            self.persisted = None

    def describe(self) -> dict[str, str]:
        """The session's master URL, Spark version and driver memory (for ``run.json``)."""
        session = self.frame.sparkSession
        context = session.sparkContext
        return {
            "master": context.master,
            "version": session.version,
            "driver_memory": context.getConf().get("spark.driver.memory", "(Spark's default)"),
        }

    def of_accounts(self, account_ids: pl.Series) -> pl.LazyFrame:
        """The exchanges of ``account_ids`` as a polars frame (a small table)."""
        from pyspark.sql import functions as f

        ids = account_ids.unique().sort().to_list()
        return to_polars(self.frame.where(f.col(S.ACCOUNT_ID).isin(ids))).lazy()


def spark_dataset(
    spark: SparkSession,
    input_dir: str | Path | None = None,
    *,
    accounts: str | Path | None = None,
    exchanges: str | Path | None = None,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> Dataset:
    """:func:`~acctgraph.load.load_dataset` with the exchanges read and checked by Spark.

    ``input_dir`` holds ``accounts.<ext>`` and ``exchanges.<ext>`` (a file, or a
    directory of part files named ``exchanges``); or give both paths. The returned
    dataset's ``spark`` holds the typed Spark DataFrame; its ``exchanges`` is an empty
    polars frame of the same columns (nothing on the driver reads the traffic).
    """
    log = warnings if warnings is not None else WarningLog()
    table_mapping(mapping, S.ACCOUNTS)  # reject bad mapping keys before reading anything
    accounts, exchanges = table_paths(
        input_dir, accounts, exchanges, find_exchanges=_exchanges_path
    )
    account_rows, extra_columns, n_account_rows = read_accounts(accounts, mapping, log)
    frame, persisted, per_account, n_rows = _read_exchanges(spark, str(exchanges), mapping, log)
    dataset = universe(
        account_rows,
        per_account,
        exchanges=str(exchanges),
        log=log,
        inputs=[
            file_record(S.ACCOUNTS, accounts, rows=n_account_rows),
            _source_record(S.EXCHANGES, str(exchanges), rows=n_rows),
        ],
        extra_account_columns=extra_columns,
        exchanges_frame=_empty_like(frame),
    )
    dataset.spark = SparkExchanges(frame=frame, persisted=persisted)
    return dataset


def _source_record(table: str, path: str, *, rows: int) -> InputFile:
    """Size and SHA-256 of a local file; of a local directory's part files, the total size
    and the SHA-256 of each part's relative path and content in path order; a path this
    machine cannot read (a cluster's storage) is recorded with size 0 and no digest."""
    target = Path(path)
    if target.is_file():
        return file_record(table, target, rows=rows)
    if not target.is_dir():
        return InputFile(table, path, 0, "", rows)
    digest = hashlib.sha256()
    size = 0
    for part in sorted(p for p in target.rglob("*") if p.is_file()):
        digest.update(str(part.relative_to(target)).encode() + b"\0")
        with part.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        size += part.stat().st_size
    return InputFile(table, path, size, digest.hexdigest(), rows)


def _exchanges_path(folder: Path) -> Path:
    """``folder/exchanges`` when it is a directory of part files, else the one-machine rule."""
    parts = folder / S.EXCHANGES
    if parts.is_dir():
        return parts
    return find_table_file(folder, S.EXCHANGES)


def _format(path: str) -> str:
    """The format of a file, or of the part files of a directory (the first one found); a
    path this machine cannot see (a cluster's storage) by its extension, else Parquet."""
    target = Path(path)
    if target.is_dir():
        for part in sorted(target.rglob("*")):
            if part.is_file() and not part.name.startswith(("_", ".")):
                return table_format(part)
        raise InputError("the directory holds no part files", path=path)
    if not target.exists() and "://" in path and not target.suffix:
        return "parquet"
    return table_format(target)


def _read_raw(spark: SparkSession, path: str) -> DataFrame:
    fmt = _format(path)
    reader = spark.read
    if fmt == "csv":
        # As polars reads CSV: every field text; an empty unquoted field null, "" an empty string
        # (a field holding only NUL is read as null); RFC 4180 quotes; fields may span lines.
        return reader.options(
            header=True,
            inferSchema=False,
            escape='"',
            multiLine=True,
            nullValue="\u0000",
            encoding="UTF-8",
            mode="FAILFAST",
        ).csv(path)
    if fmt == "parquet":
        # Hive partition values as text, as written in the directory names ("0012", not 12).
        key = "spark.sql.sources.partitionColumnTypeInference.enabled"
        before = str(spark.conf.get(key, "true"))
        spark.conf.set(key, "false")
        try:
            return reader.parquet(path)
        finally:
            spark.conf.set(key, before)
    return reader.options(primitivesAsString=True, mode="FAILFAST").json(path)


def column(name: str) -> Any:
    """A Spark column by its exact name (quoted: a dot in a name is not a struct field)."""
    from pyspark.sql import functions as f

    return f.col("`" + name.replace("`", "``") + "`")


def spark_message(exc: BaseException) -> str:
    """The first line of a Spark error's own message (not Py4J's "error calling o123")."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        return first_line(RuntimeError(str(java.getMessage())))
    if hasattr(exc, "getMessage"):
        return first_line(RuntimeError(str(exc.getMessage())))
    return first_line(exc)


def _polars_schema(frame: DataFrame) -> dict[str, pl.DataType]:
    """The polars dtypes of a Spark DataFrame's columns (through its Arrow schema)."""
    arrow = _arrow_schema(frame)
    empty = pl.DataFrame(pl.from_arrow(arrow.empty_table()))
    return dict(empty.schema)


def _read_exchanges(
    spark: SparkSession, path: str, mapping: Mapping[str, str] | None, log: WarningLog
) -> tuple[DataFrame, DataFrame, pl.DataFrame, int]:
    """Typed, checked exchanges, the persisted frame they are selected from, the exchanges
    per account (:func:`_per_account`) and the row count.

    Column names are case-sensitive, as in the data contract (``spark.sql.caseSensitive``
    is set on the session).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as f

    where = path
    local = Path(path)
    if local.is_file() and local.stat().st_size == 0:  # what the one-machine loader says
        raise InputError("file is empty", path=where)
    spark.conf.set("spark.sql.caseSensitive", "true")
    # Parquet timestamps in nanoseconds (pandas writes them) arrive as integers, typed again
    # in the batches (_footer_types); Spark's own types stop at microseconds.
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    try:
        raw = _read_raw(spark, path)
        names = raw.columns
    except InputError:
        raise
    except Exception as exc:  # Spark's analysis errors: a missing path, an unreadable file
        raise InputError(f"cannot read the file ({spark_message(exc)})", path=where) from exc
    if not names:
        raise InputError("has no columns", path=where)
    rename = column_renames(names, S.EXCHANGES, mapping, log, where)
    if rename:
        raw = raw.withColumnsRenamed(rename)
    check_columns(raw.columns, S.EXCHANGES, where)
    footer = _footer_types(path, rename)
    schema = {**_polars_schema(raw), **footer}
    typed, checks = plan_columns(S.EXCHANGES, schema, where)
    extras = [name for name in schema if name not in OUTPUT_SCHEMAS[S.EXCHANGES]]
    arrow_raw = _arrow_schema(raw)
    out_schema = pa.schema(
        [
            pa.field(name, plain_type(_arrow_type(dtype)))
            for name, dtype in OUTPUT_SCHEMAS[S.EXCHANGES].items()
        ]
        + [arrow_raw.field(name) for name in extras]
        + [pa.field(f"__acctgraph_check{i}", pa.bool_()) for i in range(len(checks))]
    )
    staged = map_in_arrow(
        raw,
        functools.partial(
            _stage_batches,
            typed=typed,
            footer=footer,
            masks=[check.mask.fill_null(False) for check in checks],
            extras=extras,
            schema=out_schema,
        ),
        out_schema,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        try:
            counts = staged.agg(
                f.count(f.lit(1)).alias("rows"),
                *[
                    f.sum(f.col(f"__acctgraph_check{i}").cast("long")).alias(f"n{i}")
                    for i in range(len(checks))
                ],
            ).first()
        except Exception as exc:
            raise InputError(f"cannot read the file ({spark_message(exc)})", path=where) from exc
        assert counts is not None
        examples = functools.partial(
            _examples, spark, path, rename, schema, footer, checks, fmt_where=where
        )
        n = [int(counts[f"n{i}"] or 0) for i in range(len(checks))]
        report_checks(checks, n, examples, path=where, warnings=log)
        rows = int(counts["rows"])
        warn_if_empty(log, rows, where)
        frame = staged.select(*[column(name) for name in [*OUTPUT_SCHEMAS[S.EXCHANGES], *extras]])
        per_account = _per_account(frame, log, where)
    except BaseException:
        staged.unpersist()
        raise
    return frame, staged, per_account, rows


def _footer_types(path: str, rename: dict[str, str]) -> dict[str, pl.DataType]:
    """Contract columns whose Parquet type Spark cannot hold as polars reads it, under their
    contract names, with the polars dtype the one-machine loader reads them as: timestamps
    in nanoseconds (pandas' default; Spark reads them as integer nanoseconds) and unsigned
    64-bit integers (Spark reads them as decimals).

    Read from the footer of the file, or of a directory's first part file, when this
    machine can open it (on a cluster's storage it cannot: a nanosecond timestamp then
    arrives as an integer out of range and an unsigned one as a decimal, both refused).
    """
    target = Path(path)
    if target.is_dir():
        parts = [p for p in sorted(target.rglob("*.parquet")) if not p.name.startswith(("_", "."))]
        target = parts[0] if parts else target
    if not target.is_file() or table_format(target) != "parquet":
        return {}
    import pyarrow.parquet as pq

    found: dict[str, pl.DataType] = {}
    for field in pq.read_schema(target):
        name = rename.get(field.name, field.name)
        if name not in OUTPUT_SCHEMAS[S.EXCHANGES]:
            continue
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            found[name] = pl.Datetime("ns", field.type.tz)
        elif pa.types.is_uint64(field.type):
            found[name] = pl.UInt64()
    return found


def _typed_batch(
    batch: pa.RecordBatch, typed: dict[str, pl.Expr], footer: dict[str, pl.DataType]
) -> pl.DataFrame:
    """A raw batch with :func:`_footer_types`' columns cast back to the types polars reads
    and the loader's typed columns (:func:`~acctgraph.load.checks.typed_name`) added."""
    frame = pl.DataFrame(pl.from_arrow(batch)).with_columns(
        pl.col(name).cast(dtype) for name, dtype in footer.items()
    )
    return frame.with_columns([expr.alias(typed_name(name)) for name, expr in typed.items()])


def _stage_batches(
    batches: Iterator[pa.RecordBatch],
    *,
    typed: dict[str, pl.Expr],
    footer: dict[str, pl.DataType],
    masks: list[pl.Expr],
    extras: list[str],
    schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """Typed columns, extras and check masks of each raw batch (the loader's expressions)."""
    for batch in batches:
        staged = _typed_batch(batch, typed, footer)
        out = staged.select(
            [pl.col(typed_name(name)).alias(name) for name in typed]
            + [pl.col(name) for name in extras]
            + [mask.alias(f"__acctgraph_check{i}") for i, mask in enumerate(masks)]
        )
        yield from arrow_batches(out, schema)


def _examples(
    spark: SparkSession,
    path: str,
    rename: dict[str, str],
    schema: dict[str, pl.DataType],
    footer: dict[str, pl.DataType],
    checks: list[Any],
    i: int,
    *,
    fmt_where: str,
) -> list[str]:
    """The first :data:`MAX_EXAMPLES` rows failing check ``i``, numbered as polars numbers them.

    A second read of the input with each row's file and scan position; a row's number
    follows from the row counts of the files before it (in path order), of the scan
    partitions before it in its file (a file's splits fall in partitions in offset order)
    and its place after its file's first row in its partition.
    """
    from pyspark.sql import functions as f

    raw = _read_raw(spark, path)
    if rename:
        raw = raw.withColumnsRenamed(rename)
    placed = raw.select(
        "*",
        raw.metadataColumn("_metadata").getField("file_path").alias(_FILE),
        f.monotonically_increasing_id().alias(_ID),
    )
    template, parts = checks[i].example
    typed, _ = plan_columns(S.EXCHANGES, schema, fmt_where)
    out_schema = pa.schema(
        [pa.field(_FILE, pa.string()), pa.field(_ID, pa.int64())]
        + [pa.field(f"e{j}", pa.string()) for j in range(len(parts))]
    )
    failing = map_in_arrow(
        placed,
        functools.partial(
            _failing_batches,
            typed=typed,
            footer=footer,
            mask=checks[i].mask.fill_null(False),
            parts=list(parts),
            schema=out_schema,
        ),
        out_schema,
    )
    # The scan's partitions: rows per (file, partition) and the first place a file's rows
    # take in the partition (a partition may hold several small files, largest first), so
    # that a row's number can be counted.
    sizes = to_polars(
        placed.select(_FILE, _ID, f.shiftright(_ID, _ID_BITS).alias(_PARTITION))
        .groupBy(_FILE, _PARTITION)
        .agg(f.count(f.lit(1)).alias("rows"), f.min(_ID).alias("_first"))
    ).sort(_FILE, _PARTITION)
    sizes = sizes.with_columns(
        (pl.col("rows").cum_sum() - pl.col("rows")).cast(pl.Int64).alias("before")
    )
    found = to_polars(failing).with_columns((pl.col(_ID) // (1 << _ID_BITS)).alias(_PARTITION))
    rows = (
        found.join(sizes.select(_FILE, _PARTITION, "before", "_first"), on=[_FILE, _PARTITION])
        .with_columns((pl.col("before") + pl.col(_ID) - pl.col("_first") + 1).alias("_row"))
        .sort("_row")
        .head(MAX_EXAMPLES)
    )
    labels = [f"e{j}" for j in range(len(parts))]
    return [
        template.format(*(_shown(number, value, j, parts) for j, value in enumerate(values)))
        for number, *values in rows.select("_row", *labels).iter_rows()
    ]


def _is_row(part: pl.Expr) -> bool:
    return part.meta.eq(pl.col(ROW))


def _shown(number: int, value: str | None, j: int, parts: tuple[pl.Expr, ...]) -> str:
    """One part of an example: the row number, a value, or ``(null)`` (as polars shows them)."""
    if _is_row(parts[j]):
        return str(number)
    return "(null)" if value is None else value


def _failing_batches(
    batches: Iterator[pa.RecordBatch],
    *,
    typed: dict[str, pl.Expr],
    footer: dict[str, pl.DataType],
    mask: pl.Expr,
    parts: list[pl.Expr],
    schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """File, scan position and example parts (text; the row number left null) of failing rows."""
    for batch in batches:
        staged = _typed_batch(batch, typed, footer)
        out = staged.filter(mask).select(
            pl.col(_FILE),
            pl.col(_ID),
            *[
                (pl.lit(None, pl.String) if _is_row(part) else part.cast(pl.String)).alias(f"e{j}")
                for j, part in enumerate(parts)
            ],
        )
        yield from arrow_batches(out, schema)


def _per_account(frame: DataFrame, log: WarningLog, where: str) -> pl.DataFrame:
    """``account_id, exchanges`` (sorted), and the loader's ``exchanges_duplicate_rows``
    warning: rows repeated exactly (all columns), one Spark job as one polars pass."""
    from pyspark.sql import functions as f
    from pyspark.sql.types import ArrayType, MapType, StructType

    # A 64-bit hash of each row, as the one-machine loader counts them: the values
    # (nested ones as JSON; Spark hashes no map) and where the nulls are (xxhash64 skips
    # a null, so (null, "a") and ("a", null) would otherwise hash alike).
    values = [
        f.to_json(column(c.name))
        if isinstance(c.dataType, (ArrayType, MapType, StructType))
        else column(c.name)
        for c in frame.schema.fields
    ]
    nulls = [column(name).isNull() for name in frame.columns]
    per_account = to_polars(
        frame.select(column(S.ACCOUNT_ID), f.xxhash64(*values, *nulls).alias("_row"))
        .groupBy(S.ACCOUNT_ID, "_row")
        .agg(f.count(f.lit(1)).alias("_n"))
        .groupBy(S.ACCOUNT_ID)
        .agg(f.sum("_n").alias("exchanges"), f.sum(f.col("_n") - 1).alias("repeated"))
    )
    repeated = per_account.filter(pl.col("repeated") > 0).select(
        pl.col(S.ACCOUNT_ID).cast(pl.String), pl.col("repeated").cast(pl.Int64)
    )
    warn_repeated_rows(log, repeated, where)
    return per_account.select(
        pl.col(S.ACCOUNT_ID).cast(pl.String), pl.col("exchanges").cast(pl.UInt32)
    ).sort(S.ACCOUNT_ID)


def _arrow_type(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type of a polars dtype (of an empty column of it)."""
    return pl.Series("x", [], dtype=dtype).to_arrow().type


def _arrow_schema(frame: DataFrame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    zone = frame.sparkSession.conf.get("spark.sql.session.timeZone")
    return to_arrow_schema(frame.schema, timezone=zone)


def _empty_like(frame: DataFrame) -> pl.LazyFrame:
    """An empty polars frame with the typed exchanges' columns and dtypes."""
    return pl.DataFrame(pl.from_arrow(_arrow_schema(frame).empty_table())).lazy()
