"""Seeded randomness: named numpy streams and counter-based per-exchange draws.

Two mechanisms keep worlds reproducible and stable under change:

* :func:`stream` gives a ``numpy.random.Generator`` (PCG64) for a *named* part of
  the world (``"world"``, ``"individual"``, ``"op03"``...). The name, not its
  position in a list, selects the sub-stream, so adding a population leaves the
  others' draws untouched.
* :class:`Draws` gives random numbers for every exchange row as a pure function of
  ``(account key, ordinal, field)`` through the splitmix64 finaliser. An account's
  exchanges therefore do not depend on which chunk they are generated in, on the
  chunk size, or on any other account.

Examples
--------
>>> import numpy as np
>>> d = Draws(np.array([7, 7, 9], dtype=np.uint64), np.array([0, 1, 0], dtype=np.uint64))
>>> u = d.uniform("hour")
>>> bool(((u >= 0) & (u < 1)).all()), bool((u == d.uniform("hour")).all())
(True, True)
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def name_key(name: str) -> int:
    """A stable 32-bit integer for a name (CRC-32), used as a spawn key."""
    return zlib.crc32(name.encode("utf-8"))


def stream(seed: int, name: str) -> np.random.Generator:
    """The PCG64 generator of the part of the world called ``name``."""
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(name_key(name),))
    return np.random.Generator(np.random.PCG64(sequence))


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser applied elementwise to a uint64 array (wrapping arithmetic)."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z += _GOLDEN
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


class Draws:
    """Counter-based random numbers for rows identified by (account key, ordinal).

    Parameters
    ----------
    keys
        uint64 key of the row's account (drawn once per account).
    ordinals
        uint64 counter distinguishing the rows (or sessions, epochs...) of an account.
    """

    def __init__(self, keys: np.ndarray, ordinals: np.ndarray) -> None:
        with np.errstate(over="ignore"):
            self._base = mix64(keys.astype(np.uint64) ^ mix64(ordinals.astype(np.uint64)))

    def subset(self, rows: np.ndarray) -> Draws:
        """The draws of some rows only (same values as in the full set)."""
        sub = Draws.__new__(Draws)
        sub._base = self._base[rows]
        return sub

    def __len__(self) -> int:
        return len(self._base)

    def bits(self, field: str) -> np.ndarray:
        """64 random bits per row for the named field."""
        return mix64(self._base ^ np.uint64(name_key(field) * 0x2545F491))

    def uniform(self, field: str) -> np.ndarray:
        """Floats in [0, 1)."""
        return (self.bits(field) >> np.uint64(11)).astype(np.float64) * (2.0**-53)

    def integers(self, field: str, high: np.ndarray | int) -> np.ndarray:
        """Integers in [0, high) (``high`` scalar or per row, at least 1)."""
        high_arr = np.maximum(np.asarray(high, dtype=np.int64), 1)
        return np.floor(self.uniform(field) * high_arr).astype(np.int64)

    def normal(self, field: str) -> np.ndarray:
        """Standard normal draws (Box-Muller)."""
        u1 = 1.0 - self.uniform(field + ".1")
        u2 = self.uniform(field + ".2")
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def choice(self, field: str, cumulative: np.ndarray) -> np.ndarray:
        """Index drawn from a cumulative distribution (last element 1)."""
        return np.searchsorted(cumulative, self.uniform(field), side="right").astype(np.int64)


def cumulative(weights) -> np.ndarray:
    """Normalised cumulative weights for :meth:`Draws.choice` and ``Generator`` use."""
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c


def zipf_weights(n: int, exponent: float = 1.0) -> np.ndarray:
    """Weights proportional to 1 / rank**exponent for ranks 1..n."""
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
