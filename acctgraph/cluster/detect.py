"""Community detection: seeded Leiden on the account graph, large clusters re-split where they fall apart.

Objective
---------
:class:`DetectParams` chooses between two objectives of igraph's Leiden:

- **Modularity** (default, resolution 1.0) compares each cluster's internal
  weight with what a random graph of the same degrees would give. It has a
  resolution limit (on one connected graph it merges communities smaller than
  about ``sqrt(total edge weight)``), but the graph it runs on is the evidence
  graph of :mod:`acctgraph.graph`: pairs below ``min_edge_weight`` are dropped
  and infrastructure only corroborates, so the graph falls apart into many
  components, and Leiden never merges components that share no edge. Within a
  large operation, modularity keeps the operation together.
- **CPM** (Constant Potts Model) has no resolution limit: a group is a
  community when its internal weight per pair exceeds ``resolution``. It
  splits large, sparsely linked operations into their dense sub-batches.

docs/benchmarks.md compares the two on simulated worlds.

Separated parts
---------------
On one connected graph, modularity merges a small dense group into a large
community when a single link joins them (its resolution limit): a household
whose card and home address tie it tightly, reached by one shared VPN range,
ends up inside an operation. So any cluster larger than ``max_cluster_size``
(60 accounts: above a large household or a team of one card) is re-run alone (its own
subgraph, so its own null model), first at the same resolution and then at
doubled resolutions up to ``max_resolution_factor`` (64) times the base. A part found that way is split off only
when it is *separated* from the rest of the cluster: its conductance (weight
leaving it divided by the smaller of its volume and the rest's) is at most
``split_conductance``. Modularity run on any subgraph alone always reports
some structure, so without this gate a tightly linked operation would be
shattered; with it, a cluster that is one well-linked block stays whole and a
cluster that chains separate groups comes apart. Below ``giant_size``
(5,000), the separated parts leave only when there are at most
``max_split_parts`` (3) of them: a household or an office or two are guests
in an operation, but an operation whose teams each share a card or a VM
image, and little else, falls apart into many separated parts and is kept
whole. A separated part also stays when enough of its accounts send the
cluster's own prompts (``keep_shared_prompts``: prompt templates that few
accounts outside the cluster send) that the rest sends too, unless the part
has a distinct prompt of its own (another operator that shares a prompt with
this one). What was split, or kept, is recorded in :attr:`Communities.resplit`.

The sweep is skipped when no part *can* be separated. By Cheeger's inequality
every vertex set of a graph has conductance at least ``λ₂ / 2``, where ``λ₂``
is the second-smallest eigenvalue of its normalised Laplacian
``I − D^(−1/2) A D^(−1/2)`` (:func:`conductance_lower_bound`). When ``λ₂ / 2``
exceeds ``split_conductance`` (with a margin for rounding), Leiden could only
return parts above the threshold, so the cluster is kept without running it:
the same partition, one sparse eigenvalue problem instead of up to seven
Leiden runs.

Weak members
------------
Last, a member of a cluster of three or more whose summed link weight to the
rest of its cluster is below ``min_member_strength`` times that of the
cluster's median member is detached (left unclustered); :attr:`Communities.detached`
counts them. A cluster that a detached member held together (two households linked
only through a third party's address) is then cut into its connected parts.

Determinism
-----------
The graph is built from sorted ids. Each Leiden call runs inside
:func:`acctgraph.graph.randomness.seeded_igraph`: igraph draws from
``random.Random(seed)`` and afterwards gets back the generator it had before.
Cluster labels are then renumbered canonically (by smallest member index), so
the same input and seed always give the same partition, whatever else draws
from Python's or igraph's random numbers.

Examples
--------
>>> import igraph as ig
>>> g = ig.Graph(n=6, edges=[(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)])
>>> g.es["weight"] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1]
>>> detect_communities(g, params=DetectParams(), seed=1).membership
[0, 0, 0, 1, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import igraph as ig
import numpy as np
import polars as pl
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, eigsh

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import N_EXCHANGES, Usage
from acctgraph.graph.build import ACCOUNT_INDEX, SOURCE, TARGET, VALUE_INDEX, AccountGraph
from acctgraph.graph.randomness import seeded_igraph

OBJECTIVES = ("CPM", "modularity")


@dataclass(frozen=True, kw_only=True)
class DetectParams:
    """Leiden parameters (see the module docstring).

    Parameters
    ----------
    objective
        ``"modularity"`` (default) or ``"CPM"``.
    resolution
        Modularity: the resolution parameter (1.0 is classic modularity).
        CPM: minimum average evidence per pair inside a cluster (e.g. 0.005).
    n_iterations
        Leiden iterations (not 0); negative runs until an iteration changes
        nothing, at most :data:`MAX_ITERATIONS` (100).
    min_member_exchanges
        After detection, attachment and cohorts, a member with fewer exchanges
        than this that shares with the rest of its cluster only soft values
        (prompt templates and network addresses: the kinds many strangers
        share) is detached (:func:`detach_thin_members`); 0 detaches no one.
        Default 4.
    max_cluster_size
        Clusters above this size are examined for separated parts (see
        Separated parts). Default 60.
    max_split_parts
        A cluster of at most ``giant_size`` accounts gives up its separated parts
        only when there are at most this many; with more, the cluster is kept
        whole (see Separated parts). At least 1. Default 3.
    giant_size
        Clusters above this size give up their separated parts however many
        there are. Default 5000.
    split_conductance
        A part of a large cluster is split off only when its conductance within the
        cluster is at most this (0.1: at most a tenth of its link weight leaves it).
    max_resolution_factor
        The re-split doubles the resolution until a separated part is
        found or the resolution reaches this multiple of ``resolution`` (a
        power of two from 1 to 1024; 64 tries seven resolutions).
    beta
        Leiden's randomness in the refinement step (positive).
    min_member_strength
        After detection, a member whose summed link weight to the rest of its
        cluster is below this fraction of the cluster's median member is
        detached (left unclustered); in [0, 1], 0 detaches no one. Accounts that
        merely brush an operation (a customer of the same VPN, a developer in the
        same cloud range) hold a link or two; members of the operation hold many.
    keep_shared_prompts
        A separated part stays in its cluster when at least this share of its
        accounts send a prompt (template value) that two or more of the rest
        also send and that few accounts outside the cluster send (see
        ``exclusive_prompt_share``): the teams of one operation, each with its
        own cards, send the operation's own prompts; a household or an office
        inside an operation shares public prompts with it, not those. In
        [0, 1]; 0 keeps no part for this. Default 0.2. Needs ``prompts``
        (:func:`detect_communities`).
    exclusive_prompt_share
        A prompt is the cluster's own when at least this share of its holders
        are in the cluster, in (0, 1]. Default 0.9.
    distinct_prompt_share, distinct_prompt_ratio
        A separated part is not kept for shared prompts when it has a prompt of
        its own: one that at least ``distinct_prompt_share`` (0.5) of its
        accounts send and that the rest of the cluster sends at a rate below
        ``distinct_prompt_ratio`` (0.1) times the part's. Two operators that
        share a prompt differ in others; one operator's teams do not. Both in
        (0, 1].
    """

    objective: str = "modularity"
    resolution: float = 1.0
    n_iterations: int = -1
    max_cluster_size: int = 60
    max_split_parts: int = 3
    giant_size: int = 5000
    split_conductance: float = 0.1
    max_resolution_factor: int = 64
    beta: float = 0.01
    min_member_strength: float = 0.1
    min_member_exchanges: int = 4
    keep_shared_prompts: float = 0.2
    exclusive_prompt_share: float = 0.9
    distinct_prompt_share: float = 0.5
    distinct_prompt_ratio: float = 0.1

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"detect.objective must be one of {OBJECTIVES}, got {self.objective!r}"
            )
        if self.resolution <= 0:
            raise ConfigError(f"detect.resolution must be positive, got {self.resolution}")
        if self.n_iterations == 0:
            raise ConfigError(
                "detect.n_iterations must be positive, or negative to iterate until the "
                "partition is stable; 0 would leave every account alone"
            )
        if self.max_split_parts < 1:
            raise ConfigError(
                f"detect.max_split_parts must be at least 1, got {self.max_split_parts}"
            )
        if self.giant_size < 2:
            raise ConfigError(f"detect.giant_size must be at least 2, got {self.giant_size}")
        if self.min_member_exchanges < 0:
            raise ConfigError(
                f"detect.min_member_exchanges must be at least 0, got {self.min_member_exchanges}"
            )
        if self.max_cluster_size < 2:
            raise ConfigError(
                f"detect.max_cluster_size must be at least 2, got {self.max_cluster_size}"
            )
        if not 0.0 <= self.keep_shared_prompts <= 1.0:
            raise ConfigError(
                f"detect.keep_shared_prompts must be in [0, 1], got {self.keep_shared_prompts}"
            )
        for name in ("exclusive_prompt_share", "distinct_prompt_share", "distinct_prompt_ratio"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"detect.{name} must be in (0, 1], got {value}")
        if not 0.0 <= self.split_conductance <= 1.0:
            raise ConfigError(
                f"detect.split_conductance must be in [0, 1], got {self.split_conductance}"
            )
        factor = self.max_resolution_factor
        if factor < 1 or factor > 1024 or factor & (factor - 1):
            raise ConfigError(
                "detect.max_resolution_factor must be a power of two from 1 to 1024 (the re-split "
                f"doubles the resolution), got {factor}"
            )
        if self.beta <= 0:
            raise ConfigError(f"detect.beta must be positive, got {self.beta}")
        if not 0.0 <= self.min_member_strength <= 1.0:
            raise ConfigError(
                f"detect.min_member_strength must be in [0, 1] (0: detach no one), "
                f"got {self.min_member_strength}"
            )


@dataclass
class Communities:
    """A partition of the graph's vertices, with how it was obtained."""

    membership: list[int]
    params: DetectParams
    seed: int
    resplit: list[dict[str, object]] = field(default_factory=list)
    detached: int = 0
    attached: int = 0  # set by the pipeline after :func:`acctgraph.cluster.attach.attach_unlinked`


MAX_ITERATIONS = 100
"""Most Leiden iterations when ``n_iterations`` is negative ("until stable")."""


def _leiden(
    graph: ig.Graph,
    params: DetectParams,
    resolution: float,
    seed: int,
    initial: list[int] | None = None,
) -> list[int]:
    """Leiden's membership; "until stable" is at most :data:`MAX_ITERATIONS` iterations.

    ``initial``: a membership to start from (None: every vertex alone).

    igraph's own "until stable" loop never ends on a graph whose partition keeps
    changing (the refinement's randomness can move a vertex back and forth), so
    iterations run one call at a time, each from the previous membership, until
    one changes nothing. A stable run gives the partition igraph's loop gives.
    """
    weights = "weight" if "weight" in graph.es.attributes() else None
    with seeded_igraph(seed):
        if params.n_iterations > 0:
            partition = graph.community_leiden(
                objective_function=params.objective,
                weights=weights,
                resolution=resolution,
                beta=params.beta,
                n_iterations=params.n_iterations,
                initial_membership=initial,
            )
            return list(partition.membership)
        membership: list[int] | None = initial
        for _ in range(MAX_ITERATIONS):
            partition = graph.community_leiden(
                objective_function=params.objective,
                weights=weights,
                resolution=resolution,
                beta=params.beta,
                n_iterations=1,
                initial_membership=membership,
            )
            if membership is not None and _same_partition(membership, partition.membership):
                break
            membership = list(partition.membership)
    return list(partition.membership)


def _same_partition(a: list[int], b: list[int]) -> bool:
    return _canonical(a) == _canonical(b)


def _canonical(membership: list[int]) -> list[int]:
    relabel: dict[int, int] = {}
    out = []
    for label in membership:
        if label not in relabel:
            relabel[label] = len(relabel)
        out.append(relabel[label])
    return out


def detect_communities(
    graph: ig.Graph,
    *,
    params: DetectParams,
    seed: int,
    prompts: sparse.csr_matrix | None = None,
    initial: list[int] | None = None,
) -> Communities:
    """Leiden communities of a weighted graph, seeded, large clusters re-split.

    Parameters
    ----------
    graph
        Undirected graph; edge attribute ``weight`` used when present.
    params
        :class:`DetectParams`.
    seed
        Seed of Leiden's random choices.
    prompts
        Which prompt template values each vertex sends (vertices × values, non-zero
        where it does; every holder of a value included), for
        ``keep_shared_prompts``; None: no part is kept for its prompts.
    initial
        A membership per vertex for Leiden to start from (an earlier run's operations:
        :func:`acctgraph.cluster.track.initial_membership`); None: every vertex alone.

    Returns
    -------
    Communities
        ``membership[v]`` is vertex ``v``'s community, labels numbered by first
        appearance in vertex order.
    """
    membership = _leiden(graph, params, params.resolution, seed, initial)
    sends = _Prompts.of(prompts) if prompts is not None and params.keep_shared_prompts > 0 else None
    resplit: list[dict[str, object]] = []
    next_label = max(membership, default=-1) + 1
    groups: dict[int, list[int]] = {}
    for vertex, label in enumerate(membership):
        groups.setdefault(label, []).append(vertex)
    queue = [
        members for _, members in sorted(groups.items()) if len(members) > params.max_cluster_size
    ]
    while queue:
        members = queue.pop(0)
        sub = graph.subgraph(members)
        bound = conductance_lower_bound(sub)
        if bound > params.split_conductance + _BOUND_MARGIN:
            resplit.append(
                {
                    "size": len(members),
                    "kept": "no separated part",
                    "conductance_at_least": round(bound, 4),
                }
            )
            continue
        resolution = params.resolution
        while True:
            found, kept = _separated_parts(sub, members, params, resolution, seed, sends)
            if found is not None or resolution >= params.max_resolution_factor * params.resolution:
                break
            resolution *= 2
        by_prompts = {"kept_for_prompts": kept} if kept else {}
        if found is None:
            resplit.append(
                {
                    "size": len(members),
                    "kept": "no separated part",
                    "max_resolution": resolution,
                    **by_prompts,
                }
            )
            continue
        parts, separated = found
        resplit.append(
            {
                "size": len(members),
                "resolution": resolution,
                "parts": len(parts),
                "separated": separated[:10],
                **by_prompts,
            }
        )
        for part_members in parts:
            for vertex in part_members:
                membership[vertex] = next_label
            next_label += 1
            if len(part_members) > params.max_cluster_size and len(part_members) < len(members):
                queue.append(part_members)
    before = list(membership)
    edges = _edge_arrays(graph)
    detached = _detach_weak_members(
        graph, membership, params.min_member_strength, next_label, edges=edges
    )
    if detached:
        membership = split_broken_clusters(edges[0], before, membership)
    return Communities(
        membership=_canonical(membership),
        params=params,
        seed=seed,
        resplit=resplit,
        detached=detached,
    )


def _edge_arrays(graph: ig.Graph) -> tuple[np.ndarray, np.ndarray]:
    """Edge ends (``m × 2``) and weights (1.0 when the graph has none) as numpy arrays."""
    ends = np.asarray(graph.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    weight = (
        np.asarray(graph.es["weight"], dtype=np.float64)
        if "weight" in graph.es.attributes()
        else np.ones(len(ends))
    )
    return ends, weight


_BOUND_MARGIN = 1e-6  # far above the eigensolver's error (tol 1e-10 on eigenvalues of size ~1)


def conductance_lower_bound(graph: ig.Graph) -> float:
    """A lower bound on the conductance of every vertex set of ``graph`` (Cheeger: ``λ₂ / 2``).

    Conductance of a set ``S``: the weight of edges leaving it divided by the
    smaller of its volume and the rest's (volumes are weighted degrees), as in
    the re-split. ``λ₂`` is the second-smallest eigenvalue of the
    normalised Laplacian, computed as ``1 − μ₂`` with ``μ₂`` the second-largest
    eigenvalue of ``D^(−1/2) A D^(−1/2)`` (ARPACK, deterministic start vector).
    Returns 0.0 (no bound) for disconnected graphs, graphs with an isolated
    vertex, fewer than three vertices, or when the solver does not converge.

    >>> g = ig.Graph.Full(6)
    >>> round(conductance_lower_bound(g), 3)  # K6: λ₂ = 6/5, every set leaves at least 3/5
    0.6
    >>> conductance_lower_bound(ig.Graph(n=4, edges=[(0, 1), (2, 3)]))  # two components
    0.0
    """
    n = graph.vcount()
    if n < 3 or graph.ecount() == 0:
        return 0.0
    ends, weight = _edge_arrays(graph)
    rows, cols = np.r_[ends[:, 0], ends[:, 1]], np.r_[ends[:, 1], ends[:, 0]]
    adjacency = sparse.csr_array((np.r_[weight, weight], (rows, cols)), shape=(n, n))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    if not (degree > 0).all():
        return 0.0
    scale = 1.0 / np.sqrt(degree)
    normalised = sparse.csr_array(adjacency.multiply(scale[:, None]).multiply(scale[None, :]))
    # Deterministic start, not orthogonal to the second eigenvector in practice.
    start = np.sqrt(degree) * (1.0 + 0.5 * np.cos(np.arange(n, dtype=np.float64)))
    try:
        values = eigsh(
            normalised,
            k=2,
            which="LA",
            v0=start,
            tol=1e-10,
            maxiter=20 * n,
            return_eigenvectors=False,
        )
    except (ArpackNoConvergence, ArpackError):  # pragma: no cover - solver trouble: run the sweep
        return 0.0
    return max(0.0, (1.0 - float(np.min(values))) / 2.0)


def _separated_parts(
    sub: ig.Graph,
    members: list[int],
    params: DetectParams,
    resolution: float,
    seed: int,
    prompts: _Prompts | None = None,
) -> tuple[tuple[list[list[int]], list[dict[str, float]]] | None, int]:
    """Leiden on the cluster alone (``sub``: its subgraph, vertex ``i`` = ``members[i]``);
    parts with conductance <= ``split_conductance`` split off.

    Returns the new groups (each separated part, then the rest together) and the
    separated parts' sizes and conductances, or None when no part is separated;
    and the number of separated parts kept for their shared prompts.
    """
    part = np.asarray(_leiden(sub, params, resolution, seed), dtype=np.int64)
    k = int(part.max()) + 1 if len(part) else 0
    if k <= 1:
        return None, 0
    ends, weight = _edge_arrays(sub)
    a, b = part[ends[:, 0]], part[ends[:, 1]]
    volume = np.bincount(np.r_[a, b], weights=np.r_[weight, weight], minlength=k)
    crossing = a != b
    cut = np.bincount(
        np.r_[a[crossing], b[crossing]],
        weights=np.r_[weight[crossing], weight[crossing]],
        minlength=k,
    )
    smaller = np.minimum(volume, volume.sum() - volume)
    conductance = np.where(smaller > 0, cut / np.where(smaller > 0, smaller, 1.0), 1.0)
    separated = (conductance <= params.split_conductance) & (volume > 0)
    kept = 0
    if prompts is not None and separated.any():
        stay = separated & _own_prompts_shared(prompts, members, part, params)
        kept = int(stay.sum())
        separated &= ~stay
    if not separated.any():
        return None, kept
    if len(members) <= params.giant_size and separated.sum() > params.max_split_parts:
        return None, kept  # teams of one operation, not guests in it
    groups: dict[int, list[int]] = {}
    for vertex, p in zip(members, part.tolist()):
        groups.setdefault(p if separated[p] else -1, []).append(vertex)
    if len(groups) <= 1:
        return None, kept
    info = [
        {"size": int((part == p).sum()), "conductance": round(float(conductance[p]), 4)}
        for p in np.flatnonzero(separated)
    ]
    return (list(groups.values()), info), kept


@dataclass(frozen=True)
class _Prompts:
    """Which prompt values each vertex sends (0/1, vertices × values) and each value's holders."""

    sends: sparse.csr_matrix
    holders: np.ndarray

    @classmethod
    def of(cls, prompts: sparse.csr_matrix) -> _Prompts:
        sends = sparse.csr_matrix(prompts != 0, dtype=np.int32)
        return cls(sends, np.asarray(sends.sum(axis=0)).ravel())


def _own_prompts_shared(
    prompts: _Prompts, members: list[int], part: np.ndarray, params: DetectParams
) -> np.ndarray:
    """Per part: whether at least ``keep_shared_prompts`` of its accounts send one of the
    cluster's own prompts that two or more of the rest of the cluster send too, and
    no prompt of its own (see :class:`DetectParams`)."""
    rows = prompts.sends[np.asarray(members, dtype=np.int64)]
    columns = np.unique(rows.indices)
    k = int(part.max()) + 1
    keep = np.zeros(k, dtype=bool)
    if not len(columns):
        return keep
    held = rows[:, columns].tocsr()
    inside = np.asarray(held.sum(axis=0)).ravel()
    own = (inside >= params.exclusive_prompt_share * prompts.holders[columns]) & (inside >= 2)
    n = len(members)
    for p in range(k):
        mine_rows = held[part == p]
        size = mine_rows.shape[0]
        if not size or size == n:
            continue
        mine = np.asarray(mine_rows.sum(axis=0)).ravel()
        rest = inside - mine
        # a prompt most of the part sends and the rest hardly does: another operator's
        distinct = (mine >= params.distinct_prompt_share * size) & (
            rest / (n - size) < params.distinct_prompt_ratio * mine / size
        )
        shared = own & (rest >= 2)
        if shared.any() and not distinct.any():
            sending = np.asarray(mine_rows[:, np.flatnonzero(shared)].sum(axis=1)).ravel() > 0
            keep[p] = sending.mean() >= params.keep_shared_prompts
    return keep


def _detach_weak_members(
    graph: ig.Graph,
    membership: list[int],
    fraction: float,
    next_label: int,
    *,
    edges: tuple[np.ndarray, np.ndarray] | None = None,
) -> int:
    """Give weakly attached members a label of their own; returns how many were detached.

    A member of a cluster of three or more is detached when its summed edge weight to
    the rest of its cluster is below ``fraction`` times the cluster's median member's
    (the upper median). Strengths are summed edge by edge in edge order, so the result
    is the same as a loop over the edges would give. ``edges``: the graph's
    :func:`_edge_arrays` when the caller has them.
    """
    if fraction <= 0 or graph.ecount() == 0:
        return 0
    n = graph.vcount()
    labels = np.asarray(membership, dtype=np.int64)
    ends, weight = edges if edges is not None else _edge_arrays(graph)
    inside = labels[ends[:, 0]] == labels[ends[:, 1]]
    strength = np.bincount(ends[inside].ravel(), weights=np.repeat(weight[inside], 2), minlength=n)[
        :n
    ]
    # Upper median of each label's strengths: sort by (label, strength), take position size // 2.
    order = np.lexsort((strength, labels))
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sizes = np.diff(np.r_[starts, n])
    median = np.zeros(int(labels.max()) + 1)
    median[sorted_labels[starts]] = strength[order][starts + sizes // 2]
    size_of = np.zeros(len(median), dtype=np.int64)
    size_of[sorted_labels[starts]] = sizes
    weak = np.flatnonzero((size_of[labels] >= 3) & (strength < fraction * median[labels]))
    for offset, vertex in enumerate(weak.tolist()):  # labels are made canonical afterwards
        membership[vertex] = next_label + offset
    return len(weak)


def split_broken_clusters(ends: np.ndarray, before: list[int], after: list[int]) -> list[int]:
    """``after`` with the clusters that moving members left in pieces cut into their pieces.

    ``ends`` are the graph's links (``m × 2`` vertex indices), ``before`` and ``after``
    a membership before and after some members were moved out of their clusters (alone,
    or in groups given a label of their own). Every cluster that lost or gained members
    is cut where its links no longer join what they joined before: two households
    linked only through a third party's account, once that account leaves (or once the
    two move out together), share nothing and are two clusters. Parts that were apart
    before (joined by behaviour, not links) stay together. Of a cluster's pieces, the
    one holding the lowest vertex keeps the label; the others get new labels, in
    order of their lowest vertex.

    >>> ends = np.array([[0, 1], [2, 3], [1, 4], [4, 2]])
    >>> split_broken_clusters(ends, [0, 0, 0, 0, 0], [0, 0, 0, 0, 1])
    [0, 0, 2, 2, 1]
    >>> split_broken_clusters(ends, [0, 0, 0, 0, 0], [1, 1, 1, 1, 0])  # the four move together
    [1, 1, 2, 2, 0]
    """
    was = np.asarray(before, dtype=np.int64)
    now = np.asarray(after, dtype=np.int64)
    n = len(now)
    if n == 0 or len(ends) == 0:
        return list(after)
    changed = was != now
    if not changed.any():
        return list(after)
    top = int(max(was.max(), now.max())) + 1
    lost = np.zeros(top, dtype=bool)
    lost[was[changed]] = True
    touched = np.zeros(top, dtype=bool)
    touched[now[changed]] = True  # clusters that gained members (new labels included)
    touched[now[~changed & lost[now]]] = True  # clusters that lost members

    def parts(labels: np.ndarray) -> np.ndarray:
        inside = ends[labels[ends[:, 0]] == labels[ends[:, 1]]]
        links = sparse.coo_array(
            (np.ones(len(inside), dtype=np.int8), (inside[:, 0], inside[:, 1])), shape=(n, n)
        )
        return connected_components(links, directed=False)[1].astype(np.int64)

    vertices = np.flatnonzero(touched[now])
    part_before, part_after = parts(was)[vertices], parts(now)[vertices]
    # A group: what one piece before became in one cluster after; its pieces after are cut.
    group = part_before * np.int64(top) + now[vertices]
    order = np.lexsort((vertices, part_after, group))
    group, part_after, vertices = group[order], part_after[order], vertices[order]
    starts = np.r_[True, (group[1:] != group[:-1]) | (part_after[1:] != part_after[:-1])]
    piece_group, piece_first = group[starts], vertices[starts]
    # Of each group, the piece holding its lowest vertex keeps the label.
    by_first = np.lexsort((piece_first, piece_group))
    keeper = np.empty(len(piece_group), dtype=bool)
    keeper[by_first] = np.r_[True, piece_group[by_first][1:] != piece_group[by_first][:-1]]
    if keeper.all():
        return list(after)
    moved = np.flatnonzero(~keeper)
    moved = moved[np.argsort(piece_first[moved], kind="stable")]  # new labels in vertex order
    new_label = np.full(len(piece_group), -1, dtype=np.int64)
    new_label[moved] = np.arange(len(moved), dtype=np.int64) + int(now.max()) + 1
    relabelled = new_label[np.cumsum(starts) - 1]
    labels = now.copy()
    labels[vertices] = np.where(relabelled >= 0, relabelled, labels[vertices])
    return labels.tolist()


def detach_thin_members(
    membership: list[int],
    graph: AccountGraph,
    usage: Usage,
    *,
    soft_kinds: frozenset[str] | set[str],
    min_exchanges: int,
) -> tuple[list[int], int]:
    """Leave alone the members that a few prompts and shared addresses alone tie to a cluster.

    ``membership`` is per graph account (vertex order); ``usage.activity`` gives
    each account's exchanges; ``soft_kinds`` is ``Config.soft_kinds`` in a run.
    See :func:`_detach_thin` for the rule; a cluster that the detached members held
    together is then cut into its pieces (:func:`split_broken_clusters`). Returns the
    new membership and how many members were detached.
    """
    n_exchanges = (
        pl.DataFrame({S.ACCOUNT_ID: graph.account_ids})
        .join(usage.activity.select(S.ACCOUNT_ID, N_EXCHANGES), on=S.ACCOUNT_ID, how="left")[
            N_EXCHANGES
        ]
        .fill_null(0)
        .to_numpy()
    )
    after, detached = _detach_thin(
        membership,
        graph.incidence,
        graph.values,
        n_exchanges,
        soft_kinds=soft_kinds,
        min_exchanges=min_exchanges,
    )
    if detached:
        ends = graph.edges.select(SOURCE, TARGET).to_numpy().astype(np.int64, copy=False)
        after = split_broken_clusters(ends, membership, after)
    return after, detached


def _detach_thin(
    membership: list[int],
    incidence: pl.DataFrame,
    values: pl.DataFrame,
    n_exchanges: np.ndarray,
    *,
    soft_kinds: frozenset[str] | set[str],
    min_exchanges: int,
) -> tuple[list[int], int]:
    """Leave alone the members that a few prompts and shared addresses alone tie to a cluster.

    Within each cluster, members that share a value of a kind not in
    ``soft_kinds`` (``incidence``: ``account_index, value_index``; ``values``:
    ``value_index, attribute_kind``) are firmly tied, and firm ties chain into
    *units* (a family sharing one card, an operator's team). A unit smaller than
    its cluster is detached, and becomes a cluster of its own, when every member
    has fewer than ``min_exchanges`` exchanges (``n_exchanges`` by account
    position) and it is alone or the cluster has an active member elsewhere:
    its only ties to the rest are soft. Someone who sent two
    messages, one of them a popular prompt, through a VPN an operation also
    uses, is no evidence of the operation, nor is a quiet family that shares a
    card among itself; an account that shares a card, a device or an address
    shape with an active member is kept, however quiet.

    Returns the new membership and how many members were detached.

    >>> inc = pl.DataFrame({"account_index": [0, 1, 2, 0, 1], "value_index": [0, 0, 0, 1, 1]})
    >>> vals = pl.DataFrame({"value_index": [0, 1], "attribute_kind": ["prompt_template", "payment"]})
    >>> _detach_thin([0, 0, 0], inc, vals, np.array([2, 2, 2]),
    ...                     soft_kinds={"prompt_template"}, min_exchanges=4)
    ([0, 0, 1], 1)
    >>> _detach_thin([0, 0, 0], inc, vals, np.array([9, 2, 2]),   # no unit of thin members alone
    ...                     soft_kinds={"prompt_template"}, min_exchanges=4)
    ([0, 0, 1], 1)
    >>> _detach_thin([0, 0, 0, 0], inc, vals, np.array([2, 2, 9, 9]),  # the quiet pair leaves together
    ...                     soft_kinds={"prompt_template"}, min_exchanges=4)
    ([1, 1, 0, 0], 2)
    """
    labels = np.asarray(membership, dtype=np.int64)
    if min_exchanges <= 0 or not len(labels):
        return list(membership), 0
    sizes = np.bincount(labels)
    thin = (n_exchanges < min_exchanges) & (sizes[labels] >= 2)
    if not thin.any():
        return list(membership), 0
    # Only the clusters holding a thin member matter: their members' incidence rows.
    relevant = np.zeros(len(sizes), dtype=bool)
    relevant[labels[thin]] = True
    account = incidence[ACCOUNT_INDEX].to_numpy()
    rows = np.flatnonzero(relevant[labels][account])
    account = account[rows].astype(np.int64)
    value = incidence[VALUE_INDEX].to_numpy()[rows].astype(np.int64)
    n_values = int(values[VALUE_INDEX].max()) + 1 if values.height else 0  # type: ignore[arg-type]
    soft = np.zeros(max(n_values, 1), dtype=bool)
    soft_rows = values.filter(pl.col(S.ATTRIBUTE_KIND).is_in(sorted(soft_kinds)))
    soft[soft_rows[VALUE_INDEX].cast(pl.Int64).to_numpy()] = True
    # a value shared inside a cluster: its (cluster, value) key occurs twice or more
    key = labels[account] * max(n_values, 1) + value
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    firm = (counts[inverse] >= 2) & ~soft[value]
    # units: accounts joined through their firm (cluster, value) keys
    n = len(labels)
    unit = units(account[firm], inverse[firm], n)
    active_units = np.zeros(n, dtype=bool)
    active_units[unit[~thin & relevant[labels]]] = True
    active_clusters = np.zeros(len(sizes), dtype=bool)
    active_clusters[labels[~thin & relevant[labels]]] = True
    alone = np.bincount(unit, minlength=n)[unit] == 1
    detach = np.flatnonzero(thin & ~active_units[unit] & (alone | active_clusters[labels]))
    out = labels.copy()
    # one new label per detached unit, in order of the unit's first account (detach is sorted)
    _, first, which = np.unique(unit[detach], return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    out[detach] = labels.max() + 1 + rank[which]
    return out.tolist(), len(detach)


def units(accounts: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Each of ``n`` accounts' unit: accounts joined, directly or in a chain, by a shared key.

    ``accounts[i]`` holds key ``keys[i]`` (both non-negative integers, accounts
    below ``n``). Units are numbered from 0 to below ``n``; an account holding
    no key shared with another is a unit of its own.

    >>> units(np.array([0, 1, 1, 3]), np.array([7, 7, 2, 2]), 5).tolist()
    [0, 0, 1, 0, 2]
    """
    n_keys = int(keys.max()) + 1 if len(keys) else 0
    ties = sparse.coo_matrix(
        (np.ones(len(accounts)), (accounts, n + keys)), shape=(n + n_keys, n + n_keys)
    )
    _, unit = connected_components(ties, directed=False)
    return unit[:n]
