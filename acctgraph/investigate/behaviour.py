"""Behaviour profiles of a finished run's accounts: what each account does, compared with seeds.

A careful operation shares no card, device or address of its own; its accounts
are alike in what they do (:mod:`acctgraph.cluster.cohort`). This module
rebuilds, from a run folder alone, the profiles the cohort stage compares, so
that ``expand`` can rank accounts by behaviour and ``explain`` can show an
account's own figures:

- **template shares**: an account's share of its sampled prompts on each
  template value held by at least ``min_holders`` accounts, hubs included:
  ``n_events / min(n_exchanges, max_per_account)`` (``max_per_account`` of the
  run's ``prompt_template`` feature);
- **hours**: exchanges per bin of ``hour_bin`` hours of the day (UTC), square
  roots of the counts;
- **IP ranges**: exchanges per shared IP range, square roots of the counts
  (the run folder keeps only ranges held by two or more accounts, so an
  account's unshared ranges are absent; the cohort stage sees them);
- **capability mix**: sampled prompts aimed at coding, agentic tool use,
  step-by-step reasoning, or other.

The similarity of two accounts is the cohort stage's: the cosine of their
template shares times the weighted mean (``weights``) of the hours, IP range
and capability cosines. With ``specificity_power`` above 0 (expansion's
default, not the cohort stage's), each template value's share is first
multiplied by ``log(accounts / holders) ** specificity_power``: two accounts
that favour the same rarely held prompt are more alike than two that favour a
public prompt thousands send. Its parameters are read from the run's
``run.json`` (``parameters["cohort"]``), or :class:`~acctgraph.cluster.cohort.CohortParams`
defaults for runs written before cohorts existed. The template cosine is 0
for two accounts without a common template value, so comparing seeds with
every account costs ``seeds × (accounts holding one of the seeds' values)``,
never all pairs.

Examples
--------
>>> import numpy as np
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> from acctgraph import run_pipeline, write_outputs
>>> from acctgraph.runfolder import load_run
>>> import tempfile
>>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
>>> out = tempfile.mkdtemp()
>>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
>>> profiles = BehaviourProfiles.from_run(load_run(out))
>>> similarity = profiles.similarity(np.array([0, 1]))
>>> similarity.shape == (2, profiles.n_accounts), bool(((similarity >= 0) & (similarity <= 1 + 1e-9)).all())
(True, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from acctgraph.cluster.cohort import PARTS, CohortParams, hours_active
from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features.base import HOUR, N_EXCHANGES
from acctgraph.features.kinds import IpRange, PromptTemplate
from acctgraph.features.prompt import AGENTIC, CODING, REASONING
from acctgraph.graph.build import ACCOUNT_INDEX, N_ACCOUNTS, VALUE_INDEX
from acctgraph.runfolder import Run

#: The capability columns of the run's account profiles, in matrix column order.
CAPABILITIES = (CODING, AGENTIC, REASONING, "other")
#: The parts of the profile, in the order the similarity reads them.
PROFILE_PARTS = ("template", *PARTS)


def cohort_params(run: Run) -> CohortParams:
    """The cohort parameters the run recorded; defaults for any it does not (older runs).

    Examples
    --------
    >>> class OldRun:
    ...     record = {"parameters": {}}
    >>> cohort_params(OldRun()).hour_bin == CohortParams().hour_bin
    True
    """
    recorded = run.record.get("parameters", {}).get("cohort", {}) or {}
    known = {f.name for f in dataclasses.fields(CohortParams) if f.init}
    return CohortParams(**{k: v for k, v in recorded.items() if k in known})


def template_sample_size(run: Run) -> int:
    """Prompts sampled per account by the run's template reduction (``max_per_account``).

    Examples
    --------
    >>> class OldRun:
    ...     record = {"parameters": {}}
    >>> template_sample_size(OldRun()) == PromptTemplate().max_per_account
    True
    """
    features: dict[str, Any] = run.record.get("parameters", {}).get("features", {}) or {}
    recorded = (features.get(PromptTemplate.kind) or {}).get("max_per_account")
    return int(recorded) if recorded else PromptTemplate().max_per_account


def _normalised(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def _matrix(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix((data.astype(np.float64), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


@dataclass(frozen=True)
class BehaviourProfiles:
    """Every account's behaviour profile (rows = account index of the run's graph).

    Attributes
    ----------
    params
        The cohort parameters the similarity uses (weights, hour bin, min holders).
    specificity_power
        Exponent of the ``log(accounts / holders)`` weight of each template
        value (0: the cohort stage's plain shares).
    sample_size
        Prompts sampled per account (a share's denominator is
        ``min(n_exchanges, sample_size)``).
    shares
        Template shares, accounts × value index (raw shares, not normalised).
    hours
        Exchanges per hour of the day (24 columns, raw counts).
    ip_ranges
        Exchanges per IP range value, accounts × value index (raw counts).
    capability
        Sampled prompts per capability (:data:`CAPABILITIES`, raw counts).
    unit
        Row-normalised profile part by name (:data:`PROFILE_PARTS`), as compared.
    """

    params: CohortParams
    specificity_power: float
    sample_size: int
    shares: sparse.csr_matrix
    hours: sparse.csr_matrix
    ip_ranges: sparse.csr_matrix
    capability: sparse.csr_matrix
    unit: dict[str, sparse.csr_matrix]

    @property
    def n_accounts(self) -> int:
        """Accounts (rows)."""
        return int(self.shares.shape[0])

    @classmethod
    def from_run(
        cls, run: Run, *, params: CohortParams | None = None, specificity_power: float = 0.0
    ) -> BehaviourProfiles:
        """Build the profiles from a finished run folder (see the module docstring).

        Parameters
        ----------
        run
            The run.
        params
            Cohort parameters to compare with; default: the run's (:func:`cohort_params`).
        specificity_power
            Exponent of each template value's ``log(accounts / holders)``
            weight; non-negative, default 0 (the cohort stage's similarity).

        Raises
        ------
        ConfigError
            If ``specificity_power`` is negative.
        """
        if specificity_power < 0:
            raise ConfigError(
                f"behaviour specificity_power must be non-negative, got {specificity_power}"
            )
        params = params if params is not None else cohort_params(run)
        sample_size = template_sample_size(run)
        n = run.graph_accounts.height
        n_values = run.values.height
        ids = run.graph_accounts.select(pl.col(ACCOUNT_INDEX).cast(pl.Int64), pl.col(S.ACCOUNT_ID))
        activity = run.profile_accounts.join(ids, on=S.ACCOUNT_ID).sort(ACCOUNT_INDEX)
        exchanges = activity.select(ACCOUNT_INDEX, pl.col(N_EXCHANGES).cast(pl.Float64))
        kinds = run.values.select(VALUE_INDEX, S.ATTRIBUTE_KIND, N_ACCOUNTS)
        incidence = run.incidence.select(
            pl.col(ACCOUNT_INDEX).cast(pl.Int64), VALUE_INDEX, S.N_EVENTS
        ).join(kinds, on=VALUE_INDEX)

        templates = (
            incidence.filter(
                (pl.col(S.ATTRIBUTE_KIND) == PromptTemplate.kind)
                & (pl.col(N_ACCOUNTS) >= params.min_holders)
            )
            .join(exchanges.filter(pl.col(N_EXCHANGES) >= 1), on=ACCOUNT_INDEX)
            .with_columns(
                (
                    pl.col(S.N_EVENTS)
                    / pl.min_horizontal(pl.col(N_EXCHANGES), pl.lit(float(sample_size)))
                )
                .clip(0.0, 1.0)
                .alias("_share")
            )
        )
        shares = _matrix(
            templates[ACCOUNT_INDEX].to_numpy(),
            templates[VALUE_INDEX].to_numpy().astype(np.int64),
            templates["_share"].to_numpy(),
            (n, n_values),
        )
        ranges = incidence.filter(pl.col(S.ATTRIBUTE_KIND) == IpRange.kind)
        ip_ranges = _matrix(
            ranges[ACCOUNT_INDEX].to_numpy(),
            ranges[VALUE_INDEX].to_numpy().astype(np.int64),
            ranges[S.N_EVENTS].to_numpy(),
            (n, n_values),
        )
        hours_table = run.hours.join(ids, on=S.ACCOUNT_ID)
        hours = _matrix(
            hours_table[ACCOUNT_INDEX].to_numpy(),
            hours_table[HOUR].cast(pl.Int64).to_numpy(),
            hours_table[S.N_EVENTS].to_numpy(),
            (n, 24),
        )
        capability = _matrix(
            np.repeat(activity[ACCOUNT_INDEX].to_numpy(), len(CAPABILITIES)),
            np.tile(np.arange(len(CAPABILITIES)), activity.height),
            activity.select([pl.col(f"n_{c}").fill_null(0).cast(pl.Float64) for c in CAPABILITIES])
            .to_numpy()
            .ravel(),
            (n, len(CAPABILITIES)),
        )
        binned = _matrix(
            np.arange(24),
            np.arange(24) // params.hour_bin,
            np.ones(24),
            (24, 24 // params.hour_bin),
        )
        holders = np.maximum(run.values[N_ACCOUNTS].to_numpy().astype(np.float64), 1.0)
        specificity = np.clip(np.log(max(n, 1) / holders), 0.0, None) ** specificity_power
        unit = {
            "template": _normalised(sparse.csr_matrix(shares @ sparse.diags(specificity))),
            "hours": _normalised(sparse.csr_matrix((hours @ binned).sqrt())),
            "ip": _normalised(sparse.csr_matrix(ip_ranges.sqrt())),
            "capability": _normalised(capability),
        }
        return cls(
            params=params,
            specificity_power=specificity_power,
            sample_size=sample_size,
            shares=shares,
            hours=hours,
            ip_ranges=ip_ranges,
            capability=capability,
            unit=unit,
        )

    def similarity(self, rows: np.ndarray) -> np.ndarray:
        """The cohort similarity between ``rows`` (account indices) and every account.

        Template cosine × the weighted mean (``params.weights``) of the hours,
        IP range and capability cosines; ``len(rows) × n_accounts``. The
        corroborating cosines are computed only for the accounts holding one of
        the rows' template values (the others' similarity is 0).
        """
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), self.n_accounts))
        template = self.unit["template"]
        cosine = sparse.csr_matrix(template[rows] @ template.T)
        columns = np.unique(cosine.indices)
        if not len(columns):
            return out
        corroborating = np.zeros((len(rows), len(columns)))
        for name in PARTS:
            weight = self.params.weights[name]
            if weight:
                matrix = self.unit[name]
                corroborating += weight * (matrix[rows] @ matrix[columns].T).toarray()
        out[:, columns] = cosine[:, columns].toarray() * corroborating
        return out

    def centroid_cosines(self, rows: np.ndarray, others: np.ndarray) -> dict[str, np.ndarray]:
        """Cosine of each part between the centroid of ``rows`` and each of ``others``."""
        rows = np.asarray(rows, dtype=np.int64)
        others = np.asarray(others, dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        for name, matrix in self.unit.items():
            centroid = _normalised(sparse.csr_matrix(matrix[rows].sum(axis=0)))
            out[name] = np.asarray((matrix[others] @ centroid.T).todense()).ravel()
        return out


def behaviour_scores(profiles: BehaviourProfiles, seeds: np.ndarray, *, top_k: int) -> np.ndarray:
    """Each account's behaviour score from ``seeds``: the mean of its ``top_k`` highest
    similarities to individual seeds (all seeds when there are fewer).

    The mean of the best few, not of all, so that seeds of two operations each
    pull their own accounts up; more than one, so that one seed's chance
    resemblance does not decide alone.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    if not len(seeds):
        return np.zeros(profiles.n_accounts)
    similarity = profiles.similarity(seeds)
    k = min(top_k, len(seeds))
    best = -np.sort(-similarity, axis=0)[:k]
    return np.asarray(best.mean(axis=0))


def behaviour_evidence(
    profiles: BehaviourProfiles, seeds: np.ndarray, candidates: np.ndarray
) -> pl.DataFrame:
    """What makes each candidate behave like the seeds, as figures.

    Returns ``account_index, behaviour_value_index`` (the template value that
    adds most to the candidate's template cosine with the seeds' centroid;
    null when it shares none), ``prompt_share`` (the candidate's share of its
    sampled prompts on that value), ``seeds_prompt_share`` (the seeds' mean
    share), ``hours_cosine`` (hour-of-day profile against the seeds' pooled
    profile, in bins of ``hour_bin`` hours) and ``ip_ranges_with_seeds`` (IP
    ranges it shares with at least one seed), one row per candidate in the
    given order.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    candidates = np.asarray(candidates, dtype=np.int64)
    centroid = np.asarray(profiles.unit["template"][seeds].sum(axis=0)).ravel()
    weighted = profiles.unit["template"][candidates].multiply(centroid).tocsr()
    best: list[int | None] = []
    for row in range(len(candidates)):
        start, stop = weighted.indptr[row], weighted.indptr[row + 1]
        data, columns = weighted.data[start:stop], weighted.indices[start:stop]
        if not len(data) or data.max() <= 0:
            best.append(None)
            continue
        top = np.flatnonzero(data == data.max())
        best.append(int(columns[top].min()))  # ties: the smallest value index
    seed_shares = np.asarray(profiles.shares[seeds].mean(axis=0)).ravel()
    own = [
        float(profiles.shares[c, b]) if b is not None else 0.0
        for c, b in zip(candidates.tolist(), best)
    ]
    hours = profiles.centroid_cosines(seeds, candidates)["hours"]
    seed_ranges = np.asarray((profiles.ip_ranges[seeds] > 0).sum(axis=0)).ravel() > 0
    shared_ranges = np.asarray(
        (profiles.ip_ranges[candidates] > 0).astype(np.int64) @ seed_ranges.astype(np.int64)
    ).ravel()
    return pl.DataFrame(
        {
            ACCOUNT_INDEX: candidates,
            "behaviour_value_index": pl.Series(best, dtype=pl.Int64),
            "prompt_share": own,
            "seeds_prompt_share": [float(seed_shares[b]) if b is not None else 0.0 for b in best],
            "hours_cosine": hours.astype(np.float64),
            "ip_ranges_with_seeds": shared_ranges.astype(np.int64),
        },
        schema={
            ACCOUNT_INDEX: pl.Int64,
            "behaviour_value_index": pl.Int64,
            "prompt_share": pl.Float64,
            "seeds_prompt_share": pl.Float64,
            "hours_cosine": pl.Float64,
            "ip_ranges_with_seeds": pl.Int64,
        },
    )


def account_behaviour(run: Run, account_id: str, *, signature: str | None = None) -> dict[str, Any]:
    """One account's own behaviour figures, read from the run folder (no profile matrices).

    Returns ``n_exchanges``, ``sampled_prompts`` (``min(n_exchanges,
    max_per_account)``), ``signature_share`` (its share of sampled prompts on
    ``signature``, a template value; null without one), ``top_prompt`` and
    ``top_prompt_share`` (its most-sent template value held by at least
    ``min_holders`` accounts, ties: the smallest value), ``hours_active``
    (hours of the day, UTC, holding at least 1% of its exchanges, as the
    cohort table counts them) and ``capability_share`` (coding, agentic or
    reasoning share of its sampled prompts).

    Examples
    --------
    >>> import polars as pl, tempfile
    >>> from acctgraph.load import dataset_from_frames
    >>> from acctgraph import run_pipeline, write_outputs
    >>> from acctgraph.runfolder import load_run
    >>> accounts = pl.DataFrame({"account_id": ["a", "b"], "payment_fingerprint": ["c1", "c1"]})
    >>> exchanges = pl.DataFrame({"account_id": ["a", "a", "b"],
    ...     "timestamp": [1776852000, 1776855600, 1776852000]})
    >>> out = tempfile.mkdtemp()
    >>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    >>> figures = account_behaviour(load_run(out), "a")
    >>> figures["n_exchanges"], figures["hours_active"], figures["top_prompt"]
    (2, 2, None)
    """
    params = cohort_params(run)
    sample_size = template_sample_size(run)
    profile = run.profile_accounts.filter(pl.col(S.ACCOUNT_ID) == account_id)
    counts = profile.row(0, named=True) if profile.height else {N_EXCHANGES: 0}
    n_exchanges = int(counts.get(N_EXCHANGES) or 0)
    sampled = min(n_exchanges, sample_size)
    index = run.graph_accounts.filter(pl.col(S.ACCOUNT_ID) == account_id)[ACCOUNT_INDEX]
    held = (
        run.incidence.filter(pl.col(ACCOUNT_INDEX).is_in(index.to_list()))
        .join(run.values.select(VALUE_INDEX, S.ATTRIBUTE_KIND, S.VALUE, N_ACCOUNTS), on=VALUE_INDEX)
        .filter(
            (pl.col(S.ATTRIBUTE_KIND) == PromptTemplate.kind)
            & (pl.col(N_ACCOUNTS) >= params.min_holders)
        )
        .with_columns((pl.col(S.N_EVENTS) / max(sampled, 1)).clip(0.0, 1.0).alias("_share"))
        .sort(["_share", S.VALUE], descending=[True, False])
    )
    signature_share = None
    if signature is not None:
        found = held.filter(pl.col(S.VALUE) == signature)
        signature_share = float(found["_share"][0]) if found.height else 0.0
    active = hours_active(run.hours.filter(pl.col(S.ACCOUNT_ID) == account_id))
    capability = {c: int(counts.get(f"n_{c}") or 0) for c in CAPABILITIES}
    prompts = sum(capability.values())
    capable = capability[CODING] + capability[AGENTIC] + capability[REASONING]
    return {
        N_EXCHANGES: n_exchanges,
        "sampled_prompts": sampled,
        "signature_share": None if signature_share is None else round(signature_share, 6),
        "top_prompt": held[S.VALUE][0] if held.height else None,
        "top_prompt_share": round(float(held["_share"][0]), 6) if held.height else None,
        "hours_active": active,
        "capability_share": round(capable / prompts, 6) if prompts else None,
    }
