"""A gateway whose replies no well-behaved gateway would send: the walk judges them, journals what
it saw and goes on; no internal error, and the incident verifies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.chain import JOURNAL
from aiir.incident.state import load_incident
from tests.helpers import write
from tests.incidents import MASTER_KEY, containment_runbook
from tests.respond import aiir, journal, no_terminal
from tests.servers import Fault, Gateway, serve_gateway

Capture = pytest.CaptureFixture[str]
DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    no_terminal(monkeypatch)
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def lookup_runbook() -> dict[str, Any]:
    """Captures the gateway's logs, saves what it says a model is called, says it at the end."""
    data = containment_runbook()
    data["start"] = "capture"
    data["nodes"] = {
        "capture": {**data["nodes"]["capture"], "next": "lookup"},
        "lookup": {
            "kind": "action",
            "title": "Look up the model",
            "request": {"use": "litellm.models", "save": {"note": "data.0.id"}},
            "next": "done",
        },
        "done": {
            "kind": "end",
            "title": "Done",
            "outcome": "false-positive",
            "summary": "The gateway calls it {{ vars.note }}",
        },
    }
    return data


def walk(tmp_path: Path, capsys: Capture, url: str) -> tuple[int, str, Path]:
    write(tmp_path / "rb.yaml", lookup_runbook())
    incidents = tmp_path / "inc"
    ran = aiir(
        capsys,
        *("run", str(tmp_path / "rb.yaml"), "--gateway", f"gw={url}", "--yes"),
        *("--incident-dir", str(incidents)),
    )
    assert "internal error" not in ran.out + ran.err
    (folder,) = incidents.iterdir()
    verified = aiir(capsys, "verify", folder.name, "--incident-dir", str(incidents))
    assert verified.status == 0, verified.out + verified.err
    return ran.status, ran.out + ran.err, folder


def models(model_id: bytes) -> Fault:
    return Fault("/v1/models", 200, b'{"data": [{"id": ' + model_id + b"}]}")


def test_a_reply_nested_too_deeply_is_judged_not_json(
    tmp_path: Path, capsys: Capture, gateway: tuple[str, Gateway]
) -> None:
    """Two hundred thousand levels of arrays raised RecursionError: an internal error, the walk
    stopped between the request and its result."""
    url, state = gateway
    state.faults += [Fault("/spend/logs", 200, DEEP), models(DEEP)]  # then ordinary logs
    status, said, folder = walk(tmp_path, capsys, url)
    assert status == 1, said
    events = journal(folder.parent, folder.name)
    (result,) = [e.data for e in events if e.type == "action.result"]
    assert result["ok"] is False
    assert result["reply"]["reason"] == "response has no 'data.0.id' to save as 'note'"
    before, _ = [e.data["evidence"]["file"] for e in events if e.type == "capture.stored"]
    assert before.endswith(".txt")  # kept as it came, not read as JSON
    assert (folder / before).read_bytes() == DEEP


def test_a_lone_surrogate_in_a_saved_value_is_journaled_as_the_replacement_character(
    tmp_path: Path, capsys: Capture, gateway: tuple[str, Gateway]
) -> None:
    """A "\\ud800" escape in a saved value made the journal's write raise UnicodeEncodeError."""
    url, state = gateway
    state.faults.append(models(b'"\\ud800 model"'))
    status, said, folder = walk(tmp_path, capsys, url)
    assert status == 0, said
    assert "The gateway calls it \ufffd model" in said
    incident = load_incident(folder.parent, folder.name)
    assert incident.vars["note"] == "\ufffd model"
    (folder / JOURNAL).read_bytes().decode("utf-8")  # strictly: every line is UTF-8
