"""Behaviour cohorts: operations tied by what their accounts do, not by what they share.

A careful operation shares no card, device or address of its own. What ties its
accounts is joint behaviour: one or a few prompts that *dominate* each account's
traffic (not merely appear in it), sent at similar hours, through the same
exits, aimed at the same capabilities. When the prompt is public, legitimate
people send the very same text now and then, so its template value is a hub
that the graph (rightly) weighs as nothing. This stage looks at the accounts for
which such a value dominates, after detection and attachment:

1. **Candidates.** An account with at least ``min_exchanges`` exchanges whose
   most-sent template value (held by at least ``min_holders`` accounts) makes
   up at least ``min_dominant_share`` of its sampled prompts. That value is the
   account's *signature*; accounts are compared within the block of their
   signature only, so the work is bounded by the blocks' sizes, never by all
   pairs.
2. **Similarity.** Within a block, each pair's similarity is the cosine of
   their template shares (over values held by at least ``min_holders``
   accounts) times a weighted mean (``weights``) of three corroborating
   cosines: hour-of-day profile (UTC), IP ranges, and capability mix (coding,
   agentic, reasoning, other; hours in bins of ``hour_bin`` hours, so that
   accounts with a few dozen exchanges still compare). The same prompt alone
   never links two accounts: two people who both favour it, by day, at home,
   stay apart.
3. **Groups.** Two accounts are linked when one is among the other's
   ``neighbours`` most similar accounts of the block and their similarity is at
   least ``min_similarity`` (with ``mutual``, only when each is among the
   other's: stricter, and it leaves the sparse accounts of a large operation
   unlinked). A group is a connected component of these links with at least
   ``min_size`` accounts.
4. **Contrast.** A group is kept only when its signature is far more of its
   members' traffic than of everyone else's: the members' median share is at
   least ``min_contrast`` times the pooled share among the signature's other
   holders (those in no group). Heavy users of a popular prompt who do not act together are not a
   group; a prompt that everyone who holds it sends heavily is not a contrast.
5. **Operations.** Groups whose centroids (the same similarity on the members'
   mean profiles) reach ``merge_similarity`` are one operation (an operator
   whose accounts favour different prompts of one set). An existing cluster
   with at least ``merge_share`` of its members in one operation's groups is
   merged into it: pools of one operator that share no card or device become
   one operation. Members of the groups that were alone join it.
   A merged cluster can carry people who are nothing like the operation:
   Leiden put them there for a proxy exit and a public prompt. Values of
   firm kinds (outside ``soft_kinds``) shared inside the operation chain its
   members into units (a team sharing cards, an office sharing a domain); a
   *stray* unit holds no group member, and none of its members reaches
   ``min_member_similarity`` to the operation's centroid. It stays in the
   cluster it was in (what remains of it is scored on its own).
   *Twins*: two operators can favour the same public prompt and be alike in
   hours, exits and aims; what tells them apart is the rest of their prompts.
   With ``split_twins``, an operation whose members fall into sets that send
   disjoint other prompts (see :func:`_twins`; ``split_lift``,
   ``split_overlap``) is cut into one operation per set, each recorded with
   its own prompt and the number of twins cut from it.
6. **Chains.** An existing cluster in which two or more operations each hold
   ``min_size`` group members chains operations (through a proxy network or
   public prompts they all use). With ``split_chains`` it is split: the group
   members go to their operation, and every other member goes to the operation
   it has the most link weight to (graph ``edges``, within the cluster, three
   passes so that links reach through members already placed); members linked
   to none stay in the cluster. Members of other clusters stay where they are.

Each operation is recorded in :attr:`Cohorts.table` with the figures that make it
suspicious (signature, members' and other holders' shares, hours covered,
capability share, merged clusters), and scoring adds its ``behaviour`` signal
(:mod:`acctgraph.cluster.score`). Measured effects are in docs/benchmarks.md
("Behaviour cohorts").

Examples
--------
>>> CohortParams().neighbours
10
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from acctgraph.cluster.detect import units
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import HOUR, N_EXCHANGES, Usage, index_accounts
from acctgraph.features.ip import IP_RANGE
from acctgraph.features.kinds import PromptTemplate
from acctgraph.features.prompt import AGENTIC, CODING, REASONING
from acctgraph.graph.build import SOURCE, TARGET, WEIGHT

PARTS = ("hours", "ip", "capability")  # corroborating parts; the template cosine multiplies
SIGNATURE = "signature"
MEMBERS_SHARE = "members_share"
OTHER_HOLDERS = "other_holders"
OTHER_SHARE = "other_share"
HOURS_ACTIVE = "hours_active"
CAPABILITY_SHARE = "capability_share"
MERGED_CLUSTERS = "merged_clusters"
JOINED_ALONE = "joined_alone"
SPLIT_FROM = "split_from"
CONTRAST = "contrast"
TWINS = "twins"
OWN_PROMPT = "own_prompt"
LABEL = "_label"
_CAPABILITIES = (CODING, AGENTIC, REASONING, "other")


@dataclass(frozen=True, kw_only=True)
class CohortParams:
    """When accounts tied only by behaviour form an operation (see the module docstring).

    Parameters
    ----------
    enabled
        Switch the stage off entirely.
    min_exchanges
        Fewest exchanges of a candidate (a share needs traffic). At least 1. Default 6.
    min_holders
        A template value counts only when at least this many accounts hold it. At least 2.
    min_dominant_share
        Least share of an account's sampled prompts on its signature, in (0, 1]. Default 0.2.
    weights
        Weight of each corroborating part of the pair similarity (hours, ip,
        capability); non-negative, summing to 1.
    neighbours
        Nearest neighbours per account in its block. At least 1. Default 10.
    hour_bin
        Hours of the day per bin of the hour profile, a divisor of 24. Default 3.
    mutual
        Link only mutual nearest neighbours (default: either way).
    min_similarity
        Least pair similarity of a link, in (0, 1].
    min_size
        Fewest accounts of a group. At least 2. Default 10.
    min_contrast
        Least ratio of the members' median signature share to its other holders'
        pooled share. At least 1. Default 2.0.
    merge_similarity
        Least centroid similarity at which two groups are one operation, in (0, 1].
    merge_share
        Least share of an existing cluster's members inside an operation for the
        cluster to be merged into it, in (0, 1]. Default 0.5.
    min_member_similarity
        A unit of an operation's members (chained by shared values of firm
        kinds, those outside ``soft_kinds``) that holds none of its group
        members joins it only when one of its members reaches this similarity
        to the operation's centroid; otherwise it stays in the cluster it was
        in (see Operations). In [0, 1]; 0 keeps every member. Default 0.3.
    split_chains
        Split clusters that chain two or more operations (see Chains); needs the
        graph's ``edges``. Default true.
    split_twins
        Cut an operation whose members send disjoint sets of other prompts
        (see Operations, *Twins*). Default true.
    split_lift
        Least ratio of a prompt's holding rate among an operation's members to
        its rate among the other accounts with prompts, for it to tell twins
        apart. At least 1. Default 5.
    split_overlap
        Two such prompts exclude each other when fewer members hold both than
        this share of what independent choice gives, in (0, 1]. Default 0.5.
    split_values
        Most prompts compared per operation, those most of its members hold
        (the comparison holds a square matrix of them). At least 2. Default 200.
    batch_cells
        Pair similarities held at once: a block of ``n`` accounts is compared
        ``batch_cells // n`` rows at a time (bounds memory, about 24 bytes a cell;
        the result does not depend on it). At least 1.
    """

    enabled: bool = True
    min_exchanges: int = 6
    min_holders: int = 3
    min_dominant_share: float = 0.2
    weights: dict[str, float] = field(
        default_factory=lambda: {"hours": 0.35, "ip": 0.5, "capability": 0.15}
    )
    neighbours: int = 10
    min_similarity: float = 0.55
    min_size: int = 10
    min_contrast: float = 2.0
    merge_similarity: float = 0.65
    merge_share: float = 0.5
    min_member_similarity: float = 0.3
    batch_cells: int = 8_000_000
    split_chains: bool = True
    hour_bin: int = 3
    mutual: bool = False
    split_twins: bool = True
    split_lift: float = 5.0
    split_overlap: float = 0.5
    split_values: int = 200

    def __post_init__(self) -> None:
        if self.min_exchanges < 1:
            raise ConfigError("cohort.min_exchanges must be at least 1")
        if self.min_holders < 2:
            raise ConfigError("cohort.min_holders must be at least 2")
        for name in ("min_dominant_share", "min_similarity", "merge_similarity", "merge_share"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"cohort.{name} must be in (0, 1], got {value}")
        if not 0.0 <= self.min_member_similarity <= 1.0:
            raise ConfigError(
                f"cohort.min_member_similarity must be in [0, 1], got {self.min_member_similarity}"
            )
        if set(self.weights) != set(PARTS) or any(w < 0 for w in self.weights.values()):
            raise ConfigError(
                f"cohort.weights must give a non-negative weight to each of {PARTS}, "
                f"got {self.weights}"
            )
        if abs(sum(self.weights.values()) - 1.0) > 1e-9:
            raise ConfigError(f"cohort.weights must sum to 1, got {sum(self.weights.values())}")
        if self.neighbours < 1:
            raise ConfigError("cohort.neighbours must be at least 1")
        if self.min_size < 2:
            raise ConfigError("cohort.min_size must be at least 2")
        if self.min_contrast < 1.0:
            raise ConfigError("cohort.min_contrast must be at least 1")
        if self.batch_cells < 1:
            raise ConfigError("cohort.batch_cells must be at least 1")
        if self.split_lift < 1.0:
            raise ConfigError(f"cohort.split_lift must be at least 1, got {self.split_lift}")
        if self.split_values < 2:
            raise ConfigError(f"cohort.split_values must be at least 2, got {self.split_values}")
        if not 0.0 < self.split_overlap <= 1.0:
            raise ConfigError(f"cohort.split_overlap must be in (0, 1], got {self.split_overlap}")
        if self.hour_bin < 1 or 24 % self.hour_bin:
            raise ConfigError(f"cohort.hour_bin must divide 24, got {self.hour_bin}")


@dataclass
class Cohorts:
    """The membership after the stage and one row per behaviour operation.

    ``table``: ``_label`` (the operation's community label), ``signature`` (the
    template value its groups share), ``accounts`` (members after merging),
    ``members_share`` (median share of the signature in its members' prompts),
    ``other_holders`` and ``other_share`` (the signature's other holders and
    their mean share), ``contrast`` (the ratio of the two shares),
    ``hours_active`` (hours of the day, UTC, holding at least 1% of the members'
    exchanges), ``capability_share`` (coding, agentic or reasoning share of their
    sampled prompts), ``merged_clusters`` (existing clusters merged in) and
    ``split_from`` (clusters that chained operations it was split out of),
    ``joined_alone`` (accounts that were in no cluster before), ``twins``
    (other operations cut from the same one: they share its signature) and
    ``own_prompt`` (the prompt that tells it from its twins; null without twins).
    """

    membership: list[int]
    table: pl.DataFrame


def _empty_table() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            LABEL: pl.Int64,
            SIGNATURE: pl.String,
            "accounts": pl.Int64,
            MEMBERS_SHARE: pl.Float64,
            OTHER_HOLDERS: pl.Int64,
            OTHER_SHARE: pl.Float64,
            CONTRAST: pl.Float64,
            HOURS_ACTIVE: pl.Int64,
            CAPABILITY_SHARE: pl.Float64,
            MERGED_CLUSTERS: pl.Int64,
            SPLIT_FROM: pl.Int64,
            JOINED_ALONE: pl.Int64,
            TWINS: pl.Int64,
            OWN_PROMPT: pl.String,
        }
    )


def find_cohorts(
    membership: list[int],
    account_ids: pl.Series,
    attributes: pl.DataFrame,
    usage: Usage,
    *,
    sample_size: int,
    params: CohortParams,
    edges: pl.DataFrame | None = None,
    soft_kinds: frozenset[str] | set[str] = frozenset(),
) -> Cohorts:
    """Behaviour operations among ``account_ids`` (see the module docstring).

    Parameters
    ----------
    membership
        Community label per account (position in ``account_ids``); labels held by
        one account mean alone.
    account_ids
        The graph's accounts, in vertex order.
    attributes
        The long attribute table (keyed by ``account_id`` or by ``account_index``, positions
        in ``account_ids``); its ``prompt_template`` rows (account, value, n_events) are the
        template bands of the accounts' sampled prompts.
    usage
        For ``activity`` (exchanges, capability mix), ``hours`` and ``ip_usage``.
    sample_size
        Prompts sampled per account by the template reduction
        (:attr:`PromptTemplate.max_per_account <acctgraph.features.kinds.PromptTemplate>`):
        an account's share of a value is over ``min(n_exchanges, sample_size)`` prompts.
    params
        :class:`CohortParams`.
    edges
        The graph's ``source, target, weight`` (account positions), for splitting
        clusters that chain operations; without them no cluster is split.
    soft_kinds
        Kinds whose shared values do not keep a stray member in its operation
        (``Config.soft_kinds`` in a run); values of every other kind in
        ``attributes`` do. Empty: every shared value does.
    """
    if not params.enabled:
        return Cohorts(list(membership), _empty_table())
    if S.ACCOUNT_INDEX not in attributes.columns:
        attributes = index_accounts(attributes, account_ids).collect()
    templates = attributes.filter(pl.col(S.ATTRIBUTE_KIND) == PromptTemplate.kind)
    if templates.is_empty():
        return Cohorts(list(membership), _empty_table())
    index = pl.DataFrame({S.ACCOUNT_ID: account_ids}).with_row_index("_a")
    index = index.with_columns(pl.col("_a").cast(pl.Int64))
    shares = _shares(templates, usage, index, sample_size, params)
    if shares.is_empty():
        return Cohorts(list(membership), _empty_table())
    signature = _signatures(shares, params)
    groups = _groups(signature, shares, usage, index, params)
    if not groups:
        return Cohorts(list(membership), _empty_table())
    firm = (  # read per operation, for its members only
        attributes.lazy()
        .filter(~pl.col(S.ATTRIBUTE_KIND).is_in(sorted(soft_kinds)))
        .select(pl.col(S.ACCOUNT_INDEX).cast(pl.Int64).alias("_a"), S.ATTRIBUTE_KIND, S.VALUE)
    )
    return _operations(
        membership, groups, shares, signature, usage, index, sample_size, params, edges, firm
    )


# --- profiles ---------------------------------------------------------------------------------


def _shares(
    templates: pl.DataFrame,
    usage: Usage,
    index: pl.DataFrame,
    sample_size: int,
    params: CohortParams,
) -> pl.DataFrame:
    """``_a, value, share``: each account's share of its sampled prompts per widely held value."""
    # One row per (account, value) of a kind (acctgraph.features.attribute_table): a value's
    # rows count its holders.
    holders = templates.group_by(S.VALUE).agg(pl.len().alias("_holders"))
    accounts = (
        usage.activity.select(S.ACCOUNT_ID, N_EXCHANGES)
        .filter(pl.col(N_EXCHANGES) >= 1)
        .join(index, on=S.ACCOUNT_ID)
        .drop(S.ACCOUNT_ID)
    )
    return (
        templates.lazy()
        .select(pl.col(S.ACCOUNT_INDEX).cast(pl.Int64).alias("_a"), S.VALUE, S.N_EVENTS)
        .join(holders.lazy().filter(pl.col("_holders") >= params.min_holders), on=S.VALUE)
        .join(accounts.lazy(), on="_a")
        .select(
            "_a",
            S.VALUE,
            N_EXCHANGES,
            (pl.col(S.N_EVENTS) / pl.min_horizontal(pl.col(N_EXCHANGES), pl.lit(sample_size)))
            .clip(0.0, 1.0)
            .alias("share"),
        )
        # By account: each value's rows (one per holder) in account order, whatever the
        # order of an account's values; what reads one value's rows sums them in this order.
        .sort("_a")
        .collect()
    )


def _signatures(shares: pl.DataFrame, params: CohortParams) -> pl.DataFrame:
    """``_a, value, share``: each candidate's dominant value (ties: the smallest value)."""
    return (
        shares.filter(
            (pl.col(N_EXCHANGES) >= params.min_exchanges)
            & (pl.col("share") >= params.min_dominant_share)
        )
        .sort(["_a", "share", S.VALUE], descending=[False, True, False])
        .group_by("_a", maintain_order=True)
        .first()
        .select("_a", S.VALUE, "share")
    )


@dataclass
class _Profiles:
    """Row-normalised profile matrices of some accounts, one per part of the similarity."""

    parts: dict[str, sparse.csr_matrix]

    def similarity(self, rows: slice | np.ndarray, weights: dict[str, float]) -> np.ndarray:
        """Template cosine × the weighted mean of the corroborating cosines."""
        template = self.parts["template"]
        out = np.zeros((template[rows].shape[0], template.shape[0]))
        for name in PARTS:
            if weights[name]:
                matrix = self.parts[name]
                out += (matrix[rows] @ matrix.T).toarray() * weights[name]
        return out * (template[rows] @ template.T).toarray()


def _normalised(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def _matrix(
    frame: pl.DataFrame, row: str, column: str, value: str, n_rows: int
) -> sparse.csr_matrix:
    """A sparse ``n_rows × distinct(column)`` matrix, columns in sorted value order.

    Codes come from the sorted values and entries are sorted, so that the same
    rows in any order give the same matrix, and sums run in the same order.
    """
    coded = frame.select(
        pl.col(row).cast(pl.Int64),
        (pl.col(column).cast(pl.String).rank("dense") - 1).cast(pl.Int64).alias("_col"),
        pl.col(value).cast(pl.Float64),
    ).sort(row, "_col")
    n_cols = int(coded["_col"].max()) + 1 if coded.height else 0  # type: ignore[arg-type]
    matrix = sparse.csr_matrix(
        (coded[value].to_numpy(), (coded[row].to_numpy(), coded["_col"].to_numpy())),
        shape=(n_rows, n_cols),
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def _profiles(
    accounts: np.ndarray,
    shares: pl.DataFrame,
    usage: Usage,
    index: pl.DataFrame,
    hour_bin: int,
) -> _Profiles:
    """Profiles of ``accounts`` (vertex indices), rows in that order."""
    local = (
        pl.DataFrame({"_a": accounts})
        .with_row_index("_r")
        .with_columns(pl.col("_r").cast(pl.Int64))
    )
    ids = index.join(local, on="_a").select(S.ACCOUNT_ID, "_r")
    n = len(accounts)
    template = shares.join(local, on="_a").select("_r", S.VALUE, "share")
    hours = (
        usage.hours.join(ids, on=S.ACCOUNT_ID)
        .group_by("_r", (pl.col(HOUR).cast(pl.Int64) // hour_bin).alias(HOUR))
        .agg(pl.col(S.N_EVENTS).sum().cast(pl.Float64).sqrt())
        .with_columns(pl.col(HOUR).cast(pl.String).str.zfill(2))
    )
    ip = (
        usage.ip_usage.filter(pl.col(IP_RANGE).is_not_null())
        .join(ids, on=S.ACCOUNT_ID)
        .group_by("_r", IP_RANGE)
        .agg(pl.col(S.N_EVENTS).sum().cast(pl.Float64).sqrt())
        .sort("_r", IP_RANGE)
    )
    capability = (
        usage.activity.join(ids, on=S.ACCOUNT_ID)
        .select("_r", *[pl.col(f"n_{c}").cast(pl.Float64) for c in _CAPABILITIES])
        .unpivot(index="_r", variable_name="_c", value_name="_n")
    )
    return _Profiles(
        {
            "template": _normalised(_matrix(template, "_r", S.VALUE, "share", n)),
            "hours": _normalised(_matrix(hours, "_r", HOUR, S.N_EVENTS, n)),
            "ip": _normalised(_matrix(ip, "_r", IP_RANGE, S.N_EVENTS, n)),
            "capability": _normalised(_matrix(capability, "_r", "_c", "_n", n)),
        }
    )


# --- groups -------------------------------------------------------------------------------------


def _groups(
    signature: pl.DataFrame,
    shares: pl.DataFrame,
    usage: Usage,
    index: pl.DataFrame,
    params: CohortParams,
) -> list[np.ndarray]:
    """Connected components of nearest-neighbour links within each signature block."""
    out: list[np.ndarray] = []
    blocks = (
        signature.group_by(S.VALUE)
        .agg(pl.col("_a").sort())
        .filter(pl.col("_a").list.len() >= params.min_size)
        .sort(S.VALUE)
    )
    # The blocks' accounts' rows, selected once rather than from the whole tables per block.
    candidates = index.join(blocks.select(pl.col("_a").explode()), on="_a", how="semi")
    ids = candidates.select(S.ACCOUNT_ID)
    block_usage = dataclasses.replace(
        usage,
        hours=usage.hours.join(ids, on=S.ACCOUNT_ID, how="semi"),
        ip_usage=usage.ip_usage.join(ids, on=S.ACCOUNT_ID, how="semi"),
        activity=usage.activity.join(ids, on=S.ACCOUNT_ID, how="semi"),
    )
    block_shares = shares.join(candidates.select("_a"), on="_a", how="semi")
    for accounts in blocks["_a"].to_list():
        accounts = np.asarray(accounts, dtype=np.int64)
        profiles = _profiles(accounts, block_shares, block_usage, index, params.hour_bin)
        links = _links(profiles, len(accounts), params)
        _, component = connected_components(links, directed=False)
        sizes = np.bincount(component)
        for label in np.flatnonzero(sizes >= params.min_size):
            out.append(accounts[component == label])
    return out


def _links(profiles: _Profiles, n: int, params: CohortParams) -> sparse.csr_matrix:
    k = min(params.neighbours, n - 1)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    batch = max(1, params.batch_cells // n)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        sim = profiles.similarity(slice(start, stop), params.weights)
        sim[np.arange(stop - start), np.arange(start, stop)] = -1.0
        # the k most similar (ties: the lower index), kept when similar enough
        top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        keep = np.take_along_axis(sim, top, axis=1) >= params.min_similarity
        r = np.repeat(np.arange(start, stop), k).reshape(-1, k)
        rows.append(r[keep])
        cols.append(top[keep])
    row = np.concatenate(rows)
    col = np.concatenate(cols)
    directed = sparse.csr_matrix((np.ones(len(row)), (row, col)), shape=(n, n))
    if params.mutual:
        return directed.multiply(directed.T).tocsr()
    return (directed + directed.T).tocsr()


# --- operations ---------------------------------------------------------------------------------


def _operations(
    membership: list[int],
    groups: list[np.ndarray],
    shares: pl.DataFrame,
    signature: pl.DataFrame,
    usage: Usage,
    index: pl.DataFrame,
    sample_size: int,
    params: CohortParams,
    edges: pl.DataFrame | None,
    firm: pl.LazyFrame,
) -> Cohorts:
    sig_of = dict(signature.select("_a", S.VALUE).iter_rows())
    grouped = np.concatenate(groups)
    kept: list[tuple[np.ndarray, str, dict[str, float]]] = []
    for members in groups:
        figures = _contrast(members, sig_of[int(members[0])], shares, sample_size, grouped)
        if figures[CONTRAST] >= params.min_contrast:
            kept.append((members, sig_of[int(members[0])], figures))
    if not kept:
        return Cohorts(list(membership), _empty_table())

    # groups with similar centroids are one operation (union-find over group positions)
    parent = list(range(len(kept)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(kept) > 1:
        all_members = np.concatenate([g for g, _, _ in kept])
        which = np.repeat(np.arange(len(kept)), [len(g) for g, _, _ in kept])
        profiles = _profiles(all_members, shares, usage, index, params.hour_bin)
        centroid = {
            name: _normalised(
                sparse.csr_matrix(
                    sparse.csr_matrix(
                        (np.ones(len(which)), (which, np.arange(len(which)))),
                        shape=(len(kept), len(which)),
                    )
                    @ matrix
                )
            )
            for name, matrix in profiles.parts.items()
        }
        sim = _Profiles(centroid).similarity(slice(0, len(kept)), params.weights)
        for i in range(len(kept)):
            for j in range(i + 1, len(kept)):
                if sim[i, j] >= params.merge_similarity:
                    parent[find(j)] = find(i)

    labels = np.asarray(membership, dtype=np.int64)
    sizes = np.bincount(labels)
    roots = sorted({find(i) for i in range(len(kept))})
    parts = {root: [i for i in range(len(kept)) if find(i) == root] for root in roots}
    grouped_members = {
        root: np.unique(np.concatenate([kept[i][0] for i in parts[root]])) for root in roots
    }
    # operations that share their signature but not the rest of their prompts: each cut
    # piece is (the operation it was cut from, its members, its own prompt)
    if params.split_twins:
        holders = shares.group_by(S.VALUE).agg(pl.len().alias("_all"))
        holding = shares["_a"].n_unique()  # accounts that hold widely held values
    cut = [
        (root, piece, prompt)
        for root in roots
        for piece, prompt in (
            _twins(
                grouped_members[root],
                {kept[i][1] for i in parts[root]},
                shares,
                holders,
                holding,
                params,
            )
            if params.split_twins
            else [(grouped_members[root], None)]
        )
    ]
    parts = {r: parts[root] for r, (root, _, _) in enumerate(cut)}
    grouped_members = {r: piece for r, (_, piece, _) in enumerate(cut)}
    roots = list(range(len(cut)))
    # each existing cluster's accounts in each operation's groups
    overlap = np.zeros((len(roots), len(sizes)), dtype=np.int64)
    for r, root in enumerate(roots):
        overlap[r] = np.bincount(labels[grouped_members[root]], minlength=len(sizes))
    holds = (overlap >= params.min_size) & (sizes >= 2)
    shared_by_two = holds.sum(axis=0) >= 2  # clusters that chain two operations
    split = (
        _split_chains(labels, np.flatnonzero(shared_by_two), holds, grouped_members, roots, edges)
        if params.split_chains and edges is not None
        else {}
    )
    next_label = int(labels.max()) + 1 if len(labels) else 0
    new = labels.copy()
    rows = []
    origins = []  # the operation each recorded one was cut from
    for r, root in enumerate(roots):
        members = grouped_members[root]
        alone = members[sizes[labels[members]] < 2]
        merged = np.flatnonzero(
            (sizes >= 2) & (overlap[r] >= params.merge_share * sizes) & ~shared_by_two
        )
        taken = split.get(r, np.zeros(0, dtype=np.int64))
        everyone = np.union1d(np.union1d(alone, taken), np.flatnonzero(np.isin(labels, merged)))
        if params.min_member_similarity > 0:
            gone = _strays(everyone, members, firm, shares, usage, index, params)
            everyone = np.setdiff1d(everyone, gone)
        if len(everyone) < params.min_size:
            continue
        new[everyone] = next_label
        best = max(parts[root], key=lambda i: (len(kept[i][0]), -i))
        figures = _contrast(everyone, kept[best][1], shares, sample_size, grouped)
        rows.append(
            {
                LABEL: next_label,
                SIGNATURE: kept[best][1],
                "accounts": len(everyone),
                **figures,
                **_behaviour(everyone, usage, index),
                MERGED_CLUSTERS: len(merged),
                SPLIT_FROM: len(np.unique(labels[taken])),
                JOINED_ALONE: len(alone),
                OWN_PROMPT: cut[root][2],
            }
        )
        origins.append(cut[root][0])
        next_label += 1
    # twins: the other recorded operations cut from the same one (a part too small to be
    # recorded is not a twin; a cut that leaves one operation recorded tells nothing apart)
    counts = np.unique(origins, return_counts=True)
    twins = dict(zip(counts[0].tolist(), (counts[1] - 1).tolist(), strict=True))
    for row, origin in zip(rows, origins, strict=True):
        row[TWINS] = twins[origin]
        row[OWN_PROMPT] = row[OWN_PROMPT] if twins[origin] else None
    table = pl.DataFrame(rows, schema=_empty_table().schema) if rows else _empty_table()
    return Cohorts(new.tolist(), table)


def _twins(
    members: np.ndarray,
    own: set[str],
    shares: pl.DataFrame,
    holders: pl.DataFrame,
    holding: int,
    params: CohortParams,
) -> list[tuple[np.ndarray, str | None]]:
    """An operation's group members, cut where they favour disjoint sets of other prompts.

    Two operators can pick the same public prompt as their signature and be
    alike in everything else the stage compares; what tells them apart is the
    rest of their prompts. Values other than the operation's signatures
    (``own``) are *secondary* when their holders among the members are at
    least ``min_size`` and at least ``split_lift`` times as frequent as among
    the other accounts that hold template values (ordinary chat phrasing is as
    common inside as outside); the ``split_values`` most held are compared.
    Two secondary values *exclude* each other when fewer members hold both
    than ``split_overlap`` times what independent choice would give (when that expectation is at least one member): the
    templates of one operator are sent by the same accounts at random and
    overlap as chance says, two operators' prompts hardly overlap.
    Values that exclude none are common ground and are set aside; the others
    fall into sets, the connected components of the pairs that do not exclude
    each other. With two or more sets, each member goes to the set whose
    values make up most of its prompts (ties: the set with more holders;
    members holding none go to that largest set), and each part of at least
    ``min_size`` members is an operation; smaller parts join the largest.
    Each part comes with its *own prompt*: of its set's values, the one most of
    its members hold (None when the operation is not cut). ``holders``: each
    value's holders in ``shares`` (``value, _all``); ``holding``: the accounts
    in ``shares``.
    """
    n = len(members)
    if n < 2 * params.min_size or holding <= n:
        return [(members, None)]
    inside = shares.filter(pl.col("_a").is_in(members.tolist())).filter(
        ~pl.col(S.VALUE).is_in(sorted(own))
    )
    counts = (
        inside.group_by(S.VALUE)
        .agg(pl.len().alias("_in"))
        .join(holders, on=S.VALUE)
        .filter(pl.col("_in") >= params.min_size)
        .filter(
            pl.col("_in") / n
            >= params.split_lift * (pl.col("_all") - pl.col("_in")) / (holding - n)
        )
        .sort(["_in", S.VALUE], descending=[True, False])
        .head(params.split_values)
        .sort(S.VALUE)
    )
    if counts.height < 2:
        return [(members, None)]
    values = counts[S.VALUE].to_list()
    column = {value: j for j, value in enumerate(values)}
    position = {int(a): i for i, a in enumerate(members)}
    rows = inside.filter(pl.col(S.VALUE).is_in(values)).select("_a", S.VALUE, "share")
    r = np.array([position[int(a)] for a in rows["_a"].to_list()], dtype=np.int64)
    c = np.array([column[v] for v in rows[S.VALUE].to_list()], dtype=np.int64)
    holds = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, len(values)))
    weight = sparse.csr_matrix((rows["share"].to_numpy(), (r, c)), shape=(n, len(values)))
    both = (holds.T @ holds).toarray()
    size = np.diag(both).copy()
    expected = np.outer(size, size) / n
    excludes = (both < params.split_overlap * expected) & (expected >= 1.0)
    np.fill_diagonal(excludes, False)
    telling = np.flatnonzero(excludes.any(axis=1))
    if len(telling) < 2:
        return [(members, None)]
    alike = sparse.csr_matrix(~excludes[np.ix_(telling, telling)])
    n_sets, set_of = connected_components(alike, directed=False)
    if n_sets < 2:
        return [(members, None)]
    pick = sparse.csr_matrix(
        (np.ones(len(telling)), (telling, set_of)), shape=(len(values), n_sets)
    )
    score = (weight @ pick).toarray()
    reach = np.asarray(((holds @ pick) > 0).sum(axis=0)).ravel()
    order = np.argsort(-reach, kind="stable")  # ties and members holding none: the widest set
    part = order[np.argmax(score[:, order], axis=1)]
    per = np.bincount(part, minlength=n_sets)
    part[per[part] < params.min_size] = int(order[0])
    kept = [k for k in range(n_sets) if (part == k).any()]
    if len(kept) < 2:
        return [(members, None)]
    out = []
    for k in kept:
        mine = part == k
        own_values = telling[set_of == k]
        reach_k = np.asarray(holds[mine][:, own_values].sum(axis=0)).ravel()
        out.append((members[mine], values[int(own_values[np.argmax(reach_k)])]))
    return out


def _strays(
    everyone: np.ndarray,
    grouped: np.ndarray,
    firm: pl.LazyFrame,
    shares: pl.DataFrame,
    usage: Usage,
    index: pl.DataFrame,
    params: CohortParams,
) -> np.ndarray:
    """Members of an operation that neither its groups nor its behaviour account for.

    ``everyone``: the operation's accounts; ``grouped``: its group members;
    ``firm``: ``_a, attribute_kind, value`` of the firm kinds (``_a``: account position). Values of
    firm kinds shared inside ``everyone`` chain its members into units; a unit
    holding a group member is anchored. Every other unit leaves when none of its
    members reaches ``min_member_similarity`` to the operation's centroid (its
    group members' mean profile, as in step 5; the pair similarity of the
    module docstring): an organisation sharing a card and a domain among itself
    is not tied to an operation by that.
    """
    outside = np.setdiff1d(everyone, grouped)
    if not len(outside):
        return outside
    shared = (
        firm.filter(pl.col("_a").is_in(everyone.tolist()))
        .filter(pl.len().over(S.ATTRIBUTE_KIND, S.VALUE) >= 2)
        .collect()
        .select(
            "_a",
            pl.struct(S.ATTRIBUTE_KIND, S.VALUE).rank("dense").cast(pl.Int64).alias("_v"),
        )
    )
    # units over positions in `everyone`
    n = len(everyone)
    unit = units(np.searchsorted(everyone, shared["_a"].to_numpy()), shared["_v"].to_numpy(), n)
    anchored = np.zeros(n, dtype=bool)
    anchored[unit[np.isin(everyone, grouped)]] = True
    loose_at = np.flatnonzero(~anchored[unit])
    if not len(loose_at):
        return loose_at
    loose = everyone[loose_at]
    core = np.intersect1d(grouped, everyone)
    profiles = _profiles(np.concatenate([core, loose]), shares, usage, index, params.hour_bin)
    n_core = len(core)
    mean = np.zeros((1, n_core + len(loose)))
    mean[0, :n_core] = 1.0
    centroid = {
        name: _normalised(sparse.csr_matrix(sparse.csr_matrix(mean) @ matrix))
        for name, matrix in profiles.parts.items()
    }
    rows = slice(n_core, n_core + len(loose))
    corroboration = np.zeros(len(loose))
    for name in PARTS:
        if params.weights[name]:
            part = profiles.parts[name]
            corroboration += (part[rows] @ centroid[name].T).toarray().ravel() * params.weights[
                name
            ]
    template = profiles.parts["template"]
    similarity = corroboration * (template[rows] @ centroid["template"].T).toarray().ravel()
    # a unit stays when one of its members resembles the operation
    like = np.zeros(n, dtype=bool)
    like[unit[loose_at][similarity >= params.min_member_similarity]] = True
    return loose[~like[unit[loose_at]]]


def _split_chains(
    labels: np.ndarray,
    chained: np.ndarray,
    holds: np.ndarray,
    grouped_members: dict[int, np.ndarray],
    roots: list[int],
    edges: pl.DataFrame,
    rounds: int = 3,
) -> dict[int, np.ndarray]:
    """The accounts of clusters that chain operations, by the operation each goes to.

    Each operation's group members go to it; every other member of the cluster
    goes to the operation it has the most link weight to among those already
    assigned, in ``rounds`` passes (members linked to none stay where they are).
    """
    if not len(chained):
        return {}
    inside = np.isin(labels, chained)
    source = edges[SOURCE].to_numpy().astype(np.int64)
    target = edges[TARGET].to_numpy().astype(np.int64)
    weight = edges[WEIGHT].to_numpy().astype(np.float64)
    keep = inside[source] & inside[target] & (labels[source] == labels[target])
    n = len(labels)
    adjacency = sparse.csr_matrix((weight[keep], (source[keep], target[keep])), shape=(n, n))
    adjacency = (adjacency + adjacency.T).tocsr()
    assigned = np.full(n, -1, dtype=np.int64)
    for r, root in enumerate(roots):
        members = grouped_members[root]
        mine = members[np.isin(labels[members], chained) & holds[r, labels[members]]]
        assigned[mine] = r
    candidates = np.flatnonzero(inside)
    for _ in range(rounds):
        open_ = candidates[assigned[candidates] < 0]
        if not len(open_):
            break
        done = np.flatnonzero(assigned >= 0)
        vote = sparse.csr_matrix(
            (np.ones(len(done)), (done, assigned[done])), shape=(n, len(roots))
        )
        pull = (adjacency[open_] @ vote).toarray()
        best = np.argmax(pull, axis=1)  # ties: the first operation
        linked = pull[np.arange(len(open_)), best] > 0
        assigned[open_[linked]] = best[linked]
    return {
        r: np.flatnonzero(inside & (assigned == r))
        for r in range(len(roots))
        if (assigned == r).any()
    }


def _contrast(
    members: np.ndarray,
    value: str,
    shares: pl.DataFrame,
    sample_size: int,
    grouped: np.ndarray,
) -> dict[str, float]:
    """The members' median share of ``value`` against its other holders' pooled share.

    The other holders are those in no group (``grouped``): a group of the same
    operation is not the background it is contrasted with.
    """
    held = shares.filter(pl.col(S.VALUE) == value)
    inside = held.filter(pl.col("_a").is_in(members.tolist()))
    outside = held.filter(~pl.col("_a").is_in(np.union1d(members, grouped).tolist()))
    members_share = float(
        np.median(
            np.concatenate(
                [inside["share"].to_numpy(), np.zeros(max(0, len(members) - inside.height))]
            )
        )
    )
    prompts = outside[N_EXCHANGES].cast(pl.Float64).clip(upper_bound=sample_size).to_numpy()
    other_share = (
        float((outside["share"].to_numpy() * prompts).sum() / prompts.sum())
        if outside.height
        else 0.0
    )
    contrast = members_share / other_share if other_share > 0 else float("inf")
    return {
        MEMBERS_SHARE: round(members_share, 6),
        OTHER_HOLDERS: outside.height,
        OTHER_SHARE: round(other_share, 6),
        CONTRAST: round(min(contrast, 1e6), 6),
    }


ACTIVE_HOUR_SHARE = 0.01
"""An hour of the day is active when it holds at least this share of the exchanges."""


def hours_active(hours: pl.DataFrame) -> int:
    """Hours of the day (rows ``hour, n_events``, one per hour) holding at least
    :data:`ACTIVE_HOUR_SHARE` of the events (0 without events).

    >>> hours_active(pl.DataFrame({"hour": [1, 2, 3], "n_events": [500, 499, 1]}))
    2
    """
    total = int(hours[S.N_EVENTS].sum()) if hours.height else 0
    return hours.filter(pl.col(S.N_EVENTS) >= ACTIVE_HOUR_SHARE * total).height if total else 0


def _behaviour(members: np.ndarray, usage: Usage, index: pl.DataFrame) -> dict[str, object]:
    ids = index.filter(pl.col("_a").is_in(members.tolist())).select(S.ACCOUNT_ID)
    hours = usage.hours.join(ids, on=S.ACCOUNT_ID).group_by(HOUR).agg(pl.col(S.N_EVENTS).sum())
    active = hours_active(hours)
    activity = usage.activity.join(ids, on=S.ACCOUNT_ID)
    counts = {c: int(activity[f"n_{c}"].sum()) for c in _CAPABILITIES}
    sampled = sum(counts.values()) or 1
    capable = counts[CODING] + counts[AGENTIC] + counts[REASONING]
    return {HOURS_ACTIVE: active, CAPABILITY_SHARE: round(capable / sampled, 6)}
