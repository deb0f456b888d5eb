"""explain: why an account is in its cluster, what links two accounts; from a finished run only.

A hand-made world with an obvious answer:

- o1..o4 share a card (``card_op``), o1..o3 also a device (``dev_op``): one cluster; o4 lacks the device;
- f1 and f2 share a card, f2 and x1 a device: f1 and x1 share nothing, but a path joins them;
- h1 and ``=1+1`` share a hostile card (a spreadsheet formula) and a hostile device (bidi controls);
- l1 shares nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from acctgraph.core.errors import ConfigError, InputError
from acctgraph.investigate.explain import (
    AccountExplanation,
    PairExplanation,
    explain_account,
    explain_pair,
)
from acctgraph.load import dataset_from_frames
from acctgraph.run.pipeline import run_pipeline
from acctgraph.run.write import write_outputs
from acctgraph.runfolder import Run, load_run
from acctgraph.simulate import simulate_frames

ACCTGRAPH = Path(sys.executable).parent / "acctgraph"
BIDI = "\u202eevil\u202c reversed"
FORMULA = '=HYPERLINK("http://x","y")'
HOSTILE_ID = "=1+1"
ROWS = [
    ("o1", "card_op", "dev_op"),
    ("o2", "card_op", "dev_op"),
    ("o3", "card_op", "dev_op"),
    ("o4", "card_op", None),
    ("f1", "card_fam", None),
    ("f2", "card_fam", "dev_x"),
    ("x1", None, "dev_x"),
    ("l1", None, None),
    ("h1", FORMULA, BIDI),
    (HOSTILE_ID, FORMULA, BIDI),
]


def make_run(out: Path) -> Path:
    accounts = pl.DataFrame(
        ROWS, schema=["account_id", "payment_fingerprint", "device_id"], orient="row"
    )
    exchanges = pl.DataFrame(
        {"account_id": accounts["account_id"], "timestamp": [1776852000] * len(ROWS)}
    )
    write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("explain") / "out")


@pytest.fixture
def run(run_dir: Path) -> Run:
    return load_run(run_dir)


def _acctgraph(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACCTGRAPH), *map(str, args)], check=False, capture_output=True, text=True, timeout=120
    )


def test_the_world_is_what_the_tests_assume(run: Run) -> None:
    cluster = dict(run.members.select("account_id", "cluster_id").iter_rows())
    assert cluster["o1"] == cluster["o2"] == cluster["o3"] == cluster["o4"] is not None
    assert cluster["f1"] == cluster["f2"] == cluster["x1"] is not None
    assert cluster["h1"] == cluster[HOSTILE_ID] is not None
    assert cluster["l1"] is None


# =============================================================================
# One account
# =============================================================================


def test_account_ties_and_cluster(run: Run) -> None:
    why = explain_account(run, "o1")
    assert isinstance(why, AccountExplanation)
    account = why.account.row(0, named=True)
    assert (account["cluster_size"], account["values_held"], account["linked_accounts"]) == (
        4,
        2,
        3,
    )
    ties = why.ties.select(
        "attribute_kind", "value", "accounts_in_cluster", "accounts_outside"
    ).rows()
    assert sorted(ties) == [("device", "dev_op", 3, 0), ("payment", "card_op", 4, 0)]
    assert why.unshared.height == 0
    # Links: the other three members, each with the values that make the link.
    assert sorted(why.links["other_account_id"].to_list()) == ["o2", "o3", "o4"]
    assert why.links["same_cluster"].all()
    o4 = why.link_values.filter(pl.col("other_account_id") == "o4")
    assert o4.select("attribute_kind", "value").rows() == [("payment", "card_op")]


def test_contributions_match_the_graph(run: Run) -> None:
    """A link's contribution is kind weight × both strengths, and adds up to the projection edge."""
    why = explain_account(run, "o1")
    link = why.links.filter(pl.col("other_account_id") == "o2").row(0, named=True)
    assert link["contribution"] == pytest.approx(link["weight"], abs=1e-5)
    assert link["n_shared"] == 2


def test_what_an_account_does_not_share(run: Run) -> None:
    why = explain_account(run, "o4")
    device = why.kinds.filter(pl.col("attribute_kind") == "device").row(0, named=True)
    assert device == {
        "attribute_kind": "device",
        "values_held": 0,
        "shared_in_cluster": 0,
        "cluster_values": 1,
        "members_sharing": 3,
    }
    text = why.to_text()
    assert (
        "device: the cluster shares 1 value(s) (held by 3 of 4 members); this account holds none"
        in text
    )
    assert "card_op" in text


def test_an_account_in_no_cluster(run: Run) -> None:
    why = explain_account(run, "l1")
    assert why.account["cluster_id"][0] is None
    assert why.ties.height == why.links.height == 0
    text = why.to_text()
    assert "no cluster" in text and "holds no value that any other account holds" in text


def test_top_limits_rows(run: Run) -> None:
    assert explain_account(run, "o1", top=1).links.height == 1
    assert explain_account(run, "o1", top=None).links.height == 3
    with pytest.raises(ConfigError, match="top"):
        explain_account(run, "o1", top=0)


# =============================================================================
# Two accounts
# =============================================================================


def test_pair_names_the_shared_card(run: Run) -> None:
    pair = explain_account(run, "o1", with_account="o4")
    assert isinstance(pair, PairExplanation)
    assert pair.shared.select("attribute_kind", "value").rows() == [("payment", "card_op")]
    row = pair.shared.row(0, named=True)
    assert row["contribution"] == pytest.approx(
        row["kind_weight"] * row["strength_a"] * row["strength_b"], abs=1e-5
    )
    assert pair.edge_weight == pytest.approx(row["contribution"], abs=1e-5)
    assert pair.path.height == 0 and pair.connected
    assert "card_op" in pair.to_text()
    assert pair.by_kind.rows() == [("payment", 1, row["contribution"])]


def test_pair_without_a_shared_value_gets_a_path(run: Run) -> None:
    pair = explain_pair(run, "f1", "x1")
    assert pair.shared.height == 0 and pair.edge_weight is None and pair.connected
    hops = pair.path.select(
        "hop", "account_id", "attribute_kind", "value", "next_account_id"
    ).rows()
    assert hops == [(1, "f1", "payment", "card_fam", "f2"), (2, "f2", "device", "dev_x", "x1")]
    assert pair.path["contribution"].to_list() == pytest.approx([1.0, 0.8])
    text = pair.to_text()
    assert "They share no value directly." in text and "card_fam" in text and "dev_x" in text


def test_pair_that_nothing_joins(run: Run) -> None:
    pair = explain_pair(run, "o1", "l1")
    assert not pair.connected and pair.path.height == 0 and pair.shared.height == 0
    assert "No chain of shared values joins them." in pair.to_text()


def test_pair_of_one_account_is_refused(run: Run) -> None:
    with pytest.raises(InputError, match="two different accounts"):
        explain_pair(run, "o1", "o1")


# =============================================================================
# Errors, determinism, hostile text
# =============================================================================


@pytest.mark.parametrize("args", [("nobody",), ("o1", "nobody"), ("O1",)])
def test_unknown_account_names_the_id(run: Run, args: tuple[str, ...]) -> None:
    with pytest.raises(InputError, match="nobody|O1") as caught:
        explain_account(run, args[0], with_account=args[1] if len(args) > 1 else None)
    assert str(run.path) in str(caught.value)


def test_unknown_hostile_id_is_shown_visibly(run: Run) -> None:
    with pytest.raises(InputError) as caught:
        explain_account(run, BIDI)
    assert "\u202e" not in str(caught.value) and "\\u202e" in str(caught.value)


def test_deterministic(run_dir: Path) -> None:
    first = explain_account(load_run(run_dir), "o4").to_dict()
    again = explain_account(load_run(run_dir), "o4").to_dict()
    assert first == again
    pairs = [explain_pair(load_run(run_dir), "f1", "x1").to_dict() for _ in range(2)]
    assert pairs[0] == pairs[1]


def test_hostile_values_come_out_visible(run: Run) -> None:
    why = explain_account(run, "h1")
    assert BIDI in why.ties["value"].to_list()  # the data keeps the raw value
    text = why.to_text() + explain_pair(run, "h1", HOSTILE_ID).to_text()
    assert "\u202e" not in text and "\u202c" not in text
    assert "\\u202eevil\\u202c reversed" in text
    assert FORMULA in text  # plain text: nothing to neutralise in a terminal


# =============================================================================
# Command line
# =============================================================================


def test_cli_text_json_and_exit_codes(run_dir: Path) -> None:
    done = _acctgraph("explain", "o4", "--run", run_dir)
    assert done.returncode == 0, done.stderr
    assert "card_op" in done.stdout and "this account holds none" in done.stdout

    done = _acctgraph("explain", "f1", "--run", run_dir, "--with", "x1", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [hop["value"] for hop in data["path"]] == ["card_fam", "dev_x"]

    done = _acctgraph("explain", "h1", "--run", run_dir, "--json")
    assert done.returncode == 0 and done.stdout.isascii()
    assert BIDI in json.dumps(json.loads(done.stdout), ensure_ascii=False)

    done = _acctgraph("explain", "nobody", "--run", run_dir)
    assert done.returncode == 2 and "nobody" in done.stderr and "Traceback" not in done.stderr


def test_cli_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    done = _acctgraph("explain", "o1", "--run", tmp_path)
    assert done.returncode == 2 and "run.json" in done.stderr


# =============================================================================
# Behaviour cohorts
# =============================================================================


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-tradecraft world (behaviour-only operators) run once."""
    accounts, exchanges, _ = simulate_frames("random", seed=101)
    out = tmp_path_factory.mktemp("explain_cohort") / "out"
    write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    return out


def _cohort_member(run: Run) -> tuple[str, dict]:
    """A member of the run's first behaviour cohort that holds the cohort's signature."""
    assert run.cohorts is not None and run.cohorts.height, "the world must have a behaviour cohort"
    cohort = run.cohorts.row(0, named=True)
    signature = run.values.filter(
        (pl.col("attribute_kind") == "prompt_template") & (pl.col("value") == cohort["signature"])
    )["value_index"]
    holders = (
        run.incidence.filter(pl.col("value_index").is_in(signature.to_list()))
        .join(run.graph_accounts, on="account_index")
        .join(run.members.filter(pl.col("cluster_id") == cohort["cluster_id"]), on="account_id")
        .sort("n_events", "account_id", descending=[True, False])
    )
    return holders["account_id"][0], cohort


def test_a_cohort_member_is_explained_by_its_behaviour(cohort_dir: Path) -> None:
    run = load_run(cohort_dir)
    account_id, cohort = _cohort_member(run)
    why = explain_account(run, account_id)
    assert isinstance(why, AccountExplanation) and why.behaviour is not None
    assert why.behaviour["cohort"]["signature"] == cohort["signature"]
    assert why.behaviour["cohort"]["accounts"] == cohort["accounts"]
    # The account's own share, independently: its sampled prompts on the signature.
    mine = why.behaviour["account"]
    n_events = (
        run.incidence.join(run.graph_accounts, on="account_index")
        .join(run.values, on="value_index")
        .filter(
            (pl.col("account_id") == account_id)
            & (pl.col("attribute_kind") == "prompt_template")
            & (pl.col("value") == cohort["signature"])
        )["n_events"][0]
    )
    n_exchanges = run.profile_accounts.filter(pl.col("account_id") == account_id)["n_exchanges"][0]
    sample = run.record["parameters"]["features"]["prompt_template"]["max_per_account"]
    assert mine["signature_share"] == pytest.approx(n_events / min(n_exchanges, sample), abs=1e-6)
    assert 0 < mine["hours_active"] <= 24 and 0 <= mine["capability_share"] <= 1
    text = why.to_text()
    assert "tied by behaviour" in text
    assert f"is {100 * mine['signature_share']:.0f}% of this account's" in text
    assert f"cohort median {100 * cohort['members_share']:.0f}%" in text
    assert f"{cohort['other_holders']:,} other holder" in text
    assert json.loads(json.dumps(why.to_dict()))["behaviour"]["account"] == mine


def test_accounts_outside_cohorts_and_old_runs_have_no_behaviour_section(
    cohort_dir: Path, run: Run, tmp_path: Path
) -> None:
    card_tied = explain_account(run, "o1")
    assert isinstance(card_tied, AccountExplanation)
    assert card_tied.behaviour is None and "tied by behaviour" not in card_tied.to_text()
    fresh = load_run(cohort_dir)
    account_id, _ = _cohort_member(fresh)
    old = tmp_path / "old"
    shutil.copytree(cohort_dir, old)
    (old / "cohorts.parquet").unlink()
    record = json.loads((old / "run.json").read_text())
    del record["parameters"]["cohort"]
    (old / "run.json").write_text(json.dumps(record))
    why = explain_account(load_run(old), account_id)
    now = explain_account(fresh, account_id)
    assert isinstance(why, AccountExplanation) and isinstance(now, AccountExplanation)
    assert why.behaviour is None and "tied by behaviour" not in why.to_text()
    assert why.ties.height == now.ties.height


def test_a_hostile_signature_is_escaped(cohort_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "hostile"
    shutil.copytree(cohort_dir, copy)
    account_id, _ = _cohort_member(load_run(copy))
    cohorts = pl.read_parquet(copy / "cohorts.parquet")
    cohorts.with_columns(pl.lit(BIDI + "\x1b[31m" + "x" * 500).alias("signature")).write_parquet(
        copy / "cohorts.parquet"
    )
    text = explain_account(load_run(copy), account_id).to_text()
    assert "\u202e" not in text and "\x1b" not in text and "\\u202eevil" in text
    assert max(len(line) for line in text.splitlines()) < 400
