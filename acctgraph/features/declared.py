"""Declared attributes: any column of either input table as a further kind, with its comparison.

A declaration is a string, the same on the command line (``--attribute``) and
in TOML (``attributes = [...]``)::

    [accounts.|exchanges.]COLUMN[:COMPARISON[:PARAMETER]]

Accounts columns (one value per account) are compared record against record by
the linkage model of :mod:`acctgraph.graph.linkage` when at least three are
declared (with one or two, each value is shared evidence, like a card, and only
``exact`` is possible):

==========  ==================================================  =====================
comparison  two values agree when                               parameter (default)
==========  ==================================================  =====================
``exact``   equal after normalisation (NFKC, trim, case,         none
            runs of spaces)
``fuzzy``   equal, or close: Jaro-Winkler similarity at least   minimum similarity
            the parameter (typos, transpositions)                (0.9)
``number``  equal, or close: differ by at most the parameter    tolerance (0)
``date``    equal, or close: at most the parameter days apart,  tolerance in days (0)
            or day and month swapped
==========  ==================================================  =====================

Exchanges columns (many values per account, weighted by use) join the account
graph as the built-in traffic kinds do; profiles and co-activity, like network
addresses, only corroborate other evidence (see :class:`~acctgraph.graph.GraphParams`):

==============  =============================================  ======================
comparison      evidence                                       parameter (default)
==============  =============================================  ======================
``profile``     cosine of the two accounts' TF-IDF profiles     none
                of value counts (the default); corroborates
``exact``       each shared value, discounted by its holders    none
``coactivity``  the same value in the same time window          window (``10m``; ``s``,
                (the same page or API key within ten minutes);  ``m``, ``h``, ``d``)
                corroborates
==============  =============================================  ======================

Values are normalised the same way for every comparison: text is NFKC-normalised,
trimmed, lower-cased and its runs of white space collapsed; numbers are read as
decimals and dates in ``YYYY-MM-DD``, ``YYYYMMDD``, ``DD/MM/YYYY`` or
``YYYY/MM/DD`` (a native date or datetime column is taken as is). A value that
cannot be read as the comparison expects is left out and counted in the run's
warnings (``declared_value_unreadable``), with the column and examples.

Examples
--------
>>> parse_declaration("surname:fuzzy:0.85")
ExtraColumn(enabled=True, weight=1.0, hub_cap=50, alpha=None, name='surname', comparison='fuzzy', tolerance=0.85)
>>> parse_declaration("exchanges.ja3:coactivity:10m").kind
'co_activity:ja3@10m'
>>> parse_declaration("dob:date:x")
Traceback (most recent call last):
...
acctgraph.core.errors.ConfigError: attribute 'dob:date:x': the date tolerance must be a number of days, got 'x'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import LONG, Feature, Usage, long_rows
from acctgraph.features.kinds import AccountColumn

ACCOUNT_COMPARISONS = ("exact", "fuzzy", "number", "date")
EVENT_COMPARISONS = ("profile", "exact", "coactivity")
DEFAULT_FUZZY = 0.9
DEFAULT_WINDOW = "10m"
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%Y/%m/%d")
UNREADABLE = "declared_value_unreadable"
_WINDOW = re.compile(r"^([1-9][0-9]*)([smhd])$")
_MAX_EXAMPLES = 5


def normalised_text(column: pl.Expr) -> pl.Expr:
    """NFKC, trimmed, lower-cased, runs of white space collapsed; empty becomes null.

    Examples
    --------
    >>> pl.select(normalised_text(pl.lit(" Ｓmith  JONES "))).item()
    'smith jones'
    """
    text = (
        column.cast(pl.String)
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    return pl.when(text == "").then(None).otherwise(text)


def _parsed(text: pl.Expr, comparison: str, dtype: pl.DataType) -> pl.Expr:
    """The canonical value of a comparison (null where ``text`` cannot be read)."""
    if comparison == "number":
        if dtype.is_numeric():
            return text.cast(pl.Float64).cast(pl.String)
        return text.str.replace_all(r"[ ,_]", "").cast(pl.Float64, strict=False).cast(pl.String)
    if comparison == "date":
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            return text.cast(pl.Date).dt.strftime("%Y-%m-%d")
        return pl.coalesce([text.str.to_date(f, strict=False) for f in DATE_FORMATS]).dt.strftime(
            "%Y-%m-%d"
        )
    return text


@dataclass(frozen=True, kw_only=True)
class ExtraColumn(AccountColumn):
    """A declared accounts column (``--attribute COLUMN[:COMPARISON[:PARAMETER]]``).

    With at least three declared accounts columns (``linkage.min_columns``),
    compared record against record by :mod:`acctgraph.graph.linkage` (its
    ``weight`` scales the link the model gives; ``hub_cap`` and ``alpha`` are not
    used there: the model discounts a value by how many accounts hold it). With
    fewer, each value is shared evidence like a card: ``weight / (holders - 1) **
    alpha``, hubs above ``hub_cap``; only exact comparisons are possible then.
    ``tolerance`` is the comparison's parameter (None = its default; see the
    module docstring).
    """

    name: str = ""
    comparison: str = "exact"
    tolerance: float | None = None
    weight: float = 1.0
    hub_cap: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.comparison not in ACCOUNT_COMPARISONS:
            raise ConfigError(
                f"attribute {self.name!r}: unknown comparison {self.comparison!r} for an accounts "
                f"column; expected one of {list(ACCOUNT_COMPARISONS)}"
            )
        if self.comparison == "exact" and self.tolerance is not None:
            raise ConfigError(f"attribute {self.name!r}: an exact comparison takes no parameter")
        if self.comparison == "fuzzy" and not 0.0 < self.threshold <= 1.0:
            raise ConfigError(
                f"attribute {self.name!r}: the fuzzy threshold must be in (0, 1], got {self.tolerance}"
            )
        if self.comparison in ("number", "date") and self.threshold < 0:
            raise ConfigError(
                f"attribute {self.name!r}: the {self.comparison} tolerance must be non-negative, "
                f"got {self.tolerance}"
            )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"column:{self.name}"

    @property
    def threshold(self) -> float:
        """The comparison's parameter, its default filled in (0.0 for exact)."""
        if self.tolerance is not None:
            return float(self.tolerance)
        return DEFAULT_FUZZY if self.comparison == "fuzzy" else 0.0

    def source_column(self) -> str:
        return self.name

    def describe(self) -> str:
        """The comparison as shown to a reader: ``fuzzy (Jaro-Winkler >= 0.9)``."""
        if self.tolerance is None and self.comparison == "exact":
            return "exact"
        if self.comparison == "fuzzy":
            return f"fuzzy (Jaro-Winkler >= {self.threshold:g})"
        if self.comparison == "number":
            return f"number (within {self.threshold:g})"
        if self.comparison == "date":
            return f"date (within {self.threshold:g} days, or day and month swapped)"
        return "exact"

    def values(self, usage: Usage) -> pl.LazyFrame:
        col = self.source_column()
        if col not in usage.accounts.columns:
            return long_rows(pl.DataFrame(schema={c: pl.String for c in LONG}))
        dtype = usage.accounts.schema[col]
        # native numbers and dates are read as they are; text is normalised first
        native = self.comparison in ("number", "date") and dtype != pl.String
        text = pl.col(col) if native else normalised_text(pl.col(col))
        frame = usage.accounts.select(
            S.ACCOUNT_ID,
            text.alias("_raw"),
            _parsed(text, self.comparison, dtype).alias(S.VALUE),
        )
        _count_unreadable(frame, usage, column=col, comparison=self.comparison)
        return long_rows(
            frame.lazy()
            .filter(pl.col(S.VALUE).is_not_null())
            .select(S.ACCOUNT_ID, S.VALUE, pl.lit(1).alias(S.N_EVENTS))
        )


def _count_unreadable(frame: pl.DataFrame, usage: Usage, *, column: str, comparison: str) -> None:
    bad = frame.filter(pl.col("_raw").is_not_null() & pl.col(S.VALUE).is_null())
    usage.warnings.add(
        UNREADABLE,
        f"values of a declared column that could not be read as its comparison ({comparison}) "
        "expects; left out of the comparison",
        count=bad.height,
        examples=[
            f"{account}: {raw!r}"
            for account, raw in bad.select(S.ACCOUNT_ID, pl.col("_raw").cast(pl.String))
            .sort(S.ACCOUNT_ID)
            .head(_MAX_EXAMPLES)
            .iter_rows()
        ],
        column=column,
        path=S.ACCOUNTS,
    )


@dataclass(frozen=True, kw_only=True)
class EventColumn(Feature):
    """A declared exchanges column (``--attribute exchanges.COLUMN[:profile|exact]``).

    Each account's values are weighted by use: ``n_events`` counts the
    account's exchanges carrying the value (computed by
    :func:`~acctgraph.features.reduce.compute_usage`). ``profile`` compares
    accounts by the cosine of their TF-IDF profiles and, like network
    addresses, only corroborates other evidence (a popular SDK version or browser
    is shared by strangers); ``exact`` links by each shared value discounted by
    its holders, ``weight / (holders - 1) ** alpha`` with ``alpha`` 1 (Newman's
    weighting: an API key or project id held by two accounts links them fully,
    an SDK version a few dozen developers share hardly at all).
    """

    name: str = ""
    comparison: str = "profile"
    weight: float = 1.0
    hub_cap: int = 40
    alpha: float | None = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.comparison not in ("profile", "exact"):
            raise ConfigError(
                f"attribute 'exchanges.{self.name}': unknown comparison {self.comparison!r}; "
                f"expected one of {list(EVENT_COMPARISONS)}"
            )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"exchanges:{self.name}"

    @property
    def similarity(self) -> str:  # type: ignore[override]
        return "cosine" if self.comparison == "profile" else "shared"

    @property
    def infrastructure(self) -> bool:  # type: ignore[override]
        """A profile only corroborates (strangers share a popular SDK or browser); exact values
        link on their own, discounted by how many accounts hold them."""
        return self.comparison == "profile"

    def describe(self) -> str:
        if self.comparison == "profile":
            return "profile (cosine of value counts), corroborates"
        return "exact (shared value, discounted by holders)"

    def values(self, usage: Usage) -> pl.LazyFrame:
        return long_rows(
            usage.events.lazy()
            .filter(pl.col(S.ATTRIBUTE_KIND) == self.name)
            .select(S.ACCOUNT_ID, S.VALUE, S.N_EVENTS)
        )


@dataclass(frozen=True, kw_only=True)
class EventCoActivity(Feature):
    """The same value of an exchanges column in the same time window (``exchanges.COL:coactivity:10m``).

    Value: ``value@window-start``; ``n_events`` counts the account's exchanges
    there. Compared by cosine of TF-IDF profiles: two accounts that keep showing
    up with the same API key, page or TLS fingerprint at the same moments link;
    a value everyone uses is a hub and is capped as any other. Like co-activity
    on IP ranges it is infrastructure: it corroborates other evidence and never
    links two accounts on its own (strangers load the same page at the same time).
    """

    similarity: ClassVar[str] = "cosine"
    infrastructure: ClassVar[bool] = True
    name: str = ""
    window: str = DEFAULT_WINDOW
    weight: float = 1.0
    hub_cap: int = 40

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _WINDOW.match(self.window):
            raise ConfigError(
                f"attribute 'exchanges.{self.name}:coactivity': the window must be a number "
                f"and a unit among s, m, h, d (e.g. 10m), got {self.window!r}"
            )

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"co_activity:{self.name}@{self.window}"

    def describe(self) -> str:
        return f"co-activity (same value within {self.window}), corroborates"

    def values(self, usage: Usage) -> pl.LazyFrame:
        return long_rows(
            usage.events.lazy()
            .filter(pl.col(S.ATTRIBUTE_KIND) == f"{self.name}@{self.window}")
            .select(S.ACCOUNT_ID, S.VALUE, S.N_EVENTS)
        )


Declared = ExtraColumn | EventColumn | EventCoActivity


def parse_declaration(text: str) -> Declared:
    """The feature a declaration string names (see the module docstring).

    The column name is taken as written up to the first ``:`` (a column whose name
    holds a ``:`` cannot be declared; rename it in the file).

    Raises
    ------
    ConfigError
        An empty column, an unknown comparison, a parameter of the wrong type.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"attribute: expected COLUMN[:COMPARISON[:PARAMETER]], got {text!r}")
    table, rest = S.ACCOUNTS, text
    for prefix in (S.ACCOUNTS, S.EXCHANGES):
        if rest.startswith(prefix + "."):
            table, rest = prefix, rest[len(prefix) + 1 :]
    parts = rest.split(":")
    if len(parts) > 3 or not parts[0]:
        raise ConfigError(
            f"attribute {text!r}: expected [exchanges.]COLUMN[:COMPARISON[:PARAMETER]]"
        )
    column = parts[0]
    comparison = parts[1] if len(parts) > 1 else ("exact" if table == S.ACCOUNTS else "profile")
    parameter = parts[2] if len(parts) > 2 else None
    if table == S.EXCHANGES:
        if comparison == "coactivity":
            return EventCoActivity(name=column, window=parameter or DEFAULT_WINDOW)
        if parameter is not None:
            raise ConfigError(f"attribute {text!r}: a {comparison} comparison takes no parameter")
        return EventColumn(name=column, comparison=comparison)
    if comparison not in ACCOUNT_COMPARISONS:
        raise ConfigError(
            f"attribute {text!r}: unknown comparison {comparison!r} for an accounts column; "
            f"expected one of {list(ACCOUNT_COMPARISONS)}"
            + (" (exchanges columns: exchanges.COLUMN)" if comparison in EVENT_COMPARISONS else "")
        )
    tolerance = None
    if parameter is not None:
        try:
            tolerance = float(parameter)
        except ValueError:
            what = {
                "fuzzy": "a similarity between 0 and 1",
                "number": "a number",
                "date": "a number of days",
            }.get(comparison, "nothing")
            raise ConfigError(
                f"attribute {text!r}: the {comparison} "
                f"{'threshold' if comparison == 'fuzzy' else 'tolerance'} must be {what}, "
                f"got {parameter!r}"
            ) from None
    return ExtraColumn(name=column, comparison=comparison, tolerance=tolerance)


def declaration(feature: Declared) -> str:
    """The declaration string of a declared feature (the inverse of :func:`parse_declaration`).

    Examples
    --------
    >>> declaration(parse_declaration("exchanges.page:coactivity:1h"))
    'exchanges.page:coactivity:1h'
    >>> declaration(parse_declaration("dob:date"))
    'dob:date'
    """
    if isinstance(feature, EventCoActivity):
        return f"exchanges.{feature.name}:coactivity:{feature.window}"
    if isinstance(feature, EventColumn):
        return f"exchanges.{feature.name}:{feature.comparison}"
    text = feature.name if feature.comparison == "exact" else f"{feature.name}:{feature.comparison}"
    if feature.tolerance is not None:
        text += f":{feature.tolerance:g}"
    return text
