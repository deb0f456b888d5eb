"""A polars helper shared by the stages: strings that own their memory.

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


def owned(column: str) -> pl.Expr:
    """``column`` with its strings copied (nulls kept), so it pins no buffer of its source."""
    return pl.concat_str([pl.col(column), pl.lit("")]).alias(column)
