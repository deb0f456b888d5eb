"""Graph pages, notebook views and GraphML/GEXF export, checked against the run's tables (no browser).

The browser half (rendering, counts read from the live page, hostile strings in a
real Chromium) is in test_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import networkx as nx
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from acctgraph.cli import cli
from acctgraph.core import schema as S
from acctgraph.core.errors import InputError
from acctgraph.core.textsafe import visible
from acctgraph.load import dataset_from_frames
from acctgraph.run.pipeline import run_pipeline
from acctgraph.run.write import write_outputs
from acctgraph.runfolder import load_run
from acctgraph.simulate import HOSTILE_STRINGS, simulate_frames
from acctgraph.viz import (
    DEFAULT_CLUSTER_PAGES,
    cluster_drawing,
    graph_for_export,
    overview_drawing,
    render,
    select_clusters,
    show_cluster,
    to_gexf,
    to_graphml,
    write_graph_pages,
)
from acctgraph.viz.drawing import ACCOUNT, ACCOUNT_GROUP, evidence_per_kind
from acctgraph.viz.overview import OVERVIEW_VALUE_CAP
from acctgraph.viz.pages import script_json, vis_network_js

SEED = 3
#: Every URL in the vendored vis-network 9.1.2: licence comments, an error message's help link
#: and the SVG namespace string, never requested. Anything else that looks like a URL fails.
VIS_URLS = {
    "https://visjs.github.io/vis-network/",
    "http://almende.com",
    "https://github.com/visjs",
    "http://www.apache.org/licenses/LICENSE-2.0",
    "http://opensource.org/licenses/MIT",
    "https://github.com/zloirock/core-js",
    "https://github.com/zloirock/core-js/blob/v3.21.1/LICENSE",
    "https://github.com/uuidjs/uuid#getrandomvalues-not-supported",
    "http://www.w3.org/2000/svg",
}
URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>)]*")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    accounts, exchanges, _ = simulate_frames("tiny", seed=SEED)
    out = tmp_path_factory.mktemp("viz") / "run"
    write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    return out


@pytest.fixture(scope="module")
def run(run_dir: Path):
    return load_run(run_dir)


def expected_cluster(run, cluster_id: int) -> tuple[set[int], set[int], int]:
    """Accounts, drawn values and links of a cluster page without collapsing, computed directly."""
    accounts = set(
        run.members.filter(pl.col(S.CLUSTER_ID) == cluster_id)
        .join(run.graph_accounts, on=S.ACCOUNT_ID)["account_index"]
        .to_list()
    )
    holders: dict[int, int] = defaultdict(int)
    for account, value in run.incidence.select("account_index", "value_index").iter_rows():
        if account in accounts:
            holders[value] += 1
    kinds = dict(run.values.select("value_index", S.ATTRIBUTE_KIND).iter_rows())
    texts = dict(run.values.select("value_index", S.VALUE).iter_rows())
    by_kind: dict[str, list[int]] = defaultdict(list)
    for value, n in holders.items():
        if n >= 2:
            by_kind[kinds[value]].append(value)
    limit = evidence_per_kind(run)
    values = set()
    for kind_values in by_kind.values():
        values |= set(sorted(kind_values, key=lambda v: (-holders[v], texts[v]))[:limit])
    links = sum(
        1
        for a, v in run.incidence.select("account_index", "value_index").iter_rows()
        if a in accounts and v in values
    )
    return accounts, values, links


def expected_overview_pairs(run) -> int:
    cluster_of = dict(
        run.members.join(run.graph_accounts, on=S.ACCOUNT_ID)
        .filter(pl.col(S.CLUSTER_ID).is_not_null())
        .select("account_index", S.CLUSTER_ID)
        .iter_rows()
    )
    clusters_of_value: dict[int, set[int]] = defaultdict(set)
    for account, value in run.incidence.select("account_index", "value_index").iter_rows():
        if account in cluster_of:
            clusters_of_value[value].add(cluster_of[account])
    pairs = set()
    for clusters in clusters_of_value.values():
        if 2 <= len(clusters) <= OVERVIEW_VALUE_CAP:
            pairs |= set(combinations(sorted(clusters), 2))
    return len(pairs)


def hostile_run(source: Path, target: Path) -> tuple[Path, int]:
    """A copy of a run whose largest cluster carries every attacker string (display names), with
    attacker strings as values and as the name of one kind."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("graphs"))
    run = load_run(target)
    cluster_id = str(
        run.clusters.sort(["size", S.CLUSTER_ID], descending=[True, False])[S.CLUSTER_ID][0]
    )
    members = run.members.filter(pl.col(S.CLUSTER_ID) == cluster_id)[S.ACCOUNT_ID].sort().to_list()
    assert len(members) >= len(HOSTILE_STRINGS)
    names = {
        account: HOSTILE_STRINGS[i % len(HOSTILE_STRINGS)] for i, account in enumerate(members)
    }
    profiles = run.profile_accounts.with_columns(
        pl.col(S.ACCOUNT_ID)
        .replace_strict(names, default=pl.col(S.DISPLAY_NAME), return_dtype=pl.String)
        .alias(S.DISPLAY_NAME)
    )
    profiles.write_parquet(target / "profiles" / "accounts.parquet")
    values = run.values.with_columns(
        pl.col("value_index")
        .mod(len(HOSTILE_STRINGS))
        .replace_strict(dict(enumerate(HOSTILE_STRINGS)), return_dtype=pl.String)
        .alias(S.VALUE),
        pl.when(pl.col(S.ATTRIBUTE_KIND) == "ip")
        .then(pl.lit("<img src=x onerror=alert('kind')>"))
        .otherwise(pl.col(S.ATTRIBUTE_KIND))
        .alias(S.ATTRIBUTE_KIND),
    )
    values.write_parquet(target / "graph" / "values.parquet")
    return target, cluster_id


# =============================================================================
# Pages written by the run
# =============================================================================


def test_run_writes_pages_for_flagged_and_top_clusters(run_dir: Path, run) -> None:
    graphs = run_dir / "graphs"
    assert (graphs / "overview.html").is_file()
    written = sorted(p.stem.split("_")[1] for p in graphs.glob("cluster_*.html"))
    assert written == sorted(select_clusters(run.clusters, top=DEFAULT_CLUSTER_PAGES))
    flagged = run.clusters.filter(pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list()
    assert set(flagged) <= set(written)


def test_select_clusters_takes_every_flagged_then_best_scores() -> None:
    clusters = pl.DataFrame(
        {
            S.CLUSTER_ID: [S.operation_id(n) for n in range(1, 6)],
            S.CLUSTER_SCORE: [0.2, 0.9, 0.5, 0.5, 0.1],
            S.FLAGGED: [False, True, False, False, True],
        }
    )
    ids = [S.operation_id(n) for n in (2, 5, 3, 4)]
    assert select_clusters(clusters, top=4) == ids
    assert select_clusters(clusters, top=0) == ids[:2]


def test_cluster_drawing_matches_the_tables(run) -> None:
    for cluster_id in select_clusters(run.clusters, top=10):
        drawing = cluster_drawing(run, cluster_id)
        accounts, values, links = expected_cluster(run, cluster_id)
        assert not drawing.notes, "a tiny cluster should fit the budget"
        assert drawing.counts["nodes"] == len(drawing.nodes) == len(accounts) + len(values)
        assert drawing.counts["edges"] == len(drawing.edges) == links
        groups = [node["group"] for node in drawing.nodes]
        assert groups.count(ACCOUNT) == len(accounts) and ACCOUNT_GROUP not in groups
        ids = [node["id"] for node in drawing.nodes]
        assert ids == list(range(len(ids)))
        assert all(0 <= e["from"] < len(ids) and 0 <= e["to"] < len(ids) for e in drawing.edges)


def test_cluster_drawing_draws_the_evidence_table(run) -> None:
    """Explanations are one table: the drawn values are the evidence rows of the cluster."""
    for cluster_id in select_clusters(run.clusters, top=5):
        evidence = run.evidence.filter(pl.col(S.CLUSTER_ID) == cluster_id)
        _, values, _ = expected_cluster(run, cluster_id)
        drawn = set(
            run.values.filter(pl.col("value_index").is_in(sorted(values)))
            .select(S.ATTRIBUTE_KIND, S.VALUE)
            .iter_rows()
        )
        assert drawn == set(evidence.select(S.ATTRIBUTE_KIND, S.VALUE).iter_rows())


@pytest.mark.parametrize("node_budget, edge_budget", [(12, 40), (6, 10), (2, 1)])
def test_collapsing_respects_the_budget_and_keeps_every_account(
    run, node_budget: int, edge_budget: int
) -> None:
    cluster_id = str(run.clusters.sort("size", descending=True)[S.CLUSTER_ID][0])
    size = int(run.clusters.filter(pl.col(S.CLUSTER_ID) == cluster_id)["size"][0])
    drawing = cluster_drawing(run, cluster_id, node_budget=node_budget, edge_budget=edge_budget)
    assert len(drawing.nodes) <= node_budget and len(drawing.edges) <= edge_budget
    assert drawing.notes and drawing.collapsed
    accounts = sum(
        1 if n["group"] == ACCOUNT else n["value"]
        for n in drawing.nodes
        if n["group"] in (ACCOUNT, ACCOUNT_GROUP)
    )
    assert accounts == size  # every account is drawn exactly once, alone or in a group
    assert any("accounts are drawn as" in note for note in drawing.notes)


def test_unknown_cluster_is_an_input_error(run, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no cluster op-099999"):
        write_graph_pages(run, tmp_path / "graphs", clusters=[1, 99999])
    with pytest.raises(InputError, match="not an operation id"):
        write_graph_pages(run, tmp_path / "graphs", clusters=["op-1/../../x"])
    assert not (tmp_path / "graphs" / "cluster_op-000001.html").exists()  # checked before writing


def test_overview_matches_the_tables(run) -> None:
    drawing = overview_drawing(run)
    assert drawing.counts["nodes"] == len(drawing.nodes) == run.clusters.height
    assert drawing.counts["edges"] == len(drawing.edges) == expected_overview_pairs(run)
    assert sum(n["value"] for n in drawing.nodes) == int(run.clusters["size"].sum())


def test_pages_are_deterministic(run, tmp_path: Path) -> None:
    cluster_id = select_clusters(run.clusters, top=1)[0]
    one = write_graph_pages(run, tmp_path / "one", clusters=[cluster_id])
    two = write_graph_pages(run, tmp_path / "two", clusters=[cluster_id])
    for a, b in zip([*one.clusters, one.overview], [*two.clusters, two.overview]):
        assert a.path.read_bytes() == b.path.read_bytes()


def test_pages_do_not_depend_on_table_row_order(run_dir: Path, tmp_path: Path) -> None:
    """polars may return rows in any order; the pages must not notice."""
    shuffled = tmp_path / "shuffled"
    shutil.copytree(run_dir, shuffled, ignore=shutil.ignore_patterns("graphs"))
    for name in (
        "graph/incidence",
        "graph/values",
        "graph/accounts",
        "members",
        "profiles/accounts",
    ):
        path = shuffled / f"{name}.parquet"
        pl.read_parquet(path).sample(fraction=1.0, shuffle=True, seed=11).write_parquet(path)
    ids = select_clusters(load_run(run_dir).clusters, top=6)
    one = write_graph_pages(load_run(run_dir), tmp_path / "one", clusters=ids)
    two = write_graph_pages(load_run(shuffled), tmp_path / "two", clusters=ids)
    for a, b in zip(one.paths, two.paths):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_clean_removes_pages_of_an_earlier_run(run, tmp_path: Path) -> None:
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    (graphs / "cluster_424242.html").write_text("stale")
    (graphs / "notes.txt").write_text("mine")
    write_graph_pages(run, graphs, clusters=[1])
    assert (graphs / "cluster_424242.html").exists()  # kept, but not listed: no such cluster
    assert "cluster_424242" not in (graphs / "overview.html").read_text()
    write_graph_pages(run, graphs, clusters=[1], clean=True)
    assert not (graphs / "cluster_424242.html").exists() and (graphs / "notes.txt").exists()


# =============================================================================
# Self-contained and safe
# =============================================================================


def test_pages_hold_no_external_url(run_dir: Path) -> None:
    vis = vis_network_js()
    assert set(URL.findall(vis)) == VIS_URLS, "the vendored vis-network changed: review its URLs"
    pages = sorted((run_dir / "graphs").glob("*.html"))
    assert len(pages) >= 3
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.count(vis) == 1
        rest = text.replace(vis, "")
        assert URL.findall(rest) == [], page.name
        assert "//" not in re.sub(r"(?s)<script>.*?</script>", "", rest).replace("://", ""), (
            page.name
        )
        for pattern in (
            r"<link\b",
            r"\bsrc\s*=",
            r"@import",
            r"url\((?!\s*['\"]?data:)",
            r"<iframe\b",
        ):
            assert not re.search(pattern, rest, re.IGNORECASE), (page.name, pattern)
        hrefs = re.findall(r'href="([^"]*)"', rest)
        assert all(h.startswith(("../report.html", "overview.html", "cluster_")) for h in hrefs), (
            hrefs
        )


def test_hostile_strings_never_reach_the_page_as_markup(run_dir: Path, tmp_path: Path) -> None:
    target, cluster_id = hostile_run(run_dir, tmp_path / "hostile")
    pages = write_graph_pages(load_run(target), target / "graphs", clusters=[cluster_id])
    for page in [pages.clusters[0].path, pages.overview.path]:
        text = page.read_text(encoding="utf-8")
        for payload in HOSTILE_STRINGS:
            if "<" in payload:
                assert payload not in text
        assert "<img" not in text.replace(vis_network_js(), "")
        assert text.count("</script>") == 3  # data, vis-network, page script: nothing closes early
    data = json.loads(
        re.search(
            r'<script type="application/json" id="graph-data">(.*?)</script>',
            pages.clusters[0].path.read_text(encoding="utf-8"),
            re.S,
        ).group(1)
    )
    titles = "\n".join(node["title"] for node in data["nodes"])
    assert "<img src=x onerror=alert(1)>" in titles  # shown as text, intact
    assert "\u202e" not in titles and "\\u202e" in titles  # bidi controls made visible
    assert "\x00" not in titles


@given(st.text())
def test_script_json_cannot_close_its_tag_and_round_trips(text: str) -> None:
    encoded = script_json({"t": text})
    assert not set(encoded) & {"<", ">", "&"}
    assert json.loads(encoded) == {"t": text}


def test_render_escapes_header_text(run) -> None:
    drawing = cluster_drawing(run, "op-000001")
    drawing.title = "<script>alert(1)</script>"
    drawing.facts = [("<b>", "</header><img src=x onerror=alert(1)>")]
    html = render(drawing)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<img src=x" not in html


# =============================================================================
# Notebook and export
# =============================================================================


def test_notebook_view_is_a_sandboxed_srcdoc_iframe(run) -> None:
    view = show_cluster(run, 1)
    shown = view._repr_html_()
    assert shown.startswith('<iframe srcdoc="') and 'sandbox="allow-scripts"' in shown
    assert "allow-same-origin" not in shown
    inside = shown[len('<iframe srcdoc="') : shown.index('" sandbox=')]
    assert "<" not in inside and '"' not in inside  # the whole page is one escaped attribute
    assert view.counts["nodes"] > 0 and "nodes" in repr(view)


@pytest.mark.parametrize("write, read", [(to_graphml, nx.read_graphml), (to_gexf, nx.read_gexf)])
@pytest.mark.parametrize("view", ["bipartite", "accounts"])
def test_export_round_trips_with_attributes(
    run, run_dir: Path, tmp_path: Path, write, read, view: str
) -> None:
    target, cluster_id = hostile_run(run_dir, tmp_path / "hostile")
    hostile = load_run(target)
    path = write(hostile, tmp_path / f"cluster.{write.__name__}", cluster=cluster_id, view=view)
    back = read(path)
    graph = graph_for_export(hostile, cluster=cluster_id, view=view)
    assert (
        back.number_of_nodes() == graph.number_of_nodes()
        and back.number_of_edges() == graph.number_of_edges()
    )
    size = int(hostile.clusters.filter(pl.col(S.CLUSTER_ID) == cluster_id)["size"][0])
    accounts = [n for n, kind in back.nodes(data="type") if kind == "account"]
    assert len(accounts) == size
    if view == "bipartite":
        _, values, links = expected_cluster(hostile, cluster_id)
        assert back.number_of_edges() == links
        assert {n for n, kind in back.nodes(data="type") if kind == "value"} >= {
            f"v{v}" for v in values
        }
    names = {back.nodes[n].get("display_name") for n in accounts}
    assert "<img src=x onerror=alert(1)>" in names and visible("\u0000nul byte") in names
    node = back.nodes[accounts[0]]
    assert node["cluster_id"] == cluster_id and node["label"].startswith("acct_")


def test_whole_graph_export(run, tmp_path: Path) -> None:
    back = nx.read_graphml(to_graphml(run, tmp_path / "all.graphml", view="accounts"))
    assert back.number_of_nodes() == run.graph_accounts.height
    assert back.number_of_edges() == run.edges.height
    bipartite = graph_for_export(run)
    assert bipartite.number_of_edges() == run.incidence.height
    assert bipartite.number_of_nodes() == run.graph_accounts.height + run.values.height


# =============================================================================
# CLI
# =============================================================================


def test_viz_command_writes_the_chosen_pages(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("graphs"))
    result = CliRunner().invoke(
        cli, ["viz", "--run", str(copy), "--cluster", "2", "--cluster", "op-000001"]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert sorted(p.name for p in (copy / "graphs").iterdir()) == [
        "cluster_op-000001.html",
        "cluster_op-000002.html",
        "overview.html",
    ]
    bad = CliRunner().invoke(cli, ["viz", "--run", str(copy), "--cluster", "x/../y"])
    assert isinstance(bad.exception, InputError) and "not an operation id" in str(bad.exception)
    assert "overview.html" in result.output
