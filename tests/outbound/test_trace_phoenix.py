"""A walk's trace read back from the real Arize Phoenix server it was exported to: the response
sits beside the AI system's own traces, one trace per incident, a span per node, the levers' engage
and verify as their children."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.state import load_incident
from aiir.outbound.otlp import send
from aiir.outbound.trace import build, span_id, trace_id
from aiir.respond.session import start
from tests.incidents import (
    ANSWERS,
    RecordingPrompter,
    containment_runbook,
    environment,
    write_runbook,
)
from tests.servers import serve_gateway
from tests.support.cli import run_cli
from tests.support.phoenix import Phoenix, serve_phoenix

pytestmark = pytest.mark.phoenix


@pytest.fixture(scope="module")
def phoenix() -> Iterator[Phoenix]:
    yield from serve_phoenix()


def test_an_exported_walk_reads_back_from_phoenix_as_one_trace(
    phoenix: Phoenix, tmp_path: Path
) -> None:
    with serve_gateway() as (url, _):
        path = write_runbook(tmp_path, containment_runbook())
        incidents = tmp_path / "incidents"
        with environment(incidents, url, RecordingPrompter(ANSWERS)) as env:
            opened = start(path, env).incident
    incident = load_incident(incidents, opened.id)
    sent = send(build(incident, incident.history()), phoenix.traces)
    assert sent.ok, sent

    ours = trace_id(incident.id).hex()
    spans = phoenix.spans("aiir", lambda s: s["context"]["trace_id"] == ours, sent.spans)
    assert len(spans) == sent.spans
    by_id = {s["context"]["span_id"]: s for s in spans}
    [root] = [s for s in spans if s["parent_id"] is None]
    assert root["name"] == f"incident {incident.id}"
    first = next(iter(incident.history())).seq
    assert root["context"]["span_id"] == span_id(incident.id, first, "incident").hex()
    assert root["attributes"]["aiir.incident.id"] == incident.id
    assert root["attributes"]["aiir.incident.outcome"] == "contained"
    nodes = [s for s in spans if s["name"].startswith("node ")]
    assert nodes
    assert {s["parent_id"] for s in nodes} == {root["context"]["span_id"]}
    levers = [s for s in spans if s["name"].startswith(("engage ", "verify "))]
    assert {s["name"] for s in levers} >= {"engage filter", "verify filter"}
    assert all(by_id[s["parent_id"]]["name"].startswith("node ") for s in levers)
    assert all(s["status_code"] == "OK" for s in levers)


def test_a_sandbox_walk_sent_with_otlp_is_marked_practice_in_phoenix(
    phoenix: Phoenix, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Practice is exported only when asked (`--otlp`), and says it is practice."""
    ran = run_cli(
        capsys,
        *("run", "prompt-injection", "--sandbox", "--answers", "prompt-injection", "--yes"),
        *("--otlp", phoenix.traces, "--incident-dir", str(tmp_path / "incidents")),
    )
    assert ran.status == 0, ran.out + ran.err
    [incident_id] = [p.name for p in (tmp_path / "incidents").iterdir()]
    assert "spans of" in ran.out  # the run said it sent them
    spans = phoenix.spans("aiir", lambda s: s["attributes"].get("aiir.incident.id") == incident_id)
    assert spans
    assert {s["attributes"]["aiir.exercise"] for s in spans} == {"sandbox"}
