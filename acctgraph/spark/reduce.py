"""The per-account reductions of :mod:`acctgraph.features.reduce`, as Spark jobs.

:func:`spark_usage` gives the same :class:`~acctgraph.features.base.Usage` tables as
:func:`~acctgraph.features.reduce.compute_usage`, from exchanges held in a Spark
DataFrame (typed as the loader types them: :func:`acctgraph.spark.load.spark_dataset`).
What grows with traffic runs on Spark; what the driver receives is per account:

- group-bys and counts are Spark's own (exchanges per account and raw address, per
  address range and co-activity window, per account and hour);
- the prompt sample is Spark's ``xxhash64`` of the key polars hashes
  (:func:`~acctgraph.features.reduce.sample_key`, the same XXH64), compared in
  integers (:func:`~acctgraph.features.reduce.in_prompt_sample`);
- text rules (template bands, capability classes, client families, declared columns'
  normal form) are the polars expressions of the one-machine path, applied to each
  Arrow batch of the sample in Spark's Python workers (``mapInArrow``), so their
  results are the same by construction;
- address classification, the ``ip_usage`` table, window labels, the capability mix
  scaled to each account's exchanges and the emails are the one-machine functions,
  run on the driver on per-account tables.

Times are read as integer microseconds since the epoch, so no result depends on the
session's time zone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from acctgraph.core import schema as S
from acctgraph.features import reduce as R
from acctgraph.features.base import (
    ACTIVE_DAYS,
    CLIENTS,
    CLIENTS_SCHEMA,
    DAY,
    EVENTS_SCHEMA,
    FIRST_SEEN,
    HOUR,
    LAST_SEEN,
    N_EXCHANGES,
    OUTPUT_TOKENS_TOTAL,
    Usage,
)
from acctgraph.features.kinds import CoActivity, PromptTemplate
from acctgraph.features.prompt import CAPABILITIES, capability
from acctgraph.load import Dataset
from acctgraph.spark.load import column
from acctgraph.spark.session import arrow_batches, map_in_arrow, to_polars, to_spark

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_US_PER_HOUR = 3_600_000_000


def _functions() -> Any:
    from pyspark.sql import functions

    return functions


def _micros(column: str) -> Column:
    """A timestamp column as integer microseconds since the epoch (any session time zone)."""
    return _functions().unix_micros(_functions().col(column))


def _floor_to(micros: Column, step: int) -> Column:
    """``micros`` rounded down to a multiple of ``step`` (polars' ``dt.truncate`` in UTC)."""
    return micros - _functions().pmod(micros, _functions().lit(step))


def spark_usage(
    dataset: Dataset,
    exchanges: DataFrame,
    *,
    prompt: PromptTemplate | None = None,
    co_activity: CoActivity | None = None,
    event_columns: Sequence[tuple[str, str | None]] = (),
    progress: Callable[[str], None] | None = None,
) -> Usage:
    """:func:`~acctgraph.features.reduce.compute_usage` with the exchanges on Spark.

    ``dataset`` gives the accounts (on the driver) and the warning log; ``exchanges``
    is the Spark DataFrame of the same exchanges, typed. The tables are the same as
    the one-machine path's (the sorted ones in the same order; the others' row order
    is unspecified in both).
    """
    f = _functions()
    prompt = prompt or PromptTemplate()
    co_activity = co_activity or CoActivity()
    step = progress or (lambda _: None)
    accounts = dataset.accounts
    columns = set(exchanges.columns)
    session = exchanges.sparkSession

    step("usage: addresses and co-activity windows (Spark)")
    if S.IP in columns:
        windows = (
            exchanges.where(f.col(S.IP).isNotNull())
            .select(
                S.ACCOUNT_ID,
                S.IP,
                _floor_to(_micros(S.TIMESTAMP), co_activity.window_hours * _US_PER_HOUR).alias(
                    "_window"
                ),
            )
            .groupBy(S.ACCOUNT_ID, S.IP, "_window")
            .agg(f.count(f.lit(1)).alias(S.N_EVENTS))
            .persist()
        )
        exchange_ips = to_polars(
            windows.groupBy(S.ACCOUNT_ID, S.IP).agg(f.sum(S.N_EVENTS).alias(S.N_EVENTS))
        ).select(
            pl.col(S.ACCOUNT_ID).cast(pl.String),
            pl.col(S.IP).cast(pl.String),
            pl.col(S.N_EVENTS).cast(pl.UInt32),
        )
    else:
        windows = None
        exchange_ips = pl.DataFrame(
            schema={S.ACCOUNT_ID: pl.String, S.IP: pl.String, S.N_EVENTS: pl.UInt32}
        )
    try:
        ip_usage, lookup, bad_ips = R.ip_usage_table(exchange_ips, accounts=accounts)
        del exchange_ips
        if windows is not None and lookup.height:
            ranges = to_spark(session, lookup.select(S.IP, "ip_range"))
            counts = to_polars(
                windows.join(f.broadcast(ranges), on=S.IP, how="inner")
                .groupBy(S.ACCOUNT_ID, "ip_range", "_window")
                .agg(f.sum(S.N_EVENTS).alias(S.N_EVENTS))
            )
        else:
            counts = pl.DataFrame(
                schema={
                    S.ACCOUNT_ID: pl.String,
                    "ip_range": pl.String,
                    "_window": pl.Int64,
                    S.N_EVENTS: pl.Int64,
                }
            )
    finally:
        if windows is not None:
            windows.unpersist()
    co = R.co_activity_values(
        counts.with_columns(pl.col("_window").cast(S.TIME), pl.col(S.N_EVENTS).cast(pl.UInt32))
    )
    del counts

    step("usage: activity by hour and day (Spark)")
    activity, hours, daily = _activity_tables(exchanges, columns=columns)

    if S.PROMPT in columns:
        step("usage: prompt sample, template bands and capabilities (Spark)")
        templates, counts = _prompt_tables(exchanges, activity, prompt=prompt, columns=columns)
        clients = (
            counts.select(list(CLIENTS_SCHEMA)).sort(S.ACCOUNT_ID)
            if S.USER_AGENT in columns
            else pl.DataFrame(schema=CLIENTS_SCHEMA)
        )
        capabilities = R.scaled_capabilities(counts)
    else:
        templates = pl.DataFrame(
            schema={S.ACCOUNT_ID: pl.String, S.VALUE: pl.Categorical, S.N_EVENTS: pl.UInt32}
        )
        capabilities = None
        clients = pl.DataFrame(schema=CLIENTS_SCHEMA)
    activity = R.with_capability_mix(activity, capabilities, accounts=accounts)

    if event_columns:
        step("usage: declared exchanges columns (Spark)")
    events = _events(exchanges, event_columns)
    R.count_bad_ips(bad_ips, dataset.warnings)
    return Usage(
        events=events,
        accounts=accounts,
        emails=R.account_emails(accounts),
        ip_usage=ip_usage,
        templates=templates,
        co_activity=co,
        activity=activity,
        hours=hours,
        daily=daily,
        clients=clients,
        warnings=dataset.warnings,
    )


# --- Activity, hours of day, days -----------------------------------------------------------


def _activity_tables(
    exchanges: DataFrame, *, columns: set[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``activity`` (without the capability mix), ``hours`` and ``daily``, from one
    Spark group-by of the exchanges to (account, hour)."""
    f = _functions()
    micros = _micros(S.TIMESTAMP)
    aggs = [
        f.count(f.lit(1)).alias(S.N_EVENTS),
        f.min(micros).alias(FIRST_SEEN),
        f.max(micros).alias(LAST_SEEN),
    ]
    tokens = S.OUTPUT_TOKENS in columns
    if tokens:
        # polars sums nulls to 0, Spark to null
        aggs.append(f.coalesce(f.sum(S.OUTPUT_TOKENS), f.lit(0)).alias(OUTPUT_TOKENS_TOTAL))
    hour = (_floor_to(micros, _US_PER_HOUR) / _US_PER_HOUR).cast("long")  # exact: a multiple
    hourly = exchanges.groupBy(S.ACCOUNT_ID, hour.alias("_hour")).agg(*aggs).persist()
    try:
        return _per_account_tables(hourly, tokens=tokens)
    finally:
        hourly.unpersist()


def _per_account_tables(
    hourly: DataFrame, *, tokens: bool
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``activity``, ``hours`` and ``daily`` from the (account, hour) table."""
    f = _functions()
    day = ((f.col("_hour") - f.pmod(f.col("_hour"), f.lit(24))) / 24).cast("long")
    per_account = [
        f.sum(S.N_EVENTS).alias(N_EXCHANGES),
        f.min(FIRST_SEEN).alias(FIRST_SEEN),
        f.max(LAST_SEEN).alias(LAST_SEEN),
        f.countDistinct(day).alias(ACTIVE_DAYS),
    ]
    if tokens:
        per_account.append(f.sum(OUTPUT_TOKENS_TOTAL).alias(OUTPUT_TOKENS_TOTAL))
    activity = to_polars(hourly.groupBy(S.ACCOUNT_ID).agg(*per_account)).select(
        pl.col(S.ACCOUNT_ID).cast(pl.String),
        pl.col(N_EXCHANGES).cast(pl.UInt32),
        pl.col(FIRST_SEEN).cast(S.TIME),
        pl.col(LAST_SEEN).cast(S.TIME),
        pl.col(ACTIVE_DAYS).cast(pl.UInt32),
        (
            pl.col(OUTPUT_TOKENS_TOTAL).cast(pl.Int64)
            if tokens
            else pl.lit(None, pl.Int64).alias(OUTPUT_TOKENS_TOTAL)
        ),
    )
    hours = to_polars(
        hourly.groupBy(S.ACCOUNT_ID, f.pmod(f.col("_hour"), f.lit(24)).alias(HOUR)).agg(
            f.sum(S.N_EVENTS).alias(S.N_EVENTS)
        )
    ).select(
        pl.col(S.ACCOUNT_ID).cast(pl.String),
        pl.col(HOUR).cast(pl.Int8),
        pl.col(S.N_EVENTS).cast(pl.UInt32),
    )
    daily = to_polars(
        hourly.groupBy(S.ACCOUNT_ID, day.alias(DAY)).agg(f.sum(S.N_EVENTS).alias(S.N_EVENTS))
    ).select(
        pl.col(S.ACCOUNT_ID).cast(pl.String),
        pl.col(DAY).cast(pl.Int32).cast(pl.Date),
        pl.col(S.N_EVENTS).cast(pl.UInt32),
    )
    return activity, hours.sort(S.ACCOUNT_ID, HOUR), daily.sort(S.ACCOUNT_ID, DAY)


# --- Prompts: the sample, its bands and capability classes -----------------------------------


_SAMPLED = pa.schema(
    [
        pa.field(S.ACCOUNT_ID, pa.string()),
        pa.field("_capability", pa.int8()),
        pa.field("_client", pa.int8()),
        pa.field("_bands", pa.list_(pa.string())),
    ]
)


def _classify_batches(
    batches: Iterator[pa.RecordBatch], *, prompt: PromptTemplate, clients: bool
) -> Iterator[pa.RecordBatch]:
    """Each sampled exchange's capability class, client family and template bands
    (the one-machine path's polars expressions, batch by batch)."""
    bands = prompt.bands(S.PROMPT)
    cap = capability(S.PROMPT, max_chars=prompt.capability_chars).replace_strict(
        list(CAPABILITIES), list(range(len(CAPABILITIES))), return_dtype=pl.Int8
    )
    family = R.client_family(S.USER_AGENT).cast(pl.Int8) if clients else pl.lit(2, pl.Int8)
    for batch in batches:
        frame = pl.DataFrame(pl.from_arrow(batch))
        out = frame.select(
            S.ACCOUNT_ID,
            cap.alias("_capability"),
            family.alias("_client"),
            bands.alias("_bands"),
        )
        yield from arrow_batches(out, _SAMPLED)


def _prompt_tables(
    exchanges: DataFrame, activity: pl.DataFrame, *, prompt: PromptTemplate, columns: set[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``templates`` and the capability counts of :func:`~acctgraph.features.reduce._prompt_tables`."""
    f = _functions()
    session = exchanges.sparkSession
    clients = S.USER_AGENT in columns
    key = f.concat_ws(
        R.SAMPLE_KEY_SEP,
        f.lit(str(prompt.sample_seed)),
        f.col(S.ACCOUNT_ID),
        _micros(S.TIMESTAMP).cast("string"),
    )
    low = f.xxhash64(key).bitwiseAND(f.lit((1 << R.SAMPLE_HASH_BITS) - 1))
    n = to_spark(session, activity.select(S.ACCOUNT_ID, pl.col(N_EXCHANGES).cast(pl.Int64)))
    read = [S.ACCOUNT_ID, S.TIMESTAMP, S.PROMPT] + ([S.USER_AGENT] if clients else [])
    sampled = (
        exchanges.select(*read)
        .join(f.broadcast(n), on=S.ACCOUNT_ID)
        .where(low * f.col(N_EXCHANGES) < f.lit(prompt.max_per_account << R.SAMPLE_HASH_BITS))
    )
    keep = [S.ACCOUNT_ID, S.PROMPT] + ([S.USER_AGENT] if clients else [])
    classified = map_in_arrow(
        sampled.select(*keep),
        functools.partial(_classify_batches, prompt=prompt, clients=clients),
        _SAMPLED,
    ).persist()
    try:
        templates = to_polars(
            classified.select(S.ACCOUNT_ID, f.explode("_bands").alias(S.VALUE))
            .where(f.col(S.VALUE).isNotNull())
            .groupBy(S.ACCOUNT_ID, S.VALUE)
            .agg(f.count(f.lit(1)).alias(S.N_EVENTS))
        ).select(
            pl.col(S.ACCOUNT_ID).cast(pl.String),
            pl.col(S.VALUE).cast(pl.Categorical),
            pl.col(S.N_EVENTS).cast(pl.UInt32),
        )
        aggs = [f.count(f.lit(1)).alias("_sampled")]
        aggs += [
            f.sum((f.col("_capability") == i).cast("long")).alias(f"n_{name}")
            for i, name in enumerate(CAPABILITIES)
        ]
        if clients:
            aggs += [
                f.sum((f.col("_client") == i).cast("long")).alias(f"n_{name}")
                for i, name in enumerate(CLIENTS)
            ]
        counts = to_polars(classified.groupBy(S.ACCOUNT_ID).agg(*aggs))
    finally:
        classified.unpersist()
    counts = counts.select(
        pl.col(S.ACCOUNT_ID).cast(pl.String),
        pl.col("_sampled").cast(pl.UInt32),
        *[pl.col(f"n_{name}").cast(pl.UInt32) for name in CAPABILITIES],
        *[pl.col(f"n_{name}").cast(pl.UInt32) for name in (CLIENTS if clients else ())],
    ).join(activity.select(S.ACCOUNT_ID, N_EXCHANGES), on=S.ACCOUNT_ID, how="left")
    return templates, counts


# --- Declared exchanges columns ---------------------------------------------------------------


_EVENT_VALUES = pa.schema(
    [
        pa.field(S.ACCOUNT_ID, pa.string()),
        pa.field(S.ATTRIBUTE_KIND, pa.string()),
        pa.field(S.VALUE, pa.string()),
    ]
)


def _event_batches(
    batches: Iterator[pa.RecordBatch], *, declared: Sequence[tuple[str, str | None]]
) -> Iterator[pa.RecordBatch]:
    """``account_id, attribute_kind, value`` of each exchange and declared column
    (:func:`~acctgraph.features.reduce._events`' values, batch by batch; nulls dropped)."""
    for batch in batches:
        frame = pl.DataFrame(pl.from_arrow(batch)).with_columns(pl.col(S.TIMESTAMP).cast(S.TIME))
        parts = []
        for name, window in declared:
            kind, value = R.declared_value(name, window)
            parts.append(
                frame.select(
                    S.ACCOUNT_ID, pl.lit(kind).alias(S.ATTRIBUTE_KIND), value.alias(S.VALUE)
                ).drop_nulls()
            )
        yield from arrow_batches(pl.concat(parts), _EVENT_VALUES)


def _events(exchanges: DataFrame, declared: Sequence[tuple[str, str | None]]) -> pl.DataFrame:
    if not declared:
        return pl.DataFrame(schema=EVENTS_SCHEMA)
    f = _functions()
    ordered = R.declared_in_order(declared)
    read = sorted({S.ACCOUNT_ID, S.TIMESTAMP, *[name for name, _ in ordered]})
    values = map_in_arrow(
        exchanges.select(*[column(name) for name in read]),
        functools.partial(_event_batches, declared=ordered),
        _EVENT_VALUES,
    )
    counted = to_polars(
        values.groupBy(S.ACCOUNT_ID, S.ATTRIBUTE_KIND, S.VALUE).agg(
            f.count(f.lit(1)).alias(S.N_EVENTS)
        )
    )
    return counted.select([pl.col(name).cast(dtype) for name, dtype in EVENTS_SCHEMA.items()])
