"""Operators: groups of fake accounts run by one actor, each with its own tradecraft.

:func:`operator` turns a :class:`~acctgraph.simulate.spec.Tradecraft` into a roster
fragment. The options are documented on ``Tradecraft`` and in docs/simulator.md.
"""

from __future__ import annotations

from math import ceil, log

import numpy as np
import polars as pl

from acctgraph.simulate.identity import (
    display_names,
    free_emails,
    insert_dot,
    local_parts,
    person_names,
    random_hex,
    random_letters,
)
from acctgraph.simulate.legit import company_domain, keys_for, lognormal_intensity
from acctgraph.simulate.network import POOL, STICKY
from acctgraph.simulate.prompts import operator_templates, public_templates
from acctgraph.simulate.randomness import stream
from acctgraph.simulate.roster import ALWAYS, PERSONAL, WAKING, population_frame
from acctgraph.simulate.spec import Tradecraft
from acctgraph.simulate.world import DAY_US, World

FRAUD_KIND = "operator"
_OUTPUT = {"coding": 1100, "agentic": 900, "reasoning": 1800, "mixed": 1300}


def operator_id(index: int) -> str:
    """``op01``, ``op02``... for 0-based ``index``."""
    return f"op{index + 1:02d}"


def _target_countries(world: World, rng: np.random.Generator, n: int) -> np.ndarray:
    wanted = world.pick_countries(rng, int(rng.integers(1, 4)))
    wanted[0] = "US" if rng.random() < 0.6 else wanted[0]
    return wanted[rng.integers(0, len(wanted), n)]


def _created(world: World, rng: np.random.Generator, n: int, signup: str) -> np.ndarray:
    if signup == "spread":
        return world.start_us + rng.integers(-56 * DAY_US, 14 * DAY_US, n)
    created = np.empty(n, dtype=np.int64)
    i = 0
    while i < n:  # batches of dozens created within minutes to hours
        size = int(rng.integers(10, 61))
        start = world.start_us + int(rng.integers(-30 * DAY_US, 25 * DAY_US))
        spread = int(rng.integers(5, 180)) * 60_000_000
        created[i : i + size] = start + np.sort(rng.integers(0, spread, min(size, n - i)))
        i += size
    return created


def _emails(
    world: World, rng: np.random.Generator, n: int, how: str, country: np.ndarray
) -> pl.Series:
    first, last = person_names(rng, country)
    if how == "legit_like":
        return free_emails(rng, first, last, country)
    if how == "random_alnum":
        domains = np.asarray(
            ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "proton.me"], dtype=object
        )
        domain = rng.choice(domains, 2, replace=False)[rng.integers(0, 2, n)]
        digits = pl.Series(rng.integers(0, 10_000, n)).cast(pl.String).str.zfill(4)
        frame = pl.DataFrame({"a": random_letters(rng, n, 6), "d": digits, "m": domain})
        return frame.select(pl.concat_str(["a", "d", pl.lit("@"), "m"])).to_series()
    if how == "name_number":
        frame = pl.DataFrame(
            {"f": first, "l": last, "d": pl.Series(rng.integers(1000, 10_000, n)).cast(pl.String)}
        )
        return frame.select(
            pl.concat_str(["f", pl.lit("."), "l", pl.lit("."), "d", pl.lit("@gmail.com")])
        ).to_series()
    if how == "catchall":
        domains = np.asarray(
            [company_domain(rng) for _ in range(int(rng.integers(1, 3)))], dtype=object
        )
        local = local_parts(rng, first, last)
        frame = pl.DataFrame({"l": local, "d": domains[rng.integers(0, len(domains), n)]})
        return frame.select(pl.concat_str(["l", pl.lit("@"), "d"])).to_series()
    # gmail_variants: dots and plus-tags of a few real mailboxes (one per ~15 accounts)
    n_base = max(1, ceil(n / 15))
    # The operator's own mailboxes: a name shape plus four digits, so no real person has the same inbox.
    base = local_parts(rng, first.head(n_base), last.head(n_base), rng.choice([0, 1, 3, 8], n_base))
    base = base + pl.Series(rng.integers(1000, 10000, n_base)).cast(pl.String)
    local = (
        base.gather(rng.integers(0, n_base, n))
        .str.replace_all(".", "", literal=True)
        .str.replace_all("_", "", literal=True)
    )
    dotted = insert_dot(rng, local)
    local = pl.Series(
        np.where(rng.random(n) < 0.7, dotted.to_numpy(), local.to_numpy()), dtype=pl.String
    )
    tag = random_letters(rng, n, 4)
    frame = pl.DataFrame({"l": local, "t": tag, "p": rng.random(n) < 0.5})
    return frame.select(
        pl.concat_str(
            [
                "l",
                pl.when("p").then(pl.concat_str([pl.lit("+"), "t"])).otherwise(pl.lit("")),
                pl.lit("@gmail.com"),
            ]
        )
    ).to_series()


def operator(
    world: World, rng: np.random.Generator, n: int, index: int, craft: Tradecraft
) -> pl.DataFrame:
    """The accounts of operator ``index`` (0-based) working with ``craft``.

    ``rng`` is the operator's own stream; the dimensions added after the first eight
    (``templates``, ``camouflage``, ``rhythm``, ``teams``, ``paraphrase``, volume
    ``legit_like``) draw from a second named stream (``op01.tradecraft``...), and only
    when they differ from their defaults, so that existing worlds keep their bytes.
    """
    spec = world.spec
    net = world.network
    extra = stream(world.seed, f"{operator_id(index)}.tradecraft")
    keys = keys_for(rng, n)
    country = _target_countries(world, rng, n)
    tz = world.tz_offsets(rng, country)
    created = _created(world, rng, n, craft.signup)
    order = rng.permutation(n)  # batches of cards/devices cut across signup batches

    # addresses
    channel = {
        "p_kind": STICKY,
        "p_k": rng.integers(1, 4, n),
        "p_epoch": rng.uniform(1, 5, n) * 86_400,
    }
    if craft.ip == "residential_proxy":
        nets = np.concatenate([np.concatenate(world.isp_slash24s[c]) for c in np.unique(country)])
        size = int(np.clip(3 * n, 40, 20_000))
        channel["p_pool"] = net.add_pool(net.hosts(nets, size, rng))
    elif craft.ip == "proxy_reseller":
        channel.update(p_pool=world.vpn_pools[0], p_epoch=rng.uniform(0.3, 2, n) * 86_400)
    elif craft.ip == "datacenter":
        chosen = world.cloud_slash24s[
            rng.choice(
                len(world.cloud_slash24s),
                min(len(world.cloud_slash24s), int(rng.integers(2, 7))),
                replace=False,
            )
        ]
        channel.update(
            p_pool=net.add_pool(net.hosts(chosen, int(np.clip(n // 4, 5, 400)), rng)),
            p_k=rng.integers(1, 3, n),
            p_epoch=rng.uniform(5, 20, n) * 86_400,
        )
    else:  # mobile_proxy
        channel.update(p_kind=POOL, p_pool=world.carrier_pool(rng, country))

    # payment
    if craft.payment == "reused":
        cards = random_hex(rng, ceil(n / 5), 20, "pf_").to_numpy().astype(object)
        batch = np.cumsum(np.r_[0, (rng.random(n - 1) < 1 / 12)])  # runs of about 12 accounts
        card = np.empty(n, dtype=object)
        card[order] = cards[np.minimum(batch, len(cards) - 1)]
        card[rng.random(n) < 0.1] = None
    elif craft.payment == "virtual":
        card = random_hex(rng, n, 20, "pf_").to_numpy().astype(object)
    else:
        card = np.full(n, None, dtype=object)

    # devices
    if craft.device == "reused":
        images = random_hex(rng, max(1, n // 25)).to_numpy().astype(object)
        device = images[
            np.minimum((rng.random(n) ** 1.5 * len(images)).astype(int), len(images) - 1)
        ]
    else:
        device = random_hex(rng, n).to_numpy().astype(object)
    device[rng.random(n) < 0.1] = None
    team = np.zeros(n, dtype=np.int32)
    if craft.teams > 1:
        team, card, device = _split_teams(extra, craft.teams, order, card, device)

    first, last = person_names(rng, country)
    shown = display_names(rng, first, last).to_numpy().astype(object)
    style = rng.random(n)
    shown[style < 0.2] = (
        pl.Series(rng.integers(100, 100_000, int((style < 0.2).sum())))
        .cast(pl.String)
        .to_numpy()
        .astype(object)
    )
    shown[style < 0.2] = np.char.add("user", shown[style < 0.2].astype(str)).astype(object)

    if craft.user_agent == "script":
        agents = world.script_ua[rng.choice(len(world.script_ua), 2, replace=False)]
    elif craft.user_agent == "sdk":
        agents = world.sdk_ua[rng.choice(len(world.sdk_ua), 2, replace=False)]
    else:
        weights = np.diff(np.r_[0.0, world.browser_cdf])
        agents = np.repeat(
            world.browser_ua[np.argmax(weights)], 2
        )  # the most common browser string
    ua_a = agents[rng.integers(0, 2, n)]

    if craft.templates == "public":
        templates = public_templates(
            extra,
            world.public_library.to_list(),
            world.public_focuses,
            craft.prompt_focus,
            craft.n_templates,
        )
    else:
        templates = operator_templates(rng, craft.prompt_focus, craft.n_templates)
    template_set = world.templates.add(templates, paraphrase=craft.paraphrase)
    if craft.volume == "high":
        mix = {"mix_chat": 0.03, "mix_coding": 0.01, "mix_popular": 0.0, "mix_template": 0.96}
        intensity, schedule, session = (
            lognormal_intensity(rng, n, 0.5),
            ALWAYS,
            rng.integers(10, 60, n),
        )
    else:
        c = spec.camouflage_share
        mix = {
            "mix_chat": 0.8 * c,
            "mix_coding": 0.1 * c,
            "mix_popular": 0.1 * c,
            "mix_template": 1 - c,
        }
        intensity, schedule, session = (
            lognormal_intensity(rng, n, 0.5) * 0.12,
            PERSONAL,
            rng.integers(3, 9, n),
        )
    if craft.camouflage is not None:
        c = craft.camouflage
        mix = {
            "mix_chat": 0.8 * c,
            "mix_coding": 0.1 * c,
            "mix_popular": 0.1 * c,
            "mix_template": 1 - c,
        }
    if craft.rhythm == "round_the_clock":
        schedule = ALWAYS
    elif craft.rhythm == "claimed_timezone":  # one claimed time zone for every account
        schedule = WAKING
        tz = np.full(n, tz[int(extra.integers(n))], dtype=tz.dtype)
    fixed = np.full(n, -1, dtype=np.int64)
    if craft.volume == "legit_like":  # about what an active legitimate heavy-ish user sends
        mean = 3 * spec.legit_exchanges_per_account
        fixed = np.maximum(1, np.round(extra.lognormal(log(mean) - 0.32, 0.8, n))).astype(np.int64)
    active_start = created + rng.integers(0, 2 * DAY_US, n)
    stopped = rng.random(n) < 0.3  # banned or abandoned before the window closed
    active_end = np.where(
        stopped,
        np.maximum(active_start, world.start_us) + rng.integers(3 * DAY_US, 40 * DAY_US, n),
        world.end_us,
    )
    return population_frame(
        n,
        key=keys,
        kind=FRAUD_KIND,
        operator_id=operator_id(index),
        created_at=created,
        email=_emails(world, rng, n, craft.email, country),
        payment_fingerprint=card,
        device_id=device,
        country=country,
        display_name=shown,
        intensity=intensity,
        schedule=schedule,
        tz_offset=tz,
        session_size=session,
        active_start=active_start,
        active_end=active_end,
        **channel,
        ua_a=ua_a,
        ua_b=agents[0],
        ua_b_share=0.0,
        model_profile=4 if craft.prompt_focus == "coding" else 3,
        template_set=template_set,
        # public prompts are sent verbatim, as legitimate copies are (their draws are kept)
        perturbation=rng.uniform(0.3, 0.8)
        * rng.uniform(0.7, 1.3, n)
        * (0.0 if craft.templates == "public" else 1.0),
        **mix,
        out_mu=log(_OUTPUT[craft.prompt_focus]),
        out_sigma=0.5,
        ctx_mu=log(600),
        fixed_exchanges=fixed,
        team=team,
    )


def _split_teams(
    rng: np.random.Generator, teams: int, order: np.ndarray, card: np.ndarray, device: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the accounts into ``teams`` runs of ``order`` whose cards and devices are disjoint.

    A card or device held in several teams is replaced, in every team but the first,
    by a fresh value of the same shape, one per (value, team): the teams never share.
    """
    n = len(order)
    team = np.empty(n, dtype=np.int32)
    team[order] = np.minimum(np.arange(n) * teams // n, teams - 1)
    out = []
    for values, prefix, length in ((card, "pf_", 20), (device, "", 16)):
        values = values.copy()
        seen: dict[object, int] = {}
        fresh: dict[tuple[object, int], str] = {}
        for i in np.argsort(team, kind="stable"):
            value = values[i]
            if value is None:
                continue
            first = seen.setdefault(value, int(team[i]))
            if first != team[i]:
                key = (value, int(team[i]))
                if key not in fresh:
                    fresh[key] = prefix + "".join(
                        "0123456789abcdef"[int(x)] for x in rng.integers(0, 16, length)
                    )
                values[i] = fresh[key]
        out.append(values)
    return team, out[0], out[1]


def operator_sizes(spec, rng: np.random.Generator) -> list[int]:
    """Fraudulent accounts per operator: Zipf-like shares in a random order, at least 3 each."""
    n = spec.n_fraud_accounts
    k = spec.n_operators
    shares = 1.0 / np.arange(1, k + 1) ** spec.operator_size_exponent
    sizes = np.maximum(3, np.floor(shares / shares.sum() * n)).astype(int)
    sizes[0] += n - sizes.sum()
    return [int(s) for s in sizes[rng.permutation(k)]]
