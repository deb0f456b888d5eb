"""The card tables' column names, :class:`CardParams`, :class:`Cards`, and which clusters get a card."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from acctgraph.cluster.score import ACCOUNTS_IN_CLUSTER
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import FIRST_SEEN, LAST_SEEN, N_EXCHANGES

CARDS_DIR = "cards"
CARDS_JSON = "cards.json"
CLUSTER_TEMPLATES = "cluster_templates"
TEMPLATE_SAMPLES = "template_samples"
TABLES = (
    "clusters",
    "kinds",
    "values",
    "signals",
    "signups",
    "ages",
    "daily",
    "hours",
    "capabilities",
    "templates",
    "samples",
    "members",
    "comparisons",
)

# --- column names of the card tables --------------------------------------
CARDED_BECAUSE = "carded_because"
FLAGGED_REASON = "flagged"
TOP_REASON = "top"
N_VALUES = "n_values"
TOP_HOLDERS = "top_accounts_in_cluster"
TOP_SHARE = "top_share_of_members"
TOP_OUTSIDE = "top_accounts_outside"
MAJORITY = "held_by_half"
LINK_WEIGHT = "link_weight"
LINK_SHARE = "link_share"
KIND_CONTRIBUTION = "kind_contribution"
BIN = "bin"
BIN_START = "bin_start"
N_ACCOUNTS = "n_accounts"
AGE_BIN = "age_bin"
AGE_ORDER = "age_order"
ACTIVE_ACCOUNTS = "active_accounts"
CAPABILITY = "capability"
SHARE = "share"
TEMPLATE_RANK = "template_rank"
TEMPLATE_EVENTS = "template_events"
SAMPLE_RANK = "sample_rank"
CREATED_FIRST = "created_first"
CREATED_LAST = "created_last"
WITH_CREATED_AT = "accounts_with_created_at"
BURST_ACCOUNTS = "burst_accounts"
BURST_START = "burst_start"
BURST_END = "burst_end"
MEDIAN_AGE_DAYS = "median_age_days"
MEDIAN_PER_DAY = "median_exchanges_per_active_day"
MAX_PER_DAY = "max_exchanges_per_active_day"
CLUSTER_ACTIVE_DAYS = "active_days"
TOP_TEMPLATES_SHARE = "top_templates_share"

SIGNUP_BINS = (
    ("hour", "1h", dt.timedelta(hours=72)),
    ("day", "1d", dt.timedelta(days=120)),
    ("week", "1w", dt.timedelta(days=910)),
    ("month", "1mo", None),
)
"""Signup timeline resolution: the first bin whose span limit covers the cluster's signups."""

AGE_BINS = (
    "under 1 hour",
    "1 hour to 1 day",
    "1 to 7 days",
    "7 to 30 days",
    "30 to 365 days",
    "1 year or more",
    "active before creation",
    "no exchanges",
    "creation time unknown",
)
"""Bins of account age at first activity, in display order."""

MEMBER_COLUMNS = (
    S.ACCOUNT_ID,
    S.CREATED_AT,
    FIRST_SEEN,
    LAST_SEEN,
    N_EXCHANGES,
    S.DISPLAY_NAME,
    S.EMAIL,
    S.COUNTRY,
    S.ORG_ID,
)


_SAMPLES_SCHEMA = pl.Schema(
    {
        S.CLUSTER_ID: pl.String(),
        TEMPLATE_RANK: pl.Int64(),
        SAMPLE_RANK: pl.Int64(),
        S.ACCOUNT_ID: pl.String(),
        S.TIMESTAMP: S.TIME,
        S.PROMPT: pl.String(),
    }
)
_TEMPLATES_SCHEMA = pl.Schema(
    {
        S.CLUSTER_ID: pl.String(),
        TEMPLATE_RANK: pl.Int64(),
        S.VALUE: pl.String(),
        ACCOUNTS_IN_CLUSTER: pl.Int64(),
        S.N_EVENTS: pl.Int64(),
        TEMPLATE_EVENTS: pl.Int64(),
        SHARE: pl.Float64(),
    }
)


@dataclass(frozen=True, kw_only=True)
class CardParams:
    """How many clusters get a card and how much each card holds.

    Parameters
    ----------
    top_clusters
        Unflagged clusters carded besides every flagged one, highest score first.
    values_per_kind
        Shared values kept per cluster and kind (the evidence table keeps more).
    top_templates
        Prompt template bands per cluster, most sent first.
    samples_per_template
        Raw example prompts per (cluster, template), each from a different account.
    sample_accounts
        When looking for examples, the accounts read per template: those that
        sent it most (so the search costs the same in a world of any size).
    sample_rows_per_account
        Of those accounts, at most about this many exchanges each are banded
        (a deterministic hash sample, as in :mod:`acctgraph.features.reduce`).
    members
        Accounts listed per card (the full list is ``members.csv``).
    """

    top_clusters: int = 50
    values_per_kind: int = 10
    top_templates: int = 5
    samples_per_template: int = 3
    sample_accounts: int = 8
    sample_rows_per_account: int = 32
    members: int = 100

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            least = 1 if name == "sample_rows_per_account" else 0
            if value < least:
                raise ConfigError(f"cards.{name} must be at least {least}, got {value}")


@dataclass(frozen=True)
class Cards:
    """The card tables of a run (see the module docstring); every table is sorted by cluster."""

    clusters: pl.DataFrame
    kinds: pl.DataFrame
    values: pl.DataFrame
    signals: pl.DataFrame
    signups: pl.DataFrame
    ages: pl.DataFrame
    daily: pl.DataFrame
    hours: pl.DataFrame
    capabilities: pl.DataFrame
    templates: pl.DataFrame
    samples: pl.DataFrame
    members: pl.DataFrame
    comparisons: pl.DataFrame

    def tables(self) -> dict[str, pl.DataFrame]:
        """Name → table, in :data:`TABLES` order."""
        return {name: getattr(self, name) for name in TABLES}

    def card(self, cluster_id: str) -> dict[str, Any]:
        """One cluster's card as plain Python values (JSON-ready); KeyError if not carded."""
        cards = self.to_dicts([cluster_id])
        if not cards:
            raise KeyError(cluster_id)
        return cards[0]

    def to_dicts(self, cluster_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Every card (or those of ``cluster_ids``), in cluster order, as JSON-ready dicts.

        A card is the ``clusters`` row's fields plus, for each other table, a
        list of its rows for that cluster (without the ``cluster_id`` column).
        """
        wanted = (
            pl.col(S.CLUSTER_ID).is_in(
                pl.Series(cluster_ids if cluster_ids is not None else [], dtype=pl.String).implode()
            )
            if cluster_ids is not None
            else pl.lit(True)
        )
        heads = self.clusters.filter(wanted)  # a filter keeps the row order (a join might not)
        parts: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for name, table in self.tables().items():
            if name == "clusters":
                continue
            rows = _json_ready(table.filter(wanted))
            grouped: dict[str, list[dict[str, Any]]] = {}
            for row in rows.to_dicts():
                grouped.setdefault(row.pop(S.CLUSTER_ID), []).append(row)
            parts[name] = grouped
        out = []
        for row in _json_ready(heads).to_dicts():
            cid = row[S.CLUSTER_ID]
            out.append(row | {name: grouped.get(cid, []) for name, grouped in parts.items()})
        return out


def _json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetimes as ISO 8601 UTC strings, dates as ISO dates (JSON and templates need no type logic)."""
    out = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            out.append(pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
        elif dtype == pl.Date:
            out.append(pl.col(name).dt.strftime("%Y-%m-%d"))
        else:
            out.append(pl.col(name))
    return frame.select(out)


# =============================================================================
# Which clusters get a card
# =============================================================================


def carded_clusters(clusters: pl.DataFrame, *, top: int = CardParams.top_clusters) -> pl.DataFrame:
    """``cluster_id, carded_because``: every flagged cluster and the ``top`` best-scored others.

    Ties in score go to the smaller cluster id; the result is sorted by cluster id.

    Examples
    --------
    >>> clusters = pl.DataFrame({"cluster_id": ["op-000001", "op-000002", "op-000003", "op-000004"],
    ...                          "cluster_score": [0.9, 0.5, 0.7, 0.6],
    ...                          "flagged": [True, False, True, False]})
    >>> carded_clusters(clusters, top=1).rows()
    [('op-000001', 'flagged'), ('op-000003', 'flagged'), ('op-000004', 'top')]
    """
    return (
        clusters.select(S.CLUSTER_ID, S.CLUSTER_SCORE, S.FLAGGED)
        .sort([S.CLUSTER_SCORE, S.CLUSTER_ID], descending=[True, False])
        .with_columns((~pl.col(S.FLAGGED)).cum_sum().alias("_rank"))
        .filter(pl.col(S.FLAGGED) | (pl.col("_rank") <= top))
        .select(
            S.CLUSTER_ID,
            pl.when(pl.col(S.FLAGGED))
            .then(pl.lit(FLAGGED_REASON))
            .otherwise(pl.lit(TOP_REASON))
            .alias(CARDED_BECAUSE),
        )
        .sort(S.CLUSTER_ID)
    )
