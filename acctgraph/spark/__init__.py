"""The traffic stages on Apache Spark: loading and reducing the exchanges where they live.

Optional (``pip install 'acctgraph[spark]'``: PySpark, and a Java runtime). The
per-account tables these stages give are the same as the one-machine path's, so every
later stage (graph, detection, scoring, outputs) runs unchanged on the driver.
"""
