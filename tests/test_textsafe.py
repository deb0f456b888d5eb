"""textsafe: invisible characters made visible, long text capped (hypothesis + the simulator's payloads)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acctgraph.core.textsafe import ELLIPSIS, ESCAPED_CATEGORIES, cap, visible
from acctgraph.simulate import HOSTILE_STRINGS

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _hidden(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ESCAPED_CATEGORIES]


@given(st.text())
def test_visible_leaves_nothing_invisible(text: str) -> None:
    assert _hidden(visible(text)) == []


@given(st.text(alphabet=st.characters(exclude_categories=tuple(ESCAPED_CATEGORIES))))
def test_visible_keeps_printable_text(text: str) -> None:
    assert visible(text) == text


@given(st.text())
def test_visible_keeps_every_visible_character_in_order(text: str) -> None:
    kept = "".join(c for c in text if unicodedata.category(c) not in ESCAPED_CATEGORIES)
    shown = visible(text)
    position = 0
    for char in kept:  # a subsequence of the result
        position = shown.index(char, position) + 1


@pytest.mark.parametrize(
    "char", list(BIDI_CONTROLS + "\x00\x07\x1b\x7f\x85\u2028\u2029\ufeff\u200b\U000e0041")
)
def test_each_dangerous_character_is_escaped(char: str) -> None:
    shown = visible(f"a{char}b")
    assert char not in shown
    assert shown.startswith("a\\") and shown.endswith("b")


def test_escapes_read_like_python() -> None:
    assert visible("\n\r\t\x00\u202e\U000e0041") == "\\n\\r\\t\\x00\\u202e\\U000e0041"


@pytest.mark.parametrize("payload", HOSTILE_STRINGS)
def test_hostile_strings(payload: str) -> None:
    shown = cap(visible(payload), 120)
    assert _hidden(shown) == []
    assert len(shown) <= 120
    assert not any(c in shown for c in BIDI_CONTROLS + "\n\r\t\x00\ufeff")


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_cap_bounds_length(text: str, limit: int) -> None:
    shown = cap(text, limit)
    assert len(shown) <= limit
    if len(text) <= limit:
        assert shown == text
    else:
        assert shown.endswith(ELLIPSIS) and text.startswith(shown[:-1])


def test_cap_rejects_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cap("abc", 0)
