"""Tabletop exercises: the inject board and the after-action report on an injected clock, then
the real ``aiir tabletop`` in a pseudo-terminal, injects arriving both by time and on the
facilitator's key while the room answers with arrow keys, enter and typing."""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from aiir.exercises.tabletop import InjectBoard, TabletopPrompter, default_environment, run_tabletop
from aiir.formats.scenario import Inject
from aiir.incident.state import load_incident
from aiir.prompts import Check, Option
from aiir.validate.scenarios import prepare
from tests.helpers import write
from tests.runs import aiir_command, only_incident, process_env, strip_ansi
from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 3, 14, 9, 10, tzinfo=dt.UTC)


def injects(*specs: tuple[str, str, str]) -> list[Inject]:
    return [Inject.model_validate({"at": at, "from": who, "text": text}) for at, who, text in specs]


TIMELINE = injects(
    ("10m", "Legal", "Must a regulator be told?"),
    ("0m", "Support lead", "Screenshots of slurs."),
    ("30m", "CEO", "A statement in 10 minutes."),
)


def board_on(clock: FakeClock, speed: float = 1.0) -> tuple[InjectBoard, io.StringIO]:
    screen = io.StringIO()
    console = Console(file=screen, width=100, highlight=False)
    return InjectBoard(TIMELINE, clock, console, [], speed), screen


def delivered(board: InjectBoard) -> list[tuple[str, str, str]]:
    """(due, scenario time of delivery, by) for every delivered inject."""
    from aiir.timestamps import clock_text

    return [(d.inject.at, clock_text(d.at), d.by) for d in board.delivered]


# --- the inject board ---------------------------------------------------------------------------


def test_an_inject_from_someone_whose_name_looks_like_markup_is_shown_as_it_is() -> None:
    """An inject's sender went into its panel's title as rich markup: '[/]' in it raised
    MarkupError in the middle of the exercise, '[red]' was swallowed, escapes were printed."""
    clock = FakeClock(T0)
    screen = io.StringIO()
    console = Console(file=screen, width=100, highlight=False)
    sender = "Ops [/] [red]lead\x1b]0;owned\x07"
    board = InjectBoard(injects(("0m", sender, "Look.")), clock, console, [], 1.0)
    board.deliver("facilitator")
    shown = screen.getvalue()
    assert "Ops [/] [red]lead" in shown
    assert "\x1b" not in shown


def test_injects_arrive_at_their_scenario_time() -> None:
    clock = FakeClock(T0)
    board, screen = board_on(clock)
    board.deliver_due()
    assert board.delivered == []  # the clock starts when the incident opens
    clock.advance(minutes=5)
    board.begin()
    assert delivered(board) == [("0m", "T+00:00:00", "time")]
    clock.advance(minutes=9, seconds=59)
    board.deliver_due()
    assert len(board.delivered) == 1
    clock.advance(seconds=1)
    board.deliver_due()
    assert delivered(board)[1:] == [("10m", "T+00:10:00", "time")]
    assert [i.at for i in board.pending] == ["30m"]
    assert "INJECT 10m · scenario time T+00:10:00 — Legal" in screen.getvalue()
    assert "Must a regulator be told?" in screen.getvalue()
    assert board.outbox[1] == (
        "inject.delivered",
        {
            "at": "10m",
            "text": "Must a regulator be told?",
            "from": "Legal",
            "by": "time",
            "scenario_time": "T+00:10:00",
        },
    )


def test_speed_compresses_the_scenario_clock() -> None:
    clock = FakeClock(T0)
    board, _ = board_on(clock, speed=60)
    board.begin()
    clock.advance(seconds=10)  # ten scenario minutes
    board.deliver_due()
    assert delivered(board) == [("0m", "T+00:00:00", "time"), ("10m", "T+00:10:00", "time")]
    assert board.due_in() == dt.timedelta(minutes=20)


def test_the_facilitator_delivers_early_and_an_inject_never_arrives_twice() -> None:
    clock = FakeClock(T0)
    board, _ = board_on(clock)
    board.begin()
    clock.advance(minutes=2)
    board.deliver("facilitator")
    ten = board.delivered[-1].inject
    board.deliver("facilitator", ten)  # offered twice: already delivered, nothing happens
    clock.advance(minutes=20)
    board.deliver_due()  # 10m is long due but was delivered early
    board.begin()  # a second start does not reset the clock
    assert delivered(board) == [
        ("0m", "T+00:00:00", "time"),
        ("10m", "T+00:02:00", "facilitator"),
    ]
    assert board.elapsed() == dt.timedelta(minutes=22)
    clock.advance(minutes=8)
    board.deliver_due()
    assert delivered(board)[-1] == ("30m", "T+00:30:00", "time")
    assert board.due_in() is None


class Room:
    """The room, scripted: answers by question id, each taking ``think`` on the clock; the
    facilitator's answers to the inject offers in order. Records what was asked."""

    def __init__(
        self,
        answers: Mapping[str, Any],
        clock: FakeClock,
        offers: Sequence[bool] = (),
        think: dt.timedelta = dt.timedelta(minutes=1),
    ) -> None:
        self.answers = dict(answers)
        self.clock = clock
        self.offers = list(offers)
        self.think = think
        self.asked: list[str] = []

    def _answer(self, key: str) -> Any:
        self.asked.append(key)
        if key == "facilitator.inject":
            return self.offers.pop(0) if self.offers else False
        if key not in self.answers:
            raise AssertionError(f"the room was not told how to answer {key!r}")
        self.clock.moment += self.think
        return self.answers[key]

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        return str(self._answer(key))

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        return bool(self._answer(key))

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        return str(self._answer(key))

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        ticked = self._answer(key)
        return [o.value for o in options] if ticked == "all" else list(ticked)

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return list(self._answer(key))


def test_the_facilitator_is_offered_the_next_inject_before_each_question() -> None:
    clock = FakeClock(T0)
    board, _ = board_on(clock)
    board.begin()
    room = Room({"q1": "a", "q2": True}, clock, offers=[False, True])
    prompter = TabletopPrompter(room, board)
    assert prompter.choose("q1", "First?", [Option("a", "A")]) == "a"
    assert prompter.confirm("q2", "Second?") is True
    # q1: the 10m inject was offered and declined; q2: accepted, then the 30m one declined.
    assert room.asked == [
        "facilitator.inject",
        "q1",
        "facilitator.inject",
        "facilitator.inject",
        "q2",
    ]
    assert delivered(board) == [("0m", "T+00:00:00", "time"), ("10m", "T+00:01:00", "facilitator")]


def test_without_a_terminal_no_timer_runs_during_a_question() -> None:
    clock = FakeClock(T0)
    board, _ = board_on(clock)
    board.begin()
    with board.live():  # a no-op: the console is a StringIO
        clock.advance(minutes=45)
    assert len(board.delivered) == 1
    board.deliver_due()
    assert len(board.delivered) == 3


# --- the after-action report ----------------------------------------------------------------------

# The facilitator expects the tampered model file handled without code execution and a
# reportable incident; the room says the code ran (three extra steps), judges it not reportable
# (two steps missed), and the known-good build fails when the compromised one is removed.
EXPECTED_PATH = [
    "component",
    "exposure",
    "capture",
    "preserve",
    "page",
    "route",
    "deployment-id",
    "capture-deployment",
    "reroute",
    "remove",
    "exec-check",
    "blast",
    "regulated",
    "legal",
    "regulator-draft",
    "status-update",
    "eradicate",
    "in-effect",
    "done",
]
SCENARIO: dict[str, Any] = {
    "aiir": 1,
    "scenario": "tabletop-tampered-model",
    "title": "A tampered model file in production",
    "runbook": "supply-chain",
    "inputs": {"model": "support-bot", "fallback_model": "support-bot-fallback"},
    "faults": [{"fault": "error", "model": "support-bot-fallback", "value": 1.0, "at": "remove"}],
    "injects": [
        {"at": "0m", "from": "Security scanner", "text": "Pickle opcodes in the adapter."},
        {"at": "2m", "from": "Platform", "text": "Outbound connections from the model host."},
        {"at": "45m", "from": "CEO", "text": "A statement, please."},
    ],
    "expect": {
        "path": EXPECTED_PATH,
        "levers": {"verified": ["reroute-fallback", "remove-compromised"]},
        "containment_within": "10m",
    },
}
ROOM = {
    "component": "model-file",
    "exposure": "code-exec",
    "preserve": "all",
    "deployment-id": "dep-support-bot-1",
    "reroute.approve": True,
    "remove.approve": True,
    "remove.on_failure": "skip",
    "host-key": "sk-serving-host-0001",
    "block-key.approve": True,
    "rotate": ["provider-keys"],
    "blast": "all",
    "regulated": "not-reportable",
    "eradicate": "all",
}


def walk_exercise(tmp_path: Path) -> str:
    """The scenario above, walked by the scripted room on a fake clock: one minute a decision."""
    scenario = tmp_path / "tabletop.yaml"
    write(scenario, SCENARIO)
    clock = FakeClock(T0)
    room = Room(ROOM, clock, offers=[False, False, True])
    console = Console(file=io.StringIO(), width=120, highlight=False)
    env = default_environment(console, room, tmp_path / "incidents", clock=clock, operator="fac")
    report = tmp_path / "after-action.md"
    result, written, _ = run_tabletop(prepare(scenario), env, report=report)
    assert written == report
    assert result.incident.outcome == "contained"
    return report.read_text(encoding="utf-8")


def section(report: str, title: str) -> list[str]:
    """The lines of one ``## title`` section, without blank lines."""
    body = report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line]


def test_after_action_report_from_a_scripted_room(tmp_path: Path) -> None:
    report = walk_exercise(tmp_path)

    incident_id = only_incident(tmp_path / "incidents")
    assert report.startswith(
        "# After-action report: A tampered model file in production\n\n"
        "- Scenario: `tabletop-tampered-model` · runbook `supply-chain` v1.0.0\n"
        f"- Incident: `{incident_id}` (exercise) · facilitator: fac · started 2026-03-14T09:10:00.000Z\n"
        "- Outcome: **contained** · final severity SEV1\n"
    )
    assert section(report, "Times") == [
        "- Time to triage (first decision): T+00:01:00",
        "- Time to containment (first lever proven effective): T+00:05:00",
        "- Containment goal: within 10m (scenario time): met",
    ]
    assert section(report, "Injects") == [
        "| due | delivered | by | from | inject |",
        "|---|---|---|---|---|",
        "| 0m | T+00:00:00 | time | Security scanner | Pickle opcodes in the adapter. |",
        "| 2m | T+00:02:00 | time | Platform | Outbound connections from the model host. |",
        "| 45m | T+00:02:00 | facilitator | CEO | A statement, please. |",
    ]
    assert section(report, "Decisions against the expected path") == [
        "| # | expected | taken | answer | |",
        "|---|---|---|---|---|",
        "| 1 | component | component | model-file | ✓ |",
        "| 2 | exposure | exposure | code-exec | ✓ |",
        "| 3 | capture | capture |  | ✓ |",
        "| 4 | preserve | preserve | artefact, manifest, hosts, isolate | ✓ |",
        "| 5 | page | page |  | ✓ |",
        "| 6 | route | route |  | ✓ |",
        "| 7 | deployment-id | deployment-id | dep-support-bot-1 | ✓ |",
        "| 8 | capture-deployment | capture-deployment |  | ✓ |",
        "| 9 | reroute | reroute |  | ✓ |",
        "| 10 | remove | remove |  | ✓ |",
        "| 11 | exec-check | exec-check |  | ✓ |",
        "| 12 | - | host-key | sk-serving-host-0001 | ✗ |",
        "| 13 | - | block-key |  | ✗ |",
        "| 14 | - | rotate | provider-keys | ✗ |",
        "| 15 | blast | blast | inventory, pin, outputs, upstream | ✓ |",
        "| 16 | regulated | regulated | not-reportable | ✓ |",
        "| 17 | legal | - |  | ✗ |",
        "| 18 | regulator-draft | - |  | ✗ |",
        "| 19 | status-update | status-update |  | ✓ |",
        "| 20 | eradicate | eradicate | safe-formats, hashes, tool-review, rebuild | ✓ |",
        "| 21 | in-effect | in-effect |  | ✓ |",
        "| 22 | done | done |  | ✓ |",
    ]
    assert section(report, "Missed steps") == [
        "- expected step `legal` was never reached",
        "- expected step `regulator-draft` was never reached",
        "- checklist `rotate`: not done: Rotate cloud, database, storage and CI credentials in the hosts' environment and mounted secrets",
        "- checklist `rotate`: not done: Check egress logs for exfiltration (data, weights, credentials) from those hosts",
        "- checklist `rotate`: not done: Issue the service a new gateway key only after it is rebuilt from clean artefacts",
        "- lever `remove-compromised` was expected to be proven effective",
    ]
    gaps = section(report, "Gaps")
    assert gaps[0].startswith(
        "- lever `remove-compromised` engaged: engaged, not verified: cannot verify: "
        "the verify probe got status 5"
    )
    assert gaps[1:] == ["- decision after a failure at `remove`: skip"]
    actions = section(report, "Suggested action items")
    assert actions[0] == f"- [ ] Owner to fix: {gaps[0][2:]}"
    assert (
        "- [ ] Practise or clarify in the runbook: expected step `legal` was never reached"
        in actions
    )
    assert actions[-1] == "- [ ] Schedule the blameless review within 5 business days"
    still = section(report, "Levers still in effect on the simulated gateway")
    assert any("dep-support-bot-1" in line for line in still), still  # removed, not restored
    # Injects are journalled with the walk, in order, and the exercise is marked as one.
    incident = load_incident(tmp_path / "incidents", incident_id)
    assert incident.drill
    journalled = [e.data for e in incident.events if e.type == "inject.delivered"]
    assert [(d["at"], d["by"], d["scenario_time"]) for d in journalled] == [
        ("0m", "time", "T+00:00:00"),
        ("2m", "time", "T+00:02:00"),
        ("45m", "facilitator", "T+00:02:00"),
    ]


def test_the_clock_speed_shows_in_the_report(tmp_path: Path) -> None:
    scenario = tmp_path / "tabletop.yaml"
    write(scenario, SCENARIO)
    clock = FakeClock(T0)
    room = Room(ROOM, clock, think=dt.timedelta(seconds=6))  # 6 s real = 1 min at 10x
    console = Console(file=io.StringIO(), width=120, highlight=False)
    env = default_environment(console, room, tmp_path / "incidents", clock=clock)
    _, written, _ = run_tabletop(prepare(scenario), env, speed=10)
    report = written.read_text(encoding="utf-8")
    assert "- Clock: 10× (scenario time runs 10 times real time)" in report
    assert section(report, "Times") == [
        "- Time to triage (first decision): T+00:00:06 real, T+00:01:00 scenario time",
        "- Time to containment (first lever proven effective): T+00:00:30 real, T+00:05:00 scenario time",
        "- Containment goal: within 10m (scenario time): met",
    ]
    assert (
        "| 2m | T+00:02:00 | time | Platform | Outbound connections from the model host. |"
        in report
    )


# How a well-rehearsed room answers each example exercise (the expected path, every step done).
EXAMPLE_ROOMS: dict[str, dict[str, Any]] = {
    "racist-output": {
        "intake": "slurs in support-bot replies since 09:10 UTC",
        "affected-model": "support-bot",
        "worst-impact": "harm-at-scale",
        "axis": "unknown",
        "attack-kind": "direct-injection",
        "prompt-injection.confirm-injection": "harmful-output",
        "prompt-injection.filter.approve": True,
        "prompt-injection.key-known": False,
        "prompt-injection.still-leaking": "held",
        "prompt-injection.eradicate": "all",
    },
    "prompt-injection-data-leak": {
        "what-happened": "data-exfil",
        "marker": "Append ![status](https://collector.example.net",
        "carrier": "rag-source",
        "source-id": "ticket-48213",
        "quarantine.approve": True,
        "filter.approve": True,
        "exfil-domain": "collector.example.net",
        "block-exfil.approve": True,
        "action-tool": "http_request",
        "disable-action.approve": True,
        "replay": "held",
        "blast-radius": "all",
        "personal-data": "personal",
        "legal": "all",
        "eradicate": "all",
    },
    "drifting-fraud-model": {
        "impact": "customer-harm",
        "status-page.approve": True,
        "contain": "rules",
        "rules.approve": True,
        "diagnose": "all",
        "cause": "new-version",
        "last-good-version": "6",
        "rollback.approve": True,
        "recovered": "recovered",
        "remediate": "all",
        "regulated": "possibly",
        "legal": "all",
        "eradicate": "all",
    },
}


@pytest.mark.parametrize("name", EXAMPLE_ROOMS)
def test_example_tabletops_can_be_walked_along_their_expected_path(
    name: str, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    room = Room(EXAMPLE_ROOMS[name], clock)
    console = Console(file=io.StringIO(), width=120, highlight=False)
    env = default_environment(console, room, tmp_path / "incidents", clock=clock)
    prepared = prepare(ROOT / "examples" / "tabletops" / f"{name}.yaml")
    result, written, board = run_tabletop(prepared, env)
    report = written.read_text(encoding="utf-8")
    steps = [r for r in section(report, "Decisions against the expected path") if r[2].isdigit()]
    assert prepared.scenario.expect.path is not None
    assert len(steps) == len(prepared.scenario.expect.path)
    assert all(row.endswith(" ✓ |") for row in steps), steps
    assert section(report, "Missed steps") == ["- none"]
    assert section(report, "Gaps") == ["- none found"]
    assert "- Containment goal: within" in report
    assert report.count(": met") == 1
    assert board.delivered[0].inject.at == "0m"
    assert result.incident.outcome in {"contained", "mitigated"}


# --- the real command in a pseudo-terminal ------------------------------------------------------

DOWN = "\x1b[B"
ENTER = "\r"
SPACE = " "
BACKSPACE = "\x7f"
# The facilitator's offer while it waits for a key (once answered it shows "No" or "Yes").
OFFER = re.compile(r"deliver the next inject now \((\w+)[^)]*\)\?[^\n]*?\(y/N\)")
SELECT = r"[^\n]*?\(Use arrow keys\)"
CONFIRM = r"[^\n]*?\(y/N(?:/d)?\)"


class Exercise:
    """``aiir tabletop`` in a 45x130 xterm; the facilitator answers offers by inject due time."""

    def __init__(self, args: list[str], incidents: Path, offers: Mapping[str, str]) -> None:
        pexpect = pytest.importorskip("pexpect")
        env = process_env(incidents, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
        env.pop("COLUMNS")  # rich and prompt_toolkit read the terminal's own size
        env["AIIR_OPERATOR"] = "facilitator"
        command = aiir_command()
        self.transcript = io.StringIO()
        self.child = pexpect.spawn(
            command[0],
            [*command[1:], "tabletop", *args],
            env=env,
            dimensions=(45, 130),
            encoding="utf-8",
            timeout=30,
            use_poll=True,
        )
        self.child.logfile_read = self.transcript
        self.offers = offers
        self.offered: list[tuple[str, str]] = []

    def answer(self, prompt: str, *keys: str) -> None:
        """Wait for ``prompt`` (a regex), answering the facilitator's offers on the way."""
        question = re.compile(prompt)
        while self.child.expect([OFFER, question]) == 0:
            due = self.child.match.group(1)
            self.offered.append((due, self.offers[due]))
            self.child.send(self.offers[due] + ENTER)  # a yes/no is a word and Enter
        for key in keys:
            self.child.send(key)

    def wait_for(self, text: str) -> None:
        self.child.expect_exact(text)

    def finish(self) -> tuple[int, str]:
        import pexpect

        self.child.expect_exact(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus), strip_ansi(self.transcript.getvalue())


JAILBREAK_PATH = [
    "confirm-injection",
    "capture",
    "page-security",
    "filter",
    "key-known",
    "attacker-key",
    "block-key",
    "still-leaking",
    "status-update",
    "eradicate",
    "done",
]
pty = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


@pytest.mark.pty
@pty
def test_the_seed_exercise_end_to_end_injects_on_the_facilitators_key(tmp_path: Path) -> None:
    """The shipped tabletop ("our primary LLM starts generating racist slurs: go") on the
    real clock: the 0m inject arrives by time, the facilitator brings the rest in early."""
    incidents, report = tmp_path / "incidents", tmp_path / "after-action.md"
    room = Exercise(
        [
            str(ROOT / "examples" / "tabletops" / "racist-output.yaml"),
            "--incident-dir",
            str(incidents),
            "--report",
            str(report),
        ],
        incidents,
        offers={"5m": "y", "15m": "n"},  # 30m is never offered: offers go in order
    )
    room.wait_for("Three customers sent screenshots of the assistant using a racist slur.")
    room.answer(
        r"What was observed, where, and since when\?", "slurs in support-bot replies", ENTER
    )
    room.answer(r"Which model group or AI system is affected\?", "support-bot", ENTER)
    room.answer(r"worst impact on support-bot right now\?" + SELECT, DOWN, ENTER)
    room.answer(r"Which description fits best\?" + SELECT, DOWN, DOWN, DOWN, DOWN, ENTER)
    room.answer(r"What does the evidence show the attacker doing\?" + SELECT, ENTER)
    room.answer(r"What does the evidence show\?" + SELECT, ENTER)
    room.answer(r"Engage lever 'emergency-filter'\?" + CONFIRM, "y" + ENTER)
    room.answer(r"single identifiable virtual key" + CONFIRM, "n" + ENTER)
    room.answer(r"what happens on replay\?" + SELECT, ENTER)
    room.answer(r"Eradicate the cause: tick what is done", SPACE, DOWN, SPACE, ENTER)
    status, screen = room.finish()

    assert status == 0, screen
    assert room.offered[0] == ("5m", "y")
    assert set(room.offered[1:]) == {("15m", "n")}  # before every question after that
    assert "INJECT 5m · scenario time T+00:00:00 — Social media team" in screen
    assert "Lever emergency-filter: verified: effective: verify probe passed" in screen
    assert f"After-action report: {report}" in screen
    text = report.read_text(encoding="utf-8")
    assert text.startswith(
        "# After-action report: Our primary LLM starts generating racist slurs: go\n"
    )
    assert re.search(r"^- Time to triage \(first decision\): T\+00:0\d:\d\d$", text, re.M)
    assert re.search(
        r"^- Time to containment \(first lever proven effective\): T\+00:0\d:\d\d$", text, re.M
    )
    assert "- Containment goal: within 20m (scenario time): met" in text
    injects_table = section(text, "Injects")
    assert injects_table[2].startswith("| 0m | T+00:00:00 | time | Support lead |")
    assert injects_table[3].startswith("| 5m | T+00:00:00 | facilitator | Social media team |")
    assert injects_table[4:] == [
        "| 15m | never | - | Legal | Legal asks whether any regulator must be told, and by when. |",
        "| 30m | never | - | CEO | The CEO wants a one-paragraph statement for the press in 10 minutes. |",
    ]
    decisions = section(text, "Decisions against the expected path")
    assert decisions[2:11] == [
        "| 1 | intake | intake | slurs in support-bot replies | ✓ |",
        "| 2 | affected-model | affected-model | support-bot | ✓ |",
        "| 3 | capture | capture |  | ✓ |",
        "| 4 | worst-impact | worst-impact | harm-at-scale | ✓ |",
        "| 5 | page | page |  | ✓ |",
        "| 6 | open-channel | open-channel |  | ✓ |",
        "| 7 | axis | axis | unknown | ✓ |",
        "| 8 | attack-kind | attack-kind | direct-injection | ✓ |",
        "| 9 | call-prompt-injection | call-prompt-injection |  | ✓ |",
    ]
    assert "| prompt-injection.confirm-injection | harmful-output |" in decisions
    assert "| prompt-injection.key-known | no |" in decisions
    assert section(text, "Missed steps") == [
        "- checklist `prompt-injection.eradicate`: not done: Add the captured prompts as regression canaries (aiir canary from-incident)",
        "- checklist `prompt-injection.eradicate`: not done: Check whether any harmful output was acted on downstream (tickets, emails, tools)",
    ]
    assert section(text, "Gaps") == ["- none found"]
    assert section(text, "Suggested action items")[-1] == (
        "- [ ] Schedule the blameless review within 5 business days"
    )
    incident = load_incident(incidents, only_incident(incidents))
    assert incident.drill
    assert incident.outcome == "contained"


@pytest.mark.pty
@pty
def test_an_inject_arrives_by_time_while_the_room_thinks_another_on_the_key(
    tmp_path: Path,
) -> None:
    """At 600x a scenario's T+10m inject shows up about a second in, while a question is open;
    the T+600m one (a minute away) comes only because the facilitator presses y."""
    scenario = tmp_path / "clock.yaml"
    write(
        scenario,
        {
            "aiir": 1,
            "scenario": "tabletop-fast-clock",
            "title": "A jailbreak on a fast clock",
            "runbook": "prompt-injection",
            "faults": [{"fault": "output", "model": "support-bot", "value": "jailbreak"}],
            "injects": [
                {"at": "0m", "from": "Support lead", "text": "Screenshots of a jailbreak."},
                {"at": "10m", "from": "Social media team", "text": "The screenshot is trending."},
                {"at": "600m", "from": "CEO", "text": "The CEO wants a statement."},
            ],
            "expect": {"path": JAILBREAK_PATH, "containment_within": "600m"},
        },
    )
    incidents, report = tmp_path / "incidents", tmp_path / "after-action.md"
    room = Exercise(
        [
            str(scenario),
            "--speed",
            "600",
            "--incident-dir",
            str(incidents),
            "--report",
            str(report),
        ],
        incidents,
        offers={"10m": "n", "600m": "y"},
    )
    room.wait_for("INJECT 10m · scenario time T+00:1")  # by time, at about one real second
    room.answer(r"What does the evidence show\?" + SELECT, DOWN, DOWN, ENTER)
    room.answer(r"Engage lever 'emergency-filter'\?" + CONFIRM, "y" + ENTER)
    room.answer(r"single identifiable virtual key" + CONFIRM, "y" + ENTER)
    room.answer(r"Virtual key or key hash to block", "sk-attacker-tabletop-0001", ENTER)
    room.answer(r"Engage lever 'block-attacker-key'\?" + CONFIRM, "y" + ENTER)
    room.answer(r"what happens on replay\?" + SELECT, ENTER)
    room.answer(r"Eradicate the cause: tick what is done", "a", ENTER)
    status, screen = room.finish()

    assert status == 0, screen
    assert ("600m", "y") in room.offered
    assert "INJECT 600m · scenario time" in screen
    text = report.read_text(encoding="utf-8")
    rows = section(text, "Injects")[2:]
    assert rows[0] == "| 0m | T+00:00:00 | time | Support lead | Screenshots of a jailbreak. |"
    assert re.fullmatch(r"\| 10m \| T\+00:1\d:\d\d \| time \| Social media team \| .+ \|", rows[1])
    assert re.fullmatch(r"\| 600m \| T\+0\d:\d\d:\d\d \| facilitator \| CEO \| .+ \|", rows[2])
    assert "- Clock: 600× (scenario time runs 600 times real time)" in text
    assert re.search(
        r"^- Time to triage \(first decision\): T\+00:00:\d\d real, T\+\d\d:\d\d:\d\d scenario time$",
        text,
        re.M,
    )
    decisions = section(text, "Decisions against the expected path")
    assert decisions[2:4] == [
        "| 1 | confirm-injection | confirm-injection | contained-jailbreak | ✓ |",
        "| 2 | capture | capture |  | ✓ |",
    ]
    assert "| 6 | attacker-key | attacker-key | sk-attacker-tabletop-0001 | ✓ |" in decisions
    assert all(row.endswith("✓ |") for row in decisions[2:])
    assert section(text, "Missed steps") == ["- none"]
    incident = load_incident(incidents, only_incident(incidents))
    assert [r.lever for r in incident.levers if r.state == "verified"] == [
        "emergency-filter",
        "block-attacker-key",
    ]


def test_without_a_terminal_the_tabletop_refuses_and_names_the_unattended_way(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from aiir.cli import main

    scenario = ROOT / "examples" / "tabletops" / "racist-output.yaml"
    assert main(["tabletop", str(scenario), "--incident-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "aiir: a tabletop needs a terminal: the room answers the runbook's questions "
        f"(to walk {scenario} unattended, give it answers and run: aiir drill {scenario})\n"
    )
    assert list(tmp_path.iterdir()) == []


TYPO_RUNBOOK: dict[str, Any] = {
    "aiir": 1,
    "id": "ticketed",
    "title": "A ticket first",
    "owner": "security",
    "severity": "SEV3",
    "start": "ticket",
    "nodes": {
        "ticket": {
            "kind": "input",
            "title": "The ticket",
            "prompt": "Ticket number",
            "pattern": "^INC-[0-9]{4}$",
            "hint": "a ticket such as INC-1234",
            "next": "done",
        },
        "done": {
            "kind": "end",
            "title": "Nothing to contain",
            "outcome": "false-positive",
            "summary": "Filed under {{ answers.ticket }}.",
        },
    },
}


@pytest.mark.pty
@pty
def test_a_typo_at_a_patterned_input_is_asked_again_in_a_tabletop(tmp_path: Path) -> None:
    """The room's prompter is wrapped by the tabletop's; a typo is still caught at the keyboard
    and asked again on the spot, and the walk goes on (it used to end in an InputError)."""
    write(tmp_path / "ticketed.yaml", TYPO_RUNBOOK)
    scenario = tmp_path / "typo.yaml"
    write(
        scenario,
        {
            "aiir": 1,
            "scenario": "typo-at-an-input",
            "title": "A typo at an input",
            "runbook": "ticketed.yaml",
            "injects": [{"at": "0m", "from": "Support lead", "text": "A customer called."}],
        },
    )
    incidents, report = tmp_path / "incidents", tmp_path / "after-action.md"
    room = Exercise(
        [str(scenario), "--incident-dir", str(incidents), "--report", str(report)], incidents, {}
    )
    room.answer(r"Ticket number", "INC-12x4", ENTER)
    room.wait_for("expected a ticket such as INC-1234")
    for _ in "INC-12x4":
        room.child.send(BACKSPACE)
    room.child.send("INC-1234" + ENTER)
    status, screen = room.finish()

    assert status == 0, screen
    assert "InputError" not in screen
    assert "not recorded" not in screen
    assert "Filed under INC-1234." in screen
    incident = load_incident(incidents, only_incident(incidents))
    assert incident.outcome == "false-positive"
    answers = [e.data for e in incident.events if e.type == "answer"]
    assert [a["value"] for a in answers] == ["INC-1234"]


def test_a_tabletop_stops_at_a_loops_bound(tmp_path: Path) -> None:
    from tests.engine.test_loops import looping

    write(tmp_path / "secure-loop.yaml", looping(max_visits=3))
    scenario = {
        "aiir": 1,
        "scenario": "never-secured",
        "title": "The room never secures it",
        "runbook": "secure-loop.yaml",
        "injects": [{"at": "0m", "text": "Still under attack."}],
    }
    write(tmp_path / "tabletop.yaml", scenario)
    clock = FakeClock(T0)
    room = Room({"secured": False, "mitigate": "all"}, clock)
    console = Console(file=io.StringIO(), width=120, highlight=False)
    env = default_environment(console, room, tmp_path / "incidents", clock=clock, operator="fac")
    result, _, _ = run_tabletop(prepare(tmp_path / "tabletop.yaml"), env)
    assert result.incident.outcome == "failed"
    assert result.incident.summary == "node 'secured' reached its limit of 3 visits"
    assert room.asked.count("secured") == 3
    assert "secured.at_limit" not in room.asked


def test_an_answer_in_the_after_action_report_has_no_markdown_of_its_own() -> None:
    """The room's answers (a pasted model output, say) went into the report's tables with only
    '|' escaped: a script tag, a link to click and an image fetched when the report is read."""
    from aiir.exercises.after_action import _cell

    pasted = "dep-1 <img src=x onerror=alert(1)>\n[click](https://evil.example) | ![](https://e/x)"
    assert _cell(pasted) == (
        "dep-1 \\<img src=x onerror=alert(1)\\> \\[click\\](https://evil.example) \\| "
        "!\\[\\](https://e/x)"
    )
    assert _cell("dep-support-bot-1") == "dep-support-bot-1"


@pytest.mark.parametrize("speed", ["inf", "1e300", "10001"])
def test_a_clock_speed_past_any_span_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], speed: str
) -> None:
    """--speed inf was taken: the scenario clock (real time * speed) overflowed a time span on
    the first look at it, an internal error in the middle of the exercise."""
    from tests.support.cli import run_cli

    scenario = tmp_path / "tabletop.yaml"
    write(scenario, SCENARIO)
    if speed != "10001":  # (the bound: no overflow yet)
        clock = FakeClock(T0)
        board, _ = board_on(clock, speed=float(speed))
        board.started = T0
        clock.advance(seconds=1)
        with pytest.raises(OverflowError):
            board.elapsed()
    ran = run_cli(capsys, "tabletop", str(scenario), "--speed", speed)
    assert ran.status == 2
    assert "Invalid value for '--speed'" in ran.err
    assert len(ran.err.strip().splitlines()) == 1


def test_an_inject_quoting_a_secret_is_masked_on_the_facilitators_screen() -> None:
    """The journal masked a secret an inject's text or sender quoted (a scenario pasted from a
    real incident's chat), but the panel the room reads showed it as it was."""
    from aiir import redact

    secret = 'sk-live-Tabletop\\"Key-8812'
    redact.declare([secret])
    try:
        clock = FakeClock(T0)
        screen = io.StringIO()
        console = Console(file=screen, width=200, highlight=False)
        board = InjectBoard(
            injects(
                (
                    "0m",
                    f"ops {secret}",
                    f"The key {secret} is in the ticket; sk-attacker-demo-0001 sent it.",
                )
            ),
            clock,
            console,
            [],
            1.0,
        )
        board.deliver("facilitator")
    finally:
        redact.forget()
    shown = screen.getvalue()
    assert "The key *** is in the ticket;" in shown, shown
    assert "Tabletop" not in shown, shown
    assert "sk-attacker-demo-0001 sent it" in shown, shown  # the room must see what to block
