# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From a few known-bad accounts
#
# An investigation often starts from a handful of banned accounts rather than from the
# detector's clusters. Here: start from three banned account ids, rank every other account
# by how strongly it is linked to them (personalised PageRank over the account graph),
# review the candidates with the evidence for each, and compare with the clusters the
# detector found on its own. About 15 seconds.

# %%
import os
from pathlib import Path

import polars as pl

from acctgraph import (
    expand_from_seeds, explain_account, load_labels, load_run, read_seeds, run_and_write,
)

pl.Config.set_tbl_rows(15)
pl.Config.set_fmt_str_lengths(160)
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "data" / "sample").is_dir())
SAMPLE = ROOT / "data" / "sample"
OUT = Path(os.environ.get("ACCTGRAPH_NOTEBOOK_OUT", ROOT / "out" / "notebooks"))

# %%
run_and_write(SAMPLE, out=OUT / "sample")
run = load_run(OUT / "sample")
run

# %% [markdown]
# ## Three banned accounts
#
# In a real case they come from the abuse desk, as a file: `read_seeds` takes a CSV, Parquet
# or NDJSON file (an `account_id` column, or a bare list of ids). The sample is simulated, so
# we take three accounts of its hardest operator, `op02` (low and slow, legitimate-looking
# emails, fresh virtual cards), from its labels; the labels are used again only to grade the
# answer at the end.

# %%
labels = load_labels(SAMPLE / "labels.csv")
operator = "op02"
banned_file = OUT / "banned.csv"
banned_file.parent.mkdir(parents=True, exist_ok=True)
labels.filter(pl.col("operator_id") == operator).sort("account_id").head(3).select("account_id").write_csv(banned_file)
seeds = read_seeds(banned_file)
seeds

# %% [markdown]
# ## Expand
#
# Candidates are ranked by a random walk that keeps restarting at the seeds, over the
# account graph (which already discounts hubs and lets infrastructure only corroborate),
# with a small share of a walk over the raw shared values to order accounts the graph does
# not link. The ranking is deterministic.

# %%
found = expand_from_seeds(run, seeds, top=50)
found.seeds

# %% [markdown]
# Not every banned account need be in one of the detector's clusters: a seed with no
# `cluster_id` was not linked strongly enough to be clustered. Why:

# %%
unclustered = found.seeds.filter(pl.col("cluster_id").is_null())["account_id"].to_list()
for account_id in unclustered:
    print(explain_account(run, account_id).to_text())

# %% [markdown]
# ## The ranked candidates and their evidence
#
# `seeds_sharing`: how many seeds share a counted value with the candidate directly (0 =
# reached only through other accounts); `contribution`: the summed evidence between the
# candidate and the seeds; `evidence`: the strongest shared values. Read down until the score
# falls off: past the operation, candidates share a proxy or a phrasing with the seeds and
# little else.

# %%
found.table().select("rank", "account_id", pl.col("score").round_sig_figs(3), "cluster_id", "flagged",
                     "seeds_sharing", pl.col("contribution").round(3), "evidence").head(15)

# %% [markdown]
# Every shared value behind the top candidate, with how many seeds hold it:

# %%
top = found.candidates["account_id"][0]
found.evidence.filter(pl.col("account_id") == top)

# %% [markdown]
# ## Compared with the detector's clusters
#
# Where the candidates fall: in the seeds' own cluster (`seed_cluster`), in other flagged
# clusters, or in none. Candidates outside any flagged cluster are what the expansion adds.

# %%
found.candidates.group_by("cluster_id", "flagged", "seed_cluster").agg(
    pl.len().alias("candidates"), pl.col("rank").min().alias("best_rank"), pl.col("rank").max().alias("worst_rank")
).sort("best_rank")

# %% [markdown]
# And the other way round: members of the seeds' clusters that the expansion did not rank in
# its top 50 (empty when the expansion covers the detector's answer).

# %%
seed_clusters = found.seeds["cluster_id"].drop_nulls().unique()
run.members.filter(pl.col("cluster_id").is_in(seed_clusters.implode())).join(
    found.candidates, on="account_id", how="anti"
).join(pl.DataFrame({"account_id": seeds}), on="account_id", how="anti")

# %% [markdown]
# ## Grading with the labels
#
# Only possible on a simulated world: how many of the top candidates belong to the seeds'
# operator, and how many of that operator's accounts the detector's flagged clusters and the
# expansion each found.

# %%
graded = found.candidates.join(labels, on="account_id", how="left").with_columns(
    (pl.col("operator_id") == operator).fill_null(False).alias("same_operator")
)
graded.group_by("same_operator", "kind").agg(
    pl.len().alias("candidates"), pl.col("rank").min().alias("best_rank")
).sort("best_rank")

# %%
operator_accounts = labels.filter(pl.col("operator_id") == operator).join(
    pl.DataFrame({"account_id": seeds}), on="account_id", how="anti"
)
pl.DataFrame({
    "found by": ["the detector (flagged clusters)", "the expansion (top 50)"],
    "accounts of the operator": [
        operator_accounts.join(run.members.filter(pl.col("flagged")), on="account_id").height,
        operator_accounts.join(found.candidates, on="account_id").height,
    ],
    "out of": [operator_accounts.height] * 2,
})

# %% [markdown]
# ## Keep the list
#
# The candidates with their evidence, as CSV (spreadsheet formulas neutralised) or Parquet;
# `acctgraph expand` writes the same from the command line.

# %%
found.write(OUT / f"expansion_{operator}.csv")
