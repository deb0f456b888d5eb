"""Attach unlinked accounts to a cluster whose behaviour they share broadly.

The projection keeps a pair of accounts only when *its* evidence clears the
edge threshold, and hub values reach only ring neighbours. Accounts whose
behaviour is varied (scripted prompts with many slots) can share a great deal
with an operation as a whole and still fall below the threshold pair by pair,
so detection leaves them alone. This stage uses the collective evidence.

After detection, every cluster of at least ``min_cluster_size`` accounts gets a
*profile* per kind compared (the ``kinds`` passed in; the pipeline passes the
cosine kinds that are not infrastructure, by default the prompt templates,
because neighbours share infrastructure honestly): its members' strengths
summed over the values held by at least ``profile_min_members`` and at least
``profile_share`` of its members, scaled to unit length. An account linked to
no one (a singleton after detection) joins, among the clusters it is close
enough to (below), the one whose profile is most similar to its own (ties: the
lowest community label), when all of these hold:

- it holds at least ``min_values`` values of the kind that other accounts hold
  too (the graph's incidence; one popular phrasing is not behaviour);
- at least ``min_shared`` of them are in the cluster's profile (the overlap is
  broad, not one value weighted heavily);
- its cosine with the profile is at least ``min_similarity`` and at least
  ``relative_similarity`` times the median cosine of the cluster's own
  members with it (a loose cluster does not absorb accounts that are looser
  than its members).

Kinds are compared in name order; an account that qualifies on several kinds
joins on the one with the highest similarity (ties: the first). Hub values the
graph dropped are left out, accounts already in a cluster never move, and each
attachment is recorded with its similarity, the members' median and the number
of profile values shared, so an investigator can check it. Measured effects
are in docs/benchmarks.md ("Recall at full size: attaching unlinked accounts").

Examples
--------
Accounts 0-9 share most of five template bands (a cluster); account 10 shares
four of them and is linked to no one; account 11 holds one popular band only.

>>> import numpy as np, polars as pl
>>> from acctgraph.graph.build import ACCOUNT_INDEX, VALUE_INDEX, STRENGTH, HUB_ACTION
>>> rows = [(a, v) for a in range(11) for v in range(5) if (a + v) % 5 != 4 or a == 10]
>>> rows = [r for r in rows if not (r[0] == 10 and r[1] == 0)] + [(11, 0)]
>>> incidence = pl.DataFrame({ACCOUNT_INDEX: [a for a, _ in rows], VALUE_INDEX: [v for _, v in rows],
...                           STRENGTH: [0.4] * len(rows)})
>>> values = pl.DataFrame({VALUE_INDEX: range(5), "attribute_kind": ["prompt_template"] * 5,
...                        HUB_ACTION: [None] * 5})
>>> params = AttachParams(min_cluster_size=5, min_values=3, min_shared=3, min_similarity=0.2)
>>> membership = [0] * 10 + [1, 2]
>>> new, attached = attach_unlinked(membership, incidence, values, n_accounts=12,
...                                 kinds=["prompt_template"], params=params)
>>> new
[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
>>> attached.select(ACCOUNT_INDEX, "shared_values").rows()
[(10, 4)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.graph.build import ACCOUNT_INDEX, DROPPED, HUB_ACTION, STRENGTH, VALUE_INDEX
from acctgraph.graph.project import in_threads

SIMILARITY = "similarity"
MEMBERS_SIMILARITY = "members_similarity"
SHARED_VALUES = "shared_values"
_LABEL = "_label"


@dataclass(frozen=True, kw_only=True)
class AttachParams:
    """When an account linked to no one joins a cluster (see the module docstring).

    Parameters
    ----------
    enabled
        Switch attachment off entirely.
    min_cluster_size
        Only clusters of at least this many accounts get a profile.
    profile_min_members
        A value is part of a cluster's profile only when at least this many of its members
        hold it (one member is not the cluster). From 1 to ``min_cluster_size``. Default 2.
    profile_share
        ... and at least this share of its members, in (0, 1]. Default 0.05.
    min_values
        An account needs at least this many shared values of the kind to be considered.
    min_shared
        ... and at least this many of them in the cluster's profile.
    min_similarity
        Least cosine between the account and the cluster's profile.
    relative_similarity
        Least cosine as a fraction of the median cosine of the cluster's own members.
    batch
        Candidate accounts compared at once (bounds memory; the result does not depend on it).
    """

    enabled: bool = True
    min_cluster_size: int = 10
    profile_min_members: int = 2
    profile_share: float = 0.05
    min_values: int = 20
    min_shared: int = 10
    min_similarity: float = 0.25
    relative_similarity: float = 0.8
    batch: int = 20_000

    def __post_init__(self) -> None:
        if self.min_cluster_size < 2:
            raise ConfigError("attach.min_cluster_size must be at least 2")
        if not 1 <= self.profile_min_members <= self.min_cluster_size:
            raise ConfigError(
                "attach.profile_min_members must be from 1 to attach.min_cluster_size"
                f" ({self.min_cluster_size}), got {self.profile_min_members}"
            )
        if not 0.0 < self.profile_share <= 1.0:
            raise ConfigError("attach.profile_share must be in (0, 1]")
        if self.min_values < 1 or self.min_shared < 1:
            raise ConfigError("attach.min_values and attach.min_shared must be at least 1")
        if not 0.0 < self.min_similarity <= 1.0:
            raise ConfigError("attach.min_similarity must be in (0, 1]")
        if not 0.0 <= self.relative_similarity <= 1.0:
            raise ConfigError("attach.relative_similarity must be in [0, 1]")
        if self.batch < 1:
            raise ConfigError("attach.batch must be at least 1")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            ACCOUNT_INDEX: pl.Int64,
            _LABEL: pl.Int64,
            S.ATTRIBUTE_KIND: pl.String,
            SIMILARITY: pl.Float64,
            MEMBERS_SIMILARITY: pl.Float64,
            SHARED_VALUES: pl.Int64,
        }
    )


def attach_unlinked(
    membership: Sequence[int],
    incidence: pl.DataFrame,
    values: pl.DataFrame,
    *,
    n_accounts: int,
    kinds: Sequence[str],
    params: AttachParams,
    workers: int = 2,
) -> tuple[list[int], pl.DataFrame]:
    """The membership with unlinked accounts attached, and one row per attachment.

    Parameters
    ----------
    membership
        Community label per vertex (account index), as from :func:`acctgraph.cluster.detect.detect_communities`.
    incidence, values
        :attr:`AccountGraph.incidence` and :attr:`AccountGraph.values`.
    kinds
        The behavioural kinds to compare on (cosine, not infrastructure).
    workers
        Threads comparing batches of candidates at once (the result does not depend on it).

    Returns
    -------
    membership, attachments
        ``attachments``: ``account_index, _label`` (the cluster joined), ``attribute_kind,
        similarity, members_similarity, shared_values``, sorted by account index.
    """
    labels = np.asarray(membership, dtype=np.int64)
    if not params.enabled or not kinds or len(labels) == 0:
        return list(membership), _empty()
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes >= params.min_cluster_size)
    unlinked = sizes[labels] == 1
    if len(big) == 0 or not unlinked.any():
        return list(membership), _empty()
    code = np.full(len(sizes), -1, dtype=np.int64)
    code[big] = np.arange(len(big))
    cluster = code[labels]  # profile row of each account's cluster, -1 if none

    best_sim = np.zeros(n_accounts)  # each account's best similarity so far (over kinds)
    rows: list[pl.DataFrame] = []
    value_index = incidence[VALUE_INDEX].to_numpy()
    last_value = int(values.select(pl.col(VALUE_INDEX).max()).item()) + 1
    for kind in sorted(kinds):
        kind_values = values.filter(
            (pl.col(S.ATTRIBUTE_KIND) == kind) & (pl.col(HUB_ACTION).fill_null("") != DROPPED)
        )[VALUE_INDEX].to_numpy()
        if len(kind_values) == 0:
            continue
        local = np.full(last_value, -1, dtype=np.int64)
        local[kind_values] = np.arange(len(kind_values))
        taken = np.flatnonzero(local[value_index] >= 0)  # this kind's incidence rows
        rows += _attach_by_kind(
            kind,
            incidence[ACCOUNT_INDEX].to_numpy()[taken],
            local[value_index[taken]],
            incidence[STRENGTH].to_numpy()[taken],
            len(kind_values),
            cluster=cluster,
            big=big,
            sizes=sizes,
            unlinked=unlinked,
            best_sim=best_sim,
            params=params,
            workers=workers,
        )
    if not rows:
        return list(membership), _empty()
    # A later kind with a higher similarity wins (best_sim only grows): keep each account's last row.
    attachments = (
        pl.concat(rows).unique(ACCOUNT_INDEX, keep="last", maintain_order=True).sort(ACCOUNT_INDEX)
    )
    new = labels.copy()
    new[attachments[ACCOUNT_INDEX].to_numpy()] = attachments[_LABEL].to_numpy()
    return new.tolist(), attachments


def _attach_by_kind(
    kind: str,
    account: np.ndarray,
    column: np.ndarray,
    strength: np.ndarray,
    n_columns: int,
    *,
    cluster: np.ndarray,
    big: np.ndarray,
    sizes: np.ndarray,
    unlinked: np.ndarray,
    best_sim: np.ndarray,
    params: AttachParams,
    workers: int,
) -> list[pl.DataFrame]:
    """Attachments on one kind (incidence rows ``account, column, strength``, columns local to
    the kind); raises ``best_sim`` for the accounts attached."""
    n_accounts = len(cluster)
    centroid = _profiles(cluster[account], column, strength, sizes[big], n_columns, params)
    median = _members_median(centroid, cluster, account, column, strength, n_accounts)
    floor = np.maximum(params.min_similarity, params.relative_similarity * median)  # per profile
    support = centroid.copy()
    support.data = np.ones_like(support.data)
    transposed = sparse.csc_array(centroid.T)
    # Candidates: unlinked accounts holding enough values of the kind, one matrix row each.
    held = np.bincount(account, minlength=n_accounts)[:n_accounts]
    candidates = np.flatnonzero(unlinked & (held >= params.min_values))
    row_of = np.full(n_accounts, -1, dtype=np.int64)
    row_of[candidates] = np.arange(len(candidates))
    mine = row_of[account] >= 0
    matrix = sparse.csr_array(
        (strength[mine], (row_of[account[mine]], column[mine])), shape=(len(candidates), n_columns)
    )

    def closest(lo: int) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate of the batch: the most similar profile among those it is close enough to."""
        similarity = sparse.csr_array(matrix[lo : lo + params.batch] @ transposed)
        similarity.data[similarity.data < floor[similarity.indices]] = 0.0
        similarity.eliminate_zeros()
        return _row_best(similarity)

    rows = []
    starts = range(0, len(candidates), params.batch)
    # Batches are independent: two threads (scipy's products release the GIL), results in order.
    for lo, (target, value) in zip(starts, in_threads(closest, starts, workers)):
        batch = candidates[lo : lo + params.batch]
        ok = (value > 0) & (value > best_sim[batch])
        # Breadth, for the few that pass: how many of their values are in the profile.
        close = np.flatnonzero(ok)
        shared = np.zeros(len(batch), dtype=np.int64)
        if len(close):
            binary = matrix[lo : lo + params.batch][close]
            binary.data = np.ones_like(binary.data)
            shared[close] = np.asarray(binary.multiply(support[target[close]]).sum(axis=1)).ravel()
        ok &= shared >= params.min_shared
        if not ok.any():
            continue
        chosen = batch[ok]
        best_sim[chosen] = value[ok]
        rows.append(
            pl.DataFrame(
                {
                    ACCOUNT_INDEX: chosen.astype(np.int64),
                    _LABEL: big[target[ok]].astype(np.int64),
                    S.ATTRIBUTE_KIND: [kind] * len(chosen),
                    SIMILARITY: value[ok].round(6),
                    MEMBERS_SIMILARITY: median[target[ok]].round(6),
                    SHARED_VALUES: shared[ok],
                }
            )
        )
    return rows


def _profiles(
    cluster: np.ndarray,
    column: np.ndarray,
    strength: np.ndarray,
    sizes: np.ndarray,
    n_columns: int,
    params: AttachParams,
) -> sparse.csr_array:
    """Unit-norm profile per cluster (row = profile code): members' strengths summed over the
    values that at least ``profile_min_members`` and at least ``profile_share`` of the members
    hold (sorted indices)."""
    inside = cluster >= 0
    rows, columns = cluster[inside], column[inside]
    shape = (len(sizes), n_columns)
    totals = sparse.csr_array((strength[inside], (rows, columns)), shape=shape)
    holders = sparse.csr_array((np.ones(len(rows)), (rows, columns)), shape=shape)
    # Held by profile_min_members members and by profile_share of them: one member is not the cluster.
    common = sparse.csr_array(
        (holders >= params.profile_min_members).multiply(
            holders.multiply(1.0 / sizes[:, None]) >= params.profile_share
        )
    )
    centroid = sparse.csr_array(totals.multiply(common))
    centroid.eliminate_zeros()
    norm = np.sqrt(np.asarray(centroid.multiply(centroid).sum(axis=1)).ravel())
    centroid = sparse.csr_array(centroid.multiply(1.0 / np.where(norm > 0, norm, 1.0)[:, None]))
    centroid.sort_indices()
    return centroid


def _members_median(
    centroid: sparse.csr_array,
    cluster: np.ndarray,
    account: np.ndarray,
    column: np.ndarray,
    strength: np.ndarray,
    n_accounts: int,
) -> np.ndarray:
    """Median cosine of each cluster's members with its profile (0 for an empty profile)."""
    n_columns = centroid.shape[1]
    keys = (
        np.repeat(np.arange(centroid.shape[0], dtype=np.int64), np.diff(centroid.indptr))
        * n_columns
        + centroid.indices
    )  # sorted: rows ascending, indices sorted within a row
    inside = cluster[account] >= 0
    wanted = cluster[account[inside]] * n_columns + column[inside]
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)
    contribution = np.where(
        found, strength[inside] * (centroid.data[at] if len(keys) else 0.0), 0.0
    )
    cosine = np.bincount(account[inside], weights=contribution, minlength=n_accounts)[:n_accounts]
    members = np.flatnonzero(cluster >= 0)
    by_cluster = (
        pl.DataFrame({"c": cluster[members], "s": cosine[members]})
        .group_by("c")
        .agg(pl.col("s").median())
    )
    median = np.zeros(centroid.shape[0])
    median[by_cluster["c"].to_numpy()] = by_cluster["s"].to_numpy()
    return median


def _row_best(matrix: sparse.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the column of the largest entry (ties: the smallest column) and its value (0, 0 if empty)."""
    n_rows = matrix.shape[0]
    target, value = np.zeros(n_rows, dtype=np.int64), np.zeros(n_rows)
    counts = np.diff(matrix.indptr)
    filled = np.flatnonzero(counts > 0)
    if len(filled) == 0:
        return target, value
    starts = matrix.indptr[:-1][filled]
    top = np.maximum.reduceat(matrix.data, starts)
    at_top = matrix.data == np.repeat(top, counts[filled])
    columns = np.where(at_top, matrix.indices, np.iinfo(matrix.indices.dtype).max)
    target[filled] = np.minimum.reduceat(columns, starts)
    value[filled] = top
    return target, value
