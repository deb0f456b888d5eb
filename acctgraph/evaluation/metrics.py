"""Score a detector's members table against ground-truth labels.

:func:`evaluate` takes two validated frames (no file reading here) and returns
an :class:`Evaluation`: account-level precision and recall of ``flagged``,
B-cubed precision and recall of the clustering, ARI and NMI, a per-operator
breakdown, the legitimate accounts that were flagged (by label kind) and a
count of every data-quality problem found on the way.

Definitions
-----------
Inputs are normalised first:

* ``members``: ``account_id`` and ``cluster_id`` are cast to strings (an
  integer cluster id ``7`` and a string ``"7"`` are the same cluster; ``""``
  counts as null); a null ``flagged`` counts as ``False``. When an
  ``account_id`` occurs more than once, the rows are sorted by
  ``(account_id, cluster_id, flagged, cluster_score)``, ascending with nulls
  last, and the first row is kept; the extra rows are counted in
  ``duplicate_member_rows``. Rows with a null ``account_id`` are dropped and
  counted.
* ``labels``: an ``operator_id`` that is null or blank means legitimate;
  ``kind`` is optional (missing → ``"unspecified"``). Duplicate account ids are
  resolved the same way (sorted by ``(account_id, operator_id, kind)``, first
  kept) and counted in ``duplicate_label_rows``.
* The population scored is the set of **labelled** accounts. A labelled
  account absent from ``members`` (a *missing* account) counts as not flagged
  and linked to no one: the detector did not claim it. An account in
  ``members`` absent from the labels (an *unknown* account) has no ground
  truth and is left out of every metric; missing and unknown accounts are
  counted.

Account level (the question "is this account part of an operation?"):
a *positive* is an account with an operator id, a *prediction* is
``flagged``. ``TP``, ``FP``, ``FN``, ``TN`` are counted over the labelled
accounts; ``precision = TP / (TP + FP)``, ``recall = TP / (TP + FN)``,
``F1 = 2 P R / (P + R)``.

Clustering (the question "are the accounts grouped by operator?") is scored on
the *evaluation set* ``E``: the labelled accounts that are fraudulent or
flagged. Each account of ``E`` gets

* a predicted cluster: its ``cluster_id`` if it is flagged (a flagged account
  with a null ``cluster_id`` is a singleton), otherwise a singleton of its
  own: an unflagged account was not claimed by the tool, so it is alone;
* a true cluster: its ``operator_id`` if it is fraudulent, otherwise a
  singleton of its own.

Clusters are restricted to ``E`` (unknown accounts are not in ``E``).
B-cubed (Amigó, Gonzalo, Artiles and Verdejo 2009): for each account ``i`` of
``E`` with predicted cluster ``C(i)`` and true cluster ``L(i)``,
``P(i) = |C(i) ∩ L(i)| / |C(i)|`` and ``R(i) = |C(i) ∩ L(i)| / |L(i)|``;
B-cubed precision and recall are the means of ``P(i)`` and ``R(i)`` over
``E`` and B-cubed F1 is their harmonic mean (the F measure with α = 0.5 of
the paper). From the contingency table ``n_ct`` with predicted cluster sizes
``a_c`` and true cluster sizes ``b_t``:
``precision = Σ n_ct² / a_c / |E|`` and ``recall = Σ n_ct² / b_t / |E|``.

The adjusted Rand index (Hubert and Arabie 1985) and the normalized mutual
information with the **arithmetic-mean** normaliser
``NMI = I(C; L) / ((H(C) + H(L)) / 2)`` (natural logarithms) compare the same
two labelings of ``E``. Limit cases follow scikit-learn 1.9
(``adjusted_rand_score``, ``normalized_mutual_info_score(...,
average_method="arithmetic")``): identical pair structure gives ARI 1.0
(e.g. both labelings all singletons); both labelings a single cluster gives
NMI 1.0; exactly one of them a single cluster gives NMI 0.0.

Per operator ``o`` with ``size`` labelled accounts: ``flagged`` accounts and
``recall = flagged / size``; ``clusters`` = the number of distinct predicted
clusters its flagged accounts fall into; ``largest_share`` = the largest number
of its accounts in one of those clusters divided by ``size``, and
``two_largest_share`` the same for its two largest (an operation split over more
flagged clusters than two is hard to act on as one); ``purity`` = its
flagged accounts divided by the total number of labelled accounts in those
clusters (1.0 when the clusters hold nobody else; null when nothing of ``o``
was flagged). The *hardest operator* is the one with the lowest recall (ties:
the larger operator, then the smaller ``operator_id``).

False positives: ``flagged_legitimate_by_kind`` counts the flagged legitimate
accounts per label ``kind`` (sorted by kind); ``flagged_legitimate_organisation``
counts those whose kind is ``organisation`` or ``automation`` (case-insensitive),
whose target is zero. ``flagged_clusters`` is the number of distinct
``cluster_id`` values among flagged labelled accounts, and
``flagged_clusters_all_legitimate`` those of them with no fraudulent member.

Undefined values
----------------
A ratio whose denominator is zero is **undefined**, reported as ``None``
(``null`` in JSON, ``n/a`` in text), never as 0 or 1 by convention: precision
when nothing is flagged, recall when there is no fraud, F1 when either is
undefined (F1 is 0.0 when both are defined and 0), and the B-cubed metrics,
ARI and NMI when ``E`` is empty. No input makes :func:`evaluate` divide by
zero.

Examples
--------
>>> import polars as pl
>>> from acctgraph.core import schema as S
>>> members = pl.DataFrame({S.ACCOUNT_ID: ["a", "b", "c", "d"],
...                         S.CLUSTER_ID: [1, 1, 1, None],
...                         S.FLAGGED: [True, True, True, False]})
>>> labels = pl.DataFrame({S.ACCOUNT_ID: ["a", "b", "c", "d"],
...                        S.OPERATOR_ID: ["op1", "op1", None, None],
...                        S.KIND: ["operator", "operator", "organisation", "individual"]})
>>> result = evaluate(members, labels)
>>> result.true_positives, result.false_positives, result.flagged_legitimate_organisation
(2, 1, 1)
>>> summary = result.to_dict()["accounts"]
>>> summary["precision"], summary["recall"], summary["f1"]
(0.666667, 1.0, 0.8)
>>> print(result.to_text().splitlines()[4])
  precision 0.6667  recall 1.0000  F1 0.8000
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from acctgraph.core import schema as S
from acctgraph.core.errors import InputError

ORGANISATION_KINDS = ("organisation", "automation")
"""Legitimate label kinds that must never be flagged (the project's target is zero)."""

UNSPECIFIED_KIND = "unspecified"
"""Kind reported for labelled accounts whose ``kind`` is null or absent."""

N_EXAMPLES = 5
"""How many example account ids each data-quality count carries."""

ROUND_DIGITS = 6

# Internal column names (never written out).
_PRED = "_predicted_cluster"
_TRUE = "_true_cluster"
_FRAUD = "_fraudulent"
_N = "_n"
_A = "_predicted_size"
_B = "_true_size"


@dataclass(frozen=True)
class OperatorResult:
    """How well one operator was found. See the module docstring for definitions."""

    operator_id: str
    size: int
    flagged: int
    recall: float
    clusters: int
    largest_share: float
    purity: float | None
    two_largest_share: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Plain dict in field order, floats rounded to 6 places."""
        return {f.name: _round(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Evaluation:
    """Every metric of one members table scored against one labels table.

    Ratios are ``None`` when undefined (zero denominator). Floats are exact;
    :meth:`to_dict` and :meth:`to_text` round them. See the module docstring
    for the precise definitions.
    """

    # population (labelled accounts)
    labelled_accounts: int
    fraudulent_accounts: int
    legitimate_accounts: int
    operator_count: int
    flagged_accounts: int
    flagged_clusters: int
    flagged_clusters_all_legitimate: int
    flagged_without_cluster: int
    # account level
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    precision: float | None
    recall: float | None
    f1: float | None
    # clustering over the evaluation set
    evaluation_set_size: int
    bcubed_precision: float | None
    bcubed_recall: float | None
    bcubed_f1: float | None
    adjusted_rand_index: float | None
    normalized_mutual_information: float | None
    # per operator
    operators: tuple[OperatorResult, ...]
    hardest_operator: str | None
    # false positives by label kind
    flagged_legitimate_by_kind: tuple[tuple[str, int], ...]
    flagged_legitimate_organisation: int
    # data quality
    member_rows: int
    label_rows: int
    missing_accounts: int
    unknown_accounts: int
    unknown_flagged_accounts: int
    duplicate_member_rows: int
    duplicate_label_rows: int
    null_account_id_rows: int
    missing_examples: tuple[str, ...] = ()
    unknown_examples: tuple[str, ...] = ()
    duplicate_examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: fixed key order, floats rounded to 6 places, ``None`` as null."""
        return {
            "population": {
                "labelled_accounts": self.labelled_accounts,
                "fraudulent_accounts": self.fraudulent_accounts,
                "legitimate_accounts": self.legitimate_accounts,
                "operators": self.operator_count,
                "flagged_accounts": self.flagged_accounts,
                "flagged_clusters": self.flagged_clusters,
                "flagged_clusters_all_legitimate": self.flagged_clusters_all_legitimate,
                "flagged_without_cluster": self.flagged_without_cluster,
            },
            "accounts": {
                "true_positives": self.true_positives,
                "false_positives": self.false_positives,
                "false_negatives": self.false_negatives,
                "true_negatives": self.true_negatives,
                "precision": _round(self.precision),
                "recall": _round(self.recall),
                "f1": _round(self.f1),
            },
            "clustering": {
                "evaluation_set_size": self.evaluation_set_size,
                "bcubed_precision": _round(self.bcubed_precision),
                "bcubed_recall": _round(self.bcubed_recall),
                "bcubed_f1": _round(self.bcubed_f1),
                "adjusted_rand_index": _round(self.adjusted_rand_index),
                "normalized_mutual_information": _round(self.normalized_mutual_information),
                "nmi_normalisation": "arithmetic",
            },
            "operators": [o.to_dict() for o in self.operators],
            "hardest_operator": self.hardest_operator,
            "flagged_legitimate_by_kind": dict(self.flagged_legitimate_by_kind),
            "flagged_legitimate_organisation": self.flagged_legitimate_organisation,
            "data_quality": {
                "member_rows": self.member_rows,
                "label_rows": self.label_rows,
                "missing_accounts": self.missing_accounts,
                "unknown_accounts": self.unknown_accounts,
                "unknown_flagged_accounts": self.unknown_flagged_accounts,
                "duplicate_member_rows": self.duplicate_member_rows,
                "duplicate_label_rows": self.duplicate_label_rows,
                "null_account_id_rows": self.null_account_id_rows,
                "missing_examples": list(self.missing_examples),
                "unknown_examples": list(self.unknown_examples),
                "duplicate_examples": list(self.duplicate_examples),
            },
        }

    def operators_table(self) -> pl.DataFrame:
        """The per-operator results as a frame sorted by ``operator_id``."""
        schema = {
            S.OPERATOR_ID: pl.String(),
            "size": pl.Int64(),
            "flagged": pl.Int64(),
            "recall": pl.Float64(),
            "clusters": pl.Int64(),
            "largest_share": pl.Float64(),
            "purity": pl.Float64(),
            "two_largest_share": pl.Float64(),
        }
        rows = [[getattr(o, f.name) for f in fields(o)] for o in self.operators]
        return pl.DataFrame(rows, schema=schema, orient="row")

    def to_text(self, *, max_operators: int = 20) -> str:
        """A readable multi-line summary for the terminal.

        Parameters
        ----------
        max_operators
            How many operators to list, hardest first (lowest recall, then the
            larger, then by ``operator_id``); the rest are summarised in one
            line. Every operator is in :meth:`to_dict` and :meth:`operators_table`.
        """
        lines = [
            "Accounts",
            f"  labelled {self.labelled_accounts}: fraudulent {self.fraudulent_accounts} "
            f"in {self.operator_count} operators, legitimate {self.legitimate_accounts}",
            f"  flagged {self.flagged_accounts} in {self.flagged_clusters} clusters "
            f"({self.flagged_clusters_all_legitimate} with no fraud at all)",
            f"  TP {self.true_positives}  FP {self.false_positives}  "
            f"FN {self.false_negatives}  TN {self.true_negatives}",
            f"  precision {_fmt(self.precision)}  recall {_fmt(self.recall)}  F1 {_fmt(self.f1)}",
            f"Clustering (over {self.evaluation_set_size} fraudulent or flagged accounts)",
            f"  B-cubed precision {_fmt(self.bcubed_precision)}  "
            f"recall {_fmt(self.bcubed_recall)}  F1 {_fmt(self.bcubed_f1)}",
            f"  ARI {_fmt(self.adjusted_rand_index)}  "
            f"NMI (arithmetic) {_fmt(self.normalized_mutual_information)}",
            f"Legitimate accounts flagged: {self.false_positives}",
        ]
        for kind, count in self.flagged_legitimate_by_kind:
            lines.append(f"  {kind}: {count}")
        lines.append(
            f"  organisation/automation accounts flagged: "
            f"{self.flagged_legitimate_organisation} (target 0)"
        )
        if self.operators:
            shown = sorted(self.operators, key=_difficulty)[: max(max_operators, 0)]
            lines.append(f"Operators ({len(self.operators)}; hardest first)")
            width = max([len("operator")] + [len(o.operator_id) for o in shown])
            lines.append(
                f"  {'operator':<{width}}  {'size':>6}  {'flagged':>7}  {'recall':>6}  "
                f"{'clusters':>8}  {'largest':>7}  {'top 2':>6}  {'purity':>6}"
            )
            for o in shown:
                lines.append(
                    f"  {o.operator_id:<{width}}  {o.size:>6}  {o.flagged:>7}  "
                    f"{_fmt(o.recall, 3):>6}  {o.clusters:>8}  {_fmt(o.largest_share, 3):>7}  "
                    f"{_fmt(o.two_largest_share, 3):>6}  {_fmt(o.purity, 3):>6}"
                )
            if len(self.operators) > len(shown):
                lines.append(f"  … {len(self.operators) - len(shown)} more")
            lines.append(f"  hardest operator: {self.hardest_operator}")
        problems = [
            (
                "missing accounts (labelled, not in members)",
                self.missing_accounts,
                self.missing_examples,
            ),
            (
                "unknown accounts (in members, not labelled)",
                self.unknown_accounts,
                self.unknown_examples,
            ),
            (
                "duplicate member rows (first by sorted order kept)",
                self.duplicate_member_rows,
                self.duplicate_examples,
            ),
            ("duplicate label rows (first by sorted order kept)", self.duplicate_label_rows, ()),
            ("rows with a null account_id (dropped)", self.null_account_id_rows, ()),
        ]
        reported = [(text, n, ex) for text, n, ex in problems if n]
        if reported:
            lines.append("Data quality")
            for text, count, examples in reported:
                suffix = f" e.g. {', '.join(examples)}" if examples else ""
                lines.append(f"  {text}: {count}{suffix}")
        return "\n".join(lines)


CLUSTER_SCOPES = ("flagged", "all")


def evaluate(
    members: pl.DataFrame, labels: pl.DataFrame, *, clusters: str = "flagged"
) -> Evaluation:
    """Score a members table against ground-truth labels.

    Parameters
    ----------
    members
        Detector output: ``account_id``, ``cluster_id`` (null = linked to no
        one; integer or string), ``flagged`` (bool), optionally
        ``cluster_score`` (used only to break ties between duplicate rows).
    labels
        Ground truth: ``account_id``, ``operator_id`` (null or blank =
        legitimate), optionally ``kind``.
    clusters
        ``"flagged"`` (default): the detector's claim, as in the module docstring.
        ``"all"``: the whole clustering, flagged or not: every member row counts as
        flagged, so each account's predicted cluster is its ``cluster_id`` (null: a
        singleton). This is record linkage's reading (which records are one
        person?), where ``operator_id`` names the true entity of every record.

    Returns
    -------
    Evaluation
        All metrics; see the module docstring for their exact definitions and
        for how duplicates, missing and unknown accounts are treated.

    Raises
    ------
    InputError
        A required column is absent or ``flagged`` is not boolean.

    Examples
    --------
    >>> import polars as pl
    >>> from acctgraph.core import schema as S
    >>> members = pl.DataFrame({S.ACCOUNT_ID: ["a", "b"], S.CLUSTER_ID: [None, None],
    ...                         S.FLAGGED: [False, False]})
    >>> labels = pl.DataFrame({S.ACCOUNT_ID: ["a", "b"], S.OPERATOR_ID: [None, ""]})
    >>> result = evaluate(members, labels)
    >>> result.precision is None, result.recall is None, result.true_negatives
    (True, True, 2)
    """
    if clusters not in CLUSTER_SCOPES:
        raise ValueError(f"clusters must be one of {CLUSTER_SCOPES}, got {clusters!r}")
    members_clean, member_info = _normalise_members(members)
    if clusters == "all":
        members_clean = members_clean.with_columns(pl.lit(True).alias(S.FLAGGED))
    labels_clean, label_info = _normalise_labels(labels)

    member_ids = members_clean.select(S.ACCOUNT_ID)
    label_ids = labels_clean.select(S.ACCOUNT_ID)
    missing = label_ids.join(member_ids, on=S.ACCOUNT_ID, how="anti").sort(S.ACCOUNT_ID)
    unknown = members_clean.join(label_ids, on=S.ACCOUNT_ID, how="anti").sort(S.ACCOUNT_ID)

    # One row per labelled account; missing accounts are unflagged and unlinked.
    table = (
        labels_clean.join(members_clean, on=S.ACCOUNT_ID, how="left")
        .with_columns(pl.col(S.FLAGGED).fill_null(False))
        .sort(S.ACCOUNT_ID)
        .with_columns(
            pl.col(S.OPERATOR_ID).is_not_null().alias(_FRAUD),
            pl.when(pl.col(S.FLAGGED) & pl.col(S.CLUSTER_ID).is_not_null())
            .then(pl.lit("c:") + pl.col(S.CLUSTER_ID))
            .otherwise(pl.lit("a:") + pl.col(S.ACCOUNT_ID))
            .alias(_PRED),
            pl.when(pl.col(S.OPERATOR_ID).is_not_null())
            .then(pl.lit("o:") + pl.col(S.OPERATOR_ID))
            .otherwise(pl.lit("a:") + pl.col(S.ACCOUNT_ID))
            .alias(_TRUE),
        )
    )

    fraud = table[_FRAUD].to_numpy()
    flagged = table[S.FLAGGED].to_numpy()
    true_positives = int(np.sum(fraud & flagged))
    false_positives = int(np.sum(~fraud & flagged))
    false_negatives = int(np.sum(fraud & ~flagged))
    true_negatives = int(np.sum(~fraud & ~flagged))
    precision = _ratio(true_positives, true_positives + false_positives)
    recall = _ratio(true_positives, true_positives + false_negatives)

    evaluation_set = table.filter(pl.col(_FRAUD) | pl.col(S.FLAGGED))
    cells = _contingency(evaluation_set)
    bcubed_precision, bcubed_recall = _bcubed(cells, evaluation_set.height)

    flagged_rows = table.filter(pl.col(S.FLAGGED))
    cluster_summary = (
        flagged_rows.filter(pl.col(S.CLUSTER_ID).is_not_null())
        .group_by(S.CLUSTER_ID)
        .agg(pl.col(_FRAUD).any().alias(_FRAUD))
    )
    legit_flagged = table.filter(pl.col(S.FLAGGED) & ~pl.col(_FRAUD))
    by_kind = legit_flagged.group_by(S.KIND).len(name=_N).sort(S.KIND).iter_rows()
    flagged_by_kind = tuple((str(kind), int(count)) for kind, count in by_kind)
    flagged_organisation = legit_flagged.filter(
        pl.col(S.KIND).str.to_lowercase().is_in(list(ORGANISATION_KINDS))
    ).height

    operators = _per_operator(table, cells)
    hardest = None
    if operators:
        hardest = min(operators, key=_difficulty).operator_id

    n_operators = table.filter(pl.col(_FRAUD)).select(pl.col(S.OPERATOR_ID).n_unique()).item()
    duplicates = member_info["duplicate_ids"]
    return Evaluation(
        labelled_accounts=table.height,
        fraudulent_accounts=int(fraud.sum()),
        legitimate_accounts=int((~fraud).sum()),
        operator_count=int(n_operators),
        flagged_accounts=int(flagged.sum()),
        flagged_clusters=cluster_summary.height,
        flagged_clusters_all_legitimate=cluster_summary.filter(~pl.col(_FRAUD)).height,
        flagged_without_cluster=flagged_rows.filter(pl.col(S.CLUSTER_ID).is_null()).height,
        true_positives=true_positives,
        false_positives=false_positives,
        false_negatives=false_negatives,
        true_negatives=true_negatives,
        precision=precision,
        recall=recall,
        f1=_harmonic_mean(precision, recall),
        evaluation_set_size=evaluation_set.height,
        bcubed_precision=bcubed_precision,
        bcubed_recall=bcubed_recall,
        bcubed_f1=_harmonic_mean(bcubed_precision, bcubed_recall),
        adjusted_rand_index=_adjusted_rand_index(cells, evaluation_set.height),
        normalized_mutual_information=_normalized_mutual_information(cells, evaluation_set.height),
        operators=operators,
        hardest_operator=hardest,
        flagged_legitimate_by_kind=flagged_by_kind,
        flagged_legitimate_organisation=flagged_organisation,
        member_rows=members.height,
        label_rows=labels.height,
        missing_accounts=missing.height,
        unknown_accounts=unknown.height,
        unknown_flagged_accounts=unknown.filter(pl.col(S.FLAGGED)).height,
        duplicate_member_rows=member_info["duplicate_rows"],
        duplicate_label_rows=label_info["duplicate_rows"],
        null_account_id_rows=member_info["null_ids"] + label_info["null_ids"],
        missing_examples=tuple(missing[S.ACCOUNT_ID].head(N_EXAMPLES).to_list()),
        unknown_examples=tuple(unknown[S.ACCOUNT_ID].head(N_EXAMPLES).to_list()),
        duplicate_examples=tuple(duplicates[:N_EXAMPLES]),
    )


# --- input normalisation --------------------------------------------------


def _require(frame: pl.DataFrame, columns: Sequence[str], table: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise InputError(
            f"the {table} table lacks required column(s) {absent}; it has {list(frame.columns)}",
            column=absent[0],
        )


def _as_string(column: str) -> pl.Expr:
    """Cast to string; blank strings become null."""
    text = pl.col(column).cast(pl.String)
    return pl.when(text.str.strip_chars() == "").then(None).otherwise(text).alias(column)


def _deduplicate(frame: pl.DataFrame, sort_by: Sequence[str]) -> tuple[pl.DataFrame, dict]:
    """Drop null ids, keep the first row per account by sorted order; count both."""
    null_ids = frame.filter(pl.col(S.ACCOUNT_ID).is_null()).height
    ordered = frame.filter(pl.col(S.ACCOUNT_ID).is_not_null()).sort(list(sort_by), nulls_last=True)
    first = ordered.select(pl.col(S.ACCOUNT_ID).is_first_distinct()).to_series()
    duplicate_ids = (
        ordered.filter(~first).select(pl.col(S.ACCOUNT_ID).unique()).to_series().sort().to_list()
    )
    kept = ordered.filter(first)
    info = {
        "null_ids": null_ids,
        "duplicate_rows": ordered.height - kept.height,
        "duplicate_ids": duplicate_ids,
    }
    return kept, info


def _normalise_members(members: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    _require(members, S.MEMBERS_REQUIRED, S.MEMBERS)
    flagged_type = members.schema[S.FLAGGED]
    if flagged_type != pl.Boolean and flagged_type != pl.Null:
        raise InputError(
            f"flagged must be boolean, got {flagged_type}",
            column=S.FLAGGED,
            examples=members[S.FLAGGED].head(N_EXAMPLES).to_list(),
        )
    score = (
        pl.col(S.CLUSTER_SCORE).cast(pl.Float64)
        if S.CLUSTER_SCORE in members.columns
        else pl.lit(None, dtype=pl.Float64).alias(S.CLUSTER_SCORE)
    )
    frame = members.select(
        _as_string(S.ACCOUNT_ID),
        _as_string(S.CLUSTER_ID),
        pl.col(S.FLAGGED).cast(pl.Boolean).fill_null(False),
        score,
    )
    return _deduplicate(frame, [S.ACCOUNT_ID, S.CLUSTER_ID, S.FLAGGED, S.CLUSTER_SCORE])


def _normalise_labels(labels: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    _require(labels, S.LABELS_REQUIRED, S.LABELS)
    kind = (
        pl.col(S.KIND).cast(pl.String).fill_null(UNSPECIFIED_KIND)
        if S.KIND in labels.columns
        else pl.lit(UNSPECIFIED_KIND).alias(S.KIND)
    )
    frame = labels.select(_as_string(S.ACCOUNT_ID), _as_string(S.OPERATOR_ID), kind)
    return _deduplicate(frame, [S.ACCOUNT_ID, S.OPERATOR_ID, S.KIND])


# --- metrics from the contingency table -----------------------------------


def _contingency(evaluation_set: pl.DataFrame) -> pl.DataFrame:
    """Non-zero cells ``(pred, true, n)`` with the marginal sizes ``a`` and ``b``, sorted."""
    cells = evaluation_set.group_by(_PRED, _TRUE).len(name=_N)
    return (
        cells.with_columns(
            pl.col(_N).sum().over(_PRED).alias(_A),
            pl.col(_N).sum().over(_TRUE).alias(_B),
        )
        .cast({_N: pl.Int64, _A: pl.Int64, _B: pl.Int64})
        .sort(_PRED, _TRUE)
    )


def _bcubed(cells: pl.DataFrame, total: int) -> tuple[float | None, float | None]:
    if total == 0:
        return None, None
    n = cells[_N].to_numpy().astype(np.float64)
    precision = math.fsum(n * n / cells[_A].to_numpy()) / total
    recall = math.fsum(n * n / cells[_B].to_numpy()) / total
    return precision, recall


def _pairs(counts: np.ndarray) -> int:
    """Σ C(k, 2) over ``counts`` as an exact Python integer."""
    return sum(int(k) * (int(k) - 1) // 2 for k in counts)


def _marginals(cells: pl.DataFrame, key: str, size: str) -> np.ndarray:
    return cells.select(key, size).unique(key)[size].to_numpy()


def _adjusted_rand_index(cells: pl.DataFrame, total: int) -> float | None:
    """ARI from pair counts, in exact integers (same limit cases as scikit-learn)."""
    if total == 0:
        return None
    together_both = _pairs(cells[_N].to_numpy())
    together_pred = _pairs(_marginals(cells, _PRED, _A))
    together_true = _pairs(_marginals(cells, _TRUE, _B))
    all_pairs = total * (total - 1) // 2
    false_pos = together_pred - together_both
    false_neg = together_true - together_both
    true_neg = all_pairs - together_pred - together_true + together_both
    if false_pos == 0 and false_neg == 0:
        return 1.0
    numerator = 2 * (together_both * true_neg - false_neg * false_pos)
    denominator = (together_both + false_neg) * (false_neg + true_neg) + (
        together_both + false_pos
    ) * (false_pos + true_neg)
    return numerator / denominator


def _entropy(sizes: np.ndarray, total: int) -> float:
    p = sizes.astype(np.float64) / total
    return -math.fsum(p * np.log(p))


def _normalized_mutual_information(cells: pl.DataFrame, total: int) -> float | None:
    """NMI with the arithmetic-mean normaliser (same limit cases as scikit-learn)."""
    if total == 0:
        return None
    pred_sizes = _marginals(cells, _PRED, _A)
    true_sizes = _marginals(cells, _TRUE, _B)
    if len(pred_sizes) == 1 and len(true_sizes) == 1:
        return 1.0
    if len(pred_sizes) == 1 or len(true_sizes) == 1:
        return 0.0
    n = cells[_N].to_numpy().astype(np.float64)
    a = cells[_A].to_numpy().astype(np.float64)
    b = cells[_B].to_numpy().astype(np.float64)
    mutual_information = max(0.0, math.fsum(n / total * np.log(n * total / (a * b))))
    if mutual_information == 0.0:
        return 0.0
    normaliser = (_entropy(pred_sizes, total) + _entropy(true_sizes, total)) / 2
    return min(1.0, mutual_information / normaliser)


def _per_operator(table: pl.DataFrame, cells: pl.DataFrame) -> tuple[OperatorResult, ...]:
    sizes = table.filter(pl.col(_FRAUD)).group_by(S.OPERATOR_ID).len(name="size")
    cluster_sizes = cells.select(_PRED, _A).unique(_PRED)
    found = (
        table.filter(pl.col(_FRAUD) & pl.col(S.FLAGGED))
        .group_by(S.OPERATOR_ID, _PRED)
        .len(name=_N)
        .join(cluster_sizes, on=_PRED, how="left")
        .group_by(S.OPERATOR_ID)
        .agg(
            pl.col(_N).sum().alias("flagged"),
            pl.len().alias("clusters"),
            pl.col(_N).max().alias("largest"),
            pl.col(_N).top_k(2).sum().alias("two_largest"),
            pl.col(_A).sum().alias("cluster_members"),
        )
    )
    rows = (
        sizes.join(found, on=S.OPERATOR_ID, how="left")
        .fill_null(0)
        .sort(S.OPERATOR_ID)
        .iter_rows(named=True)
    )
    results = []
    for row in rows:
        size, flagged = int(row["size"]), int(row["flagged"])
        results.append(
            OperatorResult(
                operator_id=row[S.OPERATOR_ID],
                size=size,
                flagged=flagged,
                recall=flagged / size,
                clusters=int(row["clusters"]),
                largest_share=int(row["largest"]) / size,
                purity=_ratio(flagged, int(row["cluster_members"])),
                two_largest_share=int(row["two_largest"]) / size,
            )
        )
    return tuple(results)


# --- small helpers --------------------------------------------------------


def _difficulty(operator: OperatorResult) -> tuple[float, int, str]:
    """Sort key: lowest recall first, then the larger operator, then by id."""
    return operator.recall, -operator.size, operator.operator_id


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _harmonic_mean(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    if p + r == 0:
        return 0.0
    return 2 * p * r / (p + r)


def _round(value: object) -> object:
    if isinstance(value, float):
        return round(value, ROUND_DIGITS)
    return value


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
