"""Per-account aggregates of the exchanges, computed once and shared by every kind.

The exchanges are the big table (tens of millions of rows). :func:`compute_usage`
reduces them here, in group-bys on polars's streaming engine, to small
per-account tables; no later stage reads raw exchanges again (the cards' template
samples excepted, which re-read the prompts of carded clusters). One function per
reduction:

- ``ip_usage`` (:func:`ip_usage_table`): (account, canonical ip, ranges, n_events)
  from exchange and signup addresses; malformed and non-global addresses
  (:mod:`acctgraph.features.ip`) excluded and counted in the warnings;
- ``co_activity`` (:func:`co_activity_values`): (account, ``ip_range@window-start``,
  n_events) from exchange addresses, in windows of
  :attr:`CoActivity.window_hours <acctgraph.features.kinds.CoActivity>`;
- ``templates`` (:func:`_prompt_tables`): (account, template band, n_events)
  over a per-account sample of prompts (:func:`_prompt_sample`): each
  exchange kept with probability ``max_per_account / n_exchanges`` by a hash
  of (account, timestamp) seeded with ``sample_seed``
  (:class:`~acctgraph.features.kinds.PromptTemplate`), so about
  ``max_per_account`` per account, and all of an account's prompts when it
  has no more exchanges than that;
- ``activity`` (:func:`_activity`, :func:`with_capability_mix`): one row per
  account of the accounts table, with behaviour figures used by scoring
  (``n_exchanges``, first and last seen, active days, output tokens) and the
  capability mix ``n_coding`` … ``n_other``, classified on the template sample
  and scaled to the account's exchanges (:func:`scaled_capabilities`: exact
  where the sample holds every exchange);
- ``clients`` (:func:`_prompt_tables`): per sampled account (sorted), the
  template sample's exchanges by client family of the user agent
  (:func:`client_family`);
- ``hours`` (:func:`_hours`): (account, hour of day UTC, n_events);
- ``daily`` (:func:`_daily`): (account, day UTC, n_events);
- ``emails`` (:func:`account_emails`): each account's address and its parts.

``activity``, ``hours`` and ``daily`` all follow from one group-by of the
exchanges to (account, hour) (:func:`_hourly`).

String columns that survive a filter or a group-by are copied
(:func:`acctgraph.core.frames.owned`), so that these small tables do not keep the
scan's decoded pages alive. The values of ``templates`` and ``co_activity`` (the two
largest tables: tens of millions of rows at the incident size) are
``pl.Categorical``, as in the attribute table they feed: a code a row, each text once.

Examples
--------
>>> import datetime as dt, polars as pl
>>> from acctgraph.core.diagnostics import WarningLog
>>> from acctgraph.load import Dataset
>>> t = dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)
>>> accounts = pl.DataFrame({"account_id": ["a", "b"]}).with_columns(
...     pl.lit(None, pl.Datetime("us", "UTC")).alias("created_at"), pl.lit(None, pl.String).alias("email"),
...     pl.lit(None, pl.String).alias("signup_ip"))
>>> exchanges = pl.LazyFrame({"account_id": ["a", "a", "b"], "timestamp": [t, t, t],
...     "ip": ["81.2.69.1", "10.0.0.1", "81.2.69.2"], "prompt": ["hi", "hi", "hello"]})
>>> usage = compute_usage(Dataset(accounts, exchanges, WarningLog()))
>>> usage.ip_usage.select("account_id", "ip", "n_events").rows()
[('a', '81.2.69.1', 1), ('b', '81.2.69.2', 1)]
>>> usage.warnings.count("ip_not_global")
1
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import polars_hash  # noqa: F401  (registers the ``nchash`` namespace)

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.frames import ACCOUNT_KEY, account_key, account_keys, account_part
from acctgraph.core.memory import part_label
from acctgraph.features import email as email_rules
from acctgraph.features import ip as ip_rules
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
from acctgraph.features.declared import normalised_text
from acctgraph.features.kinds import CoActivity, PromptTemplate
from acctgraph.features.prompt import CAPABILITIES, capability
from acctgraph.load import Dataset


def _exchange_columns(exchanges: pl.LazyFrame) -> set[str]:
    return set(exchanges.collect_schema().names())


def compute_usage(
    dataset: Dataset,
    *,
    prompt: PromptTemplate | None = None,
    co_activity: CoActivity | None = None,
    event_columns: Sequence[tuple[str, str | None]] = (),
    progress: Callable[[str], None] | None = None,
    partitions: int = 1,
) -> Usage:
    """Reduce the dataset's exchanges to per-account tables (streaming).

    Parameters
    ----------
    dataset
        Output of :func:`acctgraph.load.load_dataset`.
    prompt, co_activity
        The kinds whose parameters shape the reductions (defaults if None):
        ``prompt`` the template sample and its bands, ``co_activity`` the window.
    event_columns
        Declared exchanges columns as ``(column, window)`` pairs: window None for the
        per-account value counts, a window (``"10m"``) for co-activity on the column
        (:mod:`acctgraph.features.declared`); their rows go to ``Usage.events``.
    progress
        Called with the name of each reduction as it starts (``usage: addresses and
        co-activity windows``, ...): the pass over the exchanges is the run's longest stage.
    partitions
        Account partitions (:func:`~acctgraph.core.frames.account_part`) reduced one after the other, each
        reading the exchanges once: the group-bys' memory shrinks with the partition,
        and the tables are the same for any number of partitions (the sorted ones in
        the same order; the others' row order is unspecified in any case).

    Returns
    -------
    Usage
        The tables listed in the module docstring; ``warnings`` is the
        dataset's log, with the IP warnings added.
    """
    if dataset.spark is not None:  # its `exchanges` is an empty frame: never reduce it
        raise ValueError(
            "this dataset's exchanges are on Spark (acctgraph.spark_dataset): reduce them with "
            "acctgraph.spark.reduce.spark_usage, or run acctgraph.run_pipeline"
        )
    prompt = prompt or PromptTemplate()
    co_activity = co_activity or CoActivity()
    accounts, exchanges = dataset.accounts, dataset.exchanges
    columns = _exchange_columns(exchanges)
    step = progress or (lambda _: None)
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    parts = []
    started = time.perf_counter()
    for part in range(partitions):
        part_accounts, part_exchanges = accounts, exchanges
        if partitions > 1:
            part_accounts = accounts.filter(account_part(partitions) == part)
            part_exchanges = exchanges.filter(account_part(partitions) == part)
        parts.append(
            _usage_part(
                part_accounts,
                part_exchanges,
                columns=columns,
                prompt=prompt,
                co_activity=co_activity,
                event_columns=event_columns,
                step=functools.partial(_step_in_part, step, part, partitions, started),
            )
        )
    if partitions == 1:
        merged = parts[0]
    else:
        merged = {
            name: pl.concat([part[name] for part in parts], how="vertical") for name in parts[0]
        }
        del parts
        # The single-pass order: sorted where the module says so, unspecified elsewhere.
        merged["ip_usage"] = merged["ip_usage"].sort(S.ACCOUNT_ID, S.IP)
        merged["activity"] = merged["activity"].sort(S.ACCOUNT_ID)
        merged["hours"] = merged["hours"].sort(S.ACCOUNT_ID, HOUR)
        merged["daily"] = merged["daily"].sort(S.ACCOUNT_ID, DAY)
        merged["clients"] = merged["clients"].sort(S.ACCOUNT_ID)
    count_bad_ips(merged.pop("bad_ips"), dataset.warnings)
    return Usage(
        events=merged["events"],
        accounts=accounts,
        emails=account_emails(accounts),
        ip_usage=merged["ip_usage"],
        templates=merged["templates"],
        co_activity=merged["co_activity"],
        activity=merged["activity"],
        hours=merged["hours"],
        daily=merged["daily"],
        clients=merged["clients"],
        warnings=dataset.warnings,
    )


def _step_in_part(
    step: Callable[[str], None], part: int, parts: int, started: float, name: str
) -> None:
    step(part_label(name, part, parts, started, noun="accounts part"))


def _usage_part(
    accounts: pl.DataFrame,
    exchanges: pl.LazyFrame,
    *,
    columns: set[str],
    prompt: PromptTemplate,
    co_activity: CoActivity,
    event_columns: Sequence[tuple[str, str | None]],
    step: Callable[[str], None],
) -> dict[str, pl.DataFrame]:
    """The reductions of one account partition (``bad_ips``: the rows to count as warnings)."""
    step("usage: addresses and co-activity windows")
    positions = account_positions_by_key(accounts[S.ACCOUNT_ID])
    ip_windows = _ip_windows(
        exchanges, positions, columns=columns, window_hours=co_activity.window_hours
    )
    exchange_ips = ip_windows.group_by(POSITION, S.IP).agg(pl.col(S.N_EVENTS).sum())
    signup = _signup_ips(accounts, positions)
    ip_usage, ip_lookup, bad_ips = _ip_usage(exchange_ips, signup, key=POSITION)
    ids = positions[S.ACCOUNT_ID]
    ip_usage = _named(ip_usage, ids)
    co = _named(co_activity_values(_co_activity_counts(ip_windows, ip_lookup, key=POSITION)), ids)
    del ip_windows, exchange_ips

    step("usage: activity by hour and day")
    hourly = _hourly(exchanges, positions, columns=columns)
    del positions
    activity = _activity(hourly, columns=columns)
    hours = _hours(hourly)
    daily = _daily(hourly)
    del hourly

    if S.PROMPT in columns:
        step("usage: prompt sample, template bands and capabilities")
        sampled = _prompt_sample(exchanges, activity, prompt=prompt, columns=columns)
        templates, counts = _prompt_tables(
            sampled, activity, prompt=prompt, clients=S.USER_AGENT in columns
        )
        clients = (
            counts.select(list(CLIENTS_SCHEMA)).sort(S.ACCOUNT_ID)
            if S.USER_AGENT in columns
            else pl.DataFrame(schema=CLIENTS_SCHEMA)
        )
        capabilities = scaled_capabilities(counts)
    else:
        templates = pl.DataFrame(
            schema={S.ACCOUNT_ID: pl.String, S.VALUE: pl.Categorical, S.N_EVENTS: pl.UInt32}
        )
        capabilities = None
        clients = pl.DataFrame(schema=CLIENTS_SCHEMA)
    activity = with_capability_mix(activity, capabilities, accounts=accounts)

    if event_columns:
        step("usage: declared exchanges columns")
    return {
        "events": _events(exchanges, event_columns),
        "ip_usage": ip_usage,
        "templates": templates,
        "co_activity": co,
        "activity": activity,
        "hours": hours,
        "daily": daily,
        "clients": clients,
        "bad_ips": bad_ips,
    }


# --- IP usage and co-activity --------------------------------------------------------------


POSITION = "_a"
"""An account's position among the accounts' sorted ids (UInt32), the key the reductions
group by: position order is id order, and the ids are joined back once per table."""


def account_positions_by_key(account_ids: pl.Series) -> pl.DataFrame:
    """``_account_key, account_id, _a``: the accounts' keys
    (:func:`~acctgraph.core.frames.account_keys`) sorted by id, ``_a`` the position."""
    return (
        account_keys(account_ids)
        .sort(S.ACCOUNT_ID)
        .with_row_index(POSITION)
        .with_columns(pl.col(POSITION).cast(pl.UInt32))
    )


def _named(frame: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """``frame`` with its position ``_a`` replaced by ``account_id`` (first column); ``ids``:
    the accounts' sorted ids (:func:`account_positions_by_key`'s ``account_id``)."""
    return frame.select(ids.gather(frame[POSITION]).alias(S.ACCOUNT_ID), pl.exclude(POSITION))


def _ip_windows(
    exchanges: pl.LazyFrame, positions: pl.DataFrame, *, columns: set[str], window_hours: int
) -> pl.DataFrame:
    """``_a, ip, _window, n_events``: exchanges per account position, raw address
    (categorical) and co-activity window.

    Grouped by account key (:func:`~acctgraph.core.frames.account_key`), the positions
    (:func:`account_positions_by_key`) joined after."""
    schema = pl.Schema(
        {POSITION: pl.UInt32(), S.IP: pl.Categorical(), "_window": S.TIME, S.N_EVENTS: pl.UInt32()}
    )
    if S.IP not in columns:
        return pl.DataFrame(schema=schema)
    return (
        exchanges.select(
            account_key(),
            S.IP,
            pl.col(S.TIMESTAMP).dt.truncate(f"{window_hours}h").alias("_window"),
        )
        .drop_nulls(S.IP)
        .group_by(ACCOUNT_KEY, S.IP, "_window")
        .agg(pl.len().cast(pl.UInt32).alias(S.N_EVENTS))
        .with_columns(pl.col(S.IP).cast(pl.Categorical))  # a code a row; no page pinned
        .collect()
        .join(positions.select(ACCOUNT_KEY, POSITION), on=ACCOUNT_KEY)
        .select(schema.names())
    )


def _signup_ips(accounts: pl.DataFrame, positions: pl.DataFrame | None = None) -> pl.DataFrame:
    """``account_id, ip, n_events`` (1) of the accounts' signup addresses; with ``positions``
    (:func:`account_positions_by_key`) the account's position ``_a`` instead of its id."""
    if S.SIGNUP_IP not in accounts.columns:
        key = POSITION if positions is not None else S.ACCOUNT_ID
        dtype = pl.UInt32 if positions is not None else pl.String
        return pl.DataFrame(schema={key: dtype, S.IP: pl.String, S.N_EVENTS: pl.UInt32})
    signup = accounts.select(
        S.ACCOUNT_ID, pl.col(S.SIGNUP_IP).alias(S.IP), pl.lit(1, pl.UInt32).alias(S.N_EVENTS)
    ).drop_nulls(S.IP)
    if positions is None:
        return signup
    return signup.join(positions.select(S.ACCOUNT_ID, POSITION), on=S.ACCOUNT_ID).select(
        POSITION, S.IP, S.N_EVENTS
    )


def ip_usage_table(
    exchange_ips: pl.DataFrame, *, accounts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The ``ip_usage`` table, the lookup of the global addresses it holds, and the bad rows.

    Exchange addresses (``exchange_ips``: ``account_id, ip, n_events``, exchanges per
    account and raw address) and the accounts' signup addresses are classified once per
    distinct raw value (:func:`acctgraph.features.ip.classify_ips`); malformed and
    non-global ones are dropped and returned (``ip, ip_status, n_events``, for
    :func:`count_bad_ips`), and the rest are summed per (account, canonical address). The
    lookup has one row per usable raw value: ``ip`` (raw), ``ip_status``, ``ip_canonical``,
    ``ip_range``, ``ip_range_wide``.
    """
    return _ip_usage(exchange_ips, _signup_ips(accounts), key=S.ACCOUNT_ID)


def _ip_usage(
    exchange_ips: pl.DataFrame, signup: pl.DataFrame, *, key: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """:func:`ip_usage_table` of ``key, ip, n_events`` rows (``ip`` text or categorical; the
    lookup's ``ip`` has the same type), accounts identified by ``key``."""
    ip_type = exchange_ips.schema[S.IP]
    raw_ips = pl.concat(
        [
            exchange_ips.with_columns(pl.col(S.N_EVENTS).cast(pl.UInt32)),
            signup.with_columns(pl.col(S.IP).cast(ip_type)),
        ]
    )
    lookup = ip_rules.classify_ips(raw_ips[S.IP].unique().cast(pl.String)).with_columns(
        pl.col(ip_rules.RAW).cast(ip_type)
    )
    bad = (
        raw_ips.join(lookup.rename({ip_rules.RAW: S.IP}), on=S.IP, how="inner")
        .filter(pl.col(ip_rules.IP_STATUS) != ip_rules.OK)
        .select(pl.col(S.IP).cast(pl.String), ip_rules.IP_STATUS, S.N_EVENTS)
    )
    good = lookup.filter(pl.col(ip_rules.IP_STATUS) == ip_rules.OK).rename({ip_rules.RAW: S.IP})
    ip_usage = (
        raw_ips.join(good, on=S.IP, how="inner")
        .group_by(key, "ip_canonical")
        .agg(
            pl.col(S.N_EVENTS).sum(),
            pl.col(ip_rules.IP_RANGE).first(),
            pl.col(ip_rules.IP_RANGE_WIDE).first(),
        )
        .rename({"ip_canonical": S.IP})
        .sort(key, S.IP)
    )
    return ip_usage, good, bad


def _co_activity_counts(
    ip_windows: pl.DataFrame, ip_lookup: pl.DataFrame, *, key: str
) -> pl.DataFrame:
    """``key, ip_range, _window, n_events``: exchanges per range and window (the range
    categorical)."""
    ranges = ip_lookup.select(S.IP, pl.col(ip_rules.IP_RANGE).cast(pl.Categorical))
    return (
        ip_windows.join(ranges, on=S.IP, how="inner")
        .group_by(key, ip_rules.IP_RANGE, "_window")
        .agg(pl.col(S.N_EVENTS).sum())
    )


def co_activity_values(counts: pl.DataFrame) -> pl.DataFrame:
    """``account, value, n_events`` with value ``ip_range@window-start``, exchanges only.

    ``counts`` is ``account, ip_range, _window, n_events`` (``account``: the first column,
    whatever identifies the account). Values are made once per distinct (range, window),
    not once per row. Row order is unspecified: sorting millions of string rows is costly
    and nothing downstream depends on it.
    """
    account = counts.columns[0]
    values = (
        counts.select(ip_rules.IP_RANGE, "_window")
        .unique()
        .with_columns(
            pl.concat_str(
                [
                    pl.col(ip_rules.IP_RANGE).cast(pl.String),
                    pl.lit("@"),
                    pl.col("_window").dt.strftime("%Y-%m-%dT%H:%M"),
                ]
            )
            .cast(pl.Categorical)
            .alias(S.VALUE)
        )
    )
    return counts.join(values, on=[ip_rules.IP_RANGE, "_window"]).select(
        account, S.VALUE, S.N_EVENTS
    )


def declared_in_order(
    declared: Sequence[tuple[str, str | None]],
) -> list[tuple[str, str | None]]:
    """The declared exchanges columns once each, by column then window (no window first)."""
    return sorted(set(declared), key=lambda d: (d[0], d[1] or ""))


def declared_value(column: str, window: str | None) -> tuple[str, pl.Expr]:
    """The attribute kind and value of a declared exchanges column: the normalised text
    (kind ``column``), or with a window ``value@window-start`` (kind ``column@window``)."""
    value = normalised_text(pl.col(column))
    if window is None:
        return column, value
    start = pl.col(S.TIMESTAMP).dt.truncate(window).dt.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{column}@{window}", pl.concat_str([value, pl.lit("@"), start])


def _events(exchanges: pl.LazyFrame, declared: Sequence[tuple[str, str | None]]) -> pl.DataFrame:
    """``Usage.events``: exchanges per (account, normalised value) of each declared column.

    A co-activity column's value is ``value@window-start`` and its kind
    ``column@window``. Values are normalised as accounts columns are
    (:func:`~acctgraph.features.declared.normalised_text`: NFKC, trim, case).
    """
    frames = []
    for column, window in declared_in_order(declared):
        kind, value = declared_value(column, window)
        keyed = exchanges.select(S.ACCOUNT_ID, value.alias(S.VALUE))
        frames.append(
            keyed.drop_nulls()
            .group_by(S.ACCOUNT_ID, S.VALUE)
            .agg(pl.len().cast(pl.UInt32).alias(S.N_EVENTS))
            .with_columns(pl.lit(kind).alias(S.ATTRIBUTE_KIND))
            .select(list(EVENTS_SCHEMA))
        )
    if not frames:
        return pl.DataFrame(schema=EVENTS_SCHEMA)
    return pl.concat(pl.collect_all(frames))


# --- Activity, hours of day, days: from one (account, hour) table ------------------------------


@dataclass(frozen=True)
class _Hourly:
    """Exchanges per (account, UTC hour), the one group-by that activity, hours and days share.

    ``coded`` holds an integer code ``_a`` of the account (its position among the
    accounts' sorted ids, so code order is id order) instead of the id: the three
    reductions group by it rather than hashing and sorting id strings three
    times. ``ids`` maps a code back to its id.
    """

    coded: pl.DataFrame
    ids: pl.Series

    def named(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with its ``_a`` code replaced by ``account_id`` (first column)."""
        return _named(frame, self.ids)


def _hourly(exchanges: pl.LazyFrame, positions: pl.DataFrame, *, columns: set[str]) -> _Hourly:
    """Exchanges per account and hour (grouped by account key, as :func:`_ip_windows`)."""
    ts = pl.col(S.TIMESTAMP)
    aggs = [pl.len().alias(S.N_EVENTS), ts.min().alias(FIRST_SEEN), ts.max().alias(LAST_SEEN)]
    if S.OUTPUT_TOKENS in columns:
        aggs.append(pl.col(S.OUTPUT_TOKENS).sum().alias(OUTPUT_TOKENS_TOTAL))
    grouped = (
        exchanges.group_by(account_key(), ts.dt.truncate("1h").alias("_hour")).agg(aggs).collect()
    )
    coded = grouped.join(positions.select(ACCOUNT_KEY, POSITION), on=ACCOUNT_KEY).drop(ACCOUNT_KEY)
    if coded.height < grouped.height:
        raise ValueError(
            "the exchanges hold accounts that the accounts table lacks: make the dataset with "
            "acctgraph.load_dataset or dataset_from_frames, which add them to the universe"
        )
    del grouped
    return _Hourly(coded=coded, ids=positions[S.ACCOUNT_ID])


def _activity(hourly: _Hourly, *, columns: set[str]) -> pl.DataFrame:
    """One row per active account: exchanges, first and last seen, active days, output tokens."""
    aggs = [
        pl.col(S.N_EVENTS).sum().alias(N_EXCHANGES),
        pl.col(FIRST_SEEN).min(),
        pl.col(LAST_SEEN).max(),
        pl.col("_hour").dt.date().n_unique().alias(ACTIVE_DAYS),
    ]
    if S.OUTPUT_TOKENS in columns:
        aggs.append(pl.col(OUTPUT_TOKENS_TOTAL).sum())
    activity = hourly.named(hourly.coded.group_by("_a").agg(aggs))
    if OUTPUT_TOKENS_TOTAL not in activity.columns:
        activity = activity.with_columns(pl.lit(None, pl.Int64).alias(OUTPUT_TOKENS_TOTAL))
    return activity


def _events_by(hourly: _Hourly, key: pl.Expr, decoded: list[pl.Expr]) -> pl.DataFrame:
    """Exchanges summed per ``key``, one integer packing the account's position with a time
    part (one key column groups and sorts faster than two), sorted by it; ``decoded`` unpacks
    the key into ``_a`` and the time part."""
    counts = (
        hourly.coded.group_by(key.alias("_key"))
        .agg(pl.col(S.N_EVENTS).sum().cast(pl.UInt32))
        .sort("_key")
    )
    return hourly.named(counts.select(*decoded, S.N_EVENTS))


def _hours(hourly: _Hourly) -> pl.DataFrame:
    """``account_id, hour, n_events``: exchanges per hour of day (UTC), keyed by
    ``position × 24 + hour``."""
    key = pl.col(POSITION).cast(pl.UInt64) * 24 + pl.col("_hour").dt.hour().cast(pl.UInt64)
    return _events_by(
        hourly,
        key,
        [
            (pl.col("_key") // 24).cast(pl.UInt32).alias(POSITION),
            (pl.col("_key") % 24).cast(pl.Int8).alias(HOUR),
        ],
    )


_DAY_OFFSET = 1 << 31
"""Added to a date's day number (days since 1970, signed 32-bit) to make it a non-negative key."""


def _daily(hourly: _Hourly) -> pl.DataFrame:
    """``account_id, day, n_events``: exchanges per day (UTC), keyed by
    ``position × 2³² + day number + 2³¹``."""
    day = pl.col("_hour").dt.date().cast(pl.Int32).cast(pl.Int64) + _DAY_OFFSET
    key = pl.col(POSITION).cast(pl.Int64) * (1 << 32) + day
    return _events_by(
        hourly,
        key,
        [
            (pl.col("_key") // (1 << 32)).cast(pl.UInt32).alias(POSITION),
            ((pl.col("_key") % (1 << 32)) - _DAY_OFFSET).cast(pl.Int32).cast(pl.Date).alias(DAY),
        ],
    )


# --- Prompts: the template sample, its bands, and the capability mix --------------------------


SAMPLE_HASH_BITS = 24
"""Resolution of the sample's hash (2**-24): far finer than any rate it is compared to."""
SAMPLE_KEY_SEP = "\x1f"
"""Separates the parts of :func:`sample_key` (the unit separator: no id or number holds it)."""


def sample_key(*, seed: int) -> pl.Expr:
    """The text each exchange's sample hash is taken of: ``seed␟account_id␟microseconds``.

    ``microseconds`` is the timestamp's integer microseconds since the Unix epoch (UTC),
    in decimal. Any engine that writes the same text and takes XXH64 of its UTF-8 bytes
    with seed 42 (Spark's ``xxhash64``) finds the same sample.
    """
    return pl.concat_str(
        [
            pl.lit(str(seed)),
            pl.col(S.ACCOUNT_ID),
            pl.col(S.TIMESTAMP).dt.epoch("us").cast(pl.String),
        ],
        separator=SAMPLE_KEY_SEP,
    )


SAMPLE_HASH_SEED = 42
"""XXH64 seed of the sample hash: Spark's ``xxhash64`` has this one built in."""


def in_prompt_sample(*, seed: int, max_per_account: int, n_exchanges: pl.Expr) -> pl.Expr:
    """Whether an exchange is in its account's prompt sample.

    The exchange's place ``h / 2**24`` (``h``: the low 24 bits of XXH64 of
    :func:`sample_key`) is compared with the account's rate ``max_per_account /
    n_exchanges``, in integers (``h * n_exchanges < max_per_account * 2**24``), so the
    rule has one answer in every engine: about ``max_per_account`` exchanges of each
    account, all of them when it has no more than that. The hash is XXH64
    (polars-hash), stable across versions and machines; anything that must find the
    same prompts again (the cards' template samples) uses this expression with the
    same ``seed`` (:attr:`PromptTemplate.sample_seed`).
    """
    key: Any = sample_key(seed=seed)  # polars-hash's namespace is registered at import
    low = key.nchash.xxhash64(seed=SAMPLE_HASH_SEED) & ((1 << SAMPLE_HASH_BITS) - 1)
    return low.cast(pl.Int64) * n_exchanges.cast(pl.Int64) < pl.lit(
        max_per_account << SAMPLE_HASH_BITS, pl.Int64
    )


def _prompt_sample(
    exchanges: pl.LazyFrame, activity: pl.DataFrame, *, prompt: PromptTemplate, columns: set[str]
) -> pl.LazyFrame:
    """``account_id, timestamp, prompt, _a, n_exchanges`` (and ``_client``, the user agent's
    client family code, when the exchanges have one) of the sampled exchanges (lazy); ``_a``
    is the account's row in ``activity``.

    Each exchange of an account is kept with probability ``max_per_account /
    n_exchanges`` (all of them when the account has no more exchanges than
    that), decided by :func:`in_prompt_sample`: about ``max_per_account`` per
    account, deterministic. Read once for two reductions, the template bands and
    the capability mix (:func:`_prompt_tables`); a script's template mix and its
    capability shares are clear from a few hundred prompts, and this bounds the
    costliest text work to accounts × ``max_per_account``.
    """
    read = [S.ACCOUNT_ID, S.TIMESTAMP, S.PROMPT]
    if S.USER_AGENT in columns:
        read.append(S.USER_AGENT)
    sampled = (
        exchanges.select(read)
        .join(
            activity.lazy().select(S.ACCOUNT_ID, N_EXCHANGES).with_row_index("_a"),
            on=S.ACCOUNT_ID,
        )
        .filter(
            in_prompt_sample(
                seed=prompt.sample_seed,
                max_per_account=prompt.max_per_account,
                n_exchanges=pl.col(N_EXCHANGES),
            )
        )
    )
    if S.USER_AGENT in columns:  # a code a row, not the text: user agents are long
        sampled = sampled.with_columns(client_family(S.USER_AGENT).alias("_client")).drop(
            S.USER_AGENT
        )
    return sampled


def client_family(column: str) -> pl.Expr:
    """The client family of a user agent, as its index in ``CLIENTS``: 0 ``browser``
    (``Mozilla/…``, what every browser sends), 1 ``program`` (any other text), 2
    ``unknown`` (null or blank).

    >>> pl.DataFrame({"ua": ["Mozilla/5.0 (X11)", "curl/8.5.0", " ", None]}).select(
    ...     client_family("ua").alias("family"))["family"].to_list()
    [0, 1, 2, 2]
    """
    text = pl.col(column).str.strip_chars()
    return (
        pl.when(text.is_null() | (text == ""))
        .then(2)
        .when(text.str.starts_with("Mozilla/"))
        .then(0)
        .otherwise(1)
        .cast(pl.UInt8)
    )


def _prompt_tables(
    sampled: pl.LazyFrame, activity: pl.DataFrame, *, prompt: PromptTemplate, clients: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``templates`` table and the sample's class counts, from one read of the sample.

    One streaming pass reads the sampled prompts and keeps, per sampled exchange, only
    codes: the account's place in ``activity`` (sorted ids), its template bands
    (categorical), its capability class and client family. The two group-bys then run
    over these codes in memory, so the prompts are read and the sample decided once.

    ``templates`` is ``account_id, value, n_events`` (sampled prompts per template band,
    row order unspecified: see :func:`co_activity_values`); the counts are ``account_id,
    _sampled, n_exchanges, n_<capability>…`` (each prompt classified on its first
    ``prompt.capability_chars`` characters) and, with ``clients``, the sample's ``n_<client
    family>…`` (:data:`~acctgraph.features.base.CLIENTS`), one row per sampled account,
    sorted.
    """
    ids = activity.select(S.ACCOUNT_ID, N_EXCHANGES).with_row_index("_a")
    coded = sampled.select(
        "_a",
        *[band.cast(pl.Categorical) for band in prompt.band_columns(S.PROMPT)],
        capability(S.PROMPT, max_chars=prompt.capability_chars)
        .cast(pl.Enum(CAPABILITIES))
        .alias("_capability"),
        *(["_client"] if clients else []),
    ).collect(engine="streaming")
    templates = (
        pl.concat(
            [coded.select("_a", pl.col(f"_band{i}").alias(S.VALUE)) for i in range(prompt.n_bands)]
        )
        .drop_nulls(S.VALUE)
        .group_by("_a", S.VALUE)
        .agg(pl.len().alias(S.N_EVENTS))
    )
    templates = templates.select(
        ids[S.ACCOUNT_ID].gather(templates["_a"]).alias(S.ACCOUNT_ID), S.VALUE, S.N_EVENTS
    )
    families = (
        [
            (pl.col("_client") == i).sum().cast(pl.UInt32).alias(f"n_{name}")
            for i, name in enumerate(CLIENTS)
        ]
        if clients
        else []
    )
    counts = (
        coded.group_by("_a")
        .agg(
            pl.len().alias("_sampled"),
            *[(pl.col("_capability") == name).sum().alias(f"n_{name}") for name in CAPABILITIES],
            *families,
        )
        .sort("_a")
    )
    del coded
    picked = ids.select(S.ACCOUNT_ID, N_EXCHANGES)[counts["_a"]]
    counts = pl.concat([picked, counts.drop("_a")], how="horizontal").select(
        S.ACCOUNT_ID,
        "_sampled",
        N_EXCHANGES,
        *[f"n_{name}" for name in CAPABILITIES],
        *[f"n_{name}" for name in CLIENTS if clients],
    )
    return templates, counts


def with_capability_mix(
    activity: pl.DataFrame, capabilities: pl.DataFrame | None, *, accounts: pl.DataFrame
) -> pl.DataFrame:
    """The ``activity`` table: one row per account of ``accounts``, sorted, with the mix.

    ``capabilities`` is :func:`scaled_capabilities`'s table, or None when the
    exchanges have no prompt column (every count 0). Accounts without exchanges
    get ``n_exchanges`` 0 and nulls elsewhere.
    """
    if capabilities is not None:
        activity = activity.join(capabilities, on=S.ACCOUNT_ID, how="left").with_columns(
            *[pl.col(f"n_{name}").fill_null(0) for name in CAPABILITIES]
        )
    else:
        activity = activity.with_columns(
            *[pl.lit(0, pl.UInt32).alias(f"n_{name}") for name in CAPABILITIES]
        )
    return (
        accounts.select(S.ACCOUNT_ID)
        .join(activity, on=S.ACCOUNT_ID, how="left")
        .select(
            S.ACCOUNT_ID,
            pl.col(N_EXCHANGES).fill_null(0),
            FIRST_SEEN,
            LAST_SEEN,
            ACTIVE_DAYS,
            *[f"n_{name}" for name in CAPABILITIES],
            OUTPUT_TOKENS_TOTAL,
        )
        .sort(S.ACCOUNT_ID)
    )


# --- Emails --------------------------------------------------------------------------------


def account_emails(accounts: pl.DataFrame) -> pl.DataFrame:
    """``account_id, email`` and the parts of :func:`acctgraph.features.email.email_table`."""
    raw = (
        accounts.select(S.ACCOUNT_ID, S.EMAIL)
        if S.EMAIL in accounts.columns
        else accounts.select(S.ACCOUNT_ID, pl.lit(None, pl.String).alias(S.EMAIL))
    )
    table = email_rules.email_table(raw[S.EMAIL])
    return raw.join(table, on=S.EMAIL, how="left").sort(S.ACCOUNT_ID)


def scaled_capabilities(sampled: pl.DataFrame) -> pl.DataFrame:
    """``account_id, n_<capability>…``: the sample's class counts scaled to the account's exchanges.

    Exact where every prompt was read; otherwise each class gets the floor of its
    share × exchanges and the remainder goes to the largest fractional parts
    (ties: class order), so the four always add up to ``n_exchanges``.

    >>> t = pl.DataFrame({"account_id": ["a", "b"], "_sampled": [3, 4], "n_exchanges": [3, 10],
    ...                   "n_coding": [1, 1], "n_agentic": [1, 1], "n_reasoning": [1, 1], "n_other": [0, 1]})
    >>> scaled_capabilities(t).rows()
    [('a', 1, 1, 1, 0), ('b', 3, 3, 2, 2)]
    """
    columns = [f"n_{name}" for name in CAPABILITIES]
    counts = sampled.select(columns).to_numpy().astype(np.int64)
    total = sampled[N_EXCHANGES].to_numpy().astype(np.int64)
    read = np.maximum(sampled["_sampled"].to_numpy().astype(np.int64), 1)
    exact = counts * total[:, None] / read[:, None]
    estimate = np.floor(exact).astype(np.int64)
    remainder = total - estimate.sum(axis=1)
    order = np.argsort(-(exact - estimate), axis=1, kind="stable")  # largest fraction first
    rank = np.argsort(order, axis=1)  # each class's place in that order
    estimate += rank < remainder[:, None]
    return sampled.select(S.ACCOUNT_ID).with_columns(
        pl.Series(name, estimate[:, i], dtype=pl.UInt32) for i, name in enumerate(columns)
    )


def count_bad_ips(bad: pl.DataFrame, warnings: WarningLog) -> None:
    """Record the malformed and non-global addresses of :func:`ip_usage_table`'s bad rows."""
    for status, code, message in (
        (
            ip_rules.MALFORMED,
            "ip_malformed",
            "IP value is not an IP address; treated as missing for linking",
        ),
        (
            ip_rules.NOT_GLOBAL,
            "ip_not_global",
            "IP is private, loopback, link-local, CGNAT, documentation or reserved; treated as missing for linking",
        ),
    ):
        rows = bad.filter(pl.col(ip_rules.IP_STATUS) == status)
        examples = rows.select(S.IP).unique().sort(S.IP).head(5)[S.IP].to_list()
        # A total over the whole dataset: computing usage twice must not double it.
        warnings.put(
            code, message, count=int(rows[S.N_EVENTS].sum() or 0), examples=examples, column=S.IP
        )
