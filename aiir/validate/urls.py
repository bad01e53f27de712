"""A gateway's base URL checked as far as it is written (a runbook's, a canary suite's): light,
so that a canary run loads no runbook models to check its own."""

from __future__ import annotations

import re

from aiir.redact import scrub

_SCHEMES = ("http://", "https://")
_TEMPLATE_START = re.compile(r"\{[{%#]")


def url_problem(url: str) -> str | None:
    """Why a gateway's base URL cannot work, when it cannot: an http(s) URL with a host.

    A templated URL (``http://{{ env.HOST }}:4000``) is checked as far as its literal start goes.
    """
    start = _TEMPLATE_START.search(url)
    literal = url if start is None else url[: start.start()]
    if start is not None and any(s.startswith(literal.lower()) for s in _SCHEMES):
        return None  # "{{ env.URL }}", "http{{ ... }}": the rest is known only at run time
    masked = scrub(url, [])  # its userinfo, masked before the cut (a cut one is not found)
    shown = masked if len(masked) <= 60 else masked[:59] + "…"
    if not literal.lower().startswith(_SCHEMES):
        return f"{shown!r} is not an http(s) URL: it must start with http:// or https://"
    if any(c.isspace() for c in literal):
        return f"{shown!r} is not a URL: it has a space in it"
    authority = re.split(r"[/?#]", literal.split("://", 1)[1], maxsplit=1)
    if start is None or len(authority) > 1:  # the host is all there: check it
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(literal)
            host, _ = parts.hostname, parts.port  # port raises on "host:abc"
        except ValueError as exc:
            # The error quotes what it took for the port: a password's first part, when a '/',
            # '?' or '#' in it ended the host there.
            if "cast" in str(exc) and "@" in literal:
                return (
                    f"{shown!r} is not a valid URL: what follows its host is not a port number "
                    "(a '/', '?', '#' or '@' inside a password must be percent-encoded)"
                )
            return f"{shown!r} is not a valid URL ({exc})"
        if not host:
            return f"{shown!r} has no host: expected e.g. https://gateway.internal:4000"
        if parts.port == 0:
            return f"{shown!r} has port 0, not one from 1 to 65535"
        if not host_can_exist(host):
            return (
                f"{shown!r} has a host no name can have (an empty label, as in 'a..b', or one "
                "over 63 characters)"
            )
    if "?" in literal or "#" in literal:
        return (
            f"{shown!r} has a query string or a fragment (?…, #…), which each request's path "
            "would be added to: give query parameters on the requests (query:)"
        )
    return None


def host_can_exist(host: str) -> bool:
    """Whether ``host`` is a name (or address) a resolver could be asked for: each label from 1
    to 63 characters once encoded. The resolver's own refusal is no network error (Python's
    IDNA codec raises it), and a request to such a host ended a drill as an internal error."""
    name = host.rstrip(".")
    if name.isascii():  # the codec's own rule for ASCII, without loading it (and stringprep)
        labels = name.split(".")
        return all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64
    try:
        name.encode("idna")
    except UnicodeError:
        return False
    return True
