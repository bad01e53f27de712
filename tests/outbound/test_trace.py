"""A walk's own trace: built from its journal and sent with the OpenTelemetry SDK's OTLP/HTTP
exporter to a real loopback endpoint, decoded there with OpenTelemetry's protobuf definitions."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiir.incident.events import EventType
from aiir.incident.journal import Event
from aiir.incident.state import Incident, load_incident
from aiir.outbound.otlp import endpoint, send
from aiir.outbound.trace import build, nanos, span_id, trace_id
from aiir.respond.session import start
from tests.incidents import (
    ANSWERS,
    MASTER_KEY,
    RecordingPrompter,
    containment_runbook,
    environment,
    write_runbook,
)
from tests.receiver import Answer, serve_receiver
from tests.servers import serve_gateway
from tests.support.otlp import GotSpan, received_spans

LEVER_NODES = {"filter": "filter", "block": "block", "reroute": "reroute"}


@dataclass(frozen=True)
class Walked:
    incident: Incident
    gateway: str


@pytest.fixture
def walked(tmp_path: Path) -> Iterator[Walked]:
    """The containment runbook walked against the loopback gateway: three levers engaged and
    verified, then read back from its journal as any later reader would."""
    with serve_gateway() as (url, _):
        path = write_runbook(tmp_path, containment_runbook())
        incidents = tmp_path / "incidents"
        with environment(incidents, url, RecordingPrompter(ANSWERS)) as env:
            opened = start(path, env).incident
        yield Walked(load_incident(incidents, opened.id), url)


def exported(incident: Incident) -> list[GotSpan]:
    with serve_receiver() as receiver:
        sent = send(build(incident, incident.history()), receiver.url)
        assert sent.ok, sent
        got = received_spans(receiver)
    assert sent.spans == len(got)
    return got


def test_a_walk_is_one_trace_of_its_nodes_and_their_levers(walked: Walked) -> None:
    incident = walked.incident
    got = exported(incident)
    assert {s.trace_id for s in got} == {trace_id(incident.id).hex()}
    [root] = [s for s in got if not s.parent_id]
    assert root.name == f"incident {incident.id}"
    assert root.attributes["aiir.incident.id"] == incident.id
    assert root.attributes["aiir.incident.severity"] == "SEV1"
    assert root.attributes["aiir.incident.outcome"] == "contained"
    assert root.attributes["session.id"] == incident.id
    assert root.resource["service.name"] == "aiir"
    assert root.resource["openinference.project.name"] == "aiir"
    assert root.resource["aiir.incident.id"] == incident.id
    assert "aiir.exercise" not in root.resource  # a real walk
    entered = [e for e in incident.history() if e.type == EventType.NODE_ENTERED]
    nodes = [s for s in got if s.name.startswith("node ")]
    assert [s.name for s in nodes] == [f"node {e.data['node']}" for e in entered]
    assert {s.parent_id for s in nodes} == {root.span_id}
    assert [s.start for s in nodes] == [nanos(e.ts) for e in entered]
    assert root.start == nanos(next(incident.history()).ts)
    for one, following in itertools.pairwise(nodes):
        assert one.end == following.start  # a node lasts until the walk enters the next
    by_node = {s.attributes["aiir.node.id"]: s for s in nodes}
    assert by_node["triage"].attributes["aiir.node.answer"] == "harmful"
    assert by_node["triage"].attributes["aiir.node.kind"] == "question"
    for lever, node in LEVER_NODES.items():
        engage, verify = (
            next(s for s in got if s.name == f"{part} {lever}") for part in ("engage", "verify")
        )
        assert engage.parent_id == verify.parent_id == by_node[node].span_id
        assert engage.attributes["aiir.lever.name"] == lever
        assert engage.attributes["aiir.lever.engaged"] is True
        assert engage.attributes["http.request.method"] in {"POST", "DELETE"}
        assert str(engage.attributes["url.full"]).startswith(walked.gateway)
        assert engage.attributes["aiir.gateway"] == "gw"
        assert engage.attributes["http.response.status_code"] == 200
        assert verify.attributes["aiir.lever.verified"] is True
        assert engage.error is None
        assert verify.error is None
        assert engage.end <= verify.start + 1
        assert verify.end <= by_node[node].end
    kinds = {s.attributes["aiir.lever.kind"] for s in got if s.name.startswith("engage ")}
    assert kinds == {"filter", "block", "reroute"}


def test_every_span_carries_the_incident_and_journal_events_ride_on_their_node(
    walked: Walked,
) -> None:
    got = exported(walked.incident)
    assert all(s.attributes["aiir.incident.id"] == walked.incident.id for s in got)
    capture = next(s for s in got if s.name == "node capture")
    stored = [attrs for name, attrs in capture.events if name == EventType.CAPTURE_STORED]
    assert [a["aiir.part"] for a in stored] == ["before"]
    root = next(s for s in got if not s.parent_id)
    assert [name for name, _ in root.events] == [EventType.INCIDENT_ENDED]


def test_exporting_again_sends_the_same_spans_into_the_same_trace(walked: Walked) -> None:
    first, again = exported(walked.incident), exported(walked.incident)
    assert [(s.trace_id, s.span_id, s.parent_id) for s in first] == [
        (s.trace_id, s.span_id, s.parent_id) for s in again
    ]
    assert len({s.span_id for s in first}) == len(first)
    opened = next(walked.incident.history())
    assert first[0].span_id == span_id(walked.incident.id, opened.seq, "incident").hex()


def test_no_secret_reaches_the_endpoint(walked: Walked) -> None:
    with serve_receiver() as receiver:
        assert send(build(walked.incident, walked.incident.history()), receiver.url).ok
        body = b"".join(r.body for r in receiver.requests)
    assert MASTER_KEY.encode() not in body
    assert b"Bearer" not in body
    assert body  # something was sent, and it was checked


def test_an_endpoint_that_is_down_is_one_reason_and_nothing_logged(
    walked: Walked, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with caplog.at_level(logging.DEBUG):
        sent = send(
            build(walked.incident, walked.incident.history()), f"http://127.0.0.1:{port}", timeout=1
        )
    assert (sent.ok, sent.spans, sent.reason) == (False, 0, "connection refused")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert capsys.readouterr() == ("", "")


def test_an_endpoint_that_refuses_is_named_by_its_status(walked: Walked) -> None:
    with serve_receiver() as receiver:
        receiver.queue("/v1/traces", Answer(404, b"not here"))
        sent = send(build(walked.incident, walked.incident.history()), receiver.url)
    assert (sent.ok, sent.reason) == (False, "the endpoint answered HTTP 404")


def test_a_bare_address_gets_the_traces_path() -> None:
    assert endpoint("http://127.0.0.1:6006") == "http://127.0.0.1:6006/v1/traces"
    assert endpoint("http://127.0.0.1:6006/") == "http://127.0.0.1:6006/v1/traces"
    assert endpoint("https://otel.example/v1/traces") == "https://otel.example/v1/traces"
    assert endpoint("https://otel.example/tenant/traces") == "https://otel.example/tenant/traces"


def _event(seq: int, type_: str, data: dict[str, object], step: int | None = None) -> Event:
    ts = f"2026-11-27T03:15:{seq:02d}.000Z"
    return Event(seq, ts, type_, "tester", step, dict(data), "0" * 64, "0" * 64)


def test_a_called_runbooks_nodes_nest_under_the_call_and_a_late_release_under_the_incident(
    tmp_path: Path,
) -> None:
    events = [
        _event(1, EventType.INCIDENT_OPENED, {"runbook": "parent", "severity": "SEV2"}),
        _event(
            2, EventType.NODE_ENTERED, {"runbook": "parent", "node": "hand-off", "kind": "call"}
        ),
        _event(3, EventType.CALL_ENTERED, {"child": "child"}),
        _event(4, EventType.NODE_ENTERED, {"runbook": "child", "node": "inner", "kind": "lever"}),
        _event(5, EventType.LEVER_INTENT, {"runbook": "child", "lever": "f", "kind": "filter"}, 1),
        _event(6, EventType.LEVER_ENGAGED, {"lever": "f", "ok": True}, 1),
        _event(7, EventType.CALL_RETURNED, {"child": "child", "outcome": "contained"}),
        _event(8, EventType.NODE_ENTERED, {"runbook": "parent", "node": "done", "kind": "end"}),
        _event(9, EventType.INCIDENT_ENDED, {"outcome": "contained"}),
        _event(10, EventType.LEVER_RELEASED, {"lever": "f", "engaged_step": 1, "ok": False}),
    ]
    incident = Incident("INC-1", tmp_path, severity="SEV2", outcome="contained")
    spans = {s.name: s for s in build(incident, events).spans}
    root, call, inner = spans["incident INC-1"], spans["node hand-off"], spans["node inner"]
    assert call.parent_id == root.span_id
    assert inner.parent_id == call.span_id
    assert spans["engage f"].parent_id == inner.span_id
    assert spans["node done"].parent_id == root.span_id
    assert call.end == spans["node done"].start  # the call lasts until the walk goes on
    assert inner.end == nanos(events[6].ts)
    release = spans["release f"]
    assert release.parent_id == root.span_id
    assert release.attributes["aiir.lever.kind"] == "filter"
    assert release.error == "not released"


def test_an_endpoint_dripping_its_answer_is_cut_at_the_timeout(walked: Walked) -> None:
    """The export's timeout holds the whole exchange: an answer of 100 bytes at 0.1 s each
    would hold a walk's export 10 s per try; with timeout=1 it is cut at about a second."""
    with serve_receiver() as receiver:
        receiver.queue("/v1/traces", *[Answer(200, b"x" * 100, drip=0.1)] * 10)
        began = time.monotonic()
        sent = send(build(walked.incident, walked.incident.history()), receiver.url, timeout=1)
        took = time.monotonic() - began
    assert took < 4
    assert (sent.ok, sent.spans) == (False, 0)
    assert sent.reason == "no answer in time"


def test_a_prompt_answer_is_read_as_before(walked: Walked) -> None:
    with serve_receiver() as receiver:
        receiver.queue("/v1/traces", Answer(200, b"", {"content-type": "application/x-protobuf"}))
        sent = send(build(walked.incident, walked.incident.history()), receiver.url, timeout=1)
    assert sent.ok, sent
