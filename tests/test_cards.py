"""Evidence cards: the card tables agree with the run's tables they come from."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from acctgraph.cards import (
    CARDS_DIR,
    CARDS_JSON,
    TABLES,
    CardParams,
    Cards,
    carded_clusters,
    compute_cards,
    load_cards,
)
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.prompt import template_bands
from acctgraph.load import dataset_from_frames
from acctgraph.run.config import Config
from acctgraph.run.pipeline import run_pipeline
from acctgraph.run.result import RunResult
from acctgraph.run.write import write_outputs
from acctgraph.runfolder import Run, load_run
from acctgraph.simulate import simulate_frames

SEED = 5


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    accounts, exchanges, _ = simulate_frames("tiny", seed=SEED)
    # Declared accounts columns, so that the record-linkage table (comparisons) has rows too.
    config = Config().with_overrides(
        attributes=["display_name:fuzzy", "country", "org_id", "payment_fingerprint", "device_id"]
    )
    result = run_pipeline(dataset_from_frames(accounts, exchanges), config=config)
    out = tmp_path_factory.mktemp("cards_run")
    write_outputs(result, out)
    return result, out


@pytest.fixture(scope="module")
def run(written) -> Run:
    return load_run(written[1])


@pytest.fixture(scope="module")
def cards(run: Run) -> Cards:
    return load_cards(run)


def _by_cluster(frame: pl.DataFrame, column: str, name: str) -> pl.DataFrame:
    return frame.group_by(S.CLUSTER_ID).agg(pl.col(column).sum().alias(name))


# =============================================================================
# Which clusters, and the files
# =============================================================================


def test_every_flagged_cluster_and_the_top_others_are_carded(run: Run, cards: Cards) -> None:
    clusters = run.clusters.sort(S.CLUSTER_ID)
    flagged = set(clusters.filter(pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list())
    others = clusters.filter(~pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list()[
        : CardParams().top_clusters
    ]
    assert flagged, "the tiny world should have flagged clusters"
    assert set(cards.clusters[S.CLUSTER_ID].to_list()) == flagged | set(others)
    assert cards.clusters[S.CLUSTER_ID].to_list() == sorted(cards.clusters[S.CLUSTER_ID].to_list())
    reasons = dict(cards.clusters.select(S.CLUSTER_ID, "carded_because").iter_rows())
    assert all(reasons[c] == "flagged" for c in flagged)


@pytest.mark.parametrize("top", [0, 1, 3])
def test_carded_clusters_is_bounded(run: Run, top: int) -> None:
    carded = carded_clusters(run.clusters, top=top)
    n_flagged = int(run.clusters[S.FLAGGED].sum())
    assert carded.height == n_flagged + min(top, run.clusters.height - n_flagged)


@pytest.fixture(scope="module")
def recomputed(run: Run) -> Cards:
    return compute_cards(run)


@pytest.mark.parametrize("name", TABLES)
def test_cards_are_written_and_read_back_unchanged(
    written, cards: Cards, recomputed: Cards, name: str
) -> None:
    assert (written[1] / CARDS_DIR / f"{name}.parquet").is_file()
    read_back, computed = getattr(cards, name), getattr(recomputed, name)
    assert computed.height > 0, f"the tiny world should give {name} rows"
    assert_frame_equal(read_back, computed, check_dtypes=False)


def test_cards_json_holds_the_same_cards(written, cards: Cards) -> None:
    document = json.loads((written[1] / CARDS_JSON).read_text(encoding="utf-8"))
    assert [c[S.CLUSTER_ID] for c in document["cards"]] == cards.clusters[S.CLUSTER_ID].to_list()
    first = document["cards"][0]
    assert first == json.loads(json.dumps(cards.card(first[S.CLUSTER_ID])))
    assert len(first["hours"]) == 24
    with pytest.raises(KeyError):
        cards.card("op-999999")


# =============================================================================
# Card values come from the tables, not from a second computation
# =============================================================================


def test_shared_values_are_rows_of_the_evidence_table(run: Run, cards: Cards) -> None:
    evidence = run.evidence.join(cards.clusters.select(S.CLUSTER_ID), on=S.CLUSTER_ID, how="semi")
    missing = cards.values.join(evidence, on=cards.values.columns, how="anti", nulls_equal=True)
    assert missing.is_empty()
    per_kind = cards.values.group_by(S.CLUSTER_ID, S.ATTRIBUTE_KIND).len()
    assert per_kind["len"].max() <= CardParams().values_per_kind
    # the kept ones are the most-held of each kind
    top = (
        evidence.sort(
            S.CLUSTER_ID,
            S.ATTRIBUTE_KIND,
            "accounts_in_cluster",
            S.VALUE,
            descending=[False, False, True, False],
        )
        .group_by(S.CLUSTER_ID, S.ATTRIBUTE_KIND, maintain_order=True)
        .first()
    )
    assert top.join(cards.values, on=evidence.columns, how="anti", nulls_equal=True).is_empty()


def test_signals_are_the_contributions_and_add_up_to_the_score(run: Run, cards: Cards) -> None:
    expected = run.contributions.filter(
        pl.col(S.CLUSTER_ID).is_in(cards.clusters[S.CLUSTER_ID].implode())
    )
    assert_frame_equal(cards.signals, expected)
    sums = _by_cluster(cards.signals, "contribution", "_sum").join(
        cards.clusters.select(S.CLUSTER_ID, S.CLUSTER_SCORE), on=S.CLUSTER_ID
    )
    for _, total, score in sums.iter_rows():
        assert abs(min(1.0, max(0.0, total)) - score) < 1e-5


def test_kinds_summarise_the_evidence_and_split_the_evidence_signal(run: Run, cards: Cards) -> None:
    counts = run.evidence.group_by(S.CLUSTER_ID, S.ATTRIBUTE_KIND).agg(
        pl.len().alias("_n"), pl.col("accounts_in_cluster").max().cast(pl.Int64).alias("_top")
    )
    joined = cards.kinds.join(counts, on=[S.CLUSTER_ID, S.ATTRIBUTE_KIND], how="left")
    assert (joined["n_values"] == joined["_n"]).all()
    assert (joined["top_accounts_in_cluster"] == joined["_top"]).all()
    evidence_signal = cards.signals.filter(pl.col("signal") == "evidence").select(
        S.CLUSTER_ID, "contribution"
    )
    split = _by_cluster(cards.kinds, "kind_contribution", "_split").join(
        evidence_signal, on=S.CLUSTER_ID
    )
    for _, split_sum, contribution in split.iter_rows():
        assert abs(split_sum - contribution) < 1e-4
    assert ((cards.kinds["link_share"] >= 0) & (cards.kinds["link_share"] <= 1)).all()


def test_hour_of_day_bins_sum_to_the_exchanges(cards: Cards) -> None:
    assert cards.hours.group_by(S.CLUSTER_ID).len()["len"].unique().to_list() == [24]
    sums = _by_cluster(cards.hours, S.N_EVENTS, "_h").join(
        cards.clusters.select(S.CLUSTER_ID, "exchanges"), on=S.CLUSTER_ID
    )
    assert (sums["_h"] == sums["exchanges"].fill_null(0).cast(pl.Int64)).all()


def test_daily_exchanges_sum_to_the_exchanges(cards: Cards) -> None:
    sums = _by_cluster(cards.daily, "exchanges", "_d").join(
        cards.clusters.select(S.CLUSTER_ID, "exchanges"), on=S.CLUSTER_ID, suffix="_cluster"
    )
    assert (sums["_d"] == sums["exchanges"].cast(pl.Int64)).all()
    days = (
        cards.daily.group_by(S.CLUSTER_ID)
        .len()
        .join(cards.clusters.select(S.CLUSTER_ID, "active_days"), on=S.CLUSTER_ID)
    )
    assert (days["len"] == days["active_days"]).all()
    sizes = cards.daily.join(cards.clusters.select(S.CLUSTER_ID, "size"), on=S.CLUSTER_ID)
    assert (sizes["active_accounts"] <= sizes["size"]).all()


def test_capability_shares_sum_to_one(cards: Cards) -> None:
    totals = cards.capabilities.group_by(S.CLUSTER_ID).agg(
        pl.col("share").sum().alias("_share"), pl.col("n_exchanges").sum().alias("_n")
    )
    totals = totals.join(cards.clusters.select(S.CLUSTER_ID, "exchanges"), on=S.CLUSTER_ID)
    active = totals.filter(pl.col("_n") > 0)
    assert active.height > 0
    assert ((active["_share"] - 1.0).abs() < 1e-5).all()
    assert (totals["_n"] == totals["exchanges"].fill_null(0).cast(pl.Int64)).all()
    assert cards.capabilities.group_by(S.CLUSTER_ID).len()["len"].unique().to_list() == [4]


def test_signups_ages_and_bursts_add_up(run: Run, cards: Cards) -> None:
    signups = _by_cluster(cards.signups, "n_accounts", "_s").join(
        cards.clusters.select(S.CLUSTER_ID, "accounts_with_created_at", "burst_accounts", "size"),
        on=S.CLUSTER_ID,
    )
    assert (signups["_s"] == signups["accounts_with_created_at"]).all()
    assert (signups["burst_accounts"] <= signups["accounts_with_created_at"]).all()
    assert cards.signups.group_by(S.CLUSTER_ID).agg(pl.col("bin").n_unique())["bin"].max() == 1
    ages = _by_cluster(cards.ages, "n_accounts", "_a").join(
        cards.clusters.select(S.CLUSTER_ID, "size"), on=S.CLUSTER_ID
    )
    assert (ages["_a"] == ages["size"].cast(pl.Int64)).all()
    burst_hours = run.record["parameters"]["score"]["burst_hours"]
    with_burst = cards.clusters.filter(pl.col("burst_accounts") > 0)
    spans = with_burst.select((pl.col("burst_end") - pl.col("burst_start")).dt.total_seconds())
    assert (spans.to_series() <= burst_hours * 3600).all()


def test_burst_matches_a_direct_count(run: Run, cards: Cards) -> None:
    row = cards.clusters.filter(pl.col("burst_accounts") > 1).row(0, named=True)
    members = run.members.filter(pl.col(S.CLUSTER_ID) == row[S.CLUSTER_ID])[S.ACCOUNT_ID]
    created = sorted(
        run.profile_accounts.filter(pl.col(S.ACCOUNT_ID).is_in(members.implode()))[S.CREATED_AT]
        .drop_nulls()
        .to_list()
    )
    hours = run.record["parameters"]["score"]["burst_hours"]
    best = max(
        sum(1 for t in created if 0 <= (t - s).total_seconds() <= hours * 3600) for s in created
    )
    assert row["burst_accounts"] == best


def test_members_are_capped_and_belong_to_their_cluster(run: Run, cards: Cards) -> None:
    joined = cards.members.join(
        run.members.select(S.ACCOUNT_ID, pl.col(S.CLUSTER_ID).alias("_c")), on=S.ACCOUNT_ID
    )
    assert joined.height == cards.members.height
    assert (joined[S.CLUSTER_ID] == joined["_c"]).all()
    listed = (
        cards.members.group_by(S.CLUSTER_ID)
        .len()
        .join(cards.clusters.select(S.CLUSTER_ID, "size"), on=S.CLUSTER_ID)
    )
    cap = CardParams().members
    assert all(n == min(size, cap) for n, size in listed.select("len", "size").iter_rows())


# =============================================================================
# Templates and sample prompts
# =============================================================================


def test_templates_are_ranked_and_shares_are_fractions(cards: Cards) -> None:
    assert cards.templates.height > 0
    ranks = cards.templates.group_by(S.CLUSTER_ID).agg(pl.col("template_rank"))
    for ranked in ranks["template_rank"].to_list():
        assert (
            ranked == list(range(1, len(ranked) + 1)) and len(ranked) <= CardParams().top_templates
        )
    assert ((cards.templates["share"] > 0) & (cards.templates["share"] <= 1)).all()
    assert (cards.templates["n_events"] <= cards.templates["template_events"]).all()


def test_template_counts_match_the_attribute_table(written, cards: Cards) -> None:
    result, _ = written
    row = cards.templates.row(0, named=True)
    members = result.scored.members.filter(pl.col(S.CLUSTER_ID) == row[S.CLUSTER_ID])[S.ACCOUNT_ID]
    rows = result.attributes_by_id().filter(
        (pl.col(S.ATTRIBUTE_KIND) == "prompt_template")
        & pl.col(S.ACCOUNT_ID).is_in(members.implode())
    )
    band = rows.filter(pl.col(S.VALUE) == row[S.VALUE])
    assert band.height == row["accounts_in_cluster"]
    assert int(band[S.N_EVENTS].sum()) == row["n_events"]
    assert int(rows[S.N_EVENTS].sum()) == row["template_events"]


def test_samples_show_their_template_from_distinct_members(written, cards: Cards) -> None:
    result, _ = written
    samples = cards.samples
    assert samples.height > 0
    assert (
        samples.group_by(S.CLUSTER_ID, "template_rank").len()["len"].max()
        <= CardParams().samples_per_template
    )
    assert (
        samples.group_by(S.CLUSTER_ID, "template_rank")
        .agg(pl.col(S.ACCOUNT_ID).n_unique() == pl.len())[S.ACCOUNT_ID]
        .all()
    )
    prompt = result.config.feature("prompt_template")
    joined = samples.join(
        cards.templates.select(S.CLUSTER_ID, "template_rank", S.VALUE),
        on=[S.CLUSTER_ID, "template_rank"],
    )
    banded = joined.with_columns(
        template_bands(
            S.PROMPT,
            max_chars=prompt.max_chars,
            min_word=prompt.min_word,
            band_words=prompt.band_words,
            n_bands=prompt.n_bands,
        ).alias("_bands")
    )
    assert banded.select(pl.col("_bands").list.contains(pl.col(S.VALUE)).all()).item()
    owners = samples.join(
        result.scored.members.select(S.ACCOUNT_ID, pl.col(S.CLUSTER_ID).alias("_c")),
        on=S.ACCOUNT_ID,
    )
    assert (owners[S.CLUSTER_ID] == owners["_c"]).all()
    # earliest first within each template
    ordered = samples.sort(S.CLUSTER_ID, "template_rank", "sample_rank")
    assert (
        ordered.group_by(S.CLUSTER_ID, "template_rank", maintain_order=True)
        .agg(pl.col(S.TIMESTAMP).is_sorted())[S.TIMESTAMP]
        .all()
    )


def test_cards_without_template_files_still_work(written, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "old_run"
    shutil.copytree(written[1], copy)
    for name in ("cluster_templates", "template_samples"):
        (copy / "profiles" / f"{name}.parquet").unlink()
    shutil.rmtree(copy / CARDS_DIR)
    cards = load_cards(load_run(copy))
    assert cards.templates.is_empty() and cards.samples.is_empty()
    assert cards.clusters.height > 0


def test_card_params_validate() -> None:
    with pytest.raises(ConfigError, match="cards.top_clusters must be at least 0, got -1"):
        CardParams(top_clusters=-1)
    with pytest.raises(ConfigError, match="cards.sample_rows_per_account must be at least 1"):
        CardParams(sample_rows_per_account=0)
    assert CardParams(top_clusters=0, members=0).top_clusters == 0  # 0 is allowed: no extra cards


def test_graph_tables_given_to_the_run_equal_the_files(written) -> None:
    """write_outputs hands its graph frames to the Run that draws cards and pages instead of
    reading them back; that is only sound if the files read back equal them."""
    result, out = written
    read = load_run(out)
    for name in Run.SHAREABLE:
        assert getattr(read, name).equals(getattr(result.graph, name)), name
    shared = load_run(out, {"incidence": result.graph.incidence})
    assert shared.incidence is result.graph.incidence
    with pytest.raises(ValueError, match="members"):
        load_run(out, {"members": result.scored.members})
