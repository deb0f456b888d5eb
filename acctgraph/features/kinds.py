"""The attribute kinds: small declarative classes, one per kind of shared value.

Every kind turns the validated inputs into rows of the long attribute table
``(account_id, attribute_kind, value, n_events)``. Each has

- ``enabled``: switch the kind off entirely;
- ``weight``: how much one shared value of this kind is worth as evidence
  (before the graph layer discounts it by how many accounts share it);
- ``hub_cap``: values held by more accounts than this are hubs: linked
  sparsely rather than as a clique, and dropped when also held by more than
  :attr:`GraphParams.drop_share <acctgraph.graph.GraphParams>` of the accounts
  that have the kind (a carrier's NAT range, a popular phrasing); see
  :mod:`acctgraph.graph.build`. What was capped is listed in the run folder
  (``graph/hubs.parquet``, summarised in ``run.json``);
- ``similarity``: how two holders of values of this kind are compared.
  ``"shared"`` (identity kinds: a card, a device, a mailbox): each shared value
  adds ``weight / (holders - 1) ** alpha``. ``"cosine"`` (kinds with many
  values per account: IP addresses, templates, co-activity windows): the pair adds
  ``weight × cosine`` of the two accounts' TF-IDF profiles, so two accounts
  link in proportion to how much of their behaviour overlaps, not to how many
  values they happen to share;
- ``alpha`` (shared kinds): how fast a value's pair weight falls with the
  number of holders (``weight / (holders - 1) ** alpha``; None = the graph's
  default). Sharing a card or a mailbox is rarely coincidental, so they fall
  slowly; stock device fingerprints are shared by strangers, so they do not;
- ``infrastructure``: addresses, ranges and co-activity are infrastructure.
  Families, offices, VPN customers and cloud tenants share it honestly, so
  the graph layer lets infrastructure only *corroborate* other evidence (see
  :class:`~acctgraph.graph.GraphParams`).

Kinds read from :class:`~acctgraph.features.base.Usage`: the per-account
aggregates that :func:`~acctgraph.features.reduce.compute_usage` computes in
one streaming pass over the exchanges, and the accounts table it carries; none
of them touches raw exchanges again.

Examples
--------
>>> IpRange(weight=0.3).kind
'ip_range'
>>> PromptTemplate(band_words=6).band_words
6
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features import email as email_rules
from acctgraph.features import ip as ip_rules
from acctgraph.features.base import LONG, Feature, Usage, long_rows
from acctgraph.features.prompt import template_band_columns, template_bands


@dataclass(frozen=True, kw_only=True)
class AccountColumn(Feature):
    """A value taken as is from a column of the accounts table (trimmed, empty = missing)."""

    column: ClassVar[str] = ""

    def source_column(self) -> str:
        return self.column

    def values(self, usage: Usage) -> pl.LazyFrame:
        col = self.source_column()
        if col not in usage.accounts.columns:
            return long_rows(pl.DataFrame(schema={c: pl.String for c in LONG}))
        return long_rows(
            usage.accounts.lazy()
            .select(S.ACCOUNT_ID, pl.col(col).cast(pl.String).str.strip_chars().alias(S.VALUE))
            .filter(pl.col(S.VALUE).is_not_null() & (pl.col(S.VALUE) != ""))
            .with_columns(pl.lit(1).alias(S.N_EVENTS))
        )


@dataclass(frozen=True, kw_only=True)
class Payment(AccountColumn):
    """The opaque payment fingerprint: a card or wallet used by several accounts."""

    kind: ClassVar[str] = "payment"
    column: ClassVar[str] = S.PAYMENT_FINGERPRINT
    weight: float = 1.0
    hub_cap: int = 300
    alpha: float | None = 0.25


@dataclass(frozen=True, kw_only=True)
class Device(AccountColumn):
    """The client device fingerprint recorded at signup."""

    kind: ClassVar[str] = "device"
    column: ClassVar[str] = S.DEVICE_ID
    weight: float = 0.8
    hub_cap: int = 50


@dataclass(frozen=True, kw_only=True)
class ExactIp(Feature):
    """A global IP address seen at signup or on an exchange.

    Malformed and non-global addresses are excluded and counted in the warnings.
    """

    kind: ClassVar[str] = "ip"
    infrastructure: ClassVar[bool] = True
    similarity: ClassVar[str] = "cosine"
    weight: float = 1.0
    hub_cap: int = 40

    def values(self, usage: Usage) -> pl.LazyFrame:
        return long_rows(
            usage.ip_usage.lazy()
            .select(S.ACCOUNT_ID, pl.col(S.IP).alias(S.VALUE), S.N_EVENTS)
            .drop_nulls(S.VALUE)
            .group_by(S.ACCOUNT_ID, S.VALUE)
            .agg(pl.col(S.N_EVENTS).sum())
        )


@dataclass(frozen=True, kw_only=True)
class IpRange(Feature):
    """The network holding an address: IPv4 /24, IPv6 /64 and (as a wider value) /48."""

    kind: ClassVar[str] = "ip_range"
    infrastructure: ClassVar[bool] = True
    weight: float = 0.25
    hub_cap: int = 40
    include_v6_48: bool = True

    def values(self, usage: Usage) -> pl.LazyFrame:
        ranges = [pl.col(ip_rules.IP_RANGE)]
        if self.include_v6_48:
            ranges.append(pl.col(ip_rules.IP_RANGE_WIDE))
        frame = (
            usage.ip_usage.lazy()
            .select(S.ACCOUNT_ID, pl.concat_list(ranges).alias(S.VALUE), S.N_EVENTS)
            .explode(S.VALUE)
            .drop_nulls(S.VALUE)
        )
        return long_rows(frame.group_by(S.ACCOUNT_ID, S.VALUE).agg(pl.col(S.N_EVENTS).sum()))


@dataclass(frozen=True, kw_only=True)
class EmailPart(Feature):
    """A part of the email address, read from :attr:`Usage.emails` column ``part``."""

    part: ClassVar[str] = ""
    excluded: ClassVar[frozenset[str]] = frozenset()

    def values(self, usage: Usage) -> pl.LazyFrame:
        return long_rows(
            usage.emails.lazy()
            .select(S.ACCOUNT_ID, pl.col(self.part).alias(S.VALUE), pl.lit(1).alias(S.N_EVENTS))
            .filter(pl.col(S.VALUE).is_not_null() & ~pl.col(S.VALUE).is_in(sorted(self.excluded)))
        )


@dataclass(frozen=True, kw_only=True)
class Email(EmailPart):
    """The normalised address (trim, case, Gmail dots, plus tags): one mailbox, several accounts."""

    kind: ClassVar[str] = "email"
    part: ClassVar[str] = "email_normalised"
    weight: float = 1.0
    hub_cap: int = 40
    alpha: float | None = 0.0


@dataclass(frozen=True, kw_only=True)
class EmailDomain(EmailPart):
    """The email domain; large free-mail providers carry no linking weight and are skipped."""

    kind: ClassVar[str] = "email_domain"
    part: ClassVar[str] = "email_domain"
    excluded: ClassVar[frozenset[str]] = email_rules.FREE_MAIL_DOMAINS
    weight: float = 0.3
    hub_cap: int = 40


@dataclass(frozen=True, kw_only=True)
class EmailShape(EmailPart):
    """Local-part shape with its domain (``a6d4@gmail.com``): generated address patterns."""

    kind: ClassVar[str] = "email_shape"
    part: ClassVar[str] = "email_shape"
    weight: float = 0.15
    hub_cap: int = 40


@dataclass(frozen=True, kw_only=True)
class PromptTemplate(Feature):
    """Template bands of prompts (see :mod:`acctgraph.features.prompt`).

    Compared by cosine similarity of TF-IDF profiles: every band an account
    sent counts (one-off chats included, so that a person whose traffic is
    diverse is not tied to another by one popular phrasing). A profile is
    estimated from a sample of about ``max_per_account`` of the account's
    exchanges (each kept with probability ``max_per_account / n_exchanges``;
    all of them when the account has no more than that), picked by a hash of
    (account, timestamp) seeded with ``sample_seed``: a scripted account's
    template mix is clear from a few dozen prompts, and this bounds the
    costliest text work to about ``accounts × max_per_account`` rows. The same
    sample gives the capability mix (see :mod:`acctgraph.features.reduce`).

    ``max_chars``, ``min_word``, ``band_words`` and ``n_bands`` are the
    arguments of :func:`acctgraph.features.prompt.template_bands`;
    ``capability_chars`` is how much of each sampled prompt
    :func:`acctgraph.features.prompt.capability` reads to classify it.
    """

    kind: ClassVar[str] = "prompt_template"
    similarity: ClassVar[str] = "cosine"
    weight: float = 1.5
    hub_cap: int = 40
    max_chars: int = 160
    min_word: int = 3
    band_words: int = 8
    n_bands: int = 2
    max_per_account: int = 256
    sample_seed: int = 17
    capability_chars: int = 400

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.capability_chars < 1:
            raise ConfigError(
                f"{self.kind}.capability_chars must be at least 1, got {self.capability_chars}"
            )
        if self.max_per_account < 1:
            raise ConfigError(
                f"{self.kind}.max_per_account must be at least 1, got {self.max_per_account}"
            )
        if not 0 <= self.sample_seed < 2**64:
            raise ConfigError(
                f"{self.kind}.sample_seed must be in [0, 2**64), got {self.sample_seed}"
            )

    def values(self, usage: Usage) -> pl.LazyFrame:
        return long_rows(usage.templates.lazy())

    def bands(self, column: str = S.PROMPT) -> pl.Expr:
        """The template bands of ``column``'s prompts under these parameters (a list per row)."""
        return template_bands(column, **self._band_settings())

    def band_columns(self, column: str = S.PROMPT) -> list[pl.Expr]:
        """:meth:`bands` as one expression per band (``_band0`` …; null where absent)."""
        return template_band_columns(column, **self._band_settings())

    def _band_settings(self) -> dict[str, int]:
        return {
            "max_chars": self.max_chars,
            "min_word": self.min_word,
            "band_words": self.band_words,
            "n_bands": self.n_bands,
        }


@dataclass(frozen=True, kw_only=True)
class SignupBurst(Feature):
    """Accounts created in the same time window, kept only where the window is a burst.

    A window is a burst when it holds at least ``min_accounts`` signups and at
    least ``min_ratio`` times its day's baseline: the median signups over the
    day's windows that have any (both grids together), or 1 on a quiet day,
    when fewer than half a day's worth of windows have a signup. Two staggered
    grids (offset by half a window) catch bursts across a boundary. The value is
    the window's start and length (``2026-05-01T10:30/30m``), without the grid.
    """

    kind: ClassVar[str] = "signup_burst"
    weight: float = 0.3
    hub_cap: int = 40
    window_minutes: int = 30
    min_accounts: int = 5
    min_ratio: float = 5.0

    def values(self, usage: Usage) -> pl.LazyFrame:
        created = usage.accounts.lazy().select(S.ACCOUNT_ID, S.CREATED_AT).drop_nulls(S.CREATED_AT)
        window = f"{self.window_minutes}m"
        half = self.window_minutes * 30  # seconds
        frames = []
        for grid, offset in (("a", 0), ("b", half)):
            bucket = (pl.col(S.CREATED_AT) + pl.duration(seconds=offset)).dt.truncate(window)
            frames.append(
                created.select(
                    S.ACCOUNT_ID,
                    (pl.lit(grid + ":") + bucket.dt.strftime("%Y-%m-%dT%H:%M")).alias(S.VALUE),
                    bucket.dt.date().alias("_day"),
                )
            )
        frame = pl.concat(frames)
        counts = frame.group_by(S.VALUE, "_day").agg(pl.len().alias("_n"))
        per_day = counts.group_by("_day").agg(pl.col("_n").median().alias("_median"))
        # Only windows with a signup are counted; on a quiet day their median would overstate
        # the baseline, so it is 1 there.
        windows_per_day = 24 * 60 / self.window_minutes
        per_day = per_day.join(
            counts.group_by("_day").agg(pl.len().alias("_k")), on="_day"
        ).with_columns(
            pl.when(pl.col("_k") < windows_per_day / 2)
            .then(pl.lit(1.0))
            .otherwise(pl.col("_median"))
            .alias("_median")
        )
        bursts = (
            counts.join(per_day, on="_day")
            .filter(
                (pl.col("_n") >= self.min_accounts)
                & (pl.col("_n") >= self.min_ratio * pl.col("_median"))
            )
            .select(S.VALUE)
        )
        return long_rows(
            frame.join(bursts, on=S.VALUE, how="semi")
            .select(
                S.ACCOUNT_ID,
                pl.concat_str([pl.col(S.VALUE).str.slice(2), pl.lit("/"), pl.lit(window)]).alias(
                    S.VALUE
                ),
                pl.lit(1).alias(S.N_EVENTS),
            )
            .unique([S.ACCOUNT_ID, S.VALUE])
        )


@dataclass(frozen=True, kw_only=True)
class CoActivity(Feature):
    """Active from the same IP range in the same time window.

    Value: ``ip_range@window-start``, from exchange addresses only, in windows
    of ``window_hours`` hours (computed by :func:`~acctgraph.features.reduce.compute_usage`);
    ``n_events`` counts the account's exchanges there. Operators running many
    accounts through one proxy pool share many such windows; neighbours behind a
    carrier's NAT share windows too, but those values are hubs and are capped.
    """

    kind: ClassVar[str] = "co_activity"
    infrastructure: ClassVar[bool] = True
    similarity: ClassVar[str] = "cosine"
    weight: float = 1.0
    hub_cap: int = 40
    window_hours: int = 6

    def describe(self) -> str:
        return f"co-activity (same IP range within {self.window_hours}h), corroborates"

    def values(self, usage: Usage) -> pl.LazyFrame:
        return long_rows(usage.co_activity.lazy())


DEFAULT_FEATURES: tuple[type[Feature], ...] = (
    Payment,
    Device,
    ExactIp,
    IpRange,
    Email,
    EmailDomain,
    EmailShape,
    PromptTemplate,
    SignupBurst,
    CoActivity,
)
