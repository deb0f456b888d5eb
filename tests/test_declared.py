"""Declared attributes: parsing, normalisation, bad declarations, dirty values, event columns, links."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from acctgraph.cli import cli
from acctgraph.core.errors import ConfigError
from acctgraph.features.declared import (
    EventCoActivity,
    EventColumn,
    ExtraColumn,
    declaration,
    normalised_text,
    parse_declaration,
)
from acctgraph.graph.linkage import LinkageParams, link_records
from acctgraph.load import dataset_from_frames
from acctgraph.run.config import Config
from acctgraph.run.pipeline import run_pipeline
from acctgraph.simulate import simulate_frames

# --- parsing ---------------------------------------------------------------

_COLUMN = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_DECLARATIONS = st.one_of(
    st.builds(lambda c: c, _COLUMN),
    st.builds(lambda c: f"{c}:fuzzy", _COLUMN),
    st.builds(lambda c, t: f"{c}:fuzzy:{t:g}", _COLUMN, st.floats(0.01, 1.0, allow_nan=False)),
    st.builds(lambda c, t: f"{c}:number:{t:g}", _COLUMN, st.floats(0, 1e6, allow_nan=False)),
    st.builds(lambda c, t: f"{c}:date:{t}", _COLUMN, st.integers(0, 400)),
    st.builds(lambda c: f"exchanges.{c}:exact", _COLUMN),
    st.builds(lambda c: f"exchanges.{c}:profile", _COLUMN),
    st.builds(
        lambda c, n, u: f"exchanges.{c}:coactivity:{n}{u}",
        _COLUMN,
        st.integers(1, 90),
        st.sampled_from("smhd"),
    ),
)


@settings(max_examples=300, deadline=None)
@given(_DECLARATIONS)
def test_declaration_round_trips(text: str) -> None:
    feature = parse_declaration(text)
    assert parse_declaration(declaration(feature)) == feature
    assert declaration(parse_declaration(declaration(feature))) == declaration(feature)


@pytest.mark.parametrize(
    ("text", "kind", "cls"),
    [
        ("surname", "column:surname", ExtraColumn),
        ("accounts.surname:fuzzy", "column:surname", ExtraColumn),
        ("exchanges.ja3", "exchanges:ja3", EventColumn),
        ("exchanges.api_key:exact", "exchanges:api_key", EventColumn),
        ("exchanges.page:coactivity", "co_activity:page@10m", EventCoActivity),
    ],
)
def test_declaration_kinds(text: str, kind: str, cls: type) -> None:
    feature = parse_declaration(text)
    assert isinstance(feature, cls) and feature.kind == kind


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("surname:soundex", ("unknown comparison 'soundex'", "surname")),
        ("dob:date:soon", ("date tolerance must be a number of days", "'soon'")),
        ("name:fuzzy:1.5", ("fuzzy threshold must be in (0, 1]", "name")),
        ("amount:number:-1", ("tolerance must be non-negative", "amount")),
        ("email:exact:3", ("exact comparison takes no parameter",)),
        ("exchanges.page:coactivity:ten", ("window must be a number and a unit",)),
        ("exchanges.page:fuzzy", ("unknown comparison 'fuzzy'",)),
        ("ip:profile", ("exchanges columns: exchanges.COLUMN",)),
        ("a:b:c:d", ("expected [exchanges.]COLUMN",)),
        ("", ("expected COLUMN",)),
    ],
)
def test_bad_declarations_name_the_problem(text: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_declaration(text)
    for word in words:
        assert word in str(caught.value)


def test_a_column_declared_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="declared twice"):
        Config().with_overrides(attributes=["surname", "surname:fuzzy"])
    same = Config().with_overrides(attributes=["surname:fuzzy", "surname:fuzzy"])
    assert len(same.declared) == 1


def test_declarations_survive_toml() -> None:
    config = Config().with_overrides(
        attributes=["surname:fuzzy:0.85", "dob:date:2", "exchanges.ja3:coactivity:1h"]
    )
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    import tomllib

    assert Config.from_dict(tomllib.loads(config.to_toml())) == config


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalised_text_is_idempotent(raw: str) -> None:
    once = pl.select(normalised_text(pl.lit(raw, pl.String))).item()
    if once is None:
        return
    assert not once.startswith(" ") and not once.endswith(" ") and "  " not in once
    assert pl.select(normalised_text(pl.lit(once, pl.String))).item() == once


# --- runs ------------------------------------------------------------------


def _word(rng: random.Random, n: int = 7) -> str:
    return "".join(rng.choice("abcdefghijklmnoprstuvwyz") for _ in range(n))


def _records(folder: Path, rows: list[tuple[str, ...]]) -> Path:
    """A records-only input folder: these people as accounts, a header-only exchanges table."""
    folder.mkdir()
    pl.DataFrame(
        rows, schema=["account_id", "given_name", "surname", "dob", "house"], orient="row"
    ).write_csv(folder / "accounts.csv")
    pl.DataFrame(schema={"account_id": pl.String, "timestamp": pl.String}).write_csv(
        folder / "exchanges.csv"
    )
    return folder


def _people(tmp_path: Path) -> Path:
    """Three people recorded twice with typos, strangers who share a common name with them,
    a dirty date, and 200 other people (so that a value held by two is rare)."""
    rows = [
        ("p01", "Anna", "Kowalski", "1990-01-02", "12"),
        ("p01b", "anna ", "KOWALSKY", "1990-02-01", "12"),  # typo, day and month swapped
        ("p02", "Bob", "Smith", "1985-05-05", "3"),
        ("p02b", "Bob", "Smith", "1985-05-06", "3"),  # a day off
        ("p03", "Chen", "Wei", "1979-12-30", "7"),
        ("p03b", "Chen", "Wie", "1979-12-30", "7"),
        ("p04", "Dora", "Smith", "2001-07-07", "99"),
        ("p05", "Emil", "Smith", "1960-03-03", "14"),
        ("p06", "Anna", "Novak", "1995-08-08", "5"),
        ("p07", "Bob", "Jones", "1970-10-10", "21"),
        ("p08", "Fay", "Brown", "not a date", "2"),
    ]
    rng = random.Random(5)
    rows += [
        (
            f"q{i:03d}",
            _word(rng, 5),
            _word(rng),
            f"{rng.randint(1930, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            str(rng.randint(100, 9999)),
        )
        for i in range(200)
    ]
    return _records(tmp_path / "people", rows)


_PEOPLE = ["given_name:fuzzy", "surname:fuzzy:0.85", "dob:date:1", "house"]


ACCTGRAPH = Path(sys.executable).parent / "acctgraph"


def _exit(folder: Path, out: Path, attributes: list[str]) -> subprocess.CompletedProcess[str]:
    """The installed command, for its exit status (the CLI turns errors into status 2)."""
    args = [str(ACCTGRAPH), "run", str(folder), "--out", str(out), "--quiet"]
    for a in attributes:
        args += ["--attribute", a]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def _run(folder: Path, out: Path, attributes: list[str]) -> tuple[int, str]:
    args = ["run", str(folder), "--out", str(out), "--quiet"]
    for a in attributes:
        args += ["--attribute", a]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def test_records_are_linked_by_their_columns_and_explained(tmp_path: Path) -> None:
    folder = _people(tmp_path)
    code, output = _run(folder, tmp_path / "out", _PEOPLE)
    assert code == 0, output
    members = pl.read_parquet(tmp_path / "out" / "members.parquet")
    cluster = dict(members.select("account_id", "cluster_id").iter_rows())
    for a, b in (("p01", "p01b"), ("p02", "p02b"), ("p03", "p03b")):
        assert cluster[a] is not None and cluster[a] == cluster[b]
    # strangers sharing a common given name or surname stay apart
    assert cluster["p04"] != cluster["p02"] and cluster["p05"] != cluster["p02"]
    assert cluster["p06"] != cluster["p01"] and cluster["p07"] != cluster["p02"]
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["linkage"]["linked_pairs"] == 3
    unreadable = [w for w in record["warnings"] if w["code"] == "declared_value_unreadable"]
    assert unreadable and unreadable[0]["count"] == 1 and unreadable[0]["column"] == "dob"
    links = pl.read_parquet(tmp_path / "out" / "links.parquet")
    swapped = links.filter(
        (pl.col("account_a") == "p01") & (pl.col("attribute_kind") == "column:dob")
    )
    assert swapped["level"].to_list() == ["close"]
    # explain names the comparison and its figure
    result = CliRunner().invoke(cli, ["explain", "p01b", "--run", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "surname 'kowalsky' ~ 'kowalski', Jaro-Winkler" in result.output
    assert "day and month swapped" in result.output
    # expand from one record finds its twin first, with the comparisons
    (tmp_path / "seeds.csv").write_text("account_id\np03\n")
    result = CliRunner().invoke(
        cli,
        [
            "expand",
            "--run",
            str(tmp_path / "out"),
            "--seeds",
            str(tmp_path / "seeds.csv"),
            "--top",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    first = [line for line in result.output.splitlines() if line.strip().startswith("1 ")][0]
    assert "p03b" in first and " with p03: " in first and "dob equal ('1979-12-30')" in first


def test_graph_pages_and_report_name_the_comparisons(tmp_path: Path) -> None:
    folder = _people(tmp_path)
    assert _run(folder, tmp_path / "out", _PEOPLE)[0] == 0
    out = tmp_path / "out"
    members = pl.read_parquet(out / "members.parquet")
    cluster = members.filter(pl.col("account_id") == "p01")["cluster_id"][0]
    page = (out / "graphs" / f"cluster_{cluster}.html").read_text(encoding="utf-8")
    assert "record link: match probability" in page
    assert "surname 'kowalski' ~ 'kowalsky', Jaro-Winkler 0.95" in page
    assert "day and month swapped" in page
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Record linkage: how the members' declared columns compare" in report
    assert "fuzzy (Jaro-Winkler \\>= 0.85), record linkage" in report


def test_record_runs_are_deterministic(tmp_path: Path) -> None:
    folder = _people(tmp_path)
    for name in ("a", "b"):
        assert _run(folder, tmp_path / name, _PEOPLE)[0] == 0
    for table in ("members", "clusters", "evidence", "links"):
        assert (tmp_path / "a" / f"{table}.parquet").read_bytes() == (
            tmp_path / "b" / f"{table}.parquet"
        ).read_bytes()


@pytest.mark.parametrize(
    ("declared", "column"),
    [("surnames:fuzzy", "surnames"), ("exchanges.ja3", "ja3")],
)
def test_a_missing_column_is_exit_2_naming_it(tmp_path: Path, declared: str, column: str) -> None:
    done = _exit(_people(tmp_path), tmp_path / "out", [declared])
    assert done.returncode == 2, done.stderr
    assert f"no column '{column}'" in done.stderr


@pytest.mark.parametrize(
    ("declared", "words"),
    [
        (["dob:date:soon"], "date tolerance must be a number of days"),
        (["surname:soundex"], "unknown comparison 'soundex'"),
        (["surname:fuzzy", "house"], "needs record linkage, which compares at least 3"),
    ],
)
def test_a_bad_comparison_is_exit_2(tmp_path: Path, declared: list[str], words: str) -> None:
    done = _exit(_people(tmp_path), tmp_path / "out", declared)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and declared[0].split(":")[0] in done.stderr
    assert not (tmp_path / "out").exists()


def test_one_or_two_declared_columns_are_shared_values(tmp_path: Path) -> None:
    config = Config().with_overrides(attributes=["house", "dob"])
    assert config.linkage_columns == {}
    code, output = _run(_people(tmp_path), tmp_path / "out", ["house"])
    assert code == 0, output
    assert not (tmp_path / "out" / "links.parquet").exists()
    evidence = pl.read_parquet(tmp_path / "out" / "evidence.parquet")
    assert set(evidence["attribute_kind"]) == {"column:house"}


def test_common_values_alone_never_link() -> None:
    # 200 distinct people: common given names and towns, their own surname, id and phone;
    # six of them recorded twice (a typo in the surname). Only the six twins may link.
    n, twins = 200, 6
    rng = random.Random(3)
    given = [f"name{i % 8}" for i in range(n)] + [f"name{i % 8}" for i in range(twins)]
    town = [f"town{i % 5}" for i in range(n)] + [f"town{i % 5}" for i in range(twins)]
    surname = [_word(rng, 9) for _ in range(n)]
    surname += [w[:3] + w[4] + w[3] + w[5:] for w in surname[:twins]]  # a transposition
    ids = [f"id{i:03d}" for i in range(n)] + [f"id{i:03d}" for i in range(twins)]
    phones = [f"07{i:05d}" for i in range(n)] + [f"07{i:05d}" for i in range(twins)]
    total = n + twins
    values = pl.DataFrame(
        {
            "account_index": list(range(total)) * 5,
            "attribute_kind": [
                f"column:{k}"
                for k in ("given", "town", "surname", "id", "phone")
                for _ in range(total)
            ],
            "value": given + town + surname + ids + phones,
        }
    )
    links = link_records(
        values,
        {
            "column:given": ("fuzzy", 0.9),
            "column:town": ("exact", 0.0),
            "column:surname": ("fuzzy", 0.9),
            "column:id": ("exact", 0.0),
            "column:phone": ("exact", 0.0),
        },
        n_accounts=total,
        params=LinkageParams(),
    )
    assert sorted(links.pairs.select("source", "target").rows()) == [
        (i, n + i) for i in range(twins)
    ]


def test_event_columns_join_the_graph() -> None:
    accounts, exchanges, _ = simulate_frames("tiny", seed=3)
    # an API key shared by the first three accounts that send exchanges, only
    first = exchanges["account_id"].unique().sort().head(3)
    exchanges = exchanges.with_columns(
        pl.when(pl.col("account_id").is_in(first.implode()))
        .then(pl.lit("KEY-1"))
        .otherwise(pl.concat_str(pl.lit("key-"), pl.col("account_id")))
        .alias("api_key")
    )
    config = Config().with_overrides(
        attributes=["exchanges.api_key:exact", "exchanges.model", "exchanges.api_key:coactivity:1h"]
    )
    result = run_pipeline(dataset_from_frames(accounts, exchanges), config=config)
    assert set(result.usage.events["attribute_kind"].unique()) == {"api_key", "model", "api_key@1h"}
    # the corroborating kinds were in the attribute table the graph was built from
    assert "exchanges:model" in set(result.graph.values["attribute_kind"])
    assert "exchanges:api_key" in set(result.attributes["attribute_kind"])
    shared = result.graph.values.filter(pl.col("attribute_kind") == "exchanges:api_key")
    assert shared["value"].to_list() == ["key-1"] and shared["n_accounts"].to_list() == [3]
    members = result.scored.members.filter(pl.col("account_id").is_in(first.implode()))
    assert members["cluster_id"].n_unique() == 1 and members["cluster_id"][0] is not None
    assert config.feature("exchanges:model").infrastructure
    assert not config.feature("exchanges:api_key").infrastructure


def test_hostile_declared_values_are_escaped_everywhere(tmp_path: Path) -> None:
    # Records whose declared columns hold the project's hostile strings, each recorded twice
    # (a typo in one field), so that every hostile value reaches the links table, the cards,
    # the report, the graph pages and explain.
    from acctgraph.simulate import HOSTILE_STRINGS

    rng = random.Random(11)
    rows = []
    for i, text in enumerate(HOSTILE_STRINGS):
        house, dob = str(rng.randint(100, 9999)), f"19{50 + i}-0{1 + i % 9}-1{i % 10}"
        rows.append((f"h{i:02d}", text, _word(rng), dob, house))
        rows.append((f"h{i:02d}b", text, _word(rng, 7), dob, house))
    rows += [
        (f"q{i:03d}", _word(rng, 5), _word(rng), f"{rng.randint(1930, 2005)}-05-05", str(i))
        for i in range(200)
    ]
    folder = _records(tmp_path / "hostile", rows)
    out = tmp_path / "out"
    code, output = _run(folder, out, ["given_name:fuzzy", "surname:fuzzy", "dob:date", "house"])
    assert code == 0, output
    links = pl.read_parquet(out / "links.parquet")
    raw = set(links["value_a"].to_list()) | set(links["value_b"].to_list())
    assert "<script>alert(1)</script>" in raw  # Parquet keeps the raw (normalised) value
    # CSV: formulas neutralised
    for line in (out / "links.csv").read_text(encoding="utf-8").splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), line
    # HTML: no raw markup from a value in the report or a graph page
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in report and "<img src=x" not in report
    for page in (out / "graphs").glob("cluster_*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script>alert(1)</script>" not in text and "<img src=x" not in text
    # explain escapes for the terminal
    result = CliRunner().invoke(cli, ["explain", "h00", "--run", str(out)])
    assert result.exit_code == 0, result.output
    assert "record links on declared columns" in result.output.lower() or "Record links" in (
        result.output
    )
