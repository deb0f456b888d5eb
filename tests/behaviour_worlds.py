"""Small behaviour worlds for the split and merge tests: operators whose accounts keep
their hours, volume, capability mix, address style, cards and prompt templates."""

from __future__ import annotations

import numpy as np
import polars as pl

from acctgraph.core.diagnostics import WarningLog
from acctgraph.features.base import Usage

NIGHT_AND_DAY = list(range(24))
OFFICE = list(range(13, 19))


def operator_accounts(rng, prefix, n, *, hours, exchanges, mix, shape, teams=0, card_prefix=None):
    """``n`` accounts of one operator: its hours, volume, capability mix and address style.

    With ``teams``, accounts are cut into that many teams that each share a card."""
    rows = []
    for i in range(n):
        a = f"{prefix}_{i:03d}"
        volume = int(rng.poisson(exchanges)) + 2
        counts = rng.multinomial(volume, np.full(len(hours), 1 / len(hours)))
        card = f"{card_prefix or prefix}_card{i % teams}" if teams else None
        rows.append((a, volume, dict(zip(hours, counts.tolist(), strict=True)), mix, shape, card))
    return rows


def activity_frame(rows) -> pl.DataFrame:
    """``Usage.activity`` from ``(account_id, n_exchanges, n_coding, n_agentic, n_reasoning,
    n_other)`` rows."""
    columns = ("n_exchanges", "n_coding", "n_agentic", "n_reasoning", "n_other")
    return pl.DataFrame(
        rows, schema={"account_id": pl.String, **dict.fromkeys(columns, pl.UInt32)}, orient="row"
    )


def hours_frame(rows) -> pl.DataFrame:
    """``Usage.hours`` from ``(account_id, hour, n_events)`` rows."""
    return pl.DataFrame(
        rows,
        schema={"account_id": pl.String, "hour": pl.Int8, "n_events": pl.UInt32},
        orient="row",
    )


def world(
    rows, templates: dict[str, dict[str, float]] | None = None
) -> tuple[list[str], pl.DataFrame, Usage]:
    """Account ids, the attribute table (each card a ``payment`` value; with ``templates``,
    ``prompt_template`` rows: for an account whose id starts with ``prefix_``, each
    template of ``templates[prefix]`` with that share of its exchanges) and the usage."""
    ids = [r[0] for r in rows]
    hours = [(a, h, n) for a, _, by_hour, *_ in rows for h, n in by_hour.items() if n]
    activity = [(a, v, *(round(v * m) for m in mix)) for a, v, _, mix, _, _ in rows]
    emails = [(a, f"{a}@x", f"{a}@x", "x", shape) for a, _, _, _, shape, _ in rows]
    cards = [(a, "payment", card) for a, *_, card in rows if card]
    usage = Usage(
        accounts=pl.DataFrame({"account_id": ids}),
        emails=pl.DataFrame(
            emails,
            schema=["account_id", "email", "email_normalised", "email_domain", "email_shape"],
            orient="row",
        ),
        ip_usage=pl.DataFrame(),
        templates=pl.DataFrame(),
        co_activity=pl.DataFrame(),
        activity=activity_frame(activity),
        hours=hours_frame(hours),
        daily=pl.DataFrame(),
        warnings=WarningLog(),
    )
    prompts = [
        (a, "prompt_template", template, max(1, round(volume * share)))
        for a, volume, *_ in rows
        for template, share in (templates or {}).get(a.split("_")[0], {}).items()
    ]
    attributes = pl.DataFrame(
        [(*card, 1) for card in cards] + prompts,
        schema={
            "account_id": pl.String,
            "attribute_kind": pl.String,
            "value": pl.String,
            "n_events": pl.UInt32,
        },
        orient="row",
    ).with_columns(pl.col("attribute_kind", "value").cast(pl.Categorical))
    return ids, attributes, usage
