"""What every simulated service's routes share: parse the request, call the service under the
sandbox's lock, answer with JSON (or the service's own error body), then wait out any injected
latency outside the lock. Services stay free of HTTP: they take an :class:`Incoming` and return
data or an :class:`Answer`, and raise :class:`SandboxError`."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiir.sandbox.errors import SandboxError, bad_request


class Host(Protocol):
    """The sandbox as the routes see it: one lock for all state, and the admin key if any."""

    lock: threading.RLock
    master_key: str | None


@dataclass(frozen=True)
class Incoming:
    """A request, parsed: path parameters, query, JSON body (None when empty), bearer key."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    key: str | None

    def obj(self) -> dict[str, Any]:
        """The body as a JSON object ({} when there is none)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise bad_request("JSON body must be an object")
        return self.body

    def text(self, name: str, default: str = "") -> str:
        value = self.obj().get(name)
        return default if value is None else str(value)


@dataclass
class Answer:
    """A response: JSON payload (None: an empty body), status, headers, delay before it."""

    payload: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_ms: float = 0.0


Service = Callable[[Incoming], Any]


def integer_field(value: Any, name: str, minimum: int = 0) -> int:
    """A request field that must be a whole number: a 400, never a crash, when it is not."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise bad_request(f"{name} must be at least {minimum}")
    return number


def number_field(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} must be a number, not {value!r}") from None


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization") or request.headers.get("x-litellm-api-key")
    if not header:
        return None
    return header.removeprefix("Bearer ").strip() or None


async def incoming(request: Request) -> Incoming:
    raw = await request.body()
    body: Any = None
    if raw.strip():
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise bad_request("Invalid JSON body") from None
    return Incoming(dict(request.path_params), dict(request.query_params), body, bearer(request))


def respond(answer: Any) -> Response:
    if not isinstance(answer, Answer):
        answer = Answer(answer)
    headers = {name: _header_value(value) for name, value in answer.headers.items()}
    if answer.payload is None:
        return Response(status_code=answer.status, headers=headers)
    return JSONResponse(answer.payload, status_code=answer.status, headers=headers)


def _header_value(value: str) -> str:
    """A value HTTP carries: what a request named (a model 'é🙂', a line break) percent-encoded
    where a header cannot hold it. Raw, a model name of a canary suite outside latin-1 crashed
    the simulated gateway's reply (and the canary run with it)."""
    if value.isascii() and value.isprintable():
        return value
    return urllib.parse.quote(value, safe=_HEADER_SAFE)


_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def error_response(exc: SandboxError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status)


def admin_refusal() -> SandboxError:
    return SandboxError(
        401, "Authentication Error, admin key required for this route", "auth_error"
    )


def route(path: str, method: str, service: Service, host: Host, *, admin: bool = False) -> Route:
    """One route: ``service`` runs under the host's lock; admin routes need the master key."""

    async def endpoint(request: Request) -> Response:
        try:
            call = await incoming(request)
            if admin and host.master_key and call.key != host.master_key:
                raise admin_refusal()
            with host.lock:
                answer = service(call)
        except SandboxError as exc:
            return error_response(exc)
        delay = answer.delay_ms if isinstance(answer, Answer) else 0.0
        if delay:
            await asyncio.sleep(delay / 1000)
        return respond(answer)

    endpoint.__name__ = f"{method.lower()}_{path}"
    return Route(path, endpoint, methods=[method])
