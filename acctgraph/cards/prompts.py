"""Template figures and raw example prompts of carded clusters, written while the run's inputs are at hand.

A run folder holds no raw prompts, so :func:`write_template_samples` (called by
:func:`acctgraph.run.write.write_outputs`) writes two small tables into
``profiles/``: ``cluster_templates`` (:func:`cluster_templates`) and
``template_samples`` (:func:`template_samples`), which the cards then read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from acctgraph.cards.model import (
    _SAMPLES_SCHEMA,
    CLUSTER_TEMPLATES,
    SAMPLE_RANK,
    SHARE,
    TEMPLATE_EVENTS,
    TEMPLATE_RANK,
    TEMPLATE_SAMPLES,
    CardParams,
    carded_clusters,
)
from acctgraph.cluster.score import ACCOUNTS_IN_CLUSTER, PROMPT_TEMPLATE_KIND
from acctgraph.core import schema as S
from acctgraph.core.frames import owned
from acctgraph.features.base import N_EXCHANGES, join_accounts
from acctgraph.features.kinds import PromptTemplate
from acctgraph.features.reduce import in_prompt_sample
from acctgraph.runfolder import PROFILES_DIR


def cluster_templates(
    members: pl.DataFrame,
    attributes: pl.DataFrame,
    carded: pl.DataFrame,
    *,
    top: int,
    account_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """Top prompt template bands of each carded cluster, from the long attribute table.

    ``share`` is the band's part of all the sampled prompt bands the cluster's
    members sent (one-off bands included; a prompt gives up to ``n_bands``
    bands), so a cluster that sends one script has shares near 1 / ``n_bands``
    per band, and a group of people chatting has small ones. ``attributes`` may be keyed
    by ``account_index``, positions in ``account_ids`` (as a run holds it).

    Examples
    --------
    >>> members = pl.DataFrame({"account_id": ["a", "b", "c"], "cluster_id": [1, 1, None]})
    >>> attributes = pl.DataFrame({"account_id": ["a", "a", "b", "c"],
    ...     "attribute_kind": ["prompt_template"] * 4,
    ...     "value": ["write python", "one off", "write python", "write python"],
    ...     "n_events": [6, 2, 2, 9]})
    >>> cluster_templates(members, attributes, pl.DataFrame({"cluster_id": [1]}), top=5).rows()
    [(1, 1, 'write python', 2, 8, 10, 0.8), (1, 2, 'one off', 1, 2, 10, 0.2)]
    """
    in_cards = members.select(S.ACCOUNT_ID, S.CLUSTER_ID).join(
        carded.select(S.CLUSTER_ID), on=S.CLUSTER_ID, how="semi"
    )
    rows = (
        join_accounts(
            attributes.lazy().filter(pl.col(S.ATTRIBUTE_KIND) == PROMPT_TEMPLATE_KIND),
            in_cards,
            account_ids,
        )
        .select(S.ACCOUNT_ID, S.CLUSTER_ID, S.VALUE, pl.col(S.N_EVENTS).cast(pl.Int64))
        .collect()
    )
    totals = rows.group_by(S.CLUSTER_ID).agg(pl.col(S.N_EVENTS).sum().alias(TEMPLATE_EVENTS))
    return (
        rows.group_by(S.CLUSTER_ID, S.VALUE)
        .agg(pl.len().cast(pl.Int64).alias(ACCOUNTS_IN_CLUSTER), pl.col(S.N_EVENTS).sum())
        .join(totals, on=S.CLUSTER_ID)
        .sort(
            S.CLUSTER_ID,
            S.N_EVENTS,
            ACCOUNTS_IN_CLUSTER,
            S.VALUE,
            descending=[False, True, True, False],
        )
        .with_columns(
            (pl.int_range(pl.len()).over(S.CLUSTER_ID) + 1).cast(pl.Int64).alias(TEMPLATE_RANK)
        )
        .filter(pl.col(TEMPLATE_RANK) <= top)
        .select(
            S.CLUSTER_ID,
            TEMPLATE_RANK,
            pl.col(S.VALUE).cast(pl.String),  # the attribute table's may be categorical
            ACCOUNTS_IN_CLUSTER,
            S.N_EVENTS,
            TEMPLATE_EVENTS,
            (pl.col(S.N_EVENTS) / pl.col(TEMPLATE_EVENTS)).round(6).alias(SHARE),
        )
    )


def template_holders(
    members: pl.DataFrame,
    attributes: pl.DataFrame,
    templates: pl.DataFrame,
    *,
    per_template: int,
    account_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """``account_id, cluster_id``: for each top template, the ``per_template`` members that sent it most.

    These are the accounts :func:`template_samples` reads (ties by account id).
    ``attributes`` may be keyed by ``account_index``, positions in ``account_ids``.

    Examples
    --------
    >>> members = pl.DataFrame({"account_id": ["a", "b", "c"], "cluster_id": [1, 1, 1]})
    >>> attributes = pl.DataFrame({"account_id": ["a", "b", "c"], "attribute_kind": ["prompt_template"] * 3,
    ...     "value": ["t"] * 3, "n_events": [1, 5, 5]})
    >>> templates = pl.DataFrame({"cluster_id": [1], "template_rank": [1], "value": ["t"]})
    >>> template_holders(members, attributes, templates, per_template=2).rows()
    [('b', 1), ('c', 1)]
    """
    return (
        join_accounts(
            attributes.lazy().filter(pl.col(S.ATTRIBUTE_KIND) == PROMPT_TEMPLATE_KIND),
            members.select(S.ACCOUNT_ID, S.CLUSTER_ID),
            account_ids,
        )
        .select(S.ACCOUNT_ID, S.VALUE, S.N_EVENTS, S.CLUSTER_ID)
        .collect()
        .join(
            templates.select(
                S.CLUSTER_ID, pl.col(S.VALUE).cast(attributes.schema[S.VALUE]), TEMPLATE_RANK
            ),
            on=[S.CLUSTER_ID, S.VALUE],
        )
        .sort(
            S.CLUSTER_ID,
            TEMPLATE_RANK,
            S.N_EVENTS,
            S.ACCOUNT_ID,
            descending=[False, False, True, False],
        )
        .filter(pl.int_range(pl.len()).over(S.CLUSTER_ID, TEMPLATE_RANK) < per_template)
        .select(S.ACCOUNT_ID, S.CLUSTER_ID)
        .unique()
        .sort(S.ACCOUNT_ID)
    )


def template_samples(
    exchanges: pl.LazyFrame,
    members: pl.DataFrame,
    templates: pl.DataFrame,
    activity: pl.DataFrame,
    *,
    prompt: PromptTemplate,
    per_template: int = CardParams.samples_per_template,
    rows_per_account: int = CardParams.sample_rows_per_account,
) -> pl.DataFrame:
    """Raw example prompts of each (cluster, template band), each from a different account.

    Reads only the exchanges of ``members`` (in a run, the few accounts that
    sent each template most, :func:`template_holders`) and, of those, about
    ``rows_per_account`` per account (a deterministic hash of account and
    timestamp), so the cost is bounded by the number of cards, not by the
    size of the world; bands them with
    :func:`~acctgraph.features.prompt.template_bands` using the run's
    ``prompt`` parameters; keeps, per (cluster, band), each account's earliest
    matching prompt and then the ``per_template`` earliest accounts (ties by
    account id, then prompt).

    Parameters
    ----------
    exchanges
        The run's exchanges (lazy; streamed).
    members
        ``account_id, cluster_id`` of the accounts to read.
    templates
        Output of :func:`cluster_templates`.
    activity
        ``account_id, n_exchanges`` (to bound the rows read per account).
    prompt
        The run's :class:`~acctgraph.features.kinds.PromptTemplate`.

    Returns
    -------
    polars.DataFrame
        ``cluster_id, template_rank, sample_rank, account_id, timestamp, prompt``.

    Examples
    --------
    >>> import datetime as dt
    >>> from acctgraph.features.kinds import PromptTemplate
    >>> t = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    >>> exchanges = pl.LazyFrame({"account_id": ["b", "a", "b"], "timestamp": [t, t, t + dt.timedelta(hours=1)],
    ...     "prompt": ["write a Python function that parses YAML files!", "hello there",
    ...                "Write a python function that parses yaml files"]})
    >>> members = pl.DataFrame({"account_id": ["a", "b"], "cluster_id": [1, 1]})
    >>> templates = pl.DataFrame({"cluster_id": [1], "template_rank": [1],
    ...                           "value": ["write python function parses yaml files"]})
    >>> activity = pl.DataFrame({"account_id": ["a", "b"], "n_exchanges": [1, 2]})
    >>> template_samples(exchanges, members, templates, activity, prompt=PromptTemplate()).select(
    ...     "sample_rank", "account_id", "prompt").rows()
    [(1, 'b', 'write a Python function that parses YAML files!')]
    """
    if S.PROMPT not in exchanges.collect_schema().names() or templates.is_empty():
        return pl.DataFrame(schema=_SAMPLES_SCHEMA)
    accounts = (
        members.select(S.ACCOUNT_ID, S.CLUSTER_ID)
        .join(templates.select(S.CLUSTER_ID).unique(), on=S.CLUSTER_ID, how="semi")
        .join(activity.select(S.ACCOUNT_ID, N_EXCHANGES), on=S.ACCOUNT_ID, how="left")
        .with_columns(pl.col(N_EXCHANGES).cast(pl.Int64).fill_null(1).clip(1, None).alias("_n"))
        .sort(S.ACCOUNT_ID)
    )
    # Filters before any join: `is_in` is pushed into the scan (prompts of other accounts are
    # never decoded), then the account's sampling rate against a hash of (account, timestamp).
    n_exchanges = pl.col(S.ACCOUNT_ID).replace_strict(
        accounts[S.ACCOUNT_ID], accounts["_n"], default=None, return_dtype=pl.Int64
    )
    # The reductions' sample found again (a subset of it when rows_per_account is smaller).
    picked = in_prompt_sample(
        seed=prompt.sample_seed, max_per_account=rows_per_account, n_exchanges=n_exchanges
    )
    bands = prompt.bands(S.PROMPT)
    found = (
        exchanges.select(S.ACCOUNT_ID, S.TIMESTAMP, S.PROMPT)
        .filter(pl.col(S.ACCOUNT_ID).is_in(accounts[S.ACCOUNT_ID].implode()))
        # Copy the prompts kept at once: filtered strings would otherwise keep every decoded
        # page of the scan alive (acctgraph.core.frames).
        .with_columns(owned(S.PROMPT), owned(S.ACCOUNT_ID))
        .filter(picked)
        .drop_nulls(S.PROMPT)
        .join(accounts.lazy().select(S.ACCOUNT_ID, S.CLUSTER_ID), on=S.ACCOUNT_ID)
        .with_columns(bands.alias(S.VALUE))
        .explode(S.VALUE)
        .join(
            templates.lazy().select(S.CLUSTER_ID, S.VALUE, TEMPLATE_RANK),
            on=[S.CLUSTER_ID, S.VALUE],
        )
        .group_by(S.CLUSTER_ID, TEMPLATE_RANK, S.ACCOUNT_ID)
        .agg(pl.col(S.TIMESTAMP).min(), pl.col(S.PROMPT).sort_by(S.TIMESTAMP, S.PROMPT).first())
        .collect()
    )
    return (
        found.sort(S.CLUSTER_ID, TEMPLATE_RANK, S.TIMESTAMP, S.ACCOUNT_ID, S.PROMPT)
        .with_columns(
            (pl.int_range(pl.len()).over(S.CLUSTER_ID, TEMPLATE_RANK) + 1)
            .cast(pl.Int64)
            .alias(SAMPLE_RANK)
        )
        .filter(pl.col(SAMPLE_RANK) <= per_template)
        .select(*_SAMPLES_SCHEMA)
        .cast(_SAMPLES_SCHEMA)
    )


def write_template_samples(
    out: str | Path,
    *,
    members: pl.DataFrame,
    clusters: pl.DataFrame,
    attributes: pl.DataFrame,
    exchanges: pl.LazyFrame | Callable[[pl.Series], pl.LazyFrame],
    activity: pl.DataFrame,
    prompt: PromptTemplate | None,
    params: CardParams | None = None,
    account_ids: pl.Series | None = None,
) -> list[Path]:
    """Write ``profiles/cluster_templates.parquet`` and ``profiles/template_samples.parquet``.

    Called by :func:`acctgraph.run.write.write_outputs` while the run's inputs
    are at hand (a run folder holds no raw prompts): the top template bands of
    every carded cluster (:func:`cluster_templates`) and up to
    ``samples_per_template`` raw prompts for each (:func:`template_samples`).
    ``members`` and ``clusters`` are the scoring stage's tables, ``attributes``
    the long attribute table (keyed by ``account_index``: positions in ``account_ids``,
    or by ``account_id``), ``activity`` the reductions' per-account figures and
    ``prompt`` the run's prompt-template kind (None: no samples). ``exchanges`` is the
    run's exchanges, or a function giving the exchanges of the accounts it is passed (the
    Spark engine's :meth:`~acctgraph.spark.load.SparkExchanges.of_accounts`). Returns the
    paths written.
    """
    params = params or CardParams()
    out = Path(out)
    carded = carded_clusters(clusters, top=params.top_clusters)
    members = members.drop_nulls(S.CLUSTER_ID)
    templates = cluster_templates(
        members, attributes, carded, top=params.top_templates, account_ids=account_ids
    )
    holders = template_holders(
        members,
        attributes,
        templates,
        per_template=params.sample_accounts,
        account_ids=account_ids,
    )
    if callable(exchanges):
        exchanges = exchanges(holders[S.ACCOUNT_ID])
    samples = (
        template_samples(
            exchanges,
            holders,
            templates,
            activity,
            prompt=prompt,
            per_template=params.samples_per_template,
            rows_per_account=params.sample_rows_per_account,
        )
        if prompt is not None
        else pl.DataFrame(schema=_SAMPLES_SCHEMA)
    )
    paths = []
    for name, frame in ((CLUSTER_TEMPLATES, templates), (TEMPLATE_SAMPLES, samples)):
        path = out / PROFILES_DIR / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path, compression="zstd", statistics=False)
        paths.append(path)
    return paths
