"""Shared pytest fixtures. Loader fixtures: hand-written contract files in every format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

CONTRACT_DIR = Path(__file__).parent / "data" / "contract"


def _write(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    compression = "gzip" if fmt.endswith(".gz") else "uncompressed"
    if fmt.startswith("csv"):
        frame.write_csv(path, compression=compression, check_extension=False)
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path, compression=compression, check_extension=False)


@pytest.fixture
def contract_dir() -> Path:
    """The folder of hand-written good and bad contract files."""
    return CONTRACT_DIR


@pytest.fixture
def write_table(tmp_path: Path) -> Callable[..., Path]:
    """Write a frame, or a hand-written CSV (read as text), as ``<stem>.<fmt>`` in tmp_path.

    ``fmt`` is one of csv, csv.gz, parquet, ndjson, jsonl.gz (or ndjson.gz, jsonl).

    ``write_table("bad/accounts_empty_id.csv", "parquet", stem="accounts")``
    """

    def write(source: str | Path | pl.DataFrame, fmt: str, *, stem: str = "table") -> Path:
        if isinstance(source, pl.DataFrame):
            frame = source
        else:
            frame = pl.read_csv(CONTRACT_DIR / source, infer_schema=False)
        path = tmp_path / f"{stem}.{fmt}"
        _write(frame, path, fmt)
        return path

    return write
