# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Investigate a cluster
#
# Take the top flagged cluster of a run and walk its **evidence card**: why it scores what it
# does, the payments and proxy ranges its members share, the prompt templates they send (as
# text, with sample prompts), when the accounts were created and at what hours they work.
# Then ask why two of its accounts are linked, and export the cluster's members and graph
# for the case file.
#
# Everything here reads a finished run folder; nothing is recomputed. A card is data: the
# same tables feed `report.html`, `cards.json` and this notebook. About 15 seconds.

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx
import polars as pl

from acctgraph.cards import load_cards
from acctgraph import (
    document_text, explain_account, explain_pair, load_run, run_and_write,
    safe_for_spreadsheet,
)
from acctgraph.viz import show_cluster, to_graphml

pl.Config.set_tbl_rows(12)
pl.Config.set_fmt_str_lengths(160)
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "data" / "sample").is_dir())
SAMPLE = ROOT / "data" / "sample"
OUT = Path(os.environ.get("ACCTGRAPH_NOTEBOOK_OUT", ROOT / "out" / "notebooks"))

# %% [markdown]
# ## The run
#
# The same run as notebook 01 (`acctgraph run data/sample --out out/notebooks/sample` from a
# terminal does the same). With your own run folder, start at `load_run(...)`.

# %%
run_and_write(SAMPLE, out=OUT / "sample")
run = load_run(OUT / "sample")
cards = load_cards(run)
run

# %% [markdown]
# ## The top flagged cluster
#
# Cluster ids are ranks (1 = highest score), so the top flagged cluster is the lowest flagged id.

# %%
cluster_id = run.clusters.filter(pl.col("flagged"))["cluster_id"].min()
in_cluster = pl.col("cluster_id") == cluster_id
card = cards.clusters.filter(in_cluster)
card.select("cluster_id", "size", "cluster_score", "exchanges", "first_activity", "last_activity",
            "burst_accounts", "median_age_days", "median_exchanges_per_active_day", "summary")

# %% [markdown]
# ### Why it scores what it does
#
# The score is the sum of these contributions (signal value × weight); a negative weight
# (a declared organisation) pulls it down.

# %%
signals = cards.signals.filter(in_cluster)
print(f"score {card['cluster_score'][0]:.3f} = sum of contributions {signals['contribution'].sum():.3f}")
signals

# %% [markdown]
# ### What the members share, by kind
#
# `n_values`: shared values of the kind; `top_accounts_in_cluster` / `top_accounts_outside`:
# holders of its most shared value inside and outside the cluster; `link_share`: the kind's
# share of the links that hold the cluster together.

# %%
cards.kinds.filter(in_cluster).sort("link_share", descending=True)

# %% [markdown]
# ### Shared payments
#
# Cards or wallets used by several members (empty when the operator does not reuse cards:
# many pay with fresh virtual cards, or not at all).

# %%
cards.values.filter(in_cluster, pl.col("attribute_kind") == "payment")

# %% [markdown]
# ### Proxy ranges
#
# IP ranges (/24 for IPv4) the members share. `accounts_outside` > 0 means legitimate
# customers of the same proxy network use the range too; ranges only corroborate other
# evidence, which is why that does not pull them in.

# %%
cards.values.filter(in_cluster, pl.col("attribute_kind") == "ip_range")

# %% [markdown]
# ### The prompt templates, as text
#
# Template bands (prompts lowercased, digits masked, cut to a few words) most sent by the
# cluster, then sample prompts from different accounts. Prompts are written by the adversary:
# `document_text` makes invisible and bidi characters visible, caps long text and defangs URLs.

# %%
cards.templates.filter(in_cluster).select(
    "template_rank", "value", "accounts_in_cluster", "n_events", pl.col("share").round(3)
)

# %%
cards.samples.filter(in_cluster).select(
    "template_rank", "account_id", "timestamp",
    pl.col("prompt").map_elements(document_text, return_dtype=pl.String),
)

# %% [markdown]
# ### Signup burst and hour of day
#
# Operators create accounts in batches and run them around the clock; people sign up when
# they need to and sleep. The shaded span is the cluster's largest burst (most accounts
# created within `score.burst_hours`).

# %%
signups = cards.signups.filter(in_cluster)
hours = cards.hours.filter(in_cluster)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.5))
bin_days = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30.44}[signups["bin"][0]]  # bar width in days
left.bar(signups["bin_start"], signups["n_accounts"], width=bin_days, align="edge")
burst_start, burst_end = card["burst_start"][0], card["burst_end"][0]
left.axvspan(burst_start, burst_end, facecolor="tab:red", edgecolor="tab:red", alpha=0.3,
             label=f"largest burst: {card['burst_accounts'][0]} accounts, "
                   f"{burst_start:%m-%d %H:%M} to {burst_end:%H:%M} UTC")
left.set(title=f"cluster {cluster_id}: accounts created per {signups['bin'][0]}", ylabel="accounts")
left.legend()
left.tick_params(axis="x", labelrotation=30)
right.bar(hours["hour"], hours["n_events"])
right.set(title=f"cluster {cluster_id}: exchanges by hour of day (UTC)", xlabel="hour", ylabel="exchanges",
          xticks=range(0, 24, 3))
fig.tight_layout()

# %% [markdown]
# ## Why are two accounts linked?
#
# Two members of the cluster (the first two created). `explain_pair` lists the values they
# share with each value's contribution (kind weight × the two strengths); when they share
# nothing that counts, it finds the shortest chain of shared values through other accounts.

# %%
first, second = cards.members.filter(in_cluster)["account_id"].head(2).to_list()
pair = explain_pair(run, first, second)
print(pair.to_text())

# %%
pair.by_kind

# %% [markdown]
# And one account on its own: what ties it to its cluster, its strongest links, and which of
# the cluster's evidence it lacks.

# %%
print(explain_account(run, first).to_text())

# %% [markdown]
# ## Export for the case file
#
# The members with their profile (CSV with spreadsheet formulas neutralised), the card as
# JSON, the cluster's bipartite graph as GraphML (accounts and the values linking them, with
# attributes, for Gephi or networkx) and its graph page (opens offline in any browser).

# %%
case = OUT / f"case_cluster_{cluster_id}"
case.mkdir(parents=True, exist_ok=True)
members = run.profile_accounts.join(run.members.filter(in_cluster), on="account_id").sort("account_id")
safe_for_spreadsheet(members).write_csv(case / "members.csv")
(case / "card.json").write_text(json.dumps(cards.card(cluster_id), indent=1), encoding="utf-8")
graphml = to_graphml(run, case / f"cluster_{cluster_id}.graphml", cluster=cluster_id)
view = show_cluster(run, cluster_id)
view.save(case / f"cluster_{cluster_id}.html")
exported = nx.read_graphml(graphml)
print(f"{members.height} members; GraphML: {exported.number_of_nodes()} nodes, {exported.number_of_edges()} edges")
sorted(path.name for path in case.iterdir())

# %%
view
