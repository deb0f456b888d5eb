"""The bottom layer: column names and schemas, errors, counted warnings, text safety,
table writers, a polars string helper (frames) and the package version.

Nothing here imports another acctgraph layer.
"""
