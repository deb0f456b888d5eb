"""Behaviour split: a cluster that holds two operations' behaviour is cut in two.

Two operators can meet in one cluster: they send the same public prompts
through the same proxy network, and modularity has no reason to part them.
What parts them is how their accounts behave: each operator runs its own
scripts, so its accounts keep its hours, its volume, its capability mix and
its address style, while the other operator's keep theirs. This stage tests
each cluster of at least ``min_cluster`` accounts for more than one such
*behaviour model*:

1. **Units.** Accounts chained by a shared value of an identity kind
   (``identity_kinds``: a card, a device, an e-mail address) are one unit and
   always move together: a team that shares a card is one operator's.
2. **Models.** A model is five independent parts fitted on its accounts: the
   hour-of-day distribution (UTC, bins of ``hour_bin`` hours), the capability
   mix (coding, agentic, reasoning, other), the client family of the user agent
   (browser, program, unknown; ``Usage.clients``, absent without a user-agent
   column), the address pattern (the e-mail
   local part's shape without its lengths, and whether the domain is free mail:
   how addresses are made, never whose, since a company's own domain would
   cut an organisation-rich cluster along company lines), and the log of the
   account's exchanges (normal). Each model is shrunk towards the cluster's
   pooled model by ``prior`` accounts' worth of it. An
   account's counts are scaled down to at most ``count_cap`` in total before
   they are scored, so that one busy account does not outweigh the others.
3. **Components.** Each unit of at least ``min_unit`` accounts (the
   ``max_units`` largest) starts a component; all other accounts start one
   more. Components are merged, closest first, while their *divergence* is
   below ``min_divergence``: the mean, over both components' accounts, of how
   much better (in log-likelihood, nats per account) an account's own
   component explains it than the other. Teams of one operator share its
   scripts and merge; two operators differ by several nats per account.
   Then every account outside the starting units (a unit as a whole) moves to
   the component that explains it best, the components are fitted again and
   merged again, ``iterations`` times.
   When that leaves one component, a second try starts the accounts outside
   the units as two components (the quarter their pooled model explains
   worst, and the rest) and keeps a cut only at ``rest_divergence``: two
   operators neither of which shares a card, a device or an address.
4. **Parts.** When at least two components hold ``min_part`` accounts, the
   cluster is cut: each of those is a part, and accounts of smaller
   components join the part that explains them best. The largest part keeps
   the cluster's label.

The stage is deterministic (no random draws; ties go to the lower index).
Each part is recorded in :attr:`Split.table`, with the divergence to the
nearest other part and the behaviour that differs most, and scoring sees each
part as a cluster of its own.

Examples
--------
>>> SplitParams().min_divergence
5.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl

from acctgraph.cluster.detect import units
from acctgraph.core import schema as S
from acctgraph.core.errors import check_parameters
from acctgraph.features.base import CLIENTS, HOUR, N_EXCHANGES, Usage, join_accounts
from acctgraph.features.email import FREE_MAIL_DOMAINS
from acctgraph.features.prompt import CAPABILITIES

_FLOOR = 0.01  # pseudo-count of every bin, so that no probability is 0
PARTS = ("hours", "capability", "client", "email_shape", "volume")
SPLIT_FROM = "split_from"
TABLE_SCHEMA = {
    "label": pl.Int64(),
    SPLIT_FROM: pl.Int64(),
    "accounts": pl.Int64(),
    "parts": pl.Int64(),
    "divergence": pl.Float64(),
    "differs_most": pl.String(),
    "median_exchanges": pl.Float64(),
    "top_hours_share": pl.Float64(),
    "top_email_shape": pl.String(),
}


@dataclass(frozen=True, kw_only=True)
class SplitParams:
    """When a cluster holds more than one behaviour model (see the module docstring).

    Parameters
    ----------
    enabled
        Switch the stage off.
    identity_kinds
        Kinds whose shared values chain accounts into units that move together.
    min_cluster
        Smallest cluster examined. At least 2. Default 20.
    min_unit
        Smallest unit that starts a component of its own. At least 1. Default 5.
    max_units
        Most units that start components (the largest). At least 1. Default 50.
    min_part
        Fewest accounts of a part. At least 1. Default 10.
    min_divergence
        Least divergence (nats per account) between two components that stay
        apart. Positive. Default 5.0.
    iterations
        Rounds of reassignment. At least 0. Default 4.
    hour_bin
        Hours per bin of the hour distribution, a divisor of 24. Default 3.
    count_cap
        Most counts of one account scored per distribution. Positive. Default 20.
    rest_divergence
        When no cut is found, the accounts outside the starting units are tried as
        two components (those their own pooled model explains worst against the
        others): two operators that share no identity at all. Such a cut needs this
        divergence, stricter than ``min_divergence``; 0 turns the second try off.
        Default 10.
    prior
        Accounts' worth of the cluster's pooled behaviour added to each model
        (shrinkage: a handful of accounts does not make a model of its own out
        of noise). At least 0. Default 5.
    """

    enabled: bool = True
    identity_kinds: tuple[str, ...] = ("payment", "device", "email")
    min_cluster: int = 20
    min_unit: int = 5
    max_units: int = 50
    min_part: int = 10
    min_divergence: float = 5.0
    iterations: int = 4
    hour_bin: int = 3
    count_cap: float = 20.0
    prior: float = 5.0
    rest_divergence: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "identity_kinds", tuple(self.identity_kinds))
        checks = (
            (self.min_cluster >= 2, "split.min_cluster must be at least 2"),
            (self.min_unit >= 1, "split.min_unit must be at least 1"),
            (self.max_units >= 1, "split.max_units must be at least 1"),
            (self.min_part >= 1, "split.min_part must be at least 1"),
            (self.min_divergence > 0, "split.min_divergence must be positive"),
            (self.iterations >= 0, "split.iterations must be at least 0"),
            (self.hour_bin >= 1 and 24 % self.hour_bin == 0, "split.hour_bin must divide 24"),
            (self.count_cap > 0, "split.count_cap must be positive"),
            (self.prior >= 0, "split.prior must be at least 0"),
            (self.rest_divergence >= 0, "split.rest_divergence must be at least 0"),
        )
        check_parameters(checks)


@dataclass(frozen=True)
class Split:
    """The membership after the split and one row per part of each cut cluster."""

    membership: list[int]
    table: pl.DataFrame


def split_by_behaviour(
    membership: list[int] | np.ndarray,
    account_ids: pl.Series,
    attributes: pl.DataFrame,
    usage: Usage,
    *,
    params: SplitParams,
) -> Split:
    """Cut the clusters of ``membership`` that hold more than one behaviour model.

    ``membership`` is a community label per account (position in ``account_ids``);
    ``attributes`` the long attribute table, keyed by ``account_id`` or by positions in
    ``account_ids`` (its ``identity_kinds`` rows make the units); ``usage`` gives ``hours``,
    ``activity`` and ``emails``. New parts get labels above every existing one, in order of
    the cut cluster's label.
    """
    labels = np.asarray(membership, dtype=np.int64)
    empty = Split(labels.tolist(), pl.DataFrame(schema=TABLE_SCHEMA))
    if not params.enabled or len(labels) == 0:
        return empty
    names, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    examined = np.flatnonzero(counts >= params.min_cluster)
    if len(examined) == 0:
        return empty
    rows = np.flatnonzero(np.isin(inverse, examined))
    profile = Profiles.of(account_ids.gather(rows), usage, params)
    unit = _units(account_ids, rows, attributes, params)
    next_label = int(labels.max()) + 1
    records: list[dict[str, object]] = []
    order = np.argsort(inverse[rows], kind="stable")
    starts = np.searchsorted(inverse[rows][order], examined)
    ends = np.searchsorted(inverse[rows][order], examined, side="right")
    for c, start, end in zip(examined, starts, ends, strict=True):
        local = order[start:end]  # positions in `rows`, ascending
        parts = _cut(profile.subset(local), unit[local], params)
        if parts is None:
            continue
        label = int(names[c])
        sizes = np.bincount(parts)
        keep = int(np.argmax(sizes))  # the largest part keeps the label (lowest on ties)
        others = [p for p in range(len(sizes)) if p != keep]
        new_labels = {keep: label} | {p: next_label + i for i, p in enumerate(others)}
        next_label += len(others)
        labels[rows[local]] = np.array([new_labels[int(p)] for p in parts], dtype=np.int64)
        records += _records(profile.subset(local), parts, new_labels, label, params)
    if not records:
        return empty
    return Split(labels.tolist(), pl.DataFrame(records, schema=TABLE_SCHEMA))


# --- profiles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profiles:
    """Per account: hour, capability and client-family counts (at most ``count_cap`` each),
    address pattern code, log of exchanges."""

    hours: np.ndarray
    capability: np.ndarray
    client: np.ndarray
    shape: np.ndarray
    volume: np.ndarray
    shape_names: tuple[str, ...]

    @classmethod
    def of(cls, ids: pl.Series, usage: Usage, params: SplitParams) -> Profiles:
        index = pl.DataFrame({S.ACCOUNT_ID: ids}).with_row_index("_i")
        n, bins = len(ids), 24 // params.hour_bin
        hours = usage.hours.lazy().join(index.lazy(), on=S.ACCOUNT_ID).collect()
        h = np.zeros((n, bins))
        np.add.at(
            h,
            (hours["_i"].to_numpy(), hours[HOUR].to_numpy().astype(np.int64) // params.hour_bin),
            hours[S.N_EVENTS].to_numpy().astype(np.float64),
        )
        per_account = (
            index.join(usage.activity, on=S.ACCOUNT_ID, how="left")
            .join(usage.clients, on=S.ACCOUNT_ID, how="left")
            .sort("_i")
        )

        def counts(names: tuple[str, ...]) -> np.ndarray:
            columns = [pl.col(f"n_{name}").fill_null(0) for name in names]
            return per_account.select(columns).to_numpy().astype(np.float64)

        volume = np.log1p(per_account[N_EXCHANGES].fill_null(0).to_numpy().astype(np.float64))
        emails = index.join(usage.emails, on=S.ACCOUNT_ID, how="left").sort("_i")
        # the local part's pattern without lengths, and whether the domain is free mail: how
        # addresses are made, not whose (an organisation's own domain names it)
        local = emails["email_shape"].str.split("@").list.first().str.replace_all(r"\d", "")
        provider = (
            pl.when(emails["email_domain"].is_in(sorted(FREE_MAIL_DOMAINS)))
            .then(pl.lit("@free"))
            .otherwise(pl.lit("@own"))
        )
        coarse = emails.select(
            pl.when(pl.col("email_shape").is_null())
            .then(pl.lit("(none)"))
            .otherwise(local + provider)
        ).to_series()
        shape_names, shape = np.unique(coarse.to_numpy().astype(str), return_inverse=True)
        return cls(
            _tempered(h, params.count_cap),
            _tempered(counts(CAPABILITIES), params.count_cap),
            _tempered(counts(CLIENTS), params.count_cap),
            shape.astype(np.int64),
            volume,
            tuple(shape_names),
        )

    def subset(self, rows: np.ndarray) -> Profiles:
        return Profiles(
            self.hours[rows],
            self.capability[rows],
            self.client[rows],
            self.shape[rows],
            self.volume[rows],
            self.shape_names,
        )


def _tempered(counts: np.ndarray, cap: float) -> np.ndarray:
    """Each row scaled down to at most ``cap`` in total."""
    total = counts.sum(axis=1, keepdims=True)
    return counts * np.minimum(1.0, cap / np.maximum(total, 1e-12))


@dataclass(frozen=True)
class Model:
    hours: np.ndarray
    capability: np.ndarray
    client: np.ndarray
    shape: np.ndarray
    mean: float
    sd: float

    @classmethod
    def fit(cls, p: Profiles, rows: np.ndarray, prior: float) -> Model:
        """The model of ``rows``, shrunk towards the pooled model of all of ``p`` by
        ``prior`` accounts' worth of its counts (so that a few accounts do not make a
        model of their own out of noise)."""
        n, k = len(rows), len(p.shape_names)
        pooled = np.bincount(p.shape, minlength=k) / len(p.shape)
        shape = np.bincount(p.shape[rows], minlength=k) + prior * pooled + _FLOOR
        v, everyone = p.volume[rows], p.volume
        mean = (v.sum() + prior * everyone.mean()) / (n + prior)
        var = (((v - mean) ** 2).sum() + prior * everyone.var()) / (n + prior)
        return cls(
            _shrunk(p.hours, rows, prior),
            _shrunk(p.capability, rows, prior),
            _shrunk(p.client, rows, prior),
            shape / shape.sum(),
            float(mean),
            max(float(var) ** 0.5, 0.5),
        )

    def parts(self, p: Profiles) -> np.ndarray:
        """Log-likelihood of each account of ``p`` under each part (accounts × PARTS)."""
        z = (p.volume - self.mean) / self.sd
        return np.column_stack(
            (
                p.hours @ np.log(self.hours),
                p.capability @ np.log(self.capability),
                p.client @ np.log(self.client),
                np.log(self.shape[p.shape]),
                -0.5 * z * z - np.log(self.sd),
            )
        )


def _shrunk(counts: np.ndarray, rows: np.ndarray, prior: float) -> np.ndarray:
    """The distribution of ``rows``' counts with ``prior`` accounts' worth of everyone's."""
    total = counts[rows].sum(axis=0) + prior * counts.mean(axis=0) + _FLOOR
    return total / total.sum()


def _units(
    account_ids: pl.Series, rows: np.ndarray, attributes: pl.DataFrame, params: SplitParams
) -> np.ndarray:
    """Unit number of each account of ``rows`` (chained by shared identity values)."""
    index = pl.DataFrame(
        {
            S.ACCOUNT_ID: account_ids.gather(rows),
            S.ACCOUNT_INDEX: pl.Series(rows, dtype=pl.UInt32),  # positions in account_ids
        }
    ).with_row_index("_i")
    held = (
        join_accounts(
            attributes.lazy().filter(
                pl.col(S.ATTRIBUTE_KIND).cast(pl.String).is_in(list(params.identity_kinds))
            ),
            index,
        )
        .select(
            "_i",
            pl.struct(pl.col(S.ATTRIBUTE_KIND).cast(pl.String), pl.col(S.VALUE).cast(pl.String))
            .rank("dense")
            .alias("_k"),
        )
        .collect()
    )
    return units(
        held["_i"].to_numpy().astype(np.int64),
        held["_k"].to_numpy().astype(np.int64),
        len(rows),
    )


# --- components -------------------------------------------------------------------------------


def _cut(p: Profiles, unit: np.ndarray, params: SplitParams) -> np.ndarray | None:
    """Part of each account (0..k-1, in order of first account), or None: one model."""
    parts = _cut_from(p, unit, params, divide_rest=False)
    if parts is None and params.rest_divergence > 0:
        strict = dataclasses.replace(params, min_divergence=params.rest_divergence)
        parts = _cut_from(p, unit, strict, divide_rest=True)
    return parts


def _cut_from(
    p: Profiles, unit: np.ndarray, params: SplitParams, *, divide_rest: bool
) -> np.ndarray | None:
    _, unit, unit_size = np.unique(unit, return_inverse=True, return_counts=True)
    big_units = np.flatnonzero(unit_size >= params.min_unit)
    big_units = big_units[np.argsort(-unit_size[big_units], kind="stable")][: params.max_units]
    component = np.full(len(unit), -1, dtype=np.int64)
    for k, u in enumerate(np.sort(big_units)):
        component[unit == u] = k
    seeded = component >= 0
    rest = np.flatnonzero(~seeded)
    if len(rest):
        component[rest] = len(big_units)
        if divide_rest and len(rest) >= 2 * params.min_part:
            # the accounts that the rest's pooled model explains worst start a component
            pooled = Model.fit(p.subset(rest), np.arange(len(rest)), 0.0)
            fit = pooled.parts(p.subset(rest)).sum(axis=1)
            worst = np.argsort(fit, kind="stable")[: max(params.min_part, len(rest) // 4)]
            component[rest[worst]] = len(big_units) + 1
    if len(np.unique(component)) < 2:
        return None
    seeds = np.flatnonzero(seeded)  # one operator's teams first, so that its model is whole
    if len(seeds):
        component[seeds] = _merge(p.subset(seeds), component[seeds], params)
    for _ in range(params.iterations):
        ks = np.unique(component)
        if len(ks) < 2:
            break
        loglik = _loglik(p, component, ks, params)
        by_unit = np.zeros((unit.max() + 1, len(ks)))
        np.add.at(by_unit, unit, loglik)
        moved = np.where(seeded, component, ks[np.argmax(by_unit, axis=1)][unit])
        component = _merge(p, moved, params)
    ks, sizes = np.unique(component, return_counts=True)
    kept = ks[sizes >= params.min_part]
    if len(kept) < 2:
        return None
    loglik = _loglik(p, component, kept, params)
    component = np.where(np.isin(component, kept), component, kept[np.argmax(loglik, axis=1)])
    _, first = np.unique(component, return_index=True)
    order = np.argsort(first, kind="stable")  # parts numbered by their first account
    renumber = np.empty(len(order), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    return renumber[np.unique(component, return_inverse=True)[1]]


def _loglik(p: Profiles, component: np.ndarray, ks: np.ndarray, params: SplitParams) -> np.ndarray:
    models = [Model.fit(p, np.flatnonzero(component == k), params.prior) for k in ks]
    return np.column_stack([m.parts(p).sum(axis=1) for m in models])


def _merge(p: Profiles, component: np.ndarray, params: SplitParams) -> np.ndarray:
    """Merge the closest components while their divergence is below ``min_divergence``."""
    component = component.copy()
    while True:
        ks, inverse, sizes = np.unique(component, return_inverse=True, return_counts=True)
        if len(ks) < 2:
            return component
        divergence = _divergence(_loglik(p, component, ks, params), inverse, sizes)
        np.fill_diagonal(divergence, np.inf)
        x, y = np.unravel_index(int(np.argmin(divergence)), divergence.shape)
        if divergence[x, y] >= params.min_divergence:
            return component
        component[component == ks[max(x, y)]] = ks[min(x, y)]


def _divergence(loglik: np.ndarray, inverse: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Symmetric mean log-likelihood advantage of each component's own model (k × k)."""
    means = np.zeros((len(sizes), loglik.shape[1]))
    np.add.at(means, inverse, loglik)
    means /= sizes[:, None]  # means[x, y]: mean log-likelihood of x's accounts under y
    own = np.diag(means)
    gap = own[:, None] - means  # gap[x, y]: how much better x's accounts fit x than y
    return 0.5 * (gap + gap.T)


def gap_by_part(
    scores: np.ndarray, mine: np.ndarray, theirs: np.ndarray, q: int, r: int
) -> np.ndarray:
    """Per part of :data:`PARTS`, how much better two groups' own models explain them than
    each other's (nats per account, symmetric); the sum is their divergence.

    ``scores`` is accounts × models × PARTS (:meth:`Model.parts` stacked); ``mine`` and
    ``theirs`` select the accounts of models ``q`` and ``r``.
    """
    return 0.5 * (
        (scores[mine, q] - scores[mine, r]).mean(axis=0)
        + (scores[theirs, r] - scores[theirs, q]).mean(axis=0)
    )


def _records(
    p: Profiles, parts: np.ndarray, labels: dict[int, int], label: int, params: SplitParams
) -> list[dict[str, object]]:
    k = int(parts.max()) + 1
    models = [Model.fit(p, np.flatnonzero(parts == q), params.prior) for q in range(k)]
    by_part = np.stack([m.parts(p) for m in models], axis=1)  # accounts × parts × PARTS
    records = []
    for q in range(k):
        mine = parts == q
        others = [r for r in range(k) if r != q]
        # the nearest other part, by the symmetric divergence, and the behaviour that differs most
        gaps = [gap_by_part(by_part, mine, parts == r, q, r) for r in others]
        nearest = int(np.argmin([g.sum() for g in gaps]))
        gap = gaps[nearest]
        top_hours = np.sort(models[q].hours)[::-1][: max(1, 8 // params.hour_bin)].sum()
        records.append(
            {
                "label": labels[q],
                SPLIT_FROM: label,
                "accounts": int(mine.sum()),
                "parts": k,
                "divergence": round(float(gap.sum()), 3),
                "differs_most": PARTS[int(np.argmax(gap))],
                "median_exchanges": float(np.median(np.expm1(p.volume[mine]))),
                "top_hours_share": round(float(top_hours), 3),
                "top_email_shape": p.shape_names[int(np.argmax(models[q].shape))],
            }
        )
    return records
