"""Requests on declared gateways: resolve a runbook request into a call (sending it and judging
the reply: :mod:`aiir.outbound.sending`).

A runbook may only talk to the gateways it declares. A request's path is rendered from a template,
then joined to the gateway's base URL, and the result must still point at that gateway: no answer,
captured value or response can redirect a request (and its admin headers) anywhere else.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2

from aiir.errors import InputError
from aiir.formats import received
from aiir.formats.taint import watched
from aiir.formats.templating import environment, references, render, run_expression

if TYPE_CHECKING:  # a canary run resolves its gateway without loading the runbook models
    from aiir.formats.common import Gateway
    from aiir.formats.profile import Profile, ProfileAction
    from aiir.formats.schema import Expect, Request

MAX_BODY = 5 * 1024 * 1024  # bytes kept of a response; the rest is counted, not stored
MAX_BACKOFF = 10.0
_SPELLING_WINDOW = 8192  # characters past an excerpt's cut masked with it: longer than any secret
MAX_RETRY_AFTER = 30.0
DEFAULT_TIMEOUT = 15.0
DEFAULT_RETRIES = 2
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_ONE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.S)
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")  # visible ASCII, spaces and tabs
NOT_SENDABLE = (
    "not sent: the request is not valid HTTP (a header or the URL holds a character HTTP cannot "
    "carry)"
)
NOT_JSON = "not sent: the request's JSON body holds a number JSON cannot carry (NaN or infinity)"
_SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "cookie", "x-litellm-api-key"}
)


class RequestRefused(InputError):
    """A request would leave its declared gateway, or could not be built."""


@dataclass(frozen=True)
class Endpoint:
    """A declared gateway, resolved: its base URL and the headers sent with every request."""

    name: str
    profile: str
    base_url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Call:
    """A fully resolved HTTP request."""

    gateway: str
    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any
    body: str | None
    timeout: float
    retries: int
    expect: Expect | None
    save: dict[str, str]
    action: str | None = None
    # Reply bodies that mean the gateway cannot do this at all (the profile's ``unavailable``
    # patterns): such a failure is final, never retried, even as a 5xx (LiteLLM's "no database").
    permanent: tuple[str, ...] = ()

    @property
    def repeatable(self) -> bool:
        """Whether sending it twice does what sending it once does (RFC 9110's idempotent
        methods): only such a call is sent again, unseen, after a try that may have taken
        effect."""
        return self.method in IDEMPOTENT

    def summary(self) -> dict[str, Any]:
        """What the operator and the journal see: sensitive headers masked."""
        headers = {
            k: ("***" if k.lower() in _SENSITIVE_HEADERS else v) for k, v in self.headers.items()
        }
        shown: dict[str, Any] = {"method": self.method, "url": self.url, "gateway": self.gateway}
        if self.action:
            shown["use"] = self.action
        if self.query:
            shown["query"] = self.query
        if headers:
            shown["headers"] = headers
        if self.json is not None:
            shown["json"] = self.json
        if self.body is not None:
            shown["body"] = self.body
        return shown


@dataclass(frozen=True)
class Reply:
    """The outcome of sending a call: ``ok`` only when every expectation held."""

    ok: bool
    status: int | None
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    size: int = 0
    attempts: int = 1
    elapsed_ms: int = 0
    saved: dict[str, Any] = field(default_factory=dict)
    unavailable: bool = False
    # A failure that may still have taken effect: the request went out, and no answer says it
    # was refused (a timeout, a dropped connection, a 5xx, a 2xx that did not meet the
    # expectations). Only a probe can tell; a lever is never sent again over it blindly.
    uncertain: bool = False
    # How the walk masks its secrets (the sender's): an excerpt is masked before it is cut, or a
    # secret across the cut would leave its first part behind for the journal's masking to miss.
    clean: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def excerpt(self, limit: int) -> str:
        """The body's first ``limit`` characters, masked (:attr:`clean`) before they are cut."""
        if limit <= 0:
            return ""
        if self.clean is None:
            return self.text[:limit]
        # Masked a window longer than any secret's spelling, not the whole (up to MAX_BODY).
        window = self.body[: 4 * (limit + _SPELLING_WINDOW)].decode("utf-8", errors="replace")
        return self.clean(window)[:limit]

    def json(self) -> Any:
        try:
            return received.loads(self.body)
        except ValueError:
            return None

    def summary(self, excerpt: int = 2000) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            "elapsed_ms": self.elapsed_ms,
            "bytes": self.size,
            "body": self.excerpt(excerpt),
        }
        if self.saved:
            out["saved"] = self.saved
        if self.unavailable:
            out["unavailable"] = True
        if self.uncertain:
            out["uncertain"] = True
        return out


# --- resolving ---------------------------------------------------------------------------------


def resolve_endpoint(
    name: str, gateway: Gateway, context: Mapping[str, Any], url: str | None
) -> Endpoint:
    """Base URL (an override wins) and headers of a declared gateway."""
    base = url or (render(gateway.url, context, f"gateways.{name}.url") if gateway.url else "")
    base = base.strip()
    if not base:
        raise InputError(f"gateway {name!r} has no URL: pass --gateway {name}=URL")
    try:
        parsed = httpx2.URL(base)
    except httpx2.InvalidURL as exc:
        raise InputError(f"gateway {name!r}: its URL is not valid ({_invalid(exc)})") from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        # Only scheme, host and port are quoted back: the URL may come from a variable, and its
        # userinfo, path or query may hold a credential.
        if not parsed.scheme:
            raise InputError(f"gateway {name!r}: its URL has no scheme (http:// or https://)")
        port = f":{parsed.port}" if parsed.port else ""
        origin = f"{parsed.scheme}://{parsed.host}{port}"
        raise InputError(f"gateway {name!r}: {origin!r} is not an http(s) URL")
    problem = _base_problem(base, parsed)
    if problem is not None:
        raise InputError(f"gateway {name!r}: its URL {problem}; nothing was sent")
    where = f"gateways.{name}.headers"
    headers = {
        key: checked_header(key, render(value, context, f"{where}.{key}"), value, where)
        for key, value in gateway.headers.items()
    }
    return Endpoint(name, gateway.profile, base.rstrip("/"), headers)


def _invalid(exc: httpx2.InvalidURL) -> str:
    """Why a URL does not parse, without the pieces of it the client's error quotes: a password
    with a ``/``, ``?`` or ``#`` in it ends the host there, and the error named its first part
    as the port (``Invalid port: 'hunter'``), where no mask finds it."""
    said = str(exc)
    if said.startswith("Invalid port"):
        return (
            "what follows the host is not a port number: a '/', '?', '#' or '@' inside a "
            "password must be percent-encoded (%2F, %3F, %23, %40)"
        )
    return _QUOTED.sub("'…'", said)


_QUOTED = re.compile(r"'[^']{5,}'")  # longer than one character's escape, which stays


def _base_problem(base: str, parsed: httpx2.URL) -> str | None:
    """Why a gateway's base URL cannot take requests, if it cannot (said without the URL,
    whose userinfo or query may hold a credential)."""
    if any(ch.isspace() for ch in base):
        return "contains a space or a line break"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"has port {parsed.port}, not one from 1 to 65535"
    if parsed.query or "?" in base:
        return (
            "has a query string (?…), which each request's path would be added to: give "
            "query parameters on the requests (query:)"
        )
    if parsed.fragment or "#" in base:
        return "has a fragment (#…), which each request's path would be added to"
    return None


def checked_header(key: str, value: str, template: str | None, where: str) -> str:
    """A header value as HTTP carries it: surrounding blanks dropped; a line break, another
    control character or a non-ASCII character is refused before anything is sent, naming the
    header and the variables it was made from (never the value, which may be a secret)."""
    value = value.strip(" \t")
    if _HEADER_VALUE.fullmatch(value):
        return value
    if any(ch in value for ch in "\r\n"):
        problem = "contains a line break"
    elif not value.isascii():
        problem = "contains a non-ASCII character, which HTTP headers cannot carry"
    else:
        problem = "contains a control character"
    read = _read_by(template) if template else []
    source = f" (made from {', '.join(read)})" if read else ""
    raise RequestRefused(
        f"{where}.{key}: the value of header {key}{source} {problem}; nothing was sent"
    )


def _read_by(template: str) -> list[str]:
    try:
        found = references(template)
    except InputError:
        return []
    return sorted({f"{r.namespace}.{r.name}" if r.name else r.namespace for r in found})


def render_value(value: Any, context: Mapping[str, Any], where: str) -> Any:
    """Render templated strings inside JSON-like data; ``"{{ expr }}"`` alone keeps its type."""
    if isinstance(value, str):
        match = _ONE_EXPRESSION.match(value)
        if match:
            try:
                expression = environment().compile_expression(
                    match["expr"], undefined_to_none=False
                )
                result = run_expression(expression, context)
            except Exception:  # fall back to rendering, which reports the error well
                return render(value, context, where)
            if _holds_undefined(result):  # a missing value fails here, not when it is shown
                return render(value, context, where)
            # what it computed from a secret is masked
            watched(match["expr"], context, result, lambda other: run_expression(expression, other))
            return result
        return render(value, context, where)
    if isinstance(value, dict):
        return {k: render_value(v, context, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _holds_undefined(value: Any) -> bool:
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        return True
    if isinstance(value, dict):
        return any(_holds_undefined(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_undefined(v) for v in value)
    return False


def build_call(
    request: Request,
    where: str,
    context: Mapping[str, Any],
    endpoints: Mapping[str, Endpoint],
    profiles: Mapping[str, Profile],
) -> Call:
    """Resolve a runbook request (profile action or spelled out) against its gateway."""
    endpoint = _endpoint_for(request, endpoints, where)
    action = _action_for(request, profiles, where)

    def text(source: str, part: str) -> str:
        return render(source, context, f"{where}.{part}")

    if action is not None:
        params = {name: spec.default for name, spec in action.params.items()}
        params.update(render_value(request.with_, context, f"{where}.with"))
        missing = [
            n for n, spec in action.params.items() if spec.required and params.get(n) is None
        ]
        if missing:
            raise RequestRefused(f"{where}: {request.use} needs {', '.join(missing)} in 'with'")
        inner = {"params": params}
        scope = f"{request.use}"
        method = request.method or action.method
        path = text(request.path, "path") if request.path else render(action.path, inner, scope)
        query = {k: render(v, inner, scope) for k, v in action.query.items()}
        headers = {k: render(v, inner, scope) for k, v in action.headers.items()}
        body_json = render_value(action.json_, inner, scope) if action.json_ is not None else None
        body = render(action.body, inner, scope) if action.body is not None else None
    else:
        method = request.method or "GET"
        path = text(request.path or "/", "path")
        query, headers, body_json, body = {}, {}, None, None
    query.update({k: text(v, f"query.{k}") for k, v in request.query.items()})
    sources = {**(action.headers if action else {}), **request.headers}
    headers = {**endpoint.headers, **headers}
    headers.update({k: text(v, f"headers.{k}") for k, v in request.headers.items()})
    # The gateway's own headers were checked when it was resolved; the rest are checked here.
    for key in [k for k in headers if k in sources or k not in endpoint.headers]:
        headers[key] = checked_header(key, headers[key], sources.get(key), f"{where}.headers")
    if request.json_ is not None:
        body_json = render_value(request.json_, context, f"{where}.json")
    if request.body is not None:
        body = text(request.body, "body")
    return Call(
        gateway=endpoint.name,
        method=method,
        url=join_url(endpoint, path, where),
        headers=headers,
        query=query,
        json=body_json,
        body=body,
        timeout=request.timeout or (action.timeout if action else None) or DEFAULT_TIMEOUT,
        retries=_first(request.retries, action.retries if action else None, DEFAULT_RETRIES),
        expect=_rendered_expect(
            request.expect or (action.expect if action else None), context, where
        ),
        save={**(action.save if action else {}), **request.save},
        action=request.use,
        permanent=_permanent(request, profiles),
    )


def _permanent(request: Request, profiles: Mapping[str, Profile]) -> tuple[str, ...]:
    if request.use is None:
        return ()
    profile = profiles.get(request.use.split(".", 1)[0])
    rules = profile.unavailable if profile is not None else None
    return tuple(rules.body_patterns) if rules is not None else ()


def says(patterns: tuple[str, ...] | list[str], text: str) -> bool:
    lowered = text.lower()
    return any(p.lower() in lowered for p in patterns)


def _rendered_expect(
    expect: Expect | None, context: Mapping[str, Any], where: str
) -> Expect | None:
    if expect is None or not (expect.json_ or expect.headers):
        return expect
    return expect.model_copy(
        update={
            "json_": render_value(expect.json_, context, f"{where}.expect.json"),
            "headers": {
                k: render(v, context, f"{where}.expect.headers") for k, v in expect.headers.items()
            },
        }
    )


def _first(*values: int | None) -> int:
    return next(v for v in values if v is not None)


def _endpoint_for(request: Request, endpoints: Mapping[str, Endpoint], where: str) -> Endpoint:
    if request.gateway is not None:
        if request.gateway not in endpoints:
            raise RequestRefused(f"{where}: {request.gateway!r} is not a declared gateway")
        return endpoints[request.gateway]
    if len(endpoints) != 1:
        raise RequestRefused(
            f"{where}: name the gateway ('gateway:'); the runbook declares {len(endpoints)}"
        )
    return next(iter(endpoints.values()))


def _action_for(
    request: Request, profiles: Mapping[str, Profile], where: str
) -> ProfileAction | None:
    if request.use is None:
        return None
    profile_name, action_name = request.use.split(".", 1)
    profile = profiles.get(profile_name)
    if profile is None or action_name not in profile.actions:
        raise RequestRefused(f"{where}: unknown profile action {request.use!r}")
    return profile.actions[action_name]


def join_url(endpoint: Endpoint, path: str, where: str) -> str:
    """``base + path``, refused if the result would leave the gateway."""
    problem = _path_problem(path)
    if problem is not None:
        raise RequestRefused(
            f"{where}: path {path!r} refused: {problem} "
            f"(requests only go to gateway {endpoint.name!r})"
        )
    url = endpoint.base_url + path
    try:
        joined = parsed_url(url)
    except httpx2.InvalidURL as exc:  # e.g. a path 300,000 characters long from an answer
        raise RequestRefused(f"{where}: the URL cannot be sent: {exc}") from None
    if (joined.scheme, joined.host, joined.port) != _origin(endpoint.base_url):
        raise RequestRefused(f"{where}: {url!r} leaves gateway {endpoint.name!r}")
    return url


@functools.lru_cache(maxsize=256)
def parsed_url(url: str) -> httpx2.URL:
    """``url`` parsed, once for the check that it stays on its gateway and the exchange that
    sends it (``bench.engine``: httpx2 parsed each request's URL again, and a lever's engage,
    verify and release preview name the same one). An ``httpx2.URL`` is immutable."""
    return httpx2.URL(url)


@functools.lru_cache(maxsize=64)
def _origin(base_url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a gateway's base URL, parsed once (``bench.engine``: every
    request of a walk parsed it again)."""
    base = httpx2.URL(base_url)
    return base.scheme, base.host, base.port


def _path_problem(path: str) -> str | None:
    """Why ``path`` could leave the gateway, or climb out of its base path; None if it cannot."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return "it contains control characters"
    if not path.startswith("/"):
        return "it must start with '/'"
    if path.startswith("//"):
        return "a leading '//' names another host"
    if "\\" in path:
        return "some servers read '\\' as '/'"
    # Servers decode before they resolve dot segments: '%2e%2e' climbs as '..' does.
    decoded = urllib.parse.unquote(path.split("?", maxsplit=1)[0])
    if any(segment in {".", ".."} for segment in re.split(r"[/\\]", decoded)):
        return "'.' and '..' segments (also percent-encoded) are not allowed"
    return None
