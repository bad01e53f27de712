"""Sending a call to its gateway and judging the reply: bounded time, retries with backoff (and
Retry-After), a reply read up to a size, and what a failure most likely means."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:  # a canary run resolves its gateway without loading the runbook models
    from aiir.formats.profile import Profile
    from aiir.formats.schema import Expect

from aiir.formats import received
from aiir.outbound.gateway import (
    DEFAULT_TIMEOUT,
    MAX_BACKOFF,
    MAX_BODY,
    MAX_RETRY_AFTER,
    NOT_JSON,
    NOT_SENDABLE,
    Call,
    Endpoint,
    Reply,
    join_url,
    parsed_url,
    says,
)
from aiir.outbound.userinfo import URL_USERINFO
from aiir.redact import mask_data

# Asked before a retry with the failed reply: a reply ends the retries, None tries again.
Settled = Callable[[Reply], Reply | None]


class Sender:
    """Sends calls with retries (connection errors, 429, 5xx; honouring Retry-After).

    A call's ``timeout`` bounds the whole exchange, not each read: a reply that drips a byte at
    a time is cut off at the deadline like one that never comes.
    """

    def __init__(
        self,
        client: httpx2.Client,
        sleep: Callable[[float], None],
        *,
        max_body: int = MAX_BODY,
        on_wait: Callable[[str], None] | None = None,
        clean: Callable[[str], str] | None = None,
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.max_body = max_body
        self.on_wait = on_wait  # told before each wait of a second or more
        # The walk's masking: what a reply's reason and excerpts quote of its body is masked
        # before it is cut or its whitespace folded (either would change a secret's spelling).
        self.clean = clean
        # Asked before each try: raises when the request must not leave (a lease lost).
        self.before_try: Callable[[Call], None] | None = None

    def send(
        self,
        call: Call,
        settled: Settled | None = None,
        *,
        blind: bool = True,
    ) -> Reply:
        """Send ``call``, retrying failures that a second try may get past.

        A failed try may still have taken effect (surely so when ``Reply.uncertain``: it timed
        out, lost its connection, failed with a 5xx). Before each retry ``settled`` is asked
        with the failed reply: a reply it returns ends the retries (a lever's verify probe found
        the effect in place, or cannot tell over an uncertain try), so the request is not
        applied twice; None sends it again. Without ``settled``, a call that is not ``blind``
        (safe to repeat unseen) is never sent again over an uncertain try: its reply is
        returned as it is.
        """
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            if self.before_try is not None:
                self.before_try(call)
            reply, retry_after = self._attempt(call)
            last = attempt > call.retries
            checks = settled is not None
            unseen = reply.uncertain and settled is None and not blind
            if retry_after is None or last or unseen:
                return _with(reply, attempts=attempt, elapsed_ms=_since(started))
            wait = retry_after if retry_after > 0 else min(0.5 * 2 ** (attempt - 1), MAX_BACKOFF)
            if wait >= 1 and self.on_wait is not None:
                why = "as the gateway asked (Retry-After)" if retry_after > 0 else "before retrying"
                then = (
                    "checking whether it took effect before " if reply.uncertain and checks else ""
                )
                self.on_wait(
                    f"{call.method} {call.url}: {reply.reason}; waiting {wait:g}s {why}, "
                    f"then {then}try {attempt + 1} of {call.retries + 1}"
                )
            self.sleep(wait)
            found = settled(reply) if settled is not None else None
            if found is not None:
                return _with(found, attempts=attempt, elapsed_ms=_since(started))

    def _attempt(self, call: Call) -> tuple[Reply, float | None]:
        """One try; the second value says whether (and after how long) to retry."""
        outcome = exchange(self.client, call, self.max_body)
        if isinstance(outcome, Reply):
            if outcome.reason in (NOT_SENDABLE, NOT_JSON):
                return outcome, None  # nothing went out, and a second try would fail alike
            return outcome, 0.0  # no answer at all: worth another try
        status, headers, body, size = outcome
        reply = judge(call, status, headers, body, size, self.clean)
        if (status == 429 or status >= 500) and not says(call.permanent, reply.text):
            return reply, retry_after_seconds(headers.get("retry-after"))
        return reply, None


def exchange(
    client: httpx2.Client, call: Call, max_body: int = MAX_BODY
) -> Reply | tuple[int, dict[str, str], bytes, int]:
    """One try of ``call``, bounded by its timeout however the server answers: the status,
    headers (lower-cased), the body kept (up to ``max_body``) and its whole size; or a failed
    :class:`Reply` saying why there is no answer (``uncertain`` once the request went out)."""
    return _Exchange(client, call, max_body).run()


class _Exchange:
    """One request and its whole reply, on a worker thread so that the call's deadline holds
    however the server answers (late, or a byte at a time). A worker left behind at the
    deadline stops reading at its next chunk and closes the response."""

    def __init__(self, client: httpx2.Client, call: Call, max_body: int) -> None:
        self.client = client
        self.call = call
        self.max_body = max_body
        self.abandoned = False  # set once by the caller, read by the worker between chunks
        self.result: Reply | tuple[int, dict[str, str], bytes, int] | None = None

    def run(self) -> Reply | tuple[int, dict[str, str], bytes, int]:
        # Held until the worker is done: a bare lock, not an Event (a Condition, a waiter lock
        # and a deque for each request; every gateway call comes here: bench.engine).
        working = threading.Lock()
        working.acquire()

        def job() -> None:
            try:
                self._work()
            except Exception as exc:  # a bug: said as this request's failure, not a timeout
                reason = f"the request failed on this side ({type(exc).__name__}: {exc})"
                self.result = Reply(False, None, reason, uncertain=True)
            finally:
                working.release()

        _WORKERS.submit(job)
        if not working.acquire(timeout=self.call.timeout) or self.result is None:
            self.abandoned = True
            return Reply(False, None, f"timed out after {self.call.timeout:g}s", uncertain=True)
        return self.result

    def _work(self) -> None:
        call = self.call
        if call.json is not None and not _finite(call.json):
            self.result = Reply(False, None, NOT_JSON)  # what httpx2 refuses to encode
            return
        try:
            with self.client.stream(
                call.method,
                parsed_url(call.url),  # parsed once: the gateway check parsed it already
                params=call.query or None,
                headers=call.headers,
                json=call.json,
                content=call.body,
                timeout=_timeout(call.timeout),
                auth=URL_USERINFO,  # a URL's user:password@ never replaces the request's own
            ) as response:
                body, size = self._read(response)
                headers = {k.lower(): v for k, v in response.headers.items()}
                self.result = (response.status_code, headers, body, size)
        except (httpx2.LocalProtocolError, UnicodeError, httpx2.InvalidURL):  # IDNA: a..b
            # Refused on this side before anything went out: a second try would fail alike.
            self.result = Reply(False, None, NOT_SENDABLE)
        except (httpx2.ConnectTimeout, httpx2.PoolTimeout):  # never reached the gateway
            self.result = Reply(False, None, f"timed out connecting after {call.timeout:g}s")
        except httpx2.TimeoutException:
            self.result = Reply(False, None, f"timed out after {call.timeout:g}s", uncertain=True)
        except httpx2.ConnectError as exc:
            self.result = Reply(False, None, f"connection failed: {_transport_reason(exc)}")
        except httpx2.TransportError as exc:  # sent, then the connection broke
            reason = f"connection lost after the request was sent: {_transport_reason(exc)}"
            self.result = Reply(False, None, reason, uncertain=True)
        except _Abandoned:
            pass

    def _read(self, response: httpx2.Response) -> tuple[bytes, int]:
        kept = bytearray()
        size = 0
        for chunk in response.iter_bytes():
            if self.abandoned:
                raise _Abandoned
            size += len(chunk)
            if len(kept) < self.max_body:
                kept.extend(chunk[: self.max_body - len(kept)])
        return bytes(kept), size


def _finite(data: Any) -> bool:
    """No NaN or infinity anywhere in ``data`` (JSON has no such numbers)."""
    if isinstance(data, float):
        return math.isfinite(data)
    if isinstance(data, dict):
        return all(_finite(value) for value in data.values())
    if isinstance(data, list | tuple):
        return all(_finite(value) for value in data)
    return True


class _Workers:
    """Threads that run exchanges, kept for the next one: starting a thread per request cost a
    walk more than its own work (bench.engine). A request abandoned at its deadline keeps its
    thread until it stops, and the next request takes another one, so no request ever waits
    behind a stuck one. A thread idle for :data:`IDLE` seconds ends."""

    IDLE = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Callable[[], None]]] = []

    def forget(self) -> None:
        """After a fork: the child has none of the parent's threads."""
        self._lock = threading.Lock()
        self._idle = []

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            jobs = self._idle.pop() if self._idle else None
        if jobs is None:
            jobs = queue.SimpleQueue()
            thread = threading.Thread(target=self._serve, args=(jobs,), daemon=True)
            thread.name = "aiir-request"
            thread.start()
        jobs.put(job)

    def _serve(self, jobs: queue.SimpleQueue[Callable[[], None]]) -> None:
        while True:
            try:
                job = jobs.get(timeout=self.IDLE)
            except queue.Empty:
                with self._lock:
                    if jobs in self._idle:  # not taken meanwhile: this thread ends
                        self._idle.remove(jobs)
                        return
                continue  # taken just now: its job is on the way
            job()
            with self._lock:
                self._idle.append(jobs)


_WORKERS = _Workers()
# A forked child has none of its parent's threads: it starts with no idle ones.
os.register_at_fork(after_in_child=_WORKERS.forget)


class _Abandoned(Exception):
    """The caller stopped waiting for this exchange."""


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> httpx2.Timeout:
    """A call's timeout as httpx2 takes it: given a number, httpx2 checks it against the
    ``SupportsFloat`` protocol for each request, a slow ``isinstance`` (bench.engine)."""
    return httpx2.Timeout(seconds)


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _with(reply: Reply, **changes: Any) -> Reply:
    return Reply(**{**reply.__dict__, **changes})


def _transport_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def retry_after_seconds(value: str | None, now: float | None = None) -> float:
    """Seconds a ``Retry-After`` header asks for, in seconds or as an HTTP date (from ``now``,
    the Unix time, the wall clock's by default), capped at :data:`MAX_RETRY_AFTER`; 0 (our own
    backoff) when it names none, a time past, or nothing a number or a date can be read from
    (negative, not a number)."""
    if value is None:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value, time.time() if now is None else now)
    if not seconds > 0:  # NaN too
        return 0.0
    return min(seconds, MAX_RETRY_AFTER)


def _seconds_until(date: str, now: float) -> float:
    try:
        when = email.utils.parsedate_to_datetime(date.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return 0.0
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp() - now


def gateway_message(parsed: Any, text: str) -> str:
    """What the gateway itself said about a failure ("Key not found"), if it said anything."""
    found = _message_in(parsed)
    if found:
        return found
    line = " ".join(text.split())
    if line and len(line) <= 300 and not line.startswith("<"):  # plain text, not an HTML page
        return line
    return ""


def _message_in(value: Any, depth: int = 0) -> str:
    if isinstance(value, str):
        return " ".join(value.split())[:300]
    if not isinstance(value, dict) or depth > 3:
        return ""
    for key in ("message", "error", "detail", "msg", "error_message", "reason", "description"):
        if key in value:
            found = _message_in(value[key], depth + 1)
            if found:
                return found
    return ""


def judge(
    call: Call,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    size: int,
    clean: Callable[[str], str] | None = None,
) -> Reply:
    """Check a response against the call's expectations and pull out saved values; what the
    reason quotes of the body is masked with ``clean`` before it is folded into one line."""
    parsed: Any = None
    try:
        parsed = received.loads(body) if body else None
    except ValueError:
        parsed = None
    cut = size > len(body) and _reads_body(call)  # a cut body could hide what is checked for
    reason = _unmet(call.expect, status, headers, body, parsed, status_only=cut)
    if cut and reason is None:
        reason = f"response of {size} bytes is over the {len(body)} kept: too large to check"
    saved: dict[str, Any] = {}
    if reason is None:
        for name, path in call.save.items():
            found, value = extract(path, status, headers, parsed)
            if not found:
                reason = f"response has no {path!r} to save as {name!r}"
                break
            saved[name] = value
    ok = reason is None
    if not ok and not 200 <= status < 300:
        text = body.decode("utf-8", errors="replace")
        if clean is not None:
            parsed, text = mask_data(parsed, clean), clean(text)
        said = gateway_message(parsed, text)
        if said and said not in str(reason):
            reason = f"{reason}: {said}"
    return Reply(
        ok=ok,
        status=status,
        reason="ok" if ok else str(reason),
        headers=dict(headers),
        body=body,
        size=size,
        saved=saved,
        uncertain=not ok and _may_have_applied(status),
        clean=clean,
    )


def _may_have_applied(status: int) -> bool:
    """A failed reply after which the request may still have taken effect: a 2xx that did not
    meet the expectations (or lost what was to be saved), or a server error other than 503,
    which says the request was not taken (500, or a proxy's 502/504 while the gateway behind it
    went on to apply it)."""
    return 200 <= status < 300 or (status >= 500 and status != 503)


def diagnose(
    call: Call,
    reply: Reply,
    profiles: Mapping[str, Profile],
    send: Callable[[Call], Reply],
    endpoint: Endpoint,
) -> Reply:
    """Mark a failed profile action as *unavailable* when the gateway cannot do it at all.

    Data-driven by the profile's ``unavailable`` rules: a telltale body, or (for admin actions
    that fail with a bare 5xx, or whose connection the gateway dropped once it had the request,
    as a server failing early does) a probe such as LiteLLM's readiness saying its database is
    absent: an action that needs the database cannot have taken effect without it.
    """
    lost = reply.status is None and reply.uncertain  # sent, then the connection was dropped
    if reply.ok or call.action is None or (reply.status is None and not lost):
        return reply
    profile_name, action_name = call.action.split(".", 1)
    profile = profiles.get(profile_name)
    rules = profile.unavailable if profile else None
    if profile is None or rules is None:
        return reply
    excerpt = " ".join(reply.excerpt(10 * 300).split())[:300]
    if says(rules.body_patterns, reply.text):
        reason = f"lever unavailable: {rules.reason} ({profile.title} said: {excerpt})"
        return _with(reply, unavailable=True, reason=reason)
    action = profile.actions.get(action_name)
    probe = profile.actions.get(rules.probe or "")
    failed_early = lost or (reply.status is not None and reply.status >= 500)
    if probe is None or action is None or not action.admin or not failed_early:
        return reply
    probe_call = Call(
        gateway=endpoint.name,
        method=probe.method,
        url=join_url(endpoint, probe.path, f"{profile_name}.{rules.probe}"),
        headers=dict(endpoint.headers),
        query={},
        json=None,
        body=None,
        timeout=DEFAULT_TIMEOUT,
        retries=1,  # a server that just failed with a 5xx often resets the pooled connection
        expect=None,
        save={},
        action=f"{profile_name}.{rules.probe}",
    )
    parsed = send(probe_call).json()
    if parsed is None or any(
        extract(k, 0, {}, parsed) != (True, v) for k, v in rules.probe_json.items()
    ):
        return reply
    said = ", ".join(f"{k}: {v}" for k, v in rules.probe_json.items())
    answer = "the connection was dropped" if lost else f"the reply was {reply.status} {excerpt}"
    reason = f"lever unavailable: {rules.reason} ({rules.probe} says {said}; {answer})"
    return _with(reply, unavailable=True, reason=reason)


def _reads_body(call: Call) -> bool:
    expect = call.expect
    checks = expect is not None and (
        expect.json_ or expect.body_contains or expect.body_not_contains
    )
    return bool(call.save or checks)


def _unmet(
    expect: Expect | None,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    parsed: Any,
    *,
    status_only: bool = False,
) -> str | None:
    if expect is None or expect.status is None:
        if not 200 <= status < 300:
            return f"status {status}, expected 2xx"
    else:
        wanted = expect.status if isinstance(expect.status, list) else [expect.status]
        if status not in wanted:
            return f"status {status}, expected {' or '.join(map(str, wanted))}"
    if expect is None or status_only:
        return None
    text = body.decode("utf-8", errors="replace")
    for needle in expect.body_contains:
        if needle not in text:
            return f"body does not contain {needle!r}"
    for needle in expect.body_not_contains:
        if needle in text:
            return f"body contains {needle!r}"
    for name, value in expect.headers.items():
        if headers.get(name.lower()) != value:
            return f"header {name} is {headers.get(name.lower())!r}, expected {value!r}"
    for path, value in expect.json_.items():
        found, actual = extract(path, status, headers, parsed)
        if not found or actual != value:
            return f"{path} is {actual!r}, expected {value!r}"
    return None


def extract(path: str, status: int, headers: Mapping[str, str], parsed: Any) -> tuple[bool, Any]:
    """Value at a dotted path in the JSON body; ``status`` and ``header.NAME`` are special."""
    if path == "status":
        return True, status
    if path.startswith("header."):
        name = path.removeprefix("header.").lower()
        return name in headers, headers.get(name)
    current = parsed
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return False, None
    return True, current
