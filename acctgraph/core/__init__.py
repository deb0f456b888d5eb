"""The bottom layer: column names and schemas, errors, counted warnings, text safety, table writers.

Nothing here imports another acctgraph layer.
"""
