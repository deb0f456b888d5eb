"""The Spark engine gives what the one-machine path gives: tables, outputs and messages.

Spark runs in local mode (``local[2]``) in one session for the module. The engine is
an optional extra in general, but installed in the test environment (``make test``):
these tests fail, not skip, when PySpark or Java is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import acctgraph as ag
from acctgraph.core.errors import InputError
from acctgraph.features.reduce import compute_usage, in_prompt_sample, sample_key
from acctgraph.run.pipeline import run_and_write
from acctgraph.simulate import simulate_frames
from acctgraph.spark.load import spark_dataset
from acctgraph.spark.reduce import spark_usage
from acctgraph.spark.session import spark_session

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CONTRACT = Path(__file__).parent / "data" / "contract"
TABLES = ["members", "clusters", "evidence", "contributions", "attached", "cohorts"]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session("local[2]")
    yield session


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny simulated world as Parquet files."""
    folder = tmp_path_factory.mktemp("tiny")
    accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    accounts.write_csv(folder / "accounts.csv")
    exchanges.write_parquet(folder / "exchanges.parquet")
    return folder


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """Categoricals as text and rows sorted: for tables whose row order is unspecified."""
    frame = frame.with_columns(pl.col(pl.Categorical).cast(pl.String))
    return frame.sort(frame.columns)


def test_the_prompt_sample_hash_is_the_same_in_spark(spark: Any) -> None:
    from pyspark.sql import functions as f

    t0 = dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)
    rows = [
        (account, t0 + dt.timedelta(microseconds=7_919 * i * i + 13 * i), n)
        for i, (account, n) in enumerate(
            [("a", 1), ("acct_1f332", 3), ("é ü 中文", 500), ("", 257), ("x" * 300, 1_000_000)] * 40
        )
    ]
    frame = pl.DataFrame(
        rows,
        schema={"account_id": pl.String, "timestamp": pl.Datetime("us", "UTC"), "n": pl.Int64},
        orient="row",
    )
    seed = 17
    expected = frame.select(
        sample_key(seed=seed).alias("key"),
        in_prompt_sample(seed=seed, max_per_account=256, n_exchanges=pl.col("n")).alias("kept"),
    )
    key = f.concat_ws(
        "\x1f", f.lit(str(seed)), f.col("account_id"), f.unix_micros("timestamp").cast("string")
    )
    low = f.xxhash64(key).bitwiseAND(f.lit((1 << 24) - 1))
    got = (
        spark.createDataFrame(frame.to_pandas())
        .select(key.alias("key"), (low * f.col("n") < f.lit(256 << 24)).alias("kept"))
        .toPandas()
    )
    assert got["key"].tolist() == expected["key"].to_list()
    assert got["kept"].tolist() == expected["kept"].to_list()
    assert 0 < expected["kept"].sum() < len(rows)  # both answers occur


def test_the_reductions_are_the_same_tables(spark: Any, tiny: Path) -> None:
    declared = [("model", None), ("user_agent", "10m")]
    expected = compute_usage(ag.load_dataset(tiny), event_columns=declared)
    dataset = spark_dataset(spark, tiny)
    got = spark_usage(dataset, dataset.spark.frame, event_columns=declared)
    with pytest.raises(ValueError, match="on Spark"):  # its polars frame is empty: refused
        compute_usage(dataset)
    dataset.spark.release()
    assert got.events.height > 0
    for name in ("ip_usage", "activity", "hours", "daily", "clients", "emails"):  # sorted tables
        assert getattr(got, name).equals(getattr(expected, name)), name
    for name in ("templates", "co_activity", "events"):  # row order unspecified
        a, b = getattr(got, name), getattr(expected, name)
        assert a.schema == b.schema, name
        assert _plain(a).equals(_plain(b)), name


def test_hours_and_days_at_their_edges(spark: Any, tmp_path: Path) -> None:
    """Hour and day boundaries, before and after the epoch, a leap second's neighbour: the
    hours of day, days and first/last seen are polars' in any Spark session time zone."""
    edges = [
        "1969-12-31T23:59:59.999999Z",
        "1970-01-01T00:00:00Z",
        "2026-04-22T00:59:59.999999Z",
        "2026-04-22T01:00:00Z",
        "2026-06-05T23:59:59Z",
        "2016-12-31T23:59:59Z",
        "2017-01-01T00:00:00Z",
    ]
    exchanges = pl.DataFrame(
        {
            "account_id": [f"a{i % 3}" for i in range(len(edges) * 3)],
            "timestamp": edges * 3,
            "ip": ["81.2.69.1"] * (len(edges) * 3),
        }
    )
    pl.DataFrame({"account_id": ["a0", "a1", "a2"]}).write_csv(tmp_path / "accounts.csv")
    exchanges.write_parquet(tmp_path / "exchanges.parquet")
    expected = compute_usage(ag.load_dataset(tmp_path))
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        dataset = spark_dataset(spark, tmp_path)
        got = spark_usage(dataset, dataset.spark.frame)
        dataset.spark.release()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    for name in ("activity", "hours", "daily"):
        assert getattr(got, name).equals(getattr(expected, name)), name
    assert _plain(got.co_activity).equals(_plain(expected.co_activity))


def _run(spark: Any | None, source: Path | dict[str, Path], out: Path) -> Path:
    kwargs = source if isinstance(source, dict) else {"input_dir": source}
    run_and_write(**kwargs, out=out, spark=spark)  # type: ignore[arg-type]
    return out


def _same_outputs(a: Path, b: Path, tables: list[str] = TABLES) -> None:
    for name in tables:
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes(), name


def test_the_sample_gives_byte_identical_outputs(spark: Any, tmp_path: Path) -> None:
    one = _run(None, SAMPLE, tmp_path / "polars")
    other = _run(spark, SAMPLE, tmp_path / "spark")
    # Every file of the run folder but run.json (timing, engine) is the same bytes.
    files = sorted(
        p.relative_to(one) for p in one.rglob("*") if p.is_file() and p.name != "run.json"
    )
    assert len(files) > 50
    different = [str(p) for p in files if (one / p).read_bytes() != (other / p).read_bytes()]
    assert not different
    a, b = (json.loads((folder / "run.json").read_text()) for folder in (one, other))
    assert a["warnings"] == b["warnings"] and a["inputs"] == b["inputs"]
    assert a["engine"] == {"name": "polars"}
    assert b["engine"]["name"] == "spark" and b["engine"]["master"] == "local[2]"


def test_part_files_and_partitioned_directories(spark: Any, tiny: Path, tmp_path: Path) -> None:
    exchanges = pl.read_parquet(tiny / "exchanges.parquet")
    parts = tmp_path / "parts" / "exchanges"
    parts.mkdir(parents=True)
    for i, chunk in enumerate(exchanges.iter_slices(n_rows=exchanges.height // 3 + 1)):
        chunk.write_parquet(parts / f"part-{i:05d}.parquet")
    hive = tmp_path / "hive" / "exchanges"
    for (day,), chunk in exchanges.with_columns(
        pl.col("timestamp").dt.strftime("%Y-%m-%d").alias("day")
    ).group_by("day"):
        (hive / f"day={day}").mkdir(parents=True)
        chunk.drop("day").write_parquet(hive / f"day={day}" / "part-0.parquet")
    expected = _run(None, tiny, tmp_path / "polars")
    with pytest.raises(InputError, match="is a directory.*--engine spark"):
        ag.load_dataset(accounts=tiny / "accounts.csv", exchanges=parts)
    for folder in (parts, hive):
        shutil.copy(tiny / "accounts.csv", folder.parent / "accounts.csv")
        got = _run(spark, folder.parent, tmp_path / f"spark_{folder.parent.name}")
        _same_outputs(expected, got)
        record = json.loads((got / "run.json").read_text())["inputs"][1]
        assert record["path"] == str(folder) and len(record["sha256"]) == 64


def test_awkward_column_names_and_partition_values(spark: Any, tiny: Path, tmp_path: Path) -> None:
    """Extra columns named like a contract column in other letters, with a dot, or like
    Spark's hidden ``_metadata``; a Hive partition value that looks like a number: the run
    is polars' (and nothing stays persisted after it)."""
    exchanges = pl.read_parquet(tiny / "exchanges.parquet").with_columns(
        pl.col("ip").alias("IP"),
        pl.lit("sdk 1.2").alias("client.version"),
        pl.lit("x").alias("_metadata"),
        (pl.col("output_tokens") % 7 == 0).alias("Prompt"),
    )
    persisted = spark.sparkContext._jsc.getPersistentRDDs().size()
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(tiny / "accounts.csv", one / "accounts.csv")
    exchanges.write_parquet(one / "exchanges.parquet")
    expected = _run(None, one, tmp_path / "polars")
    got = _run(spark, one, tmp_path / "spark")
    _same_outputs(expected, got)
    a, b = (json.loads((out / "run.json").read_text()) for out in (expected, got))
    assert a["warnings"] == b["warnings"]
    assert spark.sparkContext._jsc.getPersistentRDDs().size() == persisted  # all released
    hive = tmp_path / "hive" / "exchanges" / "shard=0012"
    hive.mkdir(parents=True)
    exchanges.drop("_metadata").write_parquet(hive / "part-0.parquet")
    dataset = spark_dataset(spark, accounts=tiny / "accounts.csv", exchanges=hive.parent)
    assert dataset.spark.frame.select("shard").distinct().collect()[0][0] == "0012"
    dataset.spark.release()


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet_ns", "parquet_uint64"])
def test_other_formats_give_the_same_outputs(
    spark: Any, tiny: Path, tmp_path: Path, fmt: str
) -> None:
    folder = tmp_path / fmt
    folder.mkdir()
    shutil.copy(tiny / "accounts.csv", folder / "accounts.csv")
    exchanges = pl.read_parquet(tiny / "exchanges.parquet")
    if fmt == "csv":
        exchanges.write_csv(folder / "exchanges.csv")
    elif fmt == "ndjson":
        exchanges.write_ndjson(folder / "exchanges.ndjson")
    elif fmt == "parquet_ns":  # timestamps in nanoseconds, as pandas writes them
        exchanges.with_columns(pl.col("timestamp").cast(pl.Datetime("ns", "UTC"))).write_parquet(
            folder / "exchanges.parquet"
        )
    else:  # epoch milliseconds and token counts as unsigned 64-bit integers
        exchanges.with_columns(
            pl.col("timestamp").dt.epoch("ms").cast(pl.UInt64),
            pl.col("output_tokens").cast(pl.UInt64),
        ).write_parquet(folder / "exchanges.parquet")
    expected = _run(None, folder, tmp_path / "polars")
    got = _run(spark, folder, tmp_path / "spark")
    _same_outputs(expected, got)
    a, b = (json.loads((out / "run.json").read_text()) for out in (expected, got))
    assert a["warnings"] == b["warnings"]


def _message(load: Any) -> str:
    with pytest.raises(InputError) as caught:
        load()
    return str(caught.value)


@pytest.mark.parametrize(
    "bad",
    [
        "exchanges_bad_timestamp.csv",
        "exchanges_empty_id.csv",
        "exchanges_missing_timestamp.csv",
        "exchanges_no_timestamp_column.csv",
        "empty.csv",
    ],
)
def test_bad_exchanges_get_the_same_message(spark: Any, bad: str) -> None:
    accounts = CONTRACT / "good" / "accounts.csv"
    exchanges = CONTRACT / "bad" / bad
    expected = _message(lambda: ag.load_dataset(accounts=accounts, exchanges=exchanges))
    got = _message(lambda: spark_dataset(spark, accounts=accounts, exchanges=exchanges))
    assert got == expected
    assert str(exchanges) in got


def test_bad_input_exits_2_on_spark_too(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from acctgraph.cli import main; main()",
            "run",
            "--accounts",
            str(CONTRACT / "good" / "accounts.csv"),
            "--exchanges",
            str(CONTRACT / "bad" / "exchanges_empty_id.csv"),
            "--out",
            str(tmp_path / "out"),
            "--engine",
            "spark",
            "--spark-master",
            "local[1]",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-2:]
    assert "exchanges_empty_id.csv: column 'account_id': 1 row(s)" in last[0]
    assert last[1].strip() == "examples: 'row 2'"


def test_warnings_and_their_rows_match_when_files_are_split(spark: Any, tmp_path: Path) -> None:
    """Warnings' example rows are numbered as polars numbers them, across scan splits,
    and CSV text reads as polars reads it (empty, quoted empty, lines inside quotes)."""
    n = 30_000
    frame = pl.DataFrame(
        {
            "account_id": [f"a{i % 97}" for i in range(n)],
            "timestamp": [f"2026-05-01T{(i // 60) % 24:02d}:{i % 60:02d}:00Z" for i in range(n)],
            "input_tokens": [str(-1 if i % 4_999 == 17 else i) for i in range(n)],
            "prompt": [
                'line one\nline, "two"' if i % 7 == 0 else " " if i % 11 == 0 else f"p{i}"
                for i in range(n)
            ],
        }
    )
    frame.write_parquet(tmp_path / "exchanges.parquet", row_group_size=2_000)
    frame.write_csv(tmp_path / "exchanges.csv")
    accounts = CONTRACT / "good" / "accounts.csv"
    parts = tmp_path / "parts"  # small part files: Spark packs several in one scan partition
    parts.mkdir()
    for i, chunk in enumerate(frame.iter_slices(n_rows=3_000)):
        chunk.write_parquet(parts / f"part-{i:05d}.parquet")
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(64 * 1024))
    try:
        for name in ("exchanges.parquet", "exchanges.csv", "parts"):
            one_file = tmp_path / ("exchanges.parquet" if name == "parts" else name)
            expected = ag.load_dataset(accounts=accounts, exchanges=one_file).warnings
            got = spark_dataset(spark, accounts=accounts, exchanges=tmp_path / name)
            got.spark.release()
            records = [
                {k: v for k, v in w.items() if k != "path"} for w in got.warnings.as_records()
            ]
            assert records == [
                {k: v for k, v in w.items() if k != "path"} for w in expected.as_records()
            ], name
            codes = {w["code"] for w in records}
            assert {"exchanges_input_tokens_invalid", "exchanges_prompt_blank"} <= codes
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
