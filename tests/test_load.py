"""The loader follows docs/data-contract.md: fatal rules raise InputError, the rest is counted."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from acctgraph.core import schema as S
from acctgraph.core.diagnostics import WarningLog
from acctgraph.core.errors import ConfigError, InputError
from acctgraph.load import (
    OUTPUT_SCHEMAS,
    Dataset,
    dataset_from_frames,
    find_table_file,
    load_dataset,
    load_labels,
    load_members,
    parse_timestamps,
)

GOOD = "good"
#: Every file format the loader accepts (see the write_table fixture).
TABLE_FORMATS = ("csv", "csv.gz", "parquet", "ndjson", "jsonl.gz")


def _good_dataset(write_table, fmt: str) -> Dataset:
    accounts = write_table(f"{GOOD}/accounts.csv", fmt, stem="accounts")
    write_table(f"{GOOD}/exchanges.csv", fmt, stem="exchanges")
    return load_dataset(accounts.parent)


def _raises(call, *, path: Path, column: str | None, contains: tuple[str, ...] = ()):
    with pytest.raises(InputError) as caught:
        call()
    error = caught.value
    assert error.path == str(path)
    assert error.column == column
    text = str(error)
    assert str(path) in text
    if column is not None:
        assert repr(column) in text
    for part in contains:
        assert part in text, text
    return error


# --- the good dataset, in every format ---------------------------------------------------


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_good_dataset_loads_in_every_format(write_table, fmt):
    data = _good_dataset(write_table, fmt)
    assert isinstance(data.exchanges, pl.LazyFrame)
    # The universe: accounts table (0014 collapsed) plus the exchange-only account 0099.
    assert data.accounts[S.ACCOUNT_ID].to_list() == ["0012", "0013", "0014", "0015", "0099"]
    assert data.accounts.columns == [*S.ACCOUNTS_SCHEMA, "risk_tier"]
    assert data.extra_account_columns == ["risk_tier"]
    assert dict(data.accounts.schema) == {**S.ACCOUNTS_SCHEMA, "risk_tier": pl.String()}
    exchanges = data.exchanges.collect().sort("request_id", S.ACCOUNT_ID)
    assert exchanges.columns == [*S.EXCHANGES_SCHEMA, "request_id"]
    assert dict(exchanges.schema) == {**S.EXCHANGES_SCHEMA, "request_id": pl.String()}
    assert exchanges.height == 8  # nothing dropped, duplicates kept
    ten = datetime(2026, 4, 22, 10, tzinfo=UTC)
    assert exchanges[S.TIMESTAMP].to_list() == [
        ten,
        ten,
        ten,
        datetime(2026, 4, 22, tzinfo=UTC),
        ten,
        ten,
        ten + timedelta(milliseconds=250),
        ten + timedelta(milliseconds=250),
    ]
    assert exchanges[S.INPUT_TOKENS].to_list() == [12, 13, None, 7, 8, 8, 1, 1]
    assert exchanges[S.OUTPUT_TOKENS].to_list() == [40, 41, 5, None, 9, 9, 1, 1]
    created = data.accounts[S.CREATED_AT].to_list()
    assert created == [
        datetime(2026, 4, 1, 9, tzinfo=UTC),
        datetime(2026, 4, 1, 7, 5, tzinfo=UTC),
        None,  # "not a date": counted, null
        datetime(2026, 4, 1, 9, tzinfo=UTC),  # epoch seconds
        None,  # exchange-only account
    ]
    counts = {w["code"]: w["count"] for w in data.warnings.as_records()}
    assert counts == {
        "accounts_created_at_unparseable": 2,
        "accounts_duplicate_rows": 1,
        "accounts_only_in_exchanges": 1,
        "accounts_signup_ip_blank": 2,
        "exchanges_duplicate_rows": 1,
        "exchanges_input_tokens_invalid": 1,
        "exchanges_output_tokens_invalid": 1,
        "exchanges_user_agent_blank": 1,
        "exchanges_without_account_row": 2,
    }
    assert [f.table for f in data.inputs] == [S.ACCOUNTS, S.EXCHANGES]
    assert [f.rows for f in data.inputs] == [5, 8]


def test_warnings_carry_examples_and_file(contract_dir):
    data = load_dataset(contract_dir / GOOD)
    records = {w["code"]: w for w in data.warnings.as_records()}
    assert records["accounts_created_at_unparseable"]["examples"] == [
        "row 3: not a date",
        "row 4: not a date",
    ]
    assert records["accounts_signup_ip_blank"]["examples"] == ["row 3", "row 4"]
    assert records["exchanges_input_tokens_invalid"]["examples"] == ["row 3: many"]
    assert records["exchanges_output_tokens_invalid"]["examples"] == ["row 4: -3"]
    assert records["accounts_only_in_exchanges"]["examples"] == ["0099"]
    assert records["exchanges_without_account_row"]["examples"] == ["0099: 2 exchange(s)"]
    assert records["exchanges_duplicate_rows"]["examples"] == ["0099: 1 repeated row(s)"]
    assert records["accounts_duplicate_rows"]["examples"] == ["0014"]
    assert records["exchanges_user_agent_blank"]["path"] == str(
        contract_dir / GOOD / "exchanges.csv"
    )
    assert records["exchanges_user_agent_blank"]["column"] == S.USER_AGENT


def test_caller_warning_log_is_used(contract_dir):
    log = WarningLog()
    data = load_dataset(contract_dir / GOOD, warnings=log)
    assert data.warnings is log and len(log) > 0


def test_input_files_are_hashed(contract_dir):
    data = load_dataset(contract_dir / GOOD)
    for record in data.inputs:
        content = Path(record.path).read_bytes()
        assert record.sha256 == hashlib.sha256(content).hexdigest()
        assert record.size_bytes == len(content)


def test_ids_stay_text_and_absent_columns_are_null(write_table):
    accounts = write_table(pl.DataFrame({"account_id": ["007", "7"]}), "csv", stem="accounts")
    write_table(
        pl.DataFrame({"account_id": ["007"], "timestamp": ["2026-04-22"]}),
        "csv",
        stem="exchanges",
    )
    data = load_dataset(accounts.parent)
    assert data.accounts[S.ACCOUNT_ID].to_list() == ["007", "7"]
    assert data.accounts.null_count().row(0)[1:] == (2,) * (len(S.ACCOUNTS_SCHEMA) - 1)
    exchanges = data.exchanges.collect()
    assert exchanges[S.IP].dtype == pl.String and exchanges[S.IP].null_count() == 1
    assert exchanges[S.INPUT_TOKENS].dtype == pl.Int64


def test_native_parquet_types_are_cast(write_table):
    write_table(
        pl.DataFrame(
            {
                "account_id": [12, 13],
                "country": pl.Series(["FR", "DE"], dtype=pl.Categorical),
                "score": [0.5, 0.25],
            }
        ),
        "parquet",
        stem="accounts",
    )
    exchanges = write_table(
        pl.DataFrame(
            {
                "account_id": [12, 13],
                "timestamp": pl.Series(
                    [datetime(2026, 4, 22, 12), datetime(2026, 4, 22, 12)]
                ).dt.replace_time_zone("Europe/Paris"),
                "input_tokens": pl.Series([3, 4], dtype=pl.UInt16),
                "output_tokens": [2.0, 2.5],
            }
        ),
        "parquet",
        stem="exchanges",
    )
    log = WarningLog()
    data = load_dataset(exchanges.parent, warnings=log)
    assert data.accounts[S.ACCOUNT_ID].to_list() == ["12", "13"]
    assert data.accounts["score"].dtype == pl.Float64  # native extra columns stay native
    assert data.accounts[S.COUNTRY].to_list() == ["FR", "DE"]
    frame = data.exchanges.collect().sort(S.ACCOUNT_ID)
    assert frame[S.TIMESTAMP].to_list() == [datetime(2026, 4, 22, 10, tzinfo=UTC)] * 2
    assert frame[S.INPUT_TOKENS].to_list() == [3, 4]
    assert frame[S.OUTPUT_TOKENS].to_list() == [2, None]
    assert log.count("exchanges_output_tokens_invalid") == 1


# --- directory input ----------------------------------------------------------------------


def test_directory_lookup_errors(tmp_path, contract_dir):
    with pytest.raises(InputError, match="no accounts table"):
        load_dataset(tmp_path)
    (tmp_path / "accounts.txt").write_text("account_id\na\n")
    with pytest.raises(InputError, match="accounts.txt: unsupported extension"):
        find_table_file(tmp_path, S.ACCOUNTS)
    shutil.copy(contract_dir / GOOD / "accounts.csv", tmp_path / "accounts.csv")
    shutil.copy(contract_dir / GOOD / "accounts.csv", tmp_path / "accounts.parquet")
    with pytest.raises(InputError, match="several accounts tables") as caught:
        load_dataset(tmp_path)
    assert "accounts.csv, accounts.parquet" in str(caught.value)
    with pytest.raises(InputError, match="not a directory"):
        load_dataset(tmp_path / "accounts.csv")


def test_explicit_file_overrides_directory(tmp_path, contract_dir):
    shutil.copy(contract_dir / GOOD / "accounts.csv", tmp_path / "accounts.csv")
    data = load_dataset(tmp_path, exchanges=contract_dir / GOOD / "exchanges.csv")
    assert data.accounts.height == 5
    with pytest.raises(InputError, match="no exchanges table given"):
        load_dataset(accounts=tmp_path / "accounts.csv")


# --- fatal rules, in every format ----------------------------------------------------------


def _load_pair(
    write_table, fmt, *, accounts=f"{GOOD}/accounts.csv", exchanges=f"{GOOD}/exchanges.csv"
):
    accounts_path = write_table(accounts, fmt, stem="accounts")
    exchanges_path = write_table(exchanges, fmt, stem="exchanges")
    return accounts_path, exchanges_path, lambda: load_dataset(accounts_path.parent)


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_missing_required_column_lists_columns(write_table, fmt):
    accounts, _, load = _load_pair(write_table, fmt, accounts="bad/accounts_no_id_column.csv")
    _raises(
        load,
        path=accounts,
        column=S.ACCOUNT_ID,
        contains=("missing required column", "columns present: user, email"),
    )
    _, exchanges, load = _load_pair(
        write_table, fmt, exchanges="bad/exchanges_no_timestamp_column.csv"
    )
    _raises(
        load,
        path=exchanges,
        column=S.TIMESTAMP,
        contains=("columns present: account_id, time, ip", "--map timestamp="),
    )


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_empty_account_id_is_fatal_with_row_numbers(write_table, fmt):
    accounts, _, load = _load_pair(write_table, fmt, accounts="bad/accounts_empty_id.csv")
    error = _raises(load, path=accounts, column=S.ACCOUNT_ID, contains=("2 row(s)",))
    assert error.examples == ["row 2", "row 4"]
    _, exchanges, load = _load_pair(write_table, fmt, exchanges="bad/exchanges_empty_id.csv")
    error = _raises(load, path=exchanges, column=S.ACCOUNT_ID)
    assert error.examples == ["row 2"]


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_conflicting_duplicate_accounts_are_fatal(write_table, fmt):
    accounts, _, load = _load_pair(
        write_table, fmt, accounts="bad/accounts_conflicting_duplicates.csv"
    )
    error = _raises(load, path=accounts, column=S.ACCOUNT_ID, contains=("different attributes",))
    assert error.examples == ["a1 (rows 1, 3)"]


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_unparseable_exchange_timestamp_is_fatal(write_table, fmt):
    _, exchanges, load = _load_pair(write_table, fmt, exchanges="bad/exchanges_bad_timestamp.csv")
    error = _raises(load, path=exchanges, column=S.TIMESTAMP, contains=("unparseable",))
    assert error.examples == ["row 2: yesterday", "row 3: 2026-13-45T10:00:00Z"]


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_missing_exchange_timestamp_is_fatal(write_table, fmt):
    _, exchanges, load = _load_pair(
        write_table, fmt, exchanges="bad/exchanges_missing_timestamp.csv"
    )
    error = _raises(load, path=exchanges, column=S.TIMESTAMP, contains=("empty or null",))
    assert error.examples == ["row 2"]


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_accounts_without_rows_is_fatal(write_table, fmt):
    accounts, _, load = _load_pair(write_table, fmt, accounts="bad/header_only.csv")
    if fmt in ("ndjson", "jsonl.gz"):  # an empty JSON-lines table is an empty file
        _raises(load, path=accounts, column=None)
    else:
        _raises(load, path=accounts, column=None, contains=("has no rows",))


@pytest.mark.parametrize("fmt", [f for f in TABLE_FORMATS if f not in ("ndjson", "jsonl.gz")])
def test_exchanges_without_rows_is_a_records_only_run(write_table, fmt):
    # A header-only exchanges table (person or billing records, no traffic) is a counted
    # warning, not an error: the accounts columns still link records.
    _, _, load = _load_pair(write_table, fmt, exchanges="bad/header_only.csv")
    data = load()
    assert data.warnings.count("exchanges_empty") == 1
    assert data.exchanges.collect().height == 0


def test_epoch_out_of_range_is_unparseable(write_table):
    write_table(pl.DataFrame({"account_id": ["a"]}), "parquet", stem="accounts")
    exchanges = write_table(
        pl.DataFrame({"account_id": ["a", "a"], "timestamp": [1776852000, 10**15]}),
        "parquet",
        stem="exchanges",
    )
    error = _raises(lambda: load_dataset(exchanges.parent), path=exchanges, column=S.TIMESTAMP)
    assert error.examples == [f"row 2: {10**15}"]


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet", "empty.ndjson", "empty.csv.gz"])
def test_empty_file_is_fatal(tmp_path, contract_dir, name):
    path = tmp_path / name
    path.write_bytes(b"")
    for call in _every_loader(path, contract_dir):
        _raises(call, path=path, column=None, contains=("empty",))


def _every_loader(path: Path, contract_dir: Path):
    good = contract_dir / GOOD
    return [
        lambda: load_dataset(accounts=path, exchanges=good / "exchanges.csv"),
        lambda: load_dataset(accounts=good / "accounts.csv", exchanges=path),
        lambda: load_labels(path),
        lambda: load_members(path),
    ]


@pytest.mark.parametrize(
    "name",
    ["garbage.csv", "garbage.csv.gz", "garbage.parquet", "garbage.ndjson", "garbage.jsonl.gz"],
)
def test_binary_garbage_is_an_input_error(tmp_path, contract_dir, name):
    path = tmp_path / name
    shutil.copy(contract_dir / "bad" / "garbage.bin", path)
    for call in _every_loader(path, contract_dir):
        with pytest.raises(InputError) as caught:
            call()
        assert caught.value.path == str(path)


def test_truncated_gzip_and_parquet_are_input_errors(tmp_path, contract_dir):
    gz = tmp_path / "exchanges.csv.gz"
    gz.write_bytes(gzip.compress((contract_dir / GOOD / "exchanges.csv").read_bytes())[:60])
    parquet = tmp_path / "exchanges.parquet"
    pl.read_csv(contract_dir / GOOD / "exchanges.csv", infer_schema=False).write_parquet(parquet)
    parquet.write_bytes(parquet.read_bytes()[:-40])
    for path in (gz, parquet):
        with pytest.raises(InputError) as caught:
            load_dataset(accounts=contract_dir / GOOD / "accounts.csv", exchanges=path)
        assert caught.value.path == str(path)


def test_invalid_utf8_csv_is_an_input_error(tmp_path, contract_dir):
    path = tmp_path / "accounts.csv"
    path.write_bytes(b"account_id,email\na1,\xff\xfe@x\n")
    with pytest.raises(InputError, match="UTF-8"):
        load_dataset(accounts=path, exchanges=contract_dir / GOOD / "exchanges.csv")


def test_unknown_extension_and_missing_file(contract_dir, tmp_path):
    path = contract_dir / "bad" / "exchanges.txt"
    _raises(lambda: load_labels(path), path=path, column=None, contains=("unknown file extension",))
    missing = tmp_path / "nope.csv"
    _raises(lambda: load_members(missing), path=missing, column=None, contains=("not found",))


# --- non-fatal rules -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson"])
def test_blank_strings_become_null_and_are_counted(write_table, fmt):
    accounts = write_table(
        pl.DataFrame({"account_id": ["a", "b", "c"], "email": ["x@y.z", "  ", "\t"]}),
        fmt,
        stem="accounts",
    )
    write_table(
        pl.DataFrame({"account_id": ["a"], "timestamp": ["2026-04-22"], "prompt": [" "]}),
        fmt,
        stem="exchanges",
    )
    data = load_dataset(accounts.parent)
    assert data.accounts[S.EMAIL].to_list() == ["x@y.z", None, None]
    assert data.warnings.count("accounts_email_blank") == 2
    assert data.exchanges.collect()[S.PROMPT].to_list() == [None]
    assert data.warnings.count("exchanges_prompt_blank") == 1


def test_empty_strings_in_parquet_are_counted(write_table):
    accounts = write_table(
        pl.DataFrame({"account_id": ["a"], "org_id": [""]}), "parquet", stem="accounts"
    )
    write_table(
        pl.DataFrame({"account_id": ["a"], "timestamp": ["2026-04-22"]}),
        "parquet",
        stem="exchanges",
    )
    data = load_dataset(accounts.parent)
    assert data.accounts[S.ORG_ID].to_list() == [None]
    assert data.warnings.count("accounts_org_id_blank") == 1


def test_ndjson_keeps_late_keys_nested_values_and_reads_numbers_as_text(tmp_path):
    lines = [f'{{"account_id": {i}, "timestamp": 1776852000}}' for i in range(150)]
    lines.append('{"account_id": "0150", "timestamp": "2026-04-22", "late": [1, 2]}')
    (tmp_path / "exchanges.ndjson").write_text("\n".join(lines) + "\n")
    (tmp_path / "accounts.jsonl").write_text('{"account_id": "0150", "vip": true}\n')
    data = load_dataset(tmp_path)
    frame = data.exchanges.collect()
    assert frame.schema["late"] == pl.List(pl.Int64)
    assert frame[S.ACCOUNT_ID].dtype == pl.String
    assert data.accounts.filter(pl.col(S.ACCOUNT_ID) == "0150")["vip"].to_list() == ["true"]
    assert data.warnings.count("accounts_only_in_exchanges") == 150


# --- timestamps ------------------------------------------------------------------------------

_T = datetime(2026, 4, 22, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-22T10:00:00Z", _T),
        ("2026-04-22T10:00:00z", _T),
        ("2026-04-22 10:00:00+02:00", _T - timedelta(hours=2)),
        ("2026-04-22T10:00:00-0530", _T + timedelta(hours=5, minutes=30)),
        ("2026-04-22 10:00:00 +00:00", _T),
        ("2026-04-22T10:00:00", _T),
        ("2026-04-22 10:00:00", _T),
        ("2026-04-22T10:00", _T),
        ("2026-04-22T10:00:00.123456Z", _T + timedelta(microseconds=123456)),
        ("2026-04-22T10:00:00.5", _T + timedelta(milliseconds=500)),
        ("  2026-04-22T10:00:00Z ", _T),
        ("2026-04-22", datetime(2026, 4, 22, tzinfo=UTC)),
        ("1776852000", _T),
        ("1776852000000", _T),
        ("99999999999", datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=99_999_999_999)),
        ("100000000000", datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=10**11)),
        ("-86400", datetime(1969, 12, 31, tzinfo=UTC)),
        ("100000000000000", None),
        ("1776852000.5", None),  # epochs in text are integers
        ("-0001-01-01", None),  # outside years 1 to 9999
        ("0001-01-01T00:00:00+01:00", None),
        ("yesterday", None),
        ("2026-02-30", None),
        ("2026-04-22T24:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_timestamp_text_forms(text, expected):
    assert parse_timestamps(pl.Series([text], dtype=pl.String)).to_list() == [expected]


def test_mixed_formats_in_one_column():
    values = ["2026-04-22T10:00:00Z", "1776852000", "2026-04-22 12:00:00+02:00", "2026-04-22T10:00"]
    parsed = parse_timestamps(pl.Series("t", values))
    assert parsed.dtype == S.TIME
    assert parsed.to_list() == [_T] * 4


@pytest.mark.parametrize(
    "values",
    [
        pl.Series([datetime(2026, 4, 22, 10)]),  # naive = UTC
        pl.Series([datetime(2026, 4, 22, 10)], dtype=pl.Datetime("ns")),
        pl.Series([datetime(2026, 4, 22, 10)], dtype=pl.Datetime("ms")),
        pl.Series([datetime(2026, 4, 22, 6)]).dt.replace_time_zone("America/New_York"),
        pl.Series([1776852000]),
        pl.Series([1776852000000]),
        pl.Series([1776852000.0]),
        pl.Series([1776852000], dtype=pl.Int32),
    ],
)
def test_native_parquet_timestamps(write_table, values):
    write_table(
        pl.DataFrame({"account_id": ["a"], "created_at": [date(2026, 4, 22)]}),
        "parquet",
        stem="accounts",
    )
    exchanges = write_table(
        pl.DataFrame({"account_id": ["a"], "timestamp": values}), "parquet", stem="exchanges"
    )
    data = load_dataset(exchanges.parent)
    assert data.exchanges.collect()[S.TIMESTAMP].to_list() == [_T]
    assert data.accounts[S.CREATED_AT].to_list() == [datetime(2026, 4, 22, tzinfo=UTC)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(),
            st.from_regex(r"-?[0-9]{1,25}", fullmatch=True),
            st.from_regex(r"[0-9]{4,6}-[0-9]{2}-[0-9]{2}[T ].{0,20}", fullmatch=True),
        ),
        max_size=8,
    )
)
def test_timestamp_parser_never_raises(values):
    parsed = parse_timestamps(pl.Series("t", values, dtype=pl.String))
    assert parsed.dtype == S.TIME
    assert len(parsed) == len(values)
    assert all(v is None for v, raw in zip(parsed, values, strict=True) if raw is None)


_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)),
    zone=_OFFSETS,
    style=st.sampled_from(["iso", "iso_space", "naive", "zulu", "compact_offset"]),
)
def test_formatted_datetimes_parse_back(moment, zone, style):
    aware = moment.replace(tzinfo=zone)
    if style == "iso":
        text = aware.isoformat()
    elif style == "iso_space":
        text = aware.isoformat(sep=" ")
    elif style == "compact_offset":
        text = aware.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    elif style == "zulu":
        aware = moment.replace(tzinfo=UTC)
        text = moment.isoformat() + "Z"
    else:
        aware = moment.replace(tzinfo=UTC)
        text = moment.isoformat()
    assert parse_timestamps(pl.Series([text])).to_list() == [aware.astimezone(UTC)]


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1973, 3, 4), max_value=datetime(5000, 1, 1)))
def test_epoch_seconds_and_milliseconds_parse_back(moment):
    aware = moment.replace(tzinfo=UTC)
    seconds = aware.replace(microsecond=0)
    millis = aware.replace(microsecond=aware.microsecond // 1000 * 1000)
    texts = [str(int(seconds.timestamp())), str(round(millis.timestamp() * 1000))]
    assert parse_timestamps(pl.Series(texts)).to_list() == [seconds, millis]


# --- column mapping --------------------------------------------------------------------------


def test_mapping_renames_in_every_table(write_table):
    write_table(pl.DataFrame({"user_id": ["u1"], "mail": ["a@b.c"]}), "csv", stem="accounts")
    exchanges = write_table(
        pl.DataFrame({"user_id": ["u1"], "when": ["2026-04-22"], "client_ip": ["192.0.2.1"]}),
        "csv",
        stem="exchanges",
    )
    data = load_dataset(
        exchanges.parent,
        mapping={
            "account_id": "user_id",
            "email": "mail",
            "exchanges.timestamp": "when",
            "ip": "client_ip",
        },
    )
    assert data.accounts.select(S.ACCOUNT_ID, S.EMAIL).rows() == [("u1", "a@b.c")]
    frame = data.exchanges.collect()
    assert frame.columns == list(S.EXCHANGES_SCHEMA)
    assert frame[S.IP].to_list() == ["192.0.2.1"]


def test_mapping_to_absent_column_names_file_and_columns(contract_dir):
    accounts = contract_dir / GOOD / "accounts.csv"
    error = _raises(
        lambda: load_dataset(contract_dir / GOOD, mapping={"account_id": "user_id"}),
        path=accounts,
        column="user_id",
        contains=("columns present: account_id, created_at",),
    )
    assert "account_id=user_id" in str(error)


def test_mapping_with_unknown_key_is_a_config_error(contract_dir):
    with pytest.raises(ConfigError, match="not a contract column"):
        load_dataset(contract_dir / GOOD, mapping={"acount_id": "user_id"})
    with pytest.raises(ConfigError, match="<table>.<column>"):
        load_dataset(contract_dir / GOOD, mapping={"accounts.ip": "x"})


def test_mapping_keeps_a_shadowed_column(write_table):
    accounts = write_table(
        pl.DataFrame({"account_id": ["1", "2"], "user_id": ["u1", "u2"]}), "csv", stem="accounts"
    )
    write_table(
        pl.DataFrame({"user_id": ["u1"], "timestamp": ["2026-04-22"]}), "csv", stem="exchanges"
    )
    data = load_dataset(accounts.parent, mapping={"account_id": "user_id"})
    assert data.accounts.select(S.ACCOUNT_ID, "account_id_unmapped").rows() == [
        ("u1", "1"),
        ("u2", "2"),
    ]
    assert data.warnings.count("column_shadowed_by_mapping") == 1


def test_mapping_one_column_twice_is_an_error(contract_dir):
    with pytest.raises(InputError, match="for several contract columns"):
        load_dataset(
            contract_dir / GOOD, mapping={"email": "display_name", "org_id": "display_name"}
        )


# --- labels and members ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_labels(write_table, fmt):
    path = write_table(f"{GOOD}/labels.csv", fmt, stem="labels")
    log = WarningLog()
    labels = load_labels(path, warnings=log)
    expected = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["0012", "0013", "0014", "0015"],
            S.OPERATOR_ID: ["op-1", None, "op-1", None],
            S.KIND: ["reseller", "individual", "reseller", None],
        },
        schema=S.LABELS_SCHEMA,
    )
    assert_frame_equal(labels, expected)
    assert log.count("labels_duplicate_rows") == 1


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_conflicting_labels_are_fatal(write_table, fmt):
    path = write_table("bad/labels_conflict.csv", fmt, stem="labels")
    error = _raises(lambda: load_labels(path), path=path, column=S.ACCOUNT_ID)
    assert error.examples == ["a1 (rows 1, 2)"]


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_members(write_table, fmt):
    path = write_table(f"{GOOD}/members.csv", fmt, stem="members")
    log = WarningLog()
    members = load_members(path, warnings=log)
    expected = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["0012", "0013", "0014", "0014", "0015"],
            S.CLUSTER_ID: ["7", "7", None, None, "c-2"],
            S.CLUSTER_SCORE: [0.91, 0.91, None, None, None],
            S.FLAGGED: [True, True, False, False, False],
        },
        schema=OUTPUT_SCHEMAS[S.MEMBERS],
    )
    assert_frame_equal(members, expected)  # duplicates kept for the evaluator
    assert log.count("members_cluster_score_invalid") == 1


def test_member_cluster_ids_from_native_numbers(write_table):
    path = write_table(
        pl.DataFrame(
            {
                "account_id": ["a", "b", "c"],
                "cluster_id": [3.0, None, 12.0],
                "flagged": [1, 0, 1],
                "cluster_score": [1, 2, 3],
            }
        ),
        "parquet",
        stem="members",
    )
    members = load_members(path)
    assert members[S.CLUSTER_ID].to_list() == ["3", None, "12"]
    assert members[S.FLAGGED].to_list() == [True, False, True]
    assert members[S.CLUSTER_SCORE].dtype == pl.Float64


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_invalid_flag_is_fatal(write_table, fmt):
    path = write_table("bad/members_bad_flag.csv", fmt, stem="members")
    error = _raises(lambda: load_members(path), path=path, column=S.FLAGGED)
    assert error.examples == ["row 1: maybe", "row 2: (null)"]


def test_member_mapping(write_table):
    path = write_table(
        pl.DataFrame({"uid": ["a"], "community": [5], "flagged": [True]}),
        "parquet",
        stem="members",
    )
    members = load_members(path, mapping={"account_id": "uid", "members.cluster_id": "community"})
    assert members.rows() == [("a", "5", None, True)]


def test_nested_value_in_a_text_column_is_fatal(tmp_path, contract_dir):
    path = tmp_path / "accounts.jsonl"
    path.write_text('{"account_id": "a", "email": ["x@y.z"]}\n')
    error = _raises(
        lambda: load_dataset(accounts=path, exchanges=contract_dir / GOOD / "exchanges.csv"),
        path=path,
        column=S.EMAIL,
        contains=("expected text",),
    )
    assert error.examples == []


def test_exact_duplicate_accounts_with_nested_extras_collapse(tmp_path, contract_dir):
    line = '{"account_id": "0012", "tags": ["a", "b"], "meta": {"tier": 1}}\n'
    (tmp_path / "accounts.ndjson").write_text(line * 2)
    shutil.copy(contract_dir / GOOD / "exchanges.csv", tmp_path / "exchanges.csv")
    data = load_dataset(tmp_path)
    assert data.warnings.count("accounts_duplicate_rows") == 1
    assert data.accounts.filter(pl.col(S.ACCOUNT_ID) == "0012")["tags"].to_list() == [["a", "b"]]


def test_dataset_from_frames_applies_the_same_rules(contract_dir):
    accounts = pl.read_csv(contract_dir / GOOD / "accounts.csv", infer_schema=False)
    exchanges = pl.read_csv(contract_dir / GOOD / "exchanges.csv", infer_schema=False)
    from_files = load_dataset(contract_dir / GOOD)
    from_frames = dataset_from_frames(accounts, exchanges.lazy())
    assert_frame_equal(from_frames.accounts, from_files.accounts)
    assert_frame_equal(
        from_frames.exchanges.collect().sort("request_id", S.ACCOUNT_ID),
        from_files.exchanges.collect().sort("request_id", S.ACCOUNT_ID),
    )
    assert [w["count"] for w in from_frames.warnings.as_records()] == [
        w["count"] for w in from_files.warnings.as_records()
    ]
    assert [f.rows for f in from_frames.inputs] == [5, 8]
    with pytest.raises(InputError) as caught:
        dataset_from_frames(accounts, exchanges.drop(S.TIMESTAMP))
    assert caught.value.path == "<exchanges frame>"
    assert caught.value.column == S.TIMESTAMP


def test_examples_from_multi_chunk_frames():
    # Regression: pl.format over filtered multi-chunk columns panicked in polars 2.1.
    chunk = pl.DataFrame({"account_id": [f"a{i}" for i in range(3000)], "created_at": "2026-04-01"})
    bad = pl.DataFrame({"account_id": ["z1", "z2"], "created_at": ["1e12", "0000-00-00"]})
    accounts = pl.concat(
        [chunk, bad, chunk.with_columns(pl.col("account_id") + "b")], rechunk=False
    )
    assert accounts.n_chunks() == 3
    exchanges = pl.DataFrame({"account_id": ["z1"], "timestamp": ["2026-04-22"]})
    data = dataset_from_frames(accounts, exchanges)
    records = {w["code"]: w for w in data.warnings.as_records()}
    assert records["accounts_created_at_unparseable"]["examples"] == [
        "row 3001: 1e12",
        "row 3002: 0000-00-00",
    ]
