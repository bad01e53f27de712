"""A shared store's URL: whether it names PostgreSQL, and what a message may show of it (every
password masked, wherever the URL carries one). Nothing here connects; psycopg is not imported."""

from __future__ import annotations

import re
from contextlib import suppress
from urllib.parse import unquote, urlsplit

SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str) -> bool:
    return url.startswith(SCHEMES)


# A password given as a parameter: in a URL's query (``?password=…``) or a key=value
# connection string (``password='…'``), quoted or not.
_PASSWORD_PARAMETER = re.compile(r"(?i)\b(ssl)?(password)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^&\s]*)")


def masked_url(url: str) -> str:
    """The URL with its passwords replaced (in the user part and as a parameter): what any
    message may show of it. A URL too broken to parse (an unclosed IPv6 bracket) loses
    everything before its ``@``."""
    shown = _PASSWORD_PARAMETER.sub(lambda m: f"{m[1] or ''}{m[2]}{m[3]}***", url)
    try:
        parts = urlsplit(shown)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:  # a password with a '/' in it ends the host early: up to the last '@'
        return re.sub(r"://[^\s]*@", "://***@", shown)
    if parts.password is None:
        return shown
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def url_passwords(url: str) -> list[str]:
    """Every password a store URL carries, as written and decoded, for masking everywhere."""
    found = [m[4].strip("'") for m in _PASSWORD_PARAMETER.finditer(url)]
    with suppress(ValueError):
        found.append(urlsplit(url).password or "")
    return [form for p in found if p for form in {p, unquote(p)}]
