# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Runs over time: the same operations every day, and your decisions
#
# Investigators run acctgraph every day on the latest weeks of traffic. Here the bundled
# sample plays two days: "yesterday" sees its first four weeks, "today" all six. Today's run
# is given yesterday's run folder, so its clusters keep yesterday's operation ids
# (`op-000123`) where they overlap most, and it says what changed. Then a decisions file (one
# operation judged benign, one confirmed) goes into the next run and back out as a table.
#
# Everything goes through the public API (`acctgraph run --previous ... --decisions ...` does
# the same from a terminal). About 40 seconds.

# %%
import os
from pathlib import Path

import polars as pl

from acctgraph import load_decisions, load_run, run_and_write
from acctgraph.simulate import first_weeks

pl.Config.set_tbl_rows(12)
pl.Config.set_fmt_str_lengths(120)
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "data" / "sample").is_dir())
SAMPLE = ROOT / "data" / "sample"
OUT = Path(os.environ.get("ACCTGRAPH_NOTEBOOK_OUT", ROOT / "out" / "notebooks")) / "over_time"

# %% [markdown]
# ## Yesterday: the first four weeks
#
# The exchanges before the cut, and the accounts created before it or active in it.

# %%
exchanges = pl.read_parquet(SAMPLE / "exchanges.parquet")
accounts = pl.read_csv(SAMPLE / "accounts.csv", infer_schema=False)
known, early, cut = first_weeks(accounts, exchanges, weeks=4)
(OUT / "yesterday_input").mkdir(parents=True, exist_ok=True)
early.write_parquet(OUT / "yesterday_input" / "exchanges.parquet")
known.write_parquet(OUT / "yesterday_input" / "accounts.parquet")
print(f"cut at {cut:%Y-%m-%d %H:%M}: {known.height:,} accounts, {early.height:,} exchanges")

run_and_write(OUT / "yesterday_input", out=OUT / "yesterday")
yesterday = load_run(OUT / "yesterday")
yesterday.clusters.filter(pl.col("flagged")).select("cluster_id", "size", "cluster_score")

# %% [markdown]
# ## Today: all six weeks, with yesterday's run as `previous`
#
# `changes` has one row per operation flagged on either day; `changed_members` names every
# account that joined or left. An id is never reused: new operations are numbered above
# `run.json`'s `operations.next_number` of yesterday's run.

# %%
run_and_write(SAMPLE, out=OUT / "today", previous=OUT / "yesterday")
today = load_run(OUT / "today")
today.changes.select(
    "cluster_id", "change", "accounts_before", "accounts_after", "joined", "left",
    "score_before", "score_after", "flag_change",
)

# %%
today.changed_members.head(10)

# %% [markdown]
# How many of yesterday's flagged accounts kept their operation id today:

# %%
kept = (
    yesterday.members.filter(pl.col("flagged"))
    .join(today.members.select("account_id", pl.col("cluster_id").alias("today")),
          on="account_id", how="left")
    .select((pl.col("cluster_id") == pl.col("today")).mean().alias("kept"))
)
kept

# %% [markdown]
# ## A decision round trip
#
# The investigator judges one operation benign (a university lab, say) and confirms another.
# The decisions file is theirs: acctgraph reads it and never writes it. (The report's
# "Label operations" panel downloads such rows too.)

# %%
flagged = yesterday.clusters.filter(pl.col("flagged"))["cluster_id"].to_list()
decisions_file = OUT / "decisions.csv"
pl.DataFrame(
    {
        "target": [flagged[1], flagged[0]],
        "decision": ["benign", "confirmed"],
        "decided_by": ["ana", "ben"],
        "decided_at": ["2026-06-01", "2026-06-01T09:30:00Z"],
        "note": ["university lab's evaluation harness", "distillation; accounts banned"],
    }
).write_csv(decisions_file)
load_decisions(decisions_file)

# %%
run_and_write(SAMPLE, out=OUT / "today_decided", previous=OUT / "yesterday",
              decisions=decisions_file)
decided = load_run(OUT / "today_decided")
decided.decisions.select("target", "decision", "decided_by", "effect", "baseline_size")

# %% [markdown]
# The benign operation is no longer flagged (it has not grown by half nor gained a shared
# card, device or address); the confirmed one stays flagged and its summary says who
# confirmed it. The report opens with "Since the last run" and "Decisions".

# %%
decided.clusters.filter(pl.col("decision").is_not_null()).select(
    "cluster_id", "size", "cluster_score", "flagged", "decision", "summary"
)

# %%
print(f"report: {OUT / 'today_decided' / 'report.html'}")
