"""The shared infrastructure of a world: time frame, countries, networks, user agents.

Built from the ``"world"`` stream and the spec alone, before any population, so
every population (legitimate or not) draws from the same ISPs, carriers, VPN
exits, cloud ranges and user-agent strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

import numpy as np
import polars as pl

from acctgraph.simulate import vocabulary as V
from acctgraph.simulate.network import Network
from acctgraph.simulate.prompts import TemplateBook
from acctgraph.simulate.randomness import cumulative, stream, zipf_weights
from acctgraph.simulate.spec import WorldSpec

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000

# Local-time activity by hour (0-23) of people and of office workers.
PERSONAL_HOURS = cumulative(
    [
        1,
        0.6,
        0.35,
        0.2,
        0.15,
        0.2,
        0.5,
        1.2,
        2.2,
        3.0,
        3.3,
        3.4,
        3.3,
        3.4,
        3.5,
        3.5,
        3.4,
        3.3,
        3.4,
        3.8,
        4.0,
        3.7,
        2.8,
        1.8,
    ]
)
OFFICE_HOURS = cumulative(
    [
        0.05,
        0.02,
        0.02,
        0.02,
        0.02,
        0.05,
        0.2,
        1.0,
        3.5,
        5.5,
        6.0,
        5.5,
        3.5,
        5.0,
        5.8,
        5.6,
        5.0,
        3.5,
        1.5,
        0.8,
        0.6,
        0.4,
        0.2,
        0.1,
    ]
)

# The waking hours of a claimed time zone: the personal profile with the night (01:00-07:00) silent.
WAKING_HOURS = cumulative(
    [
        0.6,
        0,
        0,
        0,
        0,
        0,
        0,
        1.2,
        2.2,
        3.0,
        3.3,
        3.4,
        3.3,
        3.4,
        3.5,
        3.5,
        3.4,
        3.3,
        3.4,
        3.8,
        4.0,
        3.7,
        2.8,
        1.8,
    ]
)


@dataclass
class World:
    """Infrastructure every population draws from (see module docstring)."""

    spec: WorldSpec
    seed: int
    network: Network
    start_us: int
    end_us: int
    history_start_us: int
    countries: tuple[str, ...]
    country_cdf: np.ndarray
    isp_slash24s: dict[str, list[np.ndarray]] = field(default_factory=dict)
    isp_v6: dict[str, int] = field(default_factory=dict)
    carrier_pools: dict[str, list[int]] = field(default_factory=dict)
    vpn_pools: list[int] = field(default_factory=list)
    cloud_slash24s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    cloud_pool: int = -1
    business_slash24s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    stock_devices: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    browser_ua: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    browser_cdf: np.ndarray = field(default_factory=lambda: np.ones(1))
    app_ua: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sdk_ua: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    script_ua: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    templates: TemplateBook = field(default_factory=TemplateBook)
    # the public capability-prompt library, built only when an operator uses it
    public_library: pl.Series = field(default_factory=lambda: pl.Series("prompt", [], pl.String))
    public_focuses: list[str] = field(default_factory=list)
    public_share: float = 0.0

    # --- helpers used by the population builders ------------------------------
    def pick_countries(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Countries drawn by weight."""
        idx = np.searchsorted(self.country_cdf, rng.random(n), side="right")
        return np.asarray(self.countries, dtype=object)[idx]

    def tz_offsets(self, rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
        """A UTC offset (minutes) consistent with each country."""
        out = np.zeros(len(countries), dtype=np.int32)
        for c in np.unique(countries):
            rows = np.flatnonzero(countries == c)
            offsets = np.asarray(V.COUNTRIES[c][0], dtype=np.int32)
            out[rows] = offsets[rng.integers(0, len(offsets), size=len(rows))]
        return out

    def home_v4(self, rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
        """A residential IPv4 address per account, in its country's ISPs' packed /24s."""
        out = np.zeros(len(countries), dtype=np.uint32)
        for c in np.unique(countries):
            rows = np.flatnonzero(countries == c)
            isps = self.isp_slash24s[c]
            isp = rng.integers(0, len(isps), size=len(rows))
            for i, nets in enumerate(isps):
                sub = rows[isp == i]
                out[sub] = self.network.hosts(nets, len(sub), rng)
        return out

    def home_v6(self, rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
        """A residential /64 per account; several homes share each ISP /48."""
        out = np.zeros(len(countries), dtype=np.uint64)
        for c in np.unique(countries):
            rows = np.flatnonzero(countries == c)
            n48 = max(1, ceil(len(rows) / 6))
            h3 = rng.integers(1, 1 + n48, size=len(rows)).astype(np.uint64) * np.uint64(
                7
            ) + np.uint64(0x100)
            h4 = rng.integers(1, 0xFFFF, size=len(rows)).astype(np.uint64)
            out[rows] = np.uint64(self.isp_v6[c]) | (h3 << np.uint64(16)) | h4
        return out

    def carrier_pool(self, rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
        """A mobile carrier (carrier-grade NAT pool id) per account."""
        out = np.zeros(len(countries), dtype=np.int32)
        for c in np.unique(countries):
            rows = np.flatnonzero(countries == c)
            pools = np.asarray(self.carrier_pools[c], dtype=np.int32)
            out[rows] = pools[rng.integers(0, len(pools), size=len(rows))]
        return out

    def browsers(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Browser user agents by popularity (many people share the same string)."""
        return self.browser_ua[np.searchsorted(self.browser_cdf, rng.random(n), side="right")]


def _user_agents(world: World) -> None:
    strings: list[str] = []
    browser: list[int] = []
    weights: list[float] = []
    app: list[int] = []
    template_weights = zipf_weights(len(V.BROWSERS), 0.8)
    for t, template in enumerate(V.BROWSERS):
        versions = V.BROWSER_VERSIONS
        if "iPhone OS" in template or "OrcaApp" in template:
            versions = tuple(range(12))
        for j, version in enumerate(versions):
            if "OrcaApp" in template:
                app.append(len(strings))
            else:
                browser.append(len(strings))
                weights.append(template_weights[t] * (1.0 + j) ** 2)  # recent versions dominate
            strings.append(template.format(v=version))
    sdk = []
    for template in V.SDKS:
        for version in V.SDK_VERSIONS:
            sdk.append(len(strings))
            strings.append(template.format(v=version))
    script = []
    for ua in V.SCRIPT_AGENTS:
        script.append(len(strings))
        strings.append(ua)
    world.user_agents = strings
    world.browser_ua = np.asarray(browser, dtype=np.int32)
    world.browser_cdf = cumulative(weights)
    world.app_ua = np.asarray(app, dtype=np.int32)
    world.sdk_ua = np.asarray(sdk, dtype=np.int32)
    world.script_ua = np.asarray(script, dtype=np.int32)


def build_world(spec: WorldSpec, seed: int) -> World:
    """Lay out the infrastructure of a world of this size."""
    rng = stream(seed, "world")
    start_us = int(spec.window_start.timestamp() * 1_000_000)
    end_us = int(spec.window_end.timestamp() * 1_000_000)
    countries = tuple(V.COUNTRIES)
    world = World(
        spec=spec,
        seed=seed,
        network=Network(rng),
        start_us=start_us,
        end_us=end_us,
        history_start_us=start_us - spec.history_days * DAY_US,
        countries=countries,
        country_cdf=cumulative([V.COUNTRIES[c][1] for c in countries]),
    )
    net = world.network
    n = spec.n_accounts
    for c in countries:
        weight = V.COUNTRIES[c][1]
        homes = n * 0.75 * weight
        n_isps = 3 if weight >= 0.05 else 2
        per_isp = max(1, ceil(homes / n_isps / 110))
        world.isp_slash24s[c] = [net.slash24s(per_isp) for _ in range(n_isps)]
        world.isp_v6[c] = net.v6_prefix32()
        carriers = 2 if weight >= 0.05 else 1
        world.carrier_pools[c] = []
        for _ in range(carriers):
            nets = net.slash24s(int(rng.integers(2, 7)))
            hosts = (nets[:, None] | np.arange(1, 255, dtype=np.uint32)[None, :]).ravel()
            world.carrier_pools[c].append(net.add_pool(hosts))
    # commercial VPN / proxy networks; network 0 is also resold to an operator
    for exits in (90, 60, 30):
        nets = net.slash24s(int(rng.integers(4, 11)), per_16=4)
        world.vpn_pools.append(net.add_pool(np.unique(net.hosts(nets, exits))))
    world.cloud_slash24s = net.slash24s(max(6, n // 4000), per_16=16)
    world.cloud_pool = net.add_pool(
        (world.cloud_slash24s[:, None] | np.arange(1, 255, dtype=np.uint32)[None, :]).ravel()
    )
    world.business_slash24s = net.slash24s(max(4, n // 2500), per_16=32)
    world.stock_devices = [f"{int(x):016x}" for x in rng.integers(0, 2**63, size=20)]
    _user_agents(world)
    return world


def user_agent_series(world: World) -> pl.Series:
    """All user-agent strings, indexed by the roster's ``ua_a``/``ua_b`` columns."""
    return pl.Series("user_agent", world.user_agents, dtype=pl.String)
