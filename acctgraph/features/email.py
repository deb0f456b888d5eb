"""Email addresses: normalised address, domain, and local-part shape.

Account-level, so these run once per distinct address and are joined back:
:func:`email_table` applies the rules below as polars expressions to ASCII
addresses and calls the Python functions for the rest (a property test checks
that both agree).

- :func:`normalise_email` trims, lower-cases, and applies provider rules:
  Gmail ignores dots and ``+tags`` (and ``googlemail.com`` is ``gmail.com``);
  the large providers that support plus addressing drop the ``+tag``.
- :func:`email_shape` describes the local part as runs of letters (``a``),
  digits (``d``) and separators, e.g. ``jsmith1987`` → ``a6d4``; the kind's
  value is the shape of the normalised local part with its domain
  (``a6d4@gmail.com``), so that generated addresses like ``qwerty0042`` at one
  provider share a value.

Examples
--------
>>> normalise_email("  J.Smith+promo@GoogleMail.com ")
'jsmith@gmail.com'
>>> normalise_email("not an email") is None
True
>>> email_shape("john.smith99")
'a4.a5d2'
"""

from __future__ import annotations

import re

import polars as pl

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PLUS_TAG_DOMAINS = frozenset(
    {
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "fastmail.com",
        "yandex.ru",
    }
)
# Large free-mail providers: sharing one of these domains is no evidence at all.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "fastmail.com",
        "zoho.com",
        "hotmail.co.uk",
        "yahoo.co.uk",
        "yahoo.co.jp",
        "outlook.de",
        "orange.fr",
        "free.fr",
        "libero.it",
    }
)

_LOCAL_OK = re.compile(r"^[^\s@]+$")
_DOMAIN_OK = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
_RUNS = re.compile(r"[a-z]+|[0-9]+|[^a-z0-9]")


def split_email(raw: str | None) -> tuple[str, str] | None:
    """Return ``(local, domain)`` of a trimmed, lower-cased address, or None if malformed."""
    if raw is None:
        return None
    text = raw.strip().lower()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not _LOCAL_OK.fullmatch(local) or not _DOMAIN_OK.fullmatch(domain):
        return None
    return local, domain


def normalise_email(raw: str | None) -> str | None:
    """Canonical form of an address, or None when it is not an address."""
    parts = split_email(raw)
    if parts is None:
        return None
    local, domain = parts
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain in PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
    if not local:
        return None
    return f"{local}@{domain}"


def email_domain(raw: str | None) -> str | None:
    """The domain of a valid address (``googlemail.com`` folded into ``gmail.com``)."""
    normalised = normalise_email(raw)
    return None if normalised is None else normalised.rpartition("@")[2]


def email_shape(local: str) -> str:
    """Letters/digits/separators pattern of a local part (already lower-cased)."""
    out = []
    for run in _RUNS.findall(local):
        if run[0].isascii() and run[0].isalpha():
            out.append(f"a{len(run)}")
        elif run[0].isdigit():
            out.append(f"d{len(run)}")
        else:
            out.append(run if run in "._-+" else "?")
    return "".join(out)


# --- Vectorised form, for a million accounts ---------------------------------------------
# Python's str.strip() and \s treat these ASCII characters as whitespace.
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_SEPARATORS = [".", "_", "-", "+"]


def email_table(values: pl.Series) -> pl.DataFrame:
    """Normalised address, domain and shape for each distinct value (polars, vectorised).

    ASCII values (nearly all) go through polars expressions that follow
    :func:`normalise_email` and :func:`email_shape` rule for rule (a property
    test checks they agree); other values go through those functions.

    Returns
    -------
    polars.DataFrame
        ``email, email_normalised, email_domain, email_shape`` (nulls where the
        value is not an address), one row per distinct non-null value, sorted.

    Examples
    --------
    >>> import polars as pl
    >>> email_table(pl.Series(["J.Smith+x@GoogleMail.com", "bad", "zoë@example.com"])).rows()
    [('J.Smith+x@GoogleMail.com', 'jsmith@gmail.com', 'gmail.com', 'a6@gmail.com'), ('bad', None, None, None), ('zoë@example.com', 'zoë@example.com', 'example.com', 'a2?@example.com')]
    """
    frame = pl.DataFrame({"email": values.cast(pl.String)}).drop_nulls().unique().sort("email")
    ascii_rows = pl.col("email").str.contains(r"^[\x00-\x7f]*$")
    fast, slow = frame.filter(ascii_rows), frame.filter(~ascii_rows)

    text = pl.col("email").str.strip_chars(_ASCII_SPACE).str.to_lowercase()
    fast = fast.with_columns(
        text.str.extract(r"(?s)^(.*)@[^@]*$", 1).alias("_local"),
        text.str.extract(r"(?s)^.*@([^@]*)$", 1).alias("_domain"),
    ).with_columns(
        pl.when(pl.col("_domain") == "googlemail.com")
        .then(pl.lit("gmail.com"))
        .otherwise(pl.col("_domain"))
        .alias("_domain"),
    )
    valid = (
        pl.col("_local").str.contains(r"^[^\t\n\x0b\x0c\r\x1c-\x1f @]+$")
        & pl.col("_domain").str.contains(_DOMAIN_OK.pattern)
    ).fill_null(False)
    local = pl.col("_local")
    local = (
        pl.when(pl.col("_domain").is_in(sorted(PLUS_TAG_DOMAINS)))
        .then(local.str.extract(r"(?s)^([^+]*)", 1))
        .otherwise(local)
    )
    local = (
        pl.when(pl.col("_domain").is_in(sorted(GMAIL_DOMAINS)))
        .then(local.str.replace_all(".", "", literal=True))
        .otherwise(local)
    )
    fast = fast.with_columns(pl.when(valid).then(local).alias("_local")).with_columns(
        pl.when(pl.col("_local").str.len_bytes() > 0).then(pl.col("_local")).alias("_local")
    )
    run = pl.element()
    shape = (
        pl.col("_local")
        .str.extract_all(r"[a-z]+|[0-9]+|[^a-z0-9]")
        .list.eval(
            pl.when(run.str.contains(r"^[a-z]"))
            .then(pl.lit("a") + run.str.len_chars().cast(pl.String))
            .when(run.str.contains(r"^[0-9]"))
            .then(pl.lit("d") + run.str.len_chars().cast(pl.String))
            .when(run.is_in(_SEPARATORS))
            .then(run)
            .otherwise(pl.lit("?"))
        )
        .list.join("")
    )
    ok = pl.col("_local").is_not_null()
    fast = fast.select(
        "email",
        pl.when(ok).then(pl.concat_str("_local", pl.lit("@"), "_domain")).alias("email_normalised"),
        pl.when(ok).then(pl.col("_domain")).alias("email_domain"),
        pl.when(ok).then(pl.concat_str(shape, pl.lit("@"), "_domain")).alias("email_shape"),
    )
    rows: list[tuple[str, str | None, str | None, str | None]] = []
    for (value,) in slow.iter_rows():
        normalised = normalise_email(value)
        if normalised is None:
            rows.append((value, None, None, None))
            continue
        local_part, _, domain = normalised.rpartition("@")
        rows.append((value, normalised, domain, f"{email_shape(local_part)}@{domain}"))
    schema = pl.Schema(
        {
            "email": pl.String(),
            "email_normalised": pl.String(),
            "email_domain": pl.String(),
            "email_shape": pl.String(),
        }
    )
    return pl.concat([fast.cast(schema), pl.DataFrame(rows, schema=schema, orient="row")]).sort(
        "email"
    )
