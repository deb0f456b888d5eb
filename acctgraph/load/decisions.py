"""The investigators' decisions file: what they decided about operations and accounts.

A CSV file that belongs to the investigator: acctgraph reads it and never writes it.
Columns (a header row; extra columns are ignored):

- ``target``: an operation id (``op-000123``), an account id, or an organisation (a
  value of the accounts table's ``org_id``);
- ``decision``: ``confirmed``, ``benign``, ``allowlist`` or ``under_review``;
- ``decided_by``: who decided (free text, required);
- ``decided_at``: when, an ISO 8601 date or date and time (``2026-06-01`` or
  ``2026-06-01T09:30:00Z``);
- ``note``: why (free text, may be empty).

Several rows for one target: the latest ``decided_at`` wins (the later row on a tie).
What each decision does to a run is in :mod:`acctgraph.cluster.track`. A malformed
row stops the run with exit status 2 and a message naming the file, the column and
the rows (numbered as a spreadsheet shows them: the header is row 1).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "decisions.csv"
>>> _ = path.write_text(
...     "target,decision,decided_by,decided_at,note\\n"
...     "op-000004,benign,ana,2026-06-01,university lab\\n"
...     "acct-17,allowlist,ben,2026-06-02T10:00:00Z,partner\\n")
>>> load_decisions(path).select("target", "decision", "row").rows()
[('op-000004', 'benign', 2), ('acct-17', 'allowlist', 3)]
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from acctgraph.core.errors import InputError

TARGET = "target"
DECISION = "decision"
DECIDED_BY = "decided_by"
DECIDED_AT = "decided_at"
NOTE = "note"
ROW = "row"
DECIDED_TIME = "decided_time"

DECISION_COLUMNS = (TARGET, DECISION, DECIDED_BY, DECIDED_AT, NOTE)
DECISIONS = ("confirmed", "benign", "allowlist", "under_review")

DECISIONS_SCHEMA: dict[str, pl.DataType] = {
    TARGET: pl.String(),
    DECISION: pl.String(),
    DECIDED_BY: pl.String(),
    DECIDED_AT: pl.String(),
    NOTE: pl.String(),
    ROW: pl.Int64(),
    DECIDED_TIME: pl.Datetime("us", "UTC"),
}


def load_decisions(path: str | Path) -> pl.DataFrame:
    """Read and check a decisions file.

    Returns
    -------
    polars.DataFrame
        :data:`DECISIONS_SCHEMA`: the five columns as text (``note`` empty when
        missing), ``row`` (the file's row number, header = 1) and ``decided_time``
        (``decided_at`` parsed, UTC; a date is its midnight), in file order.

    Raises
    ------
    InputError
        The file cannot be read as UTF-8 CSV, repeats or lacks a column, or has rows
        with another number of fields than the header (an unquoted comma in a note),
        an empty target, an unknown decision, no ``decided_by`` or an unreadable
        ``decided_at``.
    """
    where = str(path)
    frame = _read(path, where)
    missing = [c for c in (TARGET, DECISION, DECIDED_BY, DECIDED_AT) if c not in frame.columns]
    if missing:
        raise InputError(
            f"the decisions file has no column {', '.join(map(repr, missing))} (expected "
            f"{', '.join(DECISION_COLUMNS)}; its columns: {', '.join(frame.columns)})",
            path=where,
        )
    if NOTE not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias(NOTE))
    frame = frame.select(
        *(pl.col(c).fill_null("").str.strip_chars().alias(c) for c in DECISION_COLUMNS), ROW
    ).with_columns(pl.col(DECISION).str.to_lowercase().str.replace_all("[ -]", "_"))
    frame = frame.with_columns(_parsed_time(pl.col(DECIDED_AT)).alias(DECIDED_TIME))
    checks = [
        (TARGET, pl.col(TARGET) == "", "empty"),
        (
            DECISION,
            ~pl.col(DECISION).is_in(DECISIONS),
            f"a decision that is not one of {', '.join(DECISIONS)}",
        ),
        (DECIDED_BY, pl.col(DECIDED_BY) == "", "empty"),
        (
            DECIDED_AT,
            pl.col(DECIDED_TIME).is_null(),
            "not an ISO 8601 date or date and time (2026-06-01 or 2026-06-01T09:30:00Z)",
        ),
    ]
    for column, bad, what in checks:
        wrong = frame.filter(bad)
        if wrong.height:
            rows = wrong[ROW].to_list()
            shown = ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else "")
            raise InputError(
                f"{what} in {len(rows)} row{'' if len(rows) == 1 else 's'} "
                f"(row{'' if len(rows) == 1 else 's'} {shown}; the header is row 1)",
                path=where,
                column=column,
                examples=[f"row {r}: {v!r}" for r, v in wrong.select(ROW, column).rows()],
            )
    return frame.select(list(DECISIONS_SCHEMA)).cast(pl.Schema(DECISIONS_SCHEMA))


def _read(path: str | Path, where: str) -> pl.DataFrame:
    """Every field as text, with ``row``: the record's number as a spreadsheet shows it."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            records = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(
            f"cannot read the decisions file as UTF-8 CSV: {error}", path=where
        ) from error
    if not records:
        raise InputError(
            f"the decisions file is empty (expected a header: {', '.join(DECISION_COLUMNS)})",
            path=where,
        )
    header = [name.strip() for name in records[0]]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise InputError(
            f"the decisions file has column {repeated[0]!r} {header.count(repeated[0])} times",
            path=where,
            column=repeated[0],
        )
    rows = [
        (number, record)
        for number, record in enumerate(records[1:], start=2)
        if any(field.strip() for field in record)
    ]  # blank lines hold nothing
    ragged = [(number, record) for number, record in rows if len(record) != len(header)]
    if ragged:
        shown = ", ".join(str(number) for number, _ in ragged[:10])
        raise InputError(
            f"{len(ragged)} row{'' if len(ragged) == 1 else 's'} with another number of fields "
            f"than the header's {len(header)} (rows {shown}; the header is row 1): quote a "
            "note that holds a comma",
            path=where,
            examples=[f"row {number}: {len(record)} fields" for number, record in ragged],
        )
    columns = {name: [record[i] for _, record in rows] for i, name in enumerate(header) if name}
    frame = pl.DataFrame(columns, schema={name: pl.String for name in columns})
    return frame.with_columns(pl.Series(ROW, [number for number, _ in rows], dtype=pl.Int64))


def _parsed_time(text: pl.Expr) -> pl.Expr:
    """ISO 8601 dates and date-times (with ``T`` or a space, with or without seconds,
    fraction and offset; no offset = UTC) as UTC datetimes; null when unreadable."""
    normal = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    formats = [
        ("%Y-%m-%dT%H:%M:%S%.f%:z", True),
        ("%Y-%m-%dT%H:%M%:z", True),
        ("%Y-%m-%dT%H:%M:%S%.f", False),
        ("%Y-%m-%dT%H:%M", False),
    ]
    parsed = [
        normal.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)
        if aware
        else normal.str.strptime(pl.Datetime("us"), fmt, strict=False).dt.replace_time_zone("UTC")
        for fmt, aware in formats
    ]
    date = (
        normal.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    return pl.coalesce(*parsed, date)
