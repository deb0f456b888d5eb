"""Record-linkage evidence on cards: per cluster and compared column, and the phrase that reads it.

The run's ``links`` table (one row per linked pair and compared declared column,
written when accounts columns are declared; see :mod:`acctgraph.graph.linkage`)
becomes the card table ``comparisons``: per cluster × column, how many of the
cluster's linked pairs agree exactly, closely or not at all, the mean bits the
column added, and the closest non-exact agreement as an example.
:func:`comparison_phrase` turns one comparison into the line every view shows
(``surname 'smyth' ~ 'smith', Jaro-Winkler 0.93``).

Examples
--------
>>> comparison_phrase("column:surname", "close", "smyth", "smith", 0.9333, "fuzzy (Jaro-Winkler >= 0.9)")
"surname 'smyth' ~ 'smith', Jaro-Winkler 0.93"
>>> comparison_phrase("column:date_of_birth", "close", "1990-03-04", "1990-04-03", 30.0,
...                   "date (within 0 days, or day and month swapped)")
"date_of_birth '1990-03-04' ~ '1990-04-03', day and month swapped"
>>> comparison_phrase("column:state", "disagree", "nsw", "vic", 0.0, "exact")
"state 'nsw' differs from 'vic'"
"""

from __future__ import annotations

import polars as pl

from acctgraph.core import schema as S
from acctgraph.graph.linkage import swapped

COMPARISONS_TABLE = "comparisons"
COMPARISON = "comparison"
PAIRS = "pairs"
EXACT_PAIRS = "exact_pairs"
CLOSE_PAIRS = "close_pairs"
DISAGREE_PAIRS = "disagree_pairs"
MEAN_BITS = "mean_bits"
EXAMPLE_A = "example_a"
EXAMPLE_B = "example_b"
EXAMPLE_SIMILARITY = "example_similarity"
OTHER_ACCOUNT_ID = "other_account_id"
OWN_VALUE = "own_value"
OTHER_VALUE = "other_value"

COMPARISONS_SCHEMA = pl.Schema(
    {
        S.CLUSTER_ID: pl.String(),
        S.ATTRIBUTE_KIND: pl.String(),
        "comparison": pl.String(),
        PAIRS: pl.Int64(),
        EXACT_PAIRS: pl.Int64(),
        CLOSE_PAIRS: pl.Int64(),
        DISAGREE_PAIRS: pl.Int64(),
        MEAN_BITS: pl.Float64(),
        EXAMPLE_A: pl.String(),
        EXAMPLE_B: pl.String(),
        EXAMPLE_SIMILARITY: pl.Float64(),
    }
)


def column_name(kind: str) -> str:
    """The column a declared kind reads (``column:surname`` → ``surname``)."""
    return kind.split(":", 1)[1] if ":" in kind else kind


def comparison_phrase(
    kind: str,
    level: str,
    value_a: str | None,
    value_b: str | None,
    similarity: float | None,
    comparison: str,
) -> str:
    """One comparison of two records as a reader sees it (raw text: views escape it)."""
    name = column_name(kind)
    if level == "exact":
        return f"{name} equal ({value_a!r})"
    if level == "disagree":
        return f"{name} {value_a!r} differs from {value_b!r}"
    pair = f"{name} {value_a!r} ~ {value_b!r}"
    similarity = float(similarity or 0.0)
    if comparison.startswith("fuzzy"):
        return f"{pair}, Jaro-Winkler {similarity:.2f}"
    if comparison.startswith("date"):
        if swapped(value_a or "", value_b or ""):
            return f"{pair}, day and month swapped"
        return f"{pair}, {similarity:g} days apart"
    return f"{pair}, {similarity:g} apart"


def links_seen_from(links: pl.DataFrame, accounts: list[str] | pl.Series) -> pl.DataFrame:
    """The run's record links between ``accounts`` and everyone else, from their side.

    One row per link and compared column: ``account_id`` (one of ``accounts``),
    ``other_account_id``, ``probability``, ``match_weight``, ``attribute_kind``,
    ``comparison``, ``level``, ``own_value`` (that account's value),
    ``other_value``, ``similarity``, ``bits``. Links inside ``accounts`` are left out.
    """
    side = pl.Series(list(accounts), dtype=pl.String).implode()
    a_in, b_in = pl.col("account_a").is_in(side), pl.col("account_b").is_in(side)

    def mine(a: str, b: str) -> pl.Expr:
        return pl.when(a_in).then(pl.col(a)).otherwise(pl.col(b))

    return links.filter(a_in ^ b_in).select(
        mine("account_a", "account_b").alias(S.ACCOUNT_ID),
        mine("account_b", "account_a").alias(OTHER_ACCOUNT_ID),
        "probability",
        "match_weight",
        S.ATTRIBUTE_KIND,
        COMPARISON,
        "level",
        mine("value_a", "value_b").alias(OWN_VALUE),
        mine("value_b", "value_a").alias(OTHER_VALUE),
        "similarity",
        "bits",
    )


def comparison_table(links: pl.DataFrame | None, keys: pl.DataFrame) -> pl.DataFrame:
    """The ``comparisons`` card table for the clusters in ``keys`` (empty without links)."""
    if links is None or links.height == 0:
        return pl.DataFrame(schema=COMPARISONS_SCHEMA)
    inside = links.join(keys, on=S.CLUSTER_ID, how="semi")
    level = pl.col("level")
    counts = inside.group_by(S.CLUSTER_ID, S.ATTRIBUTE_KIND).agg(
        pl.col("comparison").first(),
        pl.len().cast(pl.Int64).alias(PAIRS),
        (level == "exact").sum().cast(pl.Int64).alias(EXACT_PAIRS),
        (level == "close").sum().cast(pl.Int64).alias(CLOSE_PAIRS),
        (level == "disagree").sum().cast(pl.Int64).alias(DISAGREE_PAIRS),
        pl.col("bits").mean().round(4).alias(MEAN_BITS),
    )
    examples = (
        inside.filter(level == "close")
        .sort(
            S.CLUSTER_ID,
            S.ATTRIBUTE_KIND,
            "bits",
            "account_a",
            "account_b",
            descending=[False, False, True, False, False],
        )
        .group_by(S.CLUSTER_ID, S.ATTRIBUTE_KIND, maintain_order=True)
        .agg(
            pl.col("value_a").first().alias(EXAMPLE_A),
            pl.col("value_b").first().alias(EXAMPLE_B),
            pl.col("similarity").first().alias(EXAMPLE_SIMILARITY),
        )
    )
    return (
        counts.join(examples, on=[S.CLUSTER_ID, S.ATTRIBUTE_KIND], how="left")
        .select(list(COMPARISONS_SCHEMA))
        .cast(COMPARISONS_SCHEMA)
        .sort(S.CLUSTER_ID, MEAN_BITS, S.ATTRIBUTE_KIND, descending=[False, True, False])
    )
