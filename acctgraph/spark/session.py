"""Starting a Spark session for acctgraph, and moving tables between Spark and polars.

Everything acctgraph computes on Spark is independent of the session's settings (time
zone, partitions): times are read as integer microseconds since the epoch, and hours
and days are computed from them in UTC. :func:`spark_session` is what the command line
uses (``--engine spark --spark-master URL``); in a notebook on a cluster the session
the platform gives is used as it is.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


SPARK_EXTRA = "pip install 'acctgraph[spark]'"
"""How to install the optional Spark dependencies (named in error messages)."""


def require_pyspark() -> Any:
    """The ``pyspark.sql`` module, or an :class:`ImportError` that says how to install it."""
    try:
        import pyspark.sql
    except ImportError as exc:  # pragma: no cover - the extra is installed in the test env
        raise ImportError(
            f"--engine spark needs PySpark and a Java runtime: {SPARK_EXTRA}"
        ) from exc
    return pyspark.sql


def spark_session(master: str | None = None, *, app_name: str = "acctgraph") -> SparkSession:
    """A Spark session for a run (``getOrCreate``: an active session is reused).

    ``master``: a master URL (``local[2]``, ``spark://host:7077``, ``yarn``); None takes
    the one ``spark-submit`` was given, else ``local[*]``. Python workers run this
    interpreter (``PYSPARK_PYTHON``, unless set), so the executors of a local session
    import the same acctgraph and polars as the driver. The session's time zone is UTC
    and its web UI is off. A local session gets :func:`local_driver_memory` unless
    ``spark.driver.memory`` is set, ``2 × cores`` shuffle partitions, the loopback
    address (``SPARK_LOCAL_IP``, unless set) and Spark's logging at errors only
    (``log4j2.properties`` beside this module, unless ``spark.driver.extraJavaOptions``
    is set).
    """
    sql = require_pyspark()
    from pyspark import SparkConf, SparkContext

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # under spark-submit: its JVM holds its settings
        SparkContext._ensure_initialized()
    given = SparkConf()
    if master is None:
        master = given.get("spark.master", "local[*]")
    builder = (
        sql.SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2)))
        if not given.contains("spark.driver.memory"):
            builder = builder.config("spark.driver.memory", local_driver_memory())
        if not given.contains("spark.driver.extraJavaOptions"):
            logging = Path(__file__).with_name("log4j2.properties")
            builder = builder.config(
                "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{logging}"
            )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def local_driver_memory() -> str:
    """The JVM heap of a local session: a quarter of the machine's memory (at least 1 GB;
    the local JVM holds Spark's whole executor), as Spark's ``spark.driver.memory``."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1024, total // 4 // 2**20)}m"


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """A Spark DataFrame collected to the driver as a polars frame (through Arrow)."""
    table = frame.toArrow()
    return pl.DataFrame(pl.from_arrow(table))


def to_spark(session: SparkSession, frame: pl.DataFrame) -> DataFrame:
    """A polars frame (a small table: a lookup) as a Spark DataFrame."""
    table = frame.to_arrow()
    schema = pa.schema([pa.field(f.name, plain_type(f.type)) for f in table.schema])
    return session.createDataFrame(table.cast(schema))


def plain_type(kind: pa.DataType) -> pa.DataType:
    """The Arrow type Spark reads for one polars exports: strings and lists not large, not views."""
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(plain_type(kind.value_type))
    return kind


def arrow_batches(frame: pl.DataFrame, schema: pa.Schema) -> list[pa.RecordBatch]:
    """``frame`` as record batches of exactly ``schema`` (what ``mapInArrow`` must yield)."""
    table = frame.to_arrow().cast(schema)
    return table.to_batches() or [pa.RecordBatch.from_pylist([], schema=schema)]


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark schema of an Arrow schema (what ``mapInArrow`` is told its function yields)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=False)


def map_in_arrow(
    frame: DataFrame,
    function: Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]],
    schema: pa.Schema,
) -> DataFrame:
    """``frame.mapInArrow(function, schema)``, with any column names: Spark resolves the
    input columns of ``mapInArrow`` by name, which a dot in a name breaks, so they travel
    under positional names and ``function`` sees the batches under their own."""
    names = frame.columns
    positional = frame.toDF(*[f"_c{i}" for i in range(len(names))])
    return positional.mapInArrow(
        functools.partial(_named_batches, function=function, names=names), spark_schema(schema)
    )


def _named_batches(
    batches: Iterator[pa.RecordBatch],
    *,
    function: Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]],
    names: list[str],
) -> Iterator[pa.RecordBatch]:
    return function(batch.rename_columns(names) for batch in batches)
