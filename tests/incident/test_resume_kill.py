"""``aiir run`` killed with SIGKILL at every journal event and after every request, then resumed.

The gateway is a real loopback server living in the pytest process, so its call counts outlive
the killed ``aiir`` processes. The kill is deterministic: the child process patches
``Journal.append`` (or ``Sender.send``) to SIGKILL itself right after the Nth call, then runs the
real CLI. Each run is a fresh child of a fork server that has imported aiir once
(:mod:`tests.forkserver`): a real process, a real SIGKILL, without a second of imports each time. After each kill, a plain ``aiir resume`` must finish the incident with every
lever engaged exactly once and every journal line still chained.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.incident.journal import JOURNAL, verify
from aiir.incident.lock import IncidentLock
from aiir.incident.state import Incident, load_incident
from aiir.respond.session import start
from tests.forkserver import ForkServer
from tests.incidents import (
    ANSWERS,
    MASTER_KEY,
    RecordingPrompter,
    containment_runbook,
    environment,
    fault_runbook,
    write_answers,
    write_runbook,
)
from tests.servers import Gateway, serve_gateway

LEVER_PATHS = ("/guardrails", "/key/block", "/fallback")


@dataclass(frozen=True)
class Reference:
    """An uninterrupted walk: its journal events and its requests, in order."""

    events: list[str]
    calls: list[tuple[str, str]]


def reference_walk(runbook: dict[str, Any], answers: dict[str, Any]) -> Reference:
    """Walk ``runbook`` in process, uninterrupted: the kill points are counted from it."""
    with tempfile.TemporaryDirectory() as tmp, serve_gateway() as (url, state):
        path = write_runbook(Path(tmp), runbook)
        with environment(Path(tmp) / "incidents", url, RecordingPrompter(answers)) as env:
            incident = start(path, env).incident
        return Reference([e.type for e in incident.events], [(m, p) for m, p, _, _ in state.calls])


REFERENCE = reference_walk(containment_runbook(), ANSWERS)
EVENTS = len(REFERENCE.events)  # kill points: after each journal line...
SENDS = len(REFERENCE.calls)  # ...and after each request
FILTER_INTENT = REFERENCE.events.index("lever.intent") + 1  # the first lever's intent line
FILTER_ENGAGE = REFERENCE.calls.index(("POST", "/guardrails")) + 1  # its reply holds an id

APPEND = "aiir.incident.journal.Journal.write"  # every line: append (typed) calls it
SEND = "aiir.outbound.sending.Sender.send"


def _environ(incidents: Path, operator: str | None = None) -> dict[str, str]:
    environ = {
        **os.environ,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "AIIR_INCIDENT_DIR": str(incidents),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }
    if operator is not None:
        environ["AIIR_OPERATOR"] = operator
    return environ


def aiir(
    args: list[str], incidents: Path, kill: tuple[str, int] | None = None
) -> subprocess.CompletedProcess[str]:
    """``aiir ARGS`` in a child process with no terminal; ``kill`` = (method, after Nth call)."""
    return _SERVERS[-1].run(args, _environ(incidents), cwd=incidents.parent, kill=kill)


_SERVERS: list[ForkServer] = []


@pytest.fixture(autouse=True, scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    """One pre-imported server for the module's runs; stopped with the module."""
    server = ForkServer(tmp_path_factory.mktemp("fork-server"))
    _SERVERS.append(server)
    yield server
    _SERVERS.remove(server)
    server.close()


def spawn(args: list[str], incidents: Path, operator: str) -> subprocess.Popen[str]:
    """``aiir ARGS`` started in a child process, not waited for."""
    return subprocess.Popen(
        [sys.executable, "-m", "aiir", *args],
        env=_environ(incidents, operator),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def only_incident(incidents: Path) -> str:
    (directory,) = incidents.iterdir()
    return directory.name


def engagements(gateway: Gateway) -> dict[str, int]:
    return {path: gateway.count("POST", path) for path in LEVER_PATHS}


def event_types(incident: Incident) -> Counter[str]:
    return Counter(e.type for e in incident.events)


def release_all(incident: Incident, monkeypatch: pytest.MonkeyPatch) -> int:
    """``aiir release INCIDENT --yes``, in process (the CLI reads the key from the environment)."""
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    return main(["release", incident.id, "--yes", "--incident-dir", str(incident.directory.parent)])


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    """A fresh fake gateway for each kill point."""
    with serve_gateway() as served:
        yield served


def kill_and_resume(
    tmp_path: Path,
    url: str,
    kill: tuple[str, int],
    runbook: dict[str, Any] | None = None,
    answers: dict[str, Any] | None = None,
    resume_kill: int | None = None,
) -> tuple[Incident, subprocess.CompletedProcess[str]]:
    """Run until killed, check the journal as it was left, resume (killed too: ``resume_kill``)."""
    path = write_runbook(tmp_path, runbook or containment_runbook())
    answers_file = write_answers(tmp_path, ANSWERS if answers is None else answers)
    incidents = tmp_path / "incidents"
    flags = ["--answers", str(answers_file), "--yes"]
    killed = aiir(["run", str(path), "--gateway", f"gw={url}", *flags], incidents, kill)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    incident_id = only_incident(incidents)
    assert verify(incidents / incident_id) == []  # SIGKILL never leaves half a line behind
    again = (APPEND, resume_kill) if resume_kill else None
    resumed = aiir(["resume", incident_id, *flags], incidents, again)
    return load_incident(incidents, incident_id), resumed


def assert_contained_once(incident: Incident, gateway: Gateway) -> None:
    assert engagements(gateway) == dict.fromkeys(LEVER_PATHS, 1)
    assert incident.outcome == "contained"
    assert [(r.lever, r.state) for r in incident.levers] == [
        ("filter", "verified"),
        ("block", "verified"),
        ("reroute", "verified"),
    ]
    types = event_types(incident)
    assert (types["lever.intent"], types["lever.engaged"], types["lever.verified"]) == (3, 3, 3)
    assert types["incident.ended"] == 1
    assert types["incident.interrupted"] == 0  # SIGKILL: nothing is written on the way out
    assert verify(incident.directory) == []


def assert_all_released(incident: Incident, gateway: Gateway, monkeypatch: Any) -> None:
    assert release_all(incident, monkeypatch) == 0
    assert (gateway.guardrails, gateway.blocked, gateway.fallbacks) == ({}, set(), {})


# --- the reference walk --------------------------------------------------------------------------


def test_the_reference_walk_engages_each_lever_once(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    path = write_runbook(tmp_path, containment_runbook())
    with environment(tmp_path / "incidents", url, RecordingPrompter(ANSWERS)) as env:
        incident = start(path, env).incident
    assert [e.type for e in incident.events] == REFERENCE.events
    assert [(m, p) for m, p, _, _ in state.calls] == REFERENCE.calls
    assert REFERENCE.calls[0] == ("GET", "/spend/logs")  # evidence first, then the levers
    assert_contained_once(incident, state)


# --- killed at every journal event ---------------------------------------------------------------


@pytest.mark.parametrize("nth", range(1, EVENTS + 1))
def test_killed_after_every_journal_event_resumes_engaging_each_lever_once(
    nth: int, tmp_path: Path, gateway: tuple[str, Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = gateway
    incident, resumed = kill_and_resume(tmp_path, url, (APPEND, nth))
    if nth == EVENTS:  # killed after its last line: the incident had already ended
        assert resumed.returncode == 2
        assert "already ended (contained); nothing to resume" in resumed.stderr
    else:
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert event_types(incident)["incident.resumed"] == 1
        assert "Outcome: contained" in resumed.stdout
    assert "Traceback" not in resumed.stdout + resumed.stderr
    assert_contained_once(incident, state)
    assert_all_released(incident, state, monkeypatch)


def test_a_lever_whose_intent_was_journalled_is_probed_before_it_is_engaged(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incident, resumed = kill_and_resume(tmp_path, url, (APPEND, FILTER_INTENT))
    assert resumed.returncode == 0, resumed.stderr
    calls = [(method, path) for method, path, _, _ in state.calls]
    assert calls[:4] == [
        ("GET", "/spend/logs"),  # the capture, before the kill
        ("POST", "/v1/chat/completions"),  # resumed: the verify probe says not engaged yet
        ("POST", "/guardrails"),  # so it is engaged, once
        ("POST", "/v1/chat/completions"),  # and verified
    ]
    assert_contained_once(incident, state)


@pytest.mark.parametrize("again", [1, 3])
def test_killed_again_while_resuming_still_engages_each_lever_once(
    again: int, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """The run dies after the first lever's intent; the resume dies too; a second resume ends it."""
    url, state = gateway
    _, first = kill_and_resume(tmp_path, url, (APPEND, FILTER_INTENT), resume_kill=again)
    assert first.returncode == -signal.SIGKILL
    incident_id = only_incident(tmp_path / "incidents")
    flags = ["--answers", str(tmp_path / "answers.yaml"), "--yes"]
    second = aiir(["resume", incident_id, *flags], tmp_path / "incidents")
    assert second.returncode == 0, second.stdout + second.stderr
    incident = load_incident(tmp_path / "incidents", incident_id)
    assert event_types(incident)["incident.resumed"] == 2
    assert_contained_once(incident, state)


# --- killed after every request, before its result is journalled ---------------------------------


@pytest.mark.parametrize("nth", range(1, SENDS + 1))
def test_killed_after_every_request_resumes_engaging_each_lever_once(
    nth: int, tmp_path: Path, gateway: tuple[str, Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = gateway
    incident, resumed = kill_and_resume(tmp_path, url, (SEND, nth))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Traceback" not in resumed.stdout + resumed.stderr
    assert_contained_once(incident, state)
    if nth != FILTER_ENGAGE:
        assert_all_released(incident, state, monkeypatch)


def test_a_lost_engage_reply_is_confirmed_by_its_probe_and_its_lost_values_are_named(
    tmp_path: Path, gateway: tuple[str, Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guardrail went up but its id died with the process: engaged once, released by hand."""
    url, state = gateway
    incident, resumed = kill_and_resume(tmp_path, url, (SEND, FILTER_ENGAGE))
    engaged = next(e for e in incident.events if e.type == "lever.engaged")
    assert engaged.data["confirmed_by_verify"] is True
    assert engaged.data["lost"] == ["guardrail_id"]
    assert "guardrail_id unknown" in " ".join(resumed.stdout.split())
    assert_contained_once(incident, state)

    assert release_all(incident, monkeypatch) == 1  # the others are released all the same
    assert (state.blocked, state.fallbacks) == (set(), {})
    assert len(state.guardrails) == 1
    after = load_incident(incident.directory.parent, incident.id)
    assert [(r.lever, r.state) for r in after.needs_release()] == [("filter", "verified")]
    failed = [e for e in after.events if e.type == "lever.released" and not e.data["ok"]]
    assert [e.data["lever"] for e in failed] == ["filter"]
    assert "could not be built" in failed[0].data["reply"]["reason"]


# --- requests nothing can check are never re-sent blindly ----------------------------------------


def _unprobed_lever() -> tuple[dict[str, Any], str, str]:
    runbook = containment_runbook()
    del runbook["levers"]["block"]["verify"]
    return runbook, "block", "/key/block"


def _action() -> tuple[dict[str, Any], str, str]:
    return fault_runbook(), "audit", "/key/block"


@pytest.mark.parametrize("make", [_unprobed_lever, _action], ids=["lever-without-verify", "action"])
@pytest.mark.parametrize(
    ("decision", "sends", "status", "outcome"),
    [(None, 1, 1, "failed"), ("skip", 1, 0, "contained"), ("retry", 2, 0, "contained")],
)
def test_a_request_that_may_have_gone_out_is_left_to_the_operator(
    make: Callable[[], tuple[dict[str, Any], str, str]],
    decision: str | None,
    sends: int,
    status: int,
    outcome: str,
    tmp_path: Path,
    gateway: tuple[str, Gateway],
) -> None:
    url, state = gateway
    runbook, node, path = make()
    answers = {k: v for k, v in ANSWERS.items() if k in runbook["nodes"]}
    nth = reference_walk(runbook, answers).calls.index(("POST", path)) + 1  # killed right after
    if decision is not None:
        answers[f"{node}.on_failure"] = decision
    incident, resumed = kill_and_resume(tmp_path, url, (SEND, nth), runbook, answers)
    if make is _unprobed_lever and decision == "retry":
        # Nothing can tell whether it took effect: "retry" is not offered, so never re-sent.
        assert resumed.returncode == 2, resumed.stdout + resumed.stderr
        assert "block.on_failure: 'retry' is not one of: skip, release, abort" in resumed.stderr
        assert state.count("POST", path) == 1
        assert [r.state for r in incident.levers if r.lever == node] == ["unknown"]
        return
    assert resumed.returncode == status, resumed.stdout + resumed.stderr
    assert state.count("POST", path) == sends
    assert incident.outcome == outcome
    shown = " ".join(resumed.stdout.split())
    assert "may have been sent, and nothing can check whether it took effect: not sent" in shown
    if decision is None:
        assert f"no terminal and no `{node}.on_failure` answer: aborting" in shown
    result = next(
        e
        for e in incident.events
        if e.type in {"lever.engaged", "action.result"} and e.data.get("node") == node
    )
    assert result.data["unknown"] is True
    if make is _unprobed_lever:  # "unknown" counts as engaged until released or engaged again
        states = {None: ["unknown"], "skip": ["unknown"]}
        assert [r.state for r in incident.levers if r.lever == node] == states[decision]
        assert node in [r.lever for r in incident.needs_release()]
    assert verify(incident.directory) == []


# --- one walker per incident ---------------------------------------------------------------------

RACERS = 8
PATIENCE = 240.0  # seconds: only a bound against a hang, never a measurement


def patient(runbook: dict[str, Any]) -> dict[str, Any]:
    """Every request waits up to 300 s for its reply: a walker held at the gateway's gate is
    still walking when it opens."""
    for lever in runbook["levers"].values():
        for part in ("engage", "verify", "release"):
            lever[part]["timeout"] = 300
    for item in runbook["nodes"]["capture"]["items"]:
        item["request"]["timeout"] = 300
    return runbook


def interrupted_at_the_first_lever(tmp_path: Path, url: str) -> tuple[Path, str, list[str]]:
    """An incident killed right after the first lever's intent: (incidents, id, resume flags)."""
    path = write_runbook(tmp_path, patient(containment_runbook()))
    flags = ["--answers", str(write_answers(tmp_path, ANSWERS)), "--yes"]
    incidents = tmp_path / "incidents"
    killed = aiir(
        ["run", str(path), "--gateway", f"gw={url}", *flags], incidents, (APPEND, FILTER_INTENT)
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    return incidents, only_incident(incidents), flags


def wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not done():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def holder_in(directory: Path) -> dict[str, Any] | None:
    raw = (directory / "lock").read_bytes() if (directory / "lock").exists() else b""
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def test_racing_resumes_one_walks_and_the_others_exit_2_naming_it(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents, incident_id, flags = interrupted_at_the_first_lever(tmp_path, url)
    state.gate.clear()  # whoever gets the incident is held at its first request...
    racers = [spawn(["resume", incident_id, *flags], incidents, "racer") for _ in range(RACERS)]
    try:  # ...until every other racer has given up on it
        wait_until(
            lambda: sum(r.poll() is not None for r in racers) >= RACERS - 1,
            f"{RACERS - 1} racers to exit",
        )
    finally:
        state.gate.set()
    outputs = [r.communicate(timeout=PATIENCE) for r in racers]

    assert sorted(r.returncode for r in racers) == [0] + [2] * (RACERS - 1), outputs
    (winner,) = [r for r in racers if r.returncode == 0]
    named = (
        f"aiir: incident {incident_id} is being walked by racer "
        f"(pid {winner.pid} on host {socket.gethostname()}) since "
    )
    for racer, (out, err) in zip(racers, outputs, strict=True):
        if racer is not winner:
            assert err.startswith(named), err
            assert err.endswith(": wait for it or stop it\n"), err
            assert err.count("\n") == 1, err
            assert out == ""
    incident = load_incident(incidents, incident_id)
    assert_contained_once(incident, state)  # each lever engaged once, one end, chain intact
    assert event_types(incident)["incident.resumed"] == 1
    assert (incidents / incident_id / "lock").read_bytes() == b""  # released cleanly


def test_a_walker_killed_holding_the_incident_is_taken_over(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents, incident_id, flags = interrupted_at_the_first_lever(tmp_path, url)
    directory = incidents / incident_id
    state.gate.clear()
    knocked = len(state.arrived)
    holder = spawn(["resume", incident_id, *flags], incidents, "first")
    try:  # it holds the incident and waits on the gateway: mid-walk
        wait_until(lambda: len(state.arrived) > knocked, "the walker to reach the gateway")
        assert (holder_in(directory) or {}).get("pid") == holder.pid
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=PATIENCE)
    finally:
        state.gate.set()
    assert holder.returncode == -signal.SIGKILL
    assert (holder_in(directory) or {}).get("pid") == holder.pid  # its name is left behind

    resumed = aiir(["resume", incident_id, *flags], incidents)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    shown = " ".join(resumed.stdout.split())
    assert f"took over the incident from first (pid {holder.pid} on host " in shown
    incident = load_incident(incidents, incident_id)
    resumes = [e for e in incident.events if e.type == "incident.resumed"]
    assert [e.data.get("took_over_from", {}).get("pid") for e in resumes][-1] == holder.pid
    assert_contained_once(incident, state)
    assert (directory / "lock").read_bytes() == b""


def test_a_release_after_a_walker_was_killed_takes_over_and_journals_it(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents, incident_id, flags = interrupted_at_the_first_lever(tmp_path, url)
    directory = incidents / incident_id
    state.gate.clear()
    knocked = len(state.arrived)
    holder = spawn(["resume", incident_id, *flags], incidents, "first")
    try:
        wait_until(lambda: len(state.arrived) > knocked, "the walker to reach the gateway")
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=PATIENCE)
    finally:
        state.gate.set()

    released = aiir(["release", incident_id, "--yes"], incidents)
    shown = " ".join(released.stdout.split())
    assert f"took over the incident from first (pid {holder.pid} on host " in shown, shown
    incident = load_incident(incidents, incident_id)
    (taken,) = [e for e in incident.events if e.type == "incident.taken_over"]
    assert taken.data["by"] == "release"
    assert taken.data["took_over_from"]["pid"] == holder.pid
    timeline = aiir(["show", incident_id], incidents)
    assert timeline.returncode == 0, timeline.stderr
    assert "taken over from first" in " ".join(timeline.stdout.split())
    assert (directory / "lock").read_bytes() == b""


@pytest.mark.parametrize("command", ["resume", "release"])
def test_an_incident_being_walked_is_refused_to_a_second_walker_and_left_as_it_was(
    command: str, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents, incident_id, flags = interrupted_at_the_first_lever(tmp_path, url)
    directory = incidents / incident_id
    before, calls = (directory / JOURNAL).read_bytes(), len(state.calls)
    args = [command, incident_id, *(flags if command == "resume" else ["--yes"])]
    since = "2026-11-27T03:15:00.000Z"
    with IncidentLock(directory, incident_id, "alice", since):
        refused = aiir(args, incidents)
    assert refused.returncode == 2
    assert refused.stderr == (
        f"aiir: incident {incident_id} is being walked by alice (pid {os.getpid()} on host "
        f"{socket.gethostname()}) since {since}: wait for it or stop it\n"
    )
    assert (directory / JOURNAL).read_bytes() == before  # nothing replayed, nothing written
    assert len(state.calls) == calls  # nothing sent


# --- killed in the middle of writing a line ------------------------------------------------------


@pytest.mark.parametrize("cut", [40, -1], ids=["cut-short", "all-but-its-end"])
def test_a_line_cut_short_by_the_kill_is_set_aside_and_the_incident_resumes(
    cut: int, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """SIGKILL during ``write(2)`` of a line longer than a page leaves its first pages only
    (the kernel stops a write between pages for a fatal signal). Here the guardrail went up and
    the process died writing ``lever.engaged``: the resume sets the bytes aside, says so,
    journals it, and settles the lever by its probe: engaged once."""
    url, state = gateway
    path = write_runbook(tmp_path, containment_runbook())
    flags = ["--answers", str(write_answers(tmp_path, ANSWERS)), "--yes"]
    incidents = tmp_path / "incidents"
    whole = aiir(["run", str(path), "--gateway", f"gw={url}", *flags], tmp_path / "whole")
    assert whole.returncode == 0
    (done,) = (tmp_path / "whole").iterdir()
    engaged_line = next(
        line
        for line in (done / JOURNAL).read_bytes().splitlines(keepends=True)
        if json.loads(line)["type"] == "lever.engaged"
    )
    state.calls.clear()
    state.guardrails.clear()
    state.blocked.clear()
    state.fallbacks.clear()
    killed = aiir(
        ["run", str(path), "--gateway", f"gw={url}", *flags], incidents, (SEND, FILTER_ENGAGE)
    )
    assert killed.returncode == -signal.SIGKILL
    incident_id = only_incident(incidents)
    directory = incidents / incident_id
    before = (directory / JOURNAL).read_bytes()
    fragment = engaged_line[:cut]
    if cut == -1:  # all of it but its end: the line of the dead run's own chain, finished
        fragment = _next_line(before, "lever.engaged", fragment)
    with open(directory / JOURNAL, "ab") as appended:
        appended.write(fragment)
    assert verify(directory)[0].endswith("incomplete (no end of line): the write was cut short")

    resumed = aiir(["resume", incident_id, *flags], incidents)
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out
    assert "Traceback" not in out
    incident = load_incident(incidents, incident_id)
    assert_contained_once(incident, state)
    kept = directory / "evidence" / f"journal-cut-at-{len(before)}.part"
    if cut == 40:
        assert "the journal's last line was cut short" in " ".join(out.split())
        assert kept.read_bytes() == fragment
        (note,) = [e for e in incident.events if e.type == "note"]
        assert (
            f"its {len(fragment)} bytes are set aside in evidence/{kept.name}" in note.data["text"]
        )
        engaged = next(e for e in incident.events if e.type == "lever.engaged")
        assert engaged.data["confirmed_by_verify"] is True  # probed, never engaged twice
    else:  # a whole event: it stands, ended with its newline
        assert not kept.exists()
        assert (directory / JOURNAL).read_bytes().startswith(before + fragment + b"\n")


def _next_line(journal: bytes, type_: str, like: bytes) -> bytes:
    """The line ``type_`` as the dead run would have written it next (chained to its head),
    without its end."""
    from aiir.incident.journal import chain_hash

    head = json.loads(journal.splitlines()[-1])
    record = json.loads(like)
    record.pop("hash")
    record.update(seq=head["seq"] + 1, prev=head["hash"], step=head["step"])
    body = {k: record[k] for k in ("seq", "ts", "type", "operator", "step", "data", "prev")}
    body["hash"] = chain_hash(body)
    assert body["type"] == type_
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# --- killed on the way into a called runbook -----------------------------------------------------


@pytest.mark.parametrize(
    "kill",
    [(APPEND, 2), ("aiir.incident.journal.Journal.store_snapshot", 2)],
    ids=["at-the-call-node", "its-copy-kept"],
)
def test_a_walk_killed_before_its_call_was_journalled_resumes_into_the_called_runbook(
    kill: tuple[str, int], tmp_path: Path
) -> None:
    """Between reaching a call by path and ``call.entered`` nothing says which runbook the path
    named: the resume looks for it where ``run`` did, beside the runbook it opened with."""
    from tests.engine.test_reuse import _caller

    path = _caller(tmp_path, "shared/evidence.yaml")
    answers = tmp_path / "answers.yaml"
    answers.write_text("evidence-reminder:\n  keep: yes\n", encoding="utf-8")
    incidents = tmp_path / "incidents"
    killed = aiir(["run", str(path), "-a", str(answers)], incidents, kill)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    incident_id = only_incident(incidents)
    assert [e.type for e in load_incident(incidents, incident_id).events] == [
        "incident.opened",
        "node.entered",
    ]
    resumed = aiir(["resume", incident_id, "-a", str(answers)], incidents)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    incident = load_incident(incidents, incident_id)
    assert incident.outcome == "resolved"
    (entered,) = [e for e in incident.events if e.type == "call.entered"]
    assert (entered.data["child"], entered.data["ref"]) == (
        "evidence-reminder",
        "shared/evidence.yaml",
    )
    copy = incidents / incident_id / "runbooks" / "evidence-reminder.yaml"
    assert copy.read_bytes() == (tmp_path / "shared" / "evidence.yaml").read_bytes()
    assert verify(incidents / incident_id) == []


def test_a_lock_left_by_a_walker_on_another_host_is_not_said_to_be_gone(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """The lock file names a walker on another machine (a shared folder): its lock is free
    here, which does not show that walker is gone; the takeover says what it cannot know."""
    url, state = gateway
    incidents, incident_id, flags = interrupted_at_the_first_lever(tmp_path, url)
    other = {"pid": 4242, "host": "ir-laptop-2", "operator": "bob", "since": "2026-12-07T01:00:00Z"}
    (incidents / incident_id / "lock").write_text(json.dumps(other))
    resumed = aiir(["resume", incident_id, *flags], incidents)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    shown = " ".join(resumed.stdout.split())
    assert "took over the incident from bob (pid 4242 on host ir-laptop-2)" in shown
    assert "that process is gone" not in shown
    assert "aiir cannot see the processes of ir-laptop-2: if one still walks this incident" in shown
    assert_contained_once(load_incident(incidents, incident_id), state)
