"""Graph pages in a real browser: Debian's Chromium, headless, offline, driven by Playwright.

Every request that is not ``file:``, ``about:`` or ``data:`` is blocked and
recorded; each test asserts that none was made, that no dialog opened and that
the console shows no error (a Content-Security-Policy violation would be one).
Node and edge counts are read from the live ``window.network`` and compared
with what the run's tables say. Screenshots go to ``out/test-artifacts/``.

These tests run in ``make test`` (CI): the Makefile installs Chromium when it
is missing, and a missing browser fails the suite rather than skipping it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from test_graphs import SEED, expected_cluster, expected_overview_pairs, hostile_run

from acctgraph.core import schema as S
from acctgraph.load import dataset_from_frames
from acctgraph.run.pipeline import run_pipeline
from acctgraph.run.write import write_outputs
from acctgraph.runfolder import load_run
from acctgraph.simulate import simulate_frames
from acctgraph.viz import select_clusters, write_graph_pages

pytestmark = pytest.mark.browser

CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "out" / "test-artifacts"
LOCAL = ("file:", "about:", "data:")


def chromium_path() -> str:
    for candidate in (os.environ.get("ACCTGRAPH_CHROMIUM"), *CHROMIUM, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "Chromium is not installed: `make test` installs Debian's chromium (apt-get install -y "
        "chromium, as root); or point ACCTGRAPH_CHROMIUM at a Chromium binary"
    )


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra and requirements.lock install it
        pytest.fail("playwright is not installed: `make test` installs requirements.lock")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), args=LAUNCH_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    accounts, exchanges, _ = simulate_frames("tiny", seed=SEED)
    out = tmp_path_factory.mktemp("browser") / "run"
    write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
    return out


@dataclass
class Opened:
    """A page opened offline, with everything it tried to do that it should not."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def count(self, what: str) -> int:
        return self.page.evaluate(f"window.network.body.data.{what}.length")

    def expected(self) -> dict[str, int]:
        return self.page.evaluate("window.acctgraphPage.expected")

    def assert_clean(self) -> None:
        assert self.blocked == [], f"requests left the machine: {self.blocked}"
        assert self.sockets == [], f"websockets opened: {self.sockets}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.errors == [], f"console errors: {self.errors}"

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path


def open_page(browser, path: Path, *, wait_for_graph: bool = True) -> Opened:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    opened = Opened(page)

    def route(route) -> None:
        url = route.request.url
        if url.startswith(LOCAL):
            route.continue_()
        else:
            opened.blocked.append(url)
            route.abort()

    page.route("**/*", route)
    page.on(
        "console",
        lambda message: opened.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("websocket", lambda socket: opened.sockets.append(socket.url))

    def dialog(dialog) -> None:
        opened.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", dialog)
    page.goto(path.as_uri())
    if wait_for_graph:
        page.wait_for_function("window.acctgraphPage && window.acctgraphPage.ready", timeout=20_000)
    return opened


def test_cluster_page_counts_match_the_run(browser, run_dir: Path) -> None:
    run = load_run(run_dir)
    cluster_id = select_clusters(run.clusters, top=1)[0]
    opened = open_page(browser, run_dir / "graphs" / f"cluster_{cluster_id}.html")
    accounts, values, links = expected_cluster(run, cluster_id)
    assert opened.count("nodes") == len(accounts) + len(values)
    assert opened.count("edges") == links
    expected = opened.expected()
    assert (expected["nodes"], expected["edges"]) == (opened.count("nodes"), opened.count("edges"))
    assert opened.page.evaluate("document.body.dataset.clusterId") == str(cluster_id)
    back = opened.page.get_attribute("nav a", "href")
    assert back == f"../report.html#cluster-{cluster_id}"
    opened.screenshot(f"cluster_{cluster_id}.png")
    opened.assert_clean()


def test_overview_counts_match_the_run(browser, run_dir: Path) -> None:
    run = load_run(run_dir)
    opened = open_page(browser, run_dir / "graphs" / "overview.html")
    assert opened.count("nodes") == run.clusters.height
    assert opened.count("edges") == expected_overview_pairs(run)
    pages = opened.page.eval_on_selector_all(
        "aside a", "links => links.map(a => a.getAttribute('href'))"
    )
    assert sorted(pages) == sorted(p.name for p in (run_dir / "graphs").glob("cluster_*.html"))
    opened.screenshot("overview.png")
    opened.assert_clean()


def test_collapsed_page_says_what_was_collapsed(browser, run_dir: Path, tmp_path: Path) -> None:
    run = load_run(run_dir)
    cluster_id = str(
        run.clusters.sort(["size", S.CLUSTER_ID], descending=[True, False])[S.CLUSTER_ID][0]
    )
    size = int(run.clusters.filter(pl.col(S.CLUSTER_ID) == cluster_id)["size"][0])
    pages = write_graph_pages(
        run, tmp_path / "graphs", clusters=[cluster_id], node_budget=12, edge_budget=40
    )
    opened = open_page(browser, pages.clusters[0].path)
    assert opened.count("nodes") <= 12 and opened.count("edges") <= 40
    drawn = opened.page.evaluate("""window.network.body.data.nodes.get()
        .filter(n => n.group === 'account' || n.group === 'account_group')
        .reduce((total, n) => total + (n.group === 'account' ? 1 : n.value), 0)""")
    assert drawn == size
    assert "accounts are drawn as" in opened.page.inner_text("#collapsed")
    opened.screenshot(f"cluster_{cluster_id}_collapsed.png")
    opened.assert_clean()


def _point_at(opened: Opened, node_id: int) -> tuple[float, float] | None:
    """Page coordinates of a node's centre, if that node is the one drawn on top there."""
    return opened.page.evaluate(
        """(id) => {
            const net = window.network;
            const canvas = net.getPositions([id])[id];
            const dom = net.canvasToDOM(canvas);
            if (net.getNodeAt(dom) !== id) { return null; }
            const box = document.getElementById('network').getBoundingClientRect();
            return [box.left + dom.x, box.top + dom.y];
        }""",
        node_id,
    )


def test_hostile_strings_show_as_text_and_run_nothing(
    browser, run_dir: Path, tmp_path: Path
) -> None:
    target, cluster_id = hostile_run(run_dir, tmp_path / "hostile")
    pages = write_graph_pages(load_run(target), target / "graphs", clusters=[cluster_id])
    payload = "<img src=x onerror=alert(1)>"
    for path in (pages.clusters[0].path, pages.overview.path):
        opened = open_page(browser, path)
        assert (
            opened.page.evaluate(
                "document.querySelectorAll('img, svg, iframe, object, embed').length"
            )
            == 0
        )
        opened.assert_clean()
    opened = open_page(browser, pages.clusters[0].path)
    assert "<img src=x onerror=alert('kind')>" in opened.page.inner_text("ul.legend")
    candidates = opened.page.evaluate(
        "(text) => window.network.body.data.nodes.get().filter(n => n.title.includes(text)).map(n => n.id)",
        payload,
    )
    assert candidates
    # Zoom in so that the node is not covered by its neighbours, then hover and click it.
    opened.page.evaluate(
        "(id) => window.network.focus(id, {scale: 3, animation: false})", candidates[0]
    )
    point = _point_at(opened, candidates[0])
    assert point is not None
    opened.page.mouse.move(*point)
    tooltip = opened.page.wait_for_selector("div.vis-tooltip", state="visible", timeout=5_000)
    assert payload in tooltip.inner_text()
    # innerText turns line breaks into <br>; anything else inside would be injected markup.
    assert (
        tooltip.evaluate(
            "el => [...el.querySelectorAll('*')].filter(e => e.tagName !== 'BR').length"
        )
        == 0
    )
    opened.page.mouse.click(*point)
    assert payload in opened.page.text_content("#details")
    assert opened.page.evaluate("document.querySelectorAll('#details *').length") == 0
    opened.screenshot("hostile_tooltip.png")
    opened.assert_clean()


def test_report_opens_offline_on_the_flagged_clusters(browser, run_dir: Path) -> None:
    """report.html runs only its labelling script, makes no request and shows the operations
    before the run details."""
    run = load_run(run_dir)
    flagged = run.clusters.filter(pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list()
    assert flagged
    opened = open_page(browser, run_dir / "report.html", wait_for_graph=False)
    page = opened.page
    assert page.evaluate("document.scripts.length") == 1
    headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.id)")
    assert headings[:3] == ["label", "clusters", "flagged"] and headings[-1] == "run"
    top = page.evaluate("id => document.getElementById(id).getBoundingClientRect().top", "run")
    for cluster_id in flagged:
        card = page.locator(f"#cluster-{cluster_id}")
        assert card.get_attribute("open") is not None
        box = card.bounding_box()
        assert box is not None and box["y"] < top
    closed = page.eval_on_selector_all("details.run", "ds => ds.map(d => d.open)")
    assert closed and not any(closed)
    # the run details' tables are collapsed: not rendered until opened
    assert page.locator("details.run table").first.is_visible() is False
    opened.screenshot("report.png")
    opened.assert_clean()


HOSTILE_NOTE = '=HYPERLINK("http://x") <img src=x onerror=alert(1)>, "quoted"'


def test_report_labels_operations_offline_and_downloads_the_decisions_rows(
    browser, run_dir: Path, tmp_path: Path
) -> None:
    """Pick decisions in the cards of a report full of attacker text, download the rows: the
    file is a decisions file the next run reads, formulas neutralised; nothing else ran."""
    from acctgraph.load.decisions import load_decisions
    from acctgraph.report.document import write_report

    target, _ = hostile_run(run_dir, tmp_path / "hostile")
    write_report(load_run(target), target)
    flagged = load_run(target).clusters.filter(pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list()
    assert len(flagged) >= 2
    opened = open_page(browser, target / "report.html", wait_for_graph=False)
    page = opened.page
    assert page.locator("#label-panel").is_visible()
    first, second = (page.locator(f"#cluster-{c} .decide") for c in flagged[:2])
    first.locator("select").select_option("benign")
    first.locator("input").fill(HOSTILE_NOTE)
    second.locator("select").select_option("under_review")
    assert page.text_content("#label-status") == "2 operations labelled"
    page.click("#label-download")  # no name yet: refused, nothing downloaded
    assert "decided by" in page.text_content("#label-status")
    page.fill("#label-by", "ana")
    with page.expect_download() as download:
        page.click("#label-download")
    path = tmp_path / "decisions.csv"
    download.value.save_as(path)
    assert download.value.suggested_filename.startswith("decisions-")
    decisions = load_decisions(path)
    assert decisions.select("target", "decision", "decided_by").rows() == [
        (flagged[0], "benign", "ana"),
        (flagged[1], "under_review", "ana"),
    ]
    assert decisions["note"].to_list() == ["'" + HOSTILE_NOTE, ""]
    assert decisions["decided_time"].null_count() == 0
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    opened.screenshot("report_labelling.png")
    opened.assert_clean()
