"""Contract columns of each table, and opening a table under those names.

:data:`TABLE_SCHEMAS` holds each table's contract columns (from
:mod:`acctgraph.core.schema`) and :data:`OUTPUT_SCHEMAS` their dtypes once loaded.
:func:`table_mapping` turns a user's ``{contract column: file column}`` mapping
(plain keys, or ``table.column`` keys for one table) into the renames of one table,
and refuses a malformed key or one that is not a contract column
(:class:`~acctgraph.core.errors.ConfigError`). :func:`open_table` scans a source,
applies those renames (a file column that already has a mapped contract name is
kept as ``<name>_unmapped``, with a warning) and refuses a mapped column that does
not exist, a column mapped twice, reserved ``__acctgraph_`` names and a missing
required column (:class:`~acctgraph.core.errors.InputError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import ConfigError, InputError
from acctgraph.load.formats import Source, reading, scan_file, source_name

#: Contract columns and dtypes of each table, from :mod:`acctgraph.core.schema`.
TABLE_SCHEMAS: dict[str, Mapping[str, pl.DataType]] = {
    S.ACCOUNTS: S.ACCOUNTS_SCHEMA,
    S.EXCHANGES: S.EXCHANGES_SCHEMA,
    S.LABELS: S.LABELS_SCHEMA,
    S.MEMBERS: S.MEMBERS_SCHEMA,
}

#: Output dtypes. ``members.cluster_id`` is kept as text (see docs/data-contract.md):
#: detectors write integer or string ids and the evaluator only compares them.
OUTPUT_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    table: {
        name: (pl.String() if (table, name) == (S.MEMBERS, S.CLUSTER_ID) else dtype)
        for name, dtype in schema.items()
    }
    for table, schema in TABLE_SCHEMAS.items()
}


def _all_contract_names() -> list[str]:
    return sorted({name for schema in TABLE_SCHEMAS.values() for name in schema})


def table_mapping(mapping: Mapping[str, str] | None, table: str) -> dict[str, str]:
    """``{contract name: file column}`` for ``table``; ``"table.column"`` keys win."""
    plain: dict[str, str] = {}
    qualified: dict[str, str] = {}
    for key, source in (mapping or {}).items():
        if not isinstance(key, str) or not isinstance(source, str) or not source:
            raise ConfigError(f"column mapping {key!r}={source!r}: both sides must be names")
        prefix, _, name = key.rpartition(".")
        if prefix and (prefix not in TABLE_SCHEMAS or name not in TABLE_SCHEMAS[prefix]):
            raise ConfigError(
                f"column mapping key {key!r}: expected <column> or <table>.<column> with a "
                f"table among {', '.join(TABLE_SCHEMAS)}"
            )
        if not prefix and name not in _all_contract_names():
            raise ConfigError(
                f"column mapping key {key!r} is not a contract column; expected one of "
                f"{', '.join(_all_contract_names())}"
            )
        if prefix == table:
            qualified[name] = source
        elif not prefix and name in TABLE_SCHEMAS[table]:
            plain[name] = source
    return {name: source for name, source in {**plain, **qualified}.items() if name != source}


def open_table(
    source: Source,
    table: str,
    mapping: Mapping[str, str] | None,
    warnings: WarningLog,
) -> tuple[pl.LazyFrame, dict[str, pl.DataType]]:
    """Scan (or take an in-memory frame), apply the column mapping, check required columns."""
    where = source_name(source, table)
    if isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        frame = source.lazy()
        with reading(where):
            schema = dict(frame.collect_schema())
    else:
        frame, schema = scan_file(Path(source))
    rename = column_renames(list(schema), table, mapping, warnings, where)
    if rename:
        frame = frame.rename(rename)
        schema = {rename.get(name, name): dtype for name, dtype in schema.items()}
    check_columns(list(schema), table, where)
    return frame, schema


def column_renames(
    names: list[str],
    table: str,
    mapping: Mapping[str, str] | None,
    warnings: WarningLog,
    where: str,
) -> dict[str, str]:
    """``{file column: new name}`` for a table whose columns are ``names`` (in file order).

    Applies the mapping's renames of ``table``; a file column that already has a
    mapped contract name is kept as ``<name>_unmapped`` (a counted warning). Refuses
    a mapped column that does not exist and one column mapped twice.
    """
    renames = table_mapping(mapping, table)
    for contract, source in renames.items():
        if source not in names:
            raise InputError(
                f"the column mapping {contract}={source} names a column that does not exist; "
                f"columns present: {', '.join(names)}",
                path=where,
                column=source,
            )
    sources = list(renames.values())
    repeated = sorted({s for s in sources if sources.count(s) > 1})
    if repeated:
        raise InputError(
            f"the column mapping uses {', '.join(repeated)} for several contract columns",
            path=where,
            column=repeated[0],
        )
    rename = {source: contract for contract, source in renames.items()}
    for contract in renames:
        if contract in names and contract not in rename:
            kept = f"{contract}_unmapped"
            while kept in names or kept in rename.values():
                kept += "_"
            rename[contract] = kept
            warnings.add(
                "column_shadowed_by_mapping",
                "a column already had the contract name that the mapping gives another "
                "column; it is kept under a new name",
                count=1,
                examples=[f"{table}: {contract} → {kept}"],
                column=contract,
                path=where,
            )
    return rename


def check_columns(names: list[str], table: str, where: str) -> None:
    """Refuse reserved ``__acctgraph_`` names and a missing required column of ``table``."""
    internal = [name for name in names if name.startswith("__acctgraph_")]
    if internal:
        raise InputError(
            "column names starting with __acctgraph_ are reserved", path=where, column=internal[0]
        )
    required = {
        S.ACCOUNTS: S.ACCOUNTS_REQUIRED,
        S.EXCHANGES: S.EXCHANGES_REQUIRED,
        S.LABELS: S.LABELS_REQUIRED,
        S.MEMBERS: S.MEMBERS_REQUIRED,
    }[table]
    for name in required:
        if name not in names:
            raise InputError(
                f"missing required column of the {table} table; columns present: "
                f"{', '.join(names)} (if it has another name, map it: --map {name}=<column>)",
                path=where,
                column=name,
            )
