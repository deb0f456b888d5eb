"""IP addresses: validation, canonical form and ranges, vectorised.

Addresses are classified once per *distinct* raw string (a 40M-row log holds
far fewer distinct addresses). IPv4 is parsed with polars expressions and
checked against the IANA special-purpose registry; IPv6 (rarer) goes through
:mod:`ipaddress`. A hypothesis test checks that the vectorised IPv4 path agrees
with :mod:`ipaddress` on every input.

Output of :func:`classify_ips`: one row per distinct raw value with

- ``raw``: the value as it appeared,
- ``ip_status``: ``ok``, ``malformed``, or ``not_global`` (private, loopback,
  link-local, carrier-grade NAT space, documentation, multicast, reserved),
- ``ip_canonical``: canonical address when ``ok`` (IPv4 dotted quad, IPv6 compressed;
  IPv4-mapped IPv6 becomes IPv4),
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

import polars as pl

OK = "ok"
MALFORMED = "malformed"
NOT_GLOBAL = "not_global"

# IANA IPv4 special-purpose registry: ranges that are not globally reachable,
# plus multicast and the reserved 240/4 block. (Python 3.11's ipaddress still calls most of
# 192.0.0.0/24 global; the registry, and newer Pythons, do not.)
_IPV4_NOT_GLOBAL = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
# Inside 192.0.0.0/24 these are global (RFC 7723, RFC 8155).
_IPV4_GLOBAL_EXCEPTIONS = ("192.0.0.9/32", "192.0.0.10/32")


def _ranges(cidrs: tuple[str, ...]) -> list[tuple[int, int]]:
    out = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr)
        out.append((int(net.network_address), int(net.broadcast_address)))
    return out


def _in_any(u32: pl.Expr, ranges: list[tuple[int, int]]) -> pl.Expr:
    expr = pl.lit(False)
    for lo, hi in ranges:
        expr = expr | u32.is_between(lo, hi)
    return expr


_V4_PATTERN = (
    r"^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$"
)

RESULT_SCHEMA = {
    "raw": pl.String(),
    "ip_status": pl.String(),
    "ip_canonical": pl.String(),
    "ip_range": pl.String(),
    "ip_range_wide": pl.String(),
}


def _classify_v4(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose trimmed value looks like dotted-quad IPv4 (no leading zeros)."""
    groups = pl.col("_v").str.extract_groups(_V4_PATTERN)  # one regex pass for the four octets
    frame = frame.with_columns(groups.alias("_g")).with_columns(
        *(pl.col("_g").struct.field(str(i + 1)).cast(pl.Int64).alias(f"_o{i}") for i in range(4))
    )
    # A value that is digits and dots but not a quad ("1.2.3", "01.2.3.4") has null octets.
    valid = pl.all_horizontal(*(pl.col(f"_o{i}") <= 255 for i in range(4))).fill_null(False)
    u32 = pl.col("_o0") * 16777216 + pl.col("_o1") * 65536 + pl.col("_o2") * 256 + pl.col("_o3")
    not_global = _in_any(u32, _ranges(_IPV4_NOT_GLOBAL)) & ~_in_any(
        u32, _ranges(_IPV4_GLOBAL_EXCEPTIONS)
    )
    status = (
        pl.when(~valid)
        .then(pl.lit(MALFORMED))
        .when(not_global)
        .then(pl.lit(NOT_GLOBAL))
        .otherwise(pl.lit(OK))
    )
    frame = frame.with_columns(status.alias("ip_status"))
    is_ok = pl.col("ip_status") == OK
    canonical = pl.concat_str([pl.col(f"_o{i}").cast(pl.String) for i in range(4)], separator=".")
    prefix = pl.concat_str(
        [pl.col(f"_o{i}").cast(pl.String) for i in range(3)] + [pl.lit("0/24")], separator="."
    )
    return frame.select(
        "raw",
        "ip_status",
        pl.when(is_ok).then(canonical).alias("ip_canonical"),
        pl.when(is_ok).then(prefix).alias("ip_range"),
        pl.lit(None, pl.String).alias("ip_range_wide"),
    )


def _classify_other(
    value: str, prefixes: dict[tuple[int, int], str] | None = None
) -> tuple[str, str | None, str | None, str | None]:
    """IPv6 and anything else, one distinct value at a time, with :mod:`ipaddress`.

    ``prefixes`` caches the text of network prefixes (many addresses share one
    /64 or /48); building it with integer masks is three times faster than
    ``ip_network(..., strict=False)``.
    """
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return MALFORMED, None, None, None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return NOT_GLOBAL, None, None, None
    number = int(address)
    if isinstance(address, ipaddress.IPv4Address):
        return (
            OK,
            str(address),
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

    return OK, str(address), prefix(64), prefix(48)


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
        pl.DataFrame({"raw": raw.cast(pl.String)})
        .drop_nulls()
        .unique()
        .sort("raw")
        .with_columns(pl.col("raw").str.strip_chars().alias("_v"))
    )
    looks_v4 = pl.col("_v").str.contains(r"^[0-9.]+$")
    v4 = _classify_v4(frame.filter(looks_v4))
    rest = frame.filter(~looks_v4)
    prefixes: dict[tuple[int, int], str] = {}
    rows = [(r, *_classify_other(v, prefixes)) for r, v in rest.select("raw", "_v").iter_rows()]
    other = pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")
    return pl.concat([v4.cast(RESULT_SCHEMA), other]).sort("raw")
