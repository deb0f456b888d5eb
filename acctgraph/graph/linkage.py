"""Record linkage on declared accounts columns: a Fellegi-Sunter model with term-frequency weights.

Declared accounts columns (:mod:`acctgraph.features.declared`) describe the
account holder (names, addresses, phone numbers, billing details). Two records
of one holder agree on most of them, with typos; two strangers agree on a few
common ones (a given name, a suburb, a state). A flat weight per shared value
cannot tell the two apart, so these columns are compared pair by pair and the
comparisons combined as evidence, as in Fellegi and Sunter (1969) and Splink:

1. **Candidates (blocking).** Two accounts are compared only when they share the
   exact normalised value of some declared column held by at most
   ``block_cap`` accounts. A record with typos still shares most of its values
   with its twin; common values (a state, a popular name) create no candidates,
   so the work grows with the rare values, never with all pairs.
2. **Comparison levels.** For each declared column a candidate pair is
   *missing* (either value null), *exact* (equal), *close* (``fuzzy``:
   Jaro-Winkler similarity at least the threshold, via rapidfuzz; ``number``:
   within the tolerance; ``date``: within the tolerance in days, or day and
   month swapped) or *disagree*.
3. **u** (how often two random accounts reach each level) is measured on
   ``u_sample`` random pairs of accounts (seeded): EM's starting point for the
   non-matches.
4. **m and u among the candidates.** How often two records of one holder
   reach each level (m), how often two compared strangers do (u) and the share
   ``λ`` of candidates that are matches are estimated without labels by
   expectation-maximisation over the candidates' levels (from m: exact 0.9,
   close 0.05, disagree 0.05, or 0.9 / 0.1 for an exact comparison; u: the
   random pairs'; ``λ``: ``prior``). Both classes are estimated because
   candidates are not random pairs: each shares a rare value, so compared
   strangers agree far more often than random ones. With fewer than
   ``min_columns`` columns the two populations cannot be told apart: the
   configuration then uses the declared columns as shared values instead
   (:attr:`acctgraph.run.config.Config.linkage_columns`).
5. **Link strength**, against the population as in Splink: a pair's match
   weight is the sum over its columns of ``log2(m / u)`` with u the random
   pairs' rate (missing adds 0, disagreeing subtracts), plus the prior
   ``log2(λ₀ / (1 − λ₀))`` of two random accounts matching, ``λ₀ = λ ×
   candidates / all pairs`` (every match is taken to be among the candidates).
   An exact agreement is weighed by the value itself (term frequency):
   ``log2(m_exact / p_v)``, with ``p_v`` the share of the accounts holding the
   value, so agreeing on ``smith`` counts for less than on ``sondergeld``. The
   match probability is ``1 / (1 + 2^−weight)``; pairs of at least
   ``min_probability`` are linked, with that probability as the edge weight
   (times the declared columns' mean weight), provided at least
   ``min_agreements`` (3) columns agree with 4 bits or more each. So a shared
   common first name never links two accounts, and agreement on several rare
   values links them strongly.

The per-pair, per-column comparisons (level, similarity, bits) are kept in
:attr:`Links.evidence` for explanations, and the estimated model in
:attr:`Links.model` (recorded in ``run.json``).

Examples
--------
>>> import polars as pl
>>> first = ["anna", "bob", "carl", "dora", "emil", "fay", "gus", "hana", "ivo", "jan"]
>>> last = ["smith", "jones", "brown", "hill", "clark", "lopez", "novak", "weber", "rossi", "kim"]
>>> names = [f"{f} {l}" for f in first for l in last]                    # 100 people
>>> records = names + ["anna smiht"]                                     # 100 repeats 0, a typo
>>> dobs = [f"{1930 + i % 70}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(100)]
>>> dobs += [dobs[0]]
>>> towns = ["york" if i % 2 else "leeds" for i in range(100)] + ["leeds"]
>>> phones = [f"0770{i:04d}" for i in range(100)] + ["07700000"]
>>> kinds = ["column:name", "column:dob", "column:town", "column:phone"]
>>> values = pl.DataFrame({
...     "account_index": list(range(101)) * 4,
...     "attribute_kind": [k for k in kinds for _ in range(101)],
...     "value": records + dobs + towns + phones,
... })
>>> comparisons = {"column:name": ("fuzzy", 0.9), "column:dob": ("date", 0.0),
...                "column:town": ("exact", 0.0), "column:phone": ("exact", 0.0)}
>>> links = link_records(values, comparisons, n_accounts=101, params=LinkageParams())
>>> links.pairs.select("source", "target").rows()          # same dob, town and phone, name close
[(0, 100)]
>>> links.evidence.filter(pl.col("attribute_kind") == "column:name")["level"].to_list()
['close']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError

ACCOUNT_INDEX = S.ACCOUNT_INDEX
SOURCE = "source"
TARGET = "target"
PROBABILITY = "probability"
MATCH_WEIGHT = "match_weight"
LEVEL = "level"
SIMILARITY = "similarity"
BITS = "bits"
ACCOUNT_A = "account_a"
ACCOUNT_B = "account_b"
COMPARISON = "comparison"
M_PROBABILITY = "m"
U_PROBABILITY = "u"

MISSING, EXACT, CLOSE, DISAGREE = 0, 1, 2, 3
LEVEL_NAMES = ("missing", "exact", "close", "disagree")
_START_M = {EXACT: 0.9, CLOSE: 0.05, DISAGREE: 0.05}
_FLOOR = 1e-6
_CONVERGED = 1e-6  # EM stops once λ and every m move less than this in an iteration


@dataclass(frozen=True, kw_only=True)
class LinkageParams:
    """Parameters of the record-linkage model (see the module docstring).

    Parameters
    ----------
    block_cap
        A value held by at most this many accounts makes its holders candidate pairs.
    min_probability
        Candidate pairs with a match probability below this are not linked.
    prior
        EM's starting share of matches among the candidates.
    max_disagreement
        Records of one holder disagree on a declared column (both filled) at most
        this share of the time: EM's m for "disagree" is capped there. Without the
        cap, when true matches are rare among the candidates, EM can settle on a
        larger group of strangers who happen to agree on common values (a given
        name and a town) and disagree on everything else.
    pseudo_matches
        EM's m is smoothed towards its starting values as if that many matches had
        been observed at them (a maximum a posteriori estimate): with a handful of
        true matches among the candidates, an agreement level seen in none of them
        would otherwise get m = 0 and count against every later match. Negligible
        with hundreds of matches (FEBRL).
    min_agreements, min_agreement_bits
        A pair is linked only when at least ``min_agreements`` columns agree (exactly
        or closely) with at least ``min_agreement_bits`` each (an agreement 16 times
        likelier between records of one holder than between strangers): a rare
        coincidence never links, however the model was estimated, nor do two
        agreements that go together in the world (a name and the country it is
        common in, a name and the email address made from it), which the model,
        assuming columns independent, counts twice.
    min_columns
        Fewest declared accounts columns for record linkage (the model is estimated
        from their agreements); with fewer, they are shared values like a card.
    em_iterations
        Most expectation-maximisation iterations (at least 1); EM stops earlier once
        λ and every m move by less than 1e-6 in an iteration.
    u_sample
        Random account pairs on which u is measured.
    sample_seed
        Seed of that sample.
    resolution
        CPM resolution of community detection on a graph whose links all come from
        record linkage (:mod:`acctgraph.cluster.detect`): a group of records is one
        holder when its pairs' mean match probability is above this.
    """

    block_cap: int = 50
    min_probability: float = 0.5
    prior: float = 0.5
    max_disagreement: float = 0.5
    pseudo_matches: float = 10.0
    min_columns: int = 3
    min_agreements: int = 3
    min_agreement_bits: float = 4.0
    em_iterations: int = 30
    u_sample: int = 200_000
    sample_seed: int = 11
    resolution: float = 0.5

    def __post_init__(self) -> None:
        if self.block_cap < 2:
            raise ConfigError(f"linkage.block_cap must be at least 2, got {self.block_cap}")
        for name in ("min_probability", "prior", "resolution", "max_disagreement"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"linkage.{name} must be in (0, 1), got {value}")
        if self.pseudo_matches < 0:
            raise ConfigError(
                f"linkage.pseudo_matches must be non-negative, got {self.pseudo_matches}"
            )
        if self.min_agreements < 1:
            raise ConfigError(
                f"linkage.min_agreements must be at least 1, got {self.min_agreements}"
            )
        if self.min_agreement_bits < 0:
            raise ConfigError(
                f"linkage.min_agreement_bits must be non-negative, got {self.min_agreement_bits}"
            )
        if self.min_columns < 2:
            raise ConfigError(f"linkage.min_columns must be at least 2, got {self.min_columns}")
        if self.em_iterations < 1:
            raise ConfigError(f"linkage.em_iterations must be at least 1, got {self.em_iterations}")
        if self.u_sample < 100:
            raise ConfigError(f"linkage.u_sample must be at least 100, got {self.u_sample}")


@dataclass
class Links:
    """The linked pairs, the comparisons behind them and the model.

    Attributes
    ----------
    pairs
        ``source, target, probability, match_weight`` (``source < target``), the
        linked pairs only.
    evidence
        ``source, target, attribute_kind, level, similarity, bits`` for every
        column of every linked pair that is not missing.
    model
        ``attribute_kind, level, m, u`` per column and level (u: random pairs'),
        and the prior ``λ₀`` of two random accounts matching as the row of kind
        ``*`` (level ``prior``, in the m column).
    candidates
        How many pairs were compared.
    """

    pairs: pl.DataFrame
    evidence: pl.DataFrame
    model: pl.DataFrame
    candidates: int

    @classmethod
    def empty(cls) -> Links:
        return cls(
            pairs=pl.DataFrame(
                schema={
                    SOURCE: pl.UInt32,
                    TARGET: pl.UInt32,
                    PROBABILITY: pl.Float64,
                    MATCH_WEIGHT: pl.Float64,
                }
            ),
            evidence=pl.DataFrame(schema=EVIDENCE_SCHEMA),
            model=pl.DataFrame(schema=MODEL_SCHEMA),
            candidates=0,
        )


EVIDENCE_SCHEMA = {
    SOURCE: pl.UInt32,
    TARGET: pl.UInt32,
    S.ATTRIBUTE_KIND: pl.String,
    LEVEL: pl.String,
    SIMILARITY: pl.Float64,
    BITS: pl.Float64,
}
MODEL_SCHEMA = {
    S.ATTRIBUTE_KIND: pl.String,
    LEVEL: pl.String,
    M_PROBABILITY: pl.Float64,
    U_PROBABILITY: pl.Float64,
}


@dataclass
class _Column:
    """One declared column as arrays over accounts: value codes (-1 = missing) and decodings."""

    kind: str
    comparison: str
    threshold: float
    codes: np.ndarray  # int64 per account
    texts: list[str]  # per code
    holders: np.ndarray  # accounts per code
    numbers: np.ndarray | None  # per code: the number, or the day number of a date

    def levels(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Level and similarity (1.0 exact, the measured one when close or disagreeing)."""
        ca, cb = self.codes[a], self.codes[b]
        level = np.full(len(a), DISAGREE, dtype=np.int8)
        similarity = np.zeros(len(a))
        missing = (ca < 0) | (cb < 0)
        exact = ~missing & (ca == cb)
        level[missing], level[exact] = MISSING, EXACT
        similarity[exact] = 1.0
        other = np.flatnonzero(~missing & ~exact)
        if len(other) and self.comparison != "exact":
            close, measured = self._close(ca[other], cb[other])
            similarity[other] = measured
            level[other[close]] = CLOSE
        return level, similarity

    def _close(self, ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.comparison == "fuzzy":
            # Each distinct code pair once: candidates repeat the same two spellings often.
            keys, inverse = np.unique(ca * len(self.texts) + cb, return_inverse=True)
            first, second = np.divmod(keys, len(self.texts))
            scores = process.cpdist(
                [self.texts[i] for i in first],
                [self.texts[i] for i in second],
                scorer=JaroWinkler.normalized_similarity,
                workers=1,
            )
            measured = np.asarray(scores, dtype=np.float64)[inverse]
            return measured >= self.threshold, measured
        assert self.numbers is not None
        na, nb = self.numbers[ca], self.numbers[cb]
        difference = np.abs(na - nb)
        close = difference <= self.threshold
        if self.comparison == "date":
            close |= _swapped(self.texts, ca, cb)
        return close, difference


def swapped(a: str, b: str) -> bool:
    """Two ``YYYY-MM-DD`` dates equal once the day and month of one are swapped.

    Examples
    --------
    >>> swapped("1990-03-04", "1990-04-03"), swapped("1990-03-04", "1991-04-03")
    (True, False)
    """
    return a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]


def _swapped(texts: list[str], ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """:func:`swapped` for pairs of date codes."""
    return np.fromiter(
        (swapped(texts[i], texts[j]) for i, j in zip(ca, cb)), dtype=bool, count=len(ca)
    )


def _columns(
    values: pl.DataFrame, comparisons: Mapping[str, tuple[str, float]], n_accounts: int
) -> list[_Column]:
    columns = []
    for kind in sorted(comparisons):
        comparison, threshold = comparisons[kind]
        rows = values.filter(pl.col(S.ATTRIBUTE_KIND) == kind).unique(ACCOUNT_INDEX, keep="first")
        dictionary = rows.select(S.VALUE).unique().sort(S.VALUE).with_row_index("_code")
        coded = rows.join(dictionary, on=S.VALUE)
        codes = np.full(n_accounts, -1, dtype=np.int64)
        codes[coded[ACCOUNT_INDEX].to_numpy()] = coded["_code"].to_numpy()
        holders = np.bincount(codes[codes >= 0], minlength=dictionary.height)
        texts = dictionary[S.VALUE].to_list()
        numbers = None
        if comparison == "number":
            numbers = dictionary[S.VALUE].cast(pl.Float64).to_numpy()
        elif comparison == "date":
            numbers = (
                dictionary[S.VALUE].str.to_date("%Y-%m-%d").cast(pl.Int32).cast(pl.Float64)
            ).to_numpy()
        columns.append(_Column(kind, comparison, threshold, codes, texts, holders, numbers))
    return columns


def _candidates(columns: list[_Column], block_cap: int) -> np.ndarray:
    """``(n, 2)`` account pairs (a < b, sorted, distinct) sharing a value held by 2..block_cap."""
    frames = []
    for column in columns:
        if len(column.holders) == 0:  # no account holds a value of this column
            continue
        ok = (column.holders >= 2) & (column.holders <= block_cap)
        accounts = np.flatnonzero((column.codes >= 0) & ok[np.maximum(column.codes, 0)])
        if len(accounts) == 0:
            continue
        holders = pl.DataFrame({"a": accounts.astype(np.uint32), "code": column.codes[accounts]})
        frames.append(
            holders.join(holders.rename({"a": "b"}), on="code")
            .filter(pl.col("a") < pl.col("b"))
            .select("a", "b")
        )
    if not frames:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = pl.concat(frames).unique().sort("a", "b")
    return pairs.to_numpy().astype(np.int64)


def _random_pairs(n_accounts: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_accounts, size=size)
    b = rng.integers(0, n_accounts, size=size)
    keep = a != b
    return np.stack([a[keep], b[keep]], axis=1)


def _u_levels(column: _Column, sample: np.ndarray) -> dict[int, float]:
    level, _ = column.levels(sample[:, 0], sample[:, 1])
    seen = level[level != MISSING]
    total = max(len(seen), 1)
    return {lv: max(float(np.sum(seen == lv)) / total, _FLOOR) for lv in (EXACT, CLOSE, DISAGREE)}


def _em(
    levels: np.ndarray,
    start_u: list[dict[int, float]],
    start_m: list[dict[int, float]],
    prior: float,
    iterations: int,
    max_disagreement: float = 0.5,
    pseudo_matches: float = 10.0,
) -> tuple[list[dict[int, float]], float]:
    """m per column and level among the candidates, and λ, by EM (conditional independence).

    Both classes are estimated: candidates are not random pairs (each shares some
    rare value), so the non-matches among them agree far more often than random
    pairs do, and a u fixed at the random-pair rates would push every candidate
    into the match class.
    """
    n, k = levels.shape
    m = [dict(c) for c in start_m]
    u = [dict(c) for c in start_u]
    lam = prior
    if n == 0:
        return m, lam
    levels = levels.astype(np.intp)
    for _ in range(iterations):
        log_ratio = np.full(n, math.log(lam / (1 - lam)))
        for j in range(k):
            table = np.array(
                [0.0] + [math.log(m[j][lv] / u[j][lv]) for lv in (EXACT, CLOSE, DISAGREE)]
            )
            log_ratio += table[levels[:, j]]
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_ratio, -700, 700)))
        previous = (lam, [dict(c) for c in m])
        lam = float(np.clip(posterior.mean(), _FLOOR, 1 - _FLOOR))
        for j in range(k):
            matched = np.bincount(levels[:, j], weights=posterior, minlength=4)
            other = np.bincount(levels[:, j], weights=1.0 - posterior, minlength=4)
            for lv in (EXACT, CLOSE, DISAGREE):
                # MAP estimate: the starting m counts as `pseudo_matches` observed matches,
                # so that a handful of matches cannot set an agreement level's m to zero.
                m[j][lv] = max(
                    float(
                        (matched[lv] + pseudo_matches * start_m[j][lv])
                        / (matched[1:].sum() + pseudo_matches)
                    ),
                    _FLOOR,
                )
                if other[1:].sum() > 0:
                    u[j][lv] = max(float(other[lv] / other[1:].sum()), _FLOOR)
            if m[j][DISAGREE] > max_disagreement:
                # Constrained M-step: matches disagree at most this often; the rest of the
                # mass goes to the agreement levels in their estimated proportion.
                agree = m[j][EXACT] + m[j][CLOSE]
                scale = (1.0 - max_disagreement) / agree if agree > 0 else 0.0
                m[j][EXACT] = (
                    max(m[j][EXACT] * scale, _FLOOR) if agree > 0 else 1.0 - max_disagreement
                )
                m[j][CLOSE] = max(m[j][CLOSE] * scale, _FLOOR)
                m[j][DISAGREE] = max_disagreement
        change = max(
            [abs(lam - previous[0])]
            + [abs(m[j][lv] - previous[1][j][lv]) for j in range(k) for lv in m[j]]
        )
        if change < _CONVERGED:
            break
    return m, lam


def _start_m(column: _Column) -> dict[int, float]:
    """EM's starting m: exact 0.9, close 0.05 (none for an exact comparison), disagree the rest."""
    if column.comparison == "exact":
        return {EXACT: 0.9, CLOSE: _FLOOR, DISAGREE: 0.1}
    return dict(_START_M)


def link_records(
    values: pl.DataFrame,
    comparisons: Mapping[str, tuple[str, float]],
    *,
    n_accounts: int,
    params: LinkageParams,
) -> Links:
    """Compare candidate pairs on the declared columns and link the likely matches.

    Parameters
    ----------
    values
        ``account_index, attribute_kind, value``: one normalised value per account
        and declared column (the canonical text of :mod:`acctgraph.features.declared`).
    comparisons
        ``{attribute_kind: (comparison, parameter)}`` with comparison among
        ``exact``, ``fuzzy``, ``number``, ``date``.
    n_accounts
        The number of accounts (indices are below it).
    params
        :class:`LinkageParams`.
    """
    if not comparisons or n_accounts < 2:
        return Links.empty()
    columns = _columns(values, comparisons, n_accounts)
    pairs = _candidates(columns, params.block_cap)
    sample = _random_pairs(n_accounts, params.u_sample, params.sample_seed)
    u = [_u_levels(column, sample) for column in columns]
    levels = np.zeros((len(pairs), len(columns)), dtype=np.int8)
    similarity = np.zeros((len(pairs), len(columns)))
    for j, column in enumerate(columns):
        levels[:, j], similarity[:, j] = column.levels(pairs[:, 0], pairs[:, 1])
    start = [_start_m(column) for column in columns]
    m, lam = _em(
        levels,
        u,
        start,
        params.prior,
        params.em_iterations,
        params.max_disagreement,
        params.pseudo_matches,
    )
    # Scored against the population, as Splink does: u from random pairs, the term
    # frequency of each agreed value, and the prior of two random accounts matching
    # (the matches EM finds among the candidates, over all pairs).
    all_pairs = n_accounts * (n_accounts - 1) / 2
    lam_all = min(max(lam * len(pairs) / all_pairs, _FLOOR / max(all_pairs, 1.0)), 0.5)
    bits = np.zeros((len(pairs), len(columns)))
    for j, column in enumerate(columns):
        per_level = np.array([0.0] + [math.log2(m[j][lv] / u[j][lv]) for lv in (1, 2, 3)])
        bits[:, j] = per_level[levels[:, j]]
        exact = levels[:, j] == EXACT
        present = max(int(np.sum(column.holders)), 1)
        shares = column.holders / present
        frequency = np.maximum(shares[column.codes[pairs[exact, 0]]], 1.0 / present)
        bits[exact, j] = np.log2(m[j][EXACT] / frequency)
    weight = bits.sum(axis=1) + math.log2(lam_all / (1 - lam_all))
    probability = 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))
    informative = np.sum(
        (levels != MISSING) & (levels != DISAGREE) & (bits >= params.min_agreement_bits), axis=1
    )
    keep = np.flatnonzero(
        (probability >= params.min_probability) & (informative >= params.min_agreements)
    )
    linked = pl.DataFrame(
        {
            SOURCE: pairs[keep, 0].astype(np.uint32),
            TARGET: pairs[keep, 1].astype(np.uint32),
            PROBABILITY: probability[keep],
            MATCH_WEIGHT: weight[keep],
        }
    )
    evidence = pl.concat(
        [
            pl.DataFrame(
                {
                    SOURCE: pairs[keep, 0].astype(np.uint32),
                    TARGET: pairs[keep, 1].astype(np.uint32),
                    S.ATTRIBUTE_KIND: column.kind,
                    LEVEL: np.asarray(LEVEL_NAMES)[levels[keep, j]],
                    SIMILARITY: similarity[keep, j],
                    BITS: bits[keep, j],
                },
                schema=EVIDENCE_SCHEMA,
            ).filter(pl.col(LEVEL) != LEVEL_NAMES[MISSING])
            for j, column in enumerate(columns)
        ]
    ).sort(SOURCE, TARGET, S.ATTRIBUTE_KIND)
    model = pl.DataFrame(
        [
            (column.kind, LEVEL_NAMES[lv], m[j][lv], u[j][lv])
            for j, column in enumerate(columns)
            for lv in (EXACT, CLOSE, DISAGREE)
        ]
        + [("*", "prior", lam_all, None)],
        schema=MODEL_SCHEMA,
        orient="row",
    )
    return Links(pairs=linked, evidence=evidence, model=model, candidates=len(pairs))
