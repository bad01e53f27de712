"""The response's own trace: an incident's journal read as OpenTelemetry spans.

The journal is the record, so the trace is built from it and from nothing else: exported at the
end of a walk, after a resume, or later from another machine, one incident gives the same trace.
Every id is derived from the incident's id and the journal line a span starts at, so exporting
again sends the same spans into the same trace instead of a second copy of it.

The shape (names and attributes) is described in docs/trace.md. Nothing here touches the network
or the OpenTelemetry SDK: :mod:`aiir.outbound.otlp` sends what is built here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiir import __version__
from aiir.formats.schema import FAILING_OUTCOMES
from aiir.incident.events import EventType
from aiir.incident.journal import Event
from aiir.incident.state import Incident
from aiir.redact import scrub
from aiir.timestamps import parse_iso

Value = str | bool | int | float
SERVICE = "aiir"
DEFAULT_PROJECT = "aiir"
MAX_EVENTS = 128  # span events kept per span (the SDK's own default limit); the rest counted
MAX_TEXT = 1000  # characters of one attribute's text
# Journal keys whose text is a message or a reply body: the trace names what happened, the
# journal keeps the words.
_BULKY = frozenset({"text", "summary", "body", "source", "snapshot", "snapshot_sha256"})
_INCIDENT_EVENTS = frozenset(
    {
        EventType.INCIDENT_ENDED,
        EventType.INCIDENT_INTERRUPTED,
        EventType.INCIDENT_RESUMED,
        EventType.INCIDENT_TAKEN_OVER,
    }
)
_LEVER_STEPS = frozenset(
    {EventType.LEVER_INTENT, EventType.LEVER_ENGAGED, EventType.LEVER_VERIFIED}
)


@dataclass
class SpanEvent:
    name: str
    at: int  # nanoseconds since the epoch
    attributes: dict[str, Value]


@dataclass
class Span:
    """One span: ids as bytes (8 for a span, 16 for the trace), times in nanoseconds."""

    name: str
    span_id: bytes
    parent_id: bytes | None
    start: int
    end: int
    attributes: dict[str, Value] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    error: str | None = None  # the span's status is ERROR, with this description
    dropped_events: int = 0


@dataclass
class Trace:
    trace_id: bytes
    resource: dict[str, Value]
    spans: list[Span]

    @property
    def trace_hex(self) -> str:
        return self.trace_id.hex()


def trace_id(incident_id: str) -> bytes:
    """The trace's id: the same for every export of one incident."""
    return _digest(f"aiir/trace/{incident_id}", 16)


def span_id(incident_id: str, seq: int, role: str) -> bytes:
    """A span's id: from the incident, the journal line the span starts at and its role there."""
    return _digest(f"aiir/span/{incident_id}/{seq}/{role}", 8)


def _digest(text: str, size: int) -> bytes:
    raw = hashlib.sha256(text.encode()).digest()[:size]
    return raw if any(raw) else raw[:-1] + b"\x01"  # an all-zero id is invalid in OTLP


def nanos(ts: str) -> int:
    moment = parse_iso(ts)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def clean(value: Any) -> Value | None:
    """An attribute value: scalars kept, text masked and cut; anything else left out."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub(value)[:MAX_TEXT]
    return None


def attributes(pairs: Mapping[str, Any]) -> dict[str, Value]:
    """``pairs`` fit for a span: values masked, empty ones (None, lists) dropped."""
    out: dict[str, Value] = {}
    for key, value in pairs.items():
        kept = clean(value)
        if kept is not None:
            out[key] = kept
    return out


def build(incident: Incident, events: Iterable[Event], project: str = DEFAULT_PROJECT) -> Trace:
    """The trace of ``incident``, from its journal's ``events`` (in order)."""
    builder = _Builder(incident)
    for event in events:
        builder.add(event)
    spans = builder.finish()
    return Trace(trace_id(incident.id), resource(incident, project), spans)


def resource(incident: Incident, project: str) -> dict[str, Value]:
    """Who sent the trace, and the incident it is: on every span of it."""
    return attributes(
        {
            "service.name": SERVICE,
            "service.version": __version__,
            "openinference.project.name": project,
            "aiir.incident.id": incident.id,
            "aiir.incident.severity": incident.severity,
            "aiir.incident.category": incident.category,
            "aiir.exercise": incident.exercise,
        }
    )


class _Builder:
    """Folds events into spans: the incident's, one per node entered (a called runbook's nodes
    under the call node), and each lever's engage, verify and release under the node they were
    done at (a release after the walk, ``aiir release``, under the incident's)."""

    def __init__(self, incident: Incident) -> None:
        self.incident = incident
        self.root: Span | None = None
        self.spans: list[Span] = []
        self.parents: list[Span] = []  # the node spans of the calls the walk is inside
        self.node: Span | None = None  # the node span open now
        self.engage: dict[int, Span] = {}  # lever step -> its engage span
        self.lever_names: dict[int, tuple[str, str]] = {}  # lever step -> (name, kind)
        self.last = 0

    def add(self, event: Event) -> None:
        at = nanos(event.ts)
        self.last = max(self.last, at)
        if self.root is None:
            self.root = self._root(event, at)
            return
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event, at)
        if event.type not in _LEVER_STEPS and event.type != EventType.NODE_ENTERED:
            self._note(event, at)

    def finish(self) -> list[Span]:
        if self.root is None:
            return []
        for span in [self.root, *self.spans]:
            if span.end < span.start:  # still open when the journal ends
                span.end = max(self.last, span.start)
        return [self.root, *self.spans]

    # --- the spans ---------------------------------------------------------------------

    def _root(self, event: Event, at: int) -> Span:
        incident, data = self.incident, event.data
        outcome = incident.outcome or incident.state
        span = Span(
            f"incident {incident.id}",
            span_id(incident.id, event.seq, "incident"),
            None,
            at,
            -1,
            self._common(
                {
                    "openinference.span.kind": "CHAIN",
                    "session.id": incident.id,
                    "input.value": incident.title,
                    "output.value": incident.summary or outcome,
                    "aiir.incident.title": incident.title,
                    "aiir.incident.severity": incident.severity,
                    "aiir.incident.severity.opened": data.get("severity"),
                    "aiir.incident.category": incident.category,
                    "aiir.incident.outcome": outcome,
                    "aiir.incident.operator": event.operator,
                    "aiir.runbook": data.get("runbook"),
                    "aiir.runbook.version": data.get("version"),
                    "aiir.dry_run": incident.dry_run or None,
                    "aiir.journal.verified": incident.verified,
                }
            ),
        )
        if incident.outcome in FAILING_OUTCOMES:
            span.error = incident.summary or incident.outcome
        return span

    def _common(self, pairs: Mapping[str, Any]) -> dict[str, Value]:
        base = {"aiir.incident.id": self.incident.id, "aiir.exercise": self.incident.exercise}
        return attributes({**base, **pairs})

    def _open(self, name: str, event: Event, role: str, at: int, parent: Span | None) -> Span:
        assert self.root is not None
        owner = parent or self.root
        span = Span(name, span_id(self.incident.id, event.seq, role), owner.span_id, at, -1)
        self.spans.append(span)
        return span

    def _here(self) -> Span:
        assert self.root is not None
        return self.node or (self.parents[-1] if self.parents else self.root)

    def node_entered(self, event: Event, at: int) -> None:
        self._close_node(at)
        data = event.data
        node = str(data.get("node"))
        parent = self.parents[-1] if self.parents else None
        span = self._open(f"node {node}", event, "node", at, parent)
        span.attributes = self._common(
            {
                "openinference.span.kind": "CHAIN",
                "input.value": data.get("title"),
                "aiir.node.id": node,
                "aiir.node.kind": data.get("kind"),
                "aiir.node.title": data.get("title"),
                "aiir.node.owner": data.get("owner"),
                "aiir.node.on_call": data.get("on_call"),
                "aiir.runbook": data.get("runbook"),
                "aiir.severity": data.get("severity"),
            }
        )
        self.node = span

    def _close_node(self, at: int) -> None:
        if self.node is not None:
            self.node.end = at
            self.node = None

    def call_entered(self, event: Event, at: int) -> None:
        if self.node is not None:
            self.parents.append(self.node)
            self.node = None

    def call_returned(self, event: Event, at: int) -> None:
        self._close_node(at)
        if self.parents:
            self.node = self.parents.pop()  # open until the walk enters its next node

    def interrupted(self, event: Event, at: int) -> None:
        """The walk stopped (ended or interrupted): the node it was at ends with it."""
        self._close_node(at)

    def answer(self, event: Event, at: int) -> None:
        data = event.data
        if self.node is not None and data.get("key") == self.node.attributes.get("aiir.node.id"):
            value = data.get("value")
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            self.node.attributes.update(attributes({"aiir.node.answer": shown}))
            self.node.attributes.update(attributes({"output.value": shown}))

    def lever_intent(self, event: Event, at: int) -> None:
        data, step = event.data, event.step or 0
        lever, kind = str(data.get("lever")), str(data.get("kind"))
        self.lever_names[step] = (lever, kind)
        span = self._open(f"engage {lever}", event, "engage", at, self._here())
        span.attributes = self._common(
            {
                "openinference.span.kind": "TOOL",
                "tool.name": lever,
                "aiir.lever.name": lever,
                "aiir.lever.kind": kind,
                "aiir.lever.title": data.get("title"),
                "aiir.lever.destroys_evidence": data.get("destroys_evidence"),
                "aiir.node.id": data.get("node"),
                "aiir.runbook": data.get("runbook"),
                "aiir.dry_run": data.get("dry_run") or None,
                **request_attributes(data.get("request")),
            }
        )
        self.engage[step] = span

    def lever_engaged(self, event: Event, at: int) -> None:
        span = self.engage.get(event.step or 0)
        if span is None:
            return
        data = event.data
        span.end = at
        ok = bool(data.get("ok"))
        span.attributes.update(
            attributes(
                {
                    "aiir.lever.engaged": ok,
                    "aiir.lever.state_unknown": data.get("unknown"),
                    "aiir.lever.confirmed_by_verify": data.get("confirmed_by_verify"),
                    **reply_attributes(data.get("reply")),
                }
            )
        )
        if not ok:
            span.error = _reason(data) or "not engaged"

    def lever_verified(self, event: Event, at: int) -> None:
        step, data = event.step or 0, event.data
        engage = self.engage.get(step)
        lever, kind = self.lever_names.get(step, (str(data.get("lever")), ""))
        start = engage.end if engage is not None and engage.end >= 0 else at
        parent = self._parent_of(engage)
        span = self._open(f"verify {lever}", event, "verify", start, parent)
        span.end = at
        verified = bool(data.get("ok")) and not data.get("unverified")
        span.attributes = self._common(
            {
                "openinference.span.kind": "TOOL",
                "tool.name": lever,
                "aiir.lever.name": lever,
                "aiir.lever.kind": kind,
                "aiir.lever.verified": verified,
                "aiir.lever.unverified": data.get("unverified"),
                "aiir.node.id": data.get("node"),
                "aiir.runbook": data.get("runbook"),
                **reply_attributes(data.get("reply")),
            }
        )
        if not verified:
            span.error = _reason(data) or "not verified"

    def _parent_of(self, span: Span | None) -> Span | None:
        if span is None:
            return None
        return next((s for s in self.spans if s.span_id == span.parent_id), None)

    def lever_released(self, event: Event, at: int) -> None:
        data = event.data
        engaged = data.get("engaged_step")
        lever, kind = self.lever_names.get(
            engaged if isinstance(engaged, int) else -1, (str(data.get("lever")), "")
        )
        here = self.node
        in_node = here is not None and data.get("node") == here.attributes.get("aiir.node.id")
        reply = data.get("reply") if isinstance(data.get("reply"), dict) else {}
        took = reply.get("elapsed_ms") if isinstance(reply, dict) else None
        start = at - int(took) * 1_000_000 if isinstance(took, int) and took >= 0 else at
        span = self._open(f"release {lever}", event, "release", start, here if in_node else None)
        span.end = at
        ok = bool(data.get("ok"))
        span.attributes = self._common(
            {
                "openinference.span.kind": "TOOL",
                "tool.name": lever,
                "aiir.lever.name": lever,
                "aiir.lever.kind": kind,
                "aiir.lever.released": ok,
                "aiir.lever.not_engaged": data.get("not_engaged"),
                "aiir.node.id": data.get("node"),
                "aiir.runbook": data.get("runbook"),
                **request_attributes(data.get("request")),
                **reply_attributes(data.get("reply")),
            }
        )
        if not ok:
            span.error = _reason(data) or "not released"

    def _note(self, event: Event, at: int) -> None:
        """Any other event: a span event on the span open where it happened (the incident's
        own, opened, ended, interrupted, resumed, taken over, on the incident's span)."""
        span = self.root if event.type in _INCIDENT_EVENTS else self._here()
        assert span is not None
        if len(span.events) >= MAX_EVENTS:
            span.dropped_events += 1
            return
        pairs = {
            f"aiir.{key}": value
            for key, value in event.data.items()
            if key not in _BULKY and not isinstance(value, dict | list)
        }
        pairs["aiir.seq"] = event.seq
        span.events.append(SpanEvent(str(event.type), at, attributes(pairs)))


def request_attributes(request: Any) -> dict[str, Any]:
    """A journalled request (already masked when it was written; masked again here)."""
    if not isinstance(request, dict):
        return {}
    return {
        "http.request.method": request.get("method"),
        "url.full": request.get("url"),
        "aiir.gateway": request.get("gateway"),
        "aiir.gateway.action": request.get("use"),
    }


def reply_attributes(reply: Any) -> dict[str, Any]:
    """A journalled reply: its status and what aiir judged of it, never its body."""
    if not isinstance(reply, dict):
        return {}
    return {
        "http.response.status_code": reply.get("status"),
        "aiir.reply.ok": reply.get("ok"),
        "aiir.reply.reason": reply.get("reason"),
        "aiir.reply.attempts": reply.get("attempts"),
    }


def _reason(data: Mapping[str, Any]) -> str | None:
    reply = data.get("reply")
    reason = reply.get("reason") if isinstance(reply, dict) else None
    return scrub(str(reason))[:MAX_TEXT] if reason else None


_HANDLERS: dict[str, Callable[[_Builder, Event, int], None]] = {
    EventType.NODE_ENTERED: _Builder.node_entered,
    EventType.CALL_ENTERED: _Builder.call_entered,
    EventType.CALL_RETURNED: _Builder.call_returned,
    EventType.INCIDENT_INTERRUPTED: _Builder.interrupted,
    EventType.INCIDENT_ENDED: _Builder.interrupted,
    EventType.ANSWER: _Builder.answer,
    EventType.LEVER_INTENT: _Builder.lever_intent,
    EventType.LEVER_ENGAGED: _Builder.lever_engaged,
    EventType.LEVER_VERIFIED: _Builder.lever_verified,
    EventType.LEVER_RELEASED: _Builder.lever_released,
}
