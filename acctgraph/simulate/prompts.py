"""Prompt text, built vectorised: frames with typed slots filled from vocabularies.

Four generators share one slot machinery:

* ordinary chat (``CHAT_FRAMES`` with openers and closers: hundreds of millions of
  combinations, so two people almost never type the same text);
* coding questions (``CODING_FRAMES``: legitimate developers and employees);
* popular phrasings (``POPULAR_PROMPTS``, Zipf-distributed: many unrelated people
  send exactly the same text);
* templates (an operator's scripted templates, perturbed per exchange, or an
  automation job's batch template, unperturbed).

Examples
--------
>>> import numpy as np
>>> from acctgraph.simulate.randomness import Draws
>>> d = Draws(np.arange(3, dtype=np.uint64), np.zeros(3, dtype=np.uint64))
>>> texts = chat_prompts(d)
>>> texts.len(), texts.null_count()
(3, 0)
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import polars as pl

from acctgraph.simulate import vocabulary as V
from acctgraph.simulate.randomness import Draws, cumulative, zipf_weights


def _series(values) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.String)


def _documents() -> tuple[str, ...]:
    return tuple(f"{a} {b}" for a in V.FRAGMENTS for b in V.FRAGMENTS if a != b)


SLOTS: dict[str, pl.Series] = {
    "TOPIC": _series(V.TOPICS),
    "THING": _series(V.THINGS),
    "PEOPLE": _series(V.PEOPLE),
    "PLACES": _series(V.PLACES),
    "AUDIENCE": _series(V.AUDIENCES),
    "TONE": _series(V.TONES),
    "JOB": _series(V.JOBS),
    "FOOD": _series(V.FOODS),
    "FRAGMENT": _series(V.FRAGMENTS),
    "LANG": _series(V.LANGUAGES),
    "LIB": _series(V.LIBRARIES),
    "CODE_TASK": _series(V.CODE_TASKS),
    "ERROR": _series(V.ERRORS),
    "IDENT": _series(V.IDENTIFIERS),
    "SNIPPET": _series(V.SNIPPETS),
    "DOCTYPE": _series(V.DOCTYPES),
    "FIELDS": _series(V.FIELDS),
    "LABELS": _series(V.LABELS),
    "DOC": _series(_documents()),
}
_SLOT_RE = re.compile(r"\{([A-Z_]+)\}")

CHAT = _series(V.CHAT_FRAMES)
CODING = _series(V.CODING_FRAMES)
POPULAR = _series(V.POPULAR_PROMPTS)
_POPULAR_CDF = cumulative(zipf_weights(len(V.POPULAR_PROMPTS), 1.1))
OPENERS = _series(V.OPENERS)
CLOSERS = _series(V.CLOSERS)
PREFIXES = _series(V.NOISE_PREFIXES)
SUFFIXES = _series(V.NOISE_SUFFIXES)


def fill(frames: pl.Series, d: Draws, repeats: dict[str, int]) -> pl.Series:
    """Replace every ``{SLOT}`` in ``frames`` (one per row) with a drawn value."""
    columns = {"text": frames}
    expr = pl.col("text")
    for name, times in sorted(repeats.items()):
        for i in range(times):
            column = f"{name}{i}"
            if name == "N":
                values = pl.Series(d.integers(f"slot.N{i}", 10_000) + 1).cast(pl.String)
            elif name == "K":
                values = pl.Series(d.integers(f"slot.K{i}", 11) + 2).cast(pl.String)
            else:
                vocab = SLOTS[name]
                values = vocab.gather(d.integers(f"slot.{name}{i}", len(vocab)))
            columns[column] = values
            expr = expr.str.replace("{" + name + "}", pl.col(column), literal=True)
    return pl.DataFrame(columns).select(expr.alias("prompt")).to_series()


def _slot_counts(frames) -> dict[str, int]:
    counts: dict[str, int] = {}
    for frame in frames:
        for name in _SLOT_RE.findall(frame):
            counts[name] = max(counts.get(name, 0), frame.count("{" + name + "}"))
    return counts


_CHAT_SLOTS = _slot_counts(V.CHAT_FRAMES)
_CODING_SLOTS = _slot_counts(V.CODING_FRAMES)


def _capitalise_some(text: pl.Series, d: Draws, share: float) -> pl.Series:
    mask = pl.Series(d.uniform("capitalise") < share)
    frame = pl.DataFrame({"t": text, "m": mask})
    first = pl.col("t").str.slice(0, 1).str.to_uppercase()
    return frame.select(
        pl.when(pl.col("m"))
        .then(pl.concat_str([first, pl.col("t").str.slice(1)]))
        .otherwise(pl.col("t"))
        .alias("prompt")
    ).to_series()


def chat_prompts(d: Draws) -> pl.Series:
    """Ordinary chat: opener + filled frame + closer, some capitalised."""
    frames = CHAT.gather(d.integers("chat.frame", len(CHAT)))
    body = fill(frames, d, _CHAT_SLOTS)
    frame = pl.DataFrame(
        {
            "o": OPENERS.gather(d.integers("chat.opener", len(OPENERS))),
            "b": body,
            "c": CLOSERS.gather(d.integers("chat.closer", len(CLOSERS))),
        }
    )
    text = frame.select(pl.concat_str(["o", "b", "c"]).alias("prompt")).to_series()
    return _capitalise_some(text, d, 0.45)


def coding_prompts(d: Draws) -> pl.Series:
    """Coding questions of developers and employees."""
    frames = CODING.gather(d.integers("coding.frame", len(CODING)))
    body = fill(frames, d, _CODING_SLOTS)
    frame = pl.DataFrame(
        {"o": OPENERS.gather(d.integers("coding.opener", len(OPENERS))), "b": body}
    )
    text = frame.select(pl.concat_str(["o", "b"]).alias("prompt")).to_series()
    return _capitalise_some(text, d, 0.35)


def popular_prompts(d: Draws) -> pl.Series:
    """Popular phrasings, shared verbatim by many unrelated people."""
    return POPULAR.gather(d.choice("popular", _POPULAR_CDF)).alias("prompt")


class TemplateBook:
    """Registry of template sets (operators' scripts, automation jobs)."""

    def __init__(self) -> None:
        self.templates: list[str] = []
        self.offsets: list[int] = []
        self.sizes: list[int] = []
        self._series: pl.Series | None = None

    def add(self, templates: list[str]) -> int:
        """Register a set; returns its id."""
        self.offsets.append(len(self.templates))
        self.sizes.append(len(templates))
        self.templates.extend(templates)
        self._series = None
        return len(self.sizes) - 1

    def render(self, d: Draws, set_ids: np.ndarray, perturbation: np.ndarray) -> pl.Series:
        """One prompt per row from the row's template set, perturbed with the given strength."""
        if self._series is None:
            self._series = _series(self.templates)
            self._slots = _slot_counts(self.templates)
        offsets = np.asarray(self.offsets, dtype=np.int64)[set_ids]
        sizes = np.asarray(self.sizes, dtype=np.int64)[set_ids]
        # skewed use: a few templates of a set carry most of the traffic
        pick = np.floor(d.uniform("template") ** 1.7 * sizes).astype(np.int64)
        text = fill(self._series.gather(offsets + pick), d, self._slots)
        return perturb(text, d, perturbation)


def _replace_first(wrong_from: str, wrong_to: str) -> Callable[[pl.Series], pl.Series]:
    """A step that replaces the first ``wrong_from`` of each text by ``wrong_to``."""
    return lambda text: text.str.replace(wrong_from, wrong_to, literal=True)


def perturb(text: pl.Series, d: Draws, strength: np.ndarray) -> pl.Series:
    """Per-row noise so that exact matching of scripted prompts fails.

    Case changes, doubled or collapsed whitespace, line breaks, a small typo, and
    prefix/suffix noise, each with a probability proportional to ``strength``.
    Each step runs on the affected rows only.
    """
    s = np.asarray(strength, dtype=np.float64)
    typo = np.where(d.uniform("p.typo") < 0.45 * s, d.integers("p.typo.which", len(V.TYPOS)), -1)
    steps: list[tuple[np.ndarray, Callable[[pl.Series], pl.Series]]] = [
        (d.uniform("p.lower") < 0.30 * s, lambda x: x.str.to_lowercase()),
        (d.uniform("p.upper") < 0.04 * s, lambda x: x.str.to_uppercase()),
        (d.uniform("p.spaces") < 0.35 * s, lambda x: x.str.replace_all(" ", "  ", literal=True)),
        (d.uniform("p.collapse") < 0.25 * s, lambda x: x.str.replace_all(". ", ".", literal=True)),
        (d.uniform("p.newline") < 0.20 * s, lambda x: x.str.replace(". ", ".\n", literal=True)),
    ]
    for i, (wrong_from, wrong_to) in enumerate(V.TYPOS):
        steps.append((typo == i, _replace_first(wrong_from, wrong_to)))
    text = text.clone()
    for mask, operation in steps:
        rows = np.flatnonzero(mask)
        if len(rows):
            text = text.scatter(rows, operation(text.gather(rows)))
    has_noise = s > 0
    frame = pl.DataFrame(
        {
            "pre": PREFIXES.gather(np.where(has_noise, d.integers("p.prefix", len(PREFIXES)), 0)),
            "t": text,
            "suf": SUFFIXES.gather(np.where(has_noise, d.integers("p.suffix", len(SUFFIXES)), 0)),
        }
    )
    return frame.select(pl.concat_str(["pre", "t", "suf"]).alias("prompt")).to_series()


def operator_templates(rng: np.random.Generator, focus: str, n_templates: int) -> list[str]:
    """``n_templates`` distinct scripted templates (opener + body + closer) for one operator."""
    focuses = ("coding", "agentic", "reasoning") if focus == "mixed" else (focus,)
    out: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n_templates and attempts < 50 * n_templates:
        attempts += 1
        f = focuses[int(rng.integers(len(focuses)))]
        opener = V.OPERATOR_OPENERS[f][int(rng.integers(len(V.OPERATOR_OPENERS[f])))]
        body = V.OPERATOR_BODIES[f][int(rng.integers(len(V.OPERATOR_BODIES[f])))]
        closer = V.OPERATOR_CLOSERS[int(rng.integers(len(V.OPERATOR_CLOSERS)))]
        template = f"{opener} {body} {closer}"
        if template not in seen:
            seen.add(template)
            out.append(template)
    return out


def automation_templates(rng: np.random.Generator, n_jobs: int) -> list[str]:
    """The batch-job templates of one automation organisation."""
    picks = rng.choice(
        len(V.AUTOMATION_JOBS), size=min(n_jobs, len(V.AUTOMATION_JOBS)), replace=False
    )
    return [V.AUTOMATION_JOBS[int(i)] for i in sorted(picks)]
