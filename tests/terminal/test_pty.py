"""The real interactive prompts of ``aiir run`` and ``aiir resume``, driven in a pseudo-terminal.

As copier's ``tests/test_prompt.py`` does: spawn the installed command under pexpect, wait for each
questionary prompt, press the keys an operator would (arrows, space, enter, y), and check what the
screen said, the exit status, the journal and what the gateway received. The tests make their own
pseudo-terminal, so they run in CI where stdin is not a terminal.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.journal import verify
from aiir.incident.state import load_incident
from tests.helpers import write
from tests.runs import (
    ATTACKER_KEY,
    MASTER_KEY,
    PROMPT_INJECTION,
    aiir_command,
    drill,
    only_incident,
    process_env,
    strip_ansi,
)
from tests.servers import Gateway, serve_gateway

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

DOWN = "\x1b[B"
ENTER = "\r"
SPACE = " "
CTRL_C = "\x03"
CTRL_D = "\x04"


class Terminal:
    """One ``aiir`` process in a 40x120 pseudo-terminal, keeping everything it wrote."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        command = aiir_command()
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            command[0],
            [*command[1:], *args],
            env=env,
            dimensions=(40, 120),
            encoding="utf-8",
            timeout=20,
            use_poll=True,
        )
        self.child.logfile_read = self.transcript

    def answer(self, prompt: str, *keys: str) -> None:
        """Wait until ``prompt`` is on screen, then press ``keys``."""
        self.child.expect_exact(prompt)
        for key in keys:
            self.child.send(key)

    def finish(self) -> tuple[int, str]:
        """Wait for the process to end: its exit status and what it showed, colours removed."""
        self.child.expect_exact(pexpect.EOF)
        self.child.close()
        assert self.child.signalstatus is None
        return int(self.child.exitstatus), strip_ansi(self.transcript.getvalue())


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


@pytest.fixture
def runbook(tmp_path: Path) -> Path:
    path = tmp_path / "drill.yaml"
    write(path, drill())
    return path


def terminal_env(incidents: Path) -> dict[str, str]:
    """An xterm; nobody answers prompt_toolkit's cursor-position requests, so it is told not to
    wait for them (it would, on every prompt)."""
    return process_env(incidents, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")


def test_an_operator_walks_the_drill_with_the_keyboard(
    tmp_path: Path, runbook: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents = tmp_path / "incidents"
    term = Terminal(
        ["run", str(runbook), "--gateway", f"gateway={url}", "--incident-dir", str(incidents)],
        terminal_env(incidents),
    )
    term.answer("What happened to support-bot?", DOWN, ENTER)  # the second choice: leak
    term.answer("Which phrase did the attack use?", "ignore [bold]previous[/]", ENTER)
    term.answer("Engage lever 'filter'?", "y" + ENTER)  # a word and Enter, in one write
    term.answer("Is the attacker's key known?", "y" + ENTER)
    term.answer("Which virtual key?", ATTACKER_KEY, ENTER)
    term.answer("Engage lever 'block-key'?", "y" + ENTER)  # a word and Enter, in one write
    term.answer("Eradicate: tick what is done", SPACE, DOWN, SPACE, ENTER)  # the first two
    status, screen = term.finish()

    assert status == 0, screen
    assert "Severity now SEV1" in screen
    assert "Lever filter: verified: effective: verify probe passed" in screen
    assert "Lever block-key: verified: effective: verify probe passed" in screen
    assert "open items: downstream" in screen
    assert "Outcome: contained" in screen
    assert "Contained leak on support-bot; phrase ignore [bold]previous[/]." in screen
    assert "Still engaged: block-key, filter" in screen
    assert MASTER_KEY not in screen
    assert state.count("POST", "/guardrails") == 1
    assert state.count("POST", "/key/block") == 1
    assert state.count("POST", "/v1/chat/completions") == 2  # one verify probe per lever
    assert state.blocked == {ATTACKER_KEY}
    (guardrail,) = state.guardrails.values()
    words = guardrail["litellm_params"]["blocked_words"]
    assert [w["keyword"] for w in words] == ["ignore [bold]previous[/]"]  # literal, not markup
    incident = load_incident(incidents, only_incident(incidents))
    assert {a["key"]: a["value"] for a in incident.answers} == {
        "triage": "leak",
        "phrase": "ignore [bold]previous[/]",
        "contain.approve": True,
        "known": True,
        "attacker-key": ATTACKER_KEY,
        "block.approve": True,
        "steps": ["harden", "canaries"],
    }
    assert [(r.lever, r.state) for r in incident.levers] == [
        ("filter", "verified"),
        ("block-key", "verified"),
    ]


def test_ctrl_c_at_a_question_then_resume_finishes_without_engaging_twice(
    tmp_path: Path, runbook: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents = tmp_path / "incidents"
    env = terminal_env(incidents)
    term = Terminal(
        ["run", str(runbook), "--gateway", f"gateway={url}", "--incident-dir", str(incidents)],
        env,
    )
    term.answer("What happened to support-bot?", ENTER)
    term.answer("Which phrase did the attack use?", "ignore previous", ENTER)
    term.answer("Engage lever 'filter'?", "y" + ENTER)  # a word and Enter, in one write
    term.answer("Is the attacker's key known?", CTRL_C)
    status, screen = term.finish()

    incident_id = only_incident(incidents)
    assert status == 130, screen
    assert f"incident {incident_id} stopped: interrupted by the operator (Ctrl-C)" in screen
    assert f"resume with: aiir resume {incident_id}" in screen
    assert "Traceback" not in screen
    assert (state.count("POST", "/guardrails"), state.count("POST", "/key/block")) == (1, 0)
    assert load_incident(incidents, incident_id).state == "interrupted"

    term = Terminal(["resume", incident_id, "--incident-dir", str(incidents)], env)
    term.answer("Is the attacker's key known?", "y" + ENTER)
    term.answer("Which virtual key?", ATTACKER_KEY, ENTER)
    term.answer("Engage lever 'block-key'?", "y" + ENTER)  # a word and Enter, in one write
    term.answer("Eradicate: tick what is done", "a", ENTER)  # <a> toggles every item
    status, screen = term.finish()

    assert status == 0, screen
    assert f"Resuming {incident_id}" in screen
    assert "Outcome: contained" in screen
    assert "open items" not in screen
    assert state.count("POST", "/guardrails") == 1  # engaged before Ctrl-C, not again
    assert state.count("POST", "/key/block") == 1
    incident = load_incident(incidents, incident_id)
    assert incident.outcome == "contained"
    assert [(r.lever, r.state) for r in incident.levers] == [
        ("filter", "verified"),
        ("block-key", "verified"),
    ]
    assert [e.type for e in incident.events].count("incident.resumed") == 1
    assert verify(incidents / incident_id) == []


def test_ctrl_d_at_a_text_prompt_stops_the_run_resumably_too(
    tmp_path: Path, runbook: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents = tmp_path / "incidents"
    term = Terminal(
        ["run", str(runbook), "--gateway", f"gateway={url}", "--incident-dir", str(incidents)],
        terminal_env(incidents),
    )
    term.answer("What happened to support-bot?", ENTER)
    term.answer("Which phrase did the attack use?", CTRL_D)
    status, screen = term.finish()

    incident_id = only_incident(incidents)
    assert status == 130, screen
    assert f"resume with: aiir resume {incident_id}" in screen
    assert load_incident(incidents, incident_id).state == "interrupted"
    assert state.calls == []


def test_the_shipped_prompt_injection_runbook_end_to_end(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents = tmp_path / "incidents"
    term = Terminal(
        [
            "run",
            str(PROMPT_INJECTION),
            "--gateway",
            f"gateway={url}",
            "--set",
            f"attacker_key={ATTACKER_KEY}",
            "--incident-dir",
            str(incidents),
        ],
        terminal_env(incidents),
    )
    term.answer("What does the evidence show?", DOWN, DOWN, ENTER)  # contained jailbreak
    term.answer("Engage lever 'emergency-filter'?", "y" + ENTER)  # a word and Enter, in one write
    term.answer("Was the attack made with a single identifiable virtual key", "y" + ENTER)
    term.answer("Virtual key or key hash to block", ENTER)  # the default: the --set key
    term.answer("Engage lever 'block-attacker-key'?", "y" + ENTER)  # a word and Enter, in one write
    term.answer("what happens on replay?", DOWN, ENTER)  # variants still get through
    term.answer("Engage lever 'reroute-fallback'?", "y" + ENTER)  # a word and Enter, in one write
    term.answer("Eradicate the cause: tick what is done", "a", ENTER)
    status, screen = term.finish()

    assert status == 0, screen
    assert "Message (pagerduty, internal)" in screen
    assert "Prompt injection on support-bot: contained-jailbreak." in screen
    assert "Lever reroute-fallback: verified: effective: verify probe passed" in screen
    assert "Outcome: contained" in screen
    assert MASTER_KEY not in screen
    for method, path in [("POST", "/guardrails"), ("POST", "/key/block"), ("POST", "/fallback")]:
        assert state.count(method, path) == 1, path
    assert state.count("GET", "/spend/logs") == 2  # the capture's window before, then after
    assert state.fallbacks == {"support-bot": ["support-bot-fallback"]}
