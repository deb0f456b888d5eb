"""Timestamps: ISO 8601 text, dates, native date-times and epoch numbers → UTC microseconds.

:func:`parse_timestamps` parses text: the first of a few ISO 8601 formats that parses
the first value is applied to the whole batch; the values it misses are normalised
(``T`` or space, ``Z``, spaces before the offset) and tried against fallback formats,
including minutes-only times, dates and integer epochs. :func:`time_expr` types a column
of any dtype: text and categorical columns are parsed as text, native date-times are
converted to UTC (naive ones are UTC), dates are midnight UTC, and integer or float
columns are epochs: seconds below :data:`EPOCH_MILLISECONDS_FROM` in absolute value,
milliseconds below :data:`EPOCH_LIMIT`, missing above. Anything outside years 1 to 9999
becomes null.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import InputError
from acctgraph.load.values import text_expr

#: Epoch integers whose absolute value is below this are seconds, else milliseconds.
EPOCH_MILLISECONDS_FROM = 100_000_000_000  # 1e11 s is year 5138; 1e11 ms is 1973-03-03
#: Epoch integers at or above this absolute value are rejected (1e14 ms is year 5138).
EPOCH_LIMIT = 100_000_000_000_000

#: Timestamps outside years 1 to 9999 are treated as unparseable (Python cannot hold them).
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

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


def time_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    """Expression turning ``column`` (file dtype ``dtype``) into ``S.TIME``, years 1-9999."""
    if dtype == pl.String or dtype in (pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum):
        text = text_expr(column, dtype, path=path, name=name, what="a timestamp")
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
