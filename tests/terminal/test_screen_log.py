"""A node's box in a log (not a terminal) is written as plain lines, without rich Text: the same
lines rich's Text of the box flattens to, hostile text made inert alike."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from aiir.formats.schema import Node, Runbook
from aiir.incident.state import Incident
from aiir.redact import scrub
from aiir.terminal.inert import inert
from aiir.terminal.screen import TerminalScreen, reflow

RUNBOOK = Runbook.model_validate(
    {
        "aiir": 1,
        "id": "rb",
        "title": "A runbook",
        "owner": "security",
        "severity": "SEV2",
        "start": "ask",
        "nodes": {
            "ask": {"kind": "input", "title": "Ticket?", "prompt": "Ticket?", "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }
)
HOSTILE = [
    "plain",
    "\x1b[31mred\x1b[0m and \x1b]0;title\x07",
    "bidi \u202eevil\u202c, bell \x07, CR \r, VT \x0b, C1 \x9b2J",
    "a key sk-abcdefgh12345678 and the secret hunter2xyz",
    "  hard-wrapped\n  lines\n\n- an item\n1. a step  ",
]


def _expected(screen: TerminalScreen, incident: Incident, node: Node, text: str) -> str:
    """What the box's rich Text reads as, flattened (the terminal's path, before drawing)."""
    node_id = "ask"
    elapsed = "T+00:01:05"
    body = Text.assemble(
        (incident.severity, ""),
        f"  {elapsed}  ",
        (f"owner: {node.owner}  " if node.owner else "", "bold"),
        (f"{node.kind} {RUNBOOK.id}/{node_id}", "dim"),
    )
    if text.strip():
        body.append("\n")
        body.append_text(inert(screen.scrub(reflow(text.strip()))))
    return f"── {inert(screen.scrub(node.title)).plain}\n{body.plain}\n"


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("title", HOSTILE)
def test_a_log_gets_the_lines_of_the_box(title: str, text: str, tmp_path: Path) -> None:
    out = io.StringIO()
    screen = TerminalScreen(Console(file=out), lambda t: scrub(t, {"hunter2xyz"}, patterns=False))
    assert not screen.terminal
    incident = Incident(id="i", directory=tmp_path, severity="SEV2")
    incident.started_at = "2026-01-01T00:00:00.000Z"
    node = RUNBOOK.nodes["ask"].model_copy(update={"title": title, "owner": "o\x07ps"})
    now = dt.datetime(2026, 1, 1, 0, 1, 5, tzinfo=dt.UTC)
    screen.node(incident, RUNBOOK, "ask", node, text, now)
    assert out.getvalue() == _expected(screen, incident, node, text)
    assert "\x1b" not in out.getvalue()
    assert "\u202e" not in out.getvalue()
    assert "hunter2xyz" not in out.getvalue()


def _screens() -> tuple[TerminalScreen, io.StringIO, TerminalScreen, io.StringIO]:
    """The log screen under test, and one drawing the same through rich's Text (a reference)."""
    clean = lambda t: scrub(t, {"hunter2xyz"}, patterns=False)  # noqa: E731
    out, ref = io.StringIO(), io.StringIO()
    return (
        TerminalScreen(Console(file=out), clean),
        out,
        TerminalScreen(Console(file=ref), clean),
        ref,
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_a_log_line_is_the_text_flattened(value: str) -> None:
    screen, out, reference, ref = _screens()
    screen.line(value, "dim")
    reference.say(reference.text(value, "dim"))
    assert out.getvalue() == ref.getvalue()


@pytest.mark.parametrize("title", HOSTILE)
def test_a_log_box_of_lines_is_the_box_flattened(title: str) -> None:
    screen, out, reference, ref = _screens()
    lines = [(value, "bold") for value in HOSTILE]
    screen.box_lines(title, lines)
    body = Text()
    for index, (line, style) in enumerate(lines):
        if index:
            body.append("\n")
        body.append_text(reference.text(line, style))
    reference.box(body, reference.text(title, "bold"))
    assert out.getvalue() == ref.getvalue()


def test_a_terminal_still_gets_rich_text() -> None:
    out = io.StringIO()
    screen = TerminalScreen(Console(file=out, force_terminal=True, width=60), lambda t: t)
    screen.line("\x1b[31mred\x1b[0m", "dim")
    screen.box_lines("Title", [("one", ""), ("two", "bold")])
    shown = out.getvalue()
    assert "red" in shown
    assert "\x1b[31m" not in shown  # the hostile escape is gone, rich's own styling is there
    assert "╭" in shown  # a panel, drawn


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "log"])
def test_a_giant_value_is_shown_cut_with_a_mark(terminal: bool) -> None:
    """A gateway's 5 MB value saved into a message was printed whole: 5 MB on the screen."""
    from aiir.terminal.screen import MAX_SHOWN

    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=120, color_system=None)
    screen = TerminalScreen(console, lambda text: text.replace("sk-secret-value", "***"))
    giant = "x" * (MAX_SHOWN - 10) + "sk-secret-value" + "y" * 5_000_000
    screen.message("slack", "internal", giant)
    screen.line(giant)
    shown = out.getvalue()
    assert len(shown) < 3 * MAX_SHOWN
    more = f"{len(giant) - len('sk-secret-value') + 3 - MAX_SHOWN:,}"
    assert shown.count(f"… ({more} more characters, kept in") == 2  # a terminal wraps the rest
    assert "sk-secret" not in shown  # masked before the cut
