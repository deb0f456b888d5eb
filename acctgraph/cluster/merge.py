"""Behaviour merge: flagged clusters that are one operation's pools become one cluster.

An operator that buys cards, devices and addresses in separate pools leaves no
identity value shared across them. What its pools share is what the operator
runs: the same prompts in the same proportions, at the same hours, from the same
kind of client. Modularity has no reason to join them, and each pool comes out as
a flagged cluster of its own. This stage joins them, after a first scoring and
among the flagged clusters only, so that a cluster nobody flagged is never
pulled into an operation:

1. **Prompts.** Two clusters are candidates when their prompt traffic overlaps
   by at least ``min_template_overlap``: the sum, over the templates both send,
   of the smaller of the two clusters' shares of their sampled template events
   (0: no template in common; 1: the same templates in the same proportions). A
   template that many legitimate accounts also send counts here like any other:
   what ties the pools is that it carries the same share of both.
2. **Behaviour.** A candidate pair is merged when the behaviour models of
   :mod:`acctgraph.cluster.split` (hours, capability mix, client family, address
   pattern, volume; the ``[split]`` parameters ``hour_bin``, ``count_cap`` and
   ``prior``), fitted on each cluster and shrunk towards the pair's pooled
   behaviour, are under ``max_divergence`` nats per account apart: one
   operator's scripts. Two operators that send the same prompts differ in how
   their accounts behave by several times that (docs/benchmarks.md,
   "Behaviour merge", has the measured divergences).
3. **Closest first.** The closest qualifying pair is merged, the merged
   cluster's prompt shares and behaviour model are made again from all its
   accounts, and the next closest pair is taken, until none qualifies: a chain
   of near pairs does not weld its far ends together unless the merged whole is
   still near. Two parts of one cluster cut by the split are never merged again.

The merged cluster keeps the label of its larger side (the lower label on ties);
the stage is deterministic. Each merge step is a row of :attr:`Merge.table`, and
the run scores the clusters again on the merged membership.

Examples
--------
>>> MergeParams().max_divergence
2.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from acctgraph.cluster.split import PARTS, SPLIT_FROM, Model, Profiles, SplitParams, gap_by_part
from acctgraph.core import schema as S
from acctgraph.core.errors import check_parameters
from acctgraph.features.base import Usage, join_accounts
from acctgraph.features.kinds import PromptTemplate

PROMPT_TEMPLATE_KIND = PromptTemplate.kind
MERGED_INTO = "merged_into"
TABLE_SCHEMA = {
    "step": pl.Int64(),
    "label": pl.Int64(),
    MERGED_INTO: pl.Int64(),
    "accounts": pl.Int64(),
    "into_accounts": pl.Int64(),
    "template_overlap": pl.Float64(),
    "shared_templates": pl.Int64(),
    "top_template": pl.String(),
    "divergence": pl.Float64(),
    "differs_most": pl.String(),
    "first_account": pl.String(),
}
_GROUP = "_group"
_TEMPLATE = "_template"
_SHARE = "_share"


@dataclass(frozen=True, kw_only=True)
class MergeParams:
    """When two flagged clusters are one operation (see the module docstring).

    Parameters
    ----------
    enabled
        Switch the stage off.
    min_template_overlap
        Least overlap of two clusters' prompt traffic (0..1) for them to be compared.
        Default 0.1.
    max_divergence
        Divergence of the two clusters' behaviour models (nats per account) under
        which they are merged. Positive. Default 2.0.
    """

    enabled: bool = True
    min_template_overlap: float = 0.1
    max_divergence: float = 2.0

    def __post_init__(self) -> None:
        checks = (
            (
                0.0 < self.min_template_overlap <= 1.0,
                "merge.min_template_overlap must be in (0, 1]",
            ),
            (self.max_divergence > 0, "merge.max_divergence must be positive"),
        )
        check_parameters(checks)


@dataclass(frozen=True)
class Merge:
    """The membership after merging and one row per merge step (in order)."""

    membership: list[int]
    table: pl.DataFrame


def merge_by_behaviour(
    membership: list[int] | np.ndarray,
    account_ids: pl.Series,
    attributes: pl.DataFrame,
    usage: Usage,
    *,
    members: pl.DataFrame,
    params: MergeParams,
    model: SplitParams,
    splits: pl.DataFrame | None = None,
) -> Merge:
    """Merge the ``flagged`` clusters of ``membership`` that are one operation's pools.

    ``membership`` is a community label per account (position in ``account_ids``);
    ``members`` the scored members table (``account_id, flagged``, as
    :attr:`Scored.members <acctgraph.cluster.score.Scored>`): the clusters of flagged
    accounts may merge; ``attributes`` the long attribute table, keyed by ``account_id``
    or by positions in ``account_ids`` (its ``prompt_template`` rows give each cluster's
    prompt traffic); ``usage`` the behaviour (hours, activity, clients, e-mails); ``model``
    the parameters of the behaviour models; ``splits`` the
    :attr:`Split.table <acctgraph.cluster.split.Split>` whose parts of one cluster never
    merge again.
    """
    labels = np.asarray(membership, dtype=np.int64)
    empty = Merge(labels.tolist(), pl.DataFrame(schema=TABLE_SCHEMA))
    flagged = members.filter(pl.col(S.FLAGGED))[S.ACCOUNT_ID]
    candidates = np.unique(labels[account_ids.is_in(flagged.implode()).to_numpy()])
    if not params.enabled or len(candidates) < 2:
        return empty
    rows = np.flatnonzero(np.isin(labels, candidates))
    ids = account_ids.gather(rows)
    group = labels[rows].copy()  # the current label of each row
    events, templates = _template_events(attributes, ids, rows, group)
    profile = Profiles.of(ids, usage, model)
    origin = _origins(splits, candidates)
    records: list[dict[str, object]] = []
    anchors: list[int] = []
    divergences: dict[tuple[int, int], tuple[float, np.ndarray]] = {}
    shares = _shares(events)
    overlaps = _overlaps(shares, params.min_template_overlap)
    while True:
        best: tuple[float, int, int, np.ndarray, tuple[float, int, int]] | None = None
        for (x, y), (overlap, shared, top) in sorted(overlaps.items()):
            if origin[x] & origin[y]:
                continue  # parts of one cluster that the split cut
            key = (x, y)
            if key not in divergences:
                divergences[key] = _divergence(profile, group, x, y, model.prior)
            divergence, gap = divergences[key]
            if divergence < params.max_divergence and (best is None or divergence < best[0]):
                best = (divergence, x, y, gap, (overlap, shared, top))
        if best is None:
            break
        divergence, x, y, gap, (overlap, shared, top) = best
        size_x, size_y = int((group == x).sum()), int((group == y).sum())
        keep, gone = (x, y) if (size_x, -x) >= (size_y, -y) else (y, x)
        kept_size, gone_size = (size_x, size_y) if keep == x else (size_y, size_x)
        records.append(
            {
                "step": len(records) + 1,
                "label": gone,
                MERGED_INTO: keep,
                "accounts": gone_size,
                "into_accounts": kept_size,
                "template_overlap": round(overlap, 4),
                "shared_templates": shared,
                "top_template": templates[top],
                "divergence": round(divergence, 3),
                "differs_most": PARTS[int(np.argmax(gap))],
                "first_account": ids.filter(pl.Series(group == gone)).min(),
            }
        )
        anchors.append(int(np.argmax(group == gone)))  # the part moves as a whole from now on
        group[group == gone] = keep
        origin[keep] = origin[keep] | origin.pop(gone)
        touched = pl.col(_GROUP).is_in([keep, gone])
        joined = (
            events.filter(touched)
            .group_by(_TEMPLATE)
            .agg(pl.col(S.N_EVENTS).sum())
            .select(pl.lit(keep, dtype=pl.Int64).alias(_GROUP), _TEMPLATE, S.N_EVENTS)
        )
        events = pl.concat([events.filter(~touched), joined])
        shares = pl.concat([shares.filter(~touched), _shares(joined)])
        divergences = {k: v for k, v in divergences.items() if keep not in k and gone not in k}
        overlaps = {k: v for k, v in overlaps.items() if keep not in k and gone not in k}
        overlaps |= _overlaps(shares, params.min_template_overlap, of=keep)
    if not records:
        return empty
    labels[rows] = group
    for record, anchor in zip(records, anchors, strict=True):
        record[MERGED_INTO] = int(group[anchor])  # the cluster that holds its accounts now
    return Merge(labels.tolist(), pl.DataFrame(records, schema=TABLE_SCHEMA))


def _template_events(
    attributes: pl.DataFrame, ids: pl.Series, rows: np.ndarray, group: np.ndarray
) -> tuple[pl.DataFrame, pl.Series]:
    """``_group, _template, n_events``: each cluster's sampled template events per template
    (a code), and the templates' text by code (``ids``: the accounts, ``rows``: their
    positions in the graph, ``group``: their clusters)."""
    index = pl.DataFrame(
        {
            S.ACCOUNT_ID: ids,
            S.ACCOUNT_INDEX: pl.Series(rows, dtype=pl.UInt32),
            _GROUP: pl.Series(group, dtype=pl.Int64),
        }
    )
    events = (
        join_accounts(
            attributes.lazy().filter(pl.col(S.ATTRIBUTE_KIND) == PROMPT_TEMPLATE_KIND), index
        )
        .group_by(_GROUP, pl.col(S.VALUE).cast(pl.String))
        .agg(pl.col(S.N_EVENTS).sum())
        .collect()
    )
    templates = events[S.VALUE].unique().sort()  # codes in text order: ties break alike
    codes = pl.DataFrame(
        {S.VALUE: templates, _TEMPLATE: pl.Series(range(len(templates)), dtype=pl.UInt32)}
    )
    coded = events.join(codes, on=S.VALUE).select(_GROUP, _TEMPLATE, S.N_EVENTS)
    return coded, templates


def _shares(events: pl.DataFrame) -> pl.DataFrame:
    """``_group, _template, _share``: each template's share of its cluster's events."""
    return events.select(
        _GROUP,
        _TEMPLATE,
        (pl.col(S.N_EVENTS) / pl.col(S.N_EVENTS).sum().over(_GROUP)).alias(_SHARE),
    )


def _overlaps(
    shares: pl.DataFrame, least: float, *, of: int | None = None
) -> dict[tuple[int, int], tuple[float, int, int]]:
    """``(x, y) -> (overlap, shared, top)`` for each pair of clusters (``x < y``; with
    ``of``, only the pairs of that cluster) whose template traffic overlaps by at least
    ``least``: the summed smaller share, the number of templates both send and the
    template (code) that adds most (ties: the lowest code)."""
    left = shares if of is None else shares.filter(pl.col(_GROUP) == of)
    pairs = left.join(shares, on=_TEMPLATE, suffix="_y").filter(
        pl.col(_GROUP) < pl.col(f"{_GROUP}_y") if of is None else pl.col(f"{_GROUP}_y") != of
    )
    table = (
        pairs.select(
            pl.min_horizontal(_GROUP, f"{_GROUP}_y").alias("x"),
            pl.max_horizontal(_GROUP, f"{_GROUP}_y").alias("y"),
            _TEMPLATE,
            pl.min_horizontal(_SHARE, f"{_SHARE}_y").alias("_min"),
        )
        .sort("x", "y", "_min", _TEMPLATE, descending=[False, False, True, False])
        .group_by("x", "y", maintain_order=True)
        .agg(
            pl.col("_min").sum().alias("overlap"),
            pl.len().cast(pl.Int64).alias("shared"),
            pl.col(_TEMPLATE).first().alias("top"),
        )
        .filter(pl.col("overlap") >= least)
    )
    return {(x, y): (overlap, shared, top) for x, y, overlap, shared, top in table.iter_rows()}


def _divergence(
    profile: Profiles, group: np.ndarray, x: int, y: int, prior: float
) -> tuple[float, np.ndarray]:
    """How far apart clusters ``x`` and ``y`` behave (nats per account) and the gap per
    part of :data:`~acctgraph.cluster.split.PARTS`, each model shrunk towards the pair's
    pooled behaviour."""
    rows = np.concatenate([np.flatnonzero(group == x), np.flatnonzero(group == y)])
    first = np.arange(len(rows)) < int((group == x).sum())
    pair = profile.subset(rows)
    models = [
        Model.fit(pair, np.flatnonzero(first), prior),
        Model.fit(pair, np.flatnonzero(~first), prior),
    ]
    scores = np.stack([m.parts(pair) for m in models], axis=1)
    gap = gap_by_part(scores, first, ~first, 0, 1)
    return float(gap.sum()), gap


def _origins(splits: pl.DataFrame | None, labels: np.ndarray) -> dict[int, frozenset[int]]:
    """The cut clusters each label came from (empty when it was not cut)."""
    origin: dict[int, frozenset[int]] = {int(label): frozenset() for label in labels}
    if splits is not None:
        for label, source in splits.select("label", SPLIT_FROM).iter_rows():
            if label in origin:
                origin[label] = frozenset({source})
    return origin
