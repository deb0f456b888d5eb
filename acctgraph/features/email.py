"""Email addresses: normalised address, domain, and local-part shape.

Account-level, so these run once per distinct address in plain Python (a
million accounts take about a second) and are joined back.

- :func:`normalise_email` trims, lower-cases, and applies provider rules:
  Gmail ignores dots and ``+tags`` (and ``googlemail.com`` is ``gmail.com``);
  the large providers that support plus addressing drop the ``+tag``.
- :func:`email_shape` describes the local part as runs of letters (``a``),
  digits (``d``) and separators, e.g. ``jsmith1987`` → ``a6d4``, so that
  generated addresses like ``qwerty0042`` share a value.

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

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PLUS_TAG_DOMAINS = frozenset(
    {
        "gmail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com",
        "me.com", "proton.me", "protonmail.com", "pm.me", "fastmail.com", "yandex.ru",
    }
)
# Large free-mail providers: sharing one of these domains is no evidence at all.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com",
        "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "pm.me",
        "gmx.com", "gmx.de", "web.de", "mail.ru", "yandex.ru", "qq.com", "163.com",
        "126.com", "naver.com", "fastmail.com", "zoho.com", "hotmail.co.uk",
        "yahoo.co.uk", "yahoo.co.jp", "outlook.de", "orange.fr", "free.fr", "libero.it",
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
