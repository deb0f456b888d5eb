"""The world's address space: ISPs, mobile carriers, VPNs, clouds, offices; IP channels.

Every normal address is global unicast: IPv4 blocks come from first octets outside
private, shared, loopback, link-local, documentation, benchmarking and multicast
space, IPv6 prefixes from 2400::/8, 2600::/8, 2a00::/8 and 2800::/8.

An account reaches the platform through up to two *channels* (a primary and a
secondary, e.g. home broadband and phone). A channel is one of:

``FIXED``  an IPv4 home or VM address whose host part is re-leased every epoch
           (same /24, keyed by the channel seed so a household shares it);
``V6``     a stable /64 with an interface id that changes daily (privacy addresses);
``POOL``   any address of a pool, drawn per session (carrier-grade NAT, office NAT,
           cloud gateways);
``STICKY`` ``k`` addresses of a pool held for an epoch of days, then rotated
           (residential proxies, VPN exits, cloud VMs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from acctgraph.simulate.randomness import Draws, mix64

FIXED, V6, POOL, STICKY = 1, 2, 3, 4

# First octets whose whole /8 is global unicast (no 0, 10, 100, 127, 169, 172, 192,
# 198, 203 or >= 224, which hold private, shared, loopback, link-local, documentation
# or benchmarking ranges).
_FIRST_OCTETS = np.array(
    [o for o in range(1, 224) if o not in {0, 10, 100, 127, 169, 172, 192, 198, 203}],
    dtype=np.uint32,
)
_V6_LEADS = np.array([0x2400, 0x2600, 0x2A00, 0x2800], dtype=np.uint64)

OCTETS = pl.Series("octet", [str(i) for i in range(256)], dtype=pl.String)
HEXTETS = pl.Series("hextet", [f"{i:x}" for i in range(65536)], dtype=pl.String)

PRIVATE_IPS = (
    "10.0.0.12",
    "10.24.7.1",
    "192.168.1.1",
    "192.168.0.101",
    "172.16.5.4",
    "127.0.0.1",
    "fe80::1",
    "fe80::a00:27ff:fe4e:66a1",
    "::1",
    "100.64.0.9",
    "0.0.0.0",
    "169.254.10.20",
)
MALFORMED_IPS = (
    "999.12.1.1",
    "not-an-ip",
    "1.2.3",
    "256.256.256.256",
    "1.2.3.4.5",
    "::g",
    "192.168.1",
    "unknown",
    "-",
    "1.2.3.4, 5.6.7.8",
    " 8.8.8.8 ",
    "2001:::1",
)


@dataclass
class Network:
    """Address blocks of the world and the registry of address pools."""

    rng: np.random.Generator
    used_slash16: set[int] = field(default_factory=set)
    pools: list[np.ndarray] = field(default_factory=list)

    def slash16(self) -> int:
        """A fresh /16 network (as the uint32 of its first address) never handed out before."""
        while True:
            first = int(self.rng.choice(_FIRST_OCTETS))
            second = int(self.rng.integers(0, 256))
            value = (first << 24) | (second << 16)
            if value not in self.used_slash16:
                self.used_slash16.add(value)
                return value

    def slash24s(self, n: int, *, per_16: int = 64) -> np.ndarray:
        """``n`` distinct /24 networks, packed ``per_16`` to a fresh /16."""
        out: list[np.uint32] = []
        while len(out) < n:
            base = self.slash16()
            take = min(per_16, n - len(out))
            thirds = self.rng.choice(256, size=take, replace=False).astype(np.uint32)
            out.extend(base | (thirds << 8))
        return np.asarray(out, dtype=np.uint32)

    def v6_prefix32(self) -> int:
        """A global /32 IPv6 prefix, as the top 32 bits of a uint64."""
        lead = int(self.rng.choice(_V6_LEADS)) | int(self.rng.integers(0x10, 0xFF))
        return (lead << 48) | (int(self.rng.integers(0x100, 0xFFFF)) << 32)

    def add_pool(self, addresses: np.ndarray) -> int:
        """Register a pool of IPv4 addresses; returns its id."""
        self.pools.append(np.asarray(addresses, dtype=np.uint32))
        return len(self.pools) - 1

    def hosts(
        self, slash24s: np.ndarray, n: int, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """``n`` random host addresses (x.y.z.1-254) inside the given /24s.

        Populations pass their own ``rng`` so that they do not consume the world's stream.
        """
        rng = self.rng if rng is None else rng
        nets = slash24s[rng.integers(0, len(slash24s), size=n)]
        return nets | rng.integers(1, 255, size=n).astype(np.uint32)

    def pool_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pools concatenated: (addresses, offsets, sizes)."""
        sizes = np.array([len(p) for p in self.pools], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return np.concatenate(self.pools), offsets, sizes


@dataclass(frozen=True)
class Channels:
    """Per-row channel parameters (arrays of equal length)."""

    kind: np.ndarray  # int8
    ip4: np.ndarray  # uint32 (FIXED)
    v6: np.ndarray  # uint64 /64 prefix (V6)
    pool: np.ndarray  # int32 pool id (POOL, STICKY)
    epoch_s: np.ndarray  # float64 epoch length in seconds (FIXED lease, STICKY rotation)
    k: np.ndarray  # int32 addresses held per epoch (STICKY)
    seed: np.ndarray  # uint64 key shared by whoever shares the channel


_DAY_US = 86_400_000_000


def resolve(
    channels: Channels,
    *,
    account_keys: np.ndarray,
    sessions: np.ndarray,
    t_us: np.ndarray,
    pool_table: tuple[np.ndarray, np.ndarray, np.ndarray],
    salt: str = "",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Addresses used by rows at times ``t_us``.

    Returns ``(is_v6, v4, v6_high, v6_low)``; ``v4`` is meaningful where ``~is_v6``.
    """
    addresses, offsets, sizes = pool_table
    n = len(t_us)
    kind = channels.kind
    seconds = t_us // 1_000_000
    phase = (mix64(channels.seed) % np.uint64(1 << 20)).astype(np.int64)
    epoch_len = np.maximum(channels.epoch_s, 3600.0)
    epoch = ((seconds + phase) / epoch_len).astype(np.int64)
    by_epoch = Draws(channels.seed, epoch.astype(np.uint64))
    by_session = Draws(account_keys, sessions.astype(np.uint64))
    v4 = np.zeros(n, dtype=np.uint32)

    fixed = kind == FIXED
    if fixed.any():
        host = 1 + by_epoch.integers("lease" + salt, 254)[fixed]
        v4[fixed] = (channels.ip4[fixed] & np.uint32(0xFFFFFF00)) | host.astype(np.uint32)
    for pool_kind, draws, field_name in ((POOL, by_session, "pool"), (STICKY, by_epoch, "sticky")):
        rows = kind == pool_kind
        if not rows.any():
            continue
        pool = channels.pool[rows]
        if pool_kind == STICKY:
            slot = by_session.integers("slot" + salt, channels.k)[rows]
            index = (
                mix64(draws.bits(field_name + salt)[rows] ^ slot.astype(np.uint64))
                % sizes[pool].astype(np.uint64)
            ).astype(np.int64)
        else:
            index = draws.subset(np.flatnonzero(rows)).integers(field_name + salt, sizes[pool])
        v4[rows] = addresses[offsets[pool] + index]

    is_v6 = kind == V6
    v6_low = np.zeros(n, dtype=np.uint64)
    if is_v6.any():
        day = (seconds // 86_400).astype(np.uint64)
        iid = mix64(account_keys ^ mix64(day))
        iid |= np.uint64(0x0001000100010001)  # no zero hextets: canonical text needs no '::'
        v6_low[is_v6] = iid[is_v6]
    return is_v6, v4, channels.v6, v6_low


def format_ips(
    is_v6: np.ndarray, v4: np.ndarray, v6_high: np.ndarray, v6_low: np.ndarray
) -> pl.Series:
    """Text addresses (dotted quad, or eight hextets without leading zeros)."""
    frame = pl.DataFrame(
        {
            "a": OCTETS.gather((v4 >> 24) & 255),
            "b": OCTETS.gather((v4 >> 16) & 255),
            "c": OCTETS.gather((v4 >> 8) & 255),
            "d": OCTETS.gather(v4 & 255),
            "v6": pl.Series(is_v6, dtype=pl.Boolean),
        }
    )
    text = frame.select(pl.concat_str(["a", "b", "c", "d"], separator=".").alias("ip"))["ip"]
    if is_v6.any():
        rows = np.flatnonzero(is_v6)
        parts = [
            HEXTETS.gather(((word >> np.uint64(shift)) & np.uint64(0xFFFF))[rows].astype(np.int64))
            for word in (v6_high, v6_low)
            for shift in (48, 32, 16, 0)
        ]
        v6_text = (
            pl.DataFrame({f"h{i}": p for i, p in enumerate(parts)})
            .select(pl.concat_str([f"h{i}" for i in range(8)], separator=":"))
            .to_series()
        )
        text = text.scatter(rows, v6_text)
    return text.alias("ip")


def v4_from_text(text: str) -> int:
    """uint32 of a dotted quad (used in tests and docs)."""
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d
