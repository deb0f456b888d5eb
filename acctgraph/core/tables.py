"""Writing tables: Parquet keeps every value; CSV is made safe to open in a spreadsheet.

CSV cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab, a carriage return, a line feed or a NUL) are
prefixed with an apostrophe. So are cells where whitespace comes before
``=``, ``+``, ``-`` or ``@`` (``" =1+1"``): spreadsheets that trim spaces
on import (LibreOffice's "trim spaces", some paste paths) would otherwise
see a formula. Only text columns are touched; numbers stay numbers. The
Parquet file keeps the original value.

Examples
--------
>>> import polars as pl
>>> safe_for_spreadsheet(pl.DataFrame({"name": ["=HYPERLINK(1)", "alice", "-2+3"], "n": [-1, 2, 3]})).rows()
[("'=HYPERLINK(1)", -1), ('alice', 2), ("'-2+3", 3)]
>>> safe_for_spreadsheet(pl.DataFrame({"name": ["  =1+1", "a = b", "\\x00x"]}))["name"].to_list()
["'  =1+1", 'a = b', "'\\x00x"]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

FORMULA_START = r"^(?:[=+\-@\t\r\n\x00]|\s+[=+\-@])"


def safe_for_spreadsheet(frame: pl.DataFrame) -> pl.DataFrame:
    """Neutralise spreadsheet formulas in every text column."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists become ``;``-joined text, datetimes ISO 8601 with offset."""
    out = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            out.append(pl.col(name).cast(pl.List(pl.String)).list.join(";").alias(name))
        else:
            out.append(pl.col(name))
    return safe_for_spreadsheet(frame.select(out))


def write_table(frame: pl.DataFrame, out_dir: Path, name: str, *, csv: bool = True) -> list[Path]:
    """Write ``name.parquet`` (and ``name.csv``) into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.parquet"]
    frame.write_parquet(paths[0], compression="zstd", statistics=False)
    if csv:
        paths.append(out_dir / f"{name}.csv")
        _csv_ready(frame).write_csv(paths[1], datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z")
    return paths


def write_json(data: Any, path: Path) -> Path:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    )
    return path
