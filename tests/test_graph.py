"""The decision tree drawn three ways, asserted exactly for a small runbook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.graph import render
from aiir.schema import Runbook
from tests.helpers import minimal_runbook, write


def small() -> dict[str, Any]:
    """The minimal runbook plus a confirmation that loops back to the lever."""
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "held"
    rb["nodes"]["held"] = {
        "kind": "confirm",
        "title": "Did it hold?",
        "prompt": "Held?",
        "yes": "done",
        "no": "contain",
        "severity": "SEV2",
        "owner": "security",
    }
    return rb


def drawn(data: dict[str, Any], fmt: str) -> str:
    return render(Runbook.model_validate(data), fmt)


MERMAID = [
    "flowchart TD",
    "  %% demo v1.0.0: Demo runbook",
    '  n_triage{"triage: Triage"}',
    '  n_contain[["contain: LEVER kill-switch: Kill the model"]]',
    '  n_done(["done: END contained: Contained"])',
    '  n_dismiss(["dismiss: END false-positive: Dismissed"])',
    '  n_held{"held: Did it hold?"}',
    '  n_triage -->|"Harmful output"| n_contain',
    '  n_triage -->|"Data leak"| n_contain',
    '  n_triage -->|"Nothing"| n_dismiss',
    "  n_contain --> n_held",
    '  n_held -->|"yes"| n_done',
    '  n_held -->|"no"| n_contain',
    "  classDef lever fill:#fde2e1,stroke:#c0392b,stroke-width:2px",
    "  classDef outcome fill:#e3f4e1,stroke:#27ae60",
    "  class n_contain lever",
    "  class n_done,n_dismiss outcome",
]

DOT = [
    'digraph "demo" {',
    "  rankdir=TB;",
    "  node [fontsize=10];",
    '  label="Demo runbook";',
    '  "triage" [shape=diamond, label="triage\\nTriage"];',
    '  "contain" [shape=box3d, label="contain\\nLEVER kill-switch: Kill the model", '
    'style=filled, fillcolor="#fde2e1", color="#c0392b"];',
    '  "done" [shape=doublecircle, label="done\\nEND contained: Contained", '
    'style=filled, fillcolor="#e3f4e1"];',
    '  "dismiss" [shape=doublecircle, label="dismiss\\nEND false-positive: Dismissed", '
    'style=filled, fillcolor="#e3f4e1"];',
    '  "held" [shape=diamond, label="held\\nDid it hold?"];',
    '  "triage" -> "contain" [label="Harmful output"];',
    '  "triage" -> "contain" [label="Data leak"];',
    '  "triage" -> "dismiss" [label="Nothing"];',
    '  "contain" -> "held" [label=""];',
    '  "held" -> "done" [label="yes"];',
    '  "held" -> "contain" [label="no"];',
    "}",
]

TEXT = [
    "demo v1.0.0: Demo runbook  [SEV3]",
    "└─ triage: Triage",
    "   ├─ [Harmful output] contain: LEVER kill-switch: Kill the model",
    "   │  └─ held: Did it hold?  (security)  → SEV2",
    "   │     ├─ [yes] done: END contained: Contained",
    "   │     └─ [no] → contain (see above)",
    "   ├─ [Data leak] → contain (see above)",
    "   └─ [Nothing] dismiss: END false-positive: Dismissed",
]

SNAPSHOTS = {"mermaid": MERMAID, "dot": DOT, "text": TEXT}


@pytest.mark.parametrize("fmt", SNAPSHOTS)
def test_snapshot(fmt: str) -> None:
    assert drawn(small(), fmt) == "\n".join(SNAPSHOTS[fmt]) + "\n"


def test_mermaid_starts_with_flowchart_and_labels_choice_edges() -> None:
    out = drawn(small(), "mermaid")
    assert out.startswith("flowchart TD\n")
    assert '-->|"Harmful output"|' in out
    assert "class n_contain lever" in out
    assert "class n_done,n_dismiss outcome" in out


@pytest.mark.parametrize("fmt", SNAPSHOTS)
def test_cli_prints_the_same(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rb.yaml"
    write(path, small())
    assert main(["graph", str(path), "--format", fmt]) == 0
    assert capsys.readouterr().out == "\n".join(SNAPSHOTS[fmt]) + "\n"


def test_cli_default_is_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rb.yaml"
    write(path, small())
    assert main(["graph", str(path)]) == 0
    assert capsys.readouterr().out.startswith(TEXT[0] + "\n")


def test_every_node_kind_has_a_shape_and_a_mark() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "logs"
    rb["nodes"]["logs"] = {
        "kind": "capture",
        "title": "Logs",
        "items": [{"name": "l", "what": ["outputs"], "request": {"method": "GET", "path": "/l"}}],
        "next": "tell",
    }
    rb["nodes"]["tell"] = {"kind": "notify", "title": "Tell", "message": "m", "next": "route"}
    rb["nodes"]["route"] = {
        "kind": "branch",
        "title": "Route",
        "cases": [{"when": "inputs.model == 'x'", "next": "hand"}],
        "default": "done",
    }
    rb["nodes"]["hand"] = {"kind": "call", "title": "Hand", "runbook": "other"}
    mermaid = drawn(rb, "mermaid")
    assert '  n_logs[("logs: CAPTURE: Logs")]' in mermaid
    assert '  n_tell["tell: NOTIFY record: Tell"]' in mermaid
    assert '  n_route{{"route: Route"}}' in mermaid
    assert '  n_hand[["hand: CALL other: Hand"]]' in mermaid
    assert "  n_route -->|\"inputs.model == 'x'\"| n_hand" in mermaid
    assert '  n_route -->|"otherwise"| n_done' in mermaid
    dot = drawn(rb, "dot")
    assert '  "logs" [shape=cylinder, label="logs\\nCAPTURE: Logs"];' in dot
    assert '  "tell" [shape=note, label="tell\\nNOTIFY record: Tell"];' in dot
    assert '  "hand" [shape=component, label="hand\\nCALL other: Hand"];' in dot


def test_quotes_and_newlines_are_escaped() -> None:
    rb = minimal_runbook()
    rb["title"] = 'Say "hi"\nthen go'
    rb["nodes"]["triage"]["choices"][0]["label"] = 'The "bad" one'
    mermaid = drawn(rb, "mermaid")
    assert "  %% demo v1.0.0: Say #quot;hi#quot; then go\n" in mermaid
    assert '-->|"The #quot;bad#quot; one"|' in mermaid
    dot = drawn(rb, "dot")
    assert '  label="Say \\"hi\\" then go";' in dot
    assert '[label="The \\"bad\\" one"];' in dot


def test_mermaid_ids_stay_distinct() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "a-b"
    rb["nodes"]["a-b"] = {"kind": "checklist", "title": "Dash", "items": [{"id": "x", "text": "x"}]}
    rb["nodes"]["a-b"]["next"] = "a_b"
    rb["nodes"]["a_b"] = {"kind": "end", "title": "Underscore", "outcome": "resolved"}
    mermaid = drawn(rb, "mermaid")
    assert '  n_a_b["a-b: Dash"]' in mermaid
    assert '  n_a_b_2(["a_b: END resolved: Underscore"])' in mermaid
    assert "  n_a_b --> n_a_b_2" in mermaid


def test_text_marks_a_missing_target() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "gone"
    assert "   │  └─ gone (missing)" in drawn(rb, "text")


def test_graph_of_an_invalid_runbook_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rb = minimal_runbook()
    rb["severity"] = "SEV9"
    path = tmp_path / "rb.yaml"
    write(path, rb)
    assert main(["graph", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"aiir: {path}:5:11: error: severity: 'SEV9': "
        "input should be 'SEV1', 'SEV2', 'SEV3', 'SEV4' or 'SEV5'\n"
    )
