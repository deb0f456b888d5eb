"""The features layer: from validated inputs to the long attribute table.

:func:`compute_usage` reduces the exchanges once to per-account tables
(:class:`Usage`); each attribute kind, one small declarative class
(:mod:`acctgraph.features.kinds`), reads them and yields its rows; and
:func:`attribute_table` stacks the enabled kinds into
``(account_id, attribute_kind, value, n_events)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from acctgraph.core import schema as S
from acctgraph.features.base import Usage, index_accounts, join_accounts
from acctgraph.features.declared import (
    EventCoActivity,
    EventColumn,
    ExtraColumn,
    declaration,
    parse_declaration,
)
from acctgraph.features.kinds import (
    DEFAULT_FEATURES,
    AccountColumn,
    CoActivity,
    Device,
    Email,
    EmailDomain,
    EmailShape,
    ExactIp,
    Feature,
    IpRange,
    Payment,
    PromptTemplate,
    SignupBurst,
)
from acctgraph.features.reduce import compute_usage

__all__ = [
    "DEFAULT_FEATURES",
    "AccountColumn",
    "CoActivity",
    "Device",
    "Email",
    "EmailDomain",
    "EmailShape",
    "EventCoActivity",
    "EventColumn",
    "ExactIp",
    "ExtraColumn",
    "Feature",
    "IpRange",
    "Payment",
    "PromptTemplate",
    "SignupBurst",
    "Usage",
    "attribute_table",
    "compute_usage",
    "declaration",
    "default_features",
    "index_accounts",
    "join_accounts",
    "parse_declaration",
]


def default_features() -> tuple[Feature, ...]:
    """One instance of every built-in kind with its documented defaults."""
    return tuple(cls() for cls in DEFAULT_FEATURES)


def attribute_table(
    usage: Usage, features: Sequence[Feature], account_ids: pl.Series | None = None
) -> pl.DataFrame:
    """The long attribute table ``(account_id, attribute_kind, value, n_events)``.

    Each enabled kind yields at most one row per (account, value) (see
    :meth:`Feature.values`), so the table needs no global grouping. Row order
    is unspecified (the table is not sorted: everything downstream assigns ids
    from sorted dictionaries, so results do not depend on it). Sort it yourself
    to read it.

    ``attribute_kind`` and ``value`` are ``pl.Categorical``: each row holds a
    four-byte code and each distinct text is held once (at the incident size the
    table is 1.0 GB instead of 2.5). They sort lexically and compare with string
    literals (``pl.col("value") == "…"``); cast them to ``pl.String`` to join with
    text columns of other tables.

    With ``account_ids`` (the sorted account universe, as ``AccountGraph.account_ids``), the
    table is keyed by position instead: ``account_index`` (UInt32, the account's row in
    ``account_ids``) replaces ``account_id``, four bytes a row instead of the id's text
    (:func:`~acctgraph.features.base.index_accounts`; a run holds it so). Every reader of
    the table in :mod:`acctgraph.cluster` and :mod:`acctgraph.cards` takes either form
    (:func:`~acctgraph.features.base.join_accounts`).
    """
    frames = [
        feature.values(usage).with_columns(pl.lit(feature.kind).alias(S.ATTRIBUTE_KIND))
        for feature in features
        if feature.enabled
    ]
    if not frames:
        table = pl.DataFrame(schema=S.ATTRIBUTES_SCHEMA).lazy()
    else:
        table = (
            pl.concat(frames, how="vertical")
            .select(list(S.ATTRIBUTES_SCHEMA))
            .cast(pl.Schema(S.ATTRIBUTES_SCHEMA))
        )
    if account_ids is not None:
        table = index_accounts(table, account_ids)
    return table.collect()
