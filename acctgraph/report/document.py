"""The investigation report: ``report.html`` and ``report.md`` from a finished run and its cards.

:func:`write_report` renders one view (:func:`report_view`) with two Jinja
templates in ``acctgraph/templates/``. The view is built from the run folder
and the evidence cards (:mod:`acctgraph.cards`) only; nothing is recomputed.
The report answers the investigator's question first. In order:

- a headline: how many clusters were flagged and how many accounts they hold;
- clusters ranked by score (every flagged one and the ``ranked_rows`` best),
  linking to each carded cluster's section and, when
  ``OUT/graphs/cluster_<id>.html`` exists, to its graph page;
- one section per flagged cluster (``id="cluster-<id>"``, open): the score
  as its signals, what the members share, behaviour figures and charts
  (signups, exchanges per day, hour of day) as inline SVG, the capability
  mix, the top prompt templates with sample prompts, and the first members;
  then the other carded clusters' sections, collapsed;
- the run details, last (collapsed ``<details>`` in HTML, a heading in
  Markdown): inputs with size and SHA-256, row counts, warnings with counts
  and examples, capped hub values, parameters, community detection, versions.

The HTML file makes no request: no external URL, inline SVG and CSS, and a
Content-Security-Policy of ``default-src 'none'`` as a second line of defence. Its
one script, ``templates/decide.js`` (labelling operations and downloading the rows
for a decisions file), is allowed by its SHA-256 in that policy and nothing else
can run; it reads only operation ids and the investigator's input and writes only
text (:func:`labelling_script`). Attacker-written text passes through
:func:`acctgraph.report.display.document_text` and the format's escaping (see that
module). No wall-clock time is rendered, so two runs on the same input give
byte-identical reports.

Examples
--------
>>> from acctgraph.simulate import simulate_frames
>>> from acctgraph.load import dataset_from_frames
>>> from acctgraph import run_pipeline, write_outputs
>>> from acctgraph.runfolder import load_run
>>> import tempfile, pathlib
>>> accounts, exchanges, _ = simulate_frames("tiny", seed=3)
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_outputs(run_pipeline(dataset_from_frames(accounts, exchanges)), out)
>>> paths = write_report(load_run(out), out)
>>> [p.name for p in paths]
['report.html', 'report.md']
>>> 'id="cluster-op-000001"' in (out / "report.html").read_text(encoding="utf-8")
True
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import polars as pl

from acctgraph.cards import Cards, load_cards
from acctgraph.cards.linkage import column_name, comparison_phrase
from acctgraph.cluster.score import AUTOMATION_SIGNALS
from acctgraph.cluster.track import CHANGES
from acctgraph.core import schema as S
from acctgraph.core.errors import InputError
from acctgraph.report.charts import Chart, hour_chart, time_chart
from acctgraph.report.display import (
    DOCUMENT_TEXT_LIMIT,
    document_lines,
    document_text,
    markdown_escape,
)
from acctgraph.runfolder import GRAPH_PAGES_DIR, OVERVIEW_PAGE, REPORT_HTML, REPORT_MD, Run

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HTML_TEMPLATE = "report.html.j2"
MARKDOWN_TEMPLATE = "report.md.j2"

_SIGNAL_TEXT = {
    "evidence": "what members share (strength and diversity)",
    "new_accounts": "accounts first active soon after creation",
    "signup_burst": "accounts created close together",
    "volume": "exchanges per account per active day",
    "round_the_clock": "traffic in the quietest hours",
    "template_concentration": "prompt templates sent by several members",
    "capability_targeting": "coding, agentic and reasoning traffic",
    "proxy_rotation": "IP ranges per account",
    "declared_organisation": "members of one declared organisation (discount)",
}


@dataclass(frozen=True, kw_only=True)
class ReportParams:
    """How much the report shows (the tables and cards hold the rest).

    Parameters
    ----------
    ranked_rows
        Clusters in the ranked table besides flagged ones (best scores first).
    ranked_open
        Rows of the ranked table shown before the rest is collapsed.
    members_shown
        Members listed per cluster section (the cards keep up to 100).
    text_limit
        Characters shown of any value (names, emails, attribute values).
    prompt_limit
        Characters shown of a sample prompt.
    changes_shown
        Operations listed under "Since the last run" (``changes.csv`` has them all).
    joined_shown
        Accounts listed per operation that gained accounts (``changed_members.csv`` has
        them all).
    """

    changes_shown: int = 100
    joined_shown: int = 10
    ranked_rows: int = 200
    ranked_open: int = 10
    members_shown: int = 50
    text_limit: int = DOCUMENT_TEXT_LIMIT
    prompt_limit: int = 600


# =============================================================================
# Formatting
# =============================================================================


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _fixed(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def _percent(value: Any) -> str:
    return "—" if value is None else f"{100.0 * float(value):.1f}%"


def _time(value: Any) -> str:
    """ISO 8601 (as in the cards) → ``2026-04-22 00:00 UTC``."""
    if value is None:
        return "—"
    text = str(value)
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 else text


def _parse(value: str) -> dt.datetime | dt.date:
    return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict) and value:
        rows = []
        for key in sorted(value):
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), value[key])
        return rows
    return [
        (
            prefix,
            json.dumps(value, sort_keys=True, ensure_ascii=False)
            if not isinstance(value, str)
            else value,
        )
    ]


# =============================================================================
# The view
# =============================================================================


def _graph_pages(out: Path) -> set[str]:
    folder = out / GRAPH_PAGES_DIR
    ids = set()
    if folder.is_dir():
        for path in folder.glob("cluster_*.html"):
            with contextlib.suppress(InputError):
                ids.add(S.parse_operation_id(path.stem.removeprefix("cluster_")))
    return ids


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _headline(record: dict[str, Any]) -> dict[str, Any]:
    """The report's first line: flagged clusters and the accounts in them, out of how many.

    ``lead`` is a list of ``(number, words)`` pairs (the templates embolden
    the number); ``context`` says what the numbers are out of.

    Examples
    --------
    >>> rows = {"flagged_clusters": 1, "flagged_accounts": 12, "clusters_out": 40, "accounts_in": 900}
    >>> _headline({"rows": rows})["lead"]
    [('1', 'cluster flagged'), ('12', 'accounts in it')]
    >>> _headline({"rows": {**rows, "flagged_clusters": 0, "flagged_accounts": 0}})["lead"]
    [('No', 'cluster flagged')]
    """
    rows = record.get("rows", {})
    clusters = rows.get("flagged_clusters")
    accounts = rows.get("flagged_accounts")
    context = (
        f"of {_count(rows.get('clusters_out'))} clusters "
        f"over {_count(rows.get('accounts_in'))} accounts"
    )
    if clusters == 0:
        return {"lead": [("No", "cluster flagged")], "context": context}
    lead = [(_count(clusters), f"{_plural(clusters or 0, 'cluster')} flagged")]
    lead.append(
        (
            _count(accounts),
            f"{_plural(accounts or 0, 'account')} in {'it' if clusters == 1 else 'them'}",
        )
    )
    return {"lead": lead, "context": context}


def _flag_rule(record: dict[str, Any]) -> str:
    """When a cluster is flagged, in words, from the run's ``score`` parameters ('' if absent).

    The rule is :func:`acctgraph.cluster.score.score_clusters`'s; thresholds from ``run.json``.
    """
    score = record.get("parameters", {}).get("score", {})
    try:
        threshold = float(score["flag_threshold"])
        size = int(score["min_flag_size"])
        automation = float(score["min_automation"])
    except (KeyError, TypeError, ValueError):
        return ""
    *first, last = AUTOMATION_SIGNALS
    return (
        f"A cluster is flagged when its score reaches {threshold:g}, it has at least {size:,} "
        f"accounts, and one of {', '.join(first)} and {last} (automation) reaches "
        f"{automation:g}."
    )


def _warning_summary(warnings: list[dict[str, Any]]) -> str:
    """``"6 kinds, 3,776 occurrences"``: the input warnings in one phrase ('' when there are none)."""
    if not warnings:
        return ""
    total = sum(int(w.get("count") or 0) for w in warnings)
    return (
        f"{len(warnings):,} {_plural(len(warnings), 'kind')}, "
        f"{total:,} {_plural(total, 'occurrence')}"
    )


def _run_summary(record: dict[str, Any], params: ReportParams) -> dict[str, Any]:
    limit = params.text_limit
    rows = record.get("rows", {})
    hubs = record.get("hubs", {})
    hub_values = hubs.get("values", [])
    return {
        "tool_version": document_text(record.get("versions", {}).get("acctgraph"), limit=limit),
        "seed": document_text(record.get("seed"), limit=limit),
        "rows_summary": (
            f"{_count(rows.get('accounts_in'))} accounts in, "
            f"{_count(rows.get('clusters_out'))} clusters out"
        ),
        "warning_summary": _warning_summary(record.get("warnings", [])),
        "inputs": [
            {
                "table": document_text(item.get("table"), limit=limit),
                "path": document_text(item.get("path"), limit=limit),
                "rows": _count(item.get("rows")),
                "size": _count(item.get("size_bytes")),
                "sha256": document_text(item.get("sha256"), limit=limit),
            }
            for item in record.get("inputs", [])
        ],
        "rows": [
            (document_text(name, limit=limit), _count(value))
            for name, value in sorted(rows.items())
        ],
        "warnings": [
            {
                "code": document_text(w.get("code"), limit=limit),
                "count": _count(w.get("count")),
                "message": document_text(w.get("message"), limit=limit),
                "where": document_text(
                    " / ".join(str(x) for x in (w.get("path"), w.get("column")) if x), limit=limit
                ),
                "examples": [document_text(x, limit=limit) for x in w.get("examples", [])],
            }
            for w in record.get("warnings", [])
        ],
        "parameters": [
            (document_text(k, limit=limit), document_text(v, limit=limit))
            for k, v in _flatten("", record.get("parameters", {}))
        ],
        "versions": [
            (document_text(k, limit=limit), document_text(v, limit=limit))
            for k, v in sorted(record.get("versions", {}).items())
        ],
        "detect": [
            (document_text(k, limit=limit), document_text(v, limit=limit))
            for k, v in _flatten("", record.get("detect", {}))
        ],
        "hubs": {
            "note": document_text(hubs.get("note"), limit=limit),
            "count": _count(hubs.get("count")),
            "by_kind": [
                (document_text(k, limit=limit), _count(v))
                for k, v in sorted(hubs.get("by_kind", {}).items())
            ],
            "top": [
                {
                    "kind": document_text(h.get("attribute_kind"), limit=limit),
                    "value": document_text(h.get("value"), limit=limit),
                    "accounts": _count(h.get("n_accounts")),
                    "cap": _count(h.get("hub_cap")),
                    "action": document_text(h.get("hub_action"), limit=limit),
                }
                for h in hub_values[:20]
            ],
            "more": _count(n_more)
            if (n_more := int(hubs.get("count", 0) or 0) - min(20, len(hub_values))) > 0
            else "",
        },
    }


def _ranked(
    clusters: pl.DataFrame, carded: set[str], graphs: set[str], params: ReportParams
) -> dict[str, Any]:
    chosen = clusters.sort([S.CLUSTER_SCORE, S.CLUSTER_ID], descending=[True, False]).filter(
        pl.col(S.FLAGGED) | (pl.int_range(pl.len()) < params.ranked_rows)
    )
    rows = [
        {
            "id": row[S.CLUSTER_ID],
            "size": _count(row["size"]),
            "score": _fixed(row[S.CLUSTER_SCORE]),
            "flagged": bool(row[S.FLAGGED]),
            "exchanges": _count(row["exchanges"]),
            "summary": document_text(row["summary"], limit=params.text_limit),
            "section": row[S.CLUSTER_ID] in carded,
            "graph": row[S.CLUSTER_ID] in graphs,
        }
        for row in chosen.select(
            S.CLUSTER_ID, "size", S.CLUSTER_SCORE, S.FLAGGED, "exchanges", "summary"
        ).iter_rows(named=True)
    ]
    return {
        "open": rows[: params.ranked_open],
        "collapsed": rows[params.ranked_open :],
        "shown": len(rows),
        "total": clusters.height,
        "more": clusters.height - len(rows),
        "flagged": int(clusters[S.FLAGGED].sum()),
    }


def _charts(card: dict[str, Any]) -> list[Chart]:
    charts = []
    signups = card["signups"]
    if signups:
        unit = signups[0]["bin"]
        charts.append(
            time_chart(
                [_parse(r["bin_start"]) for r in signups],
                [r["n_accounts"] for r in signups],
                bin=unit,
                title=f"accounts created per {unit} (UTC)",
                unit="accounts",
            )
        )
    daily = card["daily"]
    if daily:
        charts.append(
            time_chart(
                [_parse(r["day"]) for r in daily],
                [r["exchanges"] for r in daily],
                bin="day",
                title="exchanges per day (UTC)",
                unit="exchanges",
            )
        )
    hours = card["hours"]
    if hours:
        charts.append(
            hour_chart([r["n_events"] for r in hours], title="exchanges by hour of day (UTC)")
        )
    return charts


def _figures(card: dict[str, Any], burst_hours: float) -> list[tuple[str, str]]:
    size = card["size"]
    figures = [
        (
            "accounts created",
            (
                f"{_time(card['created_first'])} to {_time(card['created_last'])} "
                f"({card['accounts_with_created_at'] or 0:,} of {size:,} with a creation time)"
            ),
        ),
        (
            f"largest signup burst (within {burst_hours:g} h)",
            f"{card['burst_accounts']:,} accounts, {_time(card['burst_start'])} to {_time(card['burst_end'])}"
            if card["burst_accounts"]
            else "—",
        ),
        (
            "median account age at first activity",
            "—" if card["median_age_days"] is None else f"{card['median_age_days']:.1f} days",
        ),
        (
            "exchanges per account per active day",
            (
                f"median {_fixed(card['median_exchanges_per_active_day'], 1)}, "
                f"max {_fixed(card['max_exchanges_per_active_day'], 1)}"
            ),
        ),
        ("accounts with exchanges", f"{card['active_accounts'] or 0:,} of {size:,}"),
        ("days with activity", _count(card["active_days"])),
        ("exchanges", _count(card["exchanges"])),
        (
            "first and last activity",
            f"{_time(card['first_activity'])} to {_time(card['last_activity'])}",
        ),
    ]
    if card["templates"]:
        figures.append(
            (
                f"top {len(card['templates'])} templates' share of sampled prompt bands",
                _percent(card["top_templates_share"]),
            )
        )
    return figures


def _section(
    card: dict[str, Any], graphs: set[str], params: ReportParams, burst_hours: float
) -> dict[str, Any]:
    limit = params.text_limit
    cid = str(card[S.CLUSTER_ID])
    top_contribution = max((abs(s["contribution"]) for s in card["signals"]), default=0.0)
    samples: dict[int, list[dict[str, Any]]] = {}
    for sample in card["samples"]:
        samples.setdefault(sample["template_rank"], []).append(
            {
                "account": document_text(sample[S.ACCOUNT_ID], limit=limit),
                "time": _time(sample[S.TIMESTAMP]),
                "lines": document_lines(sample[S.PROMPT], limit=params.prompt_limit),
                "text": document_text(sample[S.PROMPT], limit=params.prompt_limit),
            }
        )
    members = card["members"][: params.members_shown]
    kind_order = {
        k["attribute_kind"]: i for i, k in enumerate(card["kinds"])
    }  # strongest kind first
    return {
        "id": cid,
        "decision": (card.get("decision") or "").replace("_", " "),
        "flagged": bool(card[S.FLAGGED]),
        "carded_because": card["carded_because"],
        "graph": cid in graphs,
        "size": _count(card["size"]),
        "score": _fixed(card[S.CLUSTER_SCORE]),
        "summary": document_text(card["summary"], limit=limit),
        "signals": [
            {
                "name": document_text(s["signal"], limit=limit),
                "meaning": _SIGNAL_TEXT.get(s["signal"], ""),
                "value": _fixed(s["signal_value"]),
                "weight": _fixed(s["weight"]),
                "contribution": _fixed(s["contribution"], 3),
                "bar": round(100.0 * abs(s["contribution"]) / top_contribution, 1)
                if top_contribution
                else 0.0,
                "negative": s["contribution"] < 0,
            }
            for s in card["signals"]
        ],
        "kinds": [
            {
                "kind": document_text(k["attribute_kind"], limit=limit),
                "comparison": document_text(k.get("comparison") or "", limit=limit),
                "kind_weight": _fixed(k["kind_weight"]),
                "n_values": _count(k["n_values"]),
                "top": _count(k["top_accounts_in_cluster"]),
                "top_share": _percent(k["top_share_of_members"]),
                "outside": _count(k["top_accounts_outside"]),
                "half": bool(k["held_by_half"]),
                "share": _percent(k["link_share"]),
                "contribution": _fixed(k["kind_contribution"], 3),
            }
            for k in card["kinds"]
        ],
        "shared": [
            {
                "kind": document_text(v["attribute_kind"], limit=limit),
                "value": document_text(v["value"], limit=limit),
                "inside": _count(v["accounts_in_cluster"]),
                "outside": _count(v["accounts_outside"]),
                "weight": _fixed(v["weight"], 3),
                "hub": document_text(v["hub_action"] or "", limit=limit),
            }
            for v in sorted(
                card["values"], key=lambda v: kind_order.get(v["attribute_kind"], len(kind_order))
            )
        ],
        "comparisons": [
            {
                "column": document_text(column_name(c["attribute_kind"]), limit=limit),
                "comparison": document_text(c["comparison"], limit=limit),
                "pairs": _count(c["pairs"]),
                "exact": _count(c["exact_pairs"]),
                "close": _count(c["close_pairs"]),
                "disagree": _count(c["disagree_pairs"]),
                "bits": _fixed(c["mean_bits"]),
                "example": document_text(
                    comparison_phrase(
                        c["attribute_kind"],
                        "close",
                        c["example_a"],
                        c["example_b"],
                        c["example_similarity"],
                        c["comparison"],
                    )
                    if c["example_a"] is not None
                    else "",
                    limit=limit,
                ),
            }
            for c in card.get("comparisons", [])
        ],
        "figures": _figures(card, burst_hours),
        "charts": _charts(card),
        "ages": [(a["age_bin"], _count(a["n_accounts"])) for a in card["ages"]],
        "capabilities": [
            (c["capability"], _count(c["n_exchanges"]), _percent(c["share"]))
            for c in card["capabilities"]
        ],
        "templates": [
            {
                "rank": t["template_rank"],
                "value": document_text(t["value"], limit=limit),
                "accounts": _count(t["accounts_in_cluster"]),
                "events": _count(t["n_events"]),
                "share": _percent(t["share"]),
                "samples": samples.get(t["template_rank"], []),
            }
            for t in card["templates"]
        ],
        "members": [
            {
                "account": document_text(m[S.ACCOUNT_ID], limit=limit),
                "created": _time(m[S.CREATED_AT]),
                "first_seen": _time(m["first_seen"]),
                "exchanges": _count(m["n_exchanges"]),
                "name": document_text(m[S.DISPLAY_NAME], limit=limit),
                "email": document_text(m[S.EMAIL], limit=limit),
                "country": document_text(m[S.COUNTRY], limit=limit),
                "org": document_text(m[S.ORG_ID], limit=limit),
            }
            for m in members
        ],
        "members_more": int(card["size"]) - len(members),
    }


def report_view(
    run: Run, cards: Cards, *, out: Path | None = None, params: ReportParams | None = None
) -> dict[str, Any]:
    """Everything the report templates render, as plain values (text already :func:`document_text`)."""
    params = params or ReportParams()
    out = Path(out) if out is not None else run.path
    record = run.record
    parameters = record.get("parameters", {})
    burst_hours = run.score_params.burst_hours
    prompt = parameters.get("features", {}).get("prompt_template", {})
    graphs = _graph_pages(out)
    carded = set(cards.clusters[S.CLUSTER_ID].to_list())
    # by score (ids are inherited across runs, so id order is not score order)
    ordered = sorted(
        cards.to_dicts(),
        key=lambda card: (-card[S.CLUSTER_SCORE], S.operation_number(card[S.CLUSTER_ID])),
    )
    sections = [_section(card, graphs, params, burst_hours) for card in ordered]
    attached = _attached_counts(run)
    merges = _merge_steps(run, params)
    for section in sections:
        count = attached.get(section["id"])
        section["attached"] = _count(count) if count else None
        section["merges"] = merges.get(section["id"], [])
    return {
        "title": "acctgraph investigation report",
        "headline": _headline(record),
        "flag_rule": _flag_rule(record),
        "run": _run_summary(record, params),
        "ranked": _ranked(run.clusters, carded, graphs, params),
        "since": _since(run, params),
        "labelling": labelling_script(),
        "decisions": _decisions(run, params),
        "sections": sections,
        "template_note": (
            f"share of the cluster's sampled prompt bands (at most "
            f"{prompt.get('max_per_account', '?')} prompts per account are sampled; each gives up "
            f"to {prompt.get('n_bands', '?')} bands of {prompt.get('band_words', '?')} words)"
        ),
        "members_shown": params.members_shown,
        "text_limit": params.text_limit,
        "overview": (out / GRAPH_PAGES_DIR / OVERVIEW_PAGE).is_file(),
    }


# =============================================================================
# Rendering
# =============================================================================


def _markdown_finalize(value: Any) -> Any:
    """Every expression of the Markdown template is escaped (numbers and booleans pass as text)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    return markdown_escape(value)


LABELLING_SCRIPT = "decide.js"


def labelling_script() -> dict[str, Any]:
    """The report's one script (labelling operations offline, ``templates/decide.js``) and
    the Content-Security-Policy source that allows it and nothing else (its SHA-256)."""
    text = (TEMPLATES / LABELLING_SCRIPT).read_text(encoding="utf-8")
    if "</" in text:  # it must not be able to close its own element
        raise AssertionError(f"{LABELLING_SCRIPT} must not contain '</'")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return {"script": markupsafe.Markup(text), "hash": f"sha256-{digest}"}


def _environment(markdown: bool) -> jinja2.Environment:
    options: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(TEMPLATES),
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    if markdown:
        return jinja2.Environment(autoescape=False, finalize=_markdown_finalize, **options)
    return jinja2.Environment(autoescape=True, **options)


def render_report(view: dict[str, Any]) -> tuple[str, str]:
    """The HTML and Markdown texts of a :func:`report_view`."""
    html = _environment(markdown=False).get_template(HTML_TEMPLATE).render(view)
    markdown = _environment(markdown=True).get_template(MARKDOWN_TEMPLATE).render(view)
    return html, markdown


def write_report(
    run: Run,
    out: str | Path | None = None,
    *,
    params: ReportParams | None = None,
    cards: Cards | None = None,
) -> list[Path]:
    """Write ``report.html`` and ``report.md`` for a finished run; returns their paths.

    Parameters
    ----------
    run
        A finished run (:func:`acctgraph.runfolder.load_run`).
    out
        Folder to write into (default: the run folder). Links to graph pages
        (``graphs/cluster_<id>.html``) are made for the pages that exist there.
    params
        :class:`ReportParams`.
    cards
        The run's cards (default: read from ``cards/``, or computed if the
        run has none).
    """
    out = Path(out) if out is not None else run.path
    cards = cards if cards is not None else load_cards(run)
    html, markdown = render_report(report_view(run, cards, out=out, params=params))
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / REPORT_HTML, out / REPORT_MD]
    for path, text in zip(paths, (html, markdown)):
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return paths


def _merge_steps(run: Run, params: ReportParams) -> dict[str, list[dict[str, str]]]:
    """The steps that merged flagged clusters into each cluster (:mod:`acctgraph.cluster.merge`),
    as display text; empty for runs without merges."""
    table = run.merges
    if table is None:
        return {}
    steps: dict[str, list[dict[str, str]]] = {}
    for row in table.sort(S.CLUSTER_ID, "step").iter_rows(named=True):
        steps.setdefault(row[S.CLUSTER_ID], []).append(
            {
                "step": _count(row["step"]),
                "accounts": _count(row["accounts"]),
                "into_accounts": _count(row["into_accounts"]),
                "overlap": _percent(row["template_overlap"]),
                "shared": _count(row["shared_templates"]),
                "top": document_text(row["top_template"], limit=params.text_limit),
                "divergence": _fixed(row["divergence"]),
                "differs_most": document_text(row["differs_most"], limit=params.text_limit),
                "first_account": document_text(row["first_account"], limit=params.text_limit),
            }
        )
    return steps


def _since(run: Run, params: ReportParams) -> dict[str, Any] | None:
    """The "since the last run" section (:mod:`acctgraph.cluster.track`); None for runs
    made without ``--previous``."""
    changes, moved = run.changes, run.changed_members
    if changes is None or moved is None:
        return None
    limit = params.text_limit
    joined: dict[str, list[str]] = {}
    for cluster_id, account in (
        moved.filter(pl.col("movement") == "joined").select(S.CLUSTER_ID, S.ACCOUNT_ID).iter_rows()
    ):
        joined.setdefault(cluster_id, []).append(account)
    counts = dict(changes.group_by("change").len().iter_rows())
    rows = []
    for row in changes.head(params.changes_shown).iter_rows(named=True):
        accounts = joined.get(row[S.CLUSTER_ID], [])
        rows.append(
            {
                "id": row[S.CLUSTER_ID],
                "change": row["change"],
                "related": document_text(row["related_ids"], limit=limit)
                if row["related_ids"]
                else "",
                "before": _count(row["accounts_before"]),
                "after": _count(row["accounts_after"]),
                "joined": _count(row["joined"]),
                "left": _count(row["left"]),
                "score": f"{_fixed(row['score_before'])} → {_fixed(row['score_after'])}",
                "flag_change": row["flag_change"] or "",
                "flagged": bool(row["flagged_after"]),
                "decision": (row["decision"] or "").replace("_", " "),
                "accounts": [
                    document_text(a, limit=limit) for a in accounts[: params.joined_shown]
                ],
                "accounts_more": max(0, len(accounts) - params.joined_shown),
            }
        )
    previous = next(
        (i.get("path") for i in run.record.get("inputs", []) if i.get("table") == "previous_run"),
        None,
    )
    return {
        "previous": document_text(str(Path(previous).parent), limit=limit) if previous else "",
        "counts": [(_count(counts[c]), c) for c in CHANGES if counts.get(c)],
        "rows": rows,
        "more": max(0, changes.height - len(rows)),
    }


def _decisions(run: Run, params: ReportParams) -> list[dict[str, str]] | None:
    """The decisions applied to this run and what each did; None without ``--decisions``."""
    table = run.decisions
    if table is None:
        return None
    limit = params.text_limit
    return [
        {
            "target": document_text(row["target"], limit=limit),
            "kind": row["target_kind"],
            "decision": row["decision"].replace("_", " "),
            "by": document_text(row["decided_by"], limit=limit),
            "at": document_text(row["decided_at"], limit=limit),
            "note": document_text(row["note"], limit=limit),
            "cluster": row[S.CLUSTER_ID] or "",
            "effect": document_text(row["effect"], limit=limit),
        }
        for row in table.iter_rows(named=True)
    ]


def _attached_counts(run: Run) -> dict[str, int]:
    """Members per cluster that joined by behaviour (:mod:`acctgraph.cluster.attach`); empty for older runs."""
    table = run.attached
    if table is None:
        return {}
    return {c: int(n) for c, n in table.group_by(S.CLUSTER_ID).len().iter_rows()}
