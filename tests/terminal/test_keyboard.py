"""The operator answers only what they saw: typed as a person types, in a real pseudo-terminal.

Several keys arrive in one write (``y`` and Enter together, a stray second Enter), a word that
merely contains a ``y``, an empty line where text is wanted. The screen is read as an 80x24
terminal shows it (pyte keeps the terminal's cells), so "on one screen" means on one screen.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.state import load_incident
from tests.helpers import write
from tests.runs import ATTACKER_KEY, aiir_command, drill, only_incident, process_env, strip_ansi
from tests.servers import Gateway, serve_gateway

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

ENTER = "\r"
DOWN = "\x1b[B"
CTRL_D = "\x04"
LEVER_QUESTION = "Engage lever 'filter'?"


class Screen:
    """``aiir`` in a ROWSxCOLS pseudo-terminal, its output fed to a terminal emulator."""

    def __init__(self, args: list[str], env: dict[str, str], rows: int = 24, cols: int = 80):
        command = aiir_command()
        self.emulator = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.emulator)
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            command[0],
            [*command[1:], *args],
            env=env,
            dimensions=(rows, cols),
            encoding="utf-8",
            timeout=20,
            use_poll=True,
        )
        self.child.logfile_read = self.transcript

    def wait(self, text: str, timeout: float = 20.0) -> None:
        """Until ``text`` is shown after what was waited for last, then a moment more for the
        prompt to finish drawing before the screen is read or typed at."""
        deadline = time.monotonic() + timeout
        while True:
            seen = strip_ansi(self.transcript.getvalue())
            found = seen.find(text, self.waited)
            if found >= 0:
                self.waited = found + len(text)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n" + seen[-2000:])
            self._read(0.1)
        self._read(0.3)

    def _read(self, seconds: float) -> None:
        with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
            self.child.read_nonblocking(65536, timeout=seconds)

    waited = 0

    def lines(self) -> list[str]:
        """The screen once the program has drawn nothing for a moment: a busy machine redraws
        late (a list cut to the width was read half-drawn, its choice still wrapped)."""
        deadline, drawn = time.monotonic() + 10.0, -1
        while drawn != len(self.transcript.getvalue()) and time.monotonic() < deadline:
            drawn = len(self.transcript.getvalue())
            self._read(0.3)
        self.stream.feed(self.transcript.getvalue()[self.fed :])
        self.fed = len(self.transcript.getvalue())
        return [line.rstrip() for line in self.emulator.display]

    fed = 0

    def type(self, keys: str) -> None:
        self.child.send(keys)

    def finish(self) -> tuple[int, str]:
        self.child.expect_exact(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus), strip_ansi(self.transcript.getvalue())


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def start(
    tmp_path: Path, url: str, runbook: dict[str, object] | None = None, term: str = "xterm"
) -> Screen:
    path = tmp_path / "drill.yaml"
    write(path, runbook or drill())
    incidents = tmp_path / "incidents"
    env = process_env(incidents, TERM=term, PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")  # the terminal's own size
    return Screen(["run", str(path), "--gateway", f"gateway={url}"], env)


def to_the_lever(screen: Screen) -> None:
    screen.wait("What happened to support-bot?")
    screen.type(ENTER)
    screen.wait("Which phrase did the attack use?")
    screen.type("ignore previous" + ENTER)
    screen.wait(LEVER_QUESTION)


def answers(tmp_path: Path) -> dict[str, object]:
    incidents = tmp_path / "incidents"
    incident = load_incident(incidents, only_incident(incidents))
    return {a["key"]: a["value"] for a in incident.answers}


def test_a_y_alone_engages_nothing_until_enter(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    screen = start(tmp_path, url)
    to_the_lever(screen)
    screen.type("y")
    time.sleep(1.0)
    assert state.count("POST", "/guardrails") == 0  # a key is not an answer
    screen.type(ENTER)
    screen.wait("Is the attacker's key known?")
    assert state.count("POST", "/guardrails") == 1
    screen.child.terminate(force=True)


def test_y_and_a_second_enter_in_one_write_answer_only_the_question_on_screen(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    screen = start(tmp_path, url)
    to_the_lever(screen)
    screen.type("y" + ENTER + ENTER)  # the second Enter was typed before the next question
    screen.wait("Is the attacker's key known?")
    time.sleep(1.0)
    # it did not answer the next question (a confirm's Enter takes its default): still asked
    assert "known" not in answers(tmp_path)
    screen.type("n" + ENTER)
    screen.wait("Eradicate: tick what is done")
    screen.type("a" + ENTER)
    status, _ = screen.finish()
    assert status == 0
    given = answers(tmp_path)
    assert given["contain.approve"] is True
    assert given["known"] is False  # what the operator typed, not a default
    assert state.count("POST", "/guardrails") == 1


def test_a_word_holding_a_y_is_no_answer_and_no_is_the_default(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    screen = start(tmp_path, url)
    to_the_lever(screen)
    screen.type("maybe" + ENTER)
    time.sleep(1.0)
    shown = "\n".join(screen.lines())
    assert "type y (yes) or n (no)" in shown
    assert state.count("POST", "/guardrails") == 0
    screen.type("\x7f" * 5 + ENTER)  # erase it; Enter alone takes the default: No
    screen.wait("declined: not sent")
    screen.wait("Is the attacker's key known?")
    assert state.count("POST", "/guardrails") == 0
    screen.child.terminate(force=True)
    assert answers(tmp_path)["contain.approve"] is False


def test_the_lever_question_shows_what_a_person_needs_on_one_80x24_screen(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, _ = gateway
    runbook = drill()
    runbook["levers"]["filter"]["business_cost"] = "Prompts with the phrase are refused."
    screen = start(tmp_path, url, runbook)
    to_the_lever(screen)
    shown = screen.lines()
    text = "\n".join(shown)
    assert len(shown) == 24
    assert shown[-1].startswith("? Engage lever 'filter'? y sends POST /guardrails (y/N/d)")
    for needed in (
        "Lever filter · filter",
        "Emergency filter on the attack phrase",
        f"Sends: POST {url}/guardrails",
        "gateway 'gateway', litellm.add_guardrail",
        "Cost: Prompts with the phrase are refused.",
        "Release: DELETE",
        "<saved by engage:",
        "Body: {",
        "Engage lever 'filter'?",
        "(y/N/d)",
    ):
        assert needed in text, (needed, text)
    screen.type("d" + ENTER)  # the full request, on request
    screen.wait('"method": "POST"')
    screen.wait(LEVER_QUESTION)  # asked again
    screen.child.terminate(force=True)


def test_an_empty_line_is_no_answer_and_a_mismatch_says_what_is_expected(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, _ = gateway
    runbook = drill()
    runbook["nodes"]["attacker-key"]["hint"] = "a virtual key such as sk-1234"
    screen = start(tmp_path, url, runbook)
    screen.wait("What happened to support-bot?")
    screen.type(ENTER)
    screen.wait("Which phrase did the attack use?")
    screen.type(ENTER)  # nothing typed
    time.sleep(1.0)
    assert "an answer is required" in "\n".join(screen.lines())
    screen.type("ignore previous" + ENTER)
    screen.wait(LEVER_QUESTION)
    screen.type("y" + ENTER)
    screen.wait("Is the attacker's key known?")
    screen.type("y" + ENTER)
    screen.wait("Which virtual key?")
    screen.type("sk_wrong" + ENTER)
    time.sleep(1.0)
    shown = "\n".join(screen.lines())
    assert "expected a virtual key such as sk-1234" in shown
    assert "sk-[A-Za-z0-9-]+" not in shown  # words, not the regular expression
    screen.type("\x7f" * 8 + ATTACKER_KEY + ENTER)
    screen.wait("Engage lever 'block-key'?")
    screen.child.terminate(force=True)
    assert answers(tmp_path)["phrase"] == "ignore previous"


def test_ctrl_d_is_reported_as_ctrl_d_and_the_levers_engaged_are_recapped(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, _ = gateway
    screen = start(tmp_path, url)
    to_the_lever(screen)
    screen.type("y" + ENTER)
    screen.wait("Is the attacker's key known?")
    screen.type(CTRL_D)
    status, shown = screen.finish()
    assert status == 130
    flat = " ".join(shown.split())
    assert "interrupted by the operator (Ctrl-D)" in flat
    assert "Levers engaged now: filter (verified)" in flat


def test_a_note_typed_at_prompts_is_journalled_and_the_question_asked_again(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """`:note TEXT` at a text or yes/no prompt, and the list's "add a note" entry, journal a
    note with the operator and ask the same question again."""
    url, state = gateway
    screen = start(tmp_path, url)
    screen.wait("What happened to support-bot?")
    screen.type(DOWN * 3 + ENTER)  # past the three choices: "✎ add a note"
    screen.wait("Note:")
    screen.type("user reported it at 09:12" + ENTER)
    screen.wait("What happened to support-bot?")
    screen.type(ENTER)
    screen.wait("Which phrase did the attack use?")
    screen.type(":note the phrase came from ticket 4411" + ENTER)
    screen.wait("noted by tester")
    screen.wait("Which phrase did the attack use?")
    screen.type("ignore previous" + ENTER)
    screen.wait(LEVER_QUESTION)
    screen.type(":note legal is on the bridge" + ENTER)
    screen.wait("noted by tester")
    screen.wait(LEVER_QUESTION)
    assert state.count("POST", "/guardrails") == 0  # a note is no answer
    screen.child.terminate(force=True)
    incidents = tmp_path / "incidents"
    incident = load_incident(incidents, only_incident(incidents))
    notes = [(e.operator, e.data["text"]) for e in incident.events if e.type == "note"]
    assert notes == [
        ("tester", "user reported it at 09:12"),
        ("tester", "the phrase came from ticket 4411"),
        ("tester", "legal is on the bridge"),
    ]
    assert answers(tmp_path)["phrase"] == "ignore previous"
    assert "contain.approve" not in answers(tmp_path)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        (  # Ctrl-Z alone suspends (test_suspend_pty); Ctrl-Q then Ctrl-Z types it
            "ignore\x11\x1a previous" + ENTER,
            "the answer holds a control character (^Z): erase it",
        ),
        (
            "\x1b[200~ignore previous\ny\ny\n\x1b[201~" + ENTER,  # a block pasted, then Enter
            "one line only: the answer holds a line break",
        ),
    ],
    ids=["ctrl-z", "pasted-lines"],
)
def test_a_control_key_or_a_pasted_block_in_a_text_answer_is_refused_on_the_spot(
    tmp_path: Path, gateway: tuple[str, Gateway], typed: str, said: str
) -> None:
    """A control character typed into the line (^Z, quoted) is refused: the lever would block a
    phrase nobody types; a pasted block would be several answers in one."""
    url, state = gateway
    screen = start(tmp_path, url)
    screen.wait("What happened to support-bot?")
    screen.type(ENTER)
    screen.wait("Which phrase did the attack use?")
    screen.type(typed)
    time.sleep(1.0)
    assert said in "\n".join(screen.lines())
    assert "phrase" not in answers(tmp_path)
    screen.type("\x7f" * 30 + "ignore previous" + ENTER)  # erased, typed again
    screen.wait(LEVER_QUESTION)
    screen.child.terminate(force=True)
    assert answers(tmp_path)["phrase"] == "ignore previous"
    assert state.count("POST", "/guardrails") == 0
