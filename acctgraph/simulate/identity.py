"""Who an account says it is: ids, names, email addresses, display names.

All functions are vectorised over accounts (polars expressions over numpy draws).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> first, last = person_names(rng, np.array(["US", "DE", "JP"], dtype=object))
>>> emails = free_emails(rng, first, last, np.array(["US", "DE", "JP"], dtype=object))
>>> bool(emails.str.contains("@").all())
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from acctgraph.simulate import vocabulary as V
from acctgraph.simulate.randomness import cumulative

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

HEX4 = pl.Series("hex", [f"{i:04x}" for i in range(65536)], dtype=pl.String)
_FREE_CDF = cumulative(V.FREE_MAIL_WEIGHTS)
_FREE = pl.Series(V.FREE_MAIL, dtype=pl.String)
_NICKS = pl.Series(V.NICKNAMES, dtype=pl.String)
_LETTERS = pl.Series([chr(c) for c in range(ord("a"), ord("z") + 1)], dtype=pl.String)


def hex_strings(words: np.ndarray, n_hex: int = 16, prefix: str = "") -> pl.Series:
    """uint64 → lowercase hex text of ``n_hex`` (4-16) digits, with a prefix."""
    words = np.asarray(words, dtype=np.uint64)
    parts = [
        HEX4.gather(((words >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64))
        for shift in (48, 32, 16, 0)[: max(1, n_hex // 4)]
    ]
    frame = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts)})
    return frame.select(
        pl.concat_str([pl.lit(prefix), *[pl.col(f"p{i}") for i in range(len(parts))]]).alias("id")
    ).to_series()


def random_hex(rng: np.random.Generator, n: int, n_hex: int = 16, prefix: str = "") -> pl.Series:
    """Fresh random hash-like strings."""
    return hex_strings(rng.integers(0, 2**64, size=n, dtype=np.uint64), n_hex, prefix)


def account_ids(keys: np.ndarray) -> pl.Series:
    """Opaque account ids derived from account keys (``acct_`` + 14 hex digits)."""
    return hex_strings(keys, 16, "acct_").str.slice(0, 19).alias("account_id")


def person_names(rng: np.random.Generator, countries: np.ndarray) -> tuple[pl.Series, pl.Series]:
    """First and last names typical of each account's country (lowercase)."""
    n = len(countries)
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    regions = np.array([V.COUNTRIES[c][2] for c in countries], dtype=object) if n else countries
    for region in np.unique(regions):
        rows = np.flatnonzero(regions == region)
        # one person in ten has a name from another region
        mixed = rng.random(len(rows)) < 0.1
        names_from = np.where(mixed, rng.choice(list(V.FIRST_NAMES), size=len(rows)), region)
        for r in np.unique(names_from):
            sub = rows[names_from == r]
            f, ln = V.FIRST_NAMES[r], V.LAST_NAMES[r]
            first[sub] = np.asarray(f, dtype=object)[rng.integers(0, len(f), size=len(sub))]
            last[sub] = np.asarray(ln, dtype=object)[rng.integers(0, len(ln), size=len(sub))]
    return pl.Series("first", first, dtype=pl.String), pl.Series("last", last, dtype=pl.String)


def local_parts(
    rng: np.random.Generator, first: pl.Series, last: pl.Series, shapes: np.ndarray | None = None
) -> pl.Series:
    """Mailbox names of varied shapes: first.last, firstlast, flast77, nick_name, ..."""
    n = len(first)
    if shapes is None:
        shapes = np.searchsorted(
            cumulative([16, 12, 10, 6, 8, 8, 6, 7, 5, 6, 6, 4, 6]), rng.random(n), side="right"
        )
    frame = pl.DataFrame(
        {
            "f": first,
            "l": last,
            "s": shapes,
            "nick": _NICKS.gather(rng.integers(0, len(_NICKS), size=n)),
            "nick2": _NICKS.gather(rng.integers(0, len(_NICKS), size=n)),
            "d2": pl.Series(rng.integers(1, 100, size=n)).cast(pl.String).str.zfill(2),
            "d3": pl.Series(rng.integers(1, 1000, size=n)).cast(pl.String),
            "year": pl.Series(rng.integers(1958, 2008, size=n)).cast(pl.String),
        }
    )
    f, ln, s = pl.col("f"), pl.col("l"), pl.col("s")
    initial = f.str.slice(0, 1)
    shapes_expr = [
        pl.concat_str([f, pl.lit("."), ln]),
        pl.concat_str([f, ln]),
        pl.concat_str([initial, ln, pl.col("d2")]),
        pl.concat_str([f, pl.lit("_"), ln]),
        pl.concat_str([pl.col("nick"), pl.lit("_"), pl.col("nick2")]),
        pl.concat_str([f, pl.lit("."), ln, pl.col("year").str.slice(2)]),
        pl.concat_str([ln, f, pl.col("d3")]),
        pl.concat_str([f, pl.col("year")]),
        pl.concat_str([initial, pl.lit("."), ln]),
        pl.concat_str([pl.col("nick"), ln]),
        pl.concat_str([f, ln.str.slice(0, 1), pl.col("d3")]),
        pl.concat_str([pl.col("nick"), pl.col("nick2"), pl.col("d2")]),
        pl.concat_str([f, pl.lit("."), ln, pl.lit("."), pl.col("year")]),
    ]
    expr: Then | ChainedThen = pl.when(s == 0).then(shapes_expr[0])
    for i, e in enumerate(shapes_expr[1:], start=1):
        expr = expr.when(s == i).then(e)
    return frame.select(expr.otherwise(shapes_expr[0]).alias("local")).to_series()


def free_domains(rng: np.random.Generator, countries: np.ndarray) -> pl.Series:
    """Free-mail domains, with some national ISP domains."""
    n = len(countries)
    domains = np.asarray(V.FREE_MAIL, dtype=object)[
        np.searchsorted(_FREE_CDF, rng.random(n), side="right")
    ]
    isp = rng.random(n) < 0.15
    for c in np.unique(countries[isp]) if n else []:
        extra = V.COUNTRIES[c][3]
        if extra:
            rows = np.flatnonzero(isp & (countries == c))
            domains[rows] = np.asarray(extra, dtype=object)[
                rng.integers(0, len(extra), size=len(rows))
            ]
    return pl.Series("domain", domains, dtype=pl.String)


def free_emails(
    rng: np.random.Generator,
    first: pl.Series,
    last: pl.Series,
    countries: np.ndarray,
    *,
    plus_tag_share: float = 0.03,
) -> pl.Series:
    """Ordinary people's addresses; a few gmail users add a ``+tag``."""
    n = len(first)
    frame = pl.DataFrame(
        {
            "local": local_parts(rng, first, last),
            "domain": free_domains(rng, countries),
            "tag": _NICKS.gather(rng.integers(0, len(_NICKS), size=n)),
            "plus": rng.random(n) < plus_tag_share,
        }
    )
    local = (
        pl.when(pl.col("plus") & (pl.col("domain") == "gmail.com"))
        .then(pl.concat_str([pl.col("local"), pl.lit("+"), pl.col("tag")]))
        .otherwise(pl.col("local"))
    )
    return frame.select(
        pl.concat_str([local, pl.lit("@"), pl.col("domain")]).alias("email")
    ).to_series()


def random_letters(rng: np.random.Generator, n: int, length: int) -> pl.Series:
    """``[a-z]{length}`` strings."""
    frame = pl.DataFrame(
        {f"c{i}": _LETTERS.gather(rng.integers(0, 26, size=n)) for i in range(length)}
    )
    return frame.select(pl.concat_str(list(frame.columns)).alias("letters")).to_series()


def insert_dot(rng: np.random.Generator, local: pl.Series) -> pl.Series:
    """Insert one dot inside each mailbox name (gmail ignores dots)."""
    n = len(local)
    frame = pl.DataFrame({"l": local, "u": rng.random(n)})
    length = pl.col("l").str.len_chars()
    pos = (
        (1 + (pl.col("u") * (length - 1).clip(lower_bound=1)).floor())
        .cast(pl.Int64)
        .clip(upper_bound=length - 1)
    )
    return frame.select(
        pl.concat_str(
            [pl.col("l").str.slice(0, pos), pl.lit("."), pl.col("l").str.slice(pos)]
        ).alias("local")
    ).to_series()


def display_names(rng: np.random.Generator, first: pl.Series, last: pl.Series) -> pl.Series:
    """What people type as their name: full, first only, initials, a nickname, or nothing."""
    n = len(first)
    shape = np.searchsorted(cumulative([45, 15, 8, 10, 7, 15]), rng.random(n), side="right")
    frame = pl.DataFrame(
        {
            "f": first,
            "l": last,
            "s": shape,
            "nick": _NICKS.gather(rng.integers(0, len(_NICKS), size=n)),
        }
    )
    f, ln, s = pl.col("f"), pl.col("l"), pl.col("s")
    expr = (
        pl.when(s == 0)
        .then(pl.concat_str([f, pl.lit(" "), ln]).str.to_titlecase())
        .when(s == 1)
        .then(f.str.to_titlecase())
        .when(s == 2)
        .then(pl.concat_str([f, pl.lit(" "), ln.str.slice(0, 1), pl.lit(".")]).str.to_titlecase())
        .when(s == 3)
        .then(pl.concat_str([f, pl.lit(" "), ln]))
        .when(s == 4)
        .then(pl.col("nick"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return frame.select(expr.alias("display_name")).to_series()
