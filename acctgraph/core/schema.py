"""Column names and polars schemas of the input contract and of the shared tables.

Here: the accounts, exchanges and labels tables a user supplies, the members
table, the long attribute table, the column names every layer shares
(``account_id``, ``cluster_id``, ``attribute_kind``, ``value``, ...), the
table names and the input file suffixes. A table made and read by one layer
names its own columns next to its schema in that layer (the graph's in
:mod:`acctgraph.graph.project` and :mod:`acctgraph.graph.build`, the
reductions' in :mod:`acctgraph.features.base`, the IP table's in
:mod:`acctgraph.features.ip`, the scoring tables' in
:mod:`acctgraph.cluster.score`, the cards' in :mod:`acctgraph.cards.model`).
The stages refer to columns through these constants; string literals remain
where JSON records are read back (:mod:`acctgraph.report.document`) and in the
simulator.

Examples
--------
>>> from acctgraph.core import schema as S
>>> S.ACCOUNT_ID
'account_id'
>>> S.ACCOUNTS_SCHEMA[S.CREATED_AT]
Datetime(time_unit='us', time_zone='UTC')
"""

from __future__ import annotations

import polars as pl

from acctgraph.core.errors import InputError

TIME = pl.Datetime("us", "UTC")

# --- accounts table -------------------------------------------------------
ACCOUNT_ID = "account_id"
CREATED_AT = "created_at"
EMAIL = "email"
PAYMENT_FINGERPRINT = "payment_fingerprint"
SIGNUP_IP = "signup_ip"
DEVICE_ID = "device_id"
COUNTRY = "country"
ORG_ID = "org_id"
DISPLAY_NAME = "display_name"

ACCOUNTS_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT_ID: pl.String(),
    CREATED_AT: TIME,
    EMAIL: pl.String(),
    PAYMENT_FINGERPRINT: pl.String(),
    SIGNUP_IP: pl.String(),
    DEVICE_ID: pl.String(),
    COUNTRY: pl.String(),
    ORG_ID: pl.String(),
    DISPLAY_NAME: pl.String(),
}
ACCOUNTS_REQUIRED = (ACCOUNT_ID,)

# --- exchanges table ------------------------------------------------------
TIMESTAMP = "timestamp"
IP = "ip"
PROMPT = "prompt"
USER_AGENT = "user_agent"
MODEL = "model"
INPUT_TOKENS = "input_tokens"
OUTPUT_TOKENS = "output_tokens"

EXCHANGES_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT_ID: pl.String(),
    TIMESTAMP: TIME,
    IP: pl.String(),
    PROMPT: pl.String(),
    USER_AGENT: pl.String(),
    MODEL: pl.String(),
    INPUT_TOKENS: pl.Int64(),
    OUTPUT_TOKENS: pl.Int64(),
}
EXCHANGES_REQUIRED = (ACCOUNT_ID, TIMESTAMP)

# --- labels table (ground truth, evaluation only) -------------------------
OPERATOR_ID = "operator_id"
KIND = "kind"

LABELS_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT_ID: pl.String(),
    OPERATOR_ID: pl.String(),
    KIND: pl.String(),
}
LABELS_REQUIRED = (ACCOUNT_ID, OPERATOR_ID)

# --- members table (detector output, evaluator input) ---------------------
CLUSTER_ID = "cluster_id"
CLUSTER_SCORE = "cluster_score"
FLAGGED = "flagged"

# Cluster ids are operation ids: text, ``op-`` and a number of at least six digits
# (``op-000123``), never reused from one run to the next (see acctgraph.cluster.track).
OPERATION_PREFIX = "op-"
OPERATION_DIGITS = 6

MEMBERS_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT_ID: pl.String(),
    CLUSTER_ID: pl.String(),
    CLUSTER_SCORE: pl.Float64(),
    FLAGGED: pl.Boolean(),
}
MEMBERS_REQUIRED = (ACCOUNT_ID, CLUSTER_ID, FLAGGED)


def operation_id(number: int) -> str:
    """The operation id of ``number``: ``op-`` and the number, zero-padded to six digits.

    >>> operation_id(123), operation_id(1234567)
    ('op-000123', 'op-1234567')
    """
    return f"{OPERATION_PREFIX}{number:0{OPERATION_DIGITS}d}"


def parse_operation_id(text: str | int) -> str:
    """An operation id as written by a user: ``op-000123``, or its number (``123``).

    Raises :class:`~acctgraph.core.errors.InputError` (exit status 2) for anything else,
    so that an id can name a file.

    >>> parse_operation_id("7"), parse_operation_id("op-000123"), parse_operation_id(12)
    ('op-000007', 'op-000123', 'op-000012')
    >>> parse_operation_id("op-0000007"), parse_operation_id("op-1234567")
    ('op-000007', 'op-1234567')
    >>> parse_operation_id("op-12/../x")
    Traceback (most recent call last):
    ...
    acctgraph.core.errors.InputError: not an operation id: 'op-12/../x' (expected op-000123 or 123)
    """
    value = str(text).strip()
    if value.isascii() and value.isdigit():
        return operation_id(int(value))
    number = value.removeprefix(OPERATION_PREFIX)
    if (
        value.startswith(OPERATION_PREFIX)
        and number.isascii()
        and number.isdigit()
        and len(number) >= OPERATION_DIGITS
    ):
        return operation_id(int(number))  # canonical: op-0000007 is op-000007
    raise InputError(f"not an operation id: {value!r} (expected op-000123 or 123)")


def operation_number(cluster_id: str) -> int:
    """The number of an operation id (``op-000123`` → 123)."""
    return int(parse_operation_id(cluster_id).removeprefix(OPERATION_PREFIX))


def operation_ids(numbers: pl.Expr) -> pl.Expr:
    """:func:`operation_id` as an expression over integers."""
    return pl.lit(OPERATION_PREFIX) + numbers.cast(pl.String).str.zfill(OPERATION_DIGITS)


# --- long attribute table (features → graph) ------------------------------
ATTRIBUTE_KIND = "attribute_kind"
VALUE = "value"
N_EVENTS = "n_events"

# Kinds and values are categorical: four bytes a row instead of the text (prompt templates
# average 45 characters over 17M rows at the incident size); the text is held once per
# distinct value. They sort lexically, compare with string literals, and join with other
# categorical columns; cast to pl.String to join with text.
# The pipeline holds the table keyed by account position instead (``account_index``, a
# UInt32: the account's row in the sorted account universe, ``AccountGraph.account_ids``):
# four bytes a row instead of the id's text (19 characters, 35 bytes with its view).
ACCOUNT_INDEX = "account_index"

ATTRIBUTES_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT_ID: pl.String(),
    ATTRIBUTE_KIND: pl.Categorical(),
    VALUE: pl.Categorical(),
    N_EVENTS: pl.UInt32(),
}

# --- table and file names -------------------------------------------------
ACCOUNTS = "accounts"
EXCHANGES = "exchanges"
LABELS = "labels"
MEMBERS = "members"
CLUSTERS = "clusters"
EVIDENCE = "evidence"

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")

# Labels: the kinds the simulator writes. Legitimate kinds first.
LEGIT_KINDS = ("individual", "family", "organisation", "automation", "developer")
