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
        self.paraphrased: list[bool] = []
        self._series: pl.Series | None = None

    def add(self, templates: list[str], *, paraphrase: bool = False) -> int:
        """Register a set; returns its id. ``paraphrase``: rewrite every prompt (:func:`paraphrase`)."""
        self.offsets.append(len(self.templates))
        self.sizes.append(len(templates))
        self.paraphrased.append(paraphrase)
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
        chosen = self._series.gather(offsets + pick)
        rewrite = np.asarray(self.paraphrased, dtype=bool)[set_ids]
        slots = self._slots
        if rewrite.any():  # before the slots are filled, so the added constraint gets values too
            rows = np.flatnonzero(rewrite)
            chosen = chosen.scatter(rows, paraphrase(chosen.gather(rows), d.subset(rows)))
            slots = _slot_counts_with_paraphrase(slots)
        text = fill(chosen, d, slots)
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


# --- the public library of capability-eliciting prompts ------------------------------------


def public_library(rng: np.random.Generator, per_focus: int = 12) -> tuple[list[str], list[str]]:
    """Prompts published on the web for eliciting capabilities: ``(texts, focuses)``.

    ``per_focus`` distinct texts for each of coding, agentic and reasoning, built like
    operators' templates with the slots filled once: anyone who copies one sends the
    very same text. Ordered by popularity within the library (legitimate people draw
    them Zipf-wise, :func:`public_prompts`).

    Examples
    --------
    >>> texts, focuses = public_library(np.random.default_rng(1), per_focus=2)
    >>> len(texts), sorted(set(focuses)), any("{" in t for t in texts)
    (6, ['agentic', 'coding', 'reasoning'], False)
    """
    texts: list[str] = []
    focuses: list[str] = []
    for focus in ("coding", "agentic", "reasoning"):
        for template in operator_templates(rng, focus, per_focus):
            texts.append(_SLOT_RE.sub(lambda m: _one_value(rng, m.group(1)), template))
            focuses.append(focus)
    order = rng.permutation(len(texts))  # popularity does not follow the focus
    return [texts[i] for i in order], [focuses[i] for i in order]


def _one_value(rng: np.random.Generator, slot: str) -> str:
    if slot == "N":
        return str(int(rng.integers(1, 10_001)))
    if slot == "K":
        return str(int(rng.integers(2, 13)))
    vocab = SLOTS[slot]
    return str(vocab[int(rng.integers(len(vocab)))])


def public_templates(
    rng: np.random.Generator, library: list[str], focuses: list[str], focus: str, n_templates: int
) -> list[str]:
    """An operator's picks from the public library, most popular first within its focus.

    The first one carries most of the operator's traffic (:meth:`TemplateBook.render`),
    and it is among the library's most popular prompts of that focus.
    """
    wanted = ("coding", "agentic", "reasoning") if focus == "mixed" else (focus,)
    candidates = [i for i, f in enumerate(focuses) if f in wanted]
    weights = zipf_weights(len(candidates), 1.0)
    k = min(n_templates, len(candidates))
    picked = rng.choice(len(candidates), size=k, replace=False, p=weights / weights.sum())
    return [library[candidates[int(i)]] for i in sorted(picked)]


def public_prompts(d: Draws, library: pl.Series) -> pl.Series:
    """Verbatim prompts of the public library, Zipf-distributed (legitimate people's copies)."""
    cdf = cumulative(zipf_weights(len(library), 1.1))
    return library.gather(d.choice("public", cdf)).alias("prompt")


# --- paraphrase ----------------------------------------------------------------------------

_LEAD_INS = _series(
    (
        "",
        "Hey, ",
        "Quick one: ",
        "I need help with this. ",
        "Could you do the following? ",
        "Here is my request. ",
        "For a project I'm working on: ",
        "Please handle this carefully. ",
        "New task. ",
        "Can you help? ",
        "Following up on my earlier question: ",
        "I'd appreciate a thorough answer. ",
    )
)
_CONSTRAINTS = _series(
    (
        " Keep it under {N} lines.",
        " Assume inputs of about {N} items.",
        " It has to handle {N} requests a minute.",
        " I have {N} test cases to pass.",
        " Budget: {N} tokens at most.",
        " The dataset has {N} rows.",
        " This is attempt {N}, the others failed.",
        " Our codebase has {N} files.",
        " Give at least {K} examples; I will run {N} of them.",
        " Stop after {N} words of explanation.",
        " Version {N} of this question.",
        " We ship in {N} hours.",
    )
)
_CONTEXTS = _series(
    (
        " It is for {PEOPLE} in {PLACES}.",
        " Background: {TOPIC}, {THING}.",
        " My team uses {LIB} and {LANG}.",
        " Think of {TOPIC} as an analogy; the reader is {AUDIENCE}.",
        " Name things after {IDENT} and {THING}.",
        " Context: {JOB} working on {TOPIC}.",
        " Mention edge cases like {ERROR} and {THING}.",
        " I am asking for {PEOPLE}, who know {TOPIC}.",
        " Use {LIB} if it helps with {TOPIC}.",
        " Write it for {AUDIENCE} in {PLACES}.",
        " It runs somewhere in {PLACES}, next to {LIB}.",
        " The project is about {TOPIC} and {THING}.",
    )
)
_PARAPHRASE_SLOTS = {
    name: _slot_counts(_CONSTRAINTS).get(name, 0) + _slot_counts(_CONTEXTS).get(name, 0)
    for name in set(_slot_counts(_CONSTRAINTS)) | set(_slot_counts(_CONTEXTS))
}
# groups of interchangeable words: the first of each group is the one the templates use
_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("Write", "Produce", "Draft", "Put together", "Create"),
    ("Implement", "Code up", "Build", "Develop"),
    ("Solve", "Work out", "Crack", "Figure out"),
    ("solution", "implementation", "answer", "approach"),
    ("complete", "full", "whole", "end-to-end"),
    ("Output", "Return", "Give me", "Produce"),
    ("step by step", "one step at a time", "stepwise", "in small steps"),
    ("detailed", "thorough", "in-depth", "exhaustive"),
    ("reasoning", "thinking", "logic", "line of thought"),
    ("You are", "Pretend you are", "Imagine you are", "Behave as"),
    ("include", "add", "provide", "also write"),
    ("Task", "Job", "Assignment", "Exercise"),
    ("tools", "utilities", "functions", "actions"),
    ("Explain", "Describe", "Lay out", "Spell out"),
)


def paraphrase(templates: pl.Series, d: Draws) -> pl.Series:
    """Reword each template (one per row): a lead-in, synonyms, a constraint, a context.

    What the prompt asks (topic, structure, the capability it targets) stays; the
    wording changes so that no exact text repeats: with the slots filled afterwards
    there are about 10^11 variants of every template, so that even 100,000 rows of
    one template almost never repeat.

    Examples
    --------
    >>> d = Draws(np.arange(4, dtype=np.uint64), np.zeros(4, dtype=np.uint64))
    >>> out = paraphrase(pl.Series(["Write code step by step."] * 4), d)
    >>> out.n_unique() > 1
    True
    """
    text = templates.clone()
    for g, group in enumerate(_SYNONYMS):
        which = d.integers(f"para.synonym{g}", len(group))
        for v in range(1, len(group)):
            rows = np.flatnonzero(which == v)
            if len(rows):
                text = text.scatter(
                    rows, text.gather(rows).str.replace_all(group[0], group[v], literal=True)
                )
    frame = pl.DataFrame(
        {
            "lead": _LEAD_INS.gather(d.integers("para.lead", len(_LEAD_INS))),
            "t": text,
            "more": _CONSTRAINTS.gather(d.integers("para.constraint", len(_CONSTRAINTS))),
            "context": _CONTEXTS.gather(d.integers("para.context", len(_CONTEXTS))),
        }
    )
    return frame.select(pl.concat_str(["lead", "t", "more", "context"]).alias("prompt")).to_series()


def _slot_counts_with_paraphrase(counts: dict[str, int]) -> dict[str, int]:
    merged = dict(counts)  # the added sentences come on top of the template's own slots
    for name, times in _PARAPHRASE_SLOTS.items():
        merged[name] = merged.get(name, 0) + times
    return merged


def automation_templates(rng: np.random.Generator, n_jobs: int) -> list[str]:
    """The batch-job templates of one automation organisation."""
    picks = rng.choice(
        len(V.AUTOMATION_JOBS), size=min(n_jobs, len(V.AUTOMATION_JOBS)), replace=False
    )
    return [V.AUTOMATION_JOBS[int(i)] for i in sorted(picks)]
