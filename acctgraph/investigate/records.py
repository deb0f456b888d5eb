"""JSON-ready records of the investigation tables, and the rounding they share.

:mod:`acctgraph.investigate.explain` and :mod:`acctgraph.investigate.expand`
round their figures (contributions, strengths, weights) to :data:`DECIMALS`
places in their tables, and every float of their JSON output to the same, so
that float noise neither shows nor changes an order.
"""

from __future__ import annotations

from typing import Any

import polars as pl

#: Decimal places kept in the investigation tables' figures and in their JSON.
DECIMALS = 6


def frame_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows of a frame: raw values, floats rounded to :data:`DECIMALS` places.

    Examples
    --------
    >>> frame_records(pl.DataFrame({"value": ["\\u202ex"], "weight": [1 / 3]}))
    [{'value': '\\u202ex', 'weight': 0.333333}]
    """
    return [
        {k: (round(v, DECIMALS) if isinstance(v, float) else v) for k, v in row.items()}
        for row in frame.to_dicts()
    ]
