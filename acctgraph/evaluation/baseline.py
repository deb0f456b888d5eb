"""The naive baseline the detector must beat: connected components of shared values.

Two accounts are linked when they share any non-null, non-blank payment
fingerprint, device id or exact IP address (the account's ``signup_ip`` or
any ``ip`` it sent an exchange from). Every connected component of two or more
accounts is flagged as an operation. There is no hub handling, no IP
validation and no weighting: one shared office IP or public VPN exit welds
thousands of unrelated accounts together, which is exactly what the real
detector has to do better than.

Examples
--------
>>> import polars as pl
>>> from acctgraph.core import schema as S
>>> accounts = pl.DataFrame({S.ACCOUNT_ID: ["a", "b", "c", "d"],
...                          S.PAYMENT_FINGERPRINT: ["card1", "card1", None, None],
...                          S.DEVICE_ID: [None, None, None, None],
...                          S.SIGNUP_IP: [None, "10.0.0.1", None, None]})
>>> exchanges = pl.DataFrame({S.ACCOUNT_ID: ["c", "e"], S.IP: ["10.0.0.1", "10.9.9.9"]})
>>> members = connected_components_baseline(accounts, exchanges)
>>> members[S.ACCOUNT_ID].to_list()
['a', 'b', 'c', 'd', 'e']
>>> members[S.CLUSTER_ID].to_list()
['op-000001', 'op-000001', 'op-000001', None, None]
>>> members[S.FLAGGED].to_list()
[True, True, True, False, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import igraph as ig
import numpy as np
import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError, InputError

KINDS = (S.PAYMENT_FINGERPRINT, S.DEVICE_ID, S.IP)
"""Value kinds the baseline can link on; ``ip`` covers ``signup_ip`` and exchange ``ip``."""

_ACCOUNT_COLUMN = {
    S.PAYMENT_FINGERPRINT: S.PAYMENT_FINGERPRINT,
    S.DEVICE_ID: S.DEVICE_ID,
    S.IP: S.SIGNUP_IP,
}
_KIND = "_kind"
_ACCOUNT_INDEX = "_account_index"
_VALUE_INDEX = "_value_index"


def connected_components_baseline(
    accounts: pl.DataFrame,
    exchanges: pl.LazyFrame | pl.DataFrame,
    *,
    kinds: Sequence[str] = KINDS,
) -> pl.DataFrame:
    """Flag every connected component of accounts that share a value.

    Parameters
    ----------
    accounts
        The accounts table; needs ``account_id``. The columns
        ``payment_fingerprint``, ``device_id`` and ``signup_ip`` are used when
        present (an absent column contributes no values).
    exchanges
        The exchanges table, lazy or not; needs ``account_id``; ``ip`` is used
        when present. Only the distinct ``(account_id, ip)`` pairs are
        collected, so the table streams.
    kinds
        Which value kinds link accounts, any of ``"payment_fingerprint"``,
        ``"device_id"``, ``"ip"`` (default: all three). Values of different
        kinds never link each other.

    Returns
    -------
    polars.DataFrame
        The members schema (``account_id``, ``cluster_id``, ``cluster_score``,
        ``flagged``), one row per account of ``accounts`` ∪ exchange
        accounts, sorted by ``account_id``. Components of two or more accounts
        get ``cluster_id`` op-000001, op-000002, … ordered by size (largest first), then by
        their smallest ``account_id``; ``flagged`` is true and
        ``cluster_score`` 1.0 for them. A lone account has a null
        ``cluster_id``, ``flagged`` false and ``cluster_score`` 0.0.

    Notes
    -----
    Values are compared exactly after stripping surrounding whitespace; null
    and blank values are ignored, as are rows with a null ``account_id``.
    The components are those of the bipartite account–value graph (igraph),
    built from integer ids assigned in sorted order; values held by a single
    account are dropped before the graph is built since they link nobody.
    """
    unknown_kinds = sorted(set(kinds) - set(KINDS))
    if unknown_kinds:
        raise ConfigError(f"unknown baseline kinds {unknown_kinds}; choose from {list(KINDS)}")
    if S.ACCOUNT_ID not in accounts.columns:
        raise InputError("the accounts table has no account_id column", column=S.ACCOUNT_ID)
    exchange_columns = exchanges.lazy().collect_schema().names()
    if S.ACCOUNT_ID not in exchange_columns:
        raise InputError("the exchanges table has no account_id column", column=S.ACCOUNT_ID)

    # Distinct (account, ip) pairs from the exchanges; a null ip keeps the account.
    use_exchange_ip = S.IP in kinds and S.IP in exchange_columns
    exchange_pairs = (
        exchanges.lazy()
        .select(
            pl.col(S.ACCOUNT_ID).cast(pl.String),
            (_clean(S.IP) if use_exchange_ip else pl.lit(None, dtype=pl.String)).alias(S.VALUE),
        )
        .filter(pl.col(S.ACCOUNT_ID).is_not_null())
        .unique()
        .collect()
    )

    # Long table (account_id, kind, value) of every usable value.
    parts = [
        exchange_pairs.filter(pl.col(S.VALUE).is_not_null()).select(
            S.ACCOUNT_ID, pl.lit(S.IP).alias(_KIND), S.VALUE
        )
    ]
    for kind in kinds:
        column = _ACCOUNT_COLUMN[kind]
        if column in accounts.columns:
            parts.append(
                accounts.select(
                    pl.col(S.ACCOUNT_ID).cast(pl.String),
                    pl.lit(kind).alias(_KIND),
                    _clean(column).alias(S.VALUE),
                ).filter(pl.col(S.ACCOUNT_ID).is_not_null() & pl.col(S.VALUE).is_not_null())
            )
    links = pl.concat(parts).unique()
    # Values held by one account link nobody: drop them before building the graph.
    links = links.filter(pl.len().over(_KIND, S.VALUE) >= 2)

    # Sorted dictionaries: account ids 0..n-1, value ids n..n+m-1.
    account_ids = (
        pl.concat(
            [
                accounts.select(pl.col(S.ACCOUNT_ID).cast(pl.String)),
                exchange_pairs.select(S.ACCOUNT_ID),
            ]
        )
        .drop_nulls()
        .unique()
        .sort(S.ACCOUNT_ID)
        .with_row_index(_ACCOUNT_INDEX)
    )
    n_accounts = account_ids.height
    values = (
        links.select(_KIND, S.VALUE)
        .unique()
        .sort(_KIND, S.VALUE)
        .with_row_index(_VALUE_INDEX, offset=n_accounts)
    )
    edges = (
        links.join(account_ids, on=S.ACCOUNT_ID)
        .join(values, on=[_KIND, S.VALUE])
        .select(_ACCOUNT_INDEX, _VALUE_INDEX)
        .sort(_ACCOUNT_INDEX, _VALUE_INDEX)
        .to_numpy()
    )
    graph = ig.Graph(n=n_accounts + values.height, edges=edges)
    membership = np.asarray(graph.connected_components().membership[:n_accounts])
    cluster = _renumber(membership)

    return (
        pl.DataFrame(
            {
                S.ACCOUNT_ID: account_ids[S.ACCOUNT_ID],
                S.CLUSTER_ID: pl.Series(cluster, dtype=pl.Int64),
            }
        )
        .select(
            S.ACCOUNT_ID,
            pl.when(pl.col(S.CLUSTER_ID) >= 0)
            .then(S.operation_ids(pl.col(S.CLUSTER_ID) + 1))
            .alias(S.CLUSTER_ID),
            pl.when(pl.col(S.CLUSTER_ID) >= 0).then(1.0).otherwise(0.0).alias(S.CLUSTER_SCORE),
            (pl.col(S.CLUSTER_ID) >= 0).alias(S.FLAGGED),
        )
        .cast(pl.Schema(S.MEMBERS_SCHEMA))
    )


def _clean(column: str) -> pl.Expr:
    """String value with whitespace stripped; blank becomes null."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _renumber(membership: np.ndarray) -> np.ndarray:
    """Canonical cluster ids: -1 for lone accounts, else 0.. by size desc, then first account.

    Accounts are indexed in sorted ``account_id`` order, so a component's first
    index is its smallest account id.
    """
    if membership.size == 0:
        return membership.astype(np.int64)
    _, first, inverse, sizes = np.unique(
        membership, return_index=True, return_inverse=True, return_counts=True
    )
    ordered = np.lexsort((first, -sizes))  # size descending, then first account
    # A component's id is its position in that order; the flagged ones come first.
    position = np.argsort(ordered).astype(np.int64)
    rank = np.where(sizes >= 2, position, -1)
    return rank[inverse]
