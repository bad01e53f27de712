"""Reading long incidents: a polling runbook's journal of ~1,300 events, walked for real against
the loopback gateway, then shown, verified, listed and resumed. (How fast: bench/reading.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.incident.events import EventType
from aiir.incident.journal import GENESIS, JOURNAL, Event, verify
from aiir.incident.state import Incident, load_incident
from aiir.respond.session import resume, start
from tests.incidents import copy_incident, environment, write_runbook
from tests.servers import Fault, Gateway, serve_gateway

LOOPS = 215  # six events a loop: ~1,300 events, well over the 100 a timeline shows
STOP_AT = 400  # node entries before the operator presses Ctrl-C (the resume test)


def polling_runbook() -> dict[str, Any]:
    """Ask the gateway until it stops saying ``pending`` (it then has no such route: done)."""
    request = {"method": "GET", "path": "/status", "save": {"state": "state"}}
    return {
        "aiir": 1,
        "id": "poll",
        "title": "Wait for the filter",
        "owner": "security",
        "severity": "SEV3",
        "gateways": {"gw": {"profile": "http", "url": "http://gateway.invalid"}},
        "start": "poll",
        "nodes": {
            "poll": {
                "kind": "action",
                "title": "Ask the gateway",
                "max_visits": 1000,  # the loop's bound: a long journal is the point here
                "request": request,
                "next": "check",
                "on_failure": "done",
            },
            "check": {
                "kind": "branch",
                "title": "Still pending?",
                "max_visits": 1000,
                "cases": [{"when": "vars.state == 'pending'", "next": "poll"}],
                "default": "done",
            },
            "done": {"kind": "end", "title": "Filter live", "outcome": "resolved"},
        },
    }


def pending(times: int) -> Gateway:
    return Gateway(faults=[Fault("/status", 200, b'{"state": "pending"}', times=times)])


class Stop:
    """An observer that presses Ctrl-C at the ``at``-th node entered."""

    def __init__(self, at: int) -> None:
        self.at, self.seen = at, 0

    def __call__(self, runbook: str, node: str) -> None:
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def long_incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One long incident, walked once for the module; tests work on copies."""
    root = tmp_path_factory.mktemp("long")
    runbook = write_runbook(root, polling_runbook())
    with serve_gateway(pending(LOOPS)) as (url, _), environment(root / "incidents", url) as env:
        result = start(runbook, env)
    assert result.ended is not None
    return result.incident.directory


@pytest.fixture
def copy(long_incident: Path, tmp_path: Path) -> Path:
    target = tmp_path / "incidents" / long_incident.name
    shutil.copytree(long_incident, target)
    return target


def aiir(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def events_of(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (directory / JOURNAL).read_text().splitlines()]


def timeline_rows(out: str) -> list[str]:
    """The timeline's event lines: each starts with its time (HH:MM:SS.mmm)."""
    return [line for line in out.splitlines() if line[2:3] == ":" and line[8:9] == "."]


def test_a_long_timeline_shows_its_last_100_events_and_says_how_to_see_all(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = len(events_of(copy))
    assert total > 1000
    status, out, _ = aiir(capsys, "show", copy.name, "--incident-dir", str(copy.parent))
    assert status == 0
    assert f"Timeline (UTC), {total:,} events, the last 100" in out
    assert (f"... {total - 100:,} earlier events not shown (aiir show {copy.name} --all)") in out
    rows = timeline_rows(out)
    assert len(rows) == 100
    assert "incident.ended" in rows[-1]
    assert "incident.opened" not in out


def test_all_shows_every_event_in_order(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = events_of(copy)
    status, out, _ = aiir(capsys, "show", copy.name, "--all", "--incident-dir", str(copy.parent))
    assert status == 0
    rows = timeline_rows(out)
    assert [row.split()[1] for row in rows] == [e["type"] for e in journal]
    assert "not shown" not in out


def test_the_timeline_keeps_to_80_columns(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = aiir(capsys, "show", copy.name, "--incident-dir", str(copy.parent))
    assert status == 0
    assert max(len(line) for line in out.splitlines()) <= 80  # the tests' console is 80 wide


def test_show_json_says_how_many_events_it_left_out(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = len(events_of(copy))
    _, out, _ = aiir(capsys, "show", copy.name, "--json", "--incident-dir", str(copy.parent))
    data = json.loads(out)
    assert (data["events"], len(data["timeline"]), data["timeline_omitted"]) == (
        total,
        100,
        total - 100,
    )
    _, out, _ = aiir(
        capsys, "show", copy.name, "--json", "--all", "--incident-dir", str(copy.parent)
    )
    data = json.loads(out)
    assert (len(data["timeline"]), data["timeline_omitted"]) == (total, 0)


def tamper(directory: Path, seq: int) -> None:
    """Edit line ``seq`` of the journal in place (its hash no longer matches)."""
    path = directory / JOURNAL
    lines = path.read_bytes().splitlines(keepends=True)
    assert b'"node":"poll"' in lines[seq - 1]
    lines[seq - 1] = lines[seq - 1].replace(b'"node":"poll"', b'"node":"p0ll"')
    path.write_bytes(b"".join(lines))


def test_verify_names_the_one_edited_line_of_a_long_journal(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = next(e["seq"] for e in events_of(copy)[1000:] if e["data"].get("node") == "poll")
    tamper(copy, seq)
    assert verify(copy) == [f"line {seq}: content does not match its hash (the line was edited)"]
    status, _, err = aiir(capsys, "verify", copy.name, "--incident-dir", str(copy.parent))
    assert status == 1
    assert f"line {seq}: content does not match its hash" in err
    assert err.endswith(f"{copy.name}: TAMPERED or damaged (1 problem(s))\n")


def test_show_refuses_a_tampered_long_journal_unless_forced(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = next(e["seq"] for e in events_of(copy)[900:] if e["data"].get("node") == "poll")
    tamper(copy, seq)
    status, out, err = aiir(capsys, "show", copy.name, "--incident-dir", str(copy.parent))
    assert status == 1
    assert out == ""
    assert f"line {seq}: content does not match its hash" in err
    status, out, _ = aiir(
        capsys, "show", copy.name, "--force", "--all", "--incident-dir", str(copy.parent)
    )
    assert status == 0
    assert out.startswith(f"UNVERIFIED: this journal does not verify (line {seq}: ")


def test_incidents_lists_a_tampered_long_journal_as_tampered(
    copy: Path, long_incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intact = copy_incident(long_incident, copy.parent / "INC-00000000-000000-0000")
    seq = next(e["seq"] for e in events_of(copy)[1100:] if e["data"].get("node") == "poll")
    tamper(copy, seq)
    status, out, _ = aiir(capsys, "incidents", "--incident-dir", str(copy.parent))
    assert status == 0
    rows = out.splitlines()
    at = next(n for n, line in enumerate(rows) if line.startswith(copy.name))
    assert f"TAMPERED (aiir verify {copy.name})" in " ".join(" ".join(rows[at : at + 2]).split())
    assert max(len(line) for line in rows) <= 80
    (fine,) = [line for line in rows if line.startswith(intact.name)]
    assert fine.split()[-1] == "resolved"
    _, out, _ = aiir(capsys, "incidents", "--json", "--incident-dir", str(copy.parent))
    states = {i["id"]: (i["state"], i["verified"]) for i in json.loads(out)}
    assert states == {copy.name: ("TAMPERED", False), intact.name: ("ended", True)}


def test_a_long_journal_resumes_where_it_stopped_sending_nothing_twice(tmp_path: Path) -> None:
    runbook = write_runbook(tmp_path, polling_runbook())
    gateway = pending(LOOPS)
    with serve_gateway(gateway) as (url, state), environment(tmp_path / "incidents", url) as env:
        env.observers.append(Stop(STOP_AT))
        stopped = start(runbook, env)
        assert stopped.ended is None
        asked = state.count("GET", "/status")
        assert asked == STOP_AT // 2
        env.observers.clear()
        result = resume(stopped.incident.id, env)
    assert result.ended is not None
    assert result.ended.outcome == "resolved"
    assert state.count("GET", "/status") == LOOPS + 1  # each loop asked once, then "done"
    incident = load_incident(tmp_path / "incidents", stopped.incident.id)
    assert verify(incident.directory) == []
    types = [e.type for e in incident.events]
    assert types.count("action.intent") == LOOPS + 1
    assert types.count("incident.resumed") == 1
    assert types[-1] == "incident.ended"
    assert result.incident.events == []  # the resumed walk kept no event in memory
    assert result.incident.head == incident.events[-1]


def event(seq: int, type_: str, ts: str, **data: Any) -> Event:
    return Event(seq, ts, type_, "t", None, data, GENESIS, GENESIS)


def test_the_status_cadence_is_folded_from_the_journal_not_searched() -> None:
    incident = Incident.from_events(
        "INC-1",
        Path("."),
        [
            event(1, EventType.INCIDENT_OPENED, "2026-11-27T03:00:00.000Z", severity="SEV1"),
            event(2, EventType.NOTIFY_SENT, "2026-11-27T03:04:00.000Z", channel="slack", ok=True),
            event(3, EventType.NOTIFY_SENT, "2026-11-27T03:09:00.000Z", channel="teams", ok=False),
            event(
                4, EventType.NOTIFY_SENT, "2026-11-27T03:10:00.000Z", channel="pagerduty", ok=True
            ),
            event(
                5, EventType.REMINDER, "2026-11-27T03:30:00.000Z", due="2026-11-27T03:24:00.000Z"
            ),
        ],
    )
    assert incident.status_posted_at == "2026-11-27T03:04:00.000Z"  # a page is no status update
    assert incident.reminded_due == "2026-11-27T03:24:00.000Z"
    assert (incident.count, incident.head and incident.head.seq) == (5, 5)
