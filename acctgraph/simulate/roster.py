"""The roster: one row per account with its identity, its truth and how it behaves.

Population builders return frames with the columns of :data:`ROSTER_COLUMNS`
(missing ones take their defaults); :func:`assemble` stacks them, derives ids,
activity periods, signup addresses and exchange counts, and sorts by account id.
The exchange generator reads only the roster.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import polars as pl

from acctgraph.core import schema as S
from acctgraph.simulate.identity import account_ids
from acctgraph.simulate.network import Channels, format_ips, resolve
from acctgraph.simulate.randomness import Draws
from acctgraph.simulate.world import DAY_US, World

# schedules of activity (WAKING: the waking hours of a claimed time zone, nights silent)
PERSONAL, OFFICE, ALWAYS, CRON, WAKING = 0, 1, 2, 3, 4

# model profiles: probabilities over vocabulary.MODELS
MODEL_PROFILES = np.array(
    [
        [0.55, 0.35, 0.07, 0.02, 0.01],  # 0 casual
        [0.15, 0.35, 0.20, 0.10, 0.20],  # 1 developer
        [0.60, 0.30, 0.05, 0.00, 0.05],  # 2 batch jobs
        [0.00, 0.05, 0.45, 0.35, 0.15],  # 3 operator, strongest models
        [0.00, 0.05, 0.35, 0.20, 0.40],  # 4 operator, code model
        [0.05, 0.30, 0.40, 0.20, 0.05],  # 5 power user
    ]
)

_U32, _U64, _I64, _F64, _I32, _I8, _STR = (
    pl.UInt32,
    pl.UInt64,
    pl.Int64,
    pl.Float64,
    pl.Int32,
    pl.Int8,
    pl.String,
)
ROSTER_COLUMNS: dict[str, tuple[type[pl.DataType], object]] = {
    "key": (_U64, None),
    S.KIND: (_STR, None),
    S.OPERATOR_ID: (_STR, None),
    S.CREATED_AT: (_I64, None),
    S.EMAIL: (_STR, None),
    S.PAYMENT_FINGERPRINT: (_STR, None),
    S.DEVICE_ID: (_STR, None),
    S.COUNTRY: (_STR, None),
    S.ORG_ID: (_STR, None),
    S.DISPLAY_NAME: (_STR, None),
    "intensity": (_F64, 1.0),
    "schedule": (_I8, PERSONAL),
    "tz_offset": (_I32, 0),
    "session_size": (_I32, 3),
    "active_start": (_I64, None),
    "active_end": (_I64, None),
    **{f"{c}_kind": (_I8, 0) for c in "ps"},
    **{f"{c}_ip4": (_U32, 0) for c in "ps"},
    **{f"{c}_v6": (_U64, 0) for c in "ps"},
    **{f"{c}_pool": (_I32, 0) for c in "ps"},
    **{f"{c}_epoch": (_F64, 86_400.0) for c in "ps"},
    **{f"{c}_k": (_I32, 1) for c in "ps"},
    **{f"{c}_seed": (_U64, None) for c in "ps"},
    "s_share": (_F64, 0.0),
    "ua_a": (_I32, 0),
    "ua_b": (_I32, 0),
    "ua_b_share": (_F64, 0.0),
    "model_profile": (_I8, 0),
    "mix_chat": (_F64, 1.0),
    "mix_coding": (_F64, 0.0),
    "mix_popular": (_F64, 0.0),
    "mix_template": (_F64, 0.0),
    "template_set": (_I32, -1),
    "perturbation": (_F64, 0.0),
    "out_mu": (_F64, 5.8),
    "out_sigma": (_F64, 0.7),
    "ctx_mu": (_F64, 5.0),
    "fixed_exchanges": (_I64, -1),  # >= 0: this many exchanges, outside the scaled totals
    "team": (_I32, 0),  # an operator's team (Tradecraft.teams); 0 for everyone else
}


def population_frame(n: int, **columns) -> pl.DataFrame:
    """A roster fragment of ``n`` rows; absent columns take their defaults."""
    unknown = set(columns) - set(ROSTER_COLUMNS)
    if unknown:
        raise KeyError(f"unknown roster columns {sorted(unknown)}")
    data = {}
    for name, (dtype, default) in ROSTER_COLUMNS.items():
        value = columns.get(name, default)
        if isinstance(value, pl.Series):
            series = value.alias(name).cast(dtype)
        elif isinstance(value, np.ndarray) and value.dtype == object:
            series = pl.Series(name, value.tolist(), dtype=dtype)
        elif isinstance(value, np.ndarray):
            series = pl.Series(name, value).cast(dtype)
        else:
            series = pl.repeat(value, n, dtype=dtype, eager=True).alias(name)
        if len(series) != n:
            raise ValueError(f"roster column {name} has {len(series)} rows, expected {n}")
        data[name] = series
    frame = pl.DataFrame(data)
    return frame.with_columns(
        pl.col("p_seed").fill_null(pl.col("key")), pl.col("s_seed").fill_null(pl.col("key"))
    )


def channels(frame: pl.DataFrame | dict, which: str) -> Channels:
    """The primary (``"p"``) or secondary (``"s"``) channel columns as arrays."""
    get = (lambda c: frame[c].to_numpy()) if isinstance(frame, pl.DataFrame) else frame.__getitem__
    return Channels(
        kind=get(f"{which}_kind"),
        ip4=get(f"{which}_ip4"),
        v6=get(f"{which}_v6"),
        pool=get(f"{which}_pool"),
        epoch_s=get(f"{which}_epoch"),
        k=get(f"{which}_k"),
        seed=get(f"{which}_seed"),
    )


def _scale_counts(intensity: np.ndarray, draws: Draws, target_total: float) -> np.ndarray:
    total = intensity.sum()
    if total <= 0:
        return np.zeros(len(intensity), dtype=np.int64)
    scaled = intensity * (target_total / total)
    return np.floor(scaled + draws.uniform("count")).astype(np.int64)


def assemble(world: World, fragments: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack population fragments into the roster, sorted by account id."""
    spec = world.spec
    roster = pl.concat(fragments, how="vertical")
    keys = roster["key"].to_numpy()
    if len(np.unique(keys)) != len(keys):  # 1 in 10^7 at a million accounts: fix deterministically
        keys = keys ^ np.arange(len(keys), dtype=np.uint64)
        roster = roster.with_columns(pl.Series("key", keys))
    roster = roster.with_columns(account_ids(keys).alias(S.ACCOUNT_ID))
    roster = roster.with_columns(
        pl.max_horizontal(
            pl.col("active_start").fill_null(world.start_us),
            pl.col(S.CREATED_AT) + 60_000_000,
            pl.lit(world.start_us),
        )
        .clip(upper_bound=world.end_us - 3_600_000_000)
        .alias("active_start"),
        pl.col("active_end")
        .fill_null(world.end_us)
        .clip(upper_bound=world.end_us)
        .alias("active_end"),
    ).with_columns(
        pl.max_horizontal("active_end", pl.col("active_start") + 3_600_000_000).alias("active_end")
    )
    # exchange counts: intensities scaled to the spec's totals, weighted by time active
    window = world.end_us - world.start_us
    active = ((roster["active_end"] - roster["active_start"]).to_numpy() / window).clip(0.02, 1.0)
    intensity = roster["intensity"].to_numpy() * active
    # accounts with a count of their own (operators of legit_like volume) stay outside both totals
    fixed_counts = roster["fixed_exchanges"].to_numpy()
    fixed = fixed_counts >= 0
    operated = roster[S.OPERATOR_ID].is_not_null().to_numpy()
    legit = ~operated
    fraud = operated & ~fixed
    counts = np.zeros(len(keys), dtype=np.int64)
    counts[fixed] = fixed_counts[fixed]
    n_legit = int(legit.sum())
    n_fraud = int(fraud.sum())
    counts[legit] = _scale_counts(
        intensity[legit],
        Draws(keys[legit], np.full(n_legit, 1 << 62, dtype=np.uint64)),
        spec.legit_exchanges_per_account * n_legit,
    )
    counts[fraud] = _scale_counts(
        intensity[fraud],
        Draws(keys[fraud], np.full(n_fraud, 1 << 62, dtype=np.uint64)),
        spec.fraud_exchanges_per_account * n_fraud,
    )
    roster = roster.with_columns(pl.Series("n_exchanges", counts))
    # signup address: the primary channel at creation time
    created = roster[S.CREATED_AT].to_numpy()
    ips = resolve(
        channels(roster, "p"),
        account_keys=keys,
        sessions=np.full(len(keys), 1 << 40, dtype=np.uint64),
        t_us=created,
        pool_table=world.network.pool_table(),
        salt=".signup",
    )
    roster = roster.with_columns(format_ips(*ips).alias(S.SIGNUP_IP))
    roster = _unique_mailboxes(roster.sort(S.ACCOUNT_ID))
    return roster


def day_start(t_us: np.ndarray) -> np.ndarray:
    """Midnight UTC of each instant."""
    return (t_us // DAY_US) * DAY_US


def _unique_mailboxes(roster: pl.DataFrame, rounds: int = 5) -> pl.DataFrame:
    """One inbox, one owner: a provider never hands out the same mailbox to two people.

    The mailbox is the address under the providers' own rules (case, Gmail's dots,
    ``+tags`` where the provider supports them: :func:`acctgraph.features.email.email_table`).
    Accounts of one owner (an operator, or a single legitimate account) may share a
    mailbox on purpose, e.g. an operator's dot and ``+tag`` variants of one Gmail inbox.
    When owners collide, the owner of the lowest account id keeps the mailbox; each
    other owner gets a number in the local part *before* any ``+tag`` (after it, the
    provider would drop it again), the same number for all of that owner's accounts.
    Repeated until no mailbox has two owners (a renamed address can, rarely, hit another).

    >>> r = pl.DataFrame({"account_id": ["a1", "a2", "a3", "a4"], "operator_id": [None, None, "op1", "op1"],
    ...                   "email": ["jo.ann@gmail.com", "joann+x@gmail.com", "j.oann@gmail.com", "joann+y@gmail.com"]})
    >>> _unique_mailboxes(r)["email"].to_list()
    ['jo.ann@gmail.com', 'joann.1+x@gmail.com', 'j.oann.2@gmail.com', 'joann.2+y@gmail.com']
    """
    from acctgraph.features.email import email_table  # the providers' rules, shared with the loader

    owner = pl.coalesce(pl.col(S.OPERATOR_ID), pl.col(S.ACCOUNT_ID))
    for _ in range(rounds):
        mailbox = email_table(roster[S.EMAIL]).select(
            S.EMAIL, pl.col("email_normalised").alias("_mailbox")
        )
        keyed = roster.select(S.ACCOUNT_ID, S.EMAIL, owner.alias("_owner")).join(
            mailbox, on=S.EMAIL, how="left"
        )
        # Owners of each mailbox in order of their first account; (mailbox, owner) pairs are
        # unique here, so a position after sorting is a dense rank.
        owners = (
            keyed.drop_nulls("_mailbox")
            .group_by("_mailbox", "_owner")
            .agg(pl.col(S.ACCOUNT_ID).min().alias("_first"))
            .sort("_mailbox", "_first")
            .with_columns(pl.int_range(pl.len()).over("_mailbox").alias("_rank"))
        )
        rank = keyed.join(owners, on=["_mailbox", "_owner"], how="left", maintain_order="left")[
            "_rank"
        ].fill_null(0)
        highest = cast("int | None", rank.max())  # an integer column; None when it is empty
        if not highest:
            return roster
        parts = pl.col(S.EMAIL).str.extract_groups(r"^([^+@]*)([^@]*)@(.*)$")
        renamed = pl.concat_str(
            [
                parts.struct.field("1"),
                pl.lit("."),
                pl.col("_rank").cast(pl.String),
                parts.struct.field("2"),
                pl.lit("@"),
                parts.struct.field("3"),
            ]
        )
        roster = (
            roster.with_columns(rank.alias("_rank"))
            .with_columns(
                pl.when(pl.col("_rank") > 0)
                .then(pl.coalesce(renamed, pl.col(S.EMAIL)))
                .otherwise(pl.col(S.EMAIL))
                .alias(S.EMAIL)
            )
            .drop("_rank")
        )
    raise AssertionError("mailboxes still shared after renaming; please report")  # pragma: no cover
