"""IP addresses: validation, canonical form and ranges, vectorised.

Addresses are classified once per *distinct* raw string (a 40M-row log holds
far fewer distinct addresses), after trimming whitespace, by two paths:

- dotted-quad IPv4 (the bulk of a log) is parsed with polars expressions
  (:func:`_classify_v4_vectorised`);
- everything else, IPv6 included, goes one value at a time through
  :mod:`ipaddress` (:func:`_classify_scalar`), plain IPv6 text by the C library's
  parser and writer, which give the same answer faster (:func:`_classify_other`).

Both decide global or not from one table, :data:`SPECIAL_PURPOSE_RANGES` (the
IANA IPv4 and IPv6 special-purpose registries, plus multicast), and an
IPv4-mapped IPv6 address is classified as its IPv4 address, so the two paths
give one answer for one address; tests/test_ip.py checks that with hypothesis.

Output of :func:`classify_ips`: one row per distinct raw value with

- ``raw``: the value as it appeared,
- ``ip_status``: ``ok``, ``malformed``, or ``not_global`` (private, loopback,
  link-local, carrier-grade NAT space, documentation, benchmarking, multicast,
  reserved and the other blocks of the table),
- ``ip_canonical``: canonical address when ``ok`` (IPv4 dotted quad, IPv6
  compressed and lower-case without a zone id; IPv4-mapped IPv6 becomes IPv4),
- ``ip_range``: the /24 (IPv4) or /64 (IPv6) holding it,
- ``ip_range_wide``: the /48 of an IPv6 address (null for IPv4).

Examples
--------
>>> import polars as pl
>>> t = classify_ips(pl.Series(["81.2.69.160", " 81.2.69.7 ", "10.0.0.1", "999.1.1.1", "2a00:1450:4001:81c::200e"]))
>>> t.select("raw", "ip_status", "ip_range").rows()[:3]
[(' 81.2.69.7 ', 'ok', '81.2.69.0/24'), ('10.0.0.1', 'not_global', None), ('2a00:1450:4001:81c::200e', 'ok', '2a00:1450:4001:81c::/64')]
"""

from __future__ import annotations

import ipaddress
import re
import socket

import polars as pl

OK = "ok"
MALFORMED = "malformed"
NOT_GLOBAL = "not_global"

SPECIAL_PURPOSE_RANGES: tuple[tuple[str, bool, str], ...] = (
    # IANA IPv4 Special-Purpose Address Registry.
    ("0.0.0.0/8", False, "this network"),
    ("10.0.0.0/8", False, "private use"),
    ("100.64.0.0/10", False, "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", False, "loopback"),
    ("169.254.0.0/16", False, "link local"),
    ("172.16.0.0/12", False, "private use"),
    ("192.0.0.0/24", False, "IETF protocol assignments"),
    ("192.0.0.9/32", True, "port control protocol anycast"),
    ("192.0.0.10/32", True, "traversal using relays around NAT anycast"),
    ("192.0.2.0/24", False, "documentation (TEST-NET-1)"),
    ("192.168.0.0/16", False, "private use"),
    ("198.18.0.0/15", False, "benchmarking"),
    ("198.51.100.0/24", False, "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", False, "documentation (TEST-NET-3)"),
    ("240.0.0.0/4", False, "reserved (holds the limited broadcast address)"),
    # IANA IPv4 Multicast Address Space Registry.
    ("224.0.0.0/4", False, "multicast"),
    # IANA IPv6 Special-Purpose Address Registry. (::ffff:0:0/96, IPv4-mapped, is not
    # listed: a mapped address is classified as the IPv4 address it carries.)
    ("::/128", False, "unspecified address"),
    ("::1/128", False, "loopback"),
    ("64:ff9b:1::/48", False, "IPv4-IPv6 translation, local use"),
    ("100::/64", False, "discard-only"),
    ("100:0:0:1::/64", False, "dummy prefix"),
    ("2001::/23", False, "IETF protocol assignments"),
    ("2001:1::1/128", True, "port control protocol anycast"),
    ("2001:1::2/128", True, "traversal using relays around NAT anycast"),
    ("2001:1::3/128", True, "DNS-SD service registration protocol anycast"),
    ("2001:3::/32", True, "automatic multicast tunneling"),
    ("2001:4:112::/48", True, "AS112-v6"),
    ("2001:20::/28", True, "ORCHIDv2"),
    ("2001:30::/28", True, "drone remote ID protocol entity tags"),
    ("2001:db8::/32", False, "documentation"),
    ("3fff::/20", False, "documentation"),
    ("5f00::/16", False, "segment routing (SRv6) SIDs"),
    ("fc00::/7", False, "unique local"),
    ("fe80::/10", False, "link-local unicast"),
    # IANA IPv6 Multicast Address Space Registry.
    ("ff00::/8", False, "multicast"),
)
"""The one table both classification paths read: ``(block, globally reachable, name)``.

An address is *not global* when it lies in a block marked not globally
reachable and in no block marked globally reachable (every reachable block
sits inside an unreachable one, so the most specific block decides). The
blocks are the IANA special-purpose registries' entries whose "Globally
Reachable" is False, the True entries nested inside them, and the multicast
ranges. Entries marked N/A keep the verdict of the block around them: Teredo
(``2001::/32``) is not global, 6to4 (``2002::/16``) and its relay anycast
(``192.88.99.0/24``) are global. Python 3.11's :mod:`ipaddress` disagrees with
the registries (``IPv4Address("192.0.0.100").is_global`` is True there), so
:mod:`ipaddress` only parses here and never classifies.
"""


def _ranges(version: int, *, reachable: bool) -> list[tuple[int, int]]:
    """Integer bounds of the table's blocks of one IP version and one verdict."""
    out = []
    for cidr, globally_reachable, _ in SPECIAL_PURPOSE_RANGES:
        net = ipaddress.ip_network(cidr)
        if net.version == version and globally_reachable == reachable:
            out.append((int(net.network_address), int(net.broadcast_address)))
    return out


_NOT_GLOBAL_RANGES = {v: _ranges(v, reachable=False) for v in (4, 6)}
_GLOBAL_RANGES = {v: _ranges(v, reachable=True) for v in (4, 6)}


def _is_global(number: int, *, version: int) -> bool:
    """Whether an address, given as its integer, is global by :data:`SPECIAL_PURPOSE_RANGES`.

    The scalar twin of the polars expression used for IPv4 in :func:`classify_ips`.

    >>> import ipaddress
    >>> [_is_global(int(ipaddress.ip_address(a)), version=4)
    ...  for a in ("8.8.8.8", "192.0.0.100", "192.0.0.9", "100.64.0.1")]
    [True, False, True, False]
    """

    def inside(ranges: list[tuple[int, int]]) -> bool:
        return any(lo <= number <= hi for lo, hi in ranges)

    return not inside(_NOT_GLOBAL_RANGES[version]) or inside(_GLOBAL_RANGES[version])


def _in_any(u32: pl.Expr, ranges: list[tuple[int, int]]) -> pl.Expr:
    expr = pl.lit(False)
    for lo, hi in ranges:
        expr = expr | u32.is_between(lo, hi)
    return expr


_V4_PATTERN = (
    r"^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$"
)

RAW = "raw"
IP_STATUS = "ip_status"
IP_CANONICAL = "ip_canonical"
IP_RANGE = "ip_range"
IP_RANGE_WIDE = "ip_range_wide"
RESULT_SCHEMA = pl.Schema(
    {
        RAW: pl.String(),
        IP_STATUS: pl.String(),
        IP_CANONICAL: pl.String(),
        IP_RANGE: pl.String(),
        IP_RANGE_WIDE: pl.String(),
    }
)


def _classify_v4_vectorised(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose trimmed value looks like dotted-quad IPv4 (no leading zeros)."""
    groups = pl.col("_v").str.extract_groups(_V4_PATTERN)  # one regex pass for the four octets
    frame = frame.with_columns(groups.alias("_g")).with_columns(
        *(pl.col("_g").struct.field(str(i + 1)).cast(pl.Int64).alias(f"_o{i}") for i in range(4))
    )
    # A value that is digits and dots but not a quad ("1.2.3", "01.2.3.4") has null octets.
    valid = pl.all_horizontal(*(pl.col(f"_o{i}") <= 255 for i in range(4))).fill_null(False)
    u32 = pl.col("_o0") * 16777216 + pl.col("_o1") * 65536 + pl.col("_o2") * 256 + pl.col("_o3")
    not_global = _in_any(u32, _NOT_GLOBAL_RANGES[4]) & ~_in_any(u32, _GLOBAL_RANGES[4])
    status = (
        pl.when(~valid)
        .then(pl.lit(MALFORMED))
        .when(not_global)
        .then(pl.lit(NOT_GLOBAL))
        .otherwise(pl.lit(OK))
    )
    frame = frame.with_columns(status.alias(IP_STATUS))
    is_ok = pl.col(IP_STATUS) == OK
    canonical = pl.concat_str([pl.col(f"_o{i}").cast(pl.String) for i in range(4)], separator=".")
    prefix = pl.concat_str(
        [pl.col(f"_o{i}").cast(pl.String) for i in range(3)] + [pl.lit("0/24")], separator="."
    )
    return frame.select(
        RAW,
        IP_STATUS,
        pl.when(is_ok).then(canonical).alias(IP_CANONICAL),
        pl.when(is_ok).then(prefix).alias(IP_RANGE),
        pl.lit(None, pl.String).alias(IP_RANGE_WIDE),
    )


def _classify_scalar(
    value: str, prefixes: dict[tuple[int, int], str] | None = None
) -> tuple[str, str | None, str | None, str | None]:
    """``(ip_status, ip_canonical, ip_range, ip_range_wide)`` of one trimmed value.

    The scalar path: IPv6 and anything that is not digits and dots, one
    distinct value at a time. :mod:`ipaddress` parses; :func:`_is_global`
    classifies. An IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) is classified
    and written as its IPv4 address, and a zone id (``%eth0``) is dropped from
    the canonical form. Any IPv4 address gives the same result here as in the
    vectorised path.

    ``prefixes`` caches the text of network prefixes (many addresses share one
    /64 or /48); building it with integer masks is three times faster than
    ``ip_network(..., strict=False)``.

    >>> _classify_scalar("::ffff:192.0.0.100")
    ('not_global', None, None, None)
    >>> _classify_scalar("::FFFF:8.8.8.8")
    ('ok', '8.8.8.8', '8.8.8.0/24', None)
    """
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return MALFORMED, None, None, None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    number = int(address)
    if not _is_global(number, version=address.version):
        return NOT_GLOBAL, None, None, None
    if address.version == 4:
        return (
            OK,
            f"{number >> 24}.{(number >> 16) & 255}.{(number >> 8) & 255}.{number & 255}",
            f"{number >> 24}.{(number >> 16) & 255}.{(number >> 8) & 255}.0/24",
            None,
        )
    cache = prefixes if prefixes is not None else {}

    def prefix(bits: int) -> str:
        key = (number >> (128 - bits), bits)
        text = cache.get(key)
        if text is None:
            text = cache[key] = f"{ipaddress.IPv6Address(key[0] << (128 - bits))}/{bits}"
        return text

    return OK, str(ipaddress.IPv6Address(number)), prefix(64), prefix(48)


_PLAIN_V6 = re.compile(r"[0-9A-Fa-f:]+")
_MAPPED_OR_COMPATIBLE = 1 << 32  # below: ::/96 (IPv4-compatible); ::ffff:0:0/96 checked apart
_MAPPED_PREFIX = 0xFFFF


def _classify_other(
    value: str, prefixes: dict[tuple[int, int], str]
) -> tuple[str, str | None, str | None, str | None]:
    """:func:`_classify_scalar`'s answer, by a faster path for plain IPv6 text.

    A value of hex digits and colons only is parsed and written by the C library
    (:func:`socket.inet_pton`, :func:`socket.inet_ntop`: the compressed lower-case
    form, as :mod:`ipaddress` writes it) about thirty times faster than :mod:`ipaddress`. Anything
    else (zone ids, embedded IPv4, values the C library refuses) and addresses the two
    write differently (``::/96`` and IPv4-mapped ones) go to :func:`_classify_scalar`;
    tests/test_ip.py checks the two paths agree.

    >>> _classify_other("2A00:1450:4001:081C::200E", {})
    ('ok', '2a00:1450:4001:81c::200e', '2a00:1450:4001:81c::/64', '2a00:1450:4001::/48')
    """
    if not _PLAIN_V6.fullmatch(value):
        return _classify_scalar(value, prefixes)
    try:
        packed = socket.inet_pton(socket.AF_INET6, value)
    except (OSError, ValueError):
        return _classify_scalar(value, prefixes)
    number = int.from_bytes(packed, "big")
    if number < _MAPPED_OR_COMPATIBLE or number >> 32 == _MAPPED_PREFIX:
        return _classify_scalar(value, prefixes)
    if not _is_global(number, version=6):
        return NOT_GLOBAL, None, None, None

    def prefix(bits: int) -> str:
        key = (number >> (128 - bits), bits)
        text = prefixes.get(key)
        if text is None:
            address = (key[0] << (128 - bits)).to_bytes(16, "big")
            text = prefixes[key] = f"{socket.inet_ntop(socket.AF_INET6, address)}/{bits}"
        return text

    return OK, socket.inet_ntop(socket.AF_INET6, packed), prefix(64), prefix(48)


def classify_ips(raw: pl.Series) -> pl.DataFrame:
    """Classify distinct raw IP strings (nulls are ignored).

    Parameters
    ----------
    raw
        Raw values as read; duplicates are allowed and collapsed.

    Returns
    -------
    polars.DataFrame
        One row per distinct non-null raw value, sorted by ``raw``, with the
        columns described in the module docstring.
    """
    frame = (
        pl.DataFrame({RAW: raw.cast(pl.String)})
        .drop_nulls()
        .unique()
        .sort(RAW)
        .with_columns(pl.col(RAW).str.strip_chars().alias("_v"))
    )
    looks_v4 = pl.col("_v").str.contains(r"^[0-9.]+$")
    v4 = _classify_v4_vectorised(frame.filter(looks_v4))
    rest = frame.filter(~looks_v4)
    prefixes: dict[tuple[int, int], str] = {}
    rows = [(r, *_classify_other(v, prefixes)) for r, v in rest.select(RAW, "_v").iter_rows()]
    other = pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")
    return pl.concat([v4.cast(RESULT_SCHEMA), other]).sort(RAW)
