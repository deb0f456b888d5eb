"""Showing attacker-written text to a person: invisible characters made visible, long text capped.

Display names, emails, prompts and user agents are written by the adversary. In
a terminal, a control character can move the cursor or rewrite the screen, a
bidi control (U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE, ...)
reorders what follows it, and zero-width or tag characters hide text in plain
sight. :func:`visible` replaces every such character with a printable escape in
Python's notation (``\\n``, ``\\x00``, ``\\u202e``, ``\\U000e0041``), so that what
is shown is exactly what is there; :func:`cap` truncates with an ellipsis.

What is escaped: Unicode categories Cc (controls: C0, DEL, C1), Cf (format:
bidi controls, zero-width characters, the byte order mark, tag characters),
Zl and Zp (line and paragraph separators), Cs (lone surrogates) and Cn
(unassigned, which a newer font or terminal might treat as format characters).
Everything else, including ordinary spaces, letters of every script and emoji
without joiners, is left as it is. Backslashes are not doubled: the result is
for reading, not for parsing back.

These helpers are for terminals and plain text. HTML still needs escaping
(``html.escape``) and CSV still needs spreadsheet neutralisation
(:func:`acctgraph.core.tables.safe_for_spreadsheet`); the raw value always
stays in the Parquet tables.

Examples
--------
>>> print(visible("\\u202eevil\\u202c reversed"))
\\u202eevil\\u202c reversed
>>> print(visible("line one\\nline two"))
line one\\nline two
>>> cap("abcdefghij", 5)
'abcd…'
>>> print(cap(visible("\\x00nul byte"), 40))
\\x00nul byte
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"

#: Unicode general categories whose characters :func:`visible` escapes.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """Replace control, bidi, zero-width and other invisible characters with visible escapes.

    Parameters
    ----------
    text
        Any string (attacker-written or not).

    Returns
    -------
    str
        ``text`` with every character of an escaped category (see the module
        docstring) replaced by ``\\n``, ``\\r``, ``\\t``, ``\\xHH``, ``\\uHHHH`` or
        ``\\UHHHHHHHH``. Printable text comes back unchanged (the same object).
        The result contains no character of an escaped category.

    Examples
    --------
    >>> visible("plain text, ünïcödé, 日本語")
    'plain text, ünïcödé, 日本語'
    >>> print(visible("\\ufeffbom\\u200bzero width\\u2066isolate\\u2069"))
    \\ufeffbom\\u200bzero width\\u2066isolate\\u2069
    >>> print(visible("tab\\there\\x1b[31mred"))
    tab\\there\\x1b[31mred
    """
    if text.isprintable():
        # isprintable() is False for every escaped category (and for spaces other than
        # U+0020 and private-use characters, which are left alone): the fast path is exact.
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in ESCAPED_CATEGORIES else char for char in text
    )


def cap(text: str, limit: int) -> str:
    """Truncate ``text`` to at most ``limit`` characters, ending with an ellipsis if it was cut.

    Parameters
    ----------
    text
        The string to shorten (apply :func:`visible` first when showing it, so
        that the cap counts the characters a person sees).
    limit
        Maximum length of the result, at least 1.

    Returns
    -------
    str
        ``text`` itself when it is short enough, otherwise its first
        ``limit - 1`` characters followed by ``…``.

    Examples
    --------
    >>> cap("short", 10)
    'short'
    >>> cap("very long name " * 334, 20)
    'very long name very…'
    >>> len(cap("x" * 5000, 80))
    80
    """
    if limit < 1:
        raise ValueError(f"cap limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS
