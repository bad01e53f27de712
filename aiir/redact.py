"""Secrets never surface: text bound for a terminal, journal, report or log passes through here.

A secret rarely leaves in the spelling it was given. A reply body holds it JSON-escaped, an error
page echoes it percent-encoded from a query string or HTML-escaped, a Basic auth header carries it
in base64, a Python error quotes it as ``b'...\\n'``, a 404 names the webhook path that holds it.
:func:`spellings` lists every such form of one secret, and :func:`mask` replaces each one.
Data is masked string by string (:func:`mask_data`) before it is encoded as JSON, so no form is
missed for being escaped in the encoded text.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

MASK = "***"
MIN_SECRET = 4  # shorter values would mask ordinary words
# Base64 runs and URL path segments shorter than this turn up by chance in ordinary text and in
# hex digests (which the journal must keep intact): masking them would damage more than it hides.
MIN_RUN = 8
# Longer than this, a value is masked only as it is: its every encoding would be megabytes to
# look for in each string (no key is that long; a template's text made from one may be).
MAX_SPELLED = 65536

_PATTERNS = re.compile(
    r"(?:\bsk-[A-Za-z0-9_\-]{8,})"  # OpenAI / LiteLLM style keys
    r"|(?:(?<=Bearer )[A-Za-z0-9._~+/\-]{8,}=*)"
    r"|(?:\bATATT[A-Za-z0-9_\-=]{16,})"  # an Atlassian API token
    r"|(?:hooks\.slack\.com/services/[A-Za-z0-9/_\-]+)"
    r"|(?:(?<=[?&]sig=)[A-Za-z0-9_%\-]{8,})"  # a Teams Workflows webhook's signature
    r"|(?:(?<=GenieKey )[A-Za-z0-9\-]{8,})"
    r"|(?:(?<=OAuth )[A-Za-z0-9._\-]{8,})"
)
# ``scheme://user:password@host``: credentials in any URL, declared or not. One slash or two:
# a URL given where a path was expected comes back as a path, and a path keeps one
# ('postgresql:/user:password@host/db' in "no such file or directory").
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*:/{1,2})[^\s/?#@\"'<>`]+@")
# ``user:pass/word@host``: a password with a ``/``, ``?`` or ``#`` not percent-encoded, which
# ends the host there for a URL parser (a port that is no number): up to the last ``@``.
_CUT_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/?#@:\"'<>`]*:(?![0-9]*[/?#])[^\s\"'<>`]*@"
)
# A URL, and a query parameter in one whose name says it holds a credential (``?token=``,
# ``&api_key=``, ``sig=``; ``&amp;`` as HTML writes it): its value is masked, declared or not.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`]+")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;][A-Za-z0-9_.\-]*?(?:key|token|secret|passw|pwd|credential|sig|auth)"
    r"[A-Za-z0-9_.\-]*=)[^&#]+",
    re.I,
)
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|WEBHOOK|ROUTING", re.I)
# A header whose name says it carries a credential (Authorization, X-Api-Key, Cookie, X-Auth-Token).
_CREDENTIAL_HEADER = re.compile(
    r"auth|token|key|secret|cookie|session|signature|passw|credential", re.I
)
_PLAIN_WORD = re.compile(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*")  # "services", "incoming-webhook"
_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_URLSAFE = str.maketrans("+/", "-_")

# The declared secrets this command has read (see :func:`declare`): the last line of defence for
# messages that reach the user without passing a walk, such as a crash log or a usage error.
_declared: set[str] = set()
# The secret-looking variables of the environments this command runs in (see :func:`watch`).
_watched: set[str] = set()
# Text a template computed from a secret (``{{ env.KEY | upper }}``, ``env.KEY[::-1]``): a
# spelling no encoding of the secret gives, found where it is made (see :func:`derive`).
_derived: set[str] = set()
_changes = [0]  # how often _derived changed: a masker made before works out its spellings again


def declare(values: Iterable[str]) -> None:
    """Remember declared secret values, so :func:`scrub` without ``secrets`` masks them too."""
    _declared.update(v for v in values if len(v.strip()) >= MIN_SECRET)


def watch(environ: Mapping[str, str]) -> None:
    """Remember the secret-looking variables of an environment aiir runs in (every
    :class:`~aiir.environment.Environment` calls this), so :func:`scrub` without ``secrets``
    masks them too."""
    _watched.update(secret_values(environ))


def derive(values: Iterable[str]) -> None:
    """Remember text computed from a secret (:mod:`aiir.formats.taint` finds it as a template
    renders it), so every masker of this command masks it too, in every spelling. Shorter than
    :data:`MIN_RUN`, a piece of a secret is left: it would mask hex digests and ordinary words."""
    found = {v for v in (value.strip() for value in values) if len(v) >= MIN_RUN} - _derived
    if found:
        _derived.update(found)
        _changes[0] += 1


def declared_secrets() -> set[str]:
    """The declared secrets and the text computed from them (:func:`declare`, :func:`derive`)."""
    return _declared | _derived


def forget() -> None:
    """Start a command afresh (the CLI calls this for each command it runs)."""
    _declared.clear()
    _watched.clear()
    _derived.clear()
    _changes[0] += 1


def secret_values(environ: Mapping[str, str], names: Iterable[str] = ()) -> set[str]:
    """Values of the named variables plus every variable whose name looks secret."""
    wanted = set(names)
    return {
        value
        for name, value in environ.items()
        if (name in wanted or _SECRET_NAME.search(name)) and len(value) >= MIN_SECRET
    }


def credential_header(name: str) -> bool:
    """Whether a header of this name carries a credential (``Authorization``, ``X-Api-Key``)."""
    return bool(_CREDENTIAL_HEADER.search(name))


_AUTH_SCHEMES = frozenset({"basic", "bearer", "token", "digest", "apikey", "geniekey", "oauth"})


def header_credentials(headers: Mapping[str, str]) -> set[str]:
    """The credentials in a gateway's headers, however the runbook writes them (from a variable
    or as they are): the value of each header whose name says it carries one, or what follows
    its auth scheme (``Bearer …``: shown as ``Bearer ***``). A scheme word alone (its variable empty in a dry run) is
    none: masked, every ``Bearer`` shown would be."""
    found: set[str] = set()
    for name, value in headers.items():
        if not credential_header(name) or value.strip().lower() in _AUTH_SCHEMES:
            continue
        scheme, _, rest = value.strip().partition(" ")
        found.add(rest.strip() if rest and scheme.lower() in _AUTH_SCHEMES else value.strip())
    return {f for f in found if len(f) >= MIN_SECRET}


def known_secrets() -> set[str]:
    """What :func:`scrub` without ``secrets`` masks (:func:`watch`, :func:`declare`): taken
    once, for a reader masking many strings."""
    return _watched | _declared | _derived


def scrub(text: str, secrets: Iterable[str] | None = None, *, patterns: bool = True) -> str:
    """``text`` with known secret values masked in every spelling, URL credentials masked, and
    secret-looking tokens too (``patterns``).

    Without ``secrets``: the secret-looking variables of the environment the command runs in
    (:func:`watch`) and the declared secrets it has read. The journal masks only the exact values of declared secrets (no
    ``patterns``): an attacker's key typed in as an input must stay in it, or the lever that
    blocked it could never be released.
    """
    values = known_secrets() if secrets is None else {*secrets, *_derived}
    if values:  # none for most walks' journals: no call made for each string (bench.engine)
        text = mask(text, values)
    text = _credentials_masked(text)
    return _PATTERNS.sub(MASK, text) if patterns else text


def cut(text: str, keep: int) -> str:
    """``text`` masked (:func:`scrub`), then cut to ``keep`` characters: a value quoted in an
    error (a URL given where another was expected), whose password a cut first would leave
    half of, where no mask finds it (``ftp://svc:S3cr3…``, the ``@`` cut off)."""
    return scrub(text)[:keep]


def masker(secrets: Iterable[str], *, patterns: bool = True) -> Callable[[str], str]:
    """:func:`scrub` with ``secrets`` fixed: their spellings are worked out once, here, not for
    each string masked. For a walk's journal and screen, which mask every string of every event
    (bench.engine); a walk given more secrets makes a new one. Text computed from a secret
    (:func:`derive`) is masked too, as soon as it is found."""
    given = frozenset(secrets)
    seen: list[Any] = [_changes[0], _ordered(given | _derived)]  # as of which change

    def masked(text: str) -> str:
        if _changes[0] != seen[0]:  # a template made one more from a secret: mask it too
            seen[:] = [_changes[0], _ordered(given | _derived)]
        spellings: tuple[str, ...] = seen[1]
        if not spellings and not patterns:  # most walks: no secret long enough to mask
            return _credentials_masked(text)
        for spelling in spellings:
            if spelling in text:
                text = text.replace(spelling, MASK)
        text = _credentials_masked(_escapes_masked(text, spellings))
        return _PATTERNS.sub(MASK, text) if patterns else text

    return masked


def _credentials_masked(text: str) -> str:
    """``text`` with the credentials of every URL in it masked: ``scheme://user:password@``
    and the values of query parameters named as credentials (``?token=…``)."""
    if ":/" not in text:  # no URL, no credentials in one: the journal's most strings
        return text
    text = _USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    text = _CUT_USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    if "=" not in text or "://" not in text:
        return text
    return _URL.sub(lambda url: _SECRET_PARAM.sub(rf"\g<name>{MASK}", url[0]), text)


def url_credentials(url: str) -> set[str]:
    """What in ``url`` is a credential, whoever gave the URL (a ``--gateway`` flag, aiir.yaml):
    its userinfo and password, as written and percent-decoded (a Basic auth header carries them
    decoded), and the values of its query parameters named as credentials; each long enough to
    mask. Declared as secrets, they are masked however a server echoes them."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return set()
    found: set[str] = set()
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        found |= {userinfo, userinfo.partition(":")[2]}
    for match in _SECRET_PARAM.finditer("?" + parts.query if parts.query else ""):
        found.add(match[0].removeprefix(match["name"]))
    found |= {urllib.parse.unquote(f) for f in found}
    return {f for f in found if len(f) >= MIN_SECRET}


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every spelling of every secret replaced by :data:`MASK`."""
    if not secrets:
        return text
    spellings = _ordered(frozenset(secrets))
    for spelling in spellings:
        if spelling in text:
            text = text.replace(spelling, MASK)
    return _escapes_masked(text, spellings)


# One character written as an escape: JSON's ``\u0073`` (its backslash escaped again, too),
# Python's ``\x73``, HTML's ``&#115;`` and ``&#x73;``, a URL's ``%73``.
_CHAR_ESCAPE = re.compile(
    r"\\+u[0-9A-Fa-f]{4}|\\+x[0-9A-Fa-f]{2}|&#[0-9]{1,7};|&#[xX][0-9A-Fa-f]{1,6};|%[0-9A-Fa-f]{2}"
)
_NO_CHAR = "\x00"  # what an escape no secret holds reads as (a byte of UTF-8, a code past Unicode)


def _unescaped(escape: str) -> str:
    digits = escape.lstrip("\\&#xXu")
    if escape.startswith("%"):
        code = int(escape[1:], 16)
        return chr(code) if code < 0x80 else _NO_CHAR
    base = 10 if escape.startswith("&#") and escape[2] not in "xX" else 16
    try:
        return chr(int(digits.rstrip(";"), base))
    except (ValueError, OverflowError):
        return _NO_CHAR


# How many times over escapes are read: ``%252573`` is ``%2573`` is ``%73`` is ``s`` (a URL
# quoted into another, and that into a third, as a redirect chain or a logged callback does).
_ESCAPE_LEVELS = 4


def _escapes_masked(text: str, spellings: tuple[str, ...]) -> str:
    """``text`` with a secret written with its characters escaped, some or all of them, one by
    one (``\u0073\u006b…``: a JSON encoder may escape every character; ``&#115;&#107;…``;
    ``%73%6B…``), or escaped again (``%2573``), masked: no spelling of the secret as a whole is
    that. The escapes are read, the spellings looked for in what they say (and, while it holds
    escapes, in what that says), and what holds one is masked in ``text``."""
    if not spellings or ("\\" not in text and "&#" not in text and "%" not in text):
        return text
    spans: list[tuple[int, int]] = []
    reading = text
    at: Sequence[int] = range(len(text) + 1)  # where each character of ``reading`` starts
    for _ in range(_ESCAPE_LEVELS):
        escapes = list(_CHAR_ESCAPE.finditer(reading))
        if not escapes:
            break
        reading, at = _read(reading, escapes, at)
        for spelling in spellings:
            start = reading.find(spelling)
            while start != -1:
                end = start + len(spelling)
                spans.append((at[start], at[end]))
                start = reading.find(spelling, end)
    if not spans:
        return text
    kept: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        kept.append(text[done:start] if start > done else "")
        kept.append(MASK if start >= done else "")
        done = end
    kept.append(text[done:])
    return "".join(kept)


def _read(text: str, escapes: list[re.Match[str]], at: Sequence[int]) -> tuple[str, list[int]]:
    """``text`` with each of ``escapes`` read as the character it stands for, and where each
    character of that (and its end) starts in what ``at`` maps ``text`` to."""
    read: list[str] = []
    where: list[int] = []
    done = 0
    for escape in escapes:
        read.append(text[done : escape.start()])
        where.extend(at[done : escape.start()])
        read.append(_unescaped(escape[0]))
        where.append(at[escape.start()])
        done = escape.end()
    read.append(text[done:])
    where.extend(at[done : len(text) + 1])
    return "".join(read), where


def mask_bytes(content: bytes, clean: Callable[[str], str] | None = None) -> bytes:
    """``content`` (a file kept as evidence) with ``clean`` (default :func:`scrub`) applied to
    its text; bytes that are not UTF-8 go through as they are, and a file with nothing to mask
    is returned unchanged, byte for byte."""
    text = content.decode("utf-8", errors="surrogateescape")
    masked = (clean or scrub)(text)
    return content if masked == text else masked.encode("utf-8", errors="surrogateescape")


_PLAIN = frozenset({int, bool, float, type(None)})  # kept as they are


def mask_data(value: Any, clean: Callable[[str], str]) -> Any:
    """JSON-like ``value`` with ``clean`` applied to every string in it (keys too), before it is
    encoded: masking encoded JSON would look for secrets in their escaped form. Values JSON cannot
    hold become strings, as ``json.dumps(default=str)`` would make them."""
    kind = type(value)  # the plain types first, by identity: every event's data passes here
    if kind is str:
        return clean(value)
    if kind is dict:  # its strings and numbers taken here: no call for each (bench.engine)
        return {
            clean(k if type(k) is str else str(k)): (
                clean(v) if type(v) is str else v if type(v) in _PLAIN else mask_data(v, clean)
            )
            for k, v in value.items()
        }
    if kind in _PLAIN:
        return value
    if kind is list:
        return [mask_data(v, clean) for v in value]
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {clean(str(k)): mask_data(v, clean) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(v, clean) for v in value]
    return clean(str(value))


def masked_json(value: Any) -> str:
    """``value`` as indented JSON for the user (``--json``), every string in it scrubbed before it
    is encoded: in the encoded text a key at the start of a line reads ``\\nsk-…``, where the key
    pattern no longer finds it."""
    known = known_secrets()
    return json.dumps(mask_data(value, lambda text: scrub(text, known)), indent=2)


@functools.lru_cache(maxsize=256)
def _ordered(secrets: frozenset[str]) -> tuple[str, ...]:
    """Every spelling of ``secrets``, longest first (so a longer form is masked whole)."""
    found: set[str] = set()
    for secret in secrets:
        found |= spellings(secret)
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


@functools.lru_cache(maxsize=1024)
def spellings(secret: str) -> frozenset[str]:
    """Every form ``secret`` may take on its way out; empty for values too short to mask.

    The value as given and stripped of surrounding whitespace; for a URL also its userinfo,
    password, path, path suffixes, token-like path segments and query values. Each of them raw,
    JSON-escaped (also twice, and with ``\\uXXXX``), as Python's ``repr`` of the text and of its
    UTF-8 bytes, HTML-escaped, percent-encoded (``quote``, ``quote_plus``, either case of hex) and
    as the base64 runs it produces at each of the three byte alignments (standard and URL-safe),
    and as hex (of 8 characters or more).
    """
    cores = {secret, secret.strip()} | _url_parts(secret.strip())
    found: set[str] = set()
    for core in cores:
        if len(core) > MAX_SPELLED:  # a template's long text made from a secret: as it is
            found.add(core)
        elif len(core) >= MIN_SECRET:
            found |= _encodings(core)
    return frozenset(s for s in found if len(s) >= MIN_SECRET)


def _encodings(value: str) -> set[str]:
    """``value`` as it is put on the wire (raw, percent-encoded as Python, the WHATWG URL
    standard's parsers (httpx, browsers) and JavaScript encode it), each of those as a text
    quotes it (JSON, Python's ``repr``, HTML), and as base64 and hex."""
    import html  # with its table of entities: only once there is a secret to spell

    forms: set[str] = set()
    for wire in _wire_forms(value):
        html_form = html.escape(wire)
        quoted = {
            wire,
            repr(wire)[1:-1],  # a Python error, or a dict of headers printed
            repr(wire.encode())[2:-1],  # "Illegal header value b'...\n'"
        }
        for text in quoted:
            forms |= _json_forms(text)
        forms |= {
            html_form,
            html_form.replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),  # as Jinja writes
            html.escape(wire, quote=False),
        }
    forms |= _base64_runs(value)
    data = value.encode()  # as hex too (a debug dump: Go's %x, bytes.hex()), in either case;
    if len(data) >= MIN_RUN:  # shorter, it could turn up in a hex digest the journal keeps
        forms |= {data.hex(), data.hex().upper()}
    return forms


def _json_forms(text: str) -> set[str]:
    """``text`` and ``text`` as JSON encoders write it inside a string: with non-ASCII kept or
    as ``\\uXXXX`` (lower- and upper-case hex, ``<``, ``>``, ``&`` escaped as Go does), and that
    again inside a JSON string (a body echoed in a JSON error), by either kind of encoder; and
    with ``/`` written ``\\/``, as PHP's ``json_encode`` does."""
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    if escaped == text and text.isascii() and "/" not in text:  # nothing JSON escapes
        return {text}
    ascii_only = json.dumps(text)[1:-1]
    slashed = {f.replace("/", "\\/") for f in (escaped, ascii_only)}  # PHP's json_encode: \/
    return (
        slashed
        | {
            text,
            escaped,
            ascii_only,
            _UNICODE_ESCAPE.sub(lambda m: m[0].upper().replace("\\U", "\\u"), ascii_only),
            *(_go_json(form) for form in (escaped, ascii_only)),  # Go escapes <, > and &
            *(
                json.dumps(form, ensure_ascii=kept)[1:-1]
                for form in (escaped, ascii_only)
                for kept in (False, True)
            ),
        }
    )


_UNICODE_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")


def _go_json(escaped: str) -> str:
    """JSON text as Go's encoding/json writes it: ``<``, ``>`` and ``&`` as ``\\u003c``…"""
    return escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# The WHATWG URL standard's percent-encode sets (what httpx and browsers escape in each part of
# a URL, beyond controls and non-ASCII), and what JavaScript's encodeURIComponent leaves as it is.
_QUERY_SET = frozenset(' "#<>')
_PATH_SET = _QUERY_SET | frozenset("?`{}")
_USERINFO_SET = _PATH_SET | frozenset("/:;=@[\\]^|")
_JS_KEPT = frozenset("-_.!~*'()")


def _percent(value: str, escaped: Callable[[str], bool]) -> str:
    return "".join("".join(f"%{b:02X}" for b in ch.encode()) if escaped(ch) else ch for ch in value)


def _wire_forms(value: str) -> set[str]:
    """``value`` raw and percent-encoded in each way a URL (or a form) carries it."""
    if value.isascii() and value.isalnum():  # most keys: nothing to escape
        return {value}

    def outside(chars: frozenset[str]) -> Callable[[str], bool]:
        return lambda ch: ch in chars or not " " < ch < "\x7f"

    forms = {
        value,
        value.replace(" ", "+"),  # a form's query decoded as a path is: the '+' left for spaces
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        urllib.parse.quote_plus(value, safe="/"),
        *(_percent(value, outside(chars)) for chars in (_QUERY_SET, _PATH_SET, _USERINFO_SET)),
        _percent(value, lambda ch: not (ch.isascii() and ch.isalnum()) and ch not in _JS_KEPT),
    }
    if not value.isascii():  # its UTF-8 read as Latin-1, as WSGI's PATH_INFO holds a path
        forms.add(value.encode().decode("latin-1"))
    return forms | {_ESCAPE.sub(lambda m: m[0].lower(), f) for f in forms if "%" in f}


def _base64_runs(value: str) -> set[str]:
    """The base64 characters that depend on ``value`` alone, wherever it sits in an encoded
    stream: ``value`` starting 0, 1 or 2 bytes into a 3-byte group (a Basic auth header holds
    ``user:password``, so the password starts at any offset)."""
    data = value.encode()
    runs: set[str] = set()
    for shift in range(3):
        chunk = data[shift:]
        chunk = chunk[: len(chunk) - len(chunk) % 3]
        encoded = base64.b64encode(chunk).decode()
        if len(encoded) >= MIN_RUN:
            runs |= {encoded, encoded.translate(_URLSAFE)}
    return runs


def _url_parts(value: str) -> set[str]:
    """The parts of a URL secret that identify it on their own (a webhook's token path, a
    password in the userinfo), each also percent-decoded."""
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        return set()
    if not parts.scheme or not parts.netloc or any(c.isspace() for c in value):
        return set()
    found: set[str] = set()
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        user, _, password = userinfo.partition(":")
        found |= {userinfo, password} | ({user} if _token_like(user) else set())
    path = parts.path.strip("/")
    segments = [s for s in path.split("/") if s]
    for index in range(len(segments)):
        suffix = "/".join(segments[index:])
        if index < len(segments) - 1 or _token_like(suffix):  # two segments or a token
            found |= {suffix, "/" + suffix}
    found |= {s for s in segments if _token_like(s)}
    if parts.query:
        found.add(parts.query)
        found |= {v for _, v in urllib.parse.parse_qsl(parts.query)}
    return found | {urllib.parse.unquote(f) for f in found}


def _token_like(text: str) -> bool:
    return len(text) >= MIN_RUN and not _PLAIN_WORD.fullmatch(text)
