"""Evidence cards: per cluster, everything an investigator reads, as tables computed once.

A card is data, not prose. :func:`compute_cards` reads a finished run
(:func:`acctgraph.runfolder.load_run`) and builds a few small tables keyed by
``cluster_id``; :func:`write_cards` stores them in ``OUT/cards/*.parquet`` and
``OUT/cards.json``. The report, the JSON and notebooks render these tables
(:func:`load_cards`) and never recompute them.

Cards are made for every flagged cluster and for the ``top_clusters``
highest-scoring others (:class:`CardParams`), so their size stays bounded
whatever the number of clusters. The tables:

=================  ===========================================================
table              one row per
=================  ===========================================================
``clusters``       carded cluster: the ``clusters`` row plus why it is carded
                   and headline behaviour figures (signup span and largest
                   burst, median account age at first activity, exchanges per
                   account per active day, share in the top templates)
``kinds``          cluster × attribute kind: shared values, largest holding,
                   and the kind's share of the ``evidence`` signal
``values``         cluster × shared value (the top ``values_per_kind`` per kind
                   of the evidence table, unchanged)
``signals``        cluster × signal: the contributions table, unchanged
``signups``        cluster × signup bin (hour, day, week or month, chosen per
                   cluster from its signup span): accounts created
``ages``           cluster × age bin: account age at first activity
``daily``          cluster × day: exchanges and active accounts
``hours``          cluster × hour of day (all 24, zero-filled): exchanges
``capabilities``   cluster × capability (coding, agentic, reasoning, other)
``templates``      cluster × top prompt template band: accounts, sampled
                   bands, share of the cluster's sampled bands
``samples``        cluster × template × example: up to
                   ``samples_per_template`` raw prompts from distinct accounts
``members``        cluster × account (the first ``members`` by creation time)
``comparisons``    cluster × declared accounts column compared by record
                   linkage (:mod:`~acctgraph.cards.linkage`): linked pairs
                   agreeing exactly, closely or not, mean bits, the closest
                   non-exact agreement (empty when no column is declared)
=================  ===========================================================

Two tables need the raw inputs, which a run folder does not hold; the run
writes them with :func:`write_template_samples` into ``profiles/``
(``cluster_templates`` and ``template_samples``). Without them (a run folder
from an older acctgraph) the template tables are empty.

Modules: :mod:`~acctgraph.cards.model` (column names, :class:`CardParams`,
:class:`Cards`, :func:`carded_clusters`), :mod:`~acctgraph.cards.prompts`
(written during the run) and :mod:`~acctgraph.cards.compute` (from a run
folder).

Every value is raw, as in the Parquet outputs; escaping for display is the
business of the views (:mod:`acctgraph.report.document`).

Examples
--------
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> from acctgraph import run_pipeline, write_outputs
>>> from acctgraph.runfolder import load_run
>>> import tempfile
>>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
>>> out = tempfile.mkdtemp()
>>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
>>> cards = load_cards(load_run(out))          # written by the run into OUT/cards/
>>> cards.clusters.equals(compute_cards(load_run(out)).clusters)
True
>>> first = cards.card("op-000001")
>>> first["cluster_id"], len(first["hours"])
('op-000001', 24)
>>> sum(row["n_events"] for row in first["hours"]) == first["exchanges"]
True
"""

from acctgraph.cards.compute import compute_cards, load_cards, write_cards
from acctgraph.cards.model import (
    AGE_BINS,
    CARDS_DIR,
    CARDS_JSON,
    CLUSTER_TEMPLATES,
    SIGNUP_BINS,
    TABLES,
    TEMPLATE_SAMPLES,
    CardParams,
    Cards,
    carded_clusters,
)
from acctgraph.cards.prompts import (
    cluster_templates,
    template_holders,
    template_samples,
    write_template_samples,
)

__all__ = [
    "AGE_BINS",
    "CARDS_DIR",
    "CARDS_JSON",
    "CLUSTER_TEMPLATES",
    "SIGNUP_BINS",
    "TABLES",
    "TEMPLATE_SAMPLES",
    "CardParams",
    "Cards",
    "carded_clusters",
    "cluster_templates",
    "compute_cards",
    "load_cards",
    "template_holders",
    "template_samples",
    "write_cards",
    "write_template_samples",
]
