"""The loaders: accounts and exchanges validated together, and the evaluation tables.

:func:`load_dataset` (files) and :func:`dataset_from_frames` (in-memory frames) read
both tables and build the account universe: the accounts table plus the accounts
seen only in exchanges, with null account-level attributes (both counted as
warnings). :func:`load_labels` and :func:`load_members` read the tables the
evaluator compares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import InputError
from acctgraph.core.memory import load_rows_per_part, resolve_budget
from acctgraph.load.checks import MAX_EXAMPLES, ROW, collapse_duplicates
from acctgraph.load.columns import table_mapping
from acctgraph.load.formats import InputFile, Source, file_record, find_table_file, source_name
from acctgraph.load.tables import read_accounts, read_eager, read_exchanges


@dataclass
class Dataset:
    """Validated accounts and exchanges, ready for the attribute stage.

    ``accounts`` holds one row per account of the universe: the accounts table plus
    accounts seen only in exchanges (with null account-level attributes), sorted by
    ``account_id``; contract columns in schema order, then extra columns.
    ``exchanges`` stays lazy so that large inputs stream; its row order is not
    guaranteed (sort before anything order-sensitive).
    """

    accounts: pl.DataFrame
    exchanges: pl.LazyFrame
    warnings: WarningLog
    inputs: list[InputFile] = field(default_factory=list)
    extra_account_columns: list[str] = field(default_factory=list)
    spark: Any = None
    """On the Spark engine, the exchanges' Spark DataFrame
    (:class:`acctgraph.spark.load.SparkExchanges`); ``exchanges`` is then empty."""


def load_dataset(
    input_dir: str | Path | None = None,
    *,
    accounts: str | Path | None = None,
    exchanges: str | Path | None = None,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
    memory_budget: str | int | None = None,
) -> Dataset:
    """Read and validate the accounts and exchanges tables (docs/data-contract.md).

    Parameters
    ----------
    input_dir
        A directory holding exactly one ``accounts.<ext>`` and one ``exchanges.<ext>``
        (extensions: .csv, .csv.gz, .parquet, .ndjson, .jsonl, optionally .gz).
    accounts, exchanges
        Explicit files; each overrides the lookup in ``input_dir`` for its table.
    mapping
        ``{contract column: file column}``; a key ``"exchanges.ip"`` applies to one
        table only, a plain key to every table that has that column.
    warnings
        Log receiving the counted non-fatal problems (a new one when None); also
        returned as ``Dataset.warnings``.
    memory_budget
        The run's memory budget (a size such as ``"8GB"``, as ``--memory-budget``; None:
        the machine's default, :func:`acctgraph.core.memory.resolve_budget`): how many
        exchanges the duplicate-row pass takes at once
        (:func:`~acctgraph.core.memory.load_rows_per_part`), never the result.

    Returns
    -------
    Dataset
        ``accounts`` collected (the account universe, sorted by account_id),
        ``exchanges`` lazy, the warnings and an :class:`InputFile` per file read.

    Raises
    ------
    InputError
        When a file breaks a fatal rule of the contract (message names the file,
        the column and up to five offending rows).
    ConfigError
        When ``mapping`` names a column that is not in the contract.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "users.csv").write_text("user_id,country\\nu1,FR\\nu1,FR\\n")
    >>> pl.DataFrame({"user_id": ["u1", "u2"], "timestamp": [1776852000, 1776852000123],
    ...               "input_tokens": [12, -1]}).write_parquet(folder / "log.parquet")
    >>> data = load_dataset(accounts=folder / "users.csv", exchanges=folder / "log.parquet",
    ...                     mapping={"account_id": "user_id"})
    >>> data.accounts.select("account_id", "country").rows()
    [('u1', 'FR'), ('u2', None)]
    >>> sorted(w["code"] for w in data.warnings.as_records())  # doctest: +NORMALIZE_WHITESPACE
    ['accounts_duplicate_rows', 'accounts_only_in_exchanges', 'exchanges_input_tokens_invalid',
     'exchanges_without_account_row']
    """
    log = warnings if warnings is not None else WarningLog()
    table_mapping(mapping, S.ACCOUNTS)  # reject bad mapping keys before reading anything
    accounts_path, exchanges_path = map(Path, table_paths(input_dir, accounts, exchanges))

    rows_per_part = load_rows_per_part(resolve_budget(memory_budget)[0])
    dataset = _assemble(accounts_path, exchanges_path, mapping, log, rows_per_part=rows_per_part)
    dataset.inputs = [
        file_record(S.ACCOUNTS, accounts_path, rows=dataset.inputs[0].rows),
        file_record(S.EXCHANGES, exchanges_path, rows=dataset.inputs[1].rows),
    ]
    return dataset


def dataset_from_frames(
    accounts: pl.DataFrame | pl.LazyFrame,
    exchanges: pl.DataFrame | pl.LazyFrame,
    *,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> Dataset:
    """Validate in-memory accounts and exchanges frames exactly as :func:`load_dataset` does.

    Native column types are cast as for Parquet files; messages name the table as
    ``<accounts frame>`` / ``<exchanges frame>``. ``Dataset.inputs`` records no file
    checksum (``path`` is that name, ``size_bytes`` 0 and ``sha256`` empty).

    Examples
    --------
    >>> accounts = pl.DataFrame({"account_id": ["a1"], "created_at": ["2026-04-01"]})
    >>> exchanges = pl.DataFrame({"account_id": ["a1", "a2"], "timestamp": [1776852000] * 2})
    >>> data = dataset_from_frames(accounts, exchanges)
    >>> data.accounts[S.ACCOUNT_ID].to_list(), data.warnings.count("accounts_only_in_exchanges")
    (['a1', 'a2'], 1)
    """
    log = warnings if warnings is not None else WarningLog()
    table_mapping(mapping, S.ACCOUNTS)
    rows_per_part = load_rows_per_part(resolve_budget(None)[0])
    return _assemble(accounts, exchanges, mapping, log, rows_per_part=rows_per_part)


def table_paths(
    input_dir: str | Path | None,
    accounts: str | Path | None,
    exchanges: str | Path | None,
    *,
    find_exchanges: Callable[[Path], Path] | None = None,
) -> tuple[str | Path, str | Path]:
    """The accounts and exchanges paths: each given one as given (a URI such as
    ``s3a://bucket/x`` stays text), else looked up in ``input_dir``
    (:func:`~acctgraph.load.formats.find_table_file`; ``find_exchanges`` replaces the
    exchanges' lookup). Refuses a table that is neither given nor in a directory."""
    if input_dir is not None:
        folder = Path(input_dir)
        if accounts is None:
            accounts = find_table_file(folder, S.ACCOUNTS)
        if exchanges is None:
            exchanges = (
                find_exchanges(folder) if find_exchanges else find_table_file(folder, S.EXCHANGES)
            )
    if accounts is None or exchanges is None:
        missing = S.ACCOUNTS if accounts is None else S.EXCHANGES
        raise InputError(f"no {missing} table given: pass a directory or both files")
    return accounts, exchanges


def _assemble(
    accounts: Source,
    exchanges: Source,
    mapping: Mapping[str, str] | None,
    log: WarningLog,
    *,
    rows_per_part: int,
) -> Dataset:
    """Load both tables and build the account universe (inputs carry rows only)."""
    account_rows, extra_columns, n_account_rows = read_accounts(accounts, mapping, log)
    exchange_frame, per_account, n_exchange_rows = read_exchanges(
        exchanges, mapping, log, rows_per_part=rows_per_part
    )
    return universe(
        account_rows,
        per_account,
        exchanges=source_name(exchanges, S.EXCHANGES),
        log=log,
        inputs=[
            InputFile(S.ACCOUNTS, source_name(accounts, S.ACCOUNTS), 0, "", n_account_rows),
            InputFile(S.EXCHANGES, source_name(exchanges, S.EXCHANGES), 0, "", n_exchange_rows),
        ],
        extra_account_columns=extra_columns,
        exchanges_frame=exchange_frame,
    )


def universe(
    account_rows: pl.DataFrame,
    per_account: pl.DataFrame,
    *,
    exchanges: str,
    log: WarningLog,
    inputs: list[InputFile],
    extra_account_columns: list[str],
    exchanges_frame: pl.LazyFrame,
) -> Dataset:
    """The dataset of checked account rows and the exchanges per account (``account_id,
    exchanges``, sorted): the accounts table plus the accounts seen only in exchanges,
    each counted as a warning (``exchanges``: how messages name the exchanges' source)."""
    exchanges_where = exchanges
    only_in_exchanges = per_account.join(
        account_rows.select(S.ACCOUNT_ID), on=S.ACCOUNT_ID, how="anti"
    ).sort(S.ACCOUNT_ID)
    log.add(
        "accounts_only_in_exchanges",
        "accounts seen in exchanges but absent from the accounts table; added to the "
        "universe with null account-level attributes",
        count=only_in_exchanges.height,
        examples=only_in_exchanges[S.ACCOUNT_ID].head(MAX_EXAMPLES).to_list(),
        column=S.ACCOUNT_ID,
        path=exchanges_where,
    )
    log.add(
        "exchanges_without_account_row",
        "exchanges whose account is absent from the accounts table (kept)",
        count=int(only_in_exchanges["exchanges"].sum()),
        examples=[
            f"{account}: {n} exchange(s)"
            for account, n in only_in_exchanges.head(MAX_EXAMPLES).iter_rows()
        ],
        column=S.ACCOUNT_ID,
        path=exchanges_where,
    )
    added = only_in_exchanges.select(S.ACCOUNT_ID).with_columns(
        [
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in account_rows.schema.items()
            if name != S.ACCOUNT_ID
        ]
    )
    universe = pl.concat([account_rows, added.select(account_rows.columns)], how="vertical").sort(
        S.ACCOUNT_ID
    )
    return Dataset(
        accounts=universe,
        exchanges=exchanges_frame,
        warnings=log,
        inputs=inputs,
        extra_account_columns=extra_account_columns,
    )


def load_labels(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> pl.DataFrame:
    """Read the ground-truth labels table (evaluation only).

    Parameters
    ----------
    path
        A labels file (.csv, .parquet, .ndjson, ...), columns ``account_id``,
        ``operator_id`` (empty or null = legitimate) and optionally ``kind``.
    mapping
        ``{contract column: file column}``, as for :func:`load_dataset`.
    warnings
        Log receiving counted non-fatal problems (discarded when None).

    Returns
    -------
    polars.DataFrame
        ``account_id``, ``operator_id``, ``kind`` (then any extra columns), one row per
        account, sorted by ``account_id``. Exact repeated rows are collapsed; an
        account labelled twice differently raises :class:`InputError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = file.write_text("account_id,operator_id,kind\\nb,,individual\\na,op1,farm\\n")
    >>> load_labels(file).rows()
    [('a', 'op1', 'farm'), ('b', None, 'individual')]
    """
    log = warnings if warnings is not None else WarningLog()
    frame, _ = read_eager(path, S.LABELS, mapping, log)
    frame = collapse_duplicates(frame, table=S.LABELS, path=str(path), warnings=log, what="labels")
    return frame.drop(ROW).sort(S.ACCOUNT_ID)


def load_members(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    warnings: WarningLog | None = None,
) -> pl.DataFrame:
    """Read a members table (detector output, evaluator input).

    ``cluster_id`` is returned as text whatever the file holds (integers print
    without decoration, integral floats without ``.0``): the evaluator only tests
    equality. Empty or null = the account is linked to no one. ``flagged`` accepts
    booleans, 1/0 and true/false/yes/no in any case; anything else is fatal.
    Repeated account ids are kept (the evaluator counts them).

    Parameters
    ----------
    path
        A members file with ``account_id``, ``cluster_id``, ``flagged`` and optionally
        ``cluster_score``.
    mapping
        ``{contract column: file column}``, as for :func:`load_dataset`.
    warnings
        Log receiving counted non-fatal problems (discarded when None).

    Returns
    -------
    polars.DataFrame
        Columns of ``schema.MEMBERS_SCHEMA`` (``cluster_id`` as String), then extras,
        sorted by ``account_id`` then file order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "members.parquet"
    >>> pl.DataFrame({"account_id": ["b", "a"], "cluster_id": [7, None],
    ...               "flagged": ["Yes", "0"]}).write_parquet(file)
    >>> load_members(file).rows()
    [('a', None, None, False), ('b', '7', None, True)]
    """
    log = warnings if warnings is not None else WarningLog()
    frame, _ = read_eager(path, S.MEMBERS, mapping, log)
    return frame.sort([S.ACCOUNT_ID, ROW]).drop(ROW)
