# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # acctgraph quickstart: from accounts and requests to the operations behind them
#
# **acctgraph finds the operations behind fake accounts.** It reads an AI API provider's
# account table and request log (the *exchanges*) and
#
# 1. **links accounts through the values they share**: payment fingerprints, devices, IP
#    addresses and ranges, email shapes, prompt templates, signup bursts, co-activity;
# 2. **builds a weighted graph of accounts**, discounting values that crowds share honestly
#    (a carrier's NAT, a VPN exit, a popular phrasing);
# 3. **finds clusters** of accounts run by one operator with Leiden community detection;
# 4. **scores each cluster** as a sum of named signals (fresh accounts, signup bursts,
#    round-the-clock volume, scripted templates, …) and flags the likely operations,
#    with the evidence an investigator can read, check and cite.
#
# Precision comes first: families, offices and legitimate automation share infrastructure
# too, and acctgraph is built not to flag them.
#
# This notebook runs every stage, one at a time, on the bundled sample (`data/sample/`:
# 20,000 simulated accounts, 300,000 exchanges, 7 planted operators), looks at the top
# clusters and opens one cluster's graph. It takes about 15 seconds.
#
# Next: [02 investigate a cluster](02_investigate_a_cluster.ipynb) ·
# [03 from known-bad accounts](03_from_known_bad_accounts.ipynb) ·
# [04 tuning and evaluation](04_tuning_and_evaluation.ipynb)

# %%
import os
from pathlib import Path

import polars as pl

from acctgraph import (
    Config, attach_unlinked, build_graph, detach_thin_members, detect_communities, evaluate,
    find_cohorts, load_dataset, load_labels, load_run, merge_by_behaviour, run_and_write,
    score_clusters, split_by_behaviour,
)
from acctgraph.features import attribute_table, compute_usage
from acctgraph.viz import show_cluster

pl.Config.set_tbl_rows(12)
pl.Config.set_fmt_str_lengths(120)
# The repository root, whether Jupyter started in it or in notebooks/; outputs go to out/notebooks/.
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "data" / "sample").is_dir())
SAMPLE = ROOT / "data" / "sample"
OUT = Path(os.environ.get("ACCTGRAPH_NOTEBOOK_OUT", ROOT / "out" / "notebooks"))

# %% [markdown]
# ## 1. Load
#
# `load_dataset` reads `accounts.*` and `exchanges.*` (CSV, Parquet or NDJSON), validates
# them against the data contract (`docs/data-contract.md`) and keeps the exchanges lazy, so
# that a request log of tens of millions of rows streams. Every default in one place:
# `Config()`, the same object a `--config acctgraph.toml` file fills in.

# %%
config = Config()
dataset = load_dataset(SAMPLE)
dataset.accounts.select("account_id", "created_at", "email", "payment_fingerprint", "device_id", "country").head()

# %% [markdown]
# Bad optional values (malformed IPs, unparseable dates) count as missing and are counted,
# never dropped silently:

# %%
pl.DataFrame(dataset.warnings.as_records()).select("code", "count", "message")

# %% [markdown]
# ## 2. Reduce the exchanges, once
#
# The only pass over the exchanges: streaming group-bys turn them into small per-account
# tables (IP usage, prompt template bands, co-activity windows, behaviour figures).

# %%
usage = compute_usage(dataset, prompt=config.feature("prompt_template"), co_activity=config.feature("co_activity"))
usage.activity.sort("n_exchanges", descending=True).head()

# %% [markdown]
# ## 3. Attributes: one long table of shared values
#
# Each attribute kind is a small declarative class (`config.features`), switchable and
# re-weightable. Together they give one row per (account, kind, value).

# %%
attributes = attribute_table(usage, config.features)
attributes.group_by("attribute_kind").agg(
    pl.len().alias("rows"), pl.col("value").n_unique().alias("distinct_values")
).sort("attribute_kind")

# %% [markdown]
# ## 4. The account graph
#
# Two accounts are linked by what they share, each shared value discounted by how many
# accounts hold it. Hubs (values held by more accounts than their kind's `hub_cap`) are
# linked sparsely or dropped, and listed; infrastructure (addresses, ranges, co-activity)
# only corroborates other evidence.

# %%
graph = build_graph(
    attributes, weights=config.weights, hub_caps=config.hub_caps, similarities=config.similarities,
    infrastructure=config.infrastructure, alphas=config.alphas, params=config.graph,
    account_ids=dataset.accounts["account_id"],
)
print(f"{graph.account_ids.len():,} accounts, {graph.values.height:,} shared values, "
      f"{graph.edges.height:,} weighted links, {graph.hubs.height:,} hub values")
graph.hubs.sort("n_accounts", descending=True).head(5)

# %% [markdown]
# ## 5. Clusters (Leiden, seeded) and 6. scores
#
# Community detection is seeded; accounts linked to no one then join a cluster whose prompts
# they share broadly (attach), and accounts tied only by behaviour (one prompt dominating
# their traffic, at the same hours, through the same exits) form behaviour cohorts; a cluster
# that holds two operators' behaviour (hours, volume, aims, address style) is cut in two.
# Cluster ids are operation ids: in a first run `op-000001` has the highest score (a run
# given `previous=` keeps the earlier run's ids where clusters overlap). A score is the sum
# of named contributions, stored as a table.

# %%
communities = detect_communities(
    graph.to_igraph(), params=config.detect, seed=config.seed,
    prompts=graph.kind_matrix("prompt_template"),  # the prompts each account sends
)
membership, attached = attach_unlinked(
    communities.membership, graph.incidence, graph.values, n_accounts=len(graph.account_ids),
    kinds=config.behaviour_kinds, params=config.attach,
)
cohorts = find_cohorts(
    membership, graph.account_ids, attributes, usage,
    sample_size=config.prompt_template.max_per_account, params=config.cohort, edges=graph.edges,
    soft_kinds=config.soft_kinds,
)
split = split_by_behaviour(  # a cluster holding two operators' behaviour is cut in two
    cohorts.membership, graph.account_ids, attributes, usage, params=config.split
)
membership, _ = detach_thin_members(  # quiet members tied only by prompts and addresses
    split.membership, graph, usage,
    soft_kinds=config.soft_kinds, min_exchanges=config.detect.min_member_exchanges,
)
scored = score_clusters(
    membership, graph, attributes, usage, params=config.score, cohorts=cohorts.table,
    splits=split.table,
)
merged = merge_by_behaviour(  # flagged clusters that are one operator's pools become one
    membership, graph.account_ids, attributes, usage, members=scored.members,
    params=config.merge, model=config.split, splits=split.table,
)
if merged.table.height:  # the merged clusters are scored again
    scored = score_clusters(
        merged.membership, graph, attributes, usage, params=config.score,
        cohorts=cohorts.table, splits=split.table, merges=merged.table,
    )
scored.clusters.select("cluster_id", "size", "cluster_score", "flagged", "exchanges", "summary").head(10)

# %% [markdown]
# Why cluster op-000001 scores what it does: each signal's value times its weight.

# %%
scored.contributions.filter(pl.col("cluster_id") == "op-000001")

# %% [markdown]
# And what its members share, strongest kinds first (the evidence table keeps every cluster's
# shared values):

# %%
scored.evidence.filter(pl.col("cluster_id") == "op-000001").sort(
    "accounts_in_cluster", "attribute_kind", "value", descending=[True, False, False]
).head(8)

# %% [markdown]
# ## How good is it? (the sample is simulated, so its labels are known)

# %%
labels = load_labels(SAMPLE / "labels.csv")
evaluation = evaluate(scored.members, labels)
print(evaluation.to_text())

# %% [markdown]
# ## All of it in one call, written to a run folder
#
# `run_and_write` is what `acctgraph run data/sample --out ...` does: load, every stage, then
# the members, clusters, evidence and contributions tables, the graph, evidence cards, graph
# pages, `report.html` and `run.json` (versions, parameters, input checksums). Runs are
# deterministic: the same inputs, parameters and seed give the same clusters as above.

# %%
result = run_and_write(SAMPLE, out=OUT / "sample", config=config)
run = load_run(OUT / "sample")
print(run)
print("same clusters as the stage-by-stage run:", result.scored.members.equals(scored.members))
print("report:", run.path / "report.html")

# %% [markdown]
# ## One cluster's graph, inline
#
# Accounts (blue) and the values that link them (coloured by kind); hover for details, drag
# to explore. The page is self-contained and sandboxed: it loads nothing and cannot reach the
# notebook. The same page is in the run folder, under `graphs/`.

# %%
show_cluster(run, "op-000001")
