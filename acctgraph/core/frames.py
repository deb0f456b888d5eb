"""Polars helpers shared by the stages: strings that own their memory, account partitions.

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


def owned(column: str) -> pl.Expr:
    """``column`` with its strings copied (nulls kept), so it pins no buffer of its source."""
    return pl.concat_str([pl.col(column), pl.lit("")]).alias(column)


def account_part(partitions: int) -> pl.Expr:
    """Each row's account partition in ``0 … partitions-1``: a stable hash of ``account_id``.

    All of an account's rows, in the accounts and the exchanges tables, fall in one
    partition, so every per-account reduction can be computed part by part.
    """
    return (pl.col(S.ACCOUNT_ID).hash(seed=_PART_SEED) % partitions).cast(pl.Int64)
