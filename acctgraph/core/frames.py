"""Polars helpers shared by the stages: strings that own their memory, account partitions,
account keys.

Strings in polars are views into shared buffers: filtering a column, or taking
a few rows of it, keeps the *whole* decoded buffer of every page a surviving
row came from. A scan of the exchanges filtered down to a few hundred
accounts spread across the file would keep nearly every prompt in memory.
:func:`owned` copies the strings that survive into buffers of their own.

Examples
--------
>>> import polars as pl
>>> pl.DataFrame({"s": ["a", None, "long enough to live in a buffer"]}).select(owned("s"))["s"].to_list()
['a', None, 'long enough to live in a buffer']
"""

from __future__ import annotations

import polars as pl

from acctgraph.core import schema as S

_PART_SEED = 7
_KEY_SEED = 3
ACCOUNT_KEY = "_account_key"


def owned(column: str) -> pl.Expr:
    """``column`` with its strings copied (nulls kept), so it pins no buffer of its source."""
    return pl.concat_str([pl.col(column), pl.lit("")]).alias(column)


def account_part(partitions: int) -> pl.Expr:
    """Each row's account partition in ``0 … partitions-1``: a stable hash of ``account_id``.

    All of an account's rows, in the accounts and the exchanges tables, fall in one
    partition, so every per-account reduction can be computed part by part.
    """
    return (pl.col(S.ACCOUNT_ID).hash(seed=_PART_SEED) % partitions).cast(pl.Int64)


def account_key() -> pl.Expr:
    """``account_id`` as a 64-bit hash of its text, named ``_account_key``: group-bys and joins
    over millions of rows then hold eight bytes a key instead of the id's text (35 bytes
    with its view); :func:`account_keys` maps the keys back."""
    return pl.col(S.ACCOUNT_ID).hash(seed=_KEY_SEED).alias(ACCOUNT_KEY)


def account_keys(account_ids: pl.Series) -> pl.DataFrame:
    """``_account_key, account_id`` for ``account_ids`` (unique ids), checked to have no two
    ids with one key.

    >>> account_keys(pl.Series(["a", "b"]))[S.ACCOUNT_ID].to_list()
    ['a', 'b']
    """
    keys = account_ids.alias(S.ACCOUNT_ID).to_frame().select(account_key(), S.ACCOUNT_ID)
    if keys[ACCOUNT_KEY].n_unique() < keys.height:  # pragma: no cover - 2^-64 odds
        raise AssertionError("account id hash collision; please report")
    return keys
