"""IP rules: one classification for the vectorised IPv4 path and the scalar path.

:func:`acctgraph.features.ip.classify_ips` sends dotted quads through polars
expressions (``_classify_v4_vectorised``) and everything else, IPv6 and
IPv4-mapped IPv6 included, through :mod:`ipaddress` one value at a time
(``_classify_scalar``). Both must give one answer per address, the one of the
IANA special-purpose registries (``SPECIAL_PURPOSE_RANGES``), whichever path and
whichever spelling of the address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from acctgraph.features.ip import (
    MALFORMED,
    NOT_GLOBAL,
    OK,
    SPECIAL_PURPOSE_RANGES,
    _classify_other,
    _classify_scalar,
    classify_ips,
)

Row = tuple[str, str | None, str | None, str | None]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_BLOCKS = [(ipaddress.ip_network(cidr), reachable) for cidr, reachable, _ in SPECIAL_PURPOSE_RANGES]


def _registry_verdict(address: Address) -> bool:
    """Global or not, read from the table independently: the most specific block decides."""
    holding = [(net.prefixlen, reachable) for net, reachable in _BLOCKS if address in net]
    return max(holding)[1] if holding else True


def _expected(address: Address) -> Row:
    """The row both paths must give for an address (however it was written)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not _registry_verdict(address):
        return NOT_GLOBAL, None, None, None
    if address.version == 4:
        return OK, str(address), str(ipaddress.ip_network(f"{address}/24", strict=False)), None
    return (
        OK,
        address.compressed,
        str(ipaddress.ip_network(f"{address}/64", strict=False)),
        str(ipaddress.ip_network(f"{address}/48", strict=False)),
    )


def _numbers(version: int) -> st.SearchStrategy[int]:
    """Any address, an address inside a block of the table, or a block's edge or neighbour."""
    top = 2**32 - 1 if version == 4 else 2**128 - 1
    blocks = [net for net, _ in _BLOCKS if net.version == version]
    edges = sorted(
        {
            n
            for net in blocks
            for lo, hi in [(int(net.network_address), int(net.broadcast_address))]
            for n in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1)
            if 0 <= n <= top
        }
    )
    inside = st.sampled_from(blocks).flatmap(
        lambda net: st.integers(int(net.network_address), int(net.broadcast_address))
    )
    return st.one_of(st.integers(0, top), inside, st.sampled_from(edges))


def _mapped_spellings(v4: ipaddress.IPv4Address) -> list[str]:
    """Ways to write the IPv4-mapped IPv6 form of an IPv4 address."""
    mapped = ipaddress.IPv6Address(0xFFFF00000000 | int(v4))
    return [
        f"::ffff:{v4}",
        f"::FFFF:{v4}",
        f"0:0:0:0:0:ffff:{v4}",
        mapped.compressed,
        mapped.exploded,
    ]


def _classified(values: Sequence[str | None]) -> dict[str, tuple]:
    table = classify_ips(pl.Series(values, dtype=pl.String))
    return {row[0]: row[1:] for row in table.iter_rows()}


# =============================================================================
# The table
# =============================================================================


def _within(inner: Network, outer: Network) -> bool:
    bounds = [int(n.network_address) for n in (outer, inner)]
    bounds += [int(n.broadcast_address) for n in (inner, outer)]
    return inner.version == outer.version and bounds == sorted(bounds)


def test_reachable_blocks_are_exceptions_nested_in_unreachable_ones() -> None:
    """Both paths test "in an unreachable block and in no reachable one". That is the
    registry's "the most specific block decides" only if every reachable block lies
    inside an unreachable one and no unreachable block lies inside a reachable one."""
    for cidr, _, _ in SPECIAL_PURPOSE_RANGES:
        ipaddress.ip_network(cidr)  # strict: a block with host bits set raises
    unreachable = [net for net, reachable in _BLOCKS if not reachable]
    for net, reachable in _BLOCKS:
        if reachable:
            same = [o for o in unreachable if o.version == net.version]
            assert any(_within(net, o) for o in same), net
            assert not any(_within(o, net) for o in same), net


def test_ipv4_mapped_block_is_not_in_the_table() -> None:
    # A mapped address is classified as its IPv4 address, never by a block of its own.
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    assert not any(net.version == 6 and net.overlaps(mapped) for net, _ in _BLOCKS)


# =============================================================================
# One answer across the two paths
# =============================================================================


@settings(max_examples=200, deadline=None)
@given(st.lists(_numbers(4), min_size=1, max_size=40))
@example([int(ipaddress.IPv4Address("192.0.0.100")), int(ipaddress.IPv4Address("192.0.0.9"))])
def test_ipv4_vectorised_and_scalar_paths_agree_with_the_registry(numbers: list[int]) -> None:
    addresses = [ipaddress.IPv4Address(n) for n in numbers]
    vectorised = _classified([str(a) for a in addresses])  # dotted quads take the polars path
    for address in addresses:
        expected = _expected(address)
        assert vectorised[str(address)] == expected, address
        assert _classify_scalar(str(address)) == expected, address


@settings(max_examples=200, deadline=None)
@given(st.lists(_numbers(4), min_size=1, max_size=20))
@example([int(ipaddress.IPv4Address("192.0.0.100")), int(ipaddress.IPv4Address("8.8.8.8"))])
def test_ipv4_mapped_ipv6_is_classified_as_its_ipv4_address(numbers: list[int]) -> None:
    addresses = [ipaddress.IPv4Address(n) for n in numbers]
    spellings = {a: _mapped_spellings(a) for a in addresses}
    got = _classified([str(a) for a in addresses] + [s for ss in spellings.values() for s in ss])
    for address, mapped in spellings.items():
        for spelling in mapped:  # the scalar path, through classify_ips
            assert got[spelling] == got[str(address)] == _expected(address), spelling


@settings(max_examples=200, deadline=None)
@given(st.lists(_numbers(6), min_size=1, max_size=40))
@example([int(ipaddress.IPv6Address("2001:3::1")), int(ipaddress.IPv6Address("2001:2::1"))])
def test_ipv6_follows_the_registry_in_any_spelling(numbers: list[int]) -> None:
    addresses = [ipaddress.IPv6Address(n) for n in numbers]
    spellings = {a: [a.compressed, a.exploded, a.exploded.upper()] for a in addresses}
    got = _classified([s for ss in spellings.values() for s in ss])
    for address, texts in spellings.items():
        for text in texts:
            assert got[text] == _expected(address), text


def _spelled(number: int, style: int) -> str:
    address = ipaddress.IPv6Address(number)
    return (address.compressed, address.exploded, address.exploded.upper())[style]


_HEX_AND_COLONS = st.text(alphabet="0123456789abcdefABCDEF:", min_size=1, max_size=45)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.tuples(_numbers(6), st.integers(0, 2)).map(lambda t: _spelled(*t)),
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2)).map(lambda t: _spelled(*t)),
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2)).map(
            lambda t: _spelled(t[0] | 0xFFFF << 32, t[1])
        ),
        _HEX_AND_COLONS,
    )
)
@example("1:2:3:4:5:6:7::")
@example("::1:2:3:4:5:6:7")
@example("1::2::3")
@example("12345::")
@example("::808:808")
@example("0:0:0:1::")
def test_the_fast_ipv6_path_gives_the_scalar_answer(value: str) -> None:
    # The C library's parser and writer against ipaddress's, on addresses and on any
    # text of hex digits and colons (what the fast path takes; the rest falls through).
    assert _classify_other(value, {}) == _classify_scalar(value), value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.0.0.100", (NOT_GLOBAL, None, None, None)),
        ("::ffff:192.0.0.100", (NOT_GLOBAL, None, None, None)),
        ("::ffff:c000:64", (NOT_GLOBAL, None, None, None)),
        ("::ffff:8.8.8.8", (OK, "8.8.8.8", "8.8.8.0/24", None)),
        ("::FFFF:8.8.8.8", (OK, "8.8.8.8", "8.8.8.0/24", None)),
        ("100.64.0.1", (NOT_GLOBAL, None, None, None)),
        ("::ffff:100.64.0.1", (NOT_GLOBAL, None, None, None)),
        ("192.0.0.9", (OK, "192.0.0.9", "192.0.0.0/24", None)),
        ("::ffff:192.0.0.9", (OK, "192.0.0.9", "192.0.0.0/24", None)),
        ("2001:db8::1", (NOT_GLOBAL, None, None, None)),
        ("3fff::1", (NOT_GLOBAL, None, None, None)),
        ("2001::1", (NOT_GLOBAL, None, None, None)),
        ("2001:2::1", (NOT_GLOBAL, None, None, None)),
        ("2001:3::1", (OK, "2001:3::1", "2001:3::/64", "2001:3::/48")),
        ("2606:4700::1111", (OK, "2606:4700::1111", "2606:4700::/64", "2606:4700::/48")),
        ("2606:4700::1111%eth0", (OK, "2606:4700::1111", "2606:4700::/64", "2606:4700::/48")),
        ("2002:c000:264::1", (OK, "2002:c000:264::1", "2002:c000:264::/64", "2002:c000:264::/48")),
        ("ff02::1", (NOT_GLOBAL, None, None, None)),
    ],
)
def test_known_addresses_on_both_paths(raw: str, expected: Row) -> None:
    assert _classified([raw])[raw] == expected
    assert _classify_scalar(raw) == expected


# =============================================================================
# Parsing, canonical form and ranges
# =============================================================================

# IANA marks all of 192.0.0.0/24 not globally reachable except 192.0.0.9 and 192.0.0.10.
# acctgraph follows the registry (as CPython >= 3.12.4 does); this Python (3.11.7)
# still carries the older table (only 192.0.0.0/29 and 192.0.0.170/31), so the
# oracle below applies that one correction to ipaddress.
_IETF_PROTOCOL = ipaddress.ip_network("192.0.0.0/24")
_IETF_GLOBAL = {ipaddress.ip_address("192.0.0.9"), ipaddress.ip_address("192.0.0.10")}


def _oracle(value: str) -> tuple[str, str | None, str | None, str | None]:
    """(status, canonical, range, wide range) from the standard library, for IPv4 text.

    Python 3.11's IPv6 table is older than the registry (it calls 2001:3::/32 and
    the other reachable blocks inside 2001::/23 not global), so IPv6 is checked
    against :func:`_registry_verdict` instead.
    """
    try:
        address = ipaddress.ip_address(value.strip(" \t\n"))
    except ValueError:
        return MALFORMED, None, None, None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    is_global = address.is_global and not address.is_multicast
    if address.version == 4 and address in _IETF_PROTOCOL and address not in _IETF_GLOBAL:
        is_global = False
    if not is_global:
        return NOT_GLOBAL, None, None, None
    if address.version == 4:
        return OK, str(address), str(ipaddress.ip_network(f"{address}/24", strict=False)), None
    return (
        OK,
        str(address),
        str(ipaddress.ip_network(f"{address}/64", strict=False)),
        str(ipaddress.ip_network(f"{address}/48", strict=False)),
    )


def _assert_agrees(values: list[str]) -> None:
    got = _classified(values)
    for value in values:
        assert got[value] == _oracle(value), value


_OCTET = st.integers(0, 255)
_QUAD = st.builds(lambda *o: ".".join(map(str, o)), _OCTET, _OCTET, _OCTET, _OCTET)


@settings(max_examples=200, deadline=None)
@given(st.lists(_QUAD, min_size=1, max_size=40))
def test_ipv4_dotted_quads_agree_with_ipaddress(values: list[str]) -> None:
    _assert_agrees(values)


def _boundaries() -> list[str]:
    """First, last, and the neighbours outside, of every special-purpose IPv4 block."""
    cidrs = (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.0.0/29",
        "192.0.0.8/32",
        "192.0.0.9/32",
        "192.0.0.10/32",
        "192.0.0.170/31",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
    out = set()
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr)
        lo, hi = int(net.network_address), int(net.broadcast_address)
        for n in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1):
            if 0 <= n < 2**32:
                out.add(str(ipaddress.IPv4Address(n)))
    return sorted(out)


def test_ipv4_special_block_boundaries_agree_with_ipaddress() -> None:
    _assert_agrees(_boundaries())


def test_ipv4_ietf_protocol_block_follows_iana() -> None:
    got = _classified(["192.0.0.8", "192.0.0.9", "192.0.0.10", "192.0.0.11", "192.0.0.200"])
    assert [
        got[v][0] for v in ("192.0.0.8", "192.0.0.9", "192.0.0.10", "192.0.0.11", "192.0.0.200")
    ] == [
        NOT_GLOBAL,
        OK,
        OK,
        NOT_GLOBAL,
        NOT_GLOBAL,
    ]


_NOT_QUADS = [
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "1.02.3.4",
    "1..2.3",
    "...",
    "192.168.1",
    "1.2.3.",
    ".1.2.3",
]


def test_digits_and_dots_that_are_not_quads_are_malformed() -> None:
    got = _classified(_NOT_QUADS)
    assert {v: got[v][0] for v in _NOT_QUADS} == {v: MALFORMED for v in _NOT_QUADS}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.", min_size=0, max_size=16), min_size=1, max_size=20))
@example(["1.2.3"])
def test_ipv4_like_strings_agree_with_ipaddress(values: list[str]) -> None:
    _assert_agrees(values)


def test_status_ok_always_has_canonical_and_range_on_valid_quads() -> None:
    table = classify_ips(pl.Series(["8.8.8.8", "81.2.69.160", "2a00:1450:4001:81c::200e"]))
    assert table.filter(pl.col("ip_status") == OK)["ip_canonical"].null_count() == 0
    assert table.filter(pl.col("ip_status") == OK)["ip_range"].null_count() == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "2a00:1450:4001:81c::200e",
            (OK, "2a00:1450:4001:81c::200e", "2a00:1450:4001:81c::/64", "2a00:1450:4001::/48"),
        ),
        (
            "2A00:1450:4001:081C:0000:0000:0000:200E",
            (OK, "2a00:1450:4001:81c::200e", "2a00:1450:4001:81c::/64", "2a00:1450:4001::/48"),
        ),
        (
            "2001:4860:4860::8888",
            (OK, "2001:4860:4860::8888", "2001:4860:4860::/64", "2001:4860:4860::/48"),
        ),
        ("fe80::1", (NOT_GLOBAL, None, None, None)),
        ("::1", (NOT_GLOBAL, None, None, None)),
        ("::", (NOT_GLOBAL, None, None, None)),
        ("fc00::1", (NOT_GLOBAL, None, None, None)),
        ("fd12:3456:789a::1", (NOT_GLOBAL, None, None, None)),
        ("2001:db8::1", (NOT_GLOBAL, None, None, None)),
        ("ff0e::1", (NOT_GLOBAL, None, None, None)),
        ("::ffff:8.8.8.8", (OK, "8.8.8.8", "8.8.8.0/24", None)),
        ("::ffff:10.0.0.1", (NOT_GLOBAL, None, None, None)),
        ("::g", (MALFORMED, None, None, None)),
        ("2001:4860::8888::1", (MALFORMED, None, None, None)),
        ("8.8.8.8", (OK, "8.8.8.8", "8.8.8.0/24", None)),
        ("  8.8.8.8\t", (OK, "8.8.8.8", "8.8.8.0/24", None)),
        ("\n81.2.69.160 ", (OK, "81.2.69.160", "81.2.69.0/24", None)),
        (
            " 2a00:1450:4001:81c::200e ",
            (OK, "2a00:1450:4001:81c::200e", "2a00:1450:4001:81c::/64", "2a00:1450:4001::/48"),
        ),
        ("224.0.0.1", (NOT_GLOBAL, None, None, None)),
        ("100.64.0.9", (NOT_GLOBAL, None, None, None)),
        ("255.255.255.255", (NOT_GLOBAL, None, None, None)),
        ("256.1.1.1", (MALFORMED, None, None, None)),
        ("1.2.3.4, 5.6.7.8", (MALFORMED, None, None, None)),
        ("not-an-ip", (MALFORMED, None, None, None)),
        ("", (MALFORMED, None, None, None)),
        ("   ", (MALFORMED, None, None, None)),
    ],
)
def test_classify_examples(raw: str, expected: tuple) -> None:
    assert _classified([raw])[raw] == expected


def test_classify_ignores_nulls_and_collapses_duplicates() -> None:
    table = classify_ips(pl.Series([None, "8.8.8.8", None, "8.8.8.8", " 8.8.8.8"]))
    assert table["raw"].to_list() == [" 8.8.8.8", "8.8.8.8"]
    assert table.columns == ["raw", "ip_status", "ip_canonical", "ip_range", "ip_range_wide"]
    empty = classify_ips(pl.Series([None, None], dtype=pl.String))
    assert empty.height == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text()), min_size=0, max_size=20))
@example(["\x00", "\u202e1.1.1.1", "fe80::1%eth0", "::ffff:1.2.3.4%1", "1" * 500])
def test_classify_never_raises(values: list[str | None]) -> None:
    table = classify_ips(pl.Series(values, dtype=pl.String))
    distinct = {v for v in values if v is not None}
    assert table.height == len(distinct)
    assert set(table["ip_status"].to_list()) <= {OK, MALFORMED, NOT_GLOBAL}
