"""The investigation report: present after a run, offline, escaped, capped, deterministic."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from markupsafe import escape

from acctgraph.cards import CARDS_DIR, CARDS_JSON, TABLES, Cards, load_cards
from acctgraph.cli import cli
from acctgraph.core import schema as S
from acctgraph.core.tables import safe_for_spreadsheet
from acctgraph.load import dataset_from_frames, load_dataset
from acctgraph.report.display import document_text, markdown_escape
from acctgraph.report.document import (
    ReportParams,
    labelling_script,
    render_report,
    report_view,
    write_report,
)
from acctgraph.run.config import Config
from acctgraph.run.pipeline import run_pipeline
from acctgraph.run.write import write_outputs
from acctgraph.runfolder import Run, load_run
from acctgraph.simulate import FRAUD_KIND, HOSTILE_STRINGS, simulate_frames

SEED = 5
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
HIDDEN = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)
ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "nav",
    "h1",
    "h2",
    "h3",
    "p",
    "a",
    "strong",
    "code",
    "span",
    "div",
    "br",
    "table",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    "figure",
    "figcaption",
    "svg",
    "line",
    "rect",
    "text",
    # the labelling form and its one script (checked below)
    "section",
    "label",
    "select",
    "option",
    "input",
    "button",
    "script",
}
ALLOWED_HREF = re.compile(
    r"^(#cluster-op-\d{6,}|#[a-z]+|graphs/cluster_op-\d{6,}\.html|graphs/overview\.html)$"
)
MARKDOWN_TAGS = re.compile(
    r'^<(a id="cluster-op-\d{6,}">|/a>|br>|details>|/details>|summary>|/summary>)'
)


@pytest.fixture(scope="module")
def world():
    return simulate_frames("tiny", seed=SEED)


@pytest.fixture(scope="module")
def world_dir(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world as Parquet files, so that run.json records real paths and checksums."""
    accounts, exchanges, _ = world
    folder = tmp_path_factory.mktemp("report_world")
    accounts.write_parquet(folder / "accounts.parquet")
    exchanges.write_parquet(folder / "exchanges.parquet")
    return folder


@pytest.fixture(scope="module")
def plain_out(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report_run")
    write_outputs(run_pipeline(load_dataset(world_dir), config=Config()), out)
    return out


@pytest.fixture(scope="module")
def plain_run(plain_out: Path) -> Run:
    return load_run(plain_out)


HOSTILE_PROMPT = " <script>alert(document.domain)</script> \u202eevil\u202c"
HOSTILE_PAYMENT = "<img src=x onerror=alert(1)>"
HOSTILE_DEVICE = '"><svg onload=alert(1)>'


@pytest.fixture(scope="module")
def hostile_out(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The largest operator's accounts carry hostile names, emails, card, device and prompts."""
    accounts, exchanges, labels = world
    fraud = labels.filter(pl.col(S.KIND) == FRAUD_KIND)
    operator = (
        fraud.group_by(S.OPERATOR_ID)
        .len()
        .sort("len", S.OPERATOR_ID, descending=[True, False])[0, 0]
    )
    ids = sorted(fraud.filter(pl.col(S.OPERATOR_ID) == operator)[S.ACCOUNT_ID].to_list())
    names = {a: HOSTILE_STRINGS[i % len(HOSTILE_STRINGS)] for i, a in enumerate(ids)}
    in_operator = pl.col(S.ACCOUNT_ID).is_in(ids)
    accounts = accounts.with_columns(
        pl.col(S.ACCOUNT_ID)
        .replace_strict(names, default=pl.col(S.DISPLAY_NAME))
        .alias(S.DISPLAY_NAME),
        pl.when(in_operator)
        .then(pl.lit("<b>x</b>@evil.example"))
        .otherwise(pl.col(S.EMAIL))
        .alias(S.EMAIL),
        pl.when(in_operator)
        .then(pl.lit(HOSTILE_PAYMENT))
        .otherwise(pl.col(S.PAYMENT_FINGERPRINT))
        .alias(S.PAYMENT_FINGERPRINT),
        pl.when(in_operator)
        .then(pl.lit(HOSTILE_DEVICE))
        .otherwise(pl.col(S.DEVICE_ID))
        .alias(S.DEVICE_ID),
    )
    exchanges = exchanges.with_columns(
        pl.when(in_operator)
        .then(pl.col(S.PROMPT) + pl.lit(HOSTILE_PROMPT))
        .otherwise(pl.col(S.PROMPT))
        .alias(S.PROMPT)
    )
    out = tmp_path_factory.mktemp("hostile_report")
    write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges), config=Config()), out)
    return out


# =============================================================================
# Checks shared by the tests
# =============================================================================


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))


def assert_safe_html(html: str) -> None:
    """No script but the labelling script (pinned by its hash in the page's policy), no
    handler, no external reference, nothing invisible; links only inside the run."""
    labelling = labelling_script()
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.DOTALL | re.IGNORECASE)
    assert scripts == [str(labelling["script"])], "a script other than the labelling script"
    assert f"script-src '{labelling['hash']}'\">" in html
    assert html.lower().count("<script") == 1
    html = html.replace(str(labelling["script"]), "")
    lower = html.lower()
    assert not re.search(r"https?://", html)
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*//""", lower)
    # outside quoted attribute values, no tag has an event handler
    unquoted = re.sub(r'"[^"]*"', '""', lower)
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", unquoted), "an event-handler attribute in a tag"
    assert "javascript:" not in " ".join(re.findall(r'(?:href|src)="[^"]*"', lower))
    assert not HIDDEN.search(html), "an invisible or bidi character reached the page"
    assert "built-in method" not in html
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name != "src", (tag, name, value)
            if name == "href":
                assert value and ALLOWED_HREF.match(value), value


def _unescaped(text: str, char: str) -> list[int]:
    """Positions of ``char`` not preceded by an odd number of backslashes."""
    found = []
    for match in re.finditer(re.escape(char), text):
        start = position = match.start()
        while position > 0 and text[position - 1] == "\\":
            position -= 1
        if (start - position) % 2 == 0:
            found.append(start)
    return found


def assert_safe_markdown(markdown: str) -> None:
    """No raw HTML but the template's own, no external URL, tables keep their columns."""
    assert not re.search(r"https?://", markdown)
    assert not HIDDEN.search(markdown)
    assert "built-in method" not in markdown
    for position in _unescaped(markdown, "<"):
        assert MARKDOWN_TAGS.match(markdown[position:]), markdown[position : position + 60]
    width = None
    for line in markdown.split("\n"):
        if not line.startswith("|"):
            width = None
            continue
        pipes = len(_unescaped(line, "|"))
        width = width or pipes
        assert pipes == width, line[:200]


def _render(run: Run, cards: Cards, params: ReportParams | None = None) -> tuple[str, str]:
    return render_report(report_view(run, cards, out=run.path, params=params))


class _Outline(HTMLParser):
    """Element ids and text runs in document order, each with the ``<details>`` around it.

    ``entries`` holds ``(kind, value, around)``: kind ``"id"`` or ``"text"``, and
    ``around`` the open/closed state of every enclosing ``<details>``, outermost first.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.details: list[bool] = []
        self.entries: list[tuple[str, str, tuple[bool, ...]]] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs) -> None:
        self.in_script = tag == "script"
        names = dict(attrs)
        if names.get("id"):
            self.entries.append(("id", str(names["id"]), tuple(self.details)))
        if tag == "details":
            self.details.append("open" in names)

    def handle_endtag(self, tag) -> None:
        self.in_script = False
        if tag == "details":
            self.details.pop()

    def handle_data(self, data) -> None:
        if data.strip() and not self.in_script:
            self.entries.append(("text", data.strip(), tuple(self.details)))

    def position(self, element_id: str) -> int:
        return self.entries.index(("id", element_id, ()))


def _outline(html: str) -> _Outline:
    outline = _Outline()
    outline.feed(html)
    outline.close()
    assert outline.details == [], "a <details> is not closed"
    return outline


def _headings(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)


# =============================================================================
# The report of a run
# =============================================================================


def test_a_run_writes_the_report(plain_out: Path, plain_run: Run) -> None:
    html = (plain_out / "report.html").read_text(encoding="utf-8")
    markdown = (plain_out / "report.md").read_text(encoding="utf-8")
    cards = load_cards(plain_run)
    for cid in cards.clusters[S.CLUSTER_ID].to_list():
        assert f'id="cluster-{cid}"' in html
        assert f'<a id="cluster-{cid}"></a>' in markdown
        assert f'href="#cluster-{cid}"' in html
    assert plain_run.record["inputs"] and plain_run.record["warnings"]
    assert all(len(item["sha256"]) == 64 for item in plain_run.record["inputs"])
    for item in plain_run.record["inputs"]:
        assert item["sha256"] in html and item["sha256"] in markdown
    for warning in plain_run.record["warnings"]:
        assert warning["code"] in html and markdown_escape(warning["code"]) in markdown
    assert f"seed {plain_run.record['seed']}" in html
    assert (plain_out / CARDS_JSON).is_file()
    stages = [t["stage"] for t in plain_run.record["timing"]]
    assert {"template_samples", "cards", "report"} <= set(stages) and stages[-1] == "report"


def test_the_report_is_offline_and_well_formed(plain_out: Path) -> None:
    assert_safe_html((plain_out / "report.html").read_text(encoding="utf-8"))
    assert_safe_markdown((plain_out / "report.md").read_text(encoding="utf-8"))


def test_the_report_links_existing_graph_pages_only(plain_out: Path) -> None:
    html = (plain_out / "report.html").read_text(encoding="utf-8")
    pages = {p.stem.removeprefix("cluster_") for p in (plain_out / "graphs").glob("cluster_*.html")}
    linked = set(re.findall(r'href="graphs/cluster_(op-\d+)\.html"', html))
    assert pages, "the run wrote no graph page: nothing to check"
    assert linked <= pages
    sections = set(load_cards(load_run(plain_out)).clusters[S.CLUSTER_ID].to_list())
    assert linked >= (pages & sections)


def test_charts_are_inline_svg_and_hour_bars_match_the_cards(
    plain_out: Path, plain_run: Run
) -> None:
    html = (plain_out / "report.html").read_text(encoding="utf-8")
    cards = load_cards(plain_run)
    first = cards.clusters[S.CLUSTER_ID][0]
    section = html.split(f'id="cluster-{first}"', 1)[1].split('<details class="cluster"', 1)[0]
    assert section.count("<svg") == 3
    assert "<img" not in html
    hours = cards.hours.filter(pl.col(S.CLUSTER_ID) == first)[S.N_EVENTS].to_list()
    assert hours
    titles = re.findall(r"<title>(\d\d):00–\d\d:59 UTC: ([\d,]+) exchanges</title>", section)
    assert [int(n.replace(",", "")) for _, n in titles] == hours


def test_the_report_is_deterministic(world_dir: Path, plain_out: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_outputs(run_pipeline(load_dataset(world_dir), config=Config()), again)
    names = [
        "report.html",
        "report.md",
        CARDS_JSON,
        "profiles/cluster_templates.parquet",
        "profiles/template_samples.parquet",
    ] + [f"{CARDS_DIR}/{t}.parquet" for t in TABLES]
    for name in names:
        assert (plain_out / name).read_bytes() == (again / name).read_bytes(), name
    # and rendering twice from the folder gives the same bytes as the run wrote
    write_report(load_run(again), again)
    assert (again / "report.html").read_bytes() == (plain_out / "report.html").read_bytes()


def test_cli_report_rewrites_the_report(plain_out: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(plain_out, copy)
    (copy / "report.html").unlink()
    (copy / "report.md").unlink()
    result = CliRunner().invoke(cli, ["report", "--run", str(copy)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert (copy / "report.html").read_bytes() == (plain_out / "report.html").read_bytes()
    assert (copy / "report.md").read_bytes() == (plain_out / "report.md").read_bytes()


def test_cli_report_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    """The installed command exits 2 and names the folder and what to do; no traceback."""
    acctgraph = Path(sys.executable).parent / "acctgraph"
    done = subprocess.run(
        [str(acctgraph), "report", "--run", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert str(tmp_path) in done.stderr
    assert "is not a finished acctgraph run (no run.json)" in done.stderr
    assert "run `acctgraph run` first" in done.stderr
    assert not (tmp_path / "report.html").exists()


def test_many_clusters_are_capped_and_collapsed(plain_run: Run) -> None:
    cards = load_cards(plain_run)
    params = ReportParams(ranked_rows=2, ranked_open=1, members_shown=1)
    html, markdown = _render(plain_run, cards, params)
    n_flagged = int(plain_run.clusters[S.FLAGGED].sum())
    ranked = markdown.split("## Clusters ranked by score", 1)[1].split("## Flagged clusters", 1)[0]
    row = re.compile(r"^\| \[?(op-\d+)(?:\]\(#cluster-\1\))? \|", flags=re.MULTILINE)
    shown = row.findall(ranked)
    ordered = plain_run.clusters.sort(S.CLUSTER_ID)
    expected = ordered.filter(pl.col(S.FLAGGED) | (pl.int_range(pl.len()) < 2))[S.CLUSTER_ID]
    assert shown == expected.to_list()
    assert n_flagged <= len(shown) <= n_flagged + 2
    assert "all are in `clusters.csv`" in markdown
    assert "more clusters</summary>" in html
    assert "more: <code>members.csv</code>" in html
    assert html.count('<details class="cluster"') == cards.clusters.height
    assert html.count('<details class="cluster" id=') == html.count("<summary>Cluster ")
    n_open = len(re.findall(r'<details class="cluster" id="cluster-op-\d+" open>', html))
    assert n_open == int(cards.clusters[S.FLAGGED].sum())
    assert_safe_html(html)
    assert_safe_markdown(markdown)


# =============================================================================
# The order: the operations first, the run details last and collapsed
# =============================================================================


def _flagged_ids(run: Run, cards: Cards) -> tuple[list[int], list[int]]:
    """Carded cluster ids, flagged ones and the others (both non-empty on the test world)."""
    carded = cards.clusters.sort(S.CLUSTER_ID)
    flagged = carded.filter(pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list()
    others = carded.filter(~pl.col(S.FLAGGED))[S.CLUSTER_ID].to_list()
    assert flagged and others, "the test world needs flagged and unflagged carded clusters"
    return flagged, others


def test_the_html_report_opens_on_the_flagged_clusters(plain_out: Path, plain_run: Run) -> None:
    html = (plain_out / "report.html").read_text(encoding="utf-8")
    flagged, others = _flagged_ids(plain_run, load_cards(plain_run))
    outline = _outline(html)
    at = outline.position
    assert at("top") < at("clusters") < at("flagged") < at("others") < at("run")
    for cid in flagged:
        assert at("flagged") < at(f"cluster-{cid}") < at("others"), cid
    for cid in others:
        assert at("others") < at(f"cluster-{cid}") < at("run"), cid
    # the headline, before the ranking, counts the flagged clusters and their accounts
    clusters = plain_run.clusters.filter(pl.col(S.FLAGGED))
    head = html.split('<h2 id="clusters">', 1)[0]
    assert (
        f"<strong>{clusters.height}</strong> clusters flagged, "
        f"<strong>{int(clusters['size'].sum()):,}</strong> accounts in them"
    ) in head
    # nothing of the run summary comes before the run details
    for item in plain_run.record["inputs"]:
        assert item["sha256"] not in html.split('<h2 id="run">', 1)[0]
    for warning in plain_run.record["warnings"]:
        assert f">{warning['code']}<" not in html.split('<h2 id="run">', 1)[0]


def test_the_html_run_details_are_collapsed(plain_out: Path, plain_run: Run) -> None:
    html = (plain_out / "report.html").read_text(encoding="utf-8")
    outline = _outline(html)
    after = outline.entries[outline.position("run") :]
    visible = [value for kind, value, around in after if kind == "text" and all(around)]
    assert visible == ["Run details", "top"]
    hidden = {value for kind, value, around in after if kind == "text" and not all(around)}
    for item in plain_run.record["inputs"]:
        assert item["sha256"] in hidden
    for warning in plain_run.record["warnings"]:
        assert warning["code"] in hidden
    assert "seed" in hidden and str(plain_run.record["seed"]) in hidden  # the parameters table
    summaries = re.findall(r'<details class="run">\n<summary>([^<]+)', html)
    assert summaries == [
        "Inputs and row counts ",
        "Input warnings ",
        "Hub values ",
        "Parameters ",
        "Community detection",
        "Versions",
    ]
    assert '<details class="run" open' not in html


def test_the_markdown_report_opens_on_the_flagged_clusters(plain_out: Path, plain_run: Run) -> None:
    markdown = (plain_out / "report.md").read_text(encoding="utf-8")
    flagged, others = _flagged_ids(plain_run, load_cards(plain_run))
    assert _headings(markdown) == [
        "Clusters ranked by score",
        "Flagged clusters",
        "Other clusters with evidence cards",
        "Run details",
    ]
    head, rest = markdown.split("## Flagged clusters\n", 1)
    flagged_part, rest = rest.split("## Other clusters with evidence cards\n", 1)
    others_part, run_part = rest.split("## Run details\n", 1)
    clusters = plain_run.clusters.filter(pl.col(S.FLAGGED))
    assert (
        f"**{clusters.height}** clusters flagged, "
        f"**{int(clusters['size'].sum()):,}** accounts in them"
    ) in head.split("## Clusters ranked by score", 1)[0]
    assert re.findall(r'<a id="cluster-(op-\d+)"></a>', flagged_part) == [str(c) for c in flagged]
    assert re.findall(r'<a id="cluster-(op-\d+)"></a>', others_part) == [str(c) for c in others]
    assert "<a id=" not in run_part and "<a id=" not in head
    for item in plain_run.record["inputs"]:
        assert item["sha256"] not in head + flagged_part + others_part
        assert item["sha256"] in run_part
    for warning in plain_run.record["warnings"]:
        assert markdown_escape(warning["code"]) in run_part


def test_a_run_without_flagged_clusters_says_so(plain_out: Path) -> None:
    run = load_run(plain_out)
    record = dict(run.record)
    record["rows"] = {**record["rows"], "flagged_clusters": 0, "flagged_accounts": 0}
    run.record = record  # a run.json whose clusters were not flagged
    cards = load_cards(run)
    cards = dataclasses.replace(
        cards, clusters=cards.clusters.with_columns(pl.lit(False).alias(S.FLAGGED))
    )
    html, markdown = _render(run, cards)
    assert "<strong>No</strong> cluster flagged" in html
    assert "No cluster was flagged in this run." in html
    assert "**No** cluster flagged" in markdown
    assert "No cluster was flagged in this run." in markdown
    assert '<details class="cluster" id="cluster-op-000001" open>' not in html
    at = _outline(html).position
    assert at("flagged") < at("others") < at("cluster-op-000001") < at("run")
    assert _headings(markdown)[1:] == [
        "Flagged clusters",
        "Other clusters with evidence cards",
        "Run details",
    ]
    assert_safe_html(html)
    assert_safe_markdown(markdown)


# =============================================================================
# Attacker-controlled text
# =============================================================================


def test_hostile_values_reach_the_report_escaped(hostile_out: Path) -> None:
    html = (hostile_out / "report.html").read_text(encoding="utf-8")
    markdown = (hostile_out / "report.md").read_text(encoding="utf-8")
    assert_safe_html(html)
    assert_safe_markdown(markdown)
    # the data is there, escaped: payment, device, prompt and display names
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(document.domain)&lt;/script&gt;" in html
    assert "\\u202eevil\\u202c" in html
    assert "\\<img src=x onerror=alert(1)\\>" in markdown
    assert "\\<script\\>alert(document.domain)\\</script\\>" in markdown
    # raw, nowhere; escaped, in the evidence cards above the run details
    for raw in (HOSTILE_PAYMENT, HOSTILE_DEVICE, HOSTILE_PROMPT.strip(), "<b>x</b>"):
        assert raw not in html and raw not in markdown, raw
    cards_part = html.split('<h2 id="flagged">', 1)[1].split('<h2 id="run">', 1)[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in cards_part
    assert "&lt;b&gt;x&lt;/b&gt;@evil.example" in cards_part


def _hostile_cards(cards: Cards, text: str) -> Cards:
    """Every attacker-controllable text of the cards replaced by ``text``."""

    def put(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
        return frame.with_columns(pl.lit(text, pl.String).alias(c) for c in columns)

    return dataclasses.replace(
        cards,
        clusters=put(cards.clusters, "summary"),
        values=put(cards.values, S.VALUE, S.ATTRIBUTE_KIND, "hub_action"),
        kinds=put(cards.kinds, S.ATTRIBUTE_KIND),
        templates=put(cards.templates, S.VALUE),
        samples=put(cards.samples, S.PROMPT, S.ACCOUNT_ID),
        members=put(cards.members, S.ACCOUNT_ID, S.DISPLAY_NAME, S.EMAIL, S.COUNTRY, S.ORG_ID),
    )


@pytest.fixture(scope="module")
def two_cards(plain_run: Run) -> Cards:
    """The cards of the two best clusters only (keeps the 21 renders below quick)."""
    cards = load_cards(plain_run)
    keep = pl.col(S.CLUSTER_ID).is_in(cards.clusters[S.CLUSTER_ID].head(2).implode())
    return Cards(**{name: table.filter(keep) for name, table in cards.tables().items()})


@pytest.mark.parametrize("text", HOSTILE_STRINGS, ids=lambda s: repr(s[:24]))
def test_each_hostile_string_is_escaped_everywhere(
    plain_run: Run, two_cards: Cards, text: str
) -> None:
    cards = _hostile_cards(two_cards, text)
    html, markdown = _render(plain_run, cards, ReportParams(ranked_rows=5))
    assert_safe_html(html)
    assert_safe_markdown(markdown)
    visible = document_text(text)
    assert markdown_escape(visible) in markdown
    assert str(escape(visible)) in html
    if len(text) > 300:
        assert text not in html and text not in markdown
        assert "more characters)" in html and "more characters)" in markdown


@pytest.mark.parametrize("char", list(BIDI))
def test_bidi_controls_are_made_visible(char: str) -> None:
    value = document_text(f"abc{char}def")
    assert char not in value
    assert f"\\u{ord(char):04x}" in value


def test_long_strings_are_capped_with_a_count() -> None:
    long = HOSTILE_STRINGS[-1]
    value = document_text(long, limit=300)
    assert value.startswith(long[:300])
    assert value.endswith(f"… ({len(long) - 300:,} more characters)")


def test_urls_are_defanged() -> None:
    assert document_text('=HYPERLINK("http://x","y")') == '=HYPERLINK("http[:]//x","y")'
    assert document_text("go to www.evil.example") == "go to www[.]evil.example"


@pytest.mark.parametrize("text", HOSTILE_STRINGS, ids=lambda s: repr(s[:24]))
def test_csv_cells_of_hostile_strings_cannot_start_a_formula(text: str) -> None:
    cell = safe_for_spreadsheet(pl.DataFrame({"v": [text, " " + text]}))["v"].to_list()
    for value in cell:
        assert not re.match(r"^\s*[=+\-@]", value) and not re.match(r"^[\t\r\n\x00]", value), value
