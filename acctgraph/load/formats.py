"""Input files: which file holds a table, its format, a lazy scan of it, its checksum.

A table file is CSV (optionally gzipped), Parquet or NDJSON / JSON Lines (optionally
gzipped), recognised by its extension (:func:`table_format`); in a folder, the single
``<table>.<extension>`` file holds the table (:func:`find_table_file`). Text formats
are scanned with every scalar column as a string (NDJSON keeps nested values), so
that the column plans of :mod:`acctgraph.load.checks` decide each value's type;
Parquet keeps its native types. Any failure while reading becomes an
:class:`~acctgraph.core.errors.InputError` naming the file (:func:`reading`).
A :data:`Source` is a file path or an in-memory frame; :func:`source_name` is how
messages name it. :func:`file_record` gives the size and SHA-256 recorded in run.json.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import InputError

_FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".ndjson": "ndjson",
    ".ndjson.gz": "ndjson",
    ".jsonl": "ndjson",
    ".jsonl.gz": "ndjson",
}

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
    with reading(str(path)), file_path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return InputFile(table, str(path), file_path.stat().st_size, digest.hexdigest(), rows)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 300 characters), for messages."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:300] + "…"


@contextmanager
def reading(path: str) -> Iterator[None]:
    """Turn any failure while reading ``path`` into an InputError naming the file."""
    try:
        yield
    except InputError:
        raise
    except _READ_ERRORS as exc:
        message = f"cannot read the file ({first_line(exc)})"
        if isinstance(exc, (pl.exceptions.ComputeError,)) and "utf" in str(exc).lower():
            message += "; text files must be UTF-8"
        raise InputError(message, path=path) from exc


def scan_file(path: Path) -> tuple[pl.LazyFrame, dict[str, pl.DataType]]:
    """Lazy scan of one file (text formats as strings) and its schema."""
    if path.is_dir():
        raise InputError(
            "is a directory: this engine reads one file per table (a directory of part "
            "files is read with --engine spark)",
            path=str(path),
        )
    fmt = table_format(path)
    where = str(path)
    if not path.exists():
        raise InputError("file not found", path=where)
    if not path.is_file():
        raise InputError("is not a file", path=where)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=where)
    with reading(where):
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


#: Where a table comes from: a file path or an in-memory frame.
Source = str | Path | pl.DataFrame | pl.LazyFrame


def source_name(source: Source, table: str) -> str:
    """How messages name a source: the file path, or ``<accounts frame>``."""
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        return f"<{table} frame>"
    return str(source)
