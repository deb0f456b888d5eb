"""Legitimate populations: individuals, families, organisations, automation, developers.

Each builder takes the shared :class:`~acctgraph.simulate.world.World`, its own
named random stream and a number of accounts, and returns a roster fragment.
What makes each population hard for a detector is described in docs/simulator.md.
"""

from __future__ import annotations

from math import log

import numpy as np
import polars as pl

from acctgraph.core import schema as S
from acctgraph.simulate import vocabulary as V
from acctgraph.simulate.identity import (
    display_names,
    free_domains,
    free_emails,
    local_parts,
    person_names,
    random_hex,
)
from acctgraph.simulate.network import FIXED, POOL, STICKY, V6
from acctgraph.simulate.prompts import automation_templates
from acctgraph.simulate.roster import ALWAYS, CRON, OFFICE, PERSONAL, population_frame
from acctgraph.simulate.world import DAY_US, HOUR_US, PERSONAL_HOURS, World

U64_MAX = 2**64


def keys_for(rng: np.random.Generator, n: int) -> np.ndarray:
    """Account keys: 64 random bits each, the root of every later draw."""
    return rng.integers(0, U64_MAX, size=n, dtype=np.uint64)


def _or_none(keep: np.ndarray, values: pl.Series) -> np.ndarray:
    """``values`` as an object array, with ``None`` where ``keep`` is false."""
    out = values.to_numpy().astype(object)
    out[~keep] = None
    return out


def lognormal_intensity(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Heavy-tailed activity levels with mean 1."""
    return rng.lognormal(-sigma * sigma / 2, sigma, size=n)


def local_time(rng: np.random.Generator, n: int, hours_cdf: np.ndarray) -> np.ndarray:
    """Microseconds after local midnight, following an hourly profile."""
    hour = np.searchsorted(hours_cdf, rng.random(n), side="right")
    return (hour * HOUR_US + rng.random(n) * HOUR_US).astype(np.int64)


def signup_times(
    world: World,
    rng: np.random.Generator,
    tz: np.ndarray,
    *,
    new_share: float,
    oldest_days: int | None = None,
) -> np.ndarray:
    """Creation instants: a growing platform over ``history_days``, some in the window."""
    n = len(tz)
    span = (oldest_days * DAY_US) if oldest_days else (world.start_us - world.history_start_us)
    # density grows over time (more recent signups are more common)
    before = world.start_us - (span * (1 - np.sqrt(rng.random(n)))).astype(np.int64) - DAY_US
    during = world.start_us + (rng.random(n) * (world.end_us - world.start_us - 2 * DAY_US)).astype(
        np.int64
    )
    t = np.where(rng.random(n) < new_share, during, before)
    midnight = (t // DAY_US) * DAY_US
    return midnight + local_time(rng, n, PERSONAL_HOURS) - tz.astype(np.int64) * 60_000_000


def dormant(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """1 for accounts active in the window, 0 for dormant ones."""
    return (rng.random(n) >= share).astype(np.float64)


def _mixes(chat: float, coding: float, popular: float, template: float = 0.0) -> dict:
    total = chat + coding + popular + template
    return {
        "mix_chat": chat / total,
        "mix_coding": coding / total,
        "mix_popular": popular / total,
        "mix_template": template / total,
    }


def individuals(world: World, rng: np.random.Generator, n: int) -> pl.DataFrame:
    """People at home, on their phones, behind VPNs."""
    spec = world.spec
    keys = keys_for(rng, n)
    country = world.pick_countries(rng, n)
    tz = world.tz_offsets(rng, country)
    first, last = person_names(rng, country)
    access = np.searchsorted([0.62, 0.75, 0.90], rng.random(n), side="right")  # v4, v6, mobile, vpn
    p_kind = np.choose(access, [FIXED, V6, POOL, STICKY]).astype(np.int8)
    carrier = world.carrier_pool(rng, country)
    vpn = np.asarray(world.vpn_pools, dtype=np.int32)[
        np.searchsorted([0.5, 0.8], rng.random(n), side="right")
    ]
    p_pool = np.where(access == 2, carrier, vpn)
    p_epoch = np.where(access == 3, rng.uniform(0.5, 3, n), rng.uniform(14, 90, n)) * 86_400
    device = random_hex(rng, n).to_numpy().astype(object)
    stock = rng.random(n) < 0.05
    device[stock] = np.asarray(world.stock_devices, dtype=object)[rng.integers(0, 20, stock.sum())]
    device[rng.random(n) < 0.10] = None
    card = random_hex(rng, n, 20, "pf_").to_numpy().astype(object)
    card[rng.random(n) < spec.no_card_share] = None
    browser = world.browsers(rng, n)
    second = np.where(
        rng.random(n) < 0.5,
        world.app_ua[rng.integers(0, len(world.app_ua), n)],
        world.browsers(rng, n),
    )
    power = rng.random(n) < 0.1
    return population_frame(
        n,
        key=keys,
        kind=S.LEGIT_KINDS[0],
        created_at=signup_times(world, rng, tz, new_share=spec.new_signup_share),
        email=free_emails(rng, first, last, country),
        payment_fingerprint=card,
        device_id=device,
        country=country,
        display_name=display_names(rng, first, last),
        intensity=lognormal_intensity(rng, n, 1.3) * dormant(rng, n, spec.dormant_share),
        schedule=PERSONAL,
        tz_offset=tz,
        session_size=rng.integers(1, 5, n),
        p_kind=p_kind,
        p_ip4=world.home_v4(rng, country),
        p_v6=world.home_v6(rng, country),
        p_pool=p_pool,
        p_epoch=p_epoch,
        s_kind=POOL,
        s_pool=carrier,
        s_share=np.where(access >= 2, 0.0, rng.uniform(0, 0.35, n)),
        ua_a=browser,
        ua_b=second,
        ua_b_share=rng.uniform(0, 0.5, n),
        model_profile=np.where(power, 5, 0),
        **_mixes(0.84, 0.08, spec.popular_prompt_share),
    )


def families(world: World, rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Households of 2-5 sharing a card, a home address and sometimes a device."""
    spec = world.spec
    drawn: list[int] = []
    while sum(drawn) < n:
        drawn.append(int(rng.integers(2, 6)))
    drawn[-1] -= sum(drawn) - n
    if drawn[-1] < 2 and len(drawn) > 1:
        last = drawn.pop()
        drawn[-1] += last
    sizes = np.asarray(drawn)
    n_fam = len(sizes)
    fam = np.repeat(np.arange(n_fam), sizes)
    keys = keys_for(rng, n)
    home_key = keys_for(rng, n_fam)
    country = world.pick_countries(rng, n_fam)
    tz = world.tz_offsets(rng, country)
    _, surname = person_names(rng, country)
    first, _ = person_names(rng, country[fam])
    surname_m = surname.gather(fam)
    v6 = rng.random(n_fam) < 0.2
    shared_card = rng.random(n_fam) < 0.8
    family_card = random_hex(rng, n_fam, 20, "pf_").to_numpy().astype(object)
    own_card = random_hex(rng, n, 20, "pf_").to_numpy().astype(object)
    own_card[rng.random(n) < 0.5] = None
    card = np.where(shared_card[fam], family_card[fam], own_card)
    device = random_hex(rng, n).to_numpy().astype(object)
    share_device = (rng.random(n) < 0.3) & (np.r_[False, fam[1:] == fam[:-1]])
    device[share_device] = device[np.flatnonzero(share_device) - 1]  # the family tablet
    shape = np.where(rng.random(n) < 0.7, rng.choice([0, 1, 3, 5, 12], n), rng.integers(0, 13, n))
    same_domain = rng.random(n_fam) < 0.7
    domain = np.where(
        same_domain[fam],
        free_domains(rng, country).to_numpy()[fam],
        free_domains(rng, country[fam]).to_numpy(),
    )
    email = (
        pl.DataFrame({"l": local_parts(rng, first, surname_m, shape), "d": domain})
        .select(pl.concat_str(["l", pl.lit("@"), "d"]))
        .to_series()
    )
    first_created = signup_times(world, rng, tz, new_share=spec.new_signup_share / 2)
    later = rng.random(n) < 0.5
    created = first_created[fam] + np.where(
        later, (rng.random(n) * 200 * DAY_US).astype(np.int64), rng.integers(0, 3 * HOUR_US, n)
    )
    created = np.minimum(created, world.end_us - 2 * DAY_US)
    return population_frame(
        n,
        key=keys,
        kind=S.LEGIT_KINDS[1],
        created_at=created,
        email=email,
        payment_fingerprint=card,
        device_id=device,
        country=country[fam],
        display_name=display_names(rng, first, surname_m),
        intensity=lognormal_intensity(rng, n, 1.2) * dormant(rng, n, spec.dormant_share),
        schedule=PERSONAL,
        tz_offset=tz[fam],
        session_size=rng.integers(1, 5, n),
        p_kind=np.where(v6[fam], V6, FIXED),
        p_ip4=world.home_v4(rng, country)[fam],
        p_v6=world.home_v6(rng, country)[fam],
        p_epoch=rng.uniform(14, 90, n_fam)[fam] * 86_400,
        p_seed=home_key[fam],
        s_kind=POOL,
        s_pool=world.carrier_pool(rng, country[fam]),
        s_share=rng.uniform(0, 0.3, n),
        ua_a=world.browsers(rng, n),
        ua_b=world.app_ua[rng.integers(0, len(world.app_ua), n)],
        ua_b_share=rng.uniform(0, 0.5, n),
        model_profile=0,
        **_mixes(0.86, 0.04, spec.popular_prompt_share),
    )


def company_domain(rng: np.random.Generator) -> str:
    a, b = rng.choice(V.COMPANY_WORDS, 2, replace=False)
    suffix = V.COMPANY_SUFFIXES[int(rng.integers(len(V.COMPANY_SUFFIXES)))]
    tld = V.CORPORATE_TLDS[int(rng.integers(len(V.CORPORATE_TLDS)))]
    return [f"{a}{b}.{tld}", f"{a}-{suffix}.{tld}", f"{a}{suffix}.{tld}"][int(rng.integers(3))]


def organisations(world: World, rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Employees of companies of 5-300: office NAT, corporate domain, some onboarding bursts."""
    spec = world.spec
    drawn: list[int] = []
    while sum(drawn) < n:
        drawn.append(int(np.clip(round(rng.lognormal(2.4, 1.0)), 5, 300)))
    drawn[-1] = max(1, drawn[-1] - (sum(drawn) - n))
    sizes = np.asarray(drawn)
    n_org = len(sizes)
    org = np.repeat(np.arange(n_org), sizes)
    keys = keys_for(rng, n)
    country = world.pick_countries(rng, n_org)
    tz = world.tz_offsets(rng, country)
    domains = np.asarray([company_domain(rng) for _ in range(n_org)], dtype=object)
    pools: list[int] = []
    for _ in range(n_org):  # 1-3 NAT addresses in shared business /24s
        pools.append(
            world.network.add_pool(
                world.network.hosts(world.business_slash24s, int(rng.integers(1, 4)), rng)
            )
        )
    offices = np.asarray(pools, dtype=np.int32)
    declared = rng.random(n_org) < 0.5
    org_ids = _or_none(declared, random_hex(rng, n_org, 12, "org_"))
    corporate_card = rng.random(n_org) < 0.5
    org_card = random_hex(rng, n_org, 20, "pf_").to_numpy().astype(object)
    own_card = random_hex(rng, n, 20, "pf_").to_numpy().astype(object)
    own_card[rng.random(n) < 0.6] = None
    tech = rng.random(n_org) < 0.5
    managed_ua = world.browsers(rng, n_org)
    first, last = person_names(rng, country[org])
    org_shape = rng.choice([0, 1, 2, 8, 3], n_org)
    email = (
        pl.DataFrame({"l": local_parts(rng, first, last, org_shape[org]), "d": domains[org]})
        .select(pl.concat_str(["l", pl.lit("@"), "d"]))
        .to_series()
    )
    # onboarding: a third of companies create most accounts within hours of one day
    burst = rng.random(n_org) < 0.3
    burst_day = signup_times(world, rng, tz, new_share=0.3)
    created = signup_times(world, rng, tz[org], new_share=spec.new_signup_share)
    in_burst = burst[org] & (rng.random(n) < 0.85)
    created = np.where(in_burst, burst_day[org] + rng.integers(0, 4 * HOUR_US, n), created)
    coding = np.where(tech[org], 0.45, 0.05)
    mix = {
        "mix_chat": 0.92 - coding,
        "mix_coding": coding,
        "mix_popular": np.full(n, 0.08),
        "mix_template": 0.0,
    }
    home_country = country[org]
    return population_frame(
        n,
        key=keys,
        kind=S.LEGIT_KINDS[2],
        created_at=created,
        email=email,
        payment_fingerprint=np.where(corporate_card[org], org_card[org], own_card),
        device_id=random_hex(rng, n),
        country=home_country,
        org_id=org_ids[org],
        display_name=display_names(rng, first, last),
        intensity=lognormal_intensity(rng, n, 1.0) * 1.8 * dormant(rng, n, spec.dormant_share),
        schedule=OFFICE,
        tz_offset=tz[org],
        session_size=rng.integers(1, 6, n),
        p_kind=POOL,
        p_pool=offices[org],
        s_kind=FIXED,
        s_ip4=world.home_v4(rng, home_country),
        s_epoch=rng.uniform(14, 90, n) * 86_400,
        s_share=rng.uniform(0.05, 0.3, n),
        ua_a=np.where(rng.random(n) < 0.8, managed_ua[org], world.browsers(rng, n)),
        ua_b=world.sdk_ua[rng.integers(0, len(world.sdk_ua), n)],
        ua_b_share=np.where(tech[org], rng.uniform(0, 0.4, n), 0.0),
        model_profile=np.where(tech[org], 1, 0),
        **mix,
    )


def automation(world: World, rng: np.random.Generator, n: int) -> pl.DataFrame:
    """Service accounts running templated batch jobs 24/7 from cloud ranges."""
    drawn: list[int] = []
    while sum(drawn) < n:
        drawn.append(int(rng.integers(1, 7)))
    drawn[-1] -= sum(drawn) - n
    sizes = np.asarray([s for s in drawn if s > 0])
    n_org = len(sizes)
    org = np.repeat(np.arange(n_org), sizes)
    keys = keys_for(rng, n)
    country = world.pick_countries(rng, n_org)
    domains = np.asarray([company_domain(rng) for _ in range(n_org)], dtype=object)
    gateways = np.asarray(
        [
            world.network.add_pool(
                world.network.hosts(
                    world.cloud_slash24s[[int(rng.integers(len(world.cloud_slash24s)))]],
                    int(rng.integers(1, 5)),
                    rng,
                )
            )
            for _ in range(n_org)
        ],
        dtype=np.int32,
    )
    job_sets = np.asarray(
        [
            world.templates.add(automation_templates(rng, int(rng.integers(1, 4))))
            for _ in range(n_org)
        ],
        dtype=np.int32,
    )
    mailbox = np.asarray(V.SERVICE_MAILBOXES, dtype=object)[
        rng.integers(0, len(V.SERVICE_MAILBOXES), n)
    ]
    email = (
        pl.DataFrame(
            {
                "m": mailbox,
                "i": np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes),
                "d": domains[org],
            }
        )
        .select(
            pl.concat_str(
                [
                    "m",
                    pl.when(pl.col("i") > 0)
                    .then(pl.concat_str([pl.lit("-"), pl.col("i").cast(pl.String)]))
                    .otherwise(pl.lit("")),
                    pl.lit("@"),
                    "d",
                ]
            )
        )
        .to_series()
    )
    org_ids = _or_none(rng.random(n_org) < 0.85, random_hex(rng, n_org, 12, "org_"))
    sdk = world.sdk_ua[rng.integers(0, len(world.sdk_ua), n_org)]
    names = np.asarray(
        ["ETL service", "batch", "svc", None, "Data pipeline", "prod-bot"], dtype=object
    )
    return population_frame(
        n,
        key=keys,
        kind=S.LEGIT_KINDS[3],
        created_at=world.start_us - rng.integers(180, 730, n) * DAY_US + rng.integers(0, DAY_US, n),
        email=email,
        payment_fingerprint=random_hex(rng, n_org, 20, "pf_").gather(org),
        device_id=_or_none(rng.random(n) >= 0.8, random_hex(rng, n)),
        country=country[org],
        org_id=org_ids[org],
        display_name=names[rng.integers(0, len(names), n)],
        intensity=lognormal_intensity(rng, n, 0.8) * 60.0,
        schedule=CRON,
        session_size=1,
        p_kind=POOL,
        p_pool=gateways[org],
        ua_a=sdk[org],
        ua_b=world.script_ua[rng.integers(0, len(world.script_ua), n)],
        ua_b_share=0.05,
        model_profile=2,
        template_set=job_sets[org],
        **_mixes(0.0, 0.03, 0.0, 0.97),
        out_mu=log(120),
        out_sigma=0.6,
        ctx_mu=log(40),
    )


def developers(world: World, rng: np.random.Generator, n: int) -> pl.DataFrame:
    """People scripting against the API from home and from the cloud /24s operators use too."""
    spec = world.spec
    keys = keys_for(rng, n)
    country = world.pick_countries(rng, n)
    tz = world.tz_offsets(rng, country)
    first, last = person_names(rng, country)
    cloud_first = rng.random(n) < 0.4
    cloud_epoch = rng.uniform(7, 30, n) * 86_400
    home_ip = world.home_v4(rng, country)
    tools = np.concatenate([world.sdk_ua, world.script_ua])
    card = random_hex(rng, n, 20, "pf_").to_numpy().astype(object)
    card[rng.random(n) < 0.25] = None
    return population_frame(
        n,
        key=keys,
        kind=S.LEGIT_KINDS[4],
        created_at=signup_times(world, rng, tz, new_share=spec.new_signup_share),
        email=free_emails(rng, first, last, country),
        payment_fingerprint=card,
        device_id=random_hex(rng, n),
        country=country,
        display_name=display_names(rng, first, last),
        intensity=lognormal_intensity(rng, n, 1.3) * 5.0,
        schedule=np.where(cloud_first, ALWAYS, PERSONAL),
        tz_offset=tz,
        session_size=rng.integers(2, 10, n),
        p_kind=np.where(cloud_first, STICKY, FIXED),
        p_pool=world.cloud_pool,
        p_ip4=home_ip,
        p_epoch=np.where(cloud_first, cloud_epoch, rng.uniform(14, 90, n) * 86_400),
        s_kind=np.where(cloud_first, FIXED, STICKY),
        s_pool=world.cloud_pool,
        s_ip4=home_ip,
        s_epoch=np.where(cloud_first, rng.uniform(14, 90, n) * 86_400, cloud_epoch),
        s_share=rng.uniform(0.1, 0.5, n),
        ua_a=tools[rng.integers(0, len(tools), n)],
        ua_b=world.browsers(rng, n),
        ua_b_share=rng.uniform(0.1, 0.5, n),
        model_profile=1,
        **_mixes(0.2, 0.75, 0.05),
        out_mu=log(600),
        out_sigma=0.8,
    )


BUILDERS = {
    "individual": individuals,
    "family": families,
    "organisation": organisations,
    "automation": automation,
    "developer": developers,
}
"""Legitimate population builders by label kind (the order of schema.LEGIT_KINDS)."""
