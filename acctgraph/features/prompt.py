"""Prompt template fingerprints and capability classes, as polars expressions.

A scripted operator sends one template thousands of times with variables
filled in and small perturbations. The fingerprint keeps the template's
skeleton and drops what varies:

1. keep the first ``max_chars`` characters (appended variables fall off);
2. keep plain words only: identifiers (``snake_case``, ``camelCase``,
   anything holding a digit), numbers and punctuation fall out, so ids,
   variables and renumbering do not matter;
3. lower-case, drop words shorter than ``min_word`` letters and common
   filler words (``please``, ``the``,
   ``could``, greetings), and collapse whitespace: case, spacing and
   politeness noise vanish, and a prefix like "hi, please:" no longer shifts
   the words that follow;
4. cut the remaining words into bands of ``band_words`` words and keep the
   first ``n_bands`` of them (a last band shorter than half ``band_words`` is
   dropped); each band is a separate value, so a typo or an appended variable
   breaks one band, not all.

Ordinary chat does not collide: two people rarely write the same eight
content words in the same order. Popular phrasings do collide, and are handled
downstream like any other hub value (weighted by specificity, capped).

Examples
--------
>>> import polars as pl
>>> frame = pl.DataFrame({"prompt": [
...     "Step 1: Write a Python function parse_config_v2() that reads 3 YAML files and returns a dict",
...     "step 7:  write a python  function loadUserData() that reads 12 yaml files and returns a dict",
... ]})
>>> frame.select(template_bands("prompt", band_words=6).alias("t"))["t"].to_list()
[['step write python function reads yaml', 'files returns dict'], ['step write python function reads yaml', 'files returns dict']]
"""

from __future__ import annotations

import polars as pl

FILLER_WORDS = (
    "the",
    "and",
    "for",
    "with",
    "this",
    "that",
    "these",
    "those",
    "you",
    "your",
    "are",
    "can",
    "could",
    "would",
    "should",
    "please",
    "pls",
    "plz",
    "hey",
    "hello",
    "thanks",
    "thank",
    "quick",
    "question",
    "from",
    "into",
    "about",
    "then",
    "than",
    "will",
    "just",
    "some",
    "any",
    "also",
    "very",
    "all",
    "but",
    "not",
    "was",
    "were",
    "has",
    "have",
    "had",
    "its",
    "our",
    "out",
    "there",
    "here",
    "what",
    "which",
    "who",
    "how",
    "why",
    "when",
    "where",
    "now",
    "okay",
    "yes",
    "hii",
)

CODING = "coding"
AGENTIC = "agentic"
REASONING = "reasoning"
OTHER = "other"
CAPABILITIES = (CODING, AGENTIC, REASONING, OTHER)

_CAPABILITY_PATTERNS = {
    AGENTIC: r"\b(?:tool|tools|tool_call|function call|function_call|agent|agents|agentic|json schema|"
    r"execute|browser|shell|terminal|api call|plan the steps|next action|observation)\b",
    REASONING: r"step by step|step-by-step|chain of thought|think through|reasoning|show your work|"
    r"explain each step|\bprove\b|derive|think carefully",
    CODING: r"\b(?:python|javascript|typescript|rust|golang|java|c\+\+|sql|code|function|class|"
    r"refactor|debug|bug|compile|unit test|unit tests|regex|algorithm|implement|script|repository)\b",
}


def _junk_pattern(min_word: int) -> str:
    """A run of what the template skeleton drops, as one regular expression.

    Text is cut into ASCII word tokens (``[A-Za-z0-9_]+``) and everything else. A token is
    kept when it is a plain word (``word``, ``Word``, ``WORD``) of at least ``min_word``
    letters and not a filler word; the pattern matches any run of non-word characters and
    dropped tokens, which are those holding a digit or an underscore, those with a lower-case
    letter before a capital (``camelCase``), those with two capitals before a lower-case
    letter (``HTTPServer``), those shorter than ``min_word`` letters and the filler words
    (ASCII case-insensitive). These are exactly the tokens that are not plain words: a
    letters-only token with no lower-case letter before a capital is capitals then lower-case
    letters, a plain word when there is at most one capital or no lower-case letter.
    """
    short = rf"|[A-Za-z]{{1,{min_word - 1}}}" if min_word > 1 else ""
    dropped = (
        r"[A-Za-z0-9_]*[0-9_][A-Za-z0-9_]*"
        r"|[A-Za-z]*[a-z][A-Z][A-Za-z]*"
        r"|[A-Z]{2,}[a-z][A-Za-z]*"
        rf"{short}|(?i-u:{'|'.join(FILLER_WORDS)})"
    )
    return rf"(?:[^A-Za-z0-9_]|(?-u:\b)(?:{dropped})(?-u:\b))+"


def _spaced_words(column: str, *, max_chars: int, min_word: int) -> pl.Expr:
    """The kept words, lower-cased, one space between them and at most one at either end
    (``" write python function"``): one regex pass replaces every run of dropped text with a
    space (:func:`_junk_pattern`)."""
    return (
        pl.col(column)
        .str.slice(0, max_chars)
        .str.replace_all(_junk_pattern(min_word), " ")
        .str.to_lowercase()
    )


def normalised_prompt(column: str, *, max_chars: int = 160, min_word: int = 3) -> pl.Expr:
    """The template skeleton of a prompt: plain content words, lower-cased, in order.

    Plain words (``word``, ``Word``, ``WORD``) of at least ``min_word`` letters are kept;
    tokens holding digits, underscores or inner capitals (identifiers, numbers,
    ``camelCase``) are not words and fall out, as do filler words.
    """
    return _spaced_words(column, max_chars=max_chars, min_word=min_word).str.strip_chars(" ")


def template_bands(
    column: str, *, max_chars: int = 160, min_word: int = 3, band_words: int = 8, n_bands: int = 2
) -> pl.Expr:
    """The first ``n_bands`` template bands of each prompt, as a list of strings.

    Bands of fewer than half ``band_words`` words are dropped (see the module docstring).
    """
    bands = template_band_columns(
        column, max_chars=max_chars, min_word=min_word, band_words=band_words, n_bands=n_bands
    )
    return pl.concat_list(bands).list.drop_nulls()


def template_band_columns(
    column: str, *, max_chars: int = 160, min_word: int = 3, band_words: int = 8, n_bands: int = 2
) -> list[pl.Expr]:
    """:func:`template_bands` as ``n_bands`` expressions, band ``i`` null where the prompt
    has none: for group-bys that count bands, cheaper than building and exploding lists.

    Band ``i`` is found by one match without capture groups (the first ``i * band_words``
    words and up to ``band_words`` more, at least half as many), then its first
    ``i * band_words`` words are removed.

    >>> frame = pl.DataFrame({"p": ["write a python function that parses yaml files", "hi"]})
    >>> frame.select(template_band_columns("p", band_words=4)).rows()
    [('write python function parses', 'yaml files'), (None, None)]
    """
    text = _spaced_words(column, max_chars=max_chars, min_word=min_word)
    least = max(1, band_words // 2)
    bands = []
    for i in range(n_bands):
        skip = rf"^ ?(?:[a-z]+ ){{{i * band_words}}}"
        band = text.str.extract(rf"{skip}(?:[a-z]+(?: |$)){{{least},{band_words}}}", 0)
        if i:
            band = band.str.replace(skip, "")
        bands.append(band.str.strip_chars(" ").alias(f"_band{i}"))
    return bands


def capability(column: str, *, max_chars: int = 400) -> pl.Expr:
    """Capability class of a prompt: agentic, reasoning, coding or other (first match wins).

    The patterns are matched in the first ``max_chars`` characters, lower-cased
    (:attr:`acctgraph.features.kinds.PromptTemplate.capability_chars` in a run).
    """
    text = pl.col(column).str.slice(0, max_chars).str.to_lowercase()
    expr = pl.lit(OTHER)
    for name in (CODING, REASONING, AGENTIC):  # reversed: the last `when` applied wins
        expr = (
            pl.when(text.str.contains(_CAPABILITY_PATTERNS[name]))
            .then(pl.lit(name))
            .otherwise(expr)
        )
    return expr
