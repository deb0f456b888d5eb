"""Exchanges of a chunk of accounts, generated vectorised from the roster.

Every random number of an exchange is a counter-based draw keyed by its account
and its ordinal within the account (sessions and IP epochs have their own
counters), so an account's exchanges are the same whatever chunk they fall in.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from acctgraph.core import schema as S
from acctgraph.simulate import dirt
from acctgraph.simulate import vocabulary as V
from acctgraph.simulate.network import Channels, format_ips, resolve
from acctgraph.simulate.prompts import (
    chat_prompts,
    coding_prompts,
    popular_prompts,
    public_prompts,
)
from acctgraph.simulate.randomness import Draws
from acctgraph.simulate.roster import ALWAYS, CRON, MODEL_PROFILES, OFFICE, WAKING, channels
from acctgraph.simulate.world import DAY_US, OFFICE_HOURS, PERSONAL_HOURS, WAKING_HOURS, World

_MODEL_CDF = np.cumsum(MODEL_PROFILES, axis=1)
_MODEL_CDF[:, -1] = 1.0
_MODELS = pl.Series(S.MODEL, V.MODELS, dtype=pl.String)
_SESSION_COUNTER = np.uint64(1 << 40)
_NEEDED = (
    "key",
    S.ACCOUNT_ID,
    "n_exchanges",
    "schedule",
    "tz_offset",
    "session_size",
    "active_start",
    "active_end",
    "s_share",
    "ua_a",
    "ua_b",
    "ua_b_share",
    "model_profile",
    "mix_chat",
    "mix_coding",
    "mix_popular",
    "mix_template",
    "template_set",
    "perturbation",
    "out_mu",
    "out_sigma",
    "ctx_mu",
    *(f"{c}_{f}" for c in "ps" for f in ("kind", "ip4", "v6", "pool", "epoch", "k", "seed")),
)


def _timestamps(a: dict, d: Draws, ds: Draws, within: np.ndarray) -> np.ndarray:
    start, end = a["active_start"], a["active_end"]
    span = np.maximum(end - start, 1)
    schedule = a["schedule"]
    t = start + (d.uniform("t.uniform") * span).astype(np.int64)  # ALWAYS
    cron = schedule == CRON
    if cron.any():  # regular cadence with jitter
        n = np.maximum(a["n"], 1)
        slot = (a["ordinal"] + 0.35 * d.uniform("t.cron")) / n
        t = np.where(cron, start + (slot * span).astype(np.int64), t)
    human = (schedule != ALWAYS) & ~cron
    if human.any():
        tz_us = a["tz_offset"].astype(np.int64) * 60_000_000
        first_local_day = (start + tz_us) // DAY_US
        n_days = np.maximum(span // DAY_US + 1, 1)
        day = first_local_day + ds.integers("t.day", n_days)
        office = schedule == OFFICE
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        shift = np.where(weekday == 5, -1, np.where(weekday == 6, 1, 0))
        day = np.where(office & (ds.uniform("t.weekend") < 0.9), day + shift, day)
        hour = np.where(
            office, ds.choice("t.hour", OFFICE_HOURS), ds.choice("t.hour", PERSONAL_HOURS)
        )
        waking = schedule == WAKING
        if waking.any():
            hour = np.where(waking, ds.choice("t.hour", WAKING_HOURS), hour)
        second = (
            hour * 3600 + ds.integers("t.second", 3600) + within * (30 + d.integers("t.gap", 240))
        )
        local = (
            day * DAY_US + second.astype(np.int64) * 1_000_000 + d.integers("t.micro", 1_000_000)
        )
        t = np.where(human, local - tz_us, t)
    # fold into the active period by whole days, then clip what is left
    t = np.where(t < start, t + DAY_US * ((start - t) // DAY_US + 1), t)
    t = np.where(t > end, t - DAY_US * ((t - end) // DAY_US + 1), t)
    return np.clip(t, start, end)


def _prompts(world: World, a: dict, d: Draws) -> pl.Series:
    u = d.uniform("prompt.kind")
    c1 = a["mix_chat"]
    c2 = c1 + a["mix_coding"]
    c3 = c2 + a["mix_popular"]
    kind = np.where(u < c1, 0, np.where(u < c2, 1, np.where(u < c3, 2, 3)))
    kind = np.where((kind == 3) & (a["template_set"] < 0), 0, kind)
    if world.public_share > 0:  # some chat is a verbatim copy of a public library prompt
        kind = np.where((kind == 0) & (d.uniform("prompt.public") < world.public_share), 4, kind)
    out = pl.Series(S.PROMPT, [None] * len(u), dtype=pl.String)
    order = np.argsort(kind, kind="stable")
    bounds = np.searchsorted(kind[order], [0, 1, 2, 3, 4, 5])
    parts = []
    for k in range(5):
        rows = order[bounds[k] : bounds[k + 1]]
        if len(rows) == 0:
            continue
        sub = d.subset(rows)
        if k == 0:
            text = chat_prompts(sub)
        elif k == 1:
            text = coding_prompts(sub)
        elif k == 2:
            text = popular_prompts(sub)
        elif k == 4:
            text = public_prompts(sub, world.public_library)
        else:
            text = world.templates.render(sub, a["template_set"][rows], a["perturbation"][rows])
        parts.append(text)
    if parts:  # parts follow ``order``; put them back in row order
        out = pl.concat(parts).gather(np.argsort(order, kind="stable")).alias(S.PROMPT)
    return out


def generate(
    world: World,
    chunk: pl.DataFrame,
    user_agents: pl.Series,
    pool_table: tuple[np.ndarray, np.ndarray, np.ndarray],
    counts: dict[str, int],
    per_operator: dict[str, int],
) -> pl.DataFrame:
    """All exchanges of the accounts in ``chunk`` (roster rows), sorted by account and time.

    ``counts`` (dirt per kind) and ``per_operator`` (rows per operator id, ``""`` for
    legitimate accounts) are incremented.
    """
    acct = {c: chunk[c].to_numpy() for c in _NEEDED if c != S.ACCOUNT_ID}
    n_per = acct["n_exchanges"]
    total = int(n_per.sum())
    index = np.repeat(np.arange(len(n_per)), n_per)
    first_row = np.cumsum(n_per) - n_per
    ordinal = np.arange(total, dtype=np.int64) - first_row[index]
    a = {c: v[index] for c, v in acct.items()}
    a["n"] = n_per[index]
    a["ordinal"] = ordinal
    keys = a["key"]
    d = Draws(keys, ordinal.astype(np.uint64))
    session_size = np.maximum(a["session_size"], 1)
    session = ordinal // session_size
    ds = Draws(keys, session.astype(np.uint64) + _SESSION_COUNTER)
    t = _timestamps(a, d, ds, ordinal % session_size)

    use_secondary = ds.uniform("channel") < a["s_share"]
    primary, secondary = channels(a, "p"), channels(a, "s")
    chosen = Channels(
        *(
            np.where(use_secondary, getattr(secondary, f), getattr(primary, f))
            for f in ("kind", "ip4", "v6", "pool", "epoch_s", "k", "seed")
        )
    )
    ips = format_ips(
        *resolve(chosen, account_keys=keys, sessions=session, t_us=t, pool_table=pool_table)
    )

    ua = np.where(ds.uniform("ua") < a["ua_b_share"], a["ua_b"], a["ua_a"])
    model = (d.uniform("model")[:, None] > _MODEL_CDF[a["model_profile"]]).sum(axis=1)
    prompt = _prompts(world, a, d)
    chars = prompt.str.len_chars().to_numpy()
    context = np.where(
        d.uniform("context") < 0.4, 0, np.exp(a["ctx_mu"] + 0.9 * d.normal("context.size"))
    )
    input_tokens = np.ceil(chars / 4 + context).astype(np.int64)
    output_tokens = np.clip(
        np.exp(a["out_mu"] + a["out_sigma"] * d.normal("output")), 1, 32_000
    ).astype(np.int64)

    frame = pl.DataFrame(
        {
            S.ACCOUNT_ID: chunk[S.ACCOUNT_ID].gather(index),
            S.TIMESTAMP: pl.Series(t).cast(S.TIME),
            S.IP: ips,
            S.PROMPT: prompt,
            S.USER_AGENT: user_agents.gather(ua),
            S.MODEL: _MODELS.gather(np.minimum(model, len(V.MODELS) - 1)),
            S.INPUT_TOKENS: pl.Series(input_tokens, dtype=pl.Int64),
            S.OUTPUT_TOKENS: pl.Series(output_tokens, dtype=pl.Int64),
            "_ordinal": ordinal,
            "_operator": chunk[S.OPERATOR_ID].fill_null("").gather(index),
        }
    )
    frame = dirt.exchanges(frame, d, world.spec, counts)
    for op, n in frame["_operator"].value_counts().iter_rows():
        per_operator[op] = per_operator.get(op, 0) + n
    frame = frame.drop("_operator")
    return frame.sort([S.ACCOUNT_ID, S.TIMESTAMP, "_ordinal"], maintain_order=True).drop("_ordinal")
