"""From the long attribute table to a weighted account graph.

Steps, each a polars expression over integer ids:

1. **Dictionaries.** Accounts and values get integer ids from sorted tables,
   so vertex order (and therefore Leiden's result) does not depend on input
   order. Values held by a single account link no one and get no id (for
   cosine kinds they still count in the account's norm, step 2).
2. **Strength.** Each (account, value) link gets a strength ``s``, and a value
   adds ``kind_weight × s_a × s_b`` to each pair of its holders. How ``s`` is
   computed depends on the kind's similarity (:mod:`acctgraph.features.kinds`):

   - *shared* kinds: ``s = (d - 1) ** (-alpha / 2)`` for a value held by ``d``
     accounts, so the pair gets ``kind_weight / (d - 1) ** alpha``.
     ``alpha = 1`` is Newman's collaboration weighting (each account receives
     ``weight_kind`` in total from the value, however many share it);
     ``alpha = 0`` ignores specificity. ``alpha`` is set per kind (``alphas``),
     falling back to :attr:`GraphParams.alpha`.
   - *cosine* kinds: TF-IDF profiles. A value's term is
     ``x = ln(1 + n_events) × ln(K / d)``, with ``K`` the accounts holding the
     kind at all; ``s = x / sqrt(Σ x² + (cosine_prior × ln K) ** 2)``, the sum
     over all the account's values of the kind. A pair's contribution summed
     over the kind is ``kind_weight`` × the cosine of the two (shrunk) profiles.
3. **Hubs.** Per kind, values held by more than ``hub_cap`` accounts are not
   expanded into all their pairs. Their holders are laid out in
   ``ring_orders`` pseudo-random orders that depend on the *account only*
   (a multiplicative hash of its index), and each holder is linked to the
   next ``ring_neighbours`` holders in each order. Because the orders are the
   same for every value, two members of a large operation that share many hub
   values are neighbours for all of them, and the contributions add up on the
   same pair as they would in the full clique; the work grows linearly with
   the hub's degree, never with its square. Hub values also held by more than
   ``drop_share`` of the accounts that have the kind at all are dropped
   entirely (a carrier's NAT, a popular phrasing). Both lists are kept in
   :attr:`AccountGraph.hubs`, which a run writes to ``graph/hubs.parquet`` and
   summarises in ``run.json``.
4. **Projection** (:func:`acctgraph.graph.project.project`). Contributions are
   summed per account pair and kind; per-kind crumbs below
   ``min_edge_weight / 20`` are dropped. *Infrastructure* kinds (IPs, ranges,
   co-activity) only corroborate: a pair's weight is ``other + min(infra,
   corroboration_base + corroboration_factor × other)``. Pairs below
   ``min_edge_weight`` are dropped. The bipartite incidence stays available
   for explanations and views.

Examples
--------
>>> import polars as pl
>>> attrs = pl.DataFrame({
...     "account_id": ["a", "b", "c", "c"],
...     "attribute_kind": ["payment", "payment", "payment", "ip"],
...     "value": ["card1", "card1", "card2", "1.2.3.4"],
...     "n_events": [1, 1, 1, 4],
... })
>>> g = build_graph(attrs, weights={"payment": 1.0, "ip": 0.5}, hub_caps={}, params=GraphParams())
>>> g.edges.rows()
[(0, 1, 1.0)]
>>> g.account_ids.to_list()
['a', 'b', 'c']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import igraph as ig
import numpy as np
import polars as pl
from scipy import sparse

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.core.frames import ACCOUNT_KEY, account_key, account_keys
from acctgraph.core.memory import part_label
from acctgraph.graph.linkage import PROBABILITY, LinkageParams, Links, link_records
from acctgraph.graph.project import (  # column names shared with the projection, defined there
    ACCOUNT_INDEX,
    DEFAULT_PAIR_BUDGET,
    HUB_ACTION,
    KIND_CODE,
    MAX_RING_ORDERS,
    RING,
    SOURCE,
    STRENGTH,
    TARGET,
    VALUE_INDEX,
    WEIGHT,
    project,
)

N_ACCOUNTS = "n_accounts"
VALUE_WEIGHT = "value_weight"
KIND_WEIGHT = "kind_weight"
INFRASTRUCTURE = "infrastructure"
SHARED = "shared"
COSINE = "cosine"
DROPPED = "dropped"
_NORM_SCALE = float(1 << 32)


@dataclass(frozen=True, kw_only=True)
class GraphParams:
    """Parameters of graph building (see the module docstring).

    Parameters
    ----------
    alpha
        Specificity exponent of shared kinds without their own (``alphas`` of
        :func:`build_graph`): pair weight = kind weight / (holders - 1) ** alpha.
    min_edge_weight
        Account pairs with a summed weight below this are not linked.
    ring_neighbours
        For hub values, each holder links to the next this-many holders in each order.
    ring_orders
        Number of independent account orders used for hub rings, from 1 to
        :data:`~acctgraph.graph.project.MAX_RING_ORDERS` (4), the number of distinct
        orders the account hash provides.
    drop_share
        Hub values held by more than this share of the accounts having the
        kind are dropped.
    corroboration_base, corroboration_factor
        Infrastructure kinds (IPs, ranges, co-activity) only corroborate: a
        pair's infrastructure weight counts up to ``corroboration_base +
        corroboration_factor × (its other evidence)``. Two strangers behind one
        VPN exit or cloud gateway get at most the base, below the edge
        threshold; two accounts that share a card or templates *and* a proxy
        pool keep most of both.
    cosine_prior
        Shrinkage of cosine kinds: every profile's norm gets an extra component of
        ``cosine_prior × ln(holders of the kind)``, as if each account also held
        a private value. An account seen a handful of times cannot look identical
        to another; one with hundreds of events is barely affected.
    """

    alpha: float = 0.5
    min_edge_weight: float = 0.3
    ring_neighbours: int = 5
    ring_orders: int = 2
    drop_share: float = 0.05
    cosine_prior: float = 1.0
    corroboration_base: float = 0.25
    corroboration_factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 2.0:
            raise ConfigError(f"graph.alpha must be in [0, 2], got {self.alpha}")
        if self.min_edge_weight < 0:
            raise ConfigError(
                f"graph.min_edge_weight must be non-negative, got {self.min_edge_weight}"
            )
        if self.ring_neighbours < 1:
            raise ConfigError(
                f"graph.ring_neighbours must be at least 1, got {self.ring_neighbours}"
            )
        if not 1 <= self.ring_orders <= MAX_RING_ORDERS:
            raise ConfigError(
                f"graph.ring_orders must be between 1 and {MAX_RING_ORDERS} (the number of "
                f"distinct account orders; more would repeat an order), got {self.ring_orders}"
            )
        if not 0.0 < self.drop_share <= 1.0:
            raise ConfigError(f"graph.drop_share must be in (0, 1], got {self.drop_share}")
        if self.cosine_prior < 0:
            raise ConfigError(f"graph.cosine_prior must be non-negative, got {self.cosine_prior}")
        if self.corroboration_base < 0:
            raise ConfigError(
                f"graph.corroboration_base must be non-negative, got {self.corroboration_base}"
            )
        if self.corroboration_factor < 0:
            raise ConfigError(
                f"graph.corroboration_factor must be non-negative, got {self.corroboration_factor}"
            )


@dataclass
class AccountGraph:
    """The weighted account graph and the tables it was built from.

    Attributes
    ----------
    account_ids
        Sorted account ids; position = vertex id.
    values
        ``value_index, attribute_kind, value, n_accounts, kind_weight, value_weight,
        hub_action, infrastructure`` for every value held by two or more accounts. ``value_weight``
        is the kind weight discounted by the value's specificity (shared kinds:
        ``(holders - 1) ** -alpha``; cosine kinds: IDF relative to its maximum).
    incidence
        ``account_index, value_index, n_events, strength``: the bipartite edges;
        a pair's contribution from a value is ``kind_weight × strength_a × strength_b``.
    edges
        ``source, target, weight`` with ``source < target``: the projection.
    hubs
        ``attribute_kind, value, n_accounts, hub_cap, hub_action``: the values
        that were sparsified (``ring``) or dropped.
    projected_edges
        How many pairs the shared values link (before record links are added).
    links
        The record-linkage pairs of declared accounts columns
        (:mod:`acctgraph.graph.linkage`), whose probabilities are part of ``edges``.
    """

    account_ids: pl.Series
    values: pl.DataFrame
    incidence: pl.DataFrame
    edges: pl.DataFrame
    hubs: pl.DataFrame
    links: Links = field(default_factory=Links.empty)
    projected_edges: int = 0

    @property
    def linkage_only(self) -> bool:
        """True when there are record links and no other evidence links any pair."""
        return self.links.pairs.height > 0 and self.projected_edges == 0

    def to_igraph(self) -> ig.Graph:
        """The projection as a weighted undirected igraph ``Graph`` (vertex attribute ``name``)."""
        graph = ig.Graph(
            n=len(self.account_ids),
            edges=list(zip(self.edges[SOURCE].to_list(), self.edges[TARGET].to_list())),
        )
        graph.es[WEIGHT] = self.edges[WEIGHT].to_list()
        graph.vs["name"] = self.account_ids.to_list()
        return graph

    def kind_matrix(self, kind: str) -> sparse.csr_matrix:
        """Which values of ``kind`` each account holds: accounts (vertex order) × the
        kind's values (in value-index order), 1 where it holds one. Only values held by
        two or more accounts are in the graph, so a column sums to its value's holders."""
        codes = self.values.filter(pl.col(S.ATTRIBUTE_KIND) == kind).select(VALUE_INDEX)
        rows = (
            self.incidence.join(codes, on=VALUE_INDEX)
            .select(ACCOUNT_INDEX, VALUE_INDEX)
            .with_columns((pl.col(VALUE_INDEX).rank("dense") - 1).alias("_column"))
        )
        n_columns = int(rows["_column"].max()) + 1 if rows.height else 0  # type: ignore[arg-type]
        return sparse.csr_matrix(
            (
                np.ones(rows.height, dtype=np.int8),
                (rows[ACCOUNT_INDEX].to_numpy(), rows["_column"].to_numpy()),
            ),
            shape=(len(self.account_ids), n_columns),
        )

    def to_networkx(self):
        """The projection as a ``networkx.Graph`` keyed by account id."""
        import networkx as nx

        graph = nx.Graph()
        names = self.account_ids.to_list()
        graph.add_nodes_from(names)
        graph.add_weighted_edges_from((names[s], names[t], w) for s, t, w in self.edges.iter_rows())
        return graph


def build_graph(
    attributes: pl.DataFrame,
    *,
    weights: Mapping[str, float],
    hub_caps: Mapping[str, int],
    params: GraphParams,
    similarities: Mapping[str, str] | None = None,
    infrastructure: frozenset[str] | set[str] = frozenset(),
    alphas: Mapping[str, float] | None = None,
    account_ids: pl.Series | None = None,
    linkage: Mapping[str, tuple[str, float]] | None = None,
    linkage_params: LinkageParams | None = None,
    partitions: int = 4,
    pair_budget: int = DEFAULT_PAIR_BUDGET,
    ring_memory: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> AccountGraph:
    """Build the account graph from the long attribute table.

    Parameters
    ----------
    attributes
        ``account_id, attribute_kind, value, n_events`` (see :mod:`acctgraph.core.schema`),
        or keyed by ``account_index`` (positions in ``account_ids``, which must then be given:
        :func:`~acctgraph.features.attribute_table` with ``account_ids``).
    weights
        Evidence weight per kind (kinds absent here weigh 1.0).
    hub_caps
        Holders above which a value of that kind is a hub (absent: 100).
    params
        :class:`GraphParams`.
    similarities
        ``"shared"`` or ``"cosine"`` per kind (absent: shared); see
        :mod:`acctgraph.features.kinds`.
    infrastructure
        Kinds whose weight only corroborates other evidence.
    alphas
        Specificity exponent per shared kind (absent: ``params.alpha``).
    account_ids
        The account universe; defaults to the accounts present in ``attributes``.
    linkage
        Declared accounts columns compared record against record,
        ``{attribute_kind: (comparison, parameter)}``: their values stay in
        ``values`` and ``incidence`` (for explanations) but link accounts only
        through :func:`~acctgraph.graph.linkage.link_records`, whose match
        probabilities, times the kind's weight, are added to the edges.
    linkage_params
        :class:`~acctgraph.graph.linkage.LinkageParams` (defaults if None).
    partitions, pair_budget, ring_memory
        How the work is split (a run's memory plan, :mod:`acctgraph.core.memory`): the
        per-row work runs on this many hash partitions of the values, each projection
        worker makes at most ``pair_budget`` raw pairs at once, and the hub rings' pairs
        go to temporary files beyond ``ring_memory`` bytes (None: no limit). The graph
        does not depend on any of them.
    progress
        Called with each step's name (``graph: value counts (part 2 of 4, about 9 s
        left)``, ``graph: projection``).
    """
    similarities = similarities or {}
    indexed = S.ACCOUNT_INDEX in attributes.columns
    if account_ids is None:
        if indexed:
            raise ValueError("an attribute table keyed by account_index needs account_ids")
        account_ids = attributes[S.ACCOUNT_ID].unique()
    account_ids = account_ids.cast(pl.String).unique().sort().rename(S.ACCOUNT_ID)
    account_table = account_ids.to_frame().with_row_index(ACCOUNT_INDEX)

    kinds = sorted(set(attributes[S.ATTRIBUTE_KIND].unique().to_list()))
    kind_table = pl.DataFrame(
        {S.ATTRIBUTE_KIND: kinds}, schema={S.ATTRIBUTE_KIND: pl.String}
    ).with_columns(
        pl.col(S.ATTRIBUTE_KIND)
        .replace_strict(dict(weights), default=1.0, return_dtype=pl.Float64)
        .alias("_kind_weight"),
        pl.col(S.ATTRIBUTE_KIND)
        .replace_strict(dict(hub_caps), default=100, return_dtype=pl.Int64)
        .alias("_hub_cap"),
        (
            pl.col(S.ATTRIBUTE_KIND).replace_strict(
                dict(similarities), default=SHARED, return_dtype=pl.String
            )
            == COSINE
        ).alias("_cosine"),
        pl.col(S.ATTRIBUTE_KIND).is_in(sorted(infrastructure)).alias(INFRASTRUCTURE),
        pl.col(S.ATTRIBUTE_KIND)
        .replace_strict(dict(alphas or {}), default=params.alpha, return_dtype=pl.Float64)
        .alias("_alpha"),
    )
    # Values are keyed by integers: a categorical value (the attribute table's values are
    # categorical) by one 64-bit key, its kind code above its category code (one column
    # groups and joins about twice as fast as two; made per partition); others by kind and
    # two independent 64-bit hashes of the text (a collision would need both to collide:
    # ~n²/2^129). Grouping and joins touch integers only. Equal values share a partition
    # (``_k1 % partitions``), so each partition's value counts are final; the per-row work
    # runs one partition at a time, in two passes (counts and norms, then the incidence once
    # every norm and value id is known), so only one partition's per-row tables are alive at
    # once. Ids come from sorting the shared values' (kind, value) texts, so they do not
    # depend on the hashes or the partitions, and neither does any number: norms are exact
    # integer sums.
    kind_code = {kind: code for code, kind in enumerate(kinds)}
    # One narrow row per attribute row: account index, kind code (Enum codes are positions
    # in the sorted kinds, as kind_code), the value's code (or first hash), events, and the
    # row number.
    coded = isinstance(attributes.schema[S.VALUE], (pl.Categorical, pl.Enum))
    keys = ["_key"] if coded else [KIND_CODE, "_k1", "_k2"]
    key_columns = keys if KIND_CODE in keys else [KIND_CODE, *keys]
    narrow: list[pl.Expr] = [
        (
            pl.col(S.VALUE).to_physical().cast(pl.UInt32) if coded else pl.col(S.VALUE).hash(seed=1)
        ).alias("_k1"),
        pl.col(S.ATTRIBUTE_KIND).cast(pl.Enum(kinds)).to_physical().cast(pl.UInt8).alias(KIND_CODE),
        pl.col(S.N_EVENTS),
    ]
    if indexed:  # already positions in account_ids
        narrowed = (
            attributes.lazy()
            .select(pl.col(ACCOUNT_INDEX).cast(account_table.schema[ACCOUNT_INDEX]), *narrow)
            .with_row_index("_row")
        )
    else:
        narrowed = (
            attributes.lazy()
            .select(account_key(), *narrow)
            .with_row_index("_row")
            .join(account_keys(account_ids).with_row_index(ACCOUNT_INDEX).lazy(), on=ACCOUNT_KEY)
        )
    base = narrowed.select("_row", ACCOUNT_INDEX, KIND_CODE, "_k1", S.N_EVENTS).collect()
    del narrowed
    n_kinds = len(kinds)
    # Accounts holding each kind: (account, kind) pairs are distinct across account partitions.
    holders = (
        pl.concat(
            [
                part.select(
                    KIND_CODE,
                    (
                        pl.col(ACCOUNT_INDEX).cast(pl.UInt64) * n_kinds
                        + pl.col(KIND_CODE).cast(pl.UInt64)
                    ).alias("_pair"),
                )
                .group_by(KIND_CODE)
                .agg(pl.col("_pair").n_unique().alias("_kind_holders"))
                for part in _partitions(base, ACCOUNT_INDEX, partitions)
            ]
        )
        .group_by(KIND_CODE)
        .agg(pl.col("_kind_holders").sum())
    )
    kind_props = kind_table.with_columns(
        # kind_table's rows are `kinds` in order (replace_strict with an empty mapping
        # returns strings, whatever return_dtype says)
        pl.Series(KIND_CODE, [kind_code[k] for k in kinds], dtype=pl.UInt8)
    ).join(holders, on=KIND_CODE)
    holders_of_kind = kind_props.select(KIND_CODE, "_kind_holders")
    n = pl.col(N_ACCOUNTS).cast(pl.Float64)
    idf = (pl.col("_kind_holders").cast(pl.Float64) / n).log()
    x = (pl.col(S.N_EVENTS).cast(pl.Float64).log1p() * pl.col("_idf")).alias("_x")
    # Cosine norms (over all of an account's values of the kind, private ones included) sum
    # x² in fixed point (2^-32 units): an exact integer sum is the same in any row order and
    # any partitioning. One slot per (account, kind).
    squares = (pl.col("_x").pow(2) * _NORM_SCALE).round().cast(pl.Int64)
    square_sums = np.zeros(len(account_ids) * n_kinds, dtype=np.int64)
    slot = (
        pl.col(ACCOUNT_INDEX).cast(pl.Int64) * n_kinds + pl.col(KIND_CODE).cast(pl.Int64)
    ).alias("_slot")

    step = _Steps(progress, partitions)
    shared_parts = []

    def with_keys(part: pl.DataFrame, text: pl.Series) -> pl.DataFrame:
        """``part`` with the rest of its value keys: ``_key`` (kind code above category code)
        for categorical values, else ``_k2``, a second hash of the text (``text``: the column).
        Made one partition at a time: the narrow table keeps four bytes a row for the code."""
        if coded:
            return part.with_columns(
                (
                    pl.col(KIND_CODE).cast(pl.UInt64) * (1 << 32) + pl.col("_k1").cast(pl.UInt64)
                ).alias("_key")
            )
        return part.with_columns(text.gather(part["_row"]).hash(seed=2).alias("_k2"))

    for part in step.parts("graph: value counts and norms", _partitions(base, "_k1", partitions)):
        keyed = with_keys(part, attributes[S.VALUE])
        counts = (
            keyed.group_by(keys)
            .agg(
                pl.len().alias(N_ACCOUNTS),
                pl.col("_row").first(),
                *([] if KIND_CODE in keys else [pl.col(KIND_CODE).first()]),
            )
            .join(holders_of_kind, on=KIND_CODE)
            .with_columns(idf.alias("_idf"))
        )
        rows = keyed.select(ACCOUNT_INDEX, *key_columns, S.N_EVENTS).join(
            counts.select(*keys, "_idf"), on=keys
        )
        del keyed
        sums = rows.with_columns(x).group_by(slot).agg(squares.sum().alias("_squares"))
        square_sums[sums["_slot"].to_numpy()] += sums["_squares"].to_numpy()
        shared_parts.append(
            counts.filter(pl.col(N_ACCOUNTS) >= 2).select(*key_columns, N_ACCOUNTS, "_row")
        )
        del rows, sums, counts
    shared = pl.concat(shared_parts).join(kind_props.drop(S.ATTRIBUTE_KIND), on=KIND_CODE)
    del shared_parts

    # The dictionary of shared values: text gathered from one representative row each.
    values = (
        shared.with_columns(
            attributes[S.ATTRIBUTE_KIND].gather(shared["_row"]).cast(pl.String),
            attributes[S.VALUE].gather(shared["_row"]).cast(pl.String),
        )
        .with_columns(pl.concat_str(S.ATTRIBUTE_KIND, pl.lit("\x00"), S.VALUE).alias("_order"))
        .sort("_order")
        .drop("_order")
        .with_row_index(VALUE_INDEX)
        .with_columns(
            pl.when(pl.col("_cosine"))
            .then(
                pl.col("_kind_weight")
                * idf
                / pl.col("_kind_holders").cast(pl.Float64).log().clip(1e-9, None)
            )
            .otherwise(pl.col("_kind_weight") / (n - 1.0).clip(1.0, None).pow(pl.col("_alpha")))
            .alias(VALUE_WEIGHT),
            pl.when(
                (n > pl.col("_hub_cap"))
                & (n > params.drop_share * pl.col("_kind_holders").cast(pl.Float64))
            )
            .then(pl.lit(DROPPED))
            .when(n > pl.col("_hub_cap"))
            .then(pl.lit(RING))
            .otherwise(pl.lit(None, pl.String))
            .alias(HUB_ACTION),
        )
    )
    del shared
    hubs = (
        values.filter(pl.col(HUB_ACTION).is_not_null())
        .select(
            S.ATTRIBUTE_KIND, S.VALUE, N_ACCOUNTS, pl.col("_hub_cap").alias("hub_cap"), HUB_ACTION
        )
        .sort(S.ATTRIBUTE_KIND, pl.col(N_ACCOUNTS), S.VALUE, descending=[False, True, False])
    )

    # Strength of each (account, shared value) link; pair contribution = kind weight × s_a ×
    # s_b. A shared-kind value's strength is the same for all its holders, and a cosine
    # value's idf and prior too: they are computed once per value, not per row.
    prior = (params.cosine_prior * pl.col("_kind_holders").cast(pl.Float64).log()).pow(2)
    norm = (pl.col("_squares").cast(pl.Float64) / _NORM_SCALE + pl.col("_prior")).sqrt()
    value_ids = values.select(
        *keys,
        VALUE_INDEX,
        "_cosine",
        idf.alias("_idf"),
        prior.alias("_prior"),
        (pl.col(N_ACCOUNTS).cast(pl.Float64) - 1.0)
        .clip(1.0, None)
        .pow(-pl.col("_alpha") / 2.0)
        .alias("_shared_strength"),
    )
    incidence_parts = []
    for part in step.parts("graph: incidence", _partitions(base, "_k1", partitions)):
        keyed = with_keys(part, attributes[S.VALUE]).drop("_row")
        rows = keyed.join(value_ids, on=keys)
        del keyed
        rows = rows.with_columns(
            x, pl.Series("_squares", square_sums[rows.select(slot)["_slot"].to_numpy()])
        )
        incidence_parts.append(
            rows.select(
                ACCOUNT_INDEX,
                VALUE_INDEX,
                S.N_EVENTS,
                pl.when(pl.col("_cosine"))
                .then(pl.when(norm > 0).then(pl.col("_x") / norm).otherwise(0.0))
                .otherwise(pl.col("_shared_strength"))
                .alias(STRENGTH),
            )
        )
        del rows
    del base, square_sums, value_ids
    # Sorted by (value, account) as one 64-bit key (twice as fast as a two-column sort), and
    # gathered one column at a time, each unsorted column let go once gathered: at most one
    # column is held twice, never the whole table.
    incidence = pl.concat(incidence_parts, rechunk=False)
    del incidence_parts
    order = incidence.select(
        (pl.col(VALUE_INDEX).cast(pl.UInt64) * (1 << 32) + pl.col(ACCOUNT_INDEX).cast(pl.UInt64))
        .arg_sort()
        .alias("_order")
    )["_order"]
    gathered = []
    for name in incidence.columns:
        gathered.append(incidence[name].rechunk().gather(order))
        incidence = incidence.drop(name)
    incidence = pl.DataFrame(gathered)
    del order, gathered
    values = values.select(
        VALUE_INDEX,
        S.ATTRIBUTE_KIND,
        S.VALUE,
        N_ACCOUNTS,
        pl.col("_kind_weight").alias(KIND_WEIGHT),
        VALUE_WEIGHT,
        HUB_ACTION,
        INFRASTRUCTURE,
    )
    linkage = dict(linkage or {})
    declared = None
    if linkage:  # the declared columns' rows, read before the table is let go
        declared = attributes.filter(pl.col(S.ATTRIBUTE_KIND).is_in(sorted(linkage)))
        if not indexed:
            declared = declared.join(
                account_table.select(S.ACCOUNT_ID, ACCOUNT_INDEX), on=S.ACCOUNT_ID
            )
        declared = declared.select(
            pl.col(ACCOUNT_INDEX).cast(account_table.schema[ACCOUNT_INDEX]),
            pl.col(S.ATTRIBUTE_KIND, S.VALUE).cast(pl.String),
        )
    # Nothing below reads the attribute table: a caller that holds no other reference to
    # some of its rows (a run's infrastructure rows) has them freed before the projection.
    del attributes
    step("graph: projection")
    edges = _project(
        incidence,
        values.filter(~pl.col(S.ATTRIBUTE_KIND).is_in(sorted(linkage))),
        params,
        n_accounts=len(account_ids),
        pair_budget=pair_budget,
        ring_memory=ring_memory,
    )
    projected = edges.height
    links = Links.empty()
    if declared is not None:
        links = link_records(
            declared,
            linkage,
            n_accounts=len(account_ids),
            params=linkage_params or LinkageParams(),
        )
        scale = sum(float(dict(weights).get(kind, 1.0)) for kind in linkage) / len(linkage)
        edges = (
            pl.concat(
                [
                    edges,
                    links.pairs.select(
                        pl.col(SOURCE).cast(edges.schema[SOURCE]),
                        pl.col(TARGET).cast(edges.schema[TARGET]),
                        (pl.col(PROBABILITY) * scale).alias(WEIGHT),
                    ),
                ]
            )
            .group_by(SOURCE, TARGET)
            .agg(pl.col(WEIGHT).sum())
            .sort(SOURCE, TARGET)
        )
    graph = AccountGraph(
        account_ids=account_ids,
        values=values,
        incidence=incidence,
        edges=edges,
        hubs=hubs,
        links=links,
        projected_edges=projected,
    )
    return graph


class _Steps:
    """Progress of the graph stage's steps, with the part and the time left of partitioned ones."""

    def __init__(self, progress: Callable[[str], None] | None, partitions: int) -> None:
        self.progress = progress
        self.partitions = partitions

    def __call__(self, name: str) -> None:
        if self.progress:
            self.progress(name)

    def parts(self, name: str, items: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        started = time.perf_counter()
        for part, item in enumerate(items):
            self(part_label(name, part, self.partitions, started))
            yield item


def _partitions(frame: pl.DataFrame, key: str, parts: int):
    """``frame``'s rows split by ``key % parts`` (a value code or hash), one part at a time."""
    for part in range(parts):
        yield frame.filter(pl.col(key) % parts == part)


def _project(
    incidence: pl.DataFrame,
    values: pl.DataFrame,
    params: GraphParams,
    *,
    n_accounts: int,
    pair_budget: int,
    ring_memory: int | None,
) -> pl.DataFrame:
    """Sum pair contributions (kind weight × both strengths); see :mod:`acctgraph.graph.project`."""
    kinds = sorted(values[S.ATTRIBUTE_KIND].unique().to_list())
    per_kind = (
        values.group_by(S.ATTRIBUTE_KIND)
        .agg(pl.col(KIND_WEIGHT).first(), pl.col(INFRASTRUCTURE).first())
        .sort(S.ATTRIBUTE_KIND)
    )
    # The holders table is built in the call, so that project() holds its only reference
    # and can free it once the clique and ring arrays are made.
    return project(
        incidence.select(ACCOUNT_INDEX, VALUE_INDEX, STRENGTH).join(
            values.filter(pl.col(HUB_ACTION).is_null() | (pl.col(HUB_ACTION) == RING)).select(
                VALUE_INDEX,
                pl.col(HUB_ACTION).cast(pl.Enum([RING])),  # one byte a row, not a string
                pl.col(S.ATTRIBUTE_KIND)
                .replace_strict(kinds, list(range(len(kinds))), return_dtype=pl.UInt8)
                .alias(KIND_CODE),
            ),
            on=VALUE_INDEX,
        ),
        n_accounts=n_accounts,
        kind_weights=per_kind[KIND_WEIGHT].to_list(),
        infrastructure=per_kind[INFRASTRUCTURE].to_list(),
        min_edge_weight=params.min_edge_weight,
        corroboration_base=params.corroboration_base,
        corroboration_factor=params.corroboration_factor,
        ring_neighbours=params.ring_neighbours,
        ring_orders=params.ring_orders,
        pair_budget=pair_budget,
        ring_memory=ring_memory,
    )
