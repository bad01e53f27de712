"""Sending a trace (:mod:`aiir.outbound.trace`) to an OTLP/HTTP endpoint with the OpenTelemetry
SDK's own exporter: protobuf over HTTP, as Phoenix, Jaeger, Tempo and the Collector take it.

The SDK is imported only here, and only when a trace is sent: ``aiir --help`` and a walk that
exports nothing never load it. The exporter reports trouble through Python's logging; that is
caught here and said in one line, so an unreachable endpoint costs a walk nothing but a note.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiir.outbound.trace import SERVICE, Span, Trace

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan

TIMEOUT = 5.0  # seconds for the whole export, retries included
BATCH = 512  # spans per request
MAX_REPLY = 64 * 1024  # bytes of an endpoint's reply kept (OTLP answers with a short status)
PATH = "/v1/traces"  # where OTLP/HTTP takes traces, appended to a bare address
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_CODE = re.compile(r"code: (\d{3})")


@dataclass(frozen=True)
class Sent:
    """What became of one export: ``ok``, how many spans went, and why not when not."""

    ok: bool
    spans: int
    reason: str = ""


def endpoint(url: str) -> str:
    """The traces endpoint of ``url``: a bare address (no path) gets OTLP's ``/v1/traces``."""
    return url.rstrip("/") + PATH if url.split("://", 1)[-1].strip("/").count("/") == 0 else url


def send(
    trace: Trace, url: str, headers: Mapping[str, str] | None = None, timeout: float | None = None
) -> Sent:
    """Export every span of ``trace`` to ``url`` (an OTLP/HTTP traces endpoint) within
    ``timeout`` seconds (default :data:`TIMEOUT`), retries included."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    spans = readable(trace)
    session = _session(time.monotonic() + (timeout or TIMEOUT))
    exporter = OTLPSpanExporter(
        endpoint=endpoint(url),
        headers=dict(headers or {}),
        timeout=timeout or TIMEOUT,
        session=session,
    )
    sent = 0
    try:
        with _caught() as said:
            for start in range(0, len(spans), BATCH):
                batch = spans[start : start + BATCH]
                if exporter.export(batch) is not SpanExportResult.SUCCESS:
                    heard = getattr(session, "error", None)
                    return Sent(False, sent, _reason(said, heard))
                sent += len(batch)
    finally:
        with _caught():
            exporter.shutdown()  # type: ignore[no-untyped-call]
    return Sent(True, sent)


def readable(trace: Trace) -> list[ReadableSpan]:
    """The trace as the SDK's finished spans, with the ids and times the journal gave them."""
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create(trace.resource)
    return [_readable(span, trace.trace_id, resource) for span in trace.spans]


def _readable(span: Span, trace_id: bytes, resource: Resource) -> ReadableSpan:
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

    from aiir import __version__

    def context(span_id: bytes) -> SpanContext:
        number = int.from_bytes(trace_id, "big")
        flags = TraceFlags(TraceFlags.SAMPLED)
        return SpanContext(number, int.from_bytes(span_id, "big"), False, flags)

    attributes: dict[str, Any] = dict(span.attributes)
    if span.dropped_events:
        attributes["aiir.events.dropped"] = span.dropped_events
    status = Status(StatusCode.ERROR, span.error) if span.error else Status(StatusCode.OK)
    return ReadableSpan(
        name=span.name,
        context=context(span.span_id),
        parent=context(span.parent_id) if span.parent_id else None,
        resource=resource,
        attributes=attributes,
        events=[Event(e.name, e.attributes, e.at) for e in span.events],
        status=status,
        start_time=span.start,
        end_time=span.end,
        instrumentation_scope=InstrumentationScope(SERVICE, __version__),
    )


class _Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(record.getMessage())


@contextlib.contextmanager
def _caught() -> Iterator[_Said]:
    """What the SDK logs while sending, kept from the terminal and kept for :func:`_reason`."""
    said = _Said()
    logger = logging.getLogger("opentelemetry")
    propagate, level = logger.propagate, logger.level
    logger.addHandler(said)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield said
    finally:
        logger.removeHandler(said)
        logger.propagate, logger.level = propagate, level


def _session(deadline: float) -> Any:
    """A requests session (the exporter's) that keeps the last error it met, for the reason,
    and holds every reply to ``deadline`` (``time.monotonic``): requests' own timeout is per
    read, and an endpoint dripping its answer a byte at a time never lets one run out."""
    import requests

    class Heard(requests.Session):
        error: Exception | None = None

        def request(self, *args: Any, **kwargs: Any) -> Any:
            try:
                response = super().request(*args, **{**kwargs, "stream": True})
                _read_by(response, deadline)
                return response
            except requests.RequestException as exc:
                self.error = exc
                raise

    return Heard()


def _read_by(response: Any, deadline: float) -> None:
    """Read the reply's body (at most :data:`MAX_REPLY` bytes) before ``deadline``, as
    requests keeps a body it has read; past it, the reply is dropped as a timeout."""
    import requests

    kept = bytearray()
    with contextlib.closing(response):
        # A byte at a time: a larger read waits for all its bytes (an OTLP answer is short).
        for chunk in response.iter_content(chunk_size=1):
            if time.monotonic() > deadline:
                raise requests.exceptions.Timeout("timed out: the reply did not arrive in time")
            kept.extend(chunk)
            if len(kept) >= MAX_REPLY:  # enough to say what it is: the rest is not read
                break
    response._content = bytes(kept)  # what requests itself sets once a body is read
    response._content_consumed = True


def _reason(said: _Said, heard: Exception | None = None) -> str:
    """Why the export failed, in a few words, from what the exporter logged and the last error
    its session met."""
    text = " ".join([str(heard or ""), *said.lines])
    errno = _ERRNO.search(text)
    if errno:
        return errno[1].strip().lower()
    code = [c for c in _CODE.findall(text) if c != "None"]
    if code:
        return f"the endpoint answered HTTP {code[-1]}"
    if "timed out" in text.lower() or "timeout" in text.lower():
        return "no answer in time"
    return said.lines[-1][:200] if said.lines else "the endpoint did not take it"
