"""Invariants of simulated worlds: sizes, contract, determinism, truth, dirt."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal

from acctgraph.cli import cli
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.simulate import (
    ARCHETYPES,
    CAREFUL,
    DIRT_KINDS,
    FRAUD_KIND,
    HOSTILE_STRINGS,
    PRESETS,
    Tradecraft,
    WorldSpec,
    simulate,
    simulate_frames,
)
from acctgraph.simulate.dirt import BAD_CREATED_AT
from acctgraph.simulate.generate import TRADECRAFT, build_roster
from acctgraph.simulate.network import MALFORMED_IPS, PRIVATE_IPS
from acctgraph.simulate.output import _RowGroupWriter
from acctgraph.simulate.spec import parse_scale, scale_label

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


# --- sizes ------------------------------------------------------------------
def test_tiny_is_sized():
    accounts, exchanges, labels = simulate_frames("tiny", seed=5)
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
    assert calls[0] == (0, calls[0][1])  # accounts and labels written, no exchange yet
    assert calls and calls[-1][0] == calls[-1][1]


@pytest.mark.slow
def test_bench_world_streams(tmp_path):
    summary = simulate("bench", seed=1, out=tmp_path)
    assert 190_000 <= summary.n_accounts <= 210_000
    assert 4_500_000 <= summary.n_exchanges <= 5_500_000
    metadata = pq.read_metadata(tmp_path / "exchanges.parquet")
    assert metadata.num_row_groups > 10


# --- the incident preset, scaling and the streaming writer ------------------------------
INCIDENT_LIKE = 0.002  # 2,000 accounts, 50 of them fraudulent in 8 operators, ~80k exchanges


def test_incident_preset_is_the_incident():
    spec = PRESETS["incident"]
    assert spec.n_accounts == 1_000_000
    assert spec.n_fraud_accounts == 25_000
    assert 8 <= spec.n_operators <= 12
    assert {spec.tradecraft(i).ip for i in range(spec.n_operators)} >= {
        "residential_proxy",
        "proxy_reseller",
        "datacenter",
        "mobile_proxy",
    }
    legit, fraud = spec.expected_exchanges()
    duplicated = 1 + spec.duplicate_exchange_share
    assert 28.7e6 <= fraud * duplicated <= 28.9e6
    assert 39e6 <= (legit + fraud) * duplicated <= 41e6


def test_scaled_spec_keeps_everything_but_the_size():
    spec = PRESETS["incident"]
    eighth = spec.scaled(1 / 8)
    assert (eighth.n_accounts, eighth.n_fraud_accounts) == (125_000, 3_125)
    assert eighth.name == "incident at scale 1/8"
    assert replace(eighth, name=spec.name, n_accounts=spec.n_accounts) == spec
    ratios = [x / y for x, y in zip(eighth.expected_exchanges(), spec.expected_exchanges())]
    assert [round(r, 6) for r in ratios] == [0.125, 0.125]
    assert spec.scaled(1) is spec
    with pytest.raises(ConfigError, match="at least 200"):
        PRESETS["tiny"].scaled(0.01)
    with pytest.raises(ConfigError, match="positive"):
        spec.scaled(0)
    with pytest.raises(ConfigError, match="fraudulent"):
        spec.scaled(0.0005)  # 500 accounts: 12 fraudulent, too few for 8 operators


@pytest.mark.parametrize(
    ("text", "value", "label"),
    [
        ("1/8", 0.125, "1/8"),
        ("0.25", 0.25, "1/4"),
        ("1", 1.0, "1"),
        (" 3/4 ", 0.75, "0.75"),
        ("0.002", 0.002, "1/500"),
        ("2", 2.0, "2"),
        ("1/3", 1 / 3, "1/3"),
    ],
)
def test_scales_parse_and_print(text, value, label):
    assert parse_scale(text) == value
    assert scale_label(value) == label


@pytest.mark.parametrize("text", ["0", "-1/8", "x", "1/0", "inf", "nan", ""])
def test_bad_scales_are_refused(text):
    with pytest.raises(ConfigError, match="scale"):
        parse_scale(text)


def test_row_groups_do_not_depend_on_how_rows_arrive(tmp_path, tiny):
    exchanges = tiny[1]
    whole, pieces = tmp_path / "whole.parquet", tmp_path / "pieces.parquet"
    writer = _RowGroupWriter(whole, 4_096, 3)
    writer.write(exchanges)
    writer.close()
    writer = _RowGroupWriter(pieces, 4_096, 3)
    start = 0
    for size in (1, 0, 4_095, 4_097, 3, 9_000, 10**9):  # empty, exact, straddling, remainder
        writer.write(exchanges.slice(start, size))
        start += size
    writer.close()
    assert whole.read_bytes() == pieces.read_bytes()
    metadata = pq.read_metadata(pieces)
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sizes[:-1] == [4_096] * (len(sizes) - 1) and 0 < sizes[-1] <= 4_096
    assert sum(sizes) == exchanges.height
    assert_frame_equal(pl.read_parquet(pieces), exchanges)


def test_incident_like_world_streams_deterministically(tmp_path):
    """A small incident written in many chunks and row groups: same spec, same bytes;
    the chunk size changes neither the rows nor the other files."""
    spec = replace(
        PRESETS["incident"].scaled(INCIDENT_LIKE), chunk_exchanges=3_000, row_group_rows=8_192
    )
    summary = simulate(spec, seed=3, out=tmp_path / "a")
    simulate(spec, seed=3, out=tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    one_chunk = simulate(replace(spec, chunk_exchanges=500_000), seed=3, out=tmp_path / "one")
    assert_frame_equal(
        pl.read_parquet(tmp_path / "a" / "exchanges.parquet"),
        pl.read_parquet(tmp_path / "one" / "exchanges.parquet"),
    )
    for name in ("accounts.csv", "labels.csv", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    assert summary == replace(one_chunk, out_dir=summary.out_dir)
    assert summary.n_accounts == 2_000 and summary.n_fraud_accounts == 50
    assert len(summary.operators) == 8 and all(op["n_exchanges"] > 0 for op in summary.operators)
    assert 0.68 <= summary.n_fraud_exchanges / summary.n_exchanges <= 0.76
    metadata = pq.read_metadata(tmp_path / "a" / "exchanges.parquet")
    assert metadata.num_rows == summary.n_exchanges
    assert metadata.num_row_groups == math.ceil(summary.n_exchanges / 8_192)
    readme = (tmp_path / "a" / "README.md").read_text()
    assert readme.startswith("# Simulated world: incident at scale 1/500, seed 3")


def test_simulate_frames_and_files_agree_at_a_scale(tmp_path):
    accounts, exchanges, labels = simulate_frames("incident", seed=4, scale=INCIDENT_LIKE)
    summary = simulate("incident", seed=4, out=tmp_path, scale=INCIDENT_LIKE)
    assert labels.height == summary.n_accounts == 2_000
    assert accounts.height == summary.n_accounts_in_table
    assert exchanges.height == summary.n_exchanges
    assert_frame_equal(pl.read_parquet(tmp_path / "exchanges.parquet"), exchanges)


def test_cli_simulates_a_scaled_incident(tmp_path):
    out = tmp_path / "world"
    result = CliRunner().invoke(
        cli,
        ["simulate", "--preset", "incident", "--scale", "1/500", "--seed", "2", "--out", str(out)],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert "2,000 accounts (50 fraudulent, 8 operators)" in result.stdout
    assert "exchanges" in result.stderr  # progress, unless --quiet
    readme = (out / "README.md").read_text()
    assert readme.startswith("# Simulated world: incident at scale 1/500, seed 2")
    quiet = CliRunner().invoke(
        cli,
        ["simulate", "--preset", "tiny", "--seed", "2", "--out", str(tmp_path / "q"), "--quiet"],
    )
    assert quiet.exit_code == 0 and quiet.stderr == ""
    refused = CliRunner().invoke(
        cli, ["simulate", "--preset", "tiny", "--scale", "1/100", "--out", str(tmp_path / "no")]
    )
    assert isinstance(refused.exception, ConfigError) and not (tmp_path / "no").exists()


def test_the_bundled_sample_is_what_the_simulator_makes():
    """data/sample must not drift: regenerate it (make sample) only on purpose."""
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    accounts, exchanges, labels = simulate_frames("sample", seed=7)
    assert_frame_equal(pl.read_parquet(sample / "exchanges.parquet"), exchanges)
    assert_frame_equal(pl.read_csv(sample / "accounts.csv", infer_schema=False), accounts)
    assert_frame_equal(pl.read_csv(sample / "labels.csv", infer_schema=False), labels)


@pytest.mark.slow
def test_incident_fraction_has_the_incident_proportions(tmp_path):
    summary = simulate("incident", seed=1, out=tmp_path, scale=1 / 40)
    assert summary.n_accounts == 25_000 and summary.n_fraud_accounts == 625
    assert 0.97e6 <= summary.n_exchanges <= 1.03e6
    assert 0.70 <= summary.n_fraud_exchanges / summary.n_exchanges <= 0.75
    metadata = pq.read_metadata(tmp_path / "exchanges.parquet")
    row_group_rows = PRESETS["incident"].row_group_rows
    assert metadata.num_row_groups == math.ceil(summary.n_exchanges / row_group_rows)


# --- tradecraft dimensions and the random preset (issue 15, step 1) --------------------------
def _world_of(*crafts: Tradecraft, **knobs) -> WorldSpec:
    quiet = dict(duplicate_exchange_share=0.0, hostile_prompt_share=0.0, missing_value_share=0.0)
    return WorldSpec(
        name="crafts",
        n_accounts=4_000,
        fraud_account_share=0.04,
        n_operators=len(crafts),
        tradecrafts=crafts,
        **{**quiet, **knobs},
    )


_BASE = ARCHETYPES[0]


def test_default_new_dimensions_are_todays_tradecraft():
    for craft in ARCHETYPES:
        explicit = replace(craft, templates="own", camouflage=None, rhythm=None, teams=1)
        assert explicit == craft and "teams=" not in craft.describe()
    assert "paraphrase=false" in ARCHETYPES[1].label(PRESETS["tiny"])


@pytest.mark.parametrize(
    "changes",
    [{"templates": "stolen"}, {"camouflage": 1.0}, {"rhythm": "night"}, {"teams": 0}],
)
def test_invalid_tradecrafts_are_refused(changes):
    with pytest.raises(ConfigError):
        replace(_BASE, **changes)


def test_random_preset_is_deterministic_and_labels_carry_tradecraft(tmp_path):
    first = simulate("random", seed=3, out=tmp_path / "a", scale=0.2)
    simulate("random", seed=3, out=tmp_path / "b", scale=0.2)
    other = simulate("random", seed=4, out=tmp_path / "c", scale=0.2)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a")["labels.csv"] != _files(tmp_path / "c")["labels.csv"]
    labels = pl.read_csv(tmp_path / "a" / "labels.csv")
    assert labels.columns == [S.ACCOUNT_ID, S.OPERATOR_ID, S.KIND, TRADECRAFT]
    crafts = labels.filter(pl.col(S.OPERATOR_ID).is_not_null())
    assert crafts[TRADECRAFT].null_count() == 0
    per_operator = crafts.group_by(S.OPERATOR_ID).agg(pl.col(TRADECRAFT).n_unique())
    assert per_operator[TRADECRAFT].to_list() == [1] * len(first.operators)
    assert labels.filter(pl.col(S.OPERATOR_ID).is_null())[TRADECRAFT].null_count() == (
        labels.height - crafts.height
    )
    assert other.n_accounts == first.n_accounts == 4_000


def test_random_preset_covers_the_new_dimensions():
    spec = PRESETS["random"]
    assert spec.n_accounts == PRESETS["sample"].n_accounts and spec.tradecraft_in_labels
    crafts = [c for seed in range(6) for c in spec.operator_tradecrafts(seed)]
    assert {c.templates for c in crafts} == {"own", "public"}
    assert {c.rhythm for c in crafts} == {None, "round_the_clock", "claimed_timezone"}
    assert {c.volume for c in crafts} == {"high", "low_slow", "legit_like"}
    assert {c.paraphrase for c in crafts} == {True, False}
    assert max(c.teams for c in crafts) > 1 and CAREFUL in crafts
    assert len({c.camouflage for c in crafts}) > 5


def test_cli_accepts_the_random_preset(tmp_path):
    out = tmp_path / "r"
    args = ["simulate", "--preset", "random", "--scale", "1/10", "--seed", "2", "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    assert TRADECRAFT in pl.read_csv(out / "labels.csv").columns


def test_public_template_is_also_sent_by_legitimate_accounts():
    spec = _world_of(CAREFUL, _BASE, public_prompt_share=0.05)
    world, roster, _ = build_roster(spec, 1)
    _, exchanges, labels = simulate_frames(spec, seed=1)
    rows = _with_labels(exchanges, labels)
    careful = roster.filter(pl.col(S.OPERATOR_ID) == "op01")
    main = world.templates.templates[world.templates.offsets[careful["template_set"][0]]]
    assert main in world.public_library.to_list()
    senders = rows.filter(pl.col(S.PROMPT) == main)
    legit_holders = senders.filter(pl.col(S.OPERATOR_ID).is_null())[S.ACCOUNT_ID].n_unique()
    assert legit_holders >= 10
    assert senders.filter(pl.col(S.OPERATOR_ID) == "op01").height > 0
    # the careful operator: no card, unique devices, a legitimate user's volume
    assert careful[S.PAYMENT_FINGERPRINT].null_count() == careful.height
    devices = careful[S.DEVICE_ID].drop_nulls()
    assert devices.n_unique() == devices.len()
    assert float(careful["n_exchanges"].median() or 0) < 60


def test_worlds_without_public_operators_have_no_public_library():
    world, _, _ = build_roster(_world_of(_BASE, ARCHETYPES[1]), 1)
    assert world.public_share == 0 and world.public_library.len() == 0


def test_teams_share_no_card_or_device():
    craft = replace(_BASE, payment="reused", device="reused", teams=3)
    _, roster, _ = build_roster(_world_of(craft, ARCHETYPES[1]), 2)
    op = roster.filter(pl.col(S.OPERATOR_ID) == "op01")
    assert sorted(op["team"].unique().to_list()) == [0, 1, 2]
    for column in (S.PAYMENT_FINGERPRINT, S.DEVICE_ID):
        teams = op.drop_nulls(column).group_by(column).agg(pl.col("team").n_unique())
        assert teams["team"].max() == 1  # no value in two teams
        assert teams.height < op.drop_nulls(column).height  # still shared within a team


def _quietest_hours(exchanges: pl.DataFrame, width: int) -> float:
    hours = exchanges[S.TIMESTAMP].dt.hour().value_counts().sort(S.TIMESTAMP)
    counts = dict(hours.iter_rows())
    per_hour = [counts.get(h, 0) for h in range(24)]
    total = sum(per_hour)
    return min(sum(per_hour[(h + i) % 24] for i in range(width)) for h in range(24)) / total


def test_claimed_timezone_has_a_quiet_window():
    claimed = replace(_BASE, rhythm="claimed_timezone")
    spec = _world_of(claimed, replace(_BASE, rhythm="round_the_clock"))
    _, roster, _ = build_roster(spec, 1)
    assert roster.filter(pl.col(S.OPERATOR_ID) == "op01")["tz_offset"].n_unique() == 1
    _, exchanges, labels = simulate_frames(spec, seed=1)
    rows = _with_labels(exchanges, labels)
    assert _quietest_hours(rows.filter(pl.col(S.OPERATOR_ID) == "op01"), 5) < 0.01
    assert _quietest_hours(rows.filter(pl.col(S.OPERATOR_ID) == "op02"), 5) > 0.1


def test_paraphrase_repeats_no_prompt_within_an_operator():
    para = replace(_BASE, paraphrase=True, camouflage=0.0, n_templates=3)
    spec = _world_of(para, ARCHETYPES[1])
    _, exchanges, labels = simulate_frames(spec, seed=1)
    rows = _with_labels(exchanges, labels)
    paraphrased = rows.filter(pl.col(S.OPERATOR_ID) == "op01")[S.PROMPT].drop_nulls()
    assert paraphrased.len() > 10_000 and paraphrased.n_unique() == paraphrased.len()


def test_camouflage_sets_the_share_of_ordinary_traffic():
    _, roster, _ = build_roster(_world_of(replace(_BASE, camouflage=0.6), ARCHETYPES[1]), 1)
    op = roster.filter(pl.col(S.OPERATOR_ID) == "op01")
    assert op["mix_template"].unique().to_list() == [pytest.approx(0.4)]
