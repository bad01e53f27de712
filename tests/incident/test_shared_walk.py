"""Walks on the shared store (a real PostgreSQL server), each responder a real process with an
incidents folder of its own, as separate machines have: eight racing to resume one incident
(one walks, each lever is engaged once, the chain stays intact); a walker killed with SIGKILL
mid-lever, taken over by another once its lease expired, probing before it re-sends; the server
stopped mid-walk (the walk goes on in the local outbox, ``aiir store push`` uploads it later)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.incident.journal import verify
from aiir.incident.postgres import PostgresStore
from aiir.incident.state import load_incident
from tests.forkserver import ForkServer
from tests.incidents import ANSWERS, MASTER_KEY, containment_runbook, write_answers, write_runbook
from tests.servers import Gateway, serve_gateway
from tests.support.postgres import PASSWORD, Server

pytestmark = pytest.mark.postgres

LEVER_PATHS = ("/guardrails", "/key/block", "/fallback")
SEND = "aiir.outbound.sending.Sender.send"
LEASE = "2"  # seconds: a dead walker's lease is taken over quickly


def _environ(store: str, operator: str, lease: str = LEASE) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIIR_")},
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "AIIR_STORE": store,
        "AIIR_STORE_LEASE": lease,
        "AIIR_OPERATOR": operator,
        "NO_COLOR": "1",
        "COLUMNS": "160",
    }


def spawn(
    args: list[str], store: str, incidents: Path, operator: str, lease: str = LEASE
) -> subprocess.Popen[str]:
    """``aiir ARGS`` in a process of its own (a machine of its own: its own incidents folder)."""
    return subprocess.Popen(
        [sys.executable, "-m", "aiir", *args, "--incident-dir", str(incidents)],
        env=_environ(store, operator, lease),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=incidents.parent,
    )


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[PostgresStore]:
    """A migrated database; the test's view of it (no local copy of its own)."""
    made = PostgresStore(database, tmp_path / "observer")
    made.migrate()
    yield made
    made.close()


def engagements(gateway: Gateway) -> dict[str, int]:
    return {path: gateway.count("POST", path) for path in LEVER_PATHS}


def only_incident(incidents: Path) -> str:
    (directory,) = incidents.iterdir()
    return directory.name


def assert_intact_in_a_fresh_copy(store: PostgresStore, tmp_path: Path, incident_id: str) -> Any:
    """``aiir verify`` from yet another folder, reading the rows afresh."""
    folder = tmp_path / "auditor"
    assert main(["verify", incident_id, "--incident-dir", str(folder), "--store", store.url]) == 0
    return load_incident(folder, incident_id)


def test_eight_responders_racing_to_resume_one_walk_engage_each_lever_once(
    store: PostgresStore, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    url, state = gateway
    path = write_runbook(tmp_path, containment_runbook())
    first = tmp_path / "m0" / "incidents"
    first.mkdir(parents=True)
    opened = spawn(["run", str(path), "--gateway", f"gw={url}", "--yes"], store.url, first, "ana")
    opened.communicate(timeout=120)
    assert opened.returncode == 2  # no terminal, no answers: stopped at the triage question
    incident_id = only_incident(first)
    answers = write_answers(tmp_path, ANSWERS)

    racers = []
    for number in range(1, 9):
        folder = tmp_path / f"m{number}" / "incidents"
        folder.mkdir(parents=True)
        args = ["resume", incident_id, "--answers", str(answers), "--yes", "--gateway", f"gw={url}"]
        # The default lease (30 s): a walker starved of CPU by seven others keeps it.
        racers.append(spawn(args, store.url, folder, f"responder-{number}", lease="30"))
    finished = [(p, *p.communicate(timeout=300)) for p in racers]

    walked = [(p, out, err) for p, out, err in finished if p.returncode == 0]
    refused = [(p, out, err) for p, out, err in finished if p.returncode != 0]
    assert len(walked) >= 1, [err for _, _, err in finished]
    for process, _, err in refused:  # the others found it walked (or already ended)
        assert process.returncode == 2, err
        assert "is being walked by responder-" in err or "already ended" in err, err
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)
    assert len(store.engagements(incident_id)) == 3
    incident = assert_intact_in_a_fresh_copy(store, tmp_path, incident_id)
    assert incident.outcome == "contained"
    types = [e.type for e in incident.events]
    assert (types.count("lever.engaged"), types.count("incident.ended")) == (3, 1)


def test_a_walker_killed_mid_lever_is_taken_over_after_its_lease_and_nothing_is_sent_twice(
    store: PostgresStore, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    url, state = gateway
    path = write_runbook(tmp_path, containment_runbook())
    answers = write_answers(tmp_path, ANSWERS)
    flags = ["--answers", str(answers), "--yes", "--gateway", f"gw={url}"]
    (tmp_path / "fork").mkdir()
    server = ForkServer(tmp_path / "fork")
    try:
        dead = tmp_path / "dead" / "incidents"
        env = _environ(store.url, "ana")
        args = ["run", str(path), *flags, "--incident-dir", str(dead)]
        sends_to_filter = 2  # the capture's request, then the filter's engage
        killed = server.run(args, env, cwd=tmp_path, kill=(SEND, sends_to_filter))
    finally:
        server.close()
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert state.count("POST", "/guardrails") == 1  # sent; its reply never journalled
    incident_id = only_incident(dead)

    other = tmp_path / "other" / "incidents"
    other.mkdir(parents=True)
    too_soon = spawn(["resume", incident_id, *flags], store.url, other, "bo")
    _, err = too_soon.communicate(timeout=120)
    if too_soon.returncode == 2:  # its lease had not expired yet
        assert "being walked by ana" in err, err
        time.sleep(float(LEASE) + 0.5)
        taker = spawn(["resume", incident_id, *flags], store.url, other, "bo")
        out, err = taker.communicate(timeout=120)
        assert taker.returncode == 0, err
    else:
        out = ""
        assert too_soon.returncode == 0, err
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)  # probed, not re-sent
    if out:
        assert "took over the incident from ana" in out
    incident = assert_intact_in_a_fresh_copy(store, tmp_path, incident_id)
    assert incident.outcome == "contained"
    resumed = [e for e in incident.events if e.type == "incident.resumed"]
    assert resumed[-1].data["took_over_from"]["operator"] == "ana"
    # The dead walker's own copy (its sync mark never written) catches up, without a false fork.
    assert main(["verify", incident_id, "--incident-dir", str(dead), "--store", store.url]) == 0
    assert (dead / incident_id / "journal.jsonl").read_bytes() == (
        tmp_path / "auditor" / incident_id / "journal.jsonl"
    ).read_bytes()


def walk_on_own_server(
    server: Server,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    at_the_filter: Callable[[], None],
) -> tuple[Path, str, str]:
    """A whole walk on ``server``'s store from the folder ``a``, ``at_the_filter`` done once
    the filter is engaged (the second request sent); the folder, the incident and what the
    walk printed. It must end contained, each lever engaged once."""
    from aiir.outbound import sending

    url, state = gateway
    assert main(["store", "init", "--store", server.dsn()]) == 0
    path = write_runbook(tmp_path, containment_runbook())
    answers = write_answers(tmp_path, ANSWERS)
    for name, value in _environ(server.dsn(), "ana").items():
        monkeypatch.setenv(name, value)
    original = sending.Sender.send
    sent = [0]

    def acting(self: Any, *args: Any, **kwargs: Any) -> Any:
        reply = original(self, *args, **kwargs)
        sent[0] += 1
        if sent[0] == 2:
            at_the_filter()
        return reply

    monkeypatch.setattr(sending.Sender, "send", acting)
    local = tmp_path / "a"
    capsys.readouterr()
    status = main(
        ["run", str(path), "--answers", str(answers), "--yes", "--gateway", f"gw={url}",
         "--incident-dir", str(local)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "the walk goes on in the local outbox journal" in out
    incident_id = only_incident(local)
    assert load_incident(local, incident_id).outcome == "contained"
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)
    return local, incident_id, out


def test_the_server_stopped_mid_walk_leaves_an_outbox_that_push_uploads_intact(
    own_server: Server,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    local, incident_id, out = walk_on_own_server(
        own_server, gateway, tmp_path, monkeypatch, capsys, own_server.stop
    )  # the database goes away once the filter is engaged
    assert "does not answer" in out
    assert f"aiir store push {incident_id}" in out

    down = main(["store", "push", incident_id, "--incident-dir", str(local)])
    assert down == 2
    assert "does not answer" in capsys.readouterr().err

    own_server.start()
    capsys.readouterr()
    assert main(["store", "status", "--incident-dir", str(local)]) == 0
    assert (
        f"{incident_id}: the local copy has lines the store has not got" in capsys.readouterr().out
    )
    time.sleep(float(LEASE) + 0.5)  # the walker's lease, never released while it was down
    assert main(["store", "push", incident_id, "--incident-dir", str(local)]) == 0
    pushed = capsys.readouterr().out
    assert "event(s) uploaded" in pushed
    assert "0 event(s)" not in pushed
    again = tmp_path / "b"
    assert main(["verify", incident_id, "--incident-dir", str(again)]) == 0
    assert (again / incident_id / "journal.jsonl").read_bytes() == (
        local / incident_id / "journal.jsonl"
    ).read_bytes()
    assert verify(again / incident_id) == []


@dataclass
class Offline:
    """A walk begun while the store's server is down, on the machine whose folder is ``local``:
    ``run`` with ``flags`` starts it (``answers`` answer it all)."""

    server: Server
    runbook: Path
    answers: Path
    local: Path
    flags: list[str]

    def run(self, *args: str) -> int:
        return main(["run", str(self.runbook), *args, *self.flags])


@pytest.fixture
def offline(
    own_server: Server,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Offline:
    dsn = own_server.dsn()
    assert main(["store", "init", "--store", dsn]) == 0
    own_server.stop()
    for name, value in _environ(dsn, "ana").items():
        monkeypatch.setenv(name, value)
    local = tmp_path / "a"
    flags = ["--yes", "--gateway", f"gw={gateway[0]}", "--incident-dir", str(local)]
    runbook = write_runbook(tmp_path, containment_runbook())
    capsys.readouterr()
    return Offline(own_server, runbook, write_answers(tmp_path, ANSWERS), local, flags)


def test_a_walk_begun_while_the_server_is_down_is_kept_locally_and_pushed_later(
    offline: Offline,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = offline.run("--answers", str(offline.answers))
    out, err = capsys.readouterr()
    assert status == 0, err
    local = offline.local
    incident_id = only_incident(local)
    assert "does not answer" in out
    assert f"aiir store push {incident_id}" in out
    assert load_incident(local, incident_id).outcome == "contained"
    assert engagements(gateway[1]) == dict.fromkeys(LEVER_PATHS, 1)

    elsewhere = tmp_path / "b"
    assert main(["resume", incident_id, "--incident-dir", str(elsewhere)]) == 2
    refused = capsys.readouterr().err
    assert "does not answer" in refused
    assert "may be behind the store" in refused
    assert "Traceback" not in refused

    offline.server.start()
    assert main(["store", "push", incident_id, "--incident-dir", str(local)]) == 0
    assert "event(s) uploaded" in capsys.readouterr().out
    assert main(["verify", incident_id, "--incident-dir", str(elsewhere)]) == 0
    assert (elsewhere / incident_id / "journal.jsonl").read_bytes() == (
        local / incident_id / "journal.jsonl"
    ).read_bytes()


@pytest.mark.parametrize("server_back", [False, True], ids=["still-down", "back"])
def test_a_walk_begun_while_the_server_is_down_is_resumed_from_its_outbox(
    server_back: bool,
    offline: Offline,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Stopped at its first question; resumed on the same machine while the server is still
    down (it goes on in the outbox, pushed later), or once it is back (it joins the store)."""
    assert offline.run() == 2  # no terminal, no answers: stopped at triage
    incident_id = only_incident(offline.local)
    if server_back:
        offline.server.start()
    capsys.readouterr()
    resumed = ["resume", incident_id, "--answers", str(offline.answers), *offline.flags]
    assert main(resumed) == 0
    out = capsys.readouterr().out
    if server_back:
        assert "uploaded" in out
        assert "local outbox" not in out  # on the store from there on
    else:
        assert "the walk goes on in the local outbox journal" in out
        offline.server.start()
        assert main(["store", "push", incident_id, "--incident-dir", str(offline.local)]) == 0
    elsewhere = tmp_path / "b"
    assert main(["verify", incident_id, "--incident-dir", str(elsewhere)]) == 0
    assert load_incident(elsewhere, incident_id).outcome == "contained"
    assert engagements(gateway[1]) == dict.fromkeys(LEVER_PATHS, 1)


def _store_requested(store: PostgresStore, timeout: float = 120) -> str:
    """The id of the store's incident once its walk asks for approval (read from its rows)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for incident_id in store.ids():
            if any(e.type == "approval.requested" for e in store.changes(incident_id, 0)):
                return incident_id
        time.sleep(0.1)
    raise AssertionError("the walk never asked for approval")


def test_two_approvals_from_other_machines_reach_the_walker_through_the_store(
    store: PostgresStore, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    from tests.helpers import write
    from tests.runs import DRILL_ANSWERS, aiir_command, drill, process_env

    url, state = gateway
    runbook = drill()
    runbook["levers"]["filter"]["approve"] = {"min": 2}
    write(tmp_path / "rb.yaml", runbook)
    write(tmp_path / "answers.yaml", {**DRILL_ANSWERS, "known": "no", "contain.approve": "yes"})

    def machine(name: str, operator: str) -> dict[str, str]:
        folder = tmp_path / name / "incidents"
        folder.mkdir(parents=True)
        return process_env(folder, AIIR_OPERATOR=operator, AIIR_STORE=store.url)

    walker = subprocess.Popen(
        [
            *aiir_command(),
            *("run", str(tmp_path / "rb.yaml"), "-a", str(tmp_path / "answers.yaml")),
            *("--gateway", f"gateway={url}"),
        ],
        env=machine("a", "alice"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        incident = _store_requested(store)
        for name, operator in (("b", "bob"), ("c", "carol")):
            ran = subprocess.run(
                [*aiir_command(), "approve", incident, "filter"],
                env=machine(name, operator),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert ran.returncode == 0, ran.stderr
            assert f"approved lever 'filter' of {incident} as {operator}" in ran.stdout
        out, err = walker.communicate(timeout=120)
    finally:
        walker.kill()
    assert walker.returncode == 0, err
    assert "approved by bob" in out
    assert "approved by carol" in out
    assert state.count("POST", "/guardrails") == 1
    incident_record = assert_intact_in_a_fresh_copy(store, tmp_path, incident)
    granted = [e.operator for e in incident_record.events if e.type == "approval.granted"]
    assert granted == ["bob", "carol"]


def test_a_watch_outlives_the_store_going_away_and_follows_it_when_it_is_back(
    own_server: Server, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    import queue
    import threading

    url, _ = gateway
    dsn = own_server.dsn()
    assert main(["store", "init", "--store", dsn]) == 0
    path = write_runbook(tmp_path, containment_runbook())
    first, watched = tmp_path / "a" / "incidents", tmp_path / "w" / "incidents"
    first.mkdir(parents=True)
    watched.mkdir(parents=True)
    flags = ["--yes", "--gateway", f"gw={url}"]
    opened = spawn(["run", str(path), *flags], dsn, first, "ana")
    opened.communicate(timeout=120)
    assert opened.returncode == 2  # stopped at its first question
    incident_id = only_incident(first)
    watcher = spawn(["watch", incident_id], dsn, watched, "carol")
    lines: queue.Queue[str] = queue.Queue()

    def reading() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.put(line)

    threading.Thread(target=reading, daemon=True).start()

    shown: list[str] = []  # what the watcher printed and no seen() has matched yet

    def seen(text: str) -> None:
        """Wait until ``text`` is in what the watcher printed; its lines may be wrapped anywhere,
        so what was printed is read as one text, and what matched is used up."""
        while text not in " ".join(" ".join(shown).split()):
            shown.append(lines.get(timeout=120))
        del shown[:-1]  # the matched line may hold the next text too

    try:
        seen("events so far")
        own_server.stop()
        seen("does not answer")
        seen("still watching")
        own_server.start()
        seen("answers again")
        answers = write_answers(tmp_path, ANSWERS)
        resumed = spawn(
            ["resume", incident_id, "--answers", str(answers), *flags], dsn, first, "ana"
        )
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        seen("nothing more to watch")
        watcher.wait(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0


def test_a_password_rotated_mid_walk_leaves_an_outbox_pushed_with_the_new_one(
    own_server: Server,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The password is changed and the walker's connection cut while it walks: the walk goes on
    in its outbox, each lever engaged once; a push with the old password is turned away (one
    line, exit 2), one with the new password uploads it."""
    import psycopg

    dsn = own_server.dsn()

    def rotating() -> None:  # the login changes, every session is cut
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("ALTER ROLE aiir PASSWORD 'rotated-9d2e'")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND usename = 'aiir'"
            )

    local, incident_id, _ = walk_on_own_server(
        own_server, gateway, tmp_path, monkeypatch, capsys, rotating
    )
    assert verify(local / incident_id) == []
    pushing = ["store", "push", incident_id, "--incident-dir", str(local)]
    assert main(pushing) == 2  # the old password: turned away, said so, nothing pushed
    refused = capsys.readouterr().err
    assert "refused the connection" in refused
    assert "password authentication failed" in refused
    rotated = dsn.replace(PASSWORD, "rotated-9d2e")
    time.sleep(float(LEASE) + 0.5)  # the walker's lease, never released while it was cut off
    assert main([*pushing, "--store", rotated]) == 0
    assert (
        main(["verify", incident_id, "--store", rotated, "--incident-dir", str(tmp_path / "b")])
        == 0
    )
