"""Who else is this? Rank accounts by how strongly they are linked to known-bad seed accounts.

An investigation usually starts from a handful of banned accounts.
:func:`expand_from_seeds` ranks every other account of a finished run by
personalised PageRank (random walk with restart) from the seeds and by how
alike it behaves, and attaches the evidence for each candidate: the values it
shares with the seeds, its behavioural figures (dominant prompt and its share,
hours, IP ranges in common), its cluster and whether that cluster was flagged.

Two walks, both restarting at a seed (uniformly) with probability ``1 -
damping`` at every step:

- over the **projection** (``graph/edges``): account to account, in
  proportion to the edge weight. The projection already holds the graph
  layer's judgement (hub rings, infrastructure only corroborating, the edge
  threshold), so this walk stays inside the operation; but accounts tied to
  the rest only by links below the threshold are out of its reach.
- over the **bipartite** graph (accounts and the values they share): from an
  account to one of its values in proportion to ``kind_weight × strength``
  (infrastructure kinds multiplied by ``infrastructure_weight``), from a value
  to one of its holders in the same proportion. A value held by many accounts
  spreads what reaches it thinly; dropped hub values are not crossed. This
  walk reaches every account that shares anything, but drifts out of the
  operation through behavioural values it shares with the world.

and a third ranking that needs no shared value at all:

- by **behaviour** (:mod:`acctgraph.investigate.behaviour`): the cohort
  stage's pair similarity (template shares × the weighted mean of the hours,
  IP range and capability cosines), with each template value's share weighted
  by ``log(accounts / holders) ** specificity_power`` so that a value the seeds
  favour and few others hold counts for more than a public prompt everyone
  sends. An account's behaviour score is the mean of its ``behaviour_top_k``
  highest similarities to individual seeds, in [0, 1]. It reaches an operation
  whose accounts share nothing but what they do.

The walks are mixed first: ``walk = (1 - bipartite_share) × projection +
bipartite_share × bipartite`` (the projection's ranking, with the bipartite
walk ordering the accounts the projection cannot reach). ``method="combined"``
(the default) then scores ``(1 - behaviour_share) × reach + behaviour_share ×
behaviour``, where ``reach = clip(1 + log10(walk / max(walk)) / walk_decades,
0, 1)`` (``max`` over non-seeds): the walk's probabilities fall by orders of
magnitude from the seeds' operation to the rest of the world, so the walk
enters by its order of magnitude, 1 for the best-reached candidate and 0 at
``walk_decades`` orders below it; a linear ``walk / max(walk)`` let accounts of
a large operation far from the seeds fall behind mere look-alikes. Ties
(accounts below that floor with the same behaviour) are broken by the walk,
then by account id. With ``behaviour_share`` 0 the score is the walks' mix
itself. ``"projection"``, ``"bipartite"`` and ``"behaviour"`` score by one
ranking alone. Measured effects are in
docs/benchmarks.md ("Expansion from known-bad accounts"). Candidates are
ranked by score, ties by account id: the ranking is deterministic.

Seeds not in the run are counted and listed, not fatal, unless none is found.

Examples
--------
Accounts ``a``, ``b`` and ``c`` share a card, ``c`` and ``d`` a device; ``e``
shares nothing.

>>> import polars as pl, tempfile
>>> from acctgraph.load import dataset_from_frames
>>> from acctgraph import run_pipeline, write_outputs
>>> from acctgraph.runfolder import load_run
>>> accounts = pl.DataFrame({"account_id": ["a", "b", "c", "d", "e"],
...     "payment_fingerprint": ["card1", "card1", "card1", None, None],
...     "device_id": [None, None, "dev1", "dev1", None]})
>>> exchanges = pl.DataFrame({"account_id": ["a", "b", "c", "d", "e"], "timestamp": [1776852000] * 5})
>>> out = tempfile.mkdtemp()
>>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
>>> found = expand_from_seeds(load_run(out), ["a", "zz"])
>>> found.candidates.select("rank", "account_id").rows()
[(1, 'c'), (2, 'b'), (3, 'd')]
>>> found.seeds.select("account_id", "found").rows()
[('a', True), ('zz', False)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import igraph as ig
import numpy as np
import polars as pl

from acctgraph.cards.linkage import (
    OTHER_ACCOUNT_ID,
    OTHER_VALUE,
    OWN_VALUE,
    comparison_phrase,
    links_seen_from,
)
from acctgraph.cluster.score import CONTRIBUTION, SIZE
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError, InputError
from acctgraph.core.tables import safe_for_spreadsheet
from acctgraph.core.textsafe import cap, visible
from acctgraph.graph.build import (
    ACCOUNT_INDEX,
    HUB_ACTION,
    INFRASTRUCTURE,
    KIND_WEIGHT,
    N_ACCOUNTS,
    SOURCE,
    STRENGTH,
    TARGET,
    VALUE_INDEX,
    WEIGHT,
)
from acctgraph.investigate.behaviour import (
    BehaviourProfiles,
    behaviour_evidence,
    behaviour_scores,
)
from acctgraph.investigate.bipartite import (
    CLUSTER_SIZE,
    account_table,
    bipartite_graph,
    shared_contribution,
)
from acctgraph.investigate.records import DECIMALS, frame_records
from acctgraph.investigate.terminal import terminal_text, text_table
from acctgraph.load import table_format
from acctgraph.runfolder import Run

RANK = "rank"
SCORE = "score"
FOUND = "found"
LINKED = "linked"
SEED_CLUSTER = "seed_cluster"
SEEDS_SHARING = "seeds_sharing"
SEEDS_HOLDING = "seeds_holding"
N_SHARED_VALUES = "n_shared_values"
#: Column of :meth:`Expansion.table` (and key of each JSON candidate): the values it shares with the seeds.
CANDIDATE_EVIDENCE = "evidence"

BEHAVIOUR = "behaviour"
BEHAVIOUR_PROMPT = "behaviour_prompt"
PROMPT_SHARE = "prompt_share"
SEEDS_PROMPT_SHARE = "seeds_prompt_share"
HOURS_COSINE = "hours_cosine"
IP_RANGES_WITH_SEEDS = "ip_ranges_with_seeds"
RECORD_LINK = "record_link"
RECORD_LINK_PROBABILITY = "record_link_probability"

METHODS = ("combined", "projection", "bipartite", "behaviour")
DEFAULT_METHOD = "combined"
DEFAULT_DAMPING = 0.85
DEFAULT_INFRASTRUCTURE_WEIGHT = 1.0
DEFAULT_BIPARTITE_SHARE = 0.05
DEFAULT_BEHAVIOUR_SHARE = 0.7
DEFAULT_BEHAVIOUR_TOP_K = 3
DEFAULT_SPECIFICITY_POWER = 2.0
DEFAULT_WALK_DECADES = 2.0
#: Candidates returned unless ``top`` says otherwise.
DEFAULT_CANDIDATES = 100
#: Shared values listed per candidate in :attr:`Expansion.evidence`.
DEFAULT_EVIDENCE_PER_CANDIDATE = 3
#: Scores are rounded to this many significant figures so that float noise cannot reorder
#: exact ties (broken by account id).
_SIG_FIGS = 9


@dataclass(frozen=True)
class Expansion:
    """Accounts ranked by their link to the seeds, with the evidence for each.

    Attributes
    ----------
    seeds
        One row per distinct seed id given: ``account_id, found`` (in the run),
        ``linked`` (holds at least one shared value the walk can cross),
        ``cluster_id, flagged``; sorted by account id.
    candidates
        ``rank, account_id, score`` (personalised PageRank probability),
        ``cluster_id, cluster_size, cluster_score, flagged, seed_cluster``
        (its cluster holds a seed), ``seeds_sharing`` (seeds sharing a counted
        value with it directly; 0 = reached through other accounts),
        ``n_shared_values, contribution`` (sum over shared values and seeds of
        ``kind_weight × strength × strength_seed``), and its behaviour
        (nulls for methods without it): ``behaviour`` (score in [0, 1]),
        ``behaviour_prompt`` (the template value that adds most to its
        likeness to the seeds), ``prompt_share`` and ``seeds_prompt_share``
        (its and the seeds' mean share of sampled prompts on that value),
        ``hours_cosine`` (hour profile against the seeds' pooled profile),
        ``ip_ranges_with_seeds`` (IP ranges it shares with a seed); in runs with
        declared accounts columns also ``record_link_probability`` and
        ``record_link`` (its strongest record link to a seed, with the comparisons
        that made it: :func:`record_links_to_seeds`).
    evidence
        The strongest values each candidate shares with the seeds:
        ``account_id, attribute_kind, value, n_accounts, seeds_holding,
        contribution, hub_action, infrastructure``, in candidate rank order.
    parameters
        Method, damping, infrastructure weight, bipartite share, behaviour
        share, behaviour top k, specificity power, top.
    """

    seeds: pl.DataFrame
    candidates: pl.DataFrame
    evidence: pl.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def n_seeds(self) -> int:
        """Distinct seed ids given."""
        return self.seeds.height

    @property
    def n_found(self) -> int:
        """Seed ids that are accounts of the run."""
        return int(self.seeds[FOUND].sum())

    def table(self) -> pl.DataFrame:
        """Candidates with their evidence as one text column (``kind=value (k seeds)``, ``; ``-joined).

        Examples
        --------
        >>> seeds = pl.DataFrame({"account_id": ["a"], "found": [True]})
        >>> candidates = pl.DataFrame({"rank": [1], "account_id": ["b"]})
        >>> evidence = pl.DataFrame({"account_id": ["b", "b"], "attribute_kind": ["payment", "device"],
        ...                          "value": ["card1", "dev1"], "seeds_holding": [1, 2]})
        >>> Expansion(seeds, candidates, evidence).table()["evidence"].to_list()
        ['payment=card1 (1 seed); device=dev1 (2 seeds)']
        """
        described = (
            (
                self.evidence.with_columns(pl.int_range(pl.len()).alias("_order"))
                .rechunk()  # (pl.format panics on filtered multi-chunk columns; concat_str on a rechunked frame)
                .with_columns(
                    pl.concat_str(
                        S.ATTRIBUTE_KIND,
                        pl.lit("="),
                        S.VALUE,
                        pl.lit(" ("),
                        pl.col(SEEDS_HOLDING).cast(pl.String),
                        pl.when(pl.col(SEEDS_HOLDING) == 1)
                        .then(pl.lit(" seed)"))
                        .otherwise(pl.lit(" seeds)")),
                    ).alias(CANDIDATE_EVIDENCE)
                )
                .sort("_order")
                .group_by(S.ACCOUNT_ID, maintain_order=True)
                .agg(pl.col(CANDIDATE_EVIDENCE).str.join("; "))
            )
            if self.evidence.height
            else pl.DataFrame(schema={S.ACCOUNT_ID: pl.String, CANDIDATE_EVIDENCE: pl.String})
        )
        return self.candidates.join(described, on=S.ACCOUNT_ID, how="left").sort(RANK)

    def write(self, path: str | Path) -> Path:
        """Write :meth:`table` to ``.csv`` (spreadsheet formulas neutralised) or ``.parquet`` (raw values)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise InputError("expand writes .csv or .parquet files", path=str(path))
        table = self.table()
        if suffix == ".parquet":
            table.write_parquet(path, compression="zstd", statistics=False)
        else:
            safe_for_spreadsheet(table).write_csv(path)
        return path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: seeds, candidates (each with its evidence) and parameters."""
        evidence: dict[str, list[dict[str, Any]]] = {}
        for record in frame_records(self.evidence):
            evidence.setdefault(record.pop(S.ACCOUNT_ID), []).append(record)
        candidates = frame_records(self.candidates)
        for record in candidates:
            record[CANDIDATE_EVIDENCE] = evidence.get(record[S.ACCOUNT_ID], [])
        return {
            "parameters": dict(self.parameters),
            "seeds": {
                "given": self.n_seeds,
                "found": self.n_found,
                "not_found": self.seeds.filter(~pl.col(FOUND))[S.ACCOUNT_ID].to_list(),
                "accounts": frame_records(self.seeds),
            },
            "candidates": candidates,
        }

    def to_text(self, *, values_per_candidate: int = 3) -> str:
        """Plain text for the terminal; attacker-written values are escaped and capped."""
        missing = self.seeds.filter(~pl.col(FOUND))[S.ACCOUNT_ID].to_list()
        unlinked = self.seeds.filter(pl.col(FOUND) & ~pl.col(LINKED)).height
        lines = [
            f"seeds: {self.n_found} of {self.n_seeds} found in the run"
            + (f", {unlinked} of them share nothing with anyone" if unlinked else "")
        ]
        if missing:
            listed = ", ".join(terminal_text(m, 40) for m in missing[:5])
            lines.append(
                f"  not found ({len(missing)}): {listed}" + (", …" if len(missing) > 5 else "")
            )
        p = self.parameters
        method = str(p.get("method"))
        walk = {
            "combined": "personalised PageRank over the projection and the bipartite graph "
            f"(damping {p.get('damping')}) and behaviour (share {p.get('behaviour_share')})",
            "projection": f"personalised PageRank over the projection (damping {p.get('damping')})",
            "bipartite": "personalised PageRank over the bipartite graph "
            f"(damping {p.get('damping')})",
            "behaviour": "behaviour (prompt shares, hours, IP ranges, capabilities)",
        }.get(method, method)
        lines.append(f"ranked by {walk}; top {self.candidates.height}")
        lines.append("")
        if not self.candidates.height:
            lines.append("No account is linked to the seeds.")
            return "\n".join(lines) + "\n"
        rows = []
        for c in self.candidates.iter_rows(named=True):
            values = self.evidence.filter(pl.col(S.ACCOUNT_ID) == c[S.ACCOUNT_ID])
            described = [
                f"{terminal_text(k, 16)}={terminal_text(v, 32)} ({n} seed{'' if n == 1 else 's'})"
                for k, v, n in values.select(S.ATTRIBUTE_KIND, S.VALUE, SEEDS_HOLDING)
                .head(values_per_candidate)
                .iter_rows()
            ]
            if c.get(RECORD_LINK) is not None:
                described.insert(0, terminal_text(c[RECORD_LINK], 160))
            if c.get(BEHAVIOUR_PROMPT) is not None and (c.get(BEHAVIOUR) or 0) > 0:
                described.append(behaviour_phrase(c))
            if not described:
                described = ["(through other accounts)"]
            cluster = (
                "-"
                if c[S.CLUSTER_ID] is None
                else (
                    f"{c[S.CLUSTER_ID]}{' flagged' if c[S.FLAGGED] else ''}{' (seed)' if c[SEED_CLUSTER] else ''}"
                )
            )
            rows.append(
                [
                    str(c[RANK]),
                    terminal_text(c[S.ACCOUNT_ID], 40),
                    f"{c[SCORE]:.3g}",
                    cluster,
                    str(c[SEEDS_SHARING]),
                    "; ".join(described),
                ]
            )
        lines += text_table(
            ["rank", "account", "score", "cluster", "seeds sharing", "shared with the seeds"],
            rows,
            right=[0, 2, 4],
        )
        return "\n".join(lines) + "\n"


def behaviour_phrase(candidate: dict[str, Any]) -> str:
    """One candidate's behavioural evidence as text (the prompt escaped and capped).

    Examples
    --------
    >>> behaviour_phrase({"behaviour": 0.83, "behaviour_prompt": "solve step by step",
    ...     "prompt_share": 0.41, "seeds_prompt_share": 0.38, "hours_cosine": 0.9,
    ...     "ip_ranges_with_seeds": 3})
    "behaviour 0.83: prompt 'solve step by step' 41% of its sampled prompts (seeds 38%), hours cosine 0.90, 3 IP ranges shared with the seeds"
    """
    ranges = candidate.get(IP_RANGES_WITH_SEEDS) or 0
    return (
        f"behaviour {candidate.get(BEHAVIOUR) or 0:.2f}: prompt "
        f"'{terminal_text(str(candidate.get(BEHAVIOUR_PROMPT)), 48)}' "
        f"{100 * (candidate.get(PROMPT_SHARE) or 0):.0f}% of its sampled prompts "
        f"(seeds {100 * (candidate.get(SEEDS_PROMPT_SHARE) or 0):.0f}%), "
        f"hours cosine {candidate.get(HOURS_COSINE) or 0:.2f}, "
        f"{ranges} IP range{'' if ranges == 1 else 's'} shared with the seeds"
    )


def read_seeds(path: str | Path, *, column: str | None = None) -> list[str]:
    """Seed account ids from a CSV (optionally ``.gz``), Parquet or NDJSON file.

    Parameters
    ----------
    path
        The file.
    column
        The column holding the ids. Default: ``account_id`` if present, else
        the first column. For a CSV falling back to its first column, the
        header line is also kept as an id: a bare list of ids with no header is
        common, and a real header name is simply reported as a seed not found.

    Returns
    -------
    list of str
        Distinct, non-blank ids (surrounding spaces removed), sorted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "known_bad.csv"
    >>> _ = file.write_text("account_id,note\\nb, banned\\na,\\na,again\\n")
    >>> read_seeds(file)
    ['a', 'b']
    >>> _ = file.write_text("acct_1\\nacct_2\\n")
    >>> read_seeds(file)
    ['acct_1', 'acct_2']
    """
    path = Path(path)
    fmt = table_format(path)
    try:
        if fmt == "csv":
            frame = pl.read_csv(path, infer_schema=False)
        elif fmt == "parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_ndjson(path, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError, ValueError, UnicodeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InputError(f"cannot read the seeds file ({first})", path=str(path)) from exc
    if not frame.columns:
        raise InputError("the seeds file has no column", path=str(path))
    header: list[str] = []
    if column is None:
        column = S.ACCOUNT_ID if S.ACCOUNT_ID in frame.columns else frame.columns[0]
        if column != S.ACCOUNT_ID and fmt == "csv":
            header = [column]
    elif column not in frame.columns:
        raise InputError(
            f"no such column; columns are {frame.columns}", path=str(path), column=column
        )
    ids = pl.concat([pl.Series(header, dtype=pl.String), frame[column].cast(pl.String)])
    ids = ids.str.strip_chars().filter(ids.str.strip_chars().str.len_chars() > 0)
    return ids.unique().sort().to_list()


def _check(
    method: str,
    damping: float,
    infrastructure_weight: float,
    bipartite_share: float,
    top: int,
    behaviour_share: float = DEFAULT_BEHAVIOUR_SHARE,
    behaviour_top_k: int = DEFAULT_BEHAVIOUR_TOP_K,
    specificity_power: float = DEFAULT_SPECIFICITY_POWER,
    walk_decades: float = DEFAULT_WALK_DECADES,
) -> None:
    if walk_decades <= 0:
        raise ConfigError(f"expand walk_decades must be positive, got {walk_decades}")
    if not 0.0 <= behaviour_share <= 1.0:
        raise ConfigError(f"expand behaviour_share must be in [0, 1], got {behaviour_share}")
    if behaviour_top_k < 1:
        raise ConfigError(f"expand behaviour_top_k must be at least 1, got {behaviour_top_k}")
    if specificity_power < 0:
        raise ConfigError(f"expand specificity_power must be non-negative, got {specificity_power}")
    if not 0.0 <= bipartite_share <= 1.0:
        raise ConfigError(f"expand bipartite_share must be in [0, 1], got {bipartite_share}")
    if method not in METHODS:
        raise ConfigError(f"expand method must be one of {list(METHODS)}, got {method!r}")
    if not 0.0 < damping < 1.0:
        raise ConfigError(f"expand damping must be in (0, 1), got {damping}")
    if infrastructure_weight < 0:
        raise ConfigError(
            f"expand infrastructure_weight must be non-negative, got {infrastructure_weight}"
        )
    if top < 1:
        raise ConfigError(f"expand top must be at least 1, got {top}")


def _projection_walk(run: Run) -> tuple[ig.Graph, list[float]]:
    """The account projection as igraph (vertex = account index) and its edge weights."""
    edges = run.edges.sort(SOURCE, TARGET)
    graph = ig.Graph(
        n=run.graph_accounts.height,
        edges=list(zip(edges[SOURCE].to_list(), edges[TARGET].to_list())),
    )
    return graph, edges[WEIGHT].to_list()


def _bipartite_walk(run: Run, infrastructure_weight: float) -> tuple[ig.Graph, list[float]]:
    """The bipartite graph (first vertices = accounts) and its ``kind_weight × strength`` weights."""
    graph, table = bipartite_graph(run)
    weights = table.select(
        pl.col(KIND_WEIGHT)
        * pl.col(STRENGTH)
        * pl.when(pl.col(INFRASTRUCTURE)).then(infrastructure_weight).otherwise(1.0)
    ).to_series()
    keep = (weights > 0).to_list()
    if not all(keep):  # infrastructure_weight 0: leave those links out
        graph.delete_edges([i for i, k in enumerate(keep) if not k])
        weights = weights.filter(weights > 0)
    return graph, weights.to_list()


def _personalised_pagerank(
    walk: tuple[ig.Graph, list[float]], seeds: list[int], n_accounts: int, damping: float
) -> list[float]:
    """PPR of the first ``n_accounts`` vertices, restarting at the seeds that have a link (0s if none has)."""
    graph, weights = walk
    linked = [i for i, d in zip(seeds, graph.degree(seeds)) if d > 0]
    if not linked:
        return [0.0] * n_accounts
    return graph.personalized_pagerank(
        vertices=range(n_accounts),
        directed=False,
        damping=damping,
        reset_vertices=linked,
        weights=weights,
    )


class SeedExpander:
    """The expert half of :func:`expand_from_seeds`: build the walk graph once, expand many seed sets.

    Parameters are those of :func:`expand_from_seeds` (``method``, ``damping``,
    ``infrastructure_weight``, ``bipartite_share``, ``behaviour_share``,
    ``behaviour_top_k``, ``specificity_power``, ``walk_decades``,
    ``evidence_per_candidate``).

    Examples
    --------
    >>> import polars as pl, tempfile
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> from acctgraph.runfolder import load_run
    >>> accounts = pl.DataFrame({"account_id": ["a", "b", "x", "y"],
    ...     "payment_fingerprint": ["card1", "card1", "card2", "card2"]})
    >>> exchanges = pl.DataFrame({"account_id": ["a", "b", "x", "y"], "timestamp": [1776852000] * 4})
    >>> out = tempfile.mkdtemp()
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> expander = SeedExpander(load_run(out))
    >>> [expander.expand([seed]).candidates["account_id"].to_list() for seed in ("a", "y")]
    [['b'], ['x']]
    """

    def __init__(
        self,
        run: Run,
        *,
        method: str = DEFAULT_METHOD,
        damping: float = DEFAULT_DAMPING,
        infrastructure_weight: float = DEFAULT_INFRASTRUCTURE_WEIGHT,
        bipartite_share: float = DEFAULT_BIPARTITE_SHARE,
        behaviour_share: float = DEFAULT_BEHAVIOUR_SHARE,
        behaviour_top_k: int = DEFAULT_BEHAVIOUR_TOP_K,
        specificity_power: float = DEFAULT_SPECIFICITY_POWER,
        walk_decades: float = DEFAULT_WALK_DECADES,
        evidence_per_candidate: int = DEFAULT_EVIDENCE_PER_CANDIDATE,
    ) -> None:
        _check(
            method,
            damping,
            infrastructure_weight,
            bipartite_share,
            1,
            behaviour_share,
            behaviour_top_k,
            specificity_power,
            walk_decades,
        )
        self.run = run
        self.walk_decades = walk_decades
        self.method = method
        self.damping = damping
        self.infrastructure_weight = infrastructure_weight
        self.bipartite_share = (
            bipartite_share if method in ("combined", "behaviour") else float(method == "bipartite")
        )
        self.behaviour_share = {"combined": behaviour_share, "behaviour": 1.0}.get(method, 0.0)
        self.behaviour_top_k = behaviour_top_k
        self.specificity_power = specificity_power
        self.evidence_per_candidate = evidence_per_candidate
        self.accounts = account_table(run)
        walks = self.behaviour_share < 1
        self.projection = _projection_walk(run) if walks and self.bipartite_share < 1 else None
        self.bipartite = (
            _bipartite_walk(run, infrastructure_weight)
            if walks and self.bipartite_share > 0
            else None
        )
        self.profiles = (
            BehaviourProfiles.from_run(run, specificity_power=specificity_power)
            if self.behaviour_share > 0
            else None
        )

    def walk_scores(self, seed_indices: list[int]) -> np.ndarray:
        """The walks' mix for every account (by account index): personalised PageRank probabilities."""
        n = self.run.graph_accounts.height
        share = self.bipartite_share
        projection = (
            _personalised_pagerank(self.projection, seed_indices, n, self.damping)
            if self.projection is not None
            else [0.0] * n
        )
        bipartite = (
            _personalised_pagerank(self.bipartite, seed_indices, n, self.damping)
            if self.bipartite is not None
            else [0.0] * n
        )
        return np.asarray(
            [(1.0 - share) * p + share * b for p, b in zip(projection, bipartite)],
            dtype=np.float64,
        )

    def scores(self, seed_indices: list[int]) -> list[float]:
        """The score of every account (by account index) from the given seed indices."""
        return self._scores(seed_indices)[0].tolist()

    def _scores(self, seed_indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The ranking score and the walks' mix (the tie-break) of every account."""
        walk = self.walk_scores(seed_indices)
        if self.profiles is None:
            return walk, walk
        behaviour = behaviour_scores(
            self.profiles, np.asarray(seed_indices), top_k=self.behaviour_top_k
        )
        if self.behaviour_share >= 1.0:
            return behaviour, walk
        others = np.ones(len(walk), dtype=bool)
        others[seed_indices] = False
        largest = float(walk[others].max()) if others.any() else 0.0
        compressed = np.zeros_like(walk)
        if largest > 0:
            reached = walk > 0
            compressed[reached] = np.clip(
                1.0 + np.log10(walk[reached] / largest) / self.walk_decades, 0.0, 1.0
            )
        mixed = (1.0 - self.behaviour_share) * compressed + self.behaviour_share * behaviour
        return mixed, walk

    def _behaviour_table(self, seed_indices: list[int], candidates: np.ndarray) -> pl.DataFrame:
        """Behaviour score and figures of ``candidates`` (nulls when the method has no behaviour)."""
        schema = {
            ACCOUNT_INDEX: pl.Int64,
            BEHAVIOUR: pl.Float64,
            BEHAVIOUR_PROMPT: pl.String,
            PROMPT_SHARE: pl.Float64,
            SEEDS_PROMPT_SHARE: pl.Float64,
            HOURS_COSINE: pl.Float64,
            IP_RANGES_WITH_SEEDS: pl.Int64,
        }
        candidates = np.asarray(candidates, dtype=np.int64)
        if self.profiles is None:
            return pl.DataFrame(
                {ACCOUNT_INDEX: candidates}, schema={ACCOUNT_INDEX: pl.Int64}
            ).with_columns(
                [pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c != ACCOUNT_INDEX]
            )
        seeds = np.asarray(seed_indices, dtype=np.int64)
        score = behaviour_scores(self.profiles, seeds, top_k=self.behaviour_top_k)[candidates]
        figures = behaviour_evidence(self.profiles, seeds, candidates)
        values = self.run.values.select(
            pl.col(VALUE_INDEX).cast(pl.Int64).alias("behaviour_value_index"),
            pl.col(S.VALUE).alias(BEHAVIOUR_PROMPT),
        )
        return (
            figures.with_columns(pl.Series(BEHAVIOUR, score, dtype=pl.Float64))
            .join(values, on="behaviour_value_index", how="left")
            .with_columns(
                pl.col(c).round(DECIMALS)
                for c in (BEHAVIOUR, PROMPT_SHARE, SEEDS_PROMPT_SHARE, HOURS_COSINE)
            )
            .select(list(schema))
        )

    def linked(self, seed_indices: list[int]) -> list[int]:
        """The seeds that have a link in at least one of the walk graphs, or a behaviour profile."""
        degree = [0] * len(seed_indices)
        if self.profiles is not None:
            degree = np.diff(self.profiles.unit["template"].indptr)[seed_indices].tolist()
        for walk in (self.projection, self.bipartite):
            if walk is not None:
                degree = [d + e for d, e in zip(degree, walk[0].degree(seed_indices))]
        return [i for i, d in zip(seed_indices, degree) if d > 0]

    def expand(self, seeds: Iterable[str], *, top: int = DEFAULT_CANDIDATES) -> Expansion:
        """Rank the other accounts by their link to ``seeds`` (see :func:`expand_from_seeds`)."""
        _check(self.method, self.damping, self.infrastructure_weight, 0.0, top)
        run, accounts = self.run, self.accounts
        given = sorted({str(s) for s in seeds})
        seed_table = (
            pl.DataFrame({S.ACCOUNT_ID: given}, schema={S.ACCOUNT_ID: pl.String})
            .join(accounts, on=S.ACCOUNT_ID, how="left")
            .with_columns(pl.col(ACCOUNT_INDEX).is_not_null().alias(FOUND))
            .sort(S.ACCOUNT_ID)
        )
        found_index = seed_table.filter(pl.col(FOUND))[ACCOUNT_INDEX].to_list()
        if not found_index:
            listed = ", ".join(repr(cap(visible(g), 40)) for g in given[:5]) or "none given"
            raise InputError(
                f"none of the {len(given)} seed account(s) is in this run (e.g. {listed}); "
                "ids must match exactly",
                path=str(run.path),
            )
        linked = self.linked(found_index)
        seed_table = seed_table.with_columns(
            pl.col(ACCOUNT_INDEX).is_in(linked).fill_null(False).alias(LINKED)
        ).select(S.ACCOUNT_ID, FOUND, LINKED, S.CLUSTER_ID, pl.col(S.FLAGGED).fill_null(False))
        parameters = {
            "method": self.method,
            "damping": self.damping,
            "infrastructure_weight": self.infrastructure_weight,
            "bipartite_share": self.bipartite_share,
            "behaviour_share": self.behaviour_share,
            "behaviour_top_k": self.behaviour_top_k,
            "specificity_power": self.specificity_power,
            "walk_decades": self.walk_decades,
            "top": top,
            "evidence_per_candidate": self.evidence_per_candidate,
        }

        seed_clusters = (
            seed_table.filter(pl.col(S.CLUSTER_ID).is_not_null())[S.CLUSTER_ID].unique().to_list()
        )
        sizes = run.clusters.select(S.CLUSTER_ID, pl.col(SIZE).cast(pl.Int64).alias(CLUSTER_SIZE))
        score, walk = self._scores(found_index)
        ranked = (
            accounts.with_columns(
                pl.Series(SCORE, score, dtype=pl.Float64).round_sig_figs(_SIG_FIGS),
                pl.Series("_walk", walk, dtype=pl.Float64).round_sig_figs(_SIG_FIGS),
            )
            .filter(
                ((pl.col(SCORE) > 0) | (pl.col("_walk") > 0))
                & ~pl.col(ACCOUNT_INDEX).is_in(found_index)
            )
            .sort([SCORE, "_walk", S.ACCOUNT_ID], descending=[True, True, False])
            .head(top)
            .with_columns(pl.int_range(1, pl.len() + 1).alias(RANK))
            .join(sizes, on=S.CLUSTER_ID, how="left")
            .with_columns(
                pl.col(S.CLUSTER_ID).is_in(seed_clusters).fill_null(False).alias(SEED_CLUSTER)
            )
        )
        per_value, per_candidate = _shared_with_seeds(
            run, ranked.select(ACCOUNT_INDEX, S.ACCOUNT_ID, RANK), found_index
        )
        candidates = (
            ranked.join(per_candidate, on=ACCOUNT_INDEX, how="left")
            .join(
                self._behaviour_table(found_index, ranked[ACCOUNT_INDEX].to_numpy()),
                on=ACCOUNT_INDEX,
                how="left",
            )
            .sort(RANK)
            .select(
                RANK,
                S.ACCOUNT_ID,
                SCORE,
                S.CLUSTER_ID,
                CLUSTER_SIZE,
                S.CLUSTER_SCORE,
                S.FLAGGED,
                SEED_CLUSTER,
                pl.col(SEEDS_SHARING).fill_null(0).cast(pl.UInt32),
                pl.col(N_SHARED_VALUES).fill_null(0).cast(pl.UInt32),
                pl.col(CONTRIBUTION).fill_null(0.0),
                BEHAVIOUR,
                BEHAVIOUR_PROMPT,
                PROMPT_SHARE,
                SEEDS_PROMPT_SHARE,
                HOURS_COSINE,
                IP_RANGES_WITH_SEEDS,
            )
        )
        links = record_links_to_seeds(
            run, self.accounts.filter(pl.col(ACCOUNT_INDEX).is_in(found_index))[S.ACCOUNT_ID]
        )
        if links is not None:
            candidates = candidates.join(links, on=S.ACCOUNT_ID, how="left").sort(RANK)
        order = [RANK, CONTRIBUTION, SEEDS_HOLDING, S.ATTRIBUTE_KIND, S.VALUE]
        evidence = (
            per_value.sort(order, descending=[False, True, True, False, False])
            .filter(pl.int_range(pl.len()).over(RANK) < self.evidence_per_candidate)
            .sort(order, descending=[False, True, True, False, False])
            .select(
                S.ACCOUNT_ID,
                S.ATTRIBUTE_KIND,
                S.VALUE,
                N_ACCOUNTS,
                SEEDS_HOLDING,
                CONTRIBUTION,
                HUB_ACTION,
                INFRASTRUCTURE,
            )
        )
        return Expansion(
            seeds=seed_table, candidates=candidates, evidence=evidence, parameters=parameters
        )


def record_links_to_seeds(
    run: Run, seeds: pl.Series, *, comparisons: int = 3
) -> pl.DataFrame | None:
    """Each account's strongest record link to a seed (runs with declared accounts columns).

    ``account_id, record_link_probability, record_link``: the link's match probability
    and a phrase naming the seed and the ``comparisons`` columns that added most
    (``p 1.000 with rec-1: surname 'smyth' ~ 'smith', Jaro-Winkler 0.93; ...``);
    None when the run has no links table.
    """
    links = run.links
    if links is None:
        return None
    # seen from the seeds' side, then turned round: the candidate is the account
    oriented = links_seen_from(links, seeds).rename(
        {
            S.ACCOUNT_ID: "_seed",
            OTHER_ACCOUNT_ID: S.ACCOUNT_ID,
            "probability": RECORD_LINK_PROBABILITY,
            OWN_VALUE: "_seed_value",
            OTHER_VALUE: "_own",
        }
    )
    best = (
        oriented.select(S.ACCOUNT_ID, "_seed", "match_weight")
        .unique()
        .sort(S.ACCOUNT_ID, "match_weight", "_seed", descending=[False, True, False])
        .group_by(S.ACCOUNT_ID, maintain_order=True)
        .first()
    )
    rows = oriented.join(best, on=[S.ACCOUNT_ID, "_seed", "match_weight"]).sort(
        S.ACCOUNT_ID, "bits", S.ATTRIBUTE_KIND, descending=[False, True, False]
    )
    out: dict[str, tuple[float, list[str], str]] = {}
    for row in rows.iter_rows(named=True):
        entry = out.setdefault(row[S.ACCOUNT_ID], (row[RECORD_LINK_PROBABILITY], [], row["_seed"]))
        if len(entry[1]) < comparisons and row["bits"] > 0:
            entry[1].append(
                comparison_phrase(
                    row[S.ATTRIBUTE_KIND],
                    row["level"],
                    row["_own"],
                    row["_seed_value"],
                    row["similarity"],
                    row["comparison"],
                )
            )
    return pl.DataFrame(
        {
            S.ACCOUNT_ID: list(out),
            RECORD_LINK_PROBABILITY: [v[0] for v in out.values()],
            RECORD_LINK: [f"p {v[0]:.3f} with {v[2]}: " + "; ".join(v[1]) for v in out.values()],
        },
        schema={
            S.ACCOUNT_ID: pl.String,
            RECORD_LINK_PROBABILITY: pl.Float64,
            RECORD_LINK: pl.String,
        },
    )


def expand_from_seeds(
    run: Run,
    seeds: Iterable[str],
    *,
    top: int = DEFAULT_CANDIDATES,
    method: str = DEFAULT_METHOD,
    damping: float = DEFAULT_DAMPING,
    infrastructure_weight: float = DEFAULT_INFRASTRUCTURE_WEIGHT,
    bipartite_share: float = DEFAULT_BIPARTITE_SHARE,
    behaviour_share: float = DEFAULT_BEHAVIOUR_SHARE,
    behaviour_top_k: int = DEFAULT_BEHAVIOUR_TOP_K,
    specificity_power: float = DEFAULT_SPECIFICITY_POWER,
    walk_decades: float = DEFAULT_WALK_DECADES,
    evidence_per_candidate: int = DEFAULT_EVIDENCE_PER_CANDIDATE,
) -> Expansion:
    """Rank the run's other accounts by how strongly they are linked to ``seeds``.

    Parameters
    ----------
    run
        A finished run (:func:`acctgraph.runfolder.load_run`).
    seeds
        Known-bad account ids; duplicates and ids not in the run are allowed
        (reported in :attr:`Expansion.seeds`).
    top
        Number of candidates returned.
    method
        ``"combined"``, ``"projection"``, ``"bipartite"`` or ``"behaviour"``
        (module docstring).
    damping
        Probability of following a link rather than jumping back to a seed.
    infrastructure_weight
        Multiplier of infrastructure kinds' (IP, range, co-activity) links in
        the bipartite walk; 0 leaves them out.
    bipartite_share
        Weight of the bipartite walk in the walks' mix.
    behaviour_share
        Weight of the behaviour score in the ``combined`` score, in [0, 1]
        (0: the walks alone). Default 0.7.
    behaviour_top_k
        A candidate's behaviour score is the mean of its this many highest
        similarities to individual seeds. At least 1. Default 3.
    specificity_power
        Exponent of each template value's ``log(accounts / holders)`` weight in
        the behaviour similarity (0: the cohort stage's plain shares). Default 2.
    walk_decades
        Orders of magnitude of the walks' score, below the best candidate's,
        that the ``combined`` score spreads over [0, 1] (module docstring);
        positive. Default 2.
    evidence_per_candidate
        Shared values listed per candidate.

    Returns
    -------
    Expansion

    Raises
    ------
    InputError
        If no seed is an account of the run.

    Examples
    --------
    >>> import polars as pl, tempfile
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> from acctgraph.runfolder import load_run
    >>> accounts = pl.DataFrame({"account_id": ["a", "b", "c", "x", "y"],
    ...     "payment_fingerprint": ["card1", "card1", "card1", "card2", "card2"]})
    >>> exchanges = pl.DataFrame({"account_id": ["a", "b", "c", "x", "y"], "timestamp": [1776852000] * 5})
    >>> out = tempfile.mkdtemp()
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> found = expand_from_seeds(load_run(out), ["a"], top=5)
    >>> found.candidates.select("account_id", "seeds_sharing").rows()
    [('b', 1), ('c', 1)]
    >>> found.evidence.select("account_id", "value", "seeds_holding").rows()
    [('b', 'card1', 1), ('c', 'card1', 1)]
    """
    _check(
        method,
        damping,
        infrastructure_weight,
        bipartite_share,
        top,
        behaviour_share,
        behaviour_top_k,
        specificity_power,
        walk_decades,
    )
    expander = SeedExpander(
        run,
        method=method,
        damping=damping,
        infrastructure_weight=infrastructure_weight,
        bipartite_share=bipartite_share,
        behaviour_share=behaviour_share,
        behaviour_top_k=behaviour_top_k,
        specificity_power=specificity_power,
        walk_decades=walk_decades,
        evidence_per_candidate=evidence_per_candidate,
    )
    return expander.expand(seeds, top=top)


def _shared_with_seeds(
    run: Run, ranked: pl.DataFrame, seeds: list[int]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per (candidate, value) shared with the seeds, and per-candidate totals."""
    incidence = run.incidence.select(ACCOUNT_INDEX, VALUE_INDEX, STRENGTH)
    seed_values = (
        incidence.filter(pl.col(ACCOUNT_INDEX).is_in(seeds))
        .group_by(VALUE_INDEX)
        .agg(
            pl.len().alias(SEEDS_HOLDING),
            pl.col(STRENGTH).sum().alias("_seed_strength"),
            pl.col(ACCOUNT_INDEX).alias("_seeds"),
        )
    )
    per_value = (
        incidence.join(ranked, on=ACCOUNT_INDEX)
        .join(seed_values, on=VALUE_INDEX)
        .join(
            run.values.select(
                VALUE_INDEX,
                S.ATTRIBUTE_KIND,
                S.VALUE,
                N_ACCOUNTS,
                KIND_WEIGHT,
                HUB_ACTION,
                INFRASTRUCTURE,
            ),
            on=VALUE_INDEX,
        )
        .with_columns(
            shared_contribution(STRENGTH, "_seed_strength").alias(CONTRIBUTION),
            pl.col(SEEDS_HOLDING).cast(pl.UInt32),
        )
    )
    counted = per_value.filter(pl.col(CONTRIBUTION) > 0)
    per_candidate = (
        counted.explode("_seeds")
        .group_by(ACCOUNT_INDEX)
        .agg(pl.col("_seeds").n_unique().alias(SEEDS_SHARING))
        .join(
            counted.group_by(ACCOUNT_INDEX).agg(
                pl.len().alias(N_SHARED_VALUES), pl.col(CONTRIBUTION).sum().round(DECIMALS)
            ),
            on=ACCOUNT_INDEX,
        )
    )
    return per_value.drop("_seeds"), per_candidate
