"""The one module that knows the order of the stages.

load (:func:`~acctgraph.load.load_dataset`) → usage (the one pass over the exchanges:
:func:`~acctgraph.features.compute_usage`) → attributes
(:func:`~acctgraph.features.attribute_table`) → graph (:func:`~acctgraph.graph.build_graph`)
→ detect (:func:`~acctgraph.cluster.detect.detect_communities`) → attach
(:func:`~acctgraph.cluster.attach.attach_unlinked`) → score
(:func:`~acctgraph.cluster.score.score_clusters`) → write (:mod:`acctgraph.run.write`:
tables, run.json, config.toml, cards, graph pages, report). The names are the stages
of ``run.json``'s ``timing``, where write is timed in parts (``write``,
``template_samples``, ``cards``, ``graph_pages``, ``report``).

Each stage is also public on its own (see the README's Python section), so a
notebook can run them one by one and look at every intermediate table.
:func:`run_from_usage` runs the stages after the one pass over the exchanges
(:func:`compute_usage_for`), so that many configurations can share that pass
(:mod:`acctgraph.evaluation.tuning`).

Examples
--------
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> accounts, exchanges, labels = simulate_frames("tiny", seed=3)
>>> result = run_pipeline(dataset_from_frames(accounts, exchanges))
>>> result.scored.members.height == result.dataset.accounts.height
True
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import polars as pl

from acctgraph.cluster.attach import attach_unlinked
from acctgraph.cluster.cohort import LABEL, find_cohorts
from acctgraph.cluster.detect import DetectParams, detach_thin_members, detect_communities
from acctgraph.cluster.merge import MERGED_INTO, merge_by_behaviour
from acctgraph.cluster.score import Scored, score_clusters
from acctgraph.cluster.split import SPLIT_FROM, split_by_behaviour
from acctgraph.cluster.track import Previous, initial_membership, match_operations, track
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError, InputError
from acctgraph.core.memory import MemoryPlan, format_size, plan_memory, resolve_budget
from acctgraph.features import (
    ExtraColumn,
    Usage,
    attribute_table,
    compute_usage,
    declaration,
    join_accounts,
)
from acctgraph.features.kinds import PromptTemplate
from acctgraph.graph import AccountGraph, build_graph
from acctgraph.graph.build import ACCOUNT_INDEX
from acctgraph.graph.linkage import (
    ACCOUNT_A,
    ACCOUNT_B,
    BITS,
    COMPARISON,
    LEVEL,
    MATCH_WEIGHT,
    PROBABILITY,
    SIMILARITY,
    SOURCE,
    TARGET,
)
from acctgraph.load import Dataset, load_dataset
from acctgraph.load.decisions import load_decisions
from acctgraph.load.formats import file_record
from acctgraph.run.config import Config
from acctgraph.run.result import RunResult
from acctgraph.run.timing import Progress, Stages
from acctgraph.run.write import write_outputs
from acctgraph.runfolder import RUN_JSON, load_run
from acctgraph.spark.load import spark_dataset
from acctgraph.spark.reduce import spark_usage


def run_pipeline(
    dataset: Dataset,
    *,
    config: Config | None = None,
    progress: Progress | None = None,
    plan: MemoryPlan | None = None,
    previous: Previous | None = None,
    decisions: pl.DataFrame | None = None,
) -> RunResult:
    """Run every stage between load and write on an already loaded dataset (nothing is written).

    ``previous`` (:func:`previous_run`) carries operation ids over from an earlier run
    and makes the changes tables; ``decisions``
    (:func:`~acctgraph.load.decisions.load_decisions`) are applied to the flags (see
    :mod:`acctgraph.cluster.track`).

    The memory plan (:func:`memory_plan`, unless ``plan`` is given) is made first, from the
    row counts: a budget the input cannot meet is refused before the pass over the exchanges.
    Without ``plan``, the graph's part of it is made again with the attribute table's rows
    (:func:`run_from_usage`).
    """
    config = config or Config()
    stage = Stages(progress)
    given = plan
    plan = plan or memory_plan(dataset, config)
    if progress:
        progress(
            f"memory budget {format_size(plan.budget_bytes)} ({plan.source}): estimated peak "
            f"{format_size(plan.estimate_bytes)}; exchanges read in {plan.usage_partitions} "
            f"account part(s)"
        )
    # Passed straight on, not kept in a local: run_from_usage then holds the only reference and
    # can free the template and co-activity tables once they are in the attribute table.
    result = run_from_usage(
        dataset,
        stage(
            "usage",
            lambda: compute_usage_for(dataset, config=config, progress=progress, plan=plan),
        ),
        config=config,
        progress=progress,
        plan=given,
        usage_partitions=plan.usage_partitions,
        previous=previous,
        decisions=decisions,
    )
    result.timings = stage.timings + result.timings
    return result


def memory_plan(
    dataset: Dataset, config: Config, *, attribute_rows: int | None = None
) -> MemoryPlan:
    """How this run splits its work to stay within ``config.memory_budget``.

    Made from the row counts before the pass over the exchanges, and again with the
    attribute table's rows (``attribute_rows``) before the graph is built: a world with
    more attribute rows per exchange than the model's gets more graph partitions.

    Raises :class:`ConfigError` (exit status 2) when the estimated peak exceeds the
    machine's memory, or a budget that was set explicitly. A default budget that the
    input exceeds is raised, in steps of 5%, to the smallest that fits within the
    machine's available memory, and counted as a warning (``memory_budget_exceeded``).

    On the Spark engine the pass over the exchanges runs on Spark; the driver's tables
    are per account, so the exchanges counted are at most ``max_per_account`` per
    account (the prompt sample's bound), and the plan made again with the attribute
    rows is the one that matters.
    """
    budget, source = resolve_budget(config.memory_budget)
    n_exchanges = next(
        (f.rows for f in dataset.inputs if f.table == S.EXCHANGES and f.rows is not None), 0
    )
    n_accounts = dataset.accounts.height
    if dataset.spark is not None:
        n_exchanges = min(n_exchanges, n_accounts * config.prompt_template.max_per_account)

    def plan_for(size: int) -> MemoryPlan:
        return plan_memory(
            size,
            n_accounts=n_accounts,
            n_exchanges=n_exchanges,
            n_attribute_rows=attribute_rows,
            source=source,
        )

    plan = plan_for(budget)
    rows = f", {attribute_rows:,} attribute rows" if attribute_rows is not None else ""
    need = (
        f"the estimated peak for {n_accounts:,} accounts and {n_exchanges:,} exchanges{rows} is "
        f"{format_size(plan.estimate_bytes)}, of which {format_size(plan.resident_bytes)} are "
        f"tables held across stages that no partitioning reduces"
    )
    total = plan.machine_bytes
    if total is not None and plan.estimate_bytes > total:
        raise ConfigError(
            f"this machine has {format_size(total)} of memory and {need}: run on a larger "
            "machine or on a slice of the exchanges"
        )
    if plan.fits():
        return plan
    if config.memory_budget is not None:
        raise ConfigError(
            f"memory budget {config.memory_budget}: {need}; raise --memory-budget to at "
            f"least {format_size(plan.estimate_bytes)}"
        )
    # A default budget the input cannot meet: the smallest larger one that fits, up to the
    # memory the machine has free, rather than the most partitions under an unmet budget.
    ceiling = plan.available_bytes or total or budget
    for step in range(1, 41):
        larger = int(budget * (1 + 0.05 * step))
        if larger > ceiling:
            break
        raised = plan_for(larger)
        if raised.fits():
            plan = dataclasses.replace(
                raised, source=f"{source}, raised to fit the input's estimate"
            )
            break
    dataset.warnings.put(
        "memory_budget_exceeded",
        f"the default memory budget ({format_size(budget)}, {source}) is below the "
        f"estimate: {need}; planned for {format_size(plan.budget_bytes)}",
        count=1,
    )
    return plan


def compute_usage_for(
    dataset: Dataset,
    *,
    config: Config,
    progress: Progress | None = None,
    plan: MemoryPlan | None = None,
) -> Usage:
    """The one pass over the exchanges, shaped by ``config``.

    :func:`~acctgraph.features.compute_usage` with the configuration's
    ``prompt_template`` and ``co_activity`` features: the ``usage`` that
    :func:`run_from_usage` expects for this configuration.

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    >>> usage = compute_usage_for(dataset_from_frames(accounts, exchanges), config=Config())
    >>> usage.templates.height > 0
    True
    """
    check_declared(dataset, config)
    if dataset.spark is not None:
        return spark_usage(
            dataset,
            dataset.spark.frame,
            prompt=config.prompt_template,
            co_activity=config.co_activity,
            event_columns=config.event_columns,
            progress=progress,
        )
    return compute_usage(
        dataset,
        prompt=config.prompt_template,
        co_activity=config.co_activity,
        event_columns=config.event_columns,
        progress=progress,
        partitions=plan.usage_partitions if plan else 1,
    )


def check_declared(dataset: Dataset, config: Config) -> None:
    """Every declared attribute names a column of its table, and its comparison can run.

    Raises :class:`ConfigError` (exit status 2) before the pass over the exchanges.

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    >>> check_declared(dataset_from_frames(accounts, exchanges),
    ...                Config().with_overrides(attributes=["exchanges.ja3"]))
    Traceback (most recent call last):
    ...
    acctgraph.core.errors.ConfigError: attribute 'exchanges.ja3:profile': the exchanges table has no column 'ja3' (its columns: account_id, input_tokens, ip, model, output_tokens, prompt, timestamp, user_agent)
    """
    tables = {
        S.ACCOUNTS: set(dataset.accounts.columns),
        S.EXCHANGES: set(dataset.exchanges.collect_schema().names()),
    }
    for feature in config.declared:
        table = S.ACCOUNTS if isinstance(feature, ExtraColumn) else S.EXCHANGES
        if feature.name not in tables[table]:
            raise ConfigError(
                f"attribute {declaration(feature)!r}: the {table} table has no column "
                f"{feature.name!r} (its columns: {', '.join(sorted(tables[table]))})"
            )
    config.linkage_columns  # noqa: B018 - raises on a comparison that needs more columns


def run_from_usage(
    dataset: Dataset,
    usage: Usage,
    *,
    config: Config | None = None,
    progress: Progress | None = None,
    plan: MemoryPlan | None = None,
    usage_partitions: int | None = None,
    previous: Previous | None = None,
    decisions: pl.DataFrame | None = None,
) -> RunResult:
    """Run every stage from the attribute table on, reusing exchange reductions computed earlier.

    ``usage`` must be ``compute_usage(dataset, prompt=..., co_activity=...)`` with
    this configuration's ``prompt_template`` and ``co_activity`` features (their
    ``enabled``, ``weight``, ``hub_cap`` and ``alpha`` act later and may differ),
    as :func:`compute_usage_for` gives it; the result is then the same as
    :func:`run_pipeline`'s. ``usage`` is not modified, so one reduction serves many
    configurations (the expensive pass over the exchanges is done once;
    :mod:`acctgraph.evaluation.tuning` relies on this). ``plan`` splits the graph
    builder's work; None: :func:`memory_plan` of this dataset with its attribute rows,
    made once the attribute table is built (``usage_partitions``: the account partitions
    the reductions used, for ``run.json``; None: the plan's own).

    Examples
    --------
    >>> from acctgraph.simulate import simulate_frames
    >>> from acctgraph.load import dataset_from_frames
    >>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    >>> dataset = dataset_from_frames(accounts, exchanges)
    >>> usage = compute_usage(dataset)             # the defaults' prompt_template and co_activity
    >>> coarse, fine = (run_from_usage(dataset, usage, config=Config.from_dict({"detect": {"resolution": r}}))
    ...                 for r in (0.5, 2.0))
    >>> coarse.scored.members.height == fine.scored.members.height == dataset.accounts.height
    True
    """
    config = config or Config()
    stage = Stages(progress)
    # Two tables: the infrastructure kinds' rows (addresses, ranges, co-activity windows,
    # about 40% of the rows) are read by the graph builder alone, and are freed once the
    # graph holds the values that link; the rest is read again by cohorts, scores and samples.
    # Both are keyed by account position (account_index) in the sorted account universe,
    # which is the graph's vertex order: four bytes a row instead of the id's text.
    infrastructure = config.infrastructure
    accounts = dataset.accounts[S.ACCOUNT_ID].unique().sort()
    firm, infra = stage(
        "attributes",
        lambda: (
            attribute_table(
                usage, [f for f in config.features if f.kind not in infrastructure], accounts
            ),
            attribute_table(
                usage, [f for f in config.features if f.kind in infrastructure], accounts
            ),
        ),
    )
    # From here on the attribute tables hold the template and co-activity rows; drop the
    # copies in `usage` so that the two largest per-account tables are not held twice.
    usage = dataclasses.replace(
        usage, templates=usage.templates.clear(), co_activity=usage.co_activity.clear()
    )
    attribute_rows = firm.height + infra.height
    if plan is None:
        plan = memory_plan(dataset, config, attribute_rows=attribute_rows)
        if usage_partitions is not None:
            plan = dataclasses.replace(plan, usage_partitions=usage_partitions)
        if progress:
            progress(
                f"graph: memory plan for {attribute_rows:,} attribute rows: estimated peak "
                f"{format_size(plan.estimate_bytes)}, {plan.graph_partitions} value partitions"
            )
    # The infrastructure rows are reachable from `held` only until the graph builder takes
    # them: it lets the table go before the projection, and they are freed then.
    held = {"infra": infra}
    del infra
    graph = stage(
        "graph",
        lambda: graph_for(
            pl.concat([firm, held.pop("infra")], how="vertical", rechunk=False),  # no copy
            config,
            accounts,
            plan=plan,
            progress=progress,
        ),
    )
    # Past the graph, only the non-infrastructure kinds' rows are read (prompt templates for
    # cohorts, scores and samples; firm values for cohorts): the infrastructure rows go.
    attributes = firm
    communities = stage(
        "detect",
        lambda: detect_communities(
            graph.to_igraph(),
            params=detect_params(config, graph),
            seed=config.seed,
            prompts=graph.kind_matrix(PromptTemplate.kind),
            initial=initial_membership(graph.account_ids, previous)
            if previous is not None and config.track.warm_start
            else None,
        ),
    )
    membership, attached = stage(
        "attach",
        lambda: attach_unlinked(
            communities.membership,
            graph.incidence,
            graph.values,
            n_accounts=len(graph.account_ids),
            kinds=config.behaviour_kinds,
            params=config.attach,
        ),
    )
    communities = dataclasses.replace(communities, membership=membership, attached=attached.height)
    cohorts = stage(
        "cohort",
        lambda: find_cohorts(
            communities.membership,
            graph.account_ids,
            attributes,
            usage,
            sample_size=config.prompt_template.max_per_account,
            params=config.cohort,
            edges=graph.edges,
            soft_kinds=config.soft_kinds,
        ),
    )
    split = stage(
        "split",
        lambda: split_by_behaviour(
            cohorts.membership, graph.account_ids, attributes, usage, params=config.split
        ),
    )
    membership, thin = stage(
        "detach",
        lambda: detach_thin_members(
            split.membership,
            graph,
            usage,
            soft_kinds=config.soft_kinds,
            min_exchanges=config.detect.min_member_exchanges,
        ),
    )
    communities = dataclasses.replace(
        communities, membership=membership, detached=communities.detached + thin
    )

    def score(
        membership: list[int],
        merges: pl.DataFrame | None = None,
        names: pl.DataFrame | None = None,
        first_number: int = 1,
    ) -> Scored:
        return score_clusters(
            membership,
            graph,
            attributes,
            usage,
            params=config.score,
            cohorts=cohorts.table,
            splits=split.table,
            merges=merges,
            names=names,
            first_number=first_number,
        )

    scored = stage("score", lambda: score(communities.membership))
    merged = stage(
        "merge",
        lambda: merge_by_behaviour(
            communities.membership,
            graph.account_ids,
            attributes,
            usage,
            members=scored.members,
            params=config.merge,
            model=config.split,
            splits=split.table,
        ),
    )
    if merged.table.height:
        communities = dataclasses.replace(communities, membership=merged.membership)
    matched = (
        None
        if previous is None
        else stage(
            "match",
            lambda: match_operations(
                graph.account_ids, communities.membership, previous, params=config.track
            ),
        )
    )
    if merged.table.height or matched is not None:
        scored = stage(
            "rescore",
            lambda: score(
                communities.membership,
                merged.table if merged.table.height else None,
                names=None if matched is None else matched.names,
                first_number=1 if matched is None else matched.next_number,
            ),
        )
    scored, tracked = stage(
        "track",
        lambda: track(
            scored,
            previous=previous,
            matched=matched,
            decisions=decisions,
            params=config.track,
            identity_kinds=config.split.identity_kinds,
            organisations=dataset.accounts.select(S.ACCOUNT_ID, S.ORG_ID)
            if S.ORG_ID in dataset.accounts.columns
            else None,
        ),
    )
    ids = _cluster_ids(communities.membership, graph, scored)
    return RunResult(
        config,
        dataset,
        usage,
        attributes,
        graph,
        communities,
        scored,
        stage.timings,
        attached=_attached_table(attached, graph, scored),
        cohorts=_cohort_table(cohorts.table, ids),
        splits=_split_table(split.table, ids),
        merges=_merge_table(merged.table, ids),
        links=links_table(graph, attributes, scored, config) if config.linkage_columns else None,
        attribute_rows=attribute_rows,
        memory=plan,
        tracked=tracked,
    )


def graph_for(
    attributes: pl.DataFrame,
    config: Config,
    account_ids: pl.Series,
    *,
    plan: MemoryPlan | None = None,
    progress: Progress | None = None,
) -> AccountGraph:
    """:func:`~acctgraph.graph.build_graph` with ``config``'s kinds, graph parameters and
    record linkage, split as ``plan`` says (None: the builder's defaults; the graph is the
    same). ``attributes`` is either form of the attribute table (positions in
    ``account_ids``, or ids)."""
    split: dict[str, Any] = (
        {}
        if plan is None
        else {
            "partitions": plan.graph_partitions,
            "pair_budget": plan.pair_budget,
            "ring_memory": plan.ring_memory,
        }
    )
    return build_graph(
        attributes,
        weights=config.weights,
        hub_caps=config.hub_caps,
        similarities=config.similarities,
        infrastructure=config.infrastructure,
        alphas=config.alphas,
        params=config.graph,
        account_ids=account_ids,
        linkage=config.linkage_columns,
        linkage_params=config.linkage,
        progress=progress,
        **split,
    )


def detect_params(config: Config, graph: AccountGraph) -> DetectParams:
    """The detection parameters for this graph.

    A graph whose every link comes from record linkage of declared columns (person
    records, billing records: many small cliques) is clustered with CPM at
    ``linkage.resolution``: a group is one holder when its pairs' mean match
    probability exceeds it, so two holders joined by one doubtful link stay
    apart, which modularity on a large graph would merge. Every other graph
    keeps ``config.detect`` (see :mod:`acctgraph.cluster.detect`).
    """
    if graph.linkage_only:
        return dataclasses.replace(
            config.detect, objective="CPM", resolution=config.linkage.resolution
        )
    return config.detect


def links_table(
    graph: AccountGraph, attributes: pl.DataFrame, scored: Scored, config: Config
) -> pl.DataFrame:
    """The record links as evidence: one row per linked pair and compared column.

    Columns: ``cluster_id`` (the pair's cluster when both accounts are in the same one,
    else null), ``account_a``, ``account_b``, ``probability`` and ``match_weight`` of
    the pair, then per column ``attribute_kind``, ``comparison`` (as configured:
    ``fuzzy (Jaro-Winkler >= 0.9)``), ``level`` (exact, close, disagree), the two
    values, ``similarity`` (Jaro-Winkler for fuzzy text, the absolute difference for
    numbers, days apart for dates; 1.0 when exact) and ``bits`` (the column's
    log2 likelihood ratio: what it added to the match weight). Sorted by cluster,
    pair and column.
    """
    links = graph.links
    ids = graph.account_ids
    described = {f.kind: f.describe() for f in config.declared if isinstance(f, ExtraColumn)}
    values = (
        join_accounts(
            attributes.lazy().filter(pl.col(S.ATTRIBUTE_KIND).is_in(sorted(described))),
            scored.members.select(S.ACCOUNT_ID),
            ids,
        )
        .select(S.ACCOUNT_ID, pl.col(S.ATTRIBUTE_KIND, S.VALUE).cast(pl.String))
        .collect()
    )
    clusters = scored.members.select(S.ACCOUNT_ID, S.CLUSTER_ID)
    pairs = links.pairs.select(
        ids.gather(links.pairs[SOURCE]).alias(ACCOUNT_A),
        ids.gather(links.pairs[TARGET]).alias(ACCOUNT_B),
        SOURCE,
        TARGET,
        pl.col(PROBABILITY).round(6),
        pl.col(MATCH_WEIGHT).round(4),
    )
    table = (
        links.evidence.join(pairs, on=[SOURCE, TARGET])
        .join(
            values.rename({S.ACCOUNT_ID: ACCOUNT_A, S.VALUE: "value_a"}),
            on=[ACCOUNT_A, S.ATTRIBUTE_KIND],
            how="left",
        )
        .join(
            values.rename({S.ACCOUNT_ID: ACCOUNT_B, S.VALUE: "value_b"}),
            on=[ACCOUNT_B, S.ATTRIBUTE_KIND],
            how="left",
        )
        .join(clusters.rename({S.ACCOUNT_ID: ACCOUNT_A, S.CLUSTER_ID: "_ca"}), on=ACCOUNT_A)
        .join(clusters.rename({S.ACCOUNT_ID: ACCOUNT_B, S.CLUSTER_ID: "_cb"}), on=ACCOUNT_B)
        .with_columns(
            pl.when(pl.col("_ca") == pl.col("_cb")).then(pl.col("_ca")).alias(S.CLUSTER_ID),
            pl.col(S.ATTRIBUTE_KIND)
            .replace_strict(described, return_dtype=pl.String)
            .alias(COMPARISON),
            pl.col(SIMILARITY).round(4),
            pl.col(BITS).round(4),
        )
    )
    return table.select(
        S.CLUSTER_ID,
        ACCOUNT_A,
        ACCOUNT_B,
        PROBABILITY,
        MATCH_WEIGHT,
        S.ATTRIBUTE_KIND,
        COMPARISON,
        LEVEL,
        "value_a",
        "value_b",
        SIMILARITY,
        BITS,
    ).sort(S.CLUSTER_ID, ACCOUNT_A, ACCOUNT_B, S.ATTRIBUTE_KIND, nulls_last=True)


def _cluster_ids(membership: list[int], graph: AccountGraph, scored: Scored) -> pl.DataFrame:
    """Each community label's final cluster id (``LABEL, cluster_id``): what the stage
    tables below are keyed by."""
    labels = pl.DataFrame(
        {S.ACCOUNT_ID: graph.account_ids, LABEL: pl.Series(membership, dtype=pl.Int64)}
    )
    return (
        labels.join(scored.members.select(S.ACCOUNT_ID, S.CLUSTER_ID), on=S.ACCOUNT_ID)
        .filter(pl.col(S.CLUSTER_ID).is_not_null())
        .group_by(LABEL)
        .agg(pl.col(S.CLUSTER_ID).first())
    )


def _split_table(table: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """The parts of clusters cut by behaviour, keyed by final cluster id; ``split_from`` is
    the cluster id of the part that kept the cut cluster's label (see
    :mod:`acctgraph.cluster.split`)."""
    return (
        table.join(ids, left_on="label", right_on=LABEL)
        .join(ids.rename({S.CLUSTER_ID: "_from"}), left_on=SPLIT_FROM, right_on=LABEL, how="left")
        .select(
            S.CLUSTER_ID,
            pl.col("_from").alias(SPLIT_FROM),
            pl.exclude(S.CLUSTER_ID, "_from", "label", SPLIT_FROM),
        )
        .sort(S.CLUSTER_ID)
    )


def _merge_table(table: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """The merge steps keyed by the final cluster id of the merged operation (see
    :mod:`acctgraph.cluster.merge`)."""
    return (
        table.join(ids, left_on=MERGED_INTO, right_on=LABEL)
        .select(S.CLUSTER_ID, pl.exclude(S.CLUSTER_ID, "label", MERGED_INTO))
        .sort(S.CLUSTER_ID, "step")
    )


def _cohort_table(table: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """The behaviour cohorts keyed by final cluster id (see :mod:`acctgraph.cluster.cohort`)."""
    return (
        table.join(ids, on=LABEL)
        .select(S.CLUSTER_ID, pl.exclude(LABEL, S.CLUSTER_ID))
        .sort(S.CLUSTER_ID)
    )


def _attached_table(attached: pl.DataFrame, graph: AccountGraph, scored: Scored) -> pl.DataFrame:
    """The attachments keyed by account and final cluster id (see :mod:`acctgraph.cluster.attach`)."""
    ids = (
        graph.account_ids.to_frame()
        .with_row_index(ACCOUNT_INDEX)
        .with_columns(pl.col(ACCOUNT_INDEX).cast(pl.Int64))
    )
    return (
        attached.join(ids, on=ACCOUNT_INDEX)
        .join(scored.members.select(S.ACCOUNT_ID, S.CLUSTER_ID), on=S.ACCOUNT_ID)
        .select(
            S.ACCOUNT_ID,
            S.CLUSTER_ID,
            pl.exclude(S.ACCOUNT_ID, S.CLUSTER_ID, ACCOUNT_INDEX, "^_.*$"),
        )
        .sort(S.CLUSTER_ID, S.ACCOUNT_ID)
    )


def previous_run(path: str | Path, config: Config | None = None) -> Previous:
    """What :func:`run_pipeline` needs of an earlier run folder (``--previous``).

    Raises :class:`~acctgraph.core.errors.InputError` (exit status 2) when the folder is
    not a finished run or its cluster ids are not operation ids (a run written by an
    acctgraph older than operation ids: run it again).
    """
    config = config or Config()
    run = load_run(path)
    clusters = run.clusters
    members = run.members
    for name, frame in ((S.CLUSTERS, clusters), (S.MEMBERS, members)):
        ids = frame[S.CLUSTER_ID]
        bad = []
        if ids.dtype == pl.String:
            for value in ids.drop_nulls().unique().sort().to_list():
                try:
                    S.parse_operation_id(value)
                except InputError:
                    bad.append(value)
                    if len(bad) == 5:
                        break
        if ids.dtype != pl.String or bad:
            raise InputError(
                "cluster ids are not operation ids (op-000123): a run written by an older "
                "acctgraph; run it again with this version to use it as --previous",
                path=str(Path(path) / f"{name}.parquet"),
                column=S.CLUSTER_ID,
                examples=bad or ids.drop_nulls().head(5).to_list(),
            )
    recorded = (run.record.get("operations") or {}).get("next_number")
    return Previous.from_tables(
        members=members,
        clusters=clusters,
        evidence=run.evidence,
        decisions=run.decisions,
        baselines=run.decision_baselines,
        next_number=int(recorded) if isinstance(recorded, int) else None,
        identity_kinds=config.split.identity_kinds,
    )


def run_and_write(
    input_dir: str | Path | None = None,
    *,
    accounts: str | Path | None = None,
    exchanges: str | Path | None = None,
    out: str | Path,
    config: Config | None = None,
    progress: Progress | None = None,
    previous: str | Path | None = None,
    decisions: str | Path | None = None,
    spark: Any = None,
) -> RunResult:
    """Load the inputs, run every stage and write the outputs (what ``acctgraph run`` does).

    ``previous``: an earlier run folder whose operation ids this run carries on;
    ``decisions``: the investigators' decisions file (:mod:`acctgraph.cluster.track`).
    Both are read, and refused with exit status 2 when malformed, before the inputs.
    ``spark``: a Spark session; the exchanges are then loaded and reduced on Spark
    (:func:`~acctgraph.spark.load.spark_dataset`), with the same outputs.
    """
    config = config or Config()
    stage = Stages(progress)
    sources = []
    before = None
    if previous is not None:
        before = previous_run(previous, config)
        sources.append(vars(file_record("previous_run", Path(previous) / RUN_JSON)))
    decided = None
    if decisions is not None:
        decided = load_decisions(decisions)
        sources.append(vars(file_record("decisions", decisions, rows=decided.height)))
    mapping = dict(config.mapping)
    dataset = stage(
        "load",
        lambda: (
            load_dataset(
                input_dir,
                accounts=accounts,
                exchanges=exchanges,
                mapping=mapping,
                memory_budget=config.memory_budget,
            )
            if spark is None
            else spark_dataset(
                spark, input_dir, accounts=accounts, exchanges=exchanges, mapping=mapping
            )
        ),
    )
    try:
        result = run_pipeline(
            dataset, config=config, progress=progress, previous=before, decisions=decided
        )
        result.sources = sources
        result.timings = stage.timings + result.timings
        if progress:
            progress("write")
        write_outputs(result, out)
    finally:
        if dataset.spark is not None:  # the persisted exchanges: read for the last time
            dataset.spark.release()
    return result
