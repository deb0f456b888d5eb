"""Typed values of text, count, score and flag columns, as polars expressions.

Each function turns one column, whatever its dtype in the file, into its contract
dtype: text as String (integral floats printed without ``.0``), counts as
non-negative Int64, scores as finite Float64, flags as Boolean (true/false, 1/0,
yes/no in any case). A value that is none of these becomes null, and the column
plans of :mod:`acctgraph.load.checks` count it; empty or whitespace-only text is
blank (:func:`is_blank`). A nested column where a scalar is expected raises
:class:`~acctgraph.core.errors.InputError`.
"""

from __future__ import annotations

import polars as pl

from acctgraph.core.errors import InputError


def text_expr(
    column: pl.Expr, dtype: pl.DataType, *, path: str, name: str, what: str = "text"
) -> pl.Expr:
    """``column`` as String; scalar native types are cast, nested types are an error."""
    if dtype == pl.String:
        return column
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.String)
    if dtype.is_nested() or dtype == pl.Object:
        raise InputError(f"has type {dtype}; expected {what}", path=path, column=name)
    if dtype.is_float():
        # Integral floats (ids written by tools that turn integer columns into floats
        # when they hold nulls) print without the trailing ".0".
        integral = column.is_finite() & (column == column.round(0)) & (column.abs() < 2**53)
        return (
            pl.when(integral)
            .then(column.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(column.cast(pl.String))
        )
    return column.cast(pl.String)


def is_blank(text: pl.Expr) -> pl.Expr:
    """True for empty or whitespace-only strings (null stays null)."""
    return text.str.contains(r"^\s*$")


def without_blanks(text: pl.Expr) -> pl.Expr:
    return pl.when(is_blank(text)).then(None).otherwise(text)


def count_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    """Non-negative integer count, null when not one (negative, fractional, text)."""
    if dtype.is_integer():
        value = column.cast(pl.Int64, strict=False)
    elif dtype.is_float():
        value = pl.when(column.is_finite() & (column == column.round(0))).then(
            column.cast(pl.Int64, strict=False)
        )
    elif dtype == pl.Null:
        return pl.lit(None, dtype=pl.Int64)
    else:
        text = text_expr(column, dtype, path=path, name=name, what="an integer")
        value = text.str.strip_chars().cast(pl.Int64, strict=False)
    return pl.when(value >= 0).then(value)


def score_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    if dtype.is_numeric():
        value = column.cast(pl.Float64)
    elif dtype == pl.Null:
        return pl.lit(None, dtype=pl.Float64)
    else:
        text = text_expr(column, dtype, path=path, name=name, what="a number")
        value = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


_FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def flag_expr(column: pl.Expr, dtype: pl.DataType, *, path: str, name: str) -> pl.Expr:
    if dtype == pl.Boolean:
        return column
    if dtype.is_numeric():
        return pl.when(column == 1).then(True).when(column == 0).then(False).otherwise(None)
    text = text_expr(column, dtype, path=path, name=name, what="true/false")
    return (
        text.str.strip_chars()
        .str.to_lowercase()
        .replace_strict(_FLAG_WORDS, default=None, return_dtype=pl.Boolean)
    )
