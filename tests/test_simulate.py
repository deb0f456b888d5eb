"""Invariants of simulated worlds: sizes, contract, determinism, truth, dirt."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from acctgraph import schema as S
from acctgraph.errors import ConfigError
from acctgraph.simulate import (
    DIRT_KINDS,
    FRAUD_KIND,
    HOSTILE_STRINGS,
    PRESETS,
    WorldSpec,
    simulate,
    simulate_frames,
)
from acctgraph.simulate.dirt import BAD_CREATED_AT
from acctgraph.simulate.network import MALFORMED_IPS, PRIVATE_IPS

WINDOW_START = PRESETS["tiny"].window_start
WINDOW_END = PRESETS["tiny"].window_end


@pytest.fixture(scope="module")
def tiny():
    return simulate_frames("tiny", seed=1)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    return out, simulate("tiny", seed=1, out=out)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _with_labels(exchanges: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    return exchanges.join(labels, on=S.ACCOUNT_ID, how="left")


# --- sizes and speed ------------------------------------------------------------
def test_tiny_is_fast_and_sized():
    start = time.perf_counter()
    accounts, exchanges, labels = simulate_frames("tiny", seed=5)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    assert 1_900 <= labels.height <= 2_100
    assert 20_000 <= exchanges.height <= 40_000
    assert accounts.height < labels.height


def test_sample_size_determinism_and_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    summary = simulate("sample", seed=11, out=a)
    simulate("sample", seed=11, out=b)
    assert 19_000 <= summary.n_accounts <= 21_000
    assert 250_000 <= summary.n_exchanges <= 350_000
    assert 6 <= len(summary.operators) <= 8
    assert _files(a) == _files(b)
    total = sum(p.stat().st_size for p in a.iterdir())
    assert total < 15_000_000


# --- determinism ------------------------------------------------------------------
def test_same_seed_gives_identical_bytes(tmp_path, tiny_dir):
    first, _ = tiny_dir
    second = tmp_path / "again"
    simulate("tiny", seed=1, out=second)
    assert _files(first) == _files(second)
    assert set(_files(first)) == {"README.md", "accounts.csv", "exchanges.parquet", "labels.csv"}


def test_parquet_accounts_are_deterministic_too(tmp_path):
    for name in ("x", "y"):
        simulate("tiny", seed=2, out=tmp_path / name, accounts_format="parquet")
    assert _files(tmp_path / "x") == _files(tmp_path / "y")
    assert (tmp_path / "x" / "accounts.parquet").exists()


def test_different_seeds_differ(tiny):
    accounts, exchanges, _ = simulate_frames("tiny", seed=2)
    assert not accounts.equals(tiny[0])
    assert not exchanges.head(1000).equals(tiny[1].head(1000))


def test_chunk_size_does_not_change_the_world(tiny):
    spec = replace(PRESETS["tiny"], chunk_exchanges=1_000)
    accounts, exchanges, labels = simulate_frames(spec, seed=1)
    assert_frame_equal(accounts, tiny[0])
    assert_frame_equal(exchanges, tiny[1])
    assert_frame_equal(labels, tiny[2])


def test_adding_an_operator_leaves_legitimate_accounts_alone(tiny):
    spec = replace(PRESETS["tiny"], n_operators=5)
    _, exchanges, labels = simulate_frames(spec, seed=1)
    legit = tiny[2].filter(pl.col(S.OPERATOR_ID).is_null())
    assert_frame_equal(labels.filter(pl.col(S.OPERATOR_ID).is_null()), legit)
    ids = legit[S.ACCOUNT_ID]
    assert_frame_equal(
        exchanges.filter(pl.col(S.ACCOUNT_ID).is_in(ids.implode())),
        tiny[1].filter(pl.col(S.ACCOUNT_ID).is_in(ids.implode())),
    )


# --- contract ----------------------------------------------------------------------
def test_frames_follow_the_contract(tiny):
    accounts, exchanges, labels = tiny
    assert accounts.columns == list(S.ACCOUNTS_SCHEMA)
    assert all(dtype == pl.String for dtype in accounts.dtypes)  # created_at is ISO text
    assert dict(exchanges.schema) == S.EXCHANGES_SCHEMA
    assert labels.columns == list(S.LABELS_SCHEMA)
    assert accounts[S.ACCOUNT_ID].null_count() == 0
    assert accounts[S.ACCOUNT_ID].is_unique().all()
    assert (accounts[S.ACCOUNT_ID].str.len_chars() > 0).all()
    parsed = accounts[S.CREATED_AT].str.to_datetime(
        "%Y-%m-%dT%H:%M:%SZ", strict=False, time_zone="UTC"
    )
    assert parsed.null_count() < 0.02 * accounts.height


def test_files_follow_the_contract(tiny_dir):
    out, summary = tiny_dir
    schema = pq.read_schema(out / "exchanges.parquet")
    assert str(schema.field(S.TIMESTAMP).type) == "timestamp[us, tz=UTC]"
    assert str(schema.field(S.INPUT_TOKENS).type) == "int64"
    exchanges = pl.read_parquet(out / "exchanges.parquet")
    assert exchanges.height == summary.n_exchanges
    assert dict(exchanges.schema) == S.EXCHANGES_SCHEMA
    accounts = pl.read_csv(out / "accounts.csv", infer_schema=False)
    assert accounts.columns == list(S.ACCOUNTS_SCHEMA)
    assert accounts.height == summary.n_accounts_in_table
    labels = pl.read_csv(out / "labels.csv", infer_schema=False)
    assert labels.height == summary.n_accounts
    readme = (out / "README.md").read_text()
    assert "docs/simulator.md" in readme and "seed 1" in readme
    for kind in DIRT_KINDS:
        assert f"| {kind} |" in readme


def test_exchanges_fall_in_the_window(tiny):
    timestamps = tiny[1][S.TIMESTAMP]
    assert timestamps.min() >= WINDOW_START
    assert timestamps.max() <= WINDOW_END


def test_every_account_has_exactly_one_label(tiny):
    accounts, exchanges, labels = tiny
    assert labels[S.ACCOUNT_ID].is_unique().all()
    everyone = pl.concat([accounts[S.ACCOUNT_ID], exchanges[S.ACCOUNT_ID]]).unique()
    assert everyone.is_in(labels[S.ACCOUNT_ID].implode()).all()
    assert labels[S.KIND].null_count() == 0


def test_labels_cover_every_kind_and_several_operators(tiny):
    labels = tiny[2]
    assert set(labels[S.KIND].unique()) == {*S.LEGIT_KINDS, FRAUD_KIND}
    fraud = labels.filter(pl.col(S.KIND) == FRAUD_KIND)
    assert fraud[S.OPERATOR_ID].null_count() == 0
    assert (
        labels.filter(pl.col(S.KIND) != FRAUD_KIND)[S.OPERATOR_ID].null_count()
        == labels.height - fraud.height
    )
    assert fraud[S.OPERATOR_ID].n_unique() >= 3


def test_fraud_share_is_like_the_incident(tiny):
    _, exchanges, labels = tiny
    account_share = labels[S.OPERATOR_ID].is_not_null().mean()
    exchange_share = _with_labels(exchanges, labels)[S.OPERATOR_ID].is_not_null().mean()
    assert 0.02 <= account_share <= 0.05
    assert 0.60 <= exchange_share <= 0.75


def test_legitimate_activity_is_heavy_tailed(tiny):
    _, exchanges, labels = tiny
    per_account = (
        _with_labels(exchanges, labels)
        .filter(pl.col(S.OPERATOR_ID).is_null())
        .group_by(S.ACCOUNT_ID)
        .len()["len"]
    )
    assert per_account.median() <= 5
    assert per_account.max() >= 50 * per_account.median()


# --- realism that matters to the detector --------------------------------------------
def test_normal_addresses_are_global_unicast(tiny):
    accounts, exchanges, _ = tiny
    planted = set(MALFORMED_IPS) | set(PRIVATE_IPS)
    ips = pl.concat([accounts[S.SIGNUP_IP], exchanges[S.IP]]).drop_nulls().unique().sort()
    normal = [ip for ip in ips.to_list() if ip not in planted]
    assert len(normal) > 1_000
    parsed = [ipaddress.ip_address(ip) for ip in normal]
    assert all(ip.is_global for ip in parsed)
    assert any(ip.version == 6 for ip in parsed)


def test_operators_share_infrastructure_with_legitimate_users(tiny):
    _, exchanges, labels = tiny
    rows = _with_labels(exchanges, labels).filter(
        ~pl.col(S.IP).is_in(list(MALFORMED_IPS + PRIVATE_IPS))
    )
    slash24 = pl.col(S.IP).str.replace(r"\.\d+$", "")
    by_range = (
        rows.filter(~pl.col(S.IP).str.contains(":"))
        .group_by(slash24.alias("net"))
        .agg(
            pl.col(S.OPERATOR_ID).is_null().any().alias("legit"),
            pl.col(S.OPERATOR_ID).is_not_null().any().alias("fraud"),
        )
    )
    assert by_range.filter(pl.col("legit") & pl.col("fraud")).height > 0
    # popular phrasings are sent verbatim by many unrelated legitimate people
    legit = rows.filter(pl.col(S.OPERATOR_ID).is_null())
    shared = legit.group_by(S.PROMPT).agg(pl.col(S.ACCOUNT_ID).n_unique().alias("n"))
    assert shared["n"].max() >= 20


def test_every_dirt_kind_is_present(tiny, tiny_dir):
    accounts, exchanges, labels = tiny
    _, summary = tiny_dir
    assert all(summary.dirt[kind] > 0 for kind in DIRT_KINDS), summary.dirt
    assert exchanges[S.IP].is_in(list(MALFORMED_IPS)).any()
    assert exchanges[S.IP].is_in(list(PRIVATE_IPS)).any()
    assert exchanges.is_duplicated().any()
    assert accounts[S.CREATED_AT].is_in(list(BAD_CREATED_AT)).any()
    assert (accounts[S.EMAIL].str.strip_chars() != accounts[S.EMAIL]).any()
    assert accounts[S.EMAIL].str.contains(r"\+.*@gmail\.com$").any()
    assert accounts[S.DISPLAY_NAME].is_in(list(HOSTILE_STRINGS)).any()
    assert exchanges[S.PROMPT].str.contains("<script>", literal=True).any()
    assert labels.height > accounts.height
    for column in accounts.columns[1:]:
        assert accounts[column].null_count() > 0, column
    for column in exchanges.columns[2:]:
        assert exchanges[column].null_count() > 0, column


def test_hostile_strings_cover_the_usual_payloads():
    text = "\n".join(HOSTILE_STRINGS)
    for needle in (
        "<script>",
        "onerror=",
        "href",
        "=HYPERLINK(",
        "+cmd|",
        "@SUM(",
        "\u202e",
        "\u2066",
    ):
        assert needle in text
    assert any(s.startswith("\t") for s in HOSTILE_STRINGS)
    assert any(s.startswith("-") for s in HOSTILE_STRINGS)
    assert max(len(s) for s in HOSTILE_STRINGS) >= 5_000


# --- configuration -------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes",
    [
        {"n_accounts": 10},
        {"fraud_account_share": 0.7},
        {"individual_share": 0.9},
        {"n_operators": 0},
        {"missing_value_share": 0.5},
        {"compression_level": 0},
    ],
)
def test_invalid_specs_are_refused(changes):
    base = {"n_accounts": 2_000}
    with pytest.raises(ConfigError):
        WorldSpec(**(base | changes))


def test_unknown_preset_and_format_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="preset"):
        simulate_frames("huge", seed=1)
    with pytest.raises(ConfigError, match="accounts_format"):
        simulate("tiny", seed=1, out=tmp_path, accounts_format="xlsx")


def test_progress_is_reported(tmp_path):
    calls = []
    simulate("tiny", seed=1, out=tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]


@pytest.mark.slow
def test_bench_world_streams(tmp_path):
    summary = simulate("bench", seed=1, out=tmp_path)
    assert 190_000 <= summary.n_accounts <= 210_000
    assert 4_500_000 <= summary.n_exchanges <= 5_500_000
    metadata = pq.read_metadata(tmp_path / "exchanges.parquet")
    assert metadata.num_row_groups > 10
