"""Reading one table: opened under contract names, typed and checked.

The small tables (accounts, labels, members) are read completely by
:func:`read_eager`, with a :data:`~acctgraph.load.checks.ROW` column of file row
numbers for messages and order; :func:`read_accounts` also collapses accounts
repeated exactly. The exchanges table stays lazy: :func:`read_exchanges` makes two
streaming passes, one for the checks and one for each account's exchange count and
its rows repeated exactly (found by a 64-bit row hash, counted as a warning, kept).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import InputError
from acctgraph.core.frames import account_part
from acctgraph.load.checks import (
    MAX_EXAMPLES,
    ROW,
    collapse_duplicates,
    plan_columns,
    run_checks,
    typed_name,
)
from acctgraph.load.columns import OUTPUT_SCHEMAS, open_table
from acctgraph.load.formats import Source, reading, source_name


def read_eager(
    source: Source,
    table: str,
    mapping: Mapping[str, str] | None,
    warnings: WarningLog,
) -> tuple[pl.DataFrame, list[str]]:
    """Read a small table completely: typed contract columns, extras, ``ROW``; checked."""
    where = source_name(source, table)
    frame, schema = open_table(source, table, mapping, warnings)
    typed, checks = plan_columns(table, schema, where)
    extras = [name for name in schema if name not in OUTPUT_SCHEMAS[table]]
    with reading(where):
        raw = frame.with_row_index(ROW, offset=1).collect()
    if raw.height == 0:
        raise InputError(f"has no rows (the {table} table is empty)", path=where)
    with reading(where):
        staged = raw.with_columns([expr.alias(typed_name(name)) for name, expr in typed.items()])
    run_checks(staged.lazy(), checks, table=table, path=where, warnings=warnings)
    result = staged.select(
        [pl.col(typed_name(name)).alias(name) for name in typed]
        + [pl.col(name) for name in extras]
        + [pl.col(ROW)]
    )
    return result.sort(ROW), extras


def read_accounts(
    source: Source, mapping: Mapping[str, str] | None, warnings: WarningLog
) -> tuple[pl.DataFrame, list[str], int]:
    where = source_name(source, S.ACCOUNTS)
    frame, extras = read_eager(source, S.ACCOUNTS, mapping, warnings)
    rows = frame.height
    frame = collapse_duplicates(
        frame, table=S.ACCOUNTS, path=where, warnings=warnings, what="attributes"
    )
    return frame.drop(ROW), extras, rows


def read_exchanges(
    source: Source,
    mapping: Mapping[str, str] | None,
    warnings: WarningLog,
    *,
    rows_per_part: int,
) -> tuple[pl.LazyFrame, pl.DataFrame, int]:
    """Typed lazy exchanges, per-account counts, row count. Two streaming passes; the second
    (the duplicate-row count) in account partitions of about ``rows_per_part`` exchanges,
    whose distinct row hashes are held at once
    (:func:`acctgraph.core.memory.load_rows_per_part`)."""
    where = source_name(source, S.EXCHANGES)
    frame, schema = open_table(source, S.EXCHANGES, mapping, warnings)
    typed, checks = plan_columns(S.EXCHANGES, schema, where)
    extras = [name for name in schema if name not in OUTPUT_SCHEMAS[S.EXCHANGES]]
    exchanges = frame.select(
        [expr.alias(name) for name, expr in typed.items()] + [pl.col(name) for name in extras]
    )
    # Pass 1: every count and example of the contract checks.
    staged = frame.with_row_index(ROW, offset=1).with_columns(
        [expr.alias(typed_name(name)) for name, expr in typed.items()]
    )
    rows = run_checks(staged, checks, table=S.EXCHANGES, path=where, warnings=warnings)
    warn_if_empty(warnings, rows, where)
    # Pass 2: exchanges per account, and rows repeated exactly (64-bit row hash), in
    # partitions of accounts so that the distinct row hashes held at once stay bounded.
    parts = max(1, -(-rows // rows_per_part))
    hashed = exchanges.select(
        pl.col(S.ACCOUNT_ID), pl.struct(pl.all()).hash(seed=0).alias("__acctgraph_row_hash")
    )
    with reading(where):
        per_account = pl.concat(
            [
                (hashed if parts == 1 else hashed.filter(account_part(parts) == part))
                .group_by(S.ACCOUNT_ID)
                .agg(
                    pl.len().alias("exchanges"),
                    pl.col("__acctgraph_row_hash").n_unique().alias("distinct"),
                )
                .collect(engine="streaming")
                for part in range(parts)
            ]
        ).sort(S.ACCOUNT_ID)
    repeated = per_account.filter(pl.col("exchanges") > pl.col("distinct")).select(
        S.ACCOUNT_ID, (pl.col("exchanges") - pl.col("distinct")).alias("repeated")
    )
    warn_repeated_rows(warnings, repeated, where)
    return exchanges, per_account.select(S.ACCOUNT_ID, "exchanges"), rows


def warn_if_empty(warnings: WarningLog, rows: int, where: str) -> None:
    """The ``exchanges_empty`` warning (counted 1 when the exchanges table has no rows)."""
    warnings.add(
        "exchanges_empty",
        "the exchanges table has no rows: a records-only run, where only the accounts "
        "table's columns link accounts",
        count=int(rows == 0),
        path=where,
    )


def warn_repeated_rows(warnings: WarningLog, repeated: pl.DataFrame, where: str) -> None:
    """The ``exchanges_duplicate_rows`` warning from ``account_id, repeated`` (rows beyond
    the first of each distinct row), the accounts with most repeats as examples."""
    warnings.add(
        "exchanges_duplicate_rows",
        "exchange rows repeated exactly (all columns equal); kept here, the attribute "
        "stage counts each distinct exchange once",
        count=int(repeated["repeated"].sum()),
        examples=[
            f"{account}: {n} repeated row(s)"
            for account, n in repeated.sort(["repeated", S.ACCOUNT_ID], descending=[True, False])
            .select(S.ACCOUNT_ID, "repeated")
            .head(MAX_EXAMPLES)
            .iter_rows()
        ],
        column=S.ACCOUNT_ID,
        path=where,
    )
