"""Files → validated polars frames, following docs/data-contract.md. No business logic.

Every rule of the data contract is enforced here: fatal problems raise
:class:`~acctgraph.core.errors.InputError` (file, column, a few example rows), and
every value turned into "missing" is counted in a
:class:`~acctgraph.core.diagnostics.WarningLog`. Nothing is dropped silently.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "accounts.csv").write_text("account_id,email\\n0012,a@x.io\\n0013,\\n")
>>> _ = (folder / "exchanges.csv").write_text(
...     "account_id,timestamp,ip\\n0012,2026-04-22T10:00:00Z,192.0.2.1\\n0099,1776852000,\\n")
>>> data = load_dataset(folder)
>>> data.accounts.select("account_id", "email").rows()
[('0012', 'a@x.io'), ('0013', None), ('0099', None)]
>>> data.exchanges.collect().sort("account_id")["timestamp"].to_list()[1].isoformat()
'2026-04-22T10:00:00+00:00'
>>> data.warnings.count("accounts_only_in_exchanges")
1
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import ConfigError, InputError

#: Hidden 1-based row-number column added while validating (row 1 = first data row).
_ROW = "__acctgraph_row"
_MAX_EXAMPLES = 5

_FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".ndjson": "ndjson",
    ".ndjson.gz": "ndjson",
    ".jsonl": "ndjson",
    ".jsonl.gz": "ndjson",
}

_TABLE_SCHEMAS: dict[str, Mapping[str, pl.DataType]] = {
    S.ACCOUNTS: S.ACCOUNTS_SCHEMA,
    S.EXCHANGES: S.EXCHANGES_SCHEMA,
    S.LABELS: S.LABELS_SCHEMA,
    S.MEMBERS: S.MEMBERS_SCHEMA,
}

#: Epoch integers whose absolute value is below this are seconds, else milliseconds.
EPOCH_MILLISECONDS_FROM = 100_000_000_000  # 1e11 s is year 5138; 1e11 ms is 1973-03-03
#: Epoch integers at or above this absolute value are rejected (1e14 ms is year 5138).
EPOCH_LIMIT = 100_000_000_000_000

#: Timestamps outside years 1 to 9999 are treated as unparseable (Python cannot hold them).
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

# Broad on purpose: any failure to read a file must become an InputError.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    pl.exceptions.PolarsError,
    pl.exceptions.PanicException,
    OSError,
    ValueError,
    UnicodeError,
    OverflowError,
)


@dataclass(frozen=True)
class InputFile:
    """One input file as recorded in run.json: path, size in bytes, SHA-256, rows read."""

    table: str
    path: str
    size_bytes: int
    sha256: str
    rows: int | None = None


@dataclass
class Dataset:
    """Validated accounts and exchanges, ready for the attribute stage.

    ``accounts`` holds one row per account of the universe: the accounts table plus
    accounts seen only in exchanges (with null account-level attributes), sorted by
    ``account_id``; contract columns in schema order, then extra columns.
    ``exchanges`` stays lazy so that large inputs stream; its row order is not
    guaranteed (sort before anything order-sensitive).
    """

    accounts: pl.DataFrame
    exchanges: pl.LazyFrame
    warnings: WarningLog
    inputs: list[InputFile] = field(default_factory=list)
    extra_account_columns: list[str] = field(default_factory=list)


# =============================================================================
# Timestamps
# =============================================================================

# Tried, in order, on the first non-null value of each batch; the first that parses
# is applied to the whole batch (the fast path for files with one consistent format).
_PRIMARY_FORMATS: tuple[tuple[str, bool], ...] = (
    ("%Y-%m-%dT%H:%M:%S%.fZ", False),
    ("%Y-%m-%dT%H:%M:%S%.f%z", True),
    ("%Y-%m-%d %H:%M:%S%.f%z", True),
    ("%Y-%m-%dT%H:%M:%S%.f", False),
    ("%Y-%m-%d %H:%M:%S%.f", False),
)
# Applied only to values the primary format did not parse, after normalisation
# ("T" → " ", "Z" → "+00:00", spaces before the offset removed).
_FALLBACK_FORMATS: tuple[tuple[str, bool], ...] = (
    ("%Y-%m-%d %H:%M:%S%.f%z", True),
    ("%Y-%m-%d %H:%M:%S%.f", False),
    ("%Y-%m-%d %H:%M%z", True),
    ("%Y-%m-%d %H:%M", False),
)


def _strptime(values: pl.Series, fmt: str, aware: bool) -> pl.Series:
    parsed = values.str.to_datetime(fmt, time_unit="us", strict=False)
    if aware:
        return parsed.dt.convert_time_zone("UTC")
    return parsed.dt.replace_time_zone("UTC")


def _epoch_to_time(values: pl.Expr) -> pl.Expr:
    """Integer epoch → UTC time: seconds below 1e11 in absolute value, else milliseconds."""
    magnitude = values.abs()
    micros = (
        pl.when(magnitude < EPOCH_MILLISECONDS_FROM)
        .then(values * 1_000_000)
        .when(magnitude < EPOCH_LIMIT)
        .then(values * 1_000)
        .otherwise(None)
    )
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _parse_fallback(values: pl.Series) -> pl.Series:
    stripped = values.str.strip_chars()
    normal = (
        stripped.str.replace(r"^(\d{4}-\d{2}-\d{2})[Tt ]\s*", "$1 ")
        .str.replace(r"\s*[Zz]$", "+00:00")
        .str.replace(r"\s+([+-]\d{2}:?\d{2})$", "$1")
    )
    candidates = [_strptime(normal, fmt, aware) for fmt, aware in _FALLBACK_FORMATS]
    candidates.append(
        normal.str.to_date("%Y-%m-%d", strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    frame = pl.DataFrame({"v": stripped})
    is_integer = pl.col("v").str.contains(r"^-?[0-9]{1,18}$")
    epoch = frame.select(
        _epoch_to_time(pl.when(is_integer).then(pl.col("v")).cast(pl.Int64, strict=False))
    ).to_series()
    candidates.append(epoch)
    return pl.select(pl.coalesce(candidates)).to_series().alias(values.name)


def parse_timestamps(values: pl.Series) -> pl.Series:
    """Parse text timestamps to ``Datetime("us", "UTC")``; anything unparseable becomes null.

    Accepted: ISO 8601 date-times with ``T`` or a space, with or without fractional
    seconds, with ``Z`` or a ``±HH:MM``/``±HHMM`` offset (naive values are UTC);
    minutes-only times; dates (midnight UTC); integer epoch seconds or milliseconds
    (absolute value below ``1e11`` → seconds, below ``1e14`` → milliseconds).
    Never raises on string input.

    Parameters
    ----------
    values
        A String series.

    Returns
    -------
    polars.Series
        Same name and length, dtype ``Datetime("us", "UTC")``.

    Examples
    --------
    >>> s = pl.Series("t", ["2026-04-22 12:00:00+02:00", "2026-04-22", "1776852000", "soon"])
    >>> [v.isoformat() if v else None for v in parse_timestamps(s).to_list()]
    ['2026-04-22T10:00:00+00:00', '2026-04-22T00:00:00+00:00', '2026-04-22T10:00:00+00:00', None]
    """
    if values.dtype != pl.String:
        values = values.cast(pl.String)
    if len(values) == 0:
        return pl.Series(values.name, [], dtype=S.TIME)
    first = values.drop_nulls().head(1)
    result = None
    if len(first):
        for fmt, aware in _PRIMARY_FORMATS:
            if _strptime(first, fmt, aware).null_count() == 0:
                result = _strptime(values, fmt, aware)
                break
    if result is None:
        result = _parse_fallback(values)
    else:
        failed = result.is_null() & values.is_not_null()
        if failed.any():
            positions = failed.arg_true()
            result = result.scatter(positions, _parse_fallback(values.filter(failed)))
    return pl.select(_in_range(pl.lit(result))).to_series().alias(values.name)


def _in_range(times: pl.Expr) -> pl.Expr:
    return pl.when(times.is_between(_EARLIEST, _LATEST)).then(times)


def _float_epoch_to_time(values: pl.Expr) -> pl.Expr:
    """Floating epoch (seconds or milliseconds by the same magnitude rule) → UTC time."""
    finite = pl.when(values.is_finite()).then(values)
    magnitude = finite.abs()
    micros = (
        pl.when(magnitude < EPOCH_MILLISECONDS_FROM)
        .then(finite * 1_000_000)
        .when(magnitude < EPOCH_LIMIT)
        .then(finite * 1_000)
        .otherwise(None)
    )
    return (
        micros.round(0)
        .cast(pl.Int64, strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )


def _time_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    """Expression turning ``column`` (file dtype ``dtype``) into ``S.TIME``, years 1-9999."""
    if dtype == pl.String or dtype in (pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum):
        text = _text_expr(column, dtype, path=path, name=name, what="a timestamp")
        return text.map_batches(parse_timestamps, return_dtype=S.TIME, is_elementwise=True)
    return _in_range(_native_time_expr(column, dtype, path=path, name=name))


def _native_time_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return column.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype == pl.Date:
        return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_integer():
        return _epoch_to_time(column.cast(pl.Int64, strict=False))
    if dtype.is_float():
        return _float_epoch_to_time(column.cast(pl.Float64))
    if dtype == pl.Null:
        return pl.lit(None, dtype=S.TIME)
    raise InputError(
        f"has type {dtype}; expected a timestamp, ISO 8601 text or an epoch number",
        path=path,
        column=name,
    )


# =============================================================================
# Other column kinds
# =============================================================================


def _text_expr(
    column: pl.Expr, dtype: pl.DataType, *, path: str, name: str, what: str = "text"
) -> pl.Expr:
    """``column`` as String; scalar native types are cast, nested types are an error."""
    if dtype == pl.String:
        return column
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.String)
    if dtype.is_nested() or dtype == pl.Object:
        raise InputError(f"has type {dtype}; expected {what}", path=path, column=name)
    if dtype.is_float():
        # Integral floats (ids written by tools that turn integer columns into floats
        # when they hold nulls) print without the trailing ".0".
        integral = column.is_finite() & (column == column.round(0)) & (column.abs() < 2**53)
        return (
            pl.when(integral)
            .then(column.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(column.cast(pl.String))
        )
    return column.cast(pl.String)


def _blank(text: pl.Expr) -> pl.Expr:
    """True for empty or whitespace-only strings (null stays null)."""
    return text.str.contains(r"^\s*$")


def _without_blanks(text: pl.Expr) -> pl.Expr:
    return pl.when(_blank(text)).then(None).otherwise(text)


def _count_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    """Non-negative integer count, null when not one (negative, fractional, text)."""
    if dtype.is_integer():
        value = column.cast(pl.Int64, strict=False)
    elif dtype.is_float():
        value = pl.when(column.is_finite() & (column == column.round(0))).then(
            column.cast(pl.Int64, strict=False)
        )
    elif dtype == pl.Null:
        return pl.lit(None, dtype=pl.Int64)
    else:
        text = _text_expr(column, dtype, path=path, name=name, what="an integer")
        value = text.str.strip_chars().cast(pl.Int64, strict=False)
    return pl.when(value >= 0).then(value)


def _score_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    if dtype.is_numeric():
        value = column.cast(pl.Float64)
    elif dtype == pl.Null:
        return pl.lit(None, dtype=pl.Float64)
    else:
        text = _text_expr(column, dtype, path=path, name=name, what="a number")
        value = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


_FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _flag_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    if dtype == pl.Boolean:
        return column
    if dtype.is_numeric():
        return pl.when(column == 1).then(True).when(column == 0).then(False).otherwise(None)
    text = _text_expr(column, dtype, path=path, name=name, what="true/false")
    return (
        text.str.strip_chars()
        .str.to_lowercase()
        .replace_strict(_FLAG_WORDS, default=None, return_dtype=pl.Boolean)
    )


# =============================================================================
# Column plans: the typed expression and the checks of each contract column
# =============================================================================

# Kind of each contract column; anything not listed is optional text.
_ID, _TEXT, _GROUP, _TIME_REQUIRED, _TIME, _COUNT, _SCORE, _FLAG = (
    "id",
    "text",
    "group",
    "time_required",
    "time",
    "count",
    "score",
    "flag",
)
_KINDS: dict[tuple[str, str], str] = {
    (S.ACCOUNTS, S.ACCOUNT_ID): _ID,
    (S.ACCOUNTS, S.CREATED_AT): _TIME,
    (S.EXCHANGES, S.ACCOUNT_ID): _ID,
    (S.EXCHANGES, S.TIMESTAMP): _TIME_REQUIRED,
    (S.EXCHANGES, S.INPUT_TOKENS): _COUNT,
    (S.EXCHANGES, S.OUTPUT_TOKENS): _COUNT,
    (S.LABELS, S.ACCOUNT_ID): _ID,
    (S.LABELS, S.OPERATOR_ID): _GROUP,
    (S.MEMBERS, S.ACCOUNT_ID): _ID,
    (S.MEMBERS, S.CLUSTER_ID): _GROUP,
    (S.MEMBERS, S.CLUSTER_SCORE): _SCORE,
    (S.MEMBERS, S.FLAGGED): _FLAG,
}

#: Output dtypes. ``members.cluster_id`` is kept as text (see docs/data-contract.md):
#: detectors write integer or string ids and the evaluator only compares them.
OUTPUT_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    table: {
        name: (pl.String() if (table, name) == (S.MEMBERS, S.CLUSTER_ID) else dtype)
        for name, dtype in schema.items()
    }
    for table, schema in _TABLE_SCHEMAS.items()
}


@dataclass(frozen=True)
class _Check:
    """A condition counted in one streaming pass: fatal → InputError, else a warning."""

    code: str
    message: str
    column: str
    mask: pl.Expr
    example: tuple[str, tuple[pl.Expr, ...]]  # format template and its values
    fatal: bool


def _typed_name(name: str) -> str:
    return f"__acctgraph_typed_{name}"


def _row_label() -> tuple[str, tuple[pl.Expr, ...]]:
    return "row {}", (pl.col(_ROW),)


def _row_and_value(raw: pl.Expr) -> tuple[str, tuple[pl.Expr, ...]]:
    return "row {}: {}", (pl.col(_ROW), raw)


def _plan(
    table: str, file_schema: Mapping[str, pl.DataType], path: str
) -> tuple[dict[str, pl.Expr], list[_Check]]:
    """Typed expression of every contract column, and the checks of those present."""
    typed: dict[str, pl.Expr] = {}
    checks: list[_Check] = []
    for name, out_dtype in OUTPUT_SCHEMAS[table].items():
        if name not in file_schema:
            typed[name] = pl.lit(None, dtype=out_dtype)
            continue
        kind = _KINDS.get((table, name), _TEXT)
        dtype = file_schema[name]
        raw = pl.col(name)
        done = pl.col(_typed_name(name))
        blank = _blank(raw.cast(pl.String)) if dtype == pl.String else pl.lit(False)
        where = f"{table}.{name}"
        if kind == _ID:
            text = _text_expr(raw, dtype, path=path, name=name)
            typed[name] = _without_blanks(text)
            checks.append(
                _Check(
                    f"{table}_{name}_missing",
                    "an empty or null account id (every row needs one)",
                    name,
                    done.is_null(),
                    _row_label(),
                    fatal=True,
                )
            )
            continue
        if kind == _GROUP:
            typed[name] = _without_blanks(_text_expr(raw, dtype, path=path, name=name))
            continue
        if kind in (_TEXT, _SCORE, _COUNT, _TIME):
            checks.append(
                _Check(
                    f"{table}_{name}_blank",
                    f"an empty or whitespace-only {where}, treated as missing",
                    name,
                    blank,
                    _row_label(),
                    fatal=False,
                )
            )
        if kind == _TEXT:
            typed[name] = _without_blanks(_text_expr(raw, dtype, path=path, name=name))
        elif kind in (_TIME, _TIME_REQUIRED):
            parsed = _time_expr(raw, dtype, path=path, name=name)
            typed[name] = pl.when(blank).then(None).otherwise(parsed)
            present = raw.is_not_null() & blank.not_()
            if kind == _TIME_REQUIRED:
                checks.append(
                    _Check(
                        f"{table}_{name}_missing",
                        "an empty or null timestamp (every exchange needs one)",
                        name,
                        present.not_(),
                        _row_label(),
                        fatal=True,
                    )
                )
            checks.append(
                _Check(
                    f"{table}_{name}_unparseable",
                    f"an unparseable {where} (expected ISO 8601 such as "
                    "2026-04-22T10:00:00Z, a date, or integer epoch seconds/milliseconds)"
                    + ("" if kind == _TIME_REQUIRED else ", treated as missing"),
                    name,
                    present & done.is_null(),
                    _row_and_value(raw),
                    fatal=kind == _TIME_REQUIRED,
                )
            )
        elif kind == _COUNT:
            typed[name] = _count_expr(raw, dtype, path=path, name=name)
            checks.append(
                _Check(
                    f"{table}_{name}_invalid",
                    f"a {where} that is not a non-negative integer, treated as missing",
                    name,
                    raw.is_not_null() & blank.not_() & done.is_null(),
                    _row_and_value(raw),
                    fatal=False,
                )
            )
        elif kind == _SCORE:
            typed[name] = _score_expr(raw, dtype, path=path, name=name)
            checks.append(
                _Check(
                    f"{table}_{name}_invalid",
                    f"a {where} that is not a finite number, treated as missing",
                    name,
                    raw.is_not_null() & blank.not_() & done.is_null(),
                    _row_and_value(raw),
                    fatal=False,
                )
            )
        elif kind == _FLAG:
            typed[name] = _flag_expr(raw, dtype, path=path, name=name)
            checks.append(
                _Check(
                    f"{table}_{name}_invalid",
                    f"a {where} not among true/false/1/0/yes/no",
                    name,
                    done.is_null(),
                    _row_and_value(raw),
                    fatal=True,
                )
            )
    return typed, checks


def _run_checks(
    frame: pl.LazyFrame,
    checks: list[_Check],
    *,
    table: str,
    path: str,
    warnings: WarningLog,
) -> int:
    """One pass computing every check's count and first examples; returns the row count.

    ``frame`` holds the raw columns, the typed columns (``_typed_name``) and ``_ROW``.
    Raises the first fatal check that fails; records every non-fatal one.
    """
    # Pass 1 streams counts only (aggregating examples in the same pass made polars hold
    # whole columns: 10 GB on 40M exchanges); examples are then read for the failing checks
    # alone, the first rows by row number, with a bounded bottom-k.
    aggregates = [pl.len().alias("__rows")]
    for i, check in enumerate(checks):
        aggregates.append(check.mask.fill_null(False).sum().alias(f"n{i}"))
    with _reading(path):
        result = frame.select(aggregates).collect(engine="streaming").row(0, named=True)

    def examples(i: int) -> list[str]:
        if not result[f"n{i}"]:
            return []
        template, parts = checks[i].example
        with _reading(path):
            rows = (
                frame.filter(checks[i].mask.fill_null(False))
                .select(
                    pl.col(_ROW).alias("__row"),
                    *[part.cast(pl.String).alias(f"e{j}") for j, part in enumerate(parts)],
                )
                .bottom_k(_MAX_EXAMPLES, by="__row")
                .collect(engine="streaming")
                .sort("__row")
            )
        # Formatted in Python (pl.format over filtered multi-chunk columns panics in polars 2.1).
        return [
            template.format(*("(null)" if v is None else v for v in values))
            for values in rows.drop("__row").iter_rows()
        ]

    for i, check in enumerate(checks):
        count = int(result[f"n{i}"])
        if count and check.fatal:
            raise InputError(
                f"{count} row(s) with {check.message} (row 1 is the first data row)",
                path=path,
                column=check.column,
                examples=examples(i),
            )
    for i, check in enumerate(checks):
        warnings.add(
            check.code,
            check.message,
            count=int(result[f"n{i}"]),
            examples=examples(i),
            column=check.column,
            path=path,
        )
    return int(result["__rows"])


# =============================================================================
# Files, formats and column mapping
# =============================================================================


def table_format(path: str | Path) -> str:
    """File format from the extension: ``"csv"``, ``"parquet"`` or ``"ndjson"``.

    Examples
    --------
    >>> table_format("exchanges.jsonl.gz"), table_format("ACCOUNTS.CSV")
    ('ndjson', 'csv')
    """
    lowered = Path(path).name.lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if lowered.endswith(suffix):
            return _FORMATS[suffix]
    raise InputError(
        f"unknown file extension; expected one of {', '.join(S.SUFFIXES)}", path=str(path)
    )


def find_table_file(directory: str | Path, table: str) -> Path:
    """The single ``<table>.<extension>`` file of ``directory``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "accounts.csv.gz").write_bytes(b"")
    >>> find_table_file(folder, "accounts").name
    'accounts.csv.gz'
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise InputError("is not a directory", path=str(folder))
    named = sorted(p for p in folder.iterdir() if p.name.lower().startswith(f"{table}."))
    found = [p for p in named if p.name.lower()[len(table) :] in _FORMATS]
    if len(found) == 1:
        return found[0]
    if not found:
        names = ", ".join(p.name for p in named)
        hint = f" (found {names}: unsupported extension)" if named else ""
        raise InputError(
            f"no {table} table: expected one file named {table} with an extension among "
            f"{', '.join(S.SUFFIXES)}{hint}",
            path=str(folder),
        )
    raise InputError(
        f"several {table} tables; keep exactly one: {', '.join(p.name for p in found)}",
        path=str(folder),
    )


def file_record(table: str, path: str | Path, *, rows: int | None = None) -> InputFile:
    """Path, size and SHA-256 (read in 1 MiB chunks) of an input file."""
    digest = hashlib.sha256()
    file_path = Path(path)
    with _reading(str(path)), file_path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return InputFile(table, str(path), file_path.stat().st_size, digest.hexdigest(), rows)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:300] + "…"


@contextmanager
def _reading(path: str) -> Iterator[None]:
    """Turn any failure while reading ``path`` into an InputError naming the file."""
    try:
        yield
    except InputError:
        raise
    except _READ_ERRORS as exc:
        message = f"cannot read the file ({_first_line(exc)})"
        if isinstance(exc, (pl.exceptions.ComputeError,)) and "utf" in str(exc).lower():
            message += "; text files must be UTF-8"
        raise InputError(message, path=path) from exc


def _scan(path: Path) -> tuple[pl.LazyFrame, dict[str, pl.DataType]]:
    """Lazy scan of one file (text formats as strings) and its schema."""
    fmt = table_format(path)
    where = str(path)
    if not path.exists():
        raise InputError("file not found", path=where)
    if not path.is_file():
        raise InputError("is not a file", path=where)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=where)
    with _reading(where):
        if fmt == "csv":
            frame = pl.scan_csv(path, infer_schema=False)
        elif fmt == "parquet":
            frame = pl.scan_parquet(path)
        else:
            # Infer over every line so that no key is dropped, then read scalars as text.
            inferred = pl.scan_ndjson(path, infer_schema_length=None).collect_schema()
            frame = pl.scan_ndjson(
                path,
                schema={n: (d if d.is_nested() else pl.String()) for n, d in inferred.items()},
            )
        schema = dict(frame.collect_schema())
    if not schema:
        raise InputError("has no columns", path=where)
    return frame, schema


def _all_contract_names() -> list[str]:
    return sorted({name for schema in _TABLE_SCHEMAS.values() for name in schema})


def _table_mapping(mapping: Mapping[str, str] | None, table: str) -> dict[str, str]:
    """``{contract name: file column}`` for ``table``; ``"table.column"`` keys win."""
    plain: dict[str, str] = {}
    qualified: dict[str, str] = {}
    for key, source in (mapping or {}).items():
        if not isinstance(key, str) or not isinstance(source, str) or not source:
            raise ConfigError(f"column mapping {key!r}={source!r}: both sides must be names")
        prefix, _, name = key.rpartition(".")
        if prefix and (prefix not in _TABLE_SCHEMAS or name not in _TABLE_SCHEMAS[prefix]):
            raise ConfigError(
                f"column mapping key {key!r}: expected <column> or <table>.<column> with a "
                f"table among {', '.join(_TABLE_SCHEMAS)}"
            )
        if not prefix and name not in _all_contract_names():
            raise ConfigError(
                f"column mapping key {key!r} is not a contract column; expected one of "
                f"{', '.join(_all_contract_names())}"
            )
        if prefix == table:
            qualified[name] = source
        elif not prefix and name in _TABLE_SCHEMAS[table]:
            plain[name] = source
    return {name: source for name, source in {**plain, **qualified}.items() if name != source}


_Source = str | Path | pl.DataFrame | pl.LazyFrame


def _where(source: _Source, table: str) -> str:
    """How messages name a source: the file path, or ``<accounts frame>``."""
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        return f"<{table} frame>"
    return str(source)


def _open(
    source: _Source,
    table: str,
    mapping: Mapping[str, str] | None,
    warnings: WarningLog,
) -> tuple[pl.LazyFrame, dict[str, pl.DataType]]:
    """Scan (or take an in-memory frame), apply the column mapping, check required columns."""
    where = _where(source, table)
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        frame = source.lazy()
        with _reading(where):
            schema = dict(frame.collect_schema())
    else:
        frame, schema = _scan(Path(source))
    names = list(schema)
    renames = _table_mapping(mapping, table)
    for contract, source in renames.items():
        if source not in schema:
            raise InputError(
                f"the column mapping {contract}={source} names a column that does not exist; "
                f"columns present: {', '.join(names)}",
                path=where,
                column=source,
            )
    sources = list(renames.values())
    repeated = sorted({s for s in sources if sources.count(s) > 1})
    if repeated:
        raise InputError(
            f"the column mapping uses {', '.join(repeated)} for several contract columns",
            path=where,
            column=repeated[0],
        )
    rename = {source: contract for contract, source in renames.items()}
    for contract in renames:
        if contract in schema and contract not in rename:
            kept = f"{contract}_unmapped"
            while kept in schema or kept in rename.values():
                kept += "_"
            rename[contract] = kept
            warnings.add(
                "column_shadowed_by_mapping",
                "a column already had the contract name that the mapping gives another "
                "column; it is kept under a new name",
                count=1,
                examples=[f"{table}: {contract} → {kept}"],
                column=contract,
                path=where,
            )
    if rename:
        frame = frame.rename(rename)
        schema = {rename.get(name, name): dtype for name, dtype in schema.items()}
    internal = [name for name in schema if name.startswith("__acctgraph_")]
    if internal:
        raise InputError(
            "column names starting with __acctgraph_ are reserved", path=where, column=internal[0]
        )
    required = {
        S.ACCOUNTS: S.ACCOUNTS_REQUIRED,
        S.EXCHANGES: S.EXCHANGES_REQUIRED,
        S.LABELS: S.LABELS_REQUIRED,
        S.MEMBERS: S.MEMBERS_REQUIRED,
    }[table]
    for name in required:
        if name not in schema:
            raise InputError(
                f"missing required column of the {table} table; columns present: "
                f"{', '.join(schema)} (if it has another name, map it: --map {name}=<column>)",
                path=where,
                column=name,
            )
    return frame, schema


def _read_eager(
    source: _Source,
    table: str,
    mapping: Mapping[str, str] | None,
    warnings: WarningLog,
) -> tuple[pl.DataFrame, list[str]]:
    """Read a small table completely: typed contract columns, extras, ``_ROW``; checked."""
    where = _where(source, table)
    frame, schema = _open(source, table, mapping, warnings)
    typed, checks = _plan(table, schema, where)
    extras = [name for name in schema if name not in OUTPUT_SCHEMAS[table]]
    with _reading(where):
        raw = frame.with_row_index(_ROW, offset=1).collect()
    if raw.height == 0:
        raise InputError(f"has no rows (the {table} table is empty)", path=where)
    with _reading(where):
        staged = raw.with_columns([expr.alias(_typed_name(name)) for name, expr in typed.items()])
    _run_checks(staged.lazy(), checks, table=table, path=where, warnings=warnings)
    result = staged.select(
        [pl.col(_typed_name(name)).alias(name) for name in typed]
        + [pl.col(name) for name in extras]
        + [pl.col(_ROW)]
    )
    return result.sort(_ROW), extras


def _collapse_duplicates(
    frame: pl.DataFrame, *, table: str, path: str, warnings: WarningLog, what: str
) -> pl.DataFrame:
    """Collapse rows repeated exactly; an id on rows that differ is fatal."""
    repeated = frame.filter(pl.col(S.ACCOUNT_ID).is_duplicated())
    if repeated.height == 0:
        return frame
    values = [name for name in frame.columns if name != _ROW]
    variants = (
        repeated.unique(subset=values, keep="first")
        .group_by(S.ACCOUNT_ID)
        .agg(pl.len().alias("variants"))
    )
    conflicting = variants.filter(pl.col("variants") > 1)[S.ACCOUNT_ID].sort()
    if conflicting.len():
        rows = (
            repeated.filter(pl.col(S.ACCOUNT_ID).is_in(conflicting.implode()))
            .group_by(S.ACCOUNT_ID)
            .agg(pl.col(_ROW).sort())
            .sort(S.ACCOUNT_ID)
        )
        raise InputError(
            f"{conflicting.len()} account id(s) appear on several rows with different "
            f"{what}; keep one row per account",
            path=path,
            column=S.ACCOUNT_ID,
            examples=[
                f"{account} (rows {', '.join(str(r) for r in row_numbers[:5])})"
                for account, row_numbers in rows.head(_MAX_EXAMPLES).iter_rows()
            ],
        )
    collapsed = frame.unique(subset=values, keep="first", maintain_order=True)
    ids = repeated[S.ACCOUNT_ID].unique().sort()
    warnings.add(
        f"{table}_duplicate_rows",
        f"rows repeated exactly in the {table} table; collapsed to one row each",
        count=frame.height - collapsed.height,
        examples=ids.head(_MAX_EXAMPLES).to_list(),
        column=S.ACCOUNT_ID,
        path=path,
    )
    return collapsed


# =============================================================================
# Public API
# =============================================================================


def _load_accounts(
    source: _Source, mapping: Mapping[str, str] | None, warnings: WarningLog
) -> tuple[pl.DataFrame, list[str], int]:
    where = _where(source, S.ACCOUNTS)
    frame, extras = _read_eager(source, S.ACCOUNTS, mapping, warnings)
    rows = frame.height
    frame = _collapse_duplicates(
        frame, table=S.ACCOUNTS, path=where, warnings=warnings, what="attributes"
    )
    return frame.drop(_ROW), extras, rows


def _load_exchanges(
    source: _Source, mapping: Mapping[str, str] | None, warnings: WarningLog
) -> tuple[pl.LazyFrame, pl.DataFrame, int]:
    """Typed lazy exchanges, per-account counts, row count. Two streaming passes."""
    where = _where(source, S.EXCHANGES)
    frame, schema = _open(source, S.EXCHANGES, mapping, warnings)
    typed, checks = _plan(S.EXCHANGES, schema, where)
    extras = [name for name in schema if name not in OUTPUT_SCHEMAS[S.EXCHANGES]]
    exchanges = frame.select(
        [expr.alias(name) for name, expr in typed.items()] + [pl.col(name) for name in extras]
    )
    # Pass 1: every count and example of the contract checks.
    staged = frame.with_row_index(_ROW, offset=1).with_columns(
        [expr.alias(_typed_name(name)) for name, expr in typed.items()]
    )
    rows = _run_checks(staged, checks, table=S.EXCHANGES, path=where, warnings=warnings)
    if rows == 0:
        raise InputError("has no rows (the exchanges table is empty)", path=where)
    # Pass 2: exchanges per account, and rows repeated exactly (64-bit row hash).
    with _reading(where):
        per_account = (
            exchanges.select(
                pl.col(S.ACCOUNT_ID),
                pl.struct(pl.all()).hash(seed=0).alias("__acctgraph_row_hash"),
            )
            .group_by(S.ACCOUNT_ID)
            .agg(
                pl.len().alias("exchanges"),
                pl.col("__acctgraph_row_hash").n_unique().alias("distinct"),
            )
            .collect()
            .sort(S.ACCOUNT_ID)
        )
    repeated = per_account.filter(pl.col("exchanges") > pl.col("distinct")).with_columns(
        (pl.col("exchanges") - pl.col("distinct")).alias("repeated")
    )
    warnings.add(
        "exchanges_duplicate_rows",
        "exchange rows repeated exactly (all columns equal); kept here, the attribute "
        "stage counts each distinct exchange once",
        count=int(repeated["repeated"].sum()),
        examples=[
            f"{account}: {n} repeated row(s)"
            for account, n in repeated.sort(["repeated", S.ACCOUNT_ID], descending=[True, False])
            .select(S.ACCOUNT_ID, "repeated")
            .head(_MAX_EXAMPLES)
            .iter_rows()
        ],
        column=S.ACCOUNT_ID,
        path=where,
    )
    return exchanges, per_account.select(S.ACCOUNT_ID, "exchanges"), rows


def load_dataset(
    input_dir: str | Path | None = None,
    *,
    accounts: str | Path | None = None,
    exchanges: str | Path | None = None,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> Dataset:
    """Read and validate the accounts and exchanges tables (docs/data-contract.md).

    Parameters
    ----------
    input_dir
        A directory holding exactly one ``accounts.<ext>`` and one ``exchanges.<ext>``
        (extensions: .csv, .csv.gz, .parquet, .ndjson, .jsonl, optionally .gz).
    accounts, exchanges
        Explicit files; each overrides the lookup in ``input_dir`` for its table.
    mapping
        ``{contract column: file column}``; a key ``"exchanges.ip"`` applies to one
        table only, a plain key to every table that has that column.
    warnings
        Log receiving the counted non-fatal problems (a new one when None); also
        returned as ``Dataset.warnings``.

    Returns
    -------
    Dataset
        ``accounts`` collected (the account universe, sorted by account_id),
        ``exchanges`` lazy, the warnings and an :class:`InputFile` per file read.

    Raises
    ------
    InputError
        When a file breaks a fatal rule of the contract (message names the file,
        the column and up to five offending rows).
    ConfigError
        When ``mapping`` names a column that is not in the contract.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "users.csv").write_text("user_id,country\\nu1,FR\\nu1,FR\\n")
    >>> pl.DataFrame({"user_id": ["u1", "u2"], "timestamp": [1776852000, 1776852000123],
    ...               "input_tokens": [12, -1]}).write_parquet(folder / "log.parquet")
    >>> data = load_dataset(accounts=folder / "users.csv", exchanges=folder / "log.parquet",
    ...                     mapping={"account_id": "user_id"})
    >>> data.accounts.select("account_id", "country").rows()
    [('u1', 'FR'), ('u2', None)]
    >>> sorted(w["code"] for w in data.warnings.as_records())  # doctest: +NORMALIZE_WHITESPACE
    ['accounts_duplicate_rows', 'accounts_only_in_exchanges', 'exchanges_input_tokens_invalid',
     'exchanges_without_account_row']
    """
    log = warnings if warnings is not None else WarningLog()
    _table_mapping(mapping, S.ACCOUNTS)  # reject bad mapping keys before reading anything
    if input_dir is not None:
        accounts = accounts if accounts is not None else find_table_file(input_dir, S.ACCOUNTS)
        exchanges = exchanges if exchanges is not None else find_table_file(input_dir, S.EXCHANGES)
    if accounts is None or exchanges is None:
        missing = S.ACCOUNTS if accounts is None else S.EXCHANGES
        raise InputError(f"no {missing} table given: pass a directory or both files")
    accounts_path, exchanges_path = Path(accounts), Path(exchanges)

    dataset = _assemble(accounts_path, exchanges_path, mapping, log)
    dataset.inputs = [
        file_record(S.ACCOUNTS, accounts_path, rows=dataset.inputs[0].rows),
        file_record(S.EXCHANGES, exchanges_path, rows=dataset.inputs[1].rows),
    ]
    return dataset


def dataset_from_frames(
    accounts: pl.DataFrame | pl.LazyFrame,
    exchanges: pl.DataFrame | pl.LazyFrame,
    *,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> Dataset:
    """Validate in-memory accounts and exchanges frames exactly as :func:`load_dataset` does.

    Native column types are cast as for Parquet files; messages name the table as
    ``<accounts frame>`` / ``<exchanges frame>``. ``Dataset.inputs`` records no file
    checksum (``path`` is that name, ``size_bytes`` 0 and ``sha256`` empty).

    Examples
    --------
    >>> accounts = pl.DataFrame({"account_id": ["a1"], "created_at": ["2026-04-01"]})
    >>> exchanges = pl.DataFrame({"account_id": ["a1", "a2"], "timestamp": [1776852000] * 2})
    >>> data = dataset_from_frames(accounts, exchanges)
    >>> data.accounts[S.ACCOUNT_ID].to_list(), data.warnings.count("accounts_only_in_exchanges")
    (['a1', 'a2'], 1)
    """
    log = warnings if warnings is not None else WarningLog()
    _table_mapping(mapping, S.ACCOUNTS)
    return _assemble(accounts, exchanges, mapping, log)


def _assemble(
    accounts: _Source,
    exchanges: _Source,
    mapping: Mapping[str, str] | None,
    log: WarningLog,
) -> Dataset:
    """Load both tables and build the account universe (inputs carry rows only)."""
    exchanges_where = _where(exchanges, S.EXCHANGES)
    account_rows, extra_columns, n_account_rows = _load_accounts(accounts, mapping, log)
    exchange_frame, per_account, n_exchange_rows = _load_exchanges(exchanges, mapping, log)

    only_in_exchanges = per_account.join(
        account_rows.select(S.ACCOUNT_ID), on=S.ACCOUNT_ID, how="anti"
    ).sort(S.ACCOUNT_ID)
    log.add(
        "accounts_only_in_exchanges",
        "accounts seen in exchanges but absent from the accounts table; added to the "
        "universe with null account-level attributes",
        count=only_in_exchanges.height,
        examples=only_in_exchanges[S.ACCOUNT_ID].head(_MAX_EXAMPLES).to_list(),
        column=S.ACCOUNT_ID,
        path=exchanges_where,
    )
    log.add(
        "exchanges_without_account_row",
        "exchanges whose account is absent from the accounts table (kept)",
        count=int(only_in_exchanges["exchanges"].sum()),
        examples=[
            f"{account}: {n} exchange(s)"
            for account, n in only_in_exchanges.head(_MAX_EXAMPLES).iter_rows()
        ],
        column=S.ACCOUNT_ID,
        path=exchanges_where,
    )
    added = only_in_exchanges.select(S.ACCOUNT_ID).with_columns(
        [
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in account_rows.schema.items()
            if name != S.ACCOUNT_ID
        ]
    )
    universe = pl.concat([account_rows, added.select(account_rows.columns)], how="vertical").sort(
        S.ACCOUNT_ID
    )
    return Dataset(
        accounts=universe,
        exchanges=exchange_frame,
        warnings=log,
        inputs=[
            InputFile(S.ACCOUNTS, _where(accounts, S.ACCOUNTS), 0, "", n_account_rows),
            InputFile(S.EXCHANGES, exchanges_where, 0, "", n_exchange_rows),
        ],
        extra_account_columns=extra_columns,
    )


def load_labels(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> pl.DataFrame:
    """Read the ground-truth labels table (evaluation only).

    Parameters
    ----------
    path
        A labels file (.csv, .parquet, .ndjson, ...), columns ``account_id``,
        ``operator_id`` (empty or null = legitimate) and optionally ``kind``.
    mapping
        ``{contract column: file column}``, as for :func:`load_dataset`.
    warnings
        Log receiving counted non-fatal problems (discarded when None).

    Returns
    -------
    polars.DataFrame
        ``account_id``, ``operator_id``, ``kind`` (then any extra columns), one row per
        account, sorted by ``account_id``. Exact repeated rows are collapsed; an
        account labelled twice differently raises :class:`InputError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = file.write_text("account_id,operator_id,kind\\nb,,individual\\na,op1,farm\\n")
    >>> load_labels(file).rows()
    [('a', 'op1', 'farm'), ('b', None, 'individual')]
    """
    log = warnings if warnings is not None else WarningLog()
    frame, _ = _read_eager(path, S.LABELS, mapping, log)
    frame = _collapse_duplicates(frame, table=S.LABELS, path=str(path), warnings=log, what="labels")
    return frame.drop(_ROW).sort(S.ACCOUNT_ID)


def load_members(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> pl.DataFrame:
    """Read a members table (detector output, evaluator input).

    ``cluster_id`` is returned as text whatever the file holds (integers print
    without decoration, integral floats without ``.0``): the evaluator only tests
    equality. Empty or null = the account is linked to no one. ``flagged`` accepts
    booleans, 1/0 and true/false/yes/no in any case; anything else is fatal.
    Repeated account ids are kept (the evaluator counts them).

    Parameters
    ----------
    path
        A members file with ``account_id``, ``cluster_id``, ``flagged`` and optionally
        ``cluster_score``.
    mapping
        ``{contract column: file column}``, as for :func:`load_dataset`.
    warnings
        Log receiving counted non-fatal problems (discarded when None).

    Returns
    -------
    polars.DataFrame
        Columns of ``schema.MEMBERS_SCHEMA`` (``cluster_id`` as String), then extras,
        sorted by ``account_id`` then file order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "members.parquet"
    >>> pl.DataFrame({"account_id": ["b", "a"], "cluster_id": [7, None],
    ...               "flagged": ["Yes", "0"]}).write_parquet(file)
    >>> load_members(file).rows()
    [('a', None, None, False), ('b', '7', None, True)]
    """
    log = warnings if warnings is not None else WarningLog()
    frame, _ = _read_eager(path, S.MEMBERS, mapping, log)
    return frame.sort([S.ACCOUNT_ID, _ROW]).drop(_ROW)
