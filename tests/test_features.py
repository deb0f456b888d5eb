"""Attribute kinds: email and prompt rules (units and properties), and the long table.

The IP rules are tested in tests/test_ip.py.
"""

from __future__ import annotations

import dataclasses
import re

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from acctgraph.core import schema as S
from acctgraph.core.errors import ConfigError
from acctgraph.features import PromptTemplate, attribute_table, compute_usage, default_features
from acctgraph.features.email import (
    FREE_MAIL_DOMAINS,
    PLUS_TAG_DOMAINS,
    email_domain,
    email_shape,
    email_table,
    normalise_email,
)
from acctgraph.features.prompt import (
    AGENTIC,
    CAPABILITIES,
    CODING,
    FILLER_WORDS,
    OTHER,
    REASONING,
    capability,
    normalised_prompt,
    template_band_columns,
    template_bands,
)
from acctgraph.load import dataset_from_frames

# =============================================================================
# Email
# =============================================================================


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  J.Smith+promo@GoogleMail.com ", "jsmith@gmail.com"),
        ("j.s.m.i.t.h@gmail.com", "jsmith@gmail.com"),
        ("jsmith+a+b@gmail.com", "jsmith@gmail.com"),
        ("JSMITH@GMAIL.COM", "jsmith@gmail.com"),
        ("j.smith@googlemail.com", "jsmith@gmail.com"),
        # plus tags dropped for listed providers, dots kept outside Gmail
        ("j.smith+news@outlook.com", "j.smith@outlook.com"),
        ("j.smith+news@icloud.com", "j.smith@icloud.com"),
        ("j.smith+news@fastmail.com", "j.smith@fastmail.com"),
        # providers not in the list keep the tag: it may be part of the mailbox
        ("j.smith+news@yahoo.com", "j.smith+news@yahoo.com"),
        ("j.smith+news@acme-corp.com", "j.smith+news@acme-corp.com"),
        ("\tAlice@Example.ORG\n", "alice@example.org"),
        ("a@b.co", "a@b.co"),
    ],
)
def test_normalise_email_rules(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "not an email",
        "alice",
        "@example.com",
        "alice@",
        "alice@example",
        "alice@example..com",
        "alice@-example.com",
        "alice@example-.com",
        "ali ce@example.com",
        "alice@exa mple.com",
        "alice@@example.com",
        "alice@example.com.",
        "+tag@gmail.com",
        "...@gmail.com",
        ".+x@googlemail.com",
        "alice@ex_ample.com",
    ],
)
def test_normalise_email_malformed_is_none(raw: str | None) -> None:
    assert normalise_email(raw) is None
    assert email_domain(raw) is None


@pytest.mark.parametrize("raw", ["abc\n@example.com", "j.smith\n@gmail.com"])
def test_normalise_email_rejects_whitespace_anywhere_in_local_part(raw: str) -> None:
    assert normalise_email(raw) is None


def test_plus_tag_rule_only_for_listed_providers() -> None:
    for domain in sorted(PLUS_TAG_DOMAINS):
        assert str(normalise_email(f"x.y+tag@{domain}")).split("@")[0].endswith("y")
    for domain in ("yahoo.com", "aol.com", "gmx.de", "example.com"):
        assert domain not in PLUS_TAG_DOMAINS
        assert normalise_email(f"x.y+tag@{domain}") == f"x.y+tag@{domain}"


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("J.Smith+promo@GoogleMail.com")
@example("a+b@gmail.com+c@gmail.com")
@example(".a.@gmail.com")
@example("İ@example.com")
def test_normalise_email_total_and_idempotent(raw: str) -> None:
    once = normalise_email(raw)
    if once is not None:
        assert normalise_email(once) == once
        assert once == once.strip()
        assert once.count("@") == 1


_EMAILISH = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(alphabet="abcXYZ019._+-", min_size=0, max_size=12),
    st.sampled_from(sorted(FREE_MAIL_DOMAINS | {"googlemail.com", "acme-corp.com", "Example.COM"})),
)


@settings(max_examples=300, deadline=None)
@given(_EMAILISH)
def test_normalise_email_idempotent_on_address_like_text(raw: str) -> None:
    once = normalise_email(raw)
    if once is not None:
        assert normalise_email(once) == once
        local, _, domain = once.rpartition("@")
        assert domain != "googlemail.com"
        if domain == "gmail.com":
            assert "." not in local and "+" not in local
        if domain in PLUS_TAG_DOMAINS:
            assert "+" not in local


@pytest.mark.parametrize(
    ("local", "shape"),
    [
        ("jsmith1987", "a6d4"),
        ("john.smith99", "a4.a5d2"),
        ("qwerty0042", "a6d4"),
        ("a_b-c+d", "a1_a1-a1+a1"),
        ("007", "d3"),
        ("x!y", "a1?a1"),
        ("", ""),
    ],
)
def test_email_shape_examples(local: str, shape: str) -> None:
    assert email_shape(local) == shape


_SHAPE = re.compile(r"^(?:a[0-9]+|d[0-9]+|[._+\-]|\?)*$")


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("é²!\u202e")
@example("ABC")
def test_email_shape_total_and_alphabet(local: str) -> None:
    shape = email_shape(local)
    assert set(shape) <= set("ad0123456789._-+?")
    assert _SHAPE.match(shape)


# =============================================================================
# Prompts
# =============================================================================


def _normalised(text: str | None) -> str | None:
    return pl.DataFrame({"p": [text]}, schema={"p": pl.String}).select(normalised_prompt("p"))["p"][
        0
    ]


def _bands(text: str) -> list[str]:
    return pl.DataFrame({"p": [text]}).select(template_bands("p").alias("t"))["t"][0].to_list()


def _capability(text: str) -> str:
    return pl.DataFrame({"p": [text]}).select(capability("p").alias("c"))["c"][0]


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("Please, WRITE a Python function parse_config_v2() that reads YAML files")
@example("\u202eevil\u202c reversed \u2066isolate\u2069 text")
@example("hi " * 200)
@example("can't won't shouldn't theThe THE the")
def test_normalised_prompt_total_and_idempotent(text: str) -> None:
    once = _normalised(text)
    assert once is not None
    assert _normalised(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert once == once.lower()


@settings(max_examples=10, deadline=None)
@given(st.text(min_size=2000, max_size=6000))
def test_normalised_prompt_long_text(text: str) -> None:
    once = _normalised(text)
    assert once is not None and len(once) <= 160


def _reference_words(text: str, *, max_chars: int, min_word: int) -> list[str]:
    """The skeleton's words as the module docstring defines them, in plain Python."""
    plain = re.compile(rf"[A-Z][a-z]{{{min_word - 1},}}|[a-z]{{{min_word},}}|[A-Z]{{{min_word},}}")
    tokens = re.findall(r"[A-Za-z0-9_]+", text[:max_chars])
    return [t.lower() for t in tokens if plain.fullmatch(t) and t.lower() not in set(FILLER_WORDS)]


_PROMPTISH = st.lists(
    st.sampled_from(
        list("abcXYZ_09 \t\n-.,!é\u212aK\u017fs")
        + ["camelCase", "HTTPServer", "Ab", "ABc", "aB"]
        + ["the ", "The ", "THE ", "these ", "then ", "thence ", "quic\u212a ", "please "]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(_PROMPTISH, min_size=1, max_size=20),
    max_chars=st.integers(1, 200),
    min_word=st.integers(1, 5),
    band_words=st.integers(1, 9),
    n_bands=st.integers(1, 4),
)
def test_normalised_prompt_and_bands_match_the_plain_definition(
    texts: list[str], max_chars: int, min_word: int, band_words: int, n_bands: int
) -> None:
    frame = pl.DataFrame({"p": texts}, schema={"p": pl.String})
    normalised = frame.select(normalised_prompt("p", max_chars=max_chars, min_word=min_word))
    bands = frame.select(
        template_band_columns(
            "p", max_chars=max_chars, min_word=min_word, band_words=band_words, n_bands=n_bands
        )
    ).rows()
    least = max(1, band_words // 2)
    for text, got, got_bands in zip(texts, normalised["p"], bands, strict=True):
        words = _reference_words(text, max_chars=max_chars, min_word=min_word)
        assert got == " ".join(words)
        chunks = [words[i * band_words : (i + 1) * band_words] for i in range(n_bands)]
        assert got_bands == tuple(" ".join(c) if len(c) >= least else None for c in chunks)


def test_normalised_prompt_null_stays_null() -> None:
    assert _normalised(None) is None


BASE = (
    "Write a Python function parse_config_v2 that reads 3 YAML files and returns a dictionary "
    "of settings keyed by section name"
)


@pytest.mark.parametrize(
    "variant",
    [
        BASE.upper(),
        BASE.lower(),
        BASE.title(),
        BASE.replace(" ", "  "),
        BASE.replace(" ", " \t "),
        "  " + BASE + "\n",
        BASE.replace("parse_config_v2", "load_user_data"),
        BASE.replace("parse_config_v2", "loadUserData"),
        BASE.replace("3", "12"),
        "please " + BASE,
        "Please, " + BASE,
        "hi " + BASE,
        "Hi! please: " + BASE,
        "Q: " + BASE,
        "hey, could you " + BASE,
    ],
)
def test_template_bands_ignore_noise(variant: str) -> None:
    expected = _bands(BASE)
    assert expected, "the base prompt must give at least one band"
    assert _bands(variant) == expected


@pytest.mark.parametrize(
    "text",
    [
        "of by hi an",
        "Of By Hi An",
        "OF BY HI AN",
        "go to an ox",
    ],
)
def test_words_shorter_than_min_word_are_dropped_whatever_their_case(text: str) -> None:
    assert _normalised(text) == ""


def test_template_bands_separate_unrelated_sentences() -> None:
    first = _bands(
        "Summarise the history of the Roman empire focusing on trade routes and coinage reforms"
    )
    second = _bands(
        "Recommend a vegetarian dinner recipe using mushrooms lentils spinach and roasted garlic"
    )
    assert first and second
    assert not set(first) & set(second)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write a Python function that parses JSON and add unit tests", CODING),
        ("Refactor this JavaScript class to remove the bug", CODING),
        (
            "You are an agent with shell access. Choose the next action and emit a tool_call",
            AGENTIC,
        ),
        ("Given the observation below, plan the steps and call the browser tool", AGENTIC),
        ("Think step by step and prove that the square root of 2 is irrational", REASONING),
        ("Explain each step of your reasoning for this riddle", REASONING),
        ("What is a good name for a golden retriever puppy?", OTHER),
        ("Tell me a joke about cats", OTHER),
    ],
)
def test_capability_classes(text: str, expected: str) -> None:
    assert _capability(text) == expected


def test_capability_first_match_wins_agentic_over_coding() -> None:
    assert _capability("Use the shell tool to run this Python script") == AGENTIC
    assert _capability("Think step by step about this Python code") == REASONING


# =============================================================================
# Usage and the long attribute table on a hand-made dataset
# =============================================================================


@pytest.fixture(scope="module")
def hand_dataset():
    accounts = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["a1", "a2", "a3"],
            S.CREATED_AT: ["2026-05-01T10:00:00Z", "2026-05-01T10:05:00Z", "2026-05-01T10:09:00Z"],
            S.EMAIL: [" Bob.Smith+x@GoogleMail.com", "alice@acme-corp.com", "carol@Acme-Corp.com"],
            S.PAYMENT_FINGERPRINT: ["card-1", "card-1", None],
            S.DEVICE_ID: [None, "dev-9", "dev-9"],
            S.SIGNUP_IP: ["10.0.0.5", "999.1.1.1", "81.2.69.10"],
        }
    )
    t = "2026-05-02T12:{:02d}:00Z"
    exchanges = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["a1", "a1", "a2", "a2", "a3", "a3", "a3"],
            S.TIMESTAMP: [t.format(i) for i in range(7)],
            S.IP: [
                "81.2.69.11",
                "192.168.1.1",
                "not-an-ip",
                "2a00:1450:4001:81c::200e",
                "fe80::1",
                "81.2.69.10",
                None,
            ],
            S.PROMPT: ["Write a Python function that reads YAML files and returns a dictionary"]
            * 7,
        }
    )
    return dataset_from_frames(accounts, exchanges)


@pytest.fixture(scope="module")
def hand_usage(hand_dataset):
    return compute_usage(hand_dataset)


@pytest.fixture(scope="module")
def hand_attributes(hand_usage):
    return attribute_table(hand_usage, default_features())


def _values(attributes: pl.DataFrame, kind: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for account, value in (
        attributes.filter(pl.col(S.ATTRIBUTE_KIND) == kind)
        .select(S.ACCOUNT_ID, S.VALUE)
        .iter_rows()
    ):
        out.setdefault(account, set()).add(value)
    return out


def test_ip_values_exclude_malformed_and_private(hand_attributes) -> None:
    assert _values(hand_attributes, "ip") == {
        "a1": {"81.2.69.11"},
        "a2": {"2a00:1450:4001:81c::200e"},
        "a3": {"81.2.69.10"},
    }
    assert _values(hand_attributes, "ip_range") == {
        "a1": {"81.2.69.0/24"},
        "a2": {"2a00:1450:4001:81c::/64", "2a00:1450:4001::/48"},
        "a3": {"81.2.69.0/24"},
    }
    a3_ip = hand_attributes.filter(
        (pl.col(S.ACCOUNT_ID) == "a3") & (pl.col(S.ATTRIBUTE_KIND) == "ip")
    )[S.N_EVENTS].to_list()
    assert a3_ip == [2]  # signup address and one exchange


def test_bad_ips_counted_in_warnings(hand_usage) -> None:
    warnings = hand_usage.warnings
    assert warnings.count("ip_malformed") == 2  # 999.1.1.1 at signup, not-an-ip on an exchange
    assert warnings.count("ip_not_global") == 3  # 10.0.0.5, 192.168.1.1, fe80::1
    records = {w["code"]: w for w in warnings.as_records()}
    assert set(records["ip_malformed"]["examples"]) == {"999.1.1.1", "not-an-ip"}
    assert set(records["ip_not_global"]["examples"]) == {"10.0.0.5", "192.168.1.1", "fe80::1"}


def test_email_kinds(hand_attributes) -> None:
    assert _values(hand_attributes, "email") == {
        "a1": {"bobsmith@gmail.com"},
        "a2": {"alice@acme-corp.com"},
        "a3": {"carol@acme-corp.com"},
    }
    # gmail.com is free mail: no linking value at all
    assert _values(hand_attributes, "email_domain") == {
        "a2": {"acme-corp.com"},
        "a3": {"acme-corp.com"},
    }
    assert _values(hand_attributes, "email_shape") == {
        "a1": {"a8@gmail.com"},
        "a2": {"a5@acme-corp.com"},
        "a3": {"a5@acme-corp.com"},
    }


def test_account_columns(hand_attributes) -> None:
    assert _values(hand_attributes, "payment") == {"a1": {"card-1"}, "a2": {"card-1"}}
    assert _values(hand_attributes, "device") == {"a2": {"dev-9"}, "a3": {"dev-9"}}


def test_attribute_table_contract(hand_attributes) -> None:
    assert dict(hand_attributes.schema) == S.ATTRIBUTES_SCHEMA
    keys = hand_attributes.select(S.ACCOUNT_ID, S.ATTRIBUTE_KIND, S.VALUE)
    assert keys.is_unique().all()
    assert hand_attributes.null_count().sum_horizontal()[0] == 0
    assert (hand_attributes[S.N_EVENTS] >= 1).all()


@pytest.mark.parametrize(
    "kind",
    [
        "payment",
        "device",
        "ip",
        "ip_range",
        "email",
        "email_domain",
        "email_shape",
        "prompt_template",
        "co_activity",
    ],
)
def test_disabling_a_kind_removes_its_rows(hand_usage, hand_attributes, kind: str) -> None:
    assert hand_attributes.filter(pl.col(S.ATTRIBUTE_KIND) == kind).height > 0
    features = tuple(
        dataclasses.replace(f, enabled=False) if f.kind == kind else f for f in default_features()
    )
    table = attribute_table(hand_usage, features)
    assert table.filter(pl.col(S.ATTRIBUTE_KIND) == kind).height == 0
    others = hand_attributes.filter(pl.col(S.ATTRIBUTE_KIND) != kind)
    order = [S.ATTRIBUTE_KIND, S.VALUE, S.ACCOUNT_ID]
    assert table.sort(order).equals(others.sort(order))


def test_all_kinds_disabled_gives_empty_table(hand_usage) -> None:
    table = attribute_table(
        hand_usage, [dataclasses.replace(f, enabled=False) for f in default_features()]
    )
    assert table.height == 0
    assert dict(table.schema) == S.ATTRIBUTES_SCHEMA


def test_digits_and_dots_garbage_is_malformed_not_a_shared_null_value() -> None:
    accounts = pl.DataFrame({S.ACCOUNT_ID: ["x1", "x2", "x3"]})
    exchanges = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["x1", "x2", "x3"],
            S.TIMESTAMP: ["2026-05-02T12:00:00Z"] * 3,
            S.IP: ["1.2.3", "01.2.3.4", "1.2.3.4.5"],
        }
    )
    dataset = dataset_from_frames(accounts, exchanges)
    usage = compute_usage(dataset)
    attributes = attribute_table(usage, default_features())
    assert attributes[S.VALUE].null_count() == 0
    assert (
        attributes.filter(pl.col(S.ATTRIBUTE_KIND).is_in(["ip", "ip_range", "co_activity"])).height
        == 0
    )
    assert usage.warnings.count("ip_malformed") == 3


_EMAIL_PIECES = st.sampled_from(
    list("abcXYZ019.+-_@ \t\n\x1c")
    + ["gmail.com", "googlemail.com", "outlook.com", "ex-ample.org", "é", "\u202e", "@@", "a.b+c"]
)
_EMAILISH = st.lists(_EMAIL_PIECES, max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_EMAILISH, max_size=20))
def test_vectorised_email_table_agrees_with_the_reference_rules(values: list[str]) -> None:
    table = email_table(pl.Series(values, dtype=pl.String))
    for raw, normalised, domain, shape in table.iter_rows():
        expected = normalise_email(raw)
        assert normalised == expected, raw
        if expected is not None:
            local, _, expected_domain = expected.rpartition("@")
            assert domain == expected_domain
            assert shape == f"{email_shape(local)}@{expected_domain}"
        else:
            assert domain is None and shape is None


def test_usage_twice_on_one_dataset_does_not_double_its_warnings() -> None:
    accounts = pl.DataFrame({S.ACCOUNT_ID: ["a", "b"]})
    exchanges = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["a", "b", "b"],
            S.TIMESTAMP: [1776852000] * 3,
            S.IP: ["10.0.0.1", "not-an-ip", "81.2.69.1"],
        }
    )
    dataset = dataset_from_frames(accounts, exchanges)
    compute_usage(dataset)
    first = {w["code"]: w["count"] for w in dataset.warnings.as_records()}
    compute_usage(dataset)
    assert {w["code"]: w["count"] for w in dataset.warnings.as_records()} == first
    assert first["ip_not_global"] == 1 and first["ip_malformed"] == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 300), min_size=4, max_size=4), st.integers(0, 5000)),
        min_size=1,
        max_size=20,
    )
)
def test_capability_estimates_add_up_and_are_exact_when_every_prompt_was_read(rows) -> None:
    from acctgraph.features.reduce import scaled_capabilities

    table = pl.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(len(rows))],
            "_sampled": [sum(counts) for counts, _ in rows],
            "n_exchanges": [sum(counts) + extra for counts, extra in rows],
            **{
                f"n_{name}": [counts[i] for counts, _ in rows]
                for i, name in enumerate(CAPABILITIES)
            },
        }
    ).filter(pl.col("_sampled") > 0)
    scaled = scaled_capabilities(table)
    columns = [f"n_{name}" for name in CAPABILITIES]
    assert (
        scaled.select(pl.sum_horizontal(columns)).to_series().to_list()
        == table["n_exchanges"].to_list()
    )
    exact = table.filter(pl.col("_sampled") == pl.col("n_exchanges"))
    assert (
        scaled.join(exact.select("account_id"), on="account_id")
        .select(columns)
        .equals(exact.select(columns))
    )
    # Each estimate is within one of the share scaled to the account's exchanges.
    share = table.select(
        (pl.col(c) * pl.col("n_exchanges") / pl.col("_sampled")).alias(c) for c in columns
    )
    assert (
        (scaled.select(columns).cast(pl.Float64) - share)
        .select(pl.all().abs().max())
        .max_horizontal()
        .item()
        or 0
    ) < 1.0


def _one_busy_account(n: int) -> pl.DataFrame:
    """``n`` exchanges of one account, each prompt a different template (its index in words)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    prompts = [" ".join(words[int(d)] for d in f"{i:08o}") for i in range(n)]
    return pl.DataFrame(
        {
            S.ACCOUNT_ID: ["busy"] * n,
            S.TIMESTAMP: [1776852000 + 60 * i for i in range(n)],
            S.PROMPT: prompts,
        }
    )


def test_prompt_sample_is_seeded_and_bounded_by_max_per_account() -> None:
    exchanges = _one_busy_account(2000)
    dataset = dataset_from_frames(pl.DataFrame({S.ACCOUNT_ID: ["busy"]}), exchanges)

    def sampled(**params) -> set[str]:
        usage = compute_usage(dataset, prompt=PromptTemplate(band_words=8, n_bands=1, **params))
        activity = usage.activity.row(0, named=True)
        assert sum(activity[f"n_{c}"] for c in CAPABILITIES) == 2000  # scaled to every exchange
        return set(usage.templates[S.VALUE].to_list())

    default = sampled(max_per_account=100)
    assert sampled(max_per_account=100) == default  # deterministic
    assert 50 <= len(default) <= 150  # each kept with probability 100 / 2000
    assert sampled(max_per_account=100, sample_seed=18) != default
    assert len(sampled(max_per_account=2000)) == 2000  # no more exchanges than that: all read
    assert sampled(max_per_account=2000, sample_seed=18) == sampled(max_per_account=2000)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sample_seed": -1}, "sample_seed must be in"),
        ({"sample_seed": 2**64}, "sample_seed must be in"),
        ({"max_per_account": 0}, "max_per_account must be at least 1"),
    ],
)
def test_prompt_sample_parameters_are_validated(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PromptTemplate(**params)


def test_capability_chars_decides_how_much_of_a_prompt_is_classified() -> None:
    from acctgraph.features.prompt import capability

    prompt = "x" * 50 + " write a python function that parses json"
    frame = pl.DataFrame({"prompt": [prompt]})
    assert frame.select(capability("prompt", max_chars=400)).item() == "coding"
    assert frame.select(capability("prompt", max_chars=40)).item() == "other"
    with pytest.raises(ConfigError, match="capability_chars"):
        PromptTemplate(capability_chars=0)


def test_client_families_are_counted_on_the_sample_and_absent_without_user_agents() -> None:
    """``Usage.clients``: every sampled exchange is counted once, by the family of its user
    agent (browser, program, unknown); the same for any number of account partitions; all
    unknown when the exchanges have no user-agent column."""
    agents = ["Mozilla/5.0 (X11; Linux)", "python-requests/2.32", None, "  ", "curl/8.5.0"]
    exchanges = pl.DataFrame(
        {
            S.ACCOUNT_ID: [f"u{i % 3}" for i in range(30)],
            S.TIMESTAMP: [f"2026-05-02T12:{i:02d}:00Z" for i in range(30)],
            S.PROMPT: ["write code"] * 30,
            S.USER_AGENT: [agents[i % 5] for i in range(30)],
        }
    )
    accounts = pl.DataFrame({S.ACCOUNT_ID: ["u0", "u1", "u2", "idle"]})
    whole = compute_usage(dataset_from_frames(accounts, exchanges)).clients
    assert whole.columns == ["account_id", "n_browser", "n_program", "n_unknown"]
    assert whole["account_id"].to_list() == ["u0", "u1", "u2"]  # sampled accounts only
    expected = {
        a: [sum(1 for i in range(30) if i % 3 == int(a[1]) and (i % 5) in fam) for fam in
            ({0}, {1, 4}, {2, 3})]
        for a in ("u0", "u1", "u2")
    }  # fmt: skip
    assert {r[0]: list(r[1:]) for r in whole.rows()} == expected
    parts = compute_usage(dataset_from_frames(accounts, exchanges), partitions=3).clients
    assert parts.equals(whole)
    bare = compute_usage(dataset_from_frames(accounts, exchanges.drop(S.USER_AGENT))).clients
    assert bare["n_unknown"].to_list() == [10, 10, 10]  # the loader gives a null column
    assert bare["n_browser"].sum() == bare["n_program"].sum() == 0


def test_reductions_refuse_exchanges_of_accounts_outside_the_table() -> None:
    """The reductions group by account key and map keys back through the accounts table: an
    exchange of an account the table lacks would be dropped, so it is refused instead (the
    loaders add such accounts to the universe, and then nothing is lost)."""
    import datetime as dt

    from acctgraph.core.diagnostics import WarningLog
    from acctgraph.load import Dataset

    t = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    accounts = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["a"],
            S.CREATED_AT: pl.Series([None], dtype=pl.Datetime("us", "UTC")),
            S.EMAIL: pl.Series([None], dtype=pl.String),
        }
    )
    exchanges = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["a", "z"],
            S.TIMESTAMP: [t, t],
            S.IP: ["81.2.69.1"] * 2,
            S.PROMPT: ["hi"] * 2,
        }
    )
    with pytest.raises(ValueError, match="accounts table lacks"):
        compute_usage(Dataset(accounts, exchanges.lazy(), WarningLog()))
    usage = compute_usage(dataset_from_frames(accounts, exchanges))
    assert usage.activity.sort(S.ACCOUNT_ID)["n_exchanges"].to_list() == [1, 1]


def test_hours_and_days_keep_account_then_time_order_across_the_epoch() -> None:
    # _hours and _daily group by one packed integer key; days before 1970 are negative.
    from datetime import UTC, datetime

    from acctgraph.features.reduce import _daily, _Hourly, _hours

    utc = UTC
    coded = pl.DataFrame(
        {
            "_hour": [
                datetime(1969, 12, 31, 23, tzinfo=utc),
                datetime(1900, 1, 1, 5, tzinfo=utc),
                datetime(2026, 5, 1, 7, tzinfo=utc),
                datetime(2026, 5, 1, 23, tzinfo=utc),
            ],
            S.N_EVENTS: pl.Series([1, 2, 3, 4], dtype=pl.UInt32),
            "_a": pl.Series([1, 0, 1, 1], dtype=pl.UInt32),
        }
    )
    hourly = _Hourly(coded=coded, ids=pl.Series(["a", "b"]))
    assert _daily(hourly).rows() == [
        ("a", datetime(1900, 1, 1).date(), 2),
        ("b", datetime(1969, 12, 31).date(), 1),
        ("b", datetime(2026, 5, 1).date(), 7),
    ]
    assert _hours(hourly).rows() == [("a", 5, 2), ("b", 7, 3), ("b", 23, 5)]
