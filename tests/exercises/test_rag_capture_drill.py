"""The shipped indirect-prompt-injection runbook captures the session context from the
application's trace store; in a drill that store is the simulated gateway's own (the traces of
the traffic it served), never a real one. The drill's evidence and post-mortem show the
retrieved document that carried the injection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiir.incident.events import EventType
from aiir.sandbox.world import PLANTED_INSTRUCTION
from tests.respond import journal, of_type
from tests.support.cli import run_cli

DRILL = Path(__file__).resolve().parents[2] / "examples" / "drills"
Capture = pytest.CaptureFixture[str]


def test_the_rag_drill_shows_the_document_that_carried_the_injection(
    tmp_path: Path, capsys: Capture
) -> None:
    incidents = tmp_path / "incidents"
    where = ("--incident-dir", str(incidents))
    ran = run_cli(capsys, "drill", str(DRILL / "indirect-prompt-injection-rag-ticket.yaml"), *where)
    assert ran.status == 0, ran.out + ran.err
    [incident_id] = [p.name for p in incidents.iterdir()]
    stored = [
        e
        for e in of_type(journal(incidents, incident_id), EventType.CAPTURE_STORED)
        if e["item"] == "session-context"
    ]
    assert [e["ok"] for e in stored] == [True]
    bundle = json.loads((incidents / incident_id / stored[0]["bundle"]["file"]).read_text())
    [session] = bundle["sessions"]
    assert session["session"] == "chat-48213"
    carried = [d for d in session["documents"] if d["metadata"]["source_id"] == "ticket-48213"]
    assert [d["content"] for d in carried] == [
        f"Ticket 48213: my order is late. {PLANTED_INSTRUCTION}"
    ]
    assert session["messages"][-2]["content"] == "My order is late, ticket 48213. Where is it?"
    report = run_cli(capsys, "report", incident_id, *where).out
    assert "retrieved document" in report
    assert "(source ticket-48213)" in report
    assert PLANTED_INSTRUCTION not in report  # named, never quoted into the markdown
