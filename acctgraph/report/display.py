"""Attacker-written text prepared for a person to read: visible, capped, defanged, escaped.

Display names, emails, prompts, user agents and attribute values are written
by the adversary. Before any of them is shown in a report:

1. invisible characters (controls, bidi overrides and isolates, zero-width and
   other format characters) become visible escapes (``\\u202e``) with
   :func:`acctgraph.core.textsafe.visible`, so that text cannot reorder or hide
   what follows it;
2. long text is capped (:func:`document_text`: ``… (N more characters)``); the full
   value stays in the Parquet tables;
3. URLs are defanged (``http[:]//x``, ``www[.]x``), the convention of threat
   reports, so that no viewer turns them into links or requests;
4. the format's own escaping applies last: HTML by Jinja's autoescape (never
   ``|safe`` on data), Markdown by :func:`markdown_escape` (applied to every
   expression of the Markdown template).

Examples
--------
>>> document_text("\\u202eevil\\u202c reversed")
'\\\\u202eevil\\\\u202c reversed'
>>> document_text("x" * 310, limit=300)[-25:]
'xxx… (10 more characters)'
>>> document_text('=HYPERLINK("http://x","y")')
'=HYPERLINK("http[:]//x","y")'
>>> markdown_escape("<script>alert(1)</script> | *x* _y_ account_id")
'\\\\<script\\\\>alert(1)\\\\</script\\\\> \\\\| \\\\*x\\\\* \\\\_y\\\\_ account_id'
"""

from __future__ import annotations

import re

from acctgraph.core.textsafe import visible

DOCUMENT_TEXT_LIMIT = 300
"""Default cap, in characters, of a shown value."""

_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*):(//)")
_WWW = re.compile(r"(?i)\b(www)\.")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|~&#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MARKDOWN_LEADING = re.compile(r"^([\-+=]|\d{1,9}(?=[.)](?:\s|$)))")


def defang(text: str) -> str:
    """Make URLs inert: ``scheme://`` becomes ``scheme[:]//`` and ``www.`` becomes ``www[.]``.

    Examples
    --------
    >>> defang("see https://evil.example/x and www.evil.example")
    'see https[:]//evil.example/x and www[.]evil.example'
    """
    return _WWW.sub(r"\1[.]", _SCHEME.sub(r"\1[:]\2", text))


def document_text(text: object, *, limit: int = DOCUMENT_TEXT_LIMIT) -> str:
    """A value as it may be shown to a person: visible, capped at ``limit`` characters, defanged.

    ``None`` becomes the empty string; other non-strings are converted with ``str``.
    The cap counts the characters after invisible ones were made visible and
    is followed by ``… (N more characters)``.

    Examples
    --------
    >>> document_text(None), document_text(12)
    ('', '12')
    >>> document_text("line one\\nline two")
    'line one\\\\nline two'
    """
    if text is None:
        return ""
    value = visible(str(text))
    if len(value) > limit:
        more = len(value) - limit
        value = f"{value[:limit]}… ({more:,} more characters)"
    return defang(value)


def document_lines(text: object, *, limit: int = DOCUMENT_TEXT_LIMIT) -> list[str]:
    """Like :func:`document_text`, but line breaks (``\\n``) kept as separate lines (for prompts).

    The cap counts the characters of the raw text, before invisible ones are made visible.

    Examples
    --------
    >>> document_lines("first\\r\\nsecond\\u202e")
    ['first\\\\r', 'second\\\\u202e']
    """
    if text is None:
        return []
    raw = str(text)
    more = max(0, len(raw) - limit)
    lines = [defang(visible(line)) for line in raw[:limit].split("\n")]
    if more:
        lines[-1] += f"… ({more:,} more characters)"
    return lines


def markdown_escape(text: object) -> str:
    """Escape a shown value for Markdown (CommonMark/GFM): inline markup, pipes, leading block markers.

    Backslash-escapes every character that could start emphasis, code, a link
    or image, raw HTML, an entity or a table cell (``\\ ` * [ ] < > | ~ & #``,
    and ``_`` unless inside a word, where it cannot emphasise), and a leading
    ``-``, ``+``, ``=`` or ``1. `` that would start a list or heading. A
    parenthesis cannot make a link once ``[`` and ``]`` are escaped. Line
    breaks must already be visible (:func:`document_text`).

    Examples
    --------
    >>> markdown_escape("-2+3")
    '\\\\-2+3'
    >>> markdown_escape("1. item & a|b")
    '1\\\\. item \\\\& a\\\\|b'
    >>> markdown_escape("0.1.0 and 11.129.16.0/24")
    '0.1.0 and 11.129.16.0/24'
    """
    if text is None:
        return ""
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    match = _MARKDOWN_LEADING.match(value)
    if match:
        end = match.end()
        value = (
            "\\" + value if not match.group(1)[0].isdigit() else value[:end] + "\\" + value[end:]
        )
    return value
