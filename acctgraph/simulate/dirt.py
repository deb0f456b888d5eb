"""Dirt: the malformed, missing, duplicated and hostile data real exports contain.

Every decision is drawn per account or per exchange from counter-based draws, so
the dirt an account receives does not depend on the rest of the world. Counts of
each kind are returned for the generated README.

``HOSTILE_STRINGS`` is the attacker-controlled payload list; escaping tests in the
report layer reuse it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from acctgraph.core import schema as S
from acctgraph.simulate.network import MALFORMED_IPS, PRIVATE_IPS
from acctgraph.simulate.randomness import Draws

HOSTILE_STRINGS: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</script><script>alert(document.domain)</script>",
    'see <a href="javascript:alert(1)">my profile</a>',
    "click href=javascript:alert(1) for details",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "=1+1",
    "\tleading tab name",
    "\u202eevil\u202c reversed",
    "\u2066isolate\u2069 text",
    "line one\nline two\r\nline three",
    "'; DROP TABLE accounts; --",
    "null",
    "\u0000nul byte",
    "\ufeffbom name",
    ("very long name " * 334)[:4_996] + "end.",
)
"""Attacker-controlled strings planted in display names and prompts."""

BAD_CREATED_AT = (
    "2025-13-45T99:00:00Z",
    "yesterday",
    "0000-00-00 00:00:00",
    "31/02/2025 25:61",
    "2025-06-31",
    "NaN",
    "1e12",
    "2025-04-01T12:00:00+25:00",
)

DIRT_KINDS = (
    "malformed_ip",
    "private_ip",
    "missing_value",
    "messy_email",
    "gmail_dots_plus",
    "duplicate_exchange",
    "account_only_in_exchanges",
    "bad_created_at",
    "hostile_display_name",
    "hostile_prompt",
)
"""Every kind of dirt the simulator plants (keys of the README's dirt table)."""

ACCOUNT_OPTIONAL = (
    S.EMAIL,
    S.PAYMENT_FINGERPRINT,
    S.SIGNUP_IP,
    S.DEVICE_ID,
    S.COUNTRY,
    S.ORG_ID,
    S.DISPLAY_NAME,
    S.CREATED_AT,
)
EXCHANGE_OPTIONAL = (S.IP, S.PROMPT, S.USER_AGENT, S.MODEL, S.INPUT_TOKENS, S.OUTPUT_TOKENS)


def _pick(values: tuple[str, ...], d: Draws, field: str) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(d.integers(field, len(values)))


def _with_some(series: pl.Series, mask: np.ndarray, replacement: pl.Series) -> pl.Series:
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return series
    return series.scatter(rows, replacement.gather(rows))


def dirty_ips(ips: pl.Series, d: Draws, spec, counts: dict[str, int], prefix: str) -> pl.Series:
    """Replace a few addresses with malformed or private/reserved ones."""
    malformed = d.uniform(prefix + ".malformed") < spec.malformed_ip_share
    private = ~malformed & (d.uniform(prefix + ".private") < spec.private_ip_share)
    counts["malformed_ip"] += int(malformed.sum())
    counts["private_ip"] += int(private.sum())
    ips = _with_some(ips, malformed, _pick(MALFORMED_IPS, d, prefix + ".malformed.which"))
    return _with_some(ips, private, _pick(PRIVATE_IPS, d, prefix + ".private.which"))


def accounts(roster: pl.DataFrame, spec, counts: dict[str, int]) -> pl.DataFrame:
    """The accounts table as written: created_at as ISO text, dirt planted, some accounts dropped."""
    keys = roster["key"].to_numpy()
    d = Draws(keys, np.full(len(keys), 1 << 61, dtype=np.uint64))
    created = roster[S.CREATED_AT].cast(S.TIME).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    bad = d.uniform("bad_created_at") < spec.bad_created_at_share
    counts["bad_created_at"] += int(bad.sum())
    created = _with_some(created, bad, _pick(BAD_CREATED_AT, d, "bad_created_at.which"))

    email = roster[S.EMAIL]
    messy = (d.uniform("messy_email") < spec.messy_email_share) & email.is_not_null().to_numpy()
    counts["messy_email"] += int(messy.sum())
    style = d.integers("messy_email.style", 4)
    frame = pl.DataFrame({"e": email, "s": style})
    e = pl.col("e")
    messed = frame.select(
        pl.when(pl.col("s") == 0)
        .then(e.str.to_uppercase())
        .when(pl.col("s") == 1)
        .then(pl.concat_str([pl.lit(" "), e, pl.lit(" ")]))
        .when(pl.col("s") == 2)
        .then(pl.concat_str([e.str.slice(0, 1).str.to_uppercase(), e.str.slice(1), pl.lit("\t")]))
        .otherwise(pl.concat_str([e.str.to_titlecase(), pl.lit("  ")]))
    ).to_series()
    email = _with_some(email, messy, messed)
    counts["gmail_dots_plus"] += int(
        roster.select(
            pl.col(S.EMAIL).str.ends_with("@gmail.com")
            & (
                pl.col(S.EMAIL).str.contains("+", literal=True)
                | pl.col(S.EMAIL).str.split("@").list.first().str.contains(".", literal=True)
            )
        )
        .to_series()
        .sum()
    )

    hostile = d.uniform("hostile_display_name") < spec.hostile_display_name_share
    counts["hostile_display_name"] += int(hostile.sum())
    shown = _with_some(
        roster[S.DISPLAY_NAME], hostile, _pick(HOSTILE_STRINGS, d, "hostile_display_name.which")
    )
    signup_ip = dirty_ips(roster[S.SIGNUP_IP], d, spec, counts, "signup_ip")

    table = pl.DataFrame(
        {
            S.ACCOUNT_ID: roster[S.ACCOUNT_ID],
            S.CREATED_AT: created,
            S.EMAIL: email,
            S.PAYMENT_FINGERPRINT: roster[S.PAYMENT_FINGERPRINT],
            S.SIGNUP_IP: signup_ip,
            S.DEVICE_ID: roster[S.DEVICE_ID],
            S.COUNTRY: roster[S.COUNTRY],
            S.ORG_ID: roster[S.ORG_ID],
            S.DISPLAY_NAME: shown,
        }
    )
    missing = 0
    for column in ACCOUNT_OPTIONAL:
        blank = d.uniform("missing." + column) < spec.missing_value_share
        missing += int(blank.sum())
        table = table.with_columns(
            pl.when(pl.Series(blank)).then(None).otherwise(pl.col(column)).alias(column)
        )
    counts["missing_value"] += missing

    # accounts seen only in exchanges: chosen among accounts that send something
    active = roster["n_exchanges"].to_numpy() > 0
    share = spec.dropped_account_share / max(active.mean(), 1e-9)
    dropped = active & (d.uniform("dropped") < share)
    counts["account_only_in_exchanges"] += int(dropped.sum())
    return table.filter(pl.Series(~dropped))


def exchanges(frame: pl.DataFrame, d: Draws, spec, counts: dict[str, int]) -> pl.DataFrame:
    """Plant hostile prompts, bad addresses, missing values and duplicate rows in a chunk."""
    hostile = d.uniform("hostile_prompt") < spec.hostile_prompt_share
    counts["hostile_prompt"] += int(hostile.sum())
    payload = _pick(HOSTILE_STRINGS, d, "hostile_prompt.which")
    appended = (
        pl.DataFrame({"p": frame[S.PROMPT], "h": payload})
        .select(pl.concat_str(["p", pl.lit(" "), "h"]))
        .to_series()
    )
    whole = d.uniform("hostile_prompt.whole") < 0.5
    prompt = _with_some(frame[S.PROMPT], hostile & whole, payload)
    prompt = _with_some(prompt, hostile & ~whole, appended)
    frame = frame.with_columns(
        prompt.alias(S.PROMPT), dirty_ips(frame[S.IP], d, spec, counts, "ip").alias(S.IP)
    )
    blanks = {c: d.uniform("missing." + c) < spec.missing_value_share for c in EXCHANGE_OPTIONAL}
    counts["missing_value"] += int(sum(int(b.sum()) for b in blanks.values()))
    frame = frame.with_columns(
        pl.when(pl.Series(mask)).then(None).otherwise(pl.col(c)).alias(c)
        for c, mask in blanks.items()
    )
    duplicate = d.uniform("duplicate") < spec.duplicate_exchange_share
    counts["duplicate_exchange"] += int(duplicate.sum())
    return pl.concat([frame, frame.filter(pl.Series(duplicate))])
