"""From the long attribute table to a weighted account graph.

Steps, each a polars expression over integer ids:

1. **Dictionaries.** Accounts and values get integer ids from sorted tables,
   so vertex order (and therefore Leiden's result) does not depend on input
   order. Values held by a single account are dropped: they link no one.
2. **Specificity.** A value held by ``d`` accounts contributes
   ``weight_kind / (d - 1) ** alpha`` to each pair holding it. ``alpha = 1`` is
   Newman's collaboration weighting (each account receives ``weight_kind`` in
   total from the value, however many share it); ``alpha = 0`` ignores
   specificity. The default 0.5 sits between: a card shared by ten accounts
   still binds strongly, a /24 shared by sixty barely.
3. **Hubs.** Per kind, values held by more than ``hub_cap`` accounts are not
   expanded into all their pairs. Their holders are laid out in
   ``ring_orders`` pseudo-random orders that depend on the *account only*
   (a multiplicative hash of its index), and each holder is linked to the
   next ``ring_neighbours`` holders in each order. Because the orders are the
   same for every value, two members of a 5,000-account operation that share
   fifty hub values are neighbours for all fifty, and the contributions add up
   on the same pair as they would in the full clique; the work grows linearly
   with the hub's degree, never with its square. Values held by more than
   ``drop_share`` of the accounts that have the kind at all are dropped
   entirely (a carrier's NAT, a popular phrasing). Both lists are kept in
   :attr:`AccountGraph.hubs` and written to ``run.json``.
4. **Projection.** Pair contributions are summed per account pair; pairs below
   ``min_edge_weight`` are dropped. The bipartite incidence stays available for
   explanations and views.

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

from collections.abc import Mapping
from dataclasses import dataclass

import igraph as ig
import polars as pl

from acctgraph import schema as S
from acctgraph.errors import ConfigError

ACCOUNT_INDEX = "account_index"
VALUE_INDEX = "value_index"
N_ACCOUNTS = "n_accounts"
PAIR_WEIGHT = "pair_weight"
VALUE_WEIGHT = "value_weight"
KIND_WEIGHT = "kind_weight"
STRENGTH = "strength"
INFRASTRUCTURE = "infrastructure"
SHARED = "shared"
COSINE = "cosine"
HUB_ACTION = "hub_action"
SOURCE = "source"
TARGET = "target"
WEIGHT = "weight"

RING = "ring"
# Odd multipliers coprime to the modulus: each gives an independent-looking order of accounts.
_MULTIPLIERS = (2654435761, 2246822519, 3266489917, 668265263)
DROPPED = "dropped"


@dataclass(frozen=True, kw_only=True)
class GraphParams:
    """Parameters of graph building (see the module docstring).

    Parameters
    ----------
    alpha
        Specificity exponent: pair weight = kind weight / (holders - 1) ** alpha.
    min_edge_weight
        Account pairs with a summed weight below this are not linked.
    ring_neighbours
        For hub values, each holder links to the next this-many holders in each order.
    ring_orders
        Number of independent account orders used for hub rings.
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
            raise ConfigError("graph.min_edge_weight must be non-negative")
        if self.ring_neighbours < 1:
            raise ConfigError("graph.ring_neighbours must be at least 1")
        if self.cosine_prior < 0:
            raise ConfigError("graph.cosine_prior must be non-negative")
        if self.ring_orders < 1:
            raise ConfigError("graph.ring_orders must be at least 1")
        if not 0.0 < self.drop_share <= 1.0:
            raise ConfigError("graph.drop_share must be in (0, 1]")


@dataclass
class AccountGraph:
    """The weighted account graph and the tables it was built from.

    Attributes
    ----------
    account_ids
        Sorted account ids; position = vertex id.
    values
        ``value_index, attribute_kind, value, n_accounts, kind_weight, value_weight,
        hub_action`` for every value held by two or more accounts. ``value_weight``
        is the kind weight discounted by the value's specificity (shared kinds:
        ``(holders - 1) ** -alpha``; cosine kinds: IDF relative to its maximum).
    incidence
        ``account_index, value_index, n_events, strength``: the bipartite edges;
        a pair's contribution from a value is ``kind_weight × strength_a × strength_b``.
    edges
        ``source, target, weight`` with ``source < target``: the projection.
    hubs
        The values that were sparsified (``ring``) or dropped, per kind.
    """

    account_ids: pl.Series
    values: pl.DataFrame
    incidence: pl.DataFrame
    edges: pl.DataFrame
    hubs: pl.DataFrame

    def to_igraph(self) -> ig.Graph:
        """The projection as a weighted undirected igraph ``Graph`` (vertex attribute ``name``)."""
        graph = ig.Graph(
            n=len(self.account_ids),
            edges=list(zip(self.edges[SOURCE].to_list(), self.edges[TARGET].to_list())),
        )
        graph.es[WEIGHT] = self.edges[WEIGHT].to_list()
        graph.vs["name"] = self.account_ids.to_list()
        return graph

    def to_networkx(self):
        """The projection as a ``networkx.Graph`` keyed by account id."""
        import networkx as nx

        graph = nx.Graph()
        names = self.account_ids.to_list()
        graph.add_nodes_from(names)
        graph.add_weighted_edges_from(
            (names[s], names[t], w) for s, t, w in self.edges.iter_rows()
        )
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
) -> AccountGraph:
    """Build the account graph from the long attribute table.

    Parameters
    ----------
    attributes
        ``account_id, attribute_kind, value, n_events`` (see :mod:`acctgraph.schema`).
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
    """
    similarities = similarities or {}
    if account_ids is None:
        account_ids = attributes[S.ACCOUNT_ID].unique()
    account_ids = account_ids.cast(pl.String).unique().sort().rename(S.ACCOUNT_ID)
    account_table = account_ids.to_frame().with_row_index(ACCOUNT_INDEX)

    kinds = sorted(set(attributes[S.ATTRIBUTE_KIND].unique().to_list()))
    kind_table = pl.DataFrame({S.ATTRIBUTE_KIND: kinds}, schema={S.ATTRIBUTE_KIND: pl.String}).with_columns(
        pl.col(S.ATTRIBUTE_KIND).replace_strict(dict(weights), default=1.0, return_dtype=pl.Float64).alias("_kind_weight"),
        pl.col(S.ATTRIBUTE_KIND).replace_strict(dict(hub_caps), default=100, return_dtype=pl.Int64).alias("_hub_cap"),
        (pl.col(S.ATTRIBUTE_KIND).replace_strict(dict(similarities), default=SHARED, return_dtype=pl.String)
         == COSINE).alias("_cosine"),
        pl.col(S.ATTRIBUTE_KIND).is_in(sorted(infrastructure)).alias(INFRASTRUCTURE),
        pl.col(S.ATTRIBUTE_KIND).replace_strict(dict(alphas or {}), default=params.alpha,
                                                return_dtype=pl.Float64).alias("_alpha"),
    )
    holders = attributes.group_by(S.ATTRIBUTE_KIND).agg(pl.col(S.ACCOUNT_ID).n_unique().alias("_kind_holders"))
    counts = (
        attributes.group_by(S.ATTRIBUTE_KIND, S.VALUE).agg(pl.len().alias(N_ACCOUNTS))
        .join(kind_table, on=S.ATTRIBUTE_KIND, how="left")
        .join(holders, on=S.ATTRIBUTE_KIND, how="left")
    )
    n = pl.col(N_ACCOUNTS).cast(pl.Float64)
    idf = (pl.col("_kind_holders").cast(pl.Float64) / n).log()
    counts = counts.with_columns(
        idf.alias("_idf"),
        pl.when(pl.col("_cosine"))
        .then(pl.col("_kind_weight") * idf / pl.col("_kind_holders").cast(pl.Float64).log().clip(1e-9, None))
        .otherwise(pl.col("_kind_weight") / (n - 1.0).clip(1.0, None).pow(pl.col("_alpha")))
        .alias(VALUE_WEIGHT),
    )

    # Integer ids first: every value (singletons included, they count in cosine norms) gets
    # `_vid`; the strength computation then runs on integers only.
    counts = counts.sort(S.ATTRIBUTE_KIND, S.VALUE).with_row_index("_vid")
    rows = (
        attributes.select(S.ACCOUNT_ID, S.ATTRIBUTE_KIND, S.VALUE, S.N_EVENTS)
        .join(counts.select(S.ATTRIBUTE_KIND, S.VALUE, "_vid"), on=[S.ATTRIBUTE_KIND, S.VALUE])
        .join(account_table, on=S.ACCOUNT_ID)
        .select(ACCOUNT_INDEX, "_vid", S.N_EVENTS)
        .join(counts.select("_vid", S.ATTRIBUTE_KIND, N_ACCOUNTS, "_idf", "_cosine", "_kind_holders", "_alpha"),
              on="_vid")
    )
    # Strength of each (account, value) link; pair contribution = kind weight × s_a × s_b.
    tfidf = (pl.col(S.N_EVENTS).cast(pl.Float64).log1p() * pl.col("_idf"))
    prior = (params.cosine_prior * pl.col("_kind_holders").cast(pl.Float64).log()).pow(2)
    rows = rows.with_columns(tfidf.alias("_x")).with_columns(
        (pl.col("_x").pow(2).sum().over(ACCOUNT_INDEX, S.ATTRIBUTE_KIND) + prior).sqrt().alias("_norm")
    ).with_columns(
        pl.when(pl.col("_cosine"))
        .then(pl.when(pl.col("_norm") > 0).then(pl.col("_x") / pl.col("_norm")).otherwise(0.0))
        .otherwise((pl.col(N_ACCOUNTS).cast(pl.Float64) - 1.0).clip(1.0, None).pow(-pl.col("_alpha") / 2.0))
        .alias(STRENGTH)
    ).filter(pl.col(N_ACCOUNTS) >= 2).select(ACCOUNT_INDEX, "_vid", S.N_EVENTS, STRENGTH)

    values = (
        counts.filter(pl.col(N_ACCOUNTS) >= 2)
        .with_row_index(VALUE_INDEX)
        .with_columns(
            pl.when((n > pl.col("_hub_cap")) & (n > params.drop_share * pl.col("_kind_holders").cast(pl.Float64)))
            .then(pl.lit(DROPPED))
            .when(n > pl.col("_hub_cap")).then(pl.lit(RING))
            .otherwise(pl.lit(None, pl.String)).alias(HUB_ACTION),
        )
    )
    hubs = (
        values.filter(pl.col(HUB_ACTION).is_not_null())
        .select(S.ATTRIBUTE_KIND, S.VALUE, N_ACCOUNTS, pl.col("_hub_cap").alias("hub_cap"), HUB_ACTION)
        .sort(S.ATTRIBUTE_KIND, pl.col(N_ACCOUNTS), S.VALUE, descending=[False, True, False])
    )
    incidence = (
        rows.join(values.select("_vid", VALUE_INDEX), on="_vid")
        .select(ACCOUNT_INDEX, VALUE_INDEX, S.N_EVENTS, STRENGTH)
        .sort(VALUE_INDEX, ACCOUNT_INDEX)
    )
    values = values.select(VALUE_INDEX, S.ATTRIBUTE_KIND, S.VALUE, N_ACCOUNTS,
                           pl.col("_kind_weight").alias(KIND_WEIGHT), VALUE_WEIGHT, HUB_ACTION, INFRASTRUCTURE)
    del rows, counts  # the per-row strength table is the largest frame here; free it before projecting
    edges = _project(incidence, values, params)
    return AccountGraph(account_ids=account_ids, values=values, incidence=incidence, edges=edges, hubs=hubs)


FIXED_POINT = 1_000_000  # pair weights are summed as integers (micro-units): exact and order-free


def _project(incidence: pl.DataFrame, values: pl.DataFrame, params: GraphParams) -> pl.DataFrame:
    """Sum pair contributions (kind weight × both strengths), one kind at a time.

    Ordinary values expand into cliques, hubs into account-ordered rings. Each
    kind's pairs are aggregated before the next kind is expanded, so peak memory
    is set by the largest kind, not by all of them; within a kind, pair totals
    below ``min_edge_weight / 20`` are dropped (ten kinds of such crumbs cannot
    lift a pair over the threshold). Sums are exact integers, so the result
    does not depend on the order in which a parallel engine adds them.
    """
    holders = incidence.select(ACCOUNT_INDEX, VALUE_INDEX, STRENGTH).join(
        values.select(VALUE_INDEX, S.ATTRIBUTE_KIND, KIND_WEIGHT, HUB_ACTION, INFRASTRUCTURE), on=VALUE_INDEX
    )
    crumb = int(params.min_edge_weight / 20 * FIXED_POINT)
    per_kind = []
    for kind in sorted(holders[S.ATTRIBUTE_KIND].unique().to_list()):
        part = holders.filter(pl.col(S.ATTRIBUTE_KIND) == kind)
        infrastructure = bool(part[INFRASTRUCTURE][0])
        pairs = _kind_pairs(part.drop(S.ATTRIBUTE_KIND, INFRASTRUCTURE), params)
        per_kind.append(
            pairs.group_by(SOURCE, TARGET).agg(pl.col(PAIR_WEIGHT).sum())
            .filter(pl.col(PAIR_WEIGHT) >= crumb)
            .with_columns(pl.lit(infrastructure).alias(INFRASTRUCTURE))
            .collect()
        )
    if not per_kind:
        return pl.DataFrame(schema={SOURCE: pl.Int64, TARGET: pl.Int64, WEIGHT: pl.Float64})
    other = pl.col(PAIR_WEIGHT).filter(~pl.col(INFRASTRUCTURE)).sum()
    infra = pl.col(PAIR_WEIGHT).filter(pl.col(INFRASTRUCTURE)).sum()
    base = int(params.corroboration_base * FIXED_POINT)
    return (
        pl.concat(per_kind)
        .group_by(SOURCE, TARGET)
        .agg(other.alias("_other"), infra.alias("_infra"))
        .select(
            pl.col(SOURCE).cast(pl.Int64), pl.col(TARGET).cast(pl.Int64),
            (pl.col("_other") + pl.min_horizontal(
                "_infra", pl.lit(base) + (pl.col("_other").cast(pl.Float64) * params.corroboration_factor).cast(pl.Int64))
             ).alias("_w"),
        )
        .filter(pl.col("_w") >= int(params.min_edge_weight * FIXED_POINT))
        .select(SOURCE, TARGET, (pl.col("_w").cast(pl.Float64) / FIXED_POINT).alias(WEIGHT))
        .sort(SOURCE, TARGET)
    )


def _kind_pairs(holders: pl.DataFrame, params: GraphParams) -> pl.LazyFrame:
    """Pair contributions of one kind's values (lazy): cliques and rings."""
    contribution = (
        (pl.col(KIND_WEIGHT) * pl.col(STRENGTH) * pl.col("_s_other") * FIXED_POINT).round().cast(pl.Int64)
    ).alias(PAIR_WEIGHT)
    ordinary = holders.filter(pl.col(HUB_ACTION).is_null()).drop(HUB_ACTION).lazy()
    clique = (
        ordinary.join(
            ordinary.select(pl.col(ACCOUNT_INDEX).alias("_other"), VALUE_INDEX, pl.col(STRENGTH).alias("_s_other")),
            on=VALUE_INDEX,
        )
        .filter(pl.col(ACCOUNT_INDEX) < pl.col("_other"))
        .select(pl.col(ACCOUNT_INDEX).alias(SOURCE), pl.col("_other").alias(TARGET), contribution)
    )
    # Hubs: holders in `ring_orders` account-only pseudo-random orders, each linked to the
    # next `ring_neighbours` holders (cyclically), so contributions of many hub values
    # shared by the same accounts accumulate on the same pairs.
    ring = holders.filter(pl.col(HUB_ACTION) == RING).drop(HUB_ACTION)
    if ring.height == 0:
        return clique
    ring_edges = []
    for order in range(params.ring_orders):
        ranked = ring.with_columns(
            ((pl.col(ACCOUNT_INDEX).cast(pl.UInt64) + 1) * _MULTIPLIERS[order % len(_MULTIPLIERS)]
             % 4294967311).alias("_order")
        ).sort(VALUE_INDEX, "_order").with_columns(
            pl.int_range(pl.len()).over(VALUE_INDEX).alias("_pos"),
            pl.len().over(VALUE_INDEX).alias("_size"),
        ).lazy()
        shifted = ranked.select(
            VALUE_INDEX, pl.col("_pos").alias("_p"), pl.col(ACCOUNT_INDEX).alias("_other"),
            pl.col(STRENGTH).alias("_s_other"),
        )
        for step in range(1, params.ring_neighbours + 1):
            ring_edges.append(
                ranked.with_columns(((pl.col("_pos") + step) % pl.col("_size")).alias("_p"))
                .join(shifted, on=[VALUE_INDEX, "_p"])
                .select(
                    VALUE_INDEX,
                    pl.min_horizontal(ACCOUNT_INDEX, "_other").alias(SOURCE),
                    pl.max_horizontal(ACCOUNT_INDEX, "_other").alias(TARGET),
                    contribution,
                )
            )
    # A pair reached twice for one value (several orders, small rings) counts once.
    ring_pairs = pl.concat(ring_edges).unique([VALUE_INDEX, SOURCE, TARGET]).drop(VALUE_INDEX)
    return pl.concat([clique, ring_pairs])
