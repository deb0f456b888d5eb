"""Column plans and checks: how each contract column is typed and what is counted.

:func:`plan_columns` gives, for every contract column of a table, the expression
that types it by its kind (id, group, text, time, required time, count, score,
flag; :mod:`acctgraph.load.values`, :mod:`acctgraph.load.timestamps`) and the
checks of the columns present. Fatal: an empty or null id, a missing or
unparseable required timestamp, a flag not among true/false/1/0/yes/no. Counted as
warnings, the value becoming missing: blank text, count, score or optional time,
an unparseable optional timestamp, a count that is not a non-negative integer, a
score that is not a finite number. :func:`run_checks` counts every check in one
streaming pass, then reads up to :data:`MAX_EXAMPLES` example rows of each check
that fails. :func:`collapse_duplicates` collapses rows repeated exactly and
refuses an account id whose rows differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import InputError
from acctgraph.load.columns import OUTPUT_SCHEMAS
from acctgraph.load.formats import reading
from acctgraph.load.timestamps import time_expr
from acctgraph.load.values import (
    count_expr,
    flag_expr,
    is_blank,
    score_expr,
    text_expr,
    without_blanks,
)

#: Hidden 1-based row-number column added while validating (row 1 = first data row).
ROW = "__acctgraph_row"
#: Example rows quoted per failing check or duplicate in messages and warnings.
MAX_EXAMPLES = 5

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


@dataclass(frozen=True)
class _Check:
    """A condition counted in one streaming pass: fatal → InputError, else a warning."""

    code: str
    message: str
    column: str
    mask: pl.Expr
    example: tuple[str, tuple[pl.Expr, ...]]  # format template and its values
    fatal: bool


def typed_name(name: str) -> str:
    """Name of the hidden column holding the typed values of contract column ``name``."""
    return f"__acctgraph_typed_{name}"


def _row_label() -> tuple[str, tuple[pl.Expr, ...]]:
    return "row {}", (pl.col(ROW),)


def _row_and_value(raw: pl.Expr) -> tuple[str, tuple[pl.Expr, ...]]:
    return "row {}: {}", (pl.col(ROW), raw)


def plan_columns(
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
        done = pl.col(typed_name(name))
        blank = is_blank(raw.cast(pl.String)) if dtype == pl.String else pl.lit(False)
        where = f"{table}.{name}"
        if kind == _ID:
            text = text_expr(raw, dtype, path=path, name=name)
            typed[name] = without_blanks(text)
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
            typed[name] = without_blanks(text_expr(raw, dtype, path=path, name=name))
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
            typed[name] = without_blanks(text_expr(raw, dtype, path=path, name=name))
        elif kind in (_TIME, _TIME_REQUIRED):
            parsed = time_expr(raw, dtype, path=path, name=name)
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
            typed[name] = count_expr(raw, dtype, path=path, name=name)
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
            typed[name] = score_expr(raw, dtype, path=path, name=name)
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
            typed[name] = flag_expr(raw, dtype, path=path, name=name)
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


def run_checks(
    frame: pl.LazyFrame,
    checks: list[_Check],
    *,
    table: str,
    path: str,
    warnings: WarningLog,
) -> int:
    """One pass computing every check's count and first examples; returns the row count.

    ``frame`` holds the raw columns, the typed columns (``typed_name``) and ``ROW``.
    Raises the first fatal check that fails; records every non-fatal one.
    """
    # Pass 1 streams counts only (aggregating examples in the same pass made polars hold
    # whole columns: 10 GB on 40M exchanges); examples are then read for the failing checks
    # alone, the first rows by row number, with a bounded bottom-k.
    aggregates = [pl.len().alias("__rows")]
    for i, check in enumerate(checks):
        aggregates.append(check.mask.fill_null(False).sum().alias(f"n{i}"))
    with reading(path):
        result = frame.select(aggregates).collect(engine="streaming").row(0, named=True)

    def examples(i: int) -> list[str]:
        if not result[f"n{i}"]:
            return []
        template, parts = checks[i].example
        with reading(path):
            rows = (
                frame.filter(checks[i].mask.fill_null(False))
                .select(
                    pl.col(ROW).alias("__row"),
                    *[part.cast(pl.String).alias(f"e{j}") for j, part in enumerate(parts)],
                )
                .bottom_k(MAX_EXAMPLES, by="__row")
                .collect(engine="streaming")
                .sort("__row")
            )
        # Formatted in Python (pl.format over filtered multi-chunk columns panics in polars 2.1).
        return [
            template.format(*("(null)" if v is None else v for v in values))
            for values in rows.drop("__row").iter_rows()
        ]

    report_checks(
        checks,
        [int(result[f"n{i}"]) for i in range(len(checks))],
        examples,
        path=path,
        warnings=warnings,
    )
    return int(result["__rows"])


def report_checks(
    checks: list[_Check],
    counts: list[int],
    examples: Callable[[int], list[str]],
    *,
    path: str,
    warnings: WarningLog,
) -> None:
    """Raise the first fatal check that failed (its count and examples); record every
    non-fatal one as a warning. ``examples(i)``: the example rows of check ``i``, asked
    only when it failed."""
    for i, check in enumerate(checks):
        if counts[i] and check.fatal:
            raise InputError(
                f"{counts[i]} row(s) with {check.message} (row 1 is the first data row)",
                path=path,
                column=check.column,
                examples=examples(i),
            )
    for i, check in enumerate(checks):
        warnings.add(
            check.code,
            check.message,
            count=counts[i],
            examples=examples(i) if counts[i] else [],
            column=check.column,
            path=path,
        )


def collapse_duplicates(
    frame: pl.DataFrame, *, table: str, path: str, warnings: WarningLog, what: str
) -> pl.DataFrame:
    """Collapse rows repeated exactly; an id on rows that differ is fatal."""
    repeated = frame.filter(pl.col(S.ACCOUNT_ID).is_duplicated())
    if repeated.height == 0:
        return frame
    values = [name for name in frame.columns if name != ROW]
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
            .agg(pl.col(ROW).sort())
            .sort(S.ACCOUNT_ID)
        )
        raise InputError(
            f"{conflicting.len()} account id(s) appear on several rows with different "
            f"{what}; keep one row per account",
            path=path,
            column=S.ACCOUNT_ID,
            examples=[
                f"{account} (rows {', '.join(str(r) for r in row_numbers[:5])})"
                for account, row_numbers in rows.head(MAX_EXAMPLES).iter_rows()
            ],
        )
    collapsed = frame.unique(subset=values, keep="first", maintain_order=True)
    ids = repeated[S.ACCOUNT_ID].unique().sort()
    warnings.add(
        f"{table}_duplicate_rows",
        f"rows repeated exactly in the {table} table; collapsed to one row each",
        count=frame.height - collapsed.height,
        examples=ids.head(MAX_EXAMPLES).to_list(),
        column=S.ACCOUNT_ID,
        path=path,
    )
    return collapsed
