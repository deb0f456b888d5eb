"""Files → validated polars frames, following docs/data-contract.md. No business logic.

INTERFACE STUB: the loader helper fills in the bodies; signatures are the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from acctgraph.diagnostics import WarningLog


@dataclass(frozen=True)
class InputFile:
    """One input file as recorded in run.json: path, size in bytes, SHA-256, rows read."""

    table: str
    path: str
    size_bytes: int
    sha256: str


@dataclass
class Dataset:
    """Validated accounts and exchanges, ready for the attribute stage.

    ``accounts`` holds one row per account of the universe: the accounts table plus
    accounts seen only in exchanges (with null account-level attributes).
    ``exchanges`` stays lazy so that large inputs stream.
    """

    accounts: pl.DataFrame
    exchanges: pl.LazyFrame
    warnings: WarningLog
    inputs: list[InputFile] = field(default_factory=list)
    extra_account_columns: list[str] = field(default_factory=list)


def load_dataset(
    input_dir: str | Path | None = None,
    *,
    accounts: str | Path | None = None,
    exchanges: str | Path | None = None,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> Dataset:
    raise NotImplementedError


def load_labels(path: str | Path, *, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    raise NotImplementedError


def load_members(path: str | Path, *, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    raise NotImplementedError
