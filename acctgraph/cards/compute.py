"""Evidence cards computed from a finished run folder, and their files (``cards/``, ``cards.json``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl

from acctgraph.cards.linkage import COMPARISON, comparison_table
from acctgraph.cards.model import (
    _SAMPLES_SCHEMA,
    _TEMPLATES_SCHEMA,
    ACTIVE_ACCOUNTS,
    AGE_BIN,
    AGE_BINS,
    AGE_ORDER,
    BIN,
    BIN_START,
    BURST_ACCOUNTS,
    BURST_END,
    BURST_START,
    CAPABILITY,
    CARDED_BECAUSE,
    CARDS_DIR,
    CARDS_JSON,
    CLUSTER_ACTIVE_DAYS,
    CLUSTER_TEMPLATES,
    CREATED_FIRST,
    CREATED_LAST,
    KIND_CONTRIBUTION,
    LINK_SHARE,
    LINK_WEIGHT,
    MAJORITY,
    MAX_PER_DAY,
    MEDIAN_AGE_DAYS,
    MEDIAN_PER_DAY,
    MEMBER_COLUMNS,
    N_ACCOUNTS,
    N_VALUES,
    SAMPLE_RANK,
    SHARE,
    SIGNUP_BINS,
    TABLES,
    TEMPLATE_RANK,
    TEMPLATE_SAMPLES,
    TOP_HOLDERS,
    TOP_OUTSIDE,
    TOP_SHARE,
    TOP_TEMPLATES_SHARE,
    WITH_CREATED_AT,
    CardParams,
    Cards,
    carded_clusters,
)
from acctgraph.cluster.score import (
    ACCOUNTS_IN_CLUSTER,
    ACCOUNTS_OUTSIDE,
    CONTRIBUTION,
    EXCHANGES,
    FIRST_ACTIVITY,
    LAST_ACTIVITY,
    SIGNAL,
    SIZE,
    SUMMARY,
)
from acctgraph.core import schema as S
from acctgraph.core.tables import write_json
from acctgraph.features.base import ACTIVE_DAYS, DAY, FIRST_SEEN, HOUR, N_EXCHANGES
from acctgraph.features.prompt import CAPABILITIES
from acctgraph.load.decisions import DECISION
from acctgraph.runfolder import PROFILES_DIR, Run


def _scan(run: Run, *parts: str) -> pl.LazyFrame | None:
    path = run.path.joinpath(*parts[:-1], parts[-1] + ".parquet")
    return pl.scan_parquet(path) if path.is_file() else None


def compute_cards(run: Run, *, params: CardParams | None = None) -> Cards:
    """Build every card table of a finished run (vectorised; no loop over clusters).

    Parameters
    ----------
    run
        A finished run (:func:`acctgraph.runfolder.load_run`).
    params
        :class:`CardParams` (defaults: every flagged cluster and the 50 best others).
    """
    params = params or CardParams()
    burst_hours = run.score_params.burst_hours
    cid = S.CLUSTER_ID

    carded = carded_clusters(run.clusters, top=params.top_clusters)
    keys = carded.select(cid)
    members = run.members.select(S.ACCOUNT_ID, cid).join(keys, on=cid, how="semi")
    profile = run.profile_accounts.join(members, on=S.ACCOUNT_ID)
    for name in MEMBER_COLUMNS:
        if name not in profile.columns:
            profile = profile.with_columns(pl.lit(None, pl.String).alias(name))
    capability_columns = [f"n_{name}" for name in CAPABILITIES]
    profile = profile.with_columns(
        pl.col(N_EXCHANGES).fill_null(0).cast(pl.Int64),
        *[
            pl.col(c).fill_null(0).cast(pl.Int64)
            if c in profile.columns
            else pl.lit(0, pl.Int64).alias(c)
            for c in capability_columns
        ],
        (
            (pl.col(FIRST_SEEN) - pl.col(S.CREATED_AT)).dt.total_seconds(fractional=True) / 86400.0
        ).alias("_age"),
        pl.when(pl.col(N_EXCHANGES) > 0)
        .then(pl.col(N_EXCHANGES) / pl.col(ACTIVE_DAYS).cast(pl.Float64).clip(1.0, None))
        .alias("_per_day"),
    )

    signups, bursts = _signups(profile, burst_hours)
    ages = _ages(profile)
    daily = _daily(run, members)
    hours = _hours(run, members, keys)
    capabilities = _capabilities(profile, capability_columns)
    templates, samples = _templates(run, keys)
    clusters = run.clusters.join(carded, on=cid)
    kinds = _kinds(
        run.evidence.join(keys, on=cid, how="semi"), run.contributions, clusters, run.values
    ).with_columns(
        pl.col(S.ATTRIBUTE_KIND)
        .replace_strict(run.record.get("comparisons", {}), default=None, return_dtype=pl.String)
        .alias(COMPARISON)
    )
    values = (
        run.evidence.join(keys, on=cid, how="semi")
        .sort(
            cid,
            S.ATTRIBUTE_KIND,
            ACCOUNTS_IN_CLUSTER,
            S.VALUE,
            descending=[False, False, True, False],
        )
        .filter(pl.int_range(pl.len()).over(cid, S.ATTRIBUTE_KIND) < params.values_per_kind)
    )
    signals = run.contributions.filter(
        pl.col(cid).is_in(keys[cid].implode())
    )  # keeps the signal order
    listed = (
        profile.sort(cid, S.CREATED_AT, S.ACCOUNT_ID, nulls_last=True)
        .filter(pl.int_range(pl.len()).over(cid) < params.members)
        .select(cid, *MEMBER_COLUMNS)
    )

    figures = profile.group_by(cid).agg(
        pl.col(S.CREATED_AT).min().alias(CREATED_FIRST),
        pl.col(S.CREATED_AT).max().alias(CREATED_LAST),
        pl.col(S.CREATED_AT).is_not_null().sum().cast(pl.Int64).alias(WITH_CREATED_AT),
        pl.col("_age").median().round(4).alias(MEDIAN_AGE_DAYS),
        (pl.col(N_EXCHANGES) > 0).sum().cast(pl.Int64).alias(ACTIVE_ACCOUNTS),
        pl.col("_per_day").median().round(4).alias(MEDIAN_PER_DAY),
        pl.col("_per_day").max().round(4).alias(MAX_PER_DAY),
    )
    active_days = daily.group_by(cid).agg(pl.len().cast(pl.Int64).alias(CLUSTER_ACTIVE_DAYS))
    template_share = templates.group_by(cid).agg(
        pl.col(SHARE).sum().round(6).alias(TOP_TEMPLATES_SHARE)
    )
    head_columns = [
        cid,
        SIZE,
        S.CLUSTER_SCORE,
        S.FLAGGED,
        CARDED_BECAUSE,
        EXCHANGES,
        FIRST_ACTIVITY,
        LAST_ACTIVITY,
        SUMMARY,
        *([DECISION] if DECISION in clusters.columns else []),  # runs since decisions
    ]
    clusters = (
        clusters.select(head_columns)
        .join(figures, on=cid, how="left")
        .join(bursts, on=cid, how="left")
        .join(active_days, on=cid, how="left")
        .join(template_share, on=cid, how="left")
        .with_columns(pl.col(BURST_ACCOUNTS).fill_null(0), pl.col(CLUSTER_ACTIVE_DAYS).fill_null(0))
        .sort(cid)
    )
    return Cards(
        clusters=clusters,
        kinds=kinds,
        values=values,
        signals=signals,
        signups=signups,
        ages=ages,
        daily=daily,
        hours=hours,
        capabilities=capabilities,
        templates=templates,
        samples=samples,
        members=listed,
        comparisons=comparison_table(run.links, keys),
    )


def _signups(profile: pl.DataFrame, burst_hours: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accounts created per bin, and each cluster's largest burst (most signups within ``burst_hours``)."""
    cid = S.CLUSTER_ID
    created = profile.select(cid, S.CREATED_AT).drop_nulls(S.CREATED_AT).sort(cid, S.CREATED_AT)
    span = (pl.col(S.CREATED_AT).max() - pl.col(S.CREATED_AT).min()).over(cid)
    name_expr: pl.Expr = pl.lit(SIGNUP_BINS[-1][0])
    start_expr: pl.Expr = pl.col(S.CREATED_AT).dt.truncate(SIGNUP_BINS[-1][1])
    for name, every, limit in reversed(SIGNUP_BINS[:-1]):
        name_expr = pl.when(span <= limit).then(pl.lit(name)).otherwise(name_expr)
        start_expr = (
            pl.when(span <= limit)
            .then(pl.col(S.CREATED_AT).dt.truncate(every))
            .otherwise(start_expr)
        )
    signups = (
        created.with_columns(name_expr.alias(BIN), start_expr.alias(BIN_START))
        .group_by(cid, BIN, BIN_START)
        .agg(pl.len().cast(pl.Int64).alias(N_ACCOUNTS))
        .sort(cid, BIN_START)
    )
    period = f"{max(1, round(burst_hours * 3600))}s"
    bursts = (
        created.rolling(index_column=S.CREATED_AT, period=period, group_by=cid, closed="both")
        .agg(
            pl.len().cast(pl.Int64).alias(BURST_ACCOUNTS),
            pl.col(S.CREATED_AT).min().alias(BURST_START),
        )
        .rename({S.CREATED_AT: BURST_END})
        .sort(cid, BURST_ACCOUNTS, BURST_END, descending=[False, True, False])
        .unique(subset=cid, keep="first", maintain_order=True)
        .select(cid, BURST_ACCOUNTS, BURST_START, BURST_END)
    )
    return signups, bursts


def _ages(profile: pl.DataFrame) -> pl.DataFrame:
    age = pl.col("_age")
    label = (
        pl.when(pl.col(S.CREATED_AT).is_null())
        .then(pl.lit(AGE_BINS[8]))
        .when(pl.col(FIRST_SEEN).is_null())
        .then(pl.lit(AGE_BINS[7]))
        .when(age < 0)
        .then(pl.lit(AGE_BINS[6]))
        .when(age < 1 / 24)
        .then(pl.lit(AGE_BINS[0]))
        .when(age < 1)
        .then(pl.lit(AGE_BINS[1]))
        .when(age < 7)
        .then(pl.lit(AGE_BINS[2]))
        .when(age < 30)
        .then(pl.lit(AGE_BINS[3]))
        .when(age < 365)
        .then(pl.lit(AGE_BINS[4]))
        .otherwise(pl.lit(AGE_BINS[5]))
    )
    return (
        profile.select(S.CLUSTER_ID, label.alias(AGE_BIN))
        .group_by(S.CLUSTER_ID, AGE_BIN)
        .agg(pl.len().cast(pl.Int64).alias(N_ACCOUNTS))
        .with_columns(
            pl.col(AGE_BIN)
            .replace_strict({b: i for i, b in enumerate(AGE_BINS)}, return_dtype=pl.Int64)
            .alias(AGE_ORDER)
        )
        .sort(S.CLUSTER_ID, AGE_ORDER)
        .select(S.CLUSTER_ID, AGE_ORDER, AGE_BIN, N_ACCOUNTS)
    )


def _daily(run: Run, members: pl.DataFrame) -> pl.DataFrame:
    schema = pl.Schema(
        {S.CLUSTER_ID: pl.String, DAY: pl.Date, EXCHANGES: pl.Int64, ACTIVE_ACCOUNTS: pl.Int64}
    )
    daily = _scan(run, PROFILES_DIR, "daily")
    if daily is None:
        return pl.DataFrame(schema=schema)
    return (
        daily.join(members.lazy(), on=S.ACCOUNT_ID)
        .group_by(S.CLUSTER_ID, DAY)
        .agg(
            pl.col(S.N_EVENTS).sum().cast(pl.Int64).alias(EXCHANGES),
            pl.len().cast(pl.Int64).alias(ACTIVE_ACCOUNTS),
        )
        .collect()
        .sort(S.CLUSTER_ID, DAY)
        .cast(schema)
    )


def _hours(run: Run, members: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    grid = keys.join(pl.DataFrame({HOUR: pl.Series(range(24), dtype=pl.Int8)}), how="cross")
    hours = _scan(run, PROFILES_DIR, "hours")
    if hours is None:
        return grid.with_columns(pl.lit(0, pl.Int64).alias(S.N_EVENTS))
    counts = (
        hours.join(members.lazy(), on=S.ACCOUNT_ID)
        .group_by(S.CLUSTER_ID, pl.col(HOUR).cast(pl.Int8))
        .agg(pl.col(S.N_EVENTS).sum().cast(pl.Int64))
        .collect()
    )
    return (
        grid.join(counts, on=[S.CLUSTER_ID, HOUR], how="left")
        .with_columns(pl.col(S.N_EVENTS).fill_null(0))
        .sort(S.CLUSTER_ID, HOUR)
    )


def _capabilities(profile: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    sums = profile.group_by(S.CLUSTER_ID).agg(pl.col(c).sum() for c in columns)
    long = sums.unpivot(
        index=S.CLUSTER_ID, on=columns, variable_name=CAPABILITY, value_name=N_EXCHANGES
    )
    order = {c: i for i, c in enumerate(columns)}
    return (
        long.with_columns(
            pl.col(CAPABILITY).str.strip_prefix("n_"),
            pl.col(CAPABILITY).replace_strict(order, return_dtype=pl.Int64).alias("_order"),
            pl.col(N_EXCHANGES).cast(pl.Int64),
        )
        .with_columns(
            pl.when(pl.col(N_EXCHANGES).sum().over(S.CLUSTER_ID) > 0)
            .then((pl.col(N_EXCHANGES) / pl.col(N_EXCHANGES).sum().over(S.CLUSTER_ID)).round(6))
            .otherwise(None)
            .alias(SHARE)
        )
        .sort(S.CLUSTER_ID, "_order")
        .drop("_order")
    )


def _templates(run: Run, keys: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    frames = []
    for name, schema in (
        (CLUSTER_TEMPLATES, _TEMPLATES_SCHEMA),
        (TEMPLATE_SAMPLES, _SAMPLES_SCHEMA),
    ):
        scan = _scan(run, PROFILES_DIR, name)
        frame = (
            scan.join(keys.lazy(), on=S.CLUSTER_ID, how="semi").collect()
            if scan is not None
            else pl.DataFrame(schema=schema)
        )
        frames.append(
            frame.sort(
                S.CLUSTER_ID, TEMPLATE_RANK, *([SAMPLE_RANK] if name == TEMPLATE_SAMPLES else [])
            )
        )
    return frames[0], frames[1]


def _kinds(
    evidence: pl.DataFrame,
    contributions: pl.DataFrame,
    clusters: pl.DataFrame,
    values: pl.DataFrame,
) -> pl.DataFrame:
    """Per cluster and kind: what is shared, and the kind's share of the ``evidence`` signal.

    ``link_weight`` = Σ weight × (accounts in cluster − 1) over the kind's rows
    of the evidence table (each holder is tied to every other holder by the
    value's weight); ``kind_contribution`` splits the ``evidence`` signal's
    contribution across kinds in proportion to it. Behaviour signals are not
    attributed to kinds.
    """
    cid = S.CLUSTER_ID
    evidence_contribution = contributions.filter(pl.col(SIGNAL) == "evidence").select(
        cid, pl.col(CONTRIBUTION).alias("_evidence")
    )
    per_kind = (
        evidence.sort(
            cid,
            S.ATTRIBUTE_KIND,
            ACCOUNTS_IN_CLUSTER,
            S.VALUE,
            descending=[False, False, True, False],
        )
        .group_by(cid, S.ATTRIBUTE_KIND, maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias(N_VALUES),
            pl.col(ACCOUNTS_IN_CLUSTER).first().cast(pl.Int64).alias(TOP_HOLDERS),
            pl.col(ACCOUNTS_OUTSIDE).first().cast(pl.Int64).alias(TOP_OUTSIDE),
            (pl.col("weight").fill_null(0.0) * (pl.col(ACCOUNTS_IN_CLUSTER).cast(pl.Float64) - 1.0))
            .sum()
            .alias(LINK_WEIGHT),
        )
        .join(clusters.select(cid, SIZE), on=cid)
        .join(evidence_contribution, on=cid, how="left")
        .with_columns(
            (pl.col(TOP_HOLDERS) / pl.col(SIZE).cast(pl.Float64)).round(6).alias(TOP_SHARE),
            ((pl.col(TOP_HOLDERS) >= 2) & (pl.col(TOP_HOLDERS) * 2 >= pl.col(SIZE))).alias(
                MAJORITY
            ),
            pl.when(pl.col(LINK_WEIGHT).sum().over(cid) > 0)
            .then(pl.col(LINK_WEIGHT) / pl.col(LINK_WEIGHT).sum().over(cid))
            .otherwise(0.0)
            .alias(LINK_SHARE),
        )
        .with_columns(
            (pl.col(LINK_SHARE) * pl.col("_evidence").fill_null(0.0))
            .round(6)
            .alias(KIND_CONTRIBUTION),
            pl.col(LINK_SHARE).round(6),
            pl.col(LINK_WEIGHT).round(6),
        )
    )
    kind_weight = values.group_by(S.ATTRIBUTE_KIND).agg(pl.col("kind_weight").first())
    return (
        per_kind.join(kind_weight, on=S.ATTRIBUTE_KIND, how="left")
        .sort(cid, KIND_CONTRIBUTION, S.ATTRIBUTE_KIND, descending=[False, True, False])
        .select(
            cid,
            S.ATTRIBUTE_KIND,
            "kind_weight",
            N_VALUES,
            TOP_HOLDERS,
            TOP_SHARE,
            TOP_OUTSIDE,
            MAJORITY,
            LINK_WEIGHT,
            LINK_SHARE,
            KIND_CONTRIBUTION,
        )
    )


def write_cards(cards: Cards, out: str | Path, *, params: CardParams | None = None) -> list[Path]:
    """Write ``cards/<table>.parquet`` for every table and ``cards.json`` (all cards); returns the paths."""
    out = Path(out)
    folder = out / CARDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in cards.tables().items():
        path = folder / f"{name}.parquet"
        frame.write_parquet(path, compression="zstd", statistics=False)
        paths.append(path)
    document = {
        "note": "evidence cards: every flagged cluster and the best-scored others; "
        "tables in cards/*.parquet, one card per cluster here",
        "params": dataclasses.asdict(params or CardParams()),
        "cards": cards.to_dicts(),
    }
    paths.append(write_json(document, out / CARDS_JSON))
    return paths


def load_cards(run: Run, *, params: CardParams | None = None) -> Cards:
    """The cards of a run: read from ``cards/`` when written, computed (not written) otherwise."""
    folder = run.path / CARDS_DIR
    if all((folder / f"{name}.parquet").is_file() for name in TABLES):
        return Cards(**{name: pl.read_parquet(folder / f"{name}.parquet") for name in TABLES})
    return compute_cards(run, params=params)
