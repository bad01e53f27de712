"""Timers and SLAs: a runbook's deadlines (``timers:``, a node's ``within:``) shown, journalled
once when missed, met when their node is done, measured by drills and listed by ``aiir show``
and the post-mortem; the status-update cadence from the runbook or the workspace."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from aiir.environment import Environment
from aiir.errors import AiirError, LoadError
from aiir.exercises.tabletop import default_environment, run_tabletop
from aiir.formats import workspace as ws
from aiir.incident.events import EventType, data_problem
from aiir.incident.state import Incident, read_incident
from aiir.respond.session import resume, start
from aiir.validate.scenarios import prepare
from tests.exercises.test_tabletop import EXAMPLE_ROOMS, T0, Room, section
from tests.helpers import write
from tests.receiver import serve_receiver
from tests.support.cli import run_cli
from tests.support.clock import START, FakeClock
from tests.support.environment import fake_environment, screen

REPO = Path(__file__).resolve().parents[2]

TIMED: dict[str, Any] = {
    "aiir": 1,
    "id": "timed",
    "title": "A major incident against the clock",
    "owner": "security",
    "severity": "SEV1",
    "start": "ack",
    "timers": [
        {"name": "acknowledge", "within": "15m", "from": "start", "until": "ack"},
        {"name": "contain", "within": "10m", "from": "ack", "until": "contain"},
        {"name": "minor-only", "within": "1m", "severity": ["SEV4"]},
        {"name": "resolve", "within": "2h"},
    ],
    "nodes": {
        "ack": {
            "kind": "confirm",
            "title": "Acknowledge the page",
            "prompt": "Acknowledged?",
            "yes": "contain",
            "no": "done",
        },
        "contain": {
            "kind": "checklist",
            "title": "Contain",
            "items": [{"id": "a", "text": "Contain it"}],
            "next": "timeline",
        },
        "timeline": {
            "kind": "checklist",
            "title": "Write the timeline",
            "within": "1h",
            "items": [{"id": "b", "text": "Timeline written"}],
            "next": "check",
        },
        "check": {
            "kind": "confirm",
            "title": "Check",
            "prompt": "Fixed?",
            "yes": "done",
            "no": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}
ANSWERS = {"ack": True, "contain": "all", "timeline": "all", "check": True}


def at(minutes: float) -> str:
    moment = START + dt.timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def walk(
    tmp_path: Path, minutes: dict[str, float], runbook: dict[str, Any] = TIMED, **more: Any
) -> tuple[Incident, Environment]:
    """Walk ``runbook``; the clock moves ``minutes`` as each node is entered (its work is done
    that much later than its entry)."""
    write(tmp_path / "timed.yaml", runbook)
    clock = FakeClock(START)
    env = fake_environment(
        tmp_path / "incidents", clock=clock, observers=[clock.ticking(0, at=minutes)], **more
    )
    result = start(tmp_path / "timed.yaml", env, scripted=ANSWERS)
    assert result.ended is not None
    return result.incident, env


def where(tmp_path: Path) -> tuple[str, str]:
    return ("--incident-dir", str(tmp_path / "incidents"))


def verdicts(incident: Incident) -> list[tuple[str, str, str, str]]:
    kinds: dict[str, str] = {EventType.TIMER_MET: "met", EventType.TIMER_MISSED: "missed"}
    return [
        (e.ts, kinds[e.type], e.data["timer"], e.data["due"])
        for e in incident.history()
        if e.type in kinds
    ]


def test_a_walk_misses_one_deadline_journalled_once_and_meets_the_others(tmp_path: Path) -> None:
    # ack done at T+4 (due T+15); contain entered at T+4, done at T+16 (due 10 min after ack's
    # entry, T+10): missed, journalled once though three more nodes follow; the timeline node's
    # own deadline (1 h from the start) met at T+16; the walk's end met within 2 h.
    incident, env = walk(tmp_path, {"ack": 4, "contain": 12})
    assert verdicts(incident) == [
        (at(4), "met", "acknowledge", at(15)),
        (at(16), "missed", "contain", at(10)),
        (at(16), "met", "timeline", at(60)),
        (at(16), "met", "resolve", at(120)),
    ]
    shown = screen(env)
    assert (
        "timers: acknowledge 11m left · contain 6m left · resolve 1h 56m left · timeline 56m left"
        in shown
    )
    assert "timer 'acknowledge' met (ack done within 15m of the start)" in shown
    assert "⏰ timer 'contain' missed: contain done within 10m of entering ack (due 03:25 UTC)" in (
        shown
    )
    assert shown.count("timer 'contain' missed") == 1
    assert "timers: resolve 1h 44m left · timeline 44m left" in shown
    assert "minor-only" not in shown  # a SEV4 timer does not run in a SEV1 incident


def test_a_timer_from_a_node_waits_for_that_node(tmp_path: Path) -> None:
    runbook = {
        **TIMED,
        "timers": [{"name": "contain", "within": "10m", "from": "contain", "until": "check"}],
    }
    incident, env = walk(tmp_path, {"ack": 30, "contain": 3}, runbook)
    shown = screen(env)
    assert "timers: contain 7m left" in shown  # started at contain's entry (T+30), shown at T+33
    assert verdicts(incident) == [
        (at(33), "met", "timeline", at(60)),
        (at(33), "met", "contain", at(40)),
    ]


def test_a_resumed_walk_journals_a_missed_deadline_only_once(tmp_path: Path) -> None:
    # The walk stops at "timeline" (no answer) after missing contain's deadline at T+16; the
    # resume, an hour later, replays the steps before it and misses the timeline's hour too.
    write(tmp_path / "timed.yaml", TIMED)
    clock = FakeClock(START)
    ticking = clock.ticking(0, at={"ack": 4, "contain": 12})
    env = fake_environment(tmp_path / "incidents", clock=clock, observers=[ticking])
    with pytest.raises(AiirError):
        start(
            tmp_path / "timed.yaml",
            env,
            scripted={k: v for k, v in ANSWERS.items() if k != "timeline"},
        )
    clock.advance(minutes=60)
    write(tmp_path / "answers.yaml", ANSWERS)
    resumed = resume(only(tmp_path), env, answers=tmp_path / "answers.yaml")
    assert resumed.incident.outcome == "resolved"
    # a resumed incident keeps no events (it streams its journal): read what was journalled
    journalled = read_incident(resumed.incident.directory, resumed.incident.id)
    assert verdicts(journalled) == [
        (at(4), "met", "acknowledge", at(15)),
        (at(16), "missed", "contain", at(10)),
        (at(76), "missed", "timeline", at(60)),
        (at(76), "met", "resolve", at(120)),
    ]


def test_show_and_the_post_mortem_list_each_timer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incident, env = walk(tmp_path, {"ack": 4, "contain": 12})
    shown = run_cli(capsys, "show", incident.id, *where(tmp_path), env=env)
    assert shown.status == 0
    out = screen(env)
    assert "Timers" in out
    for line in (
        "acknowledge",
        "met at T+00:04:00 (due T+00:15:00)",
        "missed (due T+00:10:00)",
        "not applicable",
    ):
        assert line in out
    report = run_cli(capsys, "report", incident.id, *where(tmp_path), env=env)
    assert report.status == 0
    text = report.out or screen(env)
    assert "| contain | 10m from ack until contain done | missed (due T+00:10:00) |" in text
    assert "| resolve | 2h from start | met at T+00:16:00 (due T+02:00:00) |" in text


def test_a_timer_event_without_its_deadline_is_not_an_aiir_event() -> None:
    good = {"runbook": "timed", "timer": "ack", "within": "15m", "due": at(15)}
    assert data_problem(EventType.TIMER_MISSED, good) is None
    assert data_problem(EventType.TIMER_MET, {**good, "due": "soon"}) == (
        "timer.met data.due is 'soon', not an ISO-8601 time"
    )
    missing = {k: v for k, v in good.items() if k != "due"}
    assert data_problem(EventType.TIMER_MISSED, missing) == "timer.missed without data.due"


def test_show_says_open_for_a_deadline_still_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The walk stops at "check" (no answer for it): the incident stays open.
    write(tmp_path / "timed.yaml", TIMED)
    clock = FakeClock(START)
    env = fake_environment(tmp_path / "incidents", clock=clock, observers=[clock.ticking(1)])
    with pytest.raises(AiirError):
        start(
            tmp_path / "timed.yaml",
            env,
            scripted={k: v for k, v in ANSWERS.items() if k != "check"},
        )
    clock.advance(minutes=30)  # at T+34 the two hours to the end still run
    data = json.loads(
        run_cli(capsys, "show", only(tmp_path), "--json", *where(tmp_path), env=env).out
    )
    states = {t["timer"]: (t["state"], t["text"]) for t in data["timers"]}
    assert states == {
        "acknowledge": ("met", "met at T+00:01:00 (due T+00:15:00)"),
        "contain": ("met", "met at T+00:02:00 (due T+00:10:00)"),
        "minor-only": ("not applicable", "not applicable"),
        "resolve": ("open", "open (due T+02:00:00)"),
        "timeline": ("met", "met at T+00:03:00 (due T+01:00:00)"),
    }


def only(tmp_path: Path) -> str:
    return next((tmp_path / "incidents").iterdir()).name


# --- the status-update cadence ---------------------------------------------------------------

CADENCE = {
    **TIMED,
    "timers": [],
    "nodes": {
        **TIMED["nodes"],
        "contain": {**TIMED["nodes"]["contain"], "next": "post"},
        "post": {
            "kind": "notify",
            "title": "Post an update",
            "channel": "slack",
            "message": "We are on it.",
            "next": "timeline",
        },
    },
}


def reminders(incident: Incident) -> list[tuple[str, str]]:
    return [(e.ts, e.data["reason"]) for e in incident.events if e.type == EventType.REMINDER]


def cadence_walk(
    tmp_path: Path, minutes: dict[str, float], runbook: dict[str, Any], config: dict[str, Any]
) -> Incident:
    write(tmp_path / "w" / "aiir.yaml", {"aiir": 1, "workspace": "acme", **config})
    with serve_receiver() as receiver:
        incident, _ = walk(
            tmp_path,
            minutes,
            runbook,
            environ={"CADENCE_SLACK": f"{receiver.url}/services/cadence"},
            workspace=ws.load(tmp_path / "w" / "aiir.yaml"),
        )
    return incident


SLACK = {"channels": {"slack": {"webhook_env": "CADENCE_SLACK"}}}


def test_without_a_stated_cadence_the_first_update_is_due_at_5_min(tmp_path: Path) -> None:
    incident = cadence_walk(tmp_path, {"ack": 6, "timeline": 21}, CADENCE, SLACK)
    assert reminders(incident) == [
        (at(6), "first status update due within 5 min"),
        (at(27), "next status update due (every 20 min)"),
    ]


def test_the_runbook_states_its_status_cadence(tmp_path: Path) -> None:
    runbook = {**CADENCE, "status_updates": {"every": "30m", "first_within": "10m"}}
    # T+6: nothing due yet (first within 10 min); posted at T+11 after a reminder at T+11;
    # T+32: not yet 30 min since the post; T+42: overdue since T+41.
    incident = cadence_walk(tmp_path, {"ack": 11, "timeline": 21, "check": 10}, runbook, SLACK)
    assert reminders(incident) == [
        (at(11), "first status update due within 10 min"),
        (at(42), "next status update due (every 30 min)"),
    ]


def test_the_workspace_states_the_cadence_and_the_runbook_wins(tmp_path: Path) -> None:
    config = {**SLACK, "status_updates": {"every": "1h", "first_within": "2m"}}
    incident = cadence_walk(tmp_path / "a", {"ack": 3, "timeline": 50}, CADENCE, config)
    assert reminders(incident) == [(at(3), "first status update due within 2 min")]
    runbook = {**CADENCE, "status_updates": {"every": "15m", "first_within": "30m"}}
    incident = cadence_walk(tmp_path / "b", {"ack": 3, "timeline": 50}, runbook, config)
    assert reminders(incident) == [(at(53), "next status update due (every 15 min)")]


def test_a_cadence_can_cover_other_severities(tmp_path: Path) -> None:
    runbook = {
        **CADENCE,
        "severity": "SEV3",
        "status_updates": {"every": "1h", "first_within": "5m", "severity": ["SEV3"]},
    }
    incident = cadence_walk(tmp_path, {"ack": 6}, runbook, SLACK)
    assert reminders(incident) == [(at(6), "first status update due within 5 min")]


# --- validation ------------------------------------------------------------------------------


def lines_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("change", "needle", "message"),
    [
        (
            {"timers": [{"name": "ack", "within": "15 minutes"}]},
            "15 minutes",
            "must be a duration such as 30s, 15m, 2h or 1d",
        ),
        (
            {"timers": [{"name": "ack", "within": "15m", "from": "acq"}]},
            "from: acq",
            "'acq' names no node (did you mean 'ack'?)",
        ),
        (
            {"timers": [{"name": "ack", "within": "15m", "until": "contian"}]},
            "until: contian",
            "'contian' names no node (did you mean 'contain'?)",
        ),
        (
            {"timers": [{"name": "timeline", "within": "15m"}]},
            "name: timeline",
            "another timer (or a node's within:) is already named 'timeline'",
        ),
        (
            {"timers": [{"name": "ack", "within": "0m"}]},
            "within: 0m",
            "a deadline of 0 is always missed",
        ),
        (
            {"status_updates": {"every": "half an hour"}},
            "half an hour",
            "must be a duration such as 30s, 15m, 2h or 1d",
        ),
    ],
)
def test_a_bad_timer_is_one_line_with_its_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, Any],
    needle: str,
    message: str,
) -> None:
    text = write(tmp_path / "timed.yaml", {**TIMED, **change})
    ran = run_cli(capsys, "validate", str(tmp_path / "timed.yaml"), env=fake_environment())
    assert ran.status == 2
    out = ran.out + ran.err
    assert f"timed.yaml:{lines_of(text, needle)}:" in out
    assert message in out
    assert "Traceback" not in out


# --- drills ----------------------------------------------------------------------------------


def scenario(
    tmp_path: Path,
    expect: dict[str, str],
    takes: dict[str, str],
    answers: dict[str, Any] = ANSWERS,
) -> Path:
    write(tmp_path / "timed.yaml", TIMED)
    path = tmp_path / "drill.yaml"
    write(
        path,
        {
            "aiir": 1,
            "scenario": "timed-drill",
            "title": "Against the clock",
            "runbook": "timed.yaml",
            "answers": answers,
            "takes": takes,
            "expect": {"outcome": "resolved", "timers": expect},
        },
    )
    return path


def drill(capsys: pytest.CaptureFixture[str], path: Path, tmp_path: Path) -> tuple[int, str]:
    env = fake_environment(tmp_path / "incidents")
    ran = run_cli(capsys, "drill", str(path), "--incident-dir", str(tmp_path / "i"), env=env)
    return ran.status, ran.out + ran.err + screen(env)


def test_a_drill_expects_a_missed_timer_on_the_drill_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(
        tmp_path, {"acknowledge": "met", "contain": "missed"}, {"contain": "20m", "check": "5m"}
    )
    status, out = drill(capsys, path, tmp_path)
    assert status == 0, out
    assert "1 passed, 0 failed" in out
    assert "⏱ timed-drill: acknowledge met at T+00:00:00 (due T+00:15:00); contain missed" in (out)


def test_a_drill_fails_when_a_timer_it_expects_met_is_missed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, {"contain": "met"}, {"contain": "20m"})
    status, out = drill(capsys, path, tmp_path)
    assert status == 1
    assert "timers: expected timer contain met, it was missed" in out


def test_a_drill_naming_an_unknown_timer_or_node_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, {"contian": "met"}, {})
    status, out = drill(capsys, path, tmp_path)
    assert status == 2
    assert "drill.yaml:" in out
    assert "has no timer 'contian'" in out
    path = scenario(tmp_path, {}, {"contian": "5m"})
    status, out = drill(capsys, path, tmp_path)
    assert status == 2
    assert "has no node 'contian'" in out


# --- tabletops -------------------------------------------------------------------------------


def test_a_tabletop_measures_the_runbooks_timers_on_the_rooms_clock(tmp_path: Path) -> None:
    # The room takes 6 minutes over each decision: the SEV1 page goes out at T+18 (due within
    # 15 minutes), the first post right after it (due within 5 minutes of the page).
    clock = FakeClock(T0)
    room = Room(EXAMPLE_ROOMS["racist-output"], clock, think=dt.timedelta(minutes=6))
    console = Console(file=io.StringIO(), width=120, highlight=False)
    env = default_environment(console, room, tmp_path / "incidents", clock=clock)
    prepared = prepare(REPO / "examples" / "tabletops" / "racist-output.yaml")
    _, written, _ = run_tabletop(prepared, env)
    assert section(written.read_text(encoding="utf-8"), "Timers") == [
        "- page-major missed (due T+00:15:00)",
        "- first-post met at T+00:18:00 (due T+00:23:00)",
    ]


def test_a_bad_cadence_in_aiir_yaml_names_its_line(tmp_path: Path) -> None:
    config = {"aiir": 1, "workspace": "acme", "status_updates": {"every": "half an hour"}}
    text = write(tmp_path / "aiir.yaml", config)
    with pytest.raises(LoadError) as caught:
        ws.load(tmp_path / "aiir.yaml")
    assert caught.value.line == lines_of(text, "half an hour")
    assert "must be a duration such as 30s, 15m, 2h or 1d" in str(caught.value)


def test_a_drill_says_when_the_walk_never_reached_a_timers_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, {"contain": "met"}, {}, answers={"ack": False})
    status, out = drill(capsys, path, tmp_path)
    assert status == 1
    assert (
        "timers: expected timer contain met, it was not reached "
        "(the walk ended before its deadline and its node)"
    ) in out
