"""Putting a world together: infrastructure, populations, roster, exchange chunks, labels."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.simulate import dirt
from acctgraph.simulate.exchanges import generate as generate_exchanges
from acctgraph.simulate.legit import BUILDERS
from acctgraph.simulate.operators import operator, operator_id, operator_sizes
from acctgraph.simulate.prompts import public_library
from acctgraph.simulate.randomness import stream
from acctgraph.simulate.roster import assemble
from acctgraph.simulate.spec import PRESETS, WorldSpec
from acctgraph.simulate.world import World, build_world, user_agent_series

TRADECRAFT = "tradecraft"
"""The column of labels.csv holding each operator's tradecraft (``tradecraft_in_labels``)."""


def resolve_spec(spec: WorldSpec | str, scale: float = 1.0) -> WorldSpec:
    """A spec, or the preset of that name, at ``scale`` times its accounts."""
    if isinstance(spec, WorldSpec):
        return spec.scaled(scale)
    if spec in PRESETS:
        return PRESETS[spec].scaled(scale)
    raise ConfigError(f"unknown world preset {spec!r}; expected one of {sorted(PRESETS)}")


def legit_counts(spec: WorldSpec) -> dict[str, int]:
    """Accounts per legitimate kind (rounding remainder to individuals)."""
    n = spec.n_accounts - spec.n_fraud_accounts
    shares = {
        "individual": spec.individual_share,
        "family": spec.family_share,
        "organisation": spec.organisation_share,
        "automation": spec.automation_share,
        "developer": spec.developer_share,
    }
    counts = {k: round(n * v) for k, v in shares.items()}
    counts["individual"] += n - sum(counts.values())
    return counts


def build_roster(spec: WorldSpec, seed: int) -> tuple[World, pl.DataFrame, list[dict]]:
    """The world, its roster (one row per account, sorted by id) and its operators."""
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    world = build_world(spec, seed)
    crafts = spec.operator_tradecrafts(seed)
    if any(craft.templates == "public" for craft in crafts):
        texts, focuses = public_library(stream(seed, "public_library"))
        world.public_library = pl.Series("prompt", texts, dtype=pl.String)
        world.public_focuses = focuses
        world.public_share = spec.public_prompt_share
    fragments = []
    for kind, n in legit_counts(spec).items():
        if n > 0:
            fragments.append(BUILDERS[kind](world, stream(seed, kind), n))
    operators = []
    for i, size in enumerate(operator_sizes(spec, stream(seed, "operators"))):
        craft = crafts[i]
        op = operator_id(i)
        fragments.append(operator(world, stream(seed, op), size, i, craft))
        operators.append(
            {
                "operator_id": op,
                "tradecraft": craft.describe(),
                "n_accounts": size,
                "tradecraft_label": craft.label(spec),
            }
        )
    return world, assemble(world, fragments), operators


def chunk_bounds(counts: np.ndarray, target: int) -> list[tuple[int, int]]:
    """Consecutive account ranges holding about ``target`` exchanges each."""
    bounds = []
    cumulative = np.cumsum(counts)
    start = 0
    while start < len(counts):
        before = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, before + target, side="left")) + 1
        stop = min(max(stop, start + 1), len(counts))
        bounds.append((start, stop))
        start = stop
    return bounds


def exchange_chunks(
    world: World, roster: pl.DataFrame, counts: dict[str, int], per_operator: dict[str, int]
) -> Iterator[pl.DataFrame]:
    """Exchange frames for consecutive account ranges, in account-id order."""
    user_agents = user_agent_series(world)
    pool_table = world.network.pool_table()
    for start, stop in chunk_bounds(roster["n_exchanges"].to_numpy(), world.spec.chunk_exchanges):
        chunk = roster.slice(start, stop - start).filter(pl.col("n_exchanges") > 0)
        if chunk.height:
            yield generate_exchanges(world, chunk, user_agents, pool_table, counts, per_operator)


def labels(roster: pl.DataFrame, operators: list[dict] | None = None) -> pl.DataFrame:
    """Ground truth for every account (including those dropped from the accounts table).

    With ``operators`` (from :func:`build_roster`; passed when the spec asks for
    ``tradecraft_in_labels``), a fourth column ``tradecraft`` holds the operator's
    :meth:`~acctgraph.simulate.spec.Tradecraft.label` (``ip=...;payment=...;...``),
    empty for legitimate accounts, so that an evaluation can report per tradecraft.
    """
    truth = roster.select(S.ACCOUNT_ID, S.OPERATOR_ID, S.KIND)
    if operators is None:
        return truth
    crafts = pl.DataFrame(
        {
            S.OPERATOR_ID: [op["operator_id"] for op in operators],
            TRADECRAFT: [op["tradecraft_label"] for op in operators],
        },
        schema={S.OPERATOR_ID: pl.String, TRADECRAFT: pl.String},
    )
    return truth.join(crafts, on=S.OPERATOR_ID, how="left", maintain_order="left")


def new_dirt_counts() -> dict[str, int]:
    """Zeroed counters, one per dirt kind."""
    return {kind: 0 for kind in dirt.DIRT_KINDS}
