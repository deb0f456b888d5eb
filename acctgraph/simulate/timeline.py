"""A world as it was some weeks in: for runs over time (``--previous``) on one world.

Examples
--------
>>> from acctgraph.simulate import first_weeks, simulate_frames
>>> accounts, exchanges, _ = simulate_frames("tiny", seed=7)
>>> early_accounts, early, cut = first_weeks(accounts, exchanges, weeks=4)
>>> bool((early["timestamp"] < cut).all()), early.height < exchanges.height
(True, True)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

import polars as pl

from acctgraph.core import schema as S

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def first_weeks(
    accounts: pl.DataFrame, exchanges: Frame, *, weeks: float
) -> tuple[pl.DataFrame, Frame, datetime]:
    """The world's first ``weeks`` after its first exchange: ``(accounts, exchanges, cut)``.

    The exchanges before the cut (lazy in, lazy out), and the accounts created before
    it or active in it (``created_at`` as text or a datetime; an unreadable one counts
    as created later).
    """
    start = exchanges.select(pl.col(S.TIMESTAMP).min())
    first = (start.collect() if isinstance(start, pl.LazyFrame) else start).item()
    cut = first + timedelta(weeks=weeks)
    early = exchanges.filter(pl.col(S.TIMESTAMP) < cut)
    active = early.select(pl.col(S.ACCOUNT_ID).unique())
    active_ids = (active.collect() if isinstance(active, pl.LazyFrame) else active)[S.ACCOUNT_ID]
    created = accounts[S.CREATED_AT].cast(pl.String).str.to_datetime(time_zone="UTC", strict=False)
    kept = accounts.filter(
        (created < cut).fill_null(False) | pl.col(S.ACCOUNT_ID).is_in(active_ids.implode())
    )
    return kept, early, cut
