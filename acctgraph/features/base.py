"""The features layer's shared types: the reductions' result and the base of every attribute kind.

:class:`Usage` holds the per-account tables that :func:`acctgraph.features.reduce.compute_usage`
makes in one pass over the exchanges (their activity columns are named here);
:class:`Feature` is the base of the declarative attribute kinds
(:mod:`acctgraph.features.kinds`), which read a ``Usage`` and yield rows of the
long attribute table. Both the reduce stage and the kinds import this module, and
it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import ConfigError
from acctgraph.core.frames import ACCOUNT_KEY, account_key, account_keys

HOUR = "hour"
DAY = "day"
N_EXCHANGES = "n_exchanges"
FIRST_SEEN = "first_seen"
LAST_SEEN = "last_seen"
ACTIVE_DAYS = "active_days"
OUTPUT_TOKENS_TOTAL = "output_tokens_total"


CLIENTS = ("browser", "program", "unknown")
CLIENTS_SCHEMA = {S.ACCOUNT_ID: pl.String(), **{f"n_{c}": pl.UInt32() for c in CLIENTS}}
"""``Usage.clients``: per account, its sampled exchanges by client family of the user
agent: ``browser`` (starts ``Mozilla/``), ``program`` (any other text: an SDK, a
library, a command-line tool) and ``unknown`` (none: every exchange when the input has
no user-agent column)."""

EVENTS_SCHEMA = {
    S.ACCOUNT_ID: pl.String(),
    S.ATTRIBUTE_KIND: pl.String(),
    S.VALUE: pl.String(),
    S.N_EVENTS: pl.UInt32(),
}
"""``Usage.events``: declared exchanges columns, per account and value; ``attribute_kind`` is
the column (``COLUMN@WINDOW`` for co-activity, whose value is ``value@window-start``)."""


@dataclass
class Usage:
    """Per-account reductions of the inputs (see the module docstring)."""

    accounts: pl.DataFrame
    emails: pl.DataFrame
    ip_usage: pl.DataFrame
    templates: pl.DataFrame
    co_activity: pl.DataFrame
    activity: pl.DataFrame
    hours: pl.DataFrame
    daily: pl.DataFrame
    warnings: WarningLog
    events: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EVENTS_SCHEMA))
    clients: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CLIENTS_SCHEMA))


LONG = [S.ACCOUNT_ID, S.VALUE, S.N_EVENTS]


def long_rows(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """``frame``'s ``account_id, value, n_events``, cast to String, Categorical and UInt32
    (the attribute table's types: a value already coded is not decoded and coded again)."""
    return frame.lazy().select(
        pl.col(S.ACCOUNT_ID).cast(pl.String),
        pl.col(S.VALUE).cast(pl.Categorical),
        pl.col(S.N_EVENTS).cast(pl.UInt32),
    )


def account_positions(account_ids: pl.Series) -> pl.LazyFrame:
    """``account_id, account_index``: each id of ``account_ids`` (sorted and unique: the
    account universe, as ``AccountGraph.account_ids``) and its position."""
    return (
        account_ids.cast(pl.String)
        .alias(S.ACCOUNT_ID)
        .to_frame()
        .lazy()
        .with_row_index(S.ACCOUNT_INDEX)
    )


def index_accounts(frame: pl.DataFrame | pl.LazyFrame, account_ids: pl.Series) -> pl.LazyFrame:
    """``frame`` keyed by account position: its ``account_id`` replaced by ``account_index``
    (first), the account's position in ``account_ids`` (:func:`account_positions`); rows of
    accounts outside ``account_ids`` are dropped.

    The ids are matched by their 64-bit keys (:func:`~acctgraph.core.frames.account_keys`,
    checked to be distinct), so the join compares integers.

    Examples
    --------
    >>> frame = pl.DataFrame({"account_id": ["b", "z", "a"], "n_events": [1, 2, 3]})
    >>> index_accounts(frame, pl.Series(["a", "b", "c"])).collect().sort("account_index").rows()
    [(0, 3), (1, 1)]
    """
    keys = (
        account_keys(account_ids.cast(pl.String))
        .with_row_index(S.ACCOUNT_INDEX)
        .select(ACCOUNT_KEY, S.ACCOUNT_INDEX)
    )
    frame = frame.lazy()
    rest = [c for c in frame.collect_schema().names() if c != S.ACCOUNT_ID]
    return (
        frame.with_columns(account_key())
        .join(keys.lazy(), on=ACCOUNT_KEY)
        .select(S.ACCOUNT_INDEX, *rest)
    )


def join_accounts(
    attributes: pl.DataFrame | pl.LazyFrame,
    frame: pl.DataFrame | pl.LazyFrame,
    account_ids: pl.Series | None = None,
) -> pl.LazyFrame:
    """The attribute rows of ``frame``'s accounts, with ``frame``'s columns (an inner join on
    the account; ``frame`` has ``account_id`` and at most one row per account).

    Either form of the attribute table: keyed by ``account_id`` (as
    :func:`acctgraph.features.attribute_table` gives it by default), or by ``account_index``
    positions in ``account_ids`` (as a run holds it); the result's columns are the same:
    ``frame``'s, then the attribute columns. A ``frame`` that has the positions already
    (an ``account_index`` column) is joined on them; otherwise only ``frame``'s accounts are
    matched to positions, so a small ``frame`` costs little.

    Examples
    --------
    >>> ids = pl.Series(["a", "b", "c"])
    >>> frame = pl.DataFrame({"account_id": ["c"], "label": [7]})
    >>> text = pl.DataFrame({"account_id": ["a", "c"], "value": ["x", "y"]})
    >>> indexed = pl.DataFrame({"account_index": [0, 2], "value": ["x", "y"]})
    >>> [join_accounts(t, frame, ids).collect().rows() for t in (text, indexed)]
    [[('c', 7, 'y')], [('c', 7, 'y')]]
    """
    attributes = attributes.lazy()
    frame = frame.lazy()
    names = attributes.collect_schema().names()
    front = frame.collect_schema().names()
    if S.ACCOUNT_INDEX in names:
        if S.ACCOUNT_INDEX in front:
            keyed = frame
        elif account_ids is None:
            raise ValueError("an attribute table keyed by account_index needs account_ids")
        else:
            keyed = frame.join(account_positions(account_ids), on=S.ACCOUNT_ID)
        joined = attributes.join(
            keyed.with_columns(
                pl.col(S.ACCOUNT_INDEX).cast(attributes.collect_schema()[S.ACCOUNT_INDEX])
            ),
            on=S.ACCOUNT_INDEX,
        )
        rest = [c for c in names if c != S.ACCOUNT_INDEX]
    else:
        joined = attributes.join(frame, on=S.ACCOUNT_ID)
        rest = [c for c in names if c != S.ACCOUNT_ID]
    return joined.select(*front, *[c for c in rest if c not in front])


@dataclass(frozen=True, kw_only=True)
class Feature:
    """Base of every attribute kind (the fields are described in :mod:`acctgraph.features.kinds`).

    Class attributes: ``kind`` (the name in the attribute table), ``similarity``
    (``"shared"`` or ``"cosine"``), ``infrastructure`` (only corroborates).
    Fields: ``enabled``, ``weight`` (0 to 100), ``hub_cap`` (at least 2),
    ``alpha`` (0 to 2; None = :attr:`GraphParams.alpha <acctgraph.graph.GraphParams>`).
    A subclass implements :meth:`values`.
    """

    kind: ClassVar[str] = ""
    similarity: ClassVar[str] = "shared"
    infrastructure: ClassVar[bool] = False
    enabled: bool = True
    weight: float = 1.0
    hub_cap: int = 100
    alpha: float | None = None

    def __post_init__(self) -> None:
        if self.alpha is not None and not 0.0 <= self.alpha <= 2.0:
            raise ConfigError(f"{self.kind}.alpha must be in [0, 2], got {self.alpha}")
        if not (0.0 <= self.weight <= 100.0):
            raise ConfigError(f"{self.kind}.weight must be in [0, 100], got {self.weight}")
        if self.hub_cap < 2:
            raise ConfigError(f"{self.kind}.hub_cap must be at least 2, got {self.hub_cap}")

    def describe(self) -> str:
        """How two accounts are compared on this kind, as shown to a reader."""
        text = (
            "profile (cosine of value counts)"
            if self.similarity == "cosine"
            else "shared value (discounted by holders)"
        )
        return text + (", corroborates" if self.infrastructure else "")

    def values(self, usage: Usage) -> pl.LazyFrame:
        """Rows ``(account_id, value, n_events)`` for this kind, at most one per (account, value)."""
        raise NotImplementedError
