"""Files → validated polars frames, following docs/data-contract.md. No business logic.

Every rule of the data contract is enforced here: fatal problems raise
:class:`~acctgraph.core.errors.InputError` (file, column, a few example rows), and
every value turned into "missing" is counted in a
:class:`~acctgraph.core.diagnostics.WarningLog`. Nothing is dropped silently.

This package re-exports the public names of its modules, bottom to top:
:mod:`~acctgraph.load.formats` (table files, formats, scanning, checksums),
:mod:`~acctgraph.load.values` and :mod:`~acctgraph.load.timestamps` (typed values
of each column kind), :mod:`~acctgraph.load.columns` (contract columns, the column
mapping, required columns), :mod:`~acctgraph.load.checks` (column plans and the
counted checks), :mod:`~acctgraph.load.tables` (reading one table) and
:mod:`~acctgraph.load.dataset` (the loaders).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "accounts.csv").write_text("account_id,email\\n0012,a@x.io\\n0013,\\n")
>>> _ = (folder / "exchanges.csv").write_text(
...     "account_id,timestamp,ip\\n0012,2026-04-22T10:00:00Z,192.0.2.1\\n0099,1776852000,\\n")
>>> data = load_dataset(folder)
>>> data.accounts.select("account_id", "email").rows()
[('0012', 'a@x.io'), ('0013', None), ('0099', None)]
>>> data.exchanges.collect().sort("account_id")["timestamp"].to_list()[1].isoformat()
'2026-04-22T10:00:00+00:00'
>>> data.warnings.count("accounts_only_in_exchanges")
1
"""

from __future__ import annotations

from acctgraph.load.columns import OUTPUT_SCHEMAS
from acctgraph.load.dataset import (
    Dataset,
    dataset_from_frames,
    load_dataset,
    load_labels,
    load_members,
)
from acctgraph.load.formats import InputFile, file_record, find_table_file, table_format
from acctgraph.load.timestamps import EPOCH_LIMIT, EPOCH_MILLISECONDS_FROM, parse_timestamps

__all__ = [
    "EPOCH_LIMIT",
    "EPOCH_MILLISECONDS_FROM",
    "OUTPUT_SCHEMAS",
    "Dataset",
    "InputFile",
    "dataset_from_frames",
    "file_record",
    "find_table_file",
    "load_dataset",
    "load_labels",
    "load_members",
    "parse_timestamps",
    "table_format",
]
