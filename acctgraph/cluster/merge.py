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
   operator's scripts. Two operators that send one public prompt differ in how
   their accounts behave, by 5 nats per account or more on the project's
   simulated worlds, where one operator's pools differ by about 1.
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

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from acctgraph.cluster.split import PARTS, SPLIT_FROM, Model, Profiles, SplitParams, gap_by_part
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import Usage

PROMPT_TEMPLATE_KIND = "prompt_template"
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
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


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
    flagged: Iterable[int],
    params: MergeParams,
    model: SplitParams,
    splits: pl.DataFrame | None = None,
) -> Merge:
    """Merge the ``flagged`` clusters of ``membership`` that are one operation's pools.

    ``membership`` is a community label per account (position in ``account_ids``);
    ``flagged`` the labels that may merge; ``attributes`` the long attribute table
    (its ``prompt_template`` rows give each cluster's prompt traffic); ``usage`` the
    behaviour (hours, activity, clients, e-mails); ``model`` the parameters of the
    behaviour models; ``splits`` the :attr:`Split.table <acctgraph.cluster.split.Split>`
    whose parts of one cluster never merge again.
    """
    labels = np.asarray(membership, dtype=np.int64)
    empty = Merge(labels.tolist(), pl.DataFrame(schema=TABLE_SCHEMA))
    candidates = np.unique(np.fromiter(flagged, dtype=np.int64))
    if not params.enabled or len(candidates) < 2:
        return empty
    rows = np.flatnonzero(np.isin(labels, candidates))
    ids = account_ids.gather(rows)
    group = labels[rows].copy()  # the current label of each row
    events = _template_events(attributes, ids, group)
    profile = Profiles.of(ids, usage, model)
    origin = _origins(splits, candidates)
    records: list[dict[str, object]] = []
    anchors: list[int] = []
    divergences: dict[tuple[int, int], tuple[float, np.ndarray]] = {}
    while True:
        overlaps = _overlaps(events, params.min_template_overlap)
        best: tuple[float, int, int, np.ndarray, tuple[float, int, str]] | None = None
        for x, y, overlap, shared, top in overlaps.iter_rows():
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
                "top_template": top,
                "divergence": round(divergence, 3),
                "differs_most": PARTS[int(np.argmax(gap))],
                "first_account": ids.filter(pl.Series(group == gone)).min(),
            }
        )
        anchors.append(int(np.argmax(group == gone)))  # the part moves as a whole from now on
        group[group == gone] = keep
        origin[keep] = origin[keep] | origin.pop(gone)
        events = (
            events.with_columns(pl.col(_GROUP).replace(gone, keep))
            .group_by(_GROUP, S.VALUE)
            .agg(pl.col(S.N_EVENTS).sum())
        )
        divergences = {k: v for k, v in divergences.items() if keep not in k and gone not in k}
    if not records:
        return empty
    labels[rows] = group
    for record, anchor in zip(records, anchors, strict=True):
        record[MERGED_INTO] = int(group[anchor])  # the cluster that holds its accounts now
    return Merge(labels.tolist(), pl.DataFrame(records, schema=TABLE_SCHEMA))


def _template_events(attributes: pl.DataFrame, ids: pl.Series, group: np.ndarray) -> pl.DataFrame:
    """``_group, value, n_events``: each cluster's sampled template events per template."""
    index = pl.DataFrame({S.ACCOUNT_ID: ids, _GROUP: pl.Series(group, dtype=pl.Int64)})
    return (
        attributes.lazy()
        .filter(pl.col(S.ATTRIBUTE_KIND).cast(pl.String) == PROMPT_TEMPLATE_KIND)
        .join(index.lazy(), on=S.ACCOUNT_ID)
        .group_by(_GROUP, pl.col(S.VALUE).cast(pl.String))
        .agg(pl.col(S.N_EVENTS).sum())
        .collect()
    )


def _overlaps(events: pl.DataFrame, least: float) -> pl.DataFrame:
    """``x, y, overlap, shared, top`` for each pair of clusters (``x < y``) whose template
    traffic overlaps by at least ``least``: the summed smaller share, the number of
    templates both send and the template that adds most (ties: the first in order)."""
    shares = events.with_columns(
        (pl.col(S.N_EVENTS) / pl.col(S.N_EVENTS).sum().over(_GROUP)).alias(_SHARE)
    ).select(_GROUP, S.VALUE, _SHARE)
    pairs = (
        shares.join(shares, on=S.VALUE, suffix="_y")
        .filter(pl.col(_GROUP) < pl.col(f"{_GROUP}_y"))
        .with_columns(pl.min_horizontal(_SHARE, f"{_SHARE}_y").alias("_min"))
        .sort(_GROUP, f"{_GROUP}_y", "_min", S.VALUE, descending=[False, False, True, False])
    )
    return (
        pairs.group_by(_GROUP, f"{_GROUP}_y", maintain_order=True)
        .agg(
            pl.col("_min").sum().alias("overlap"),
            pl.len().cast(pl.Int64).alias("shared"),
            pl.col(S.VALUE).first().alias("top"),
        )
        .filter(pl.col("overlap") >= least)
        .select(
            pl.col(_GROUP).alias("x"), pl.col(f"{_GROUP}_y").alias("y"), "overlap", "shared", "top"
        )
    )


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
