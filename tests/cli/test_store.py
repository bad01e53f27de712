"""``aiir store init|status|push`` and the choice of the store (``--store``, then ``$AIIR_STORE``,
then aiir.yaml's ``store:``; the files by default), against a real PostgreSQL server; and the
commands that read incidents (``incidents``, ``show``, ``verify``) on a store another responder's
walk wrote to, from a folder of their own."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import verify
from aiir.incident.postgres import PostgresStore
from tests.helpers import write
from tests.respond import aiir, no_terminal, write_workspace
from tests.support.postgres import PASSWORD, Server

pytestmark = pytest.mark.postgres

Capture = pytest.CaptureFixture[str]

RUNBOOK: dict[str, Any] = {
    "aiir": 1,
    "id": "shared",
    "title": "A runbook walked on the shared store",
    "owner": "security",
    "severity": "SEV2",
    "tags": {"owasp": ["LLM01:2025"]},
    "start": "look",
    "nodes": {
        "look": {
            "kind": "confirm",
            "title": "Look",
            "prompt": "Real?",
            "yes": "contain",
            "no": "done",
        },
        "contain": {
            "kind": "confirm",
            "title": "Contain",
            "prompt": "Contained?",
            "yes": "done",
            "no": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no workspace found around the test's folder


def test_the_files_are_the_default_and_need_no_init(tmp_path: Path, capsys: Capture) -> None:
    ran = aiir(capsys, "store", "status", "--incident-dir", str(tmp_path / "inc"))
    assert (ran.status, ran.out.strip()) == (
        0,
        f"incident store: the files in {tmp_path / 'inc'} (the default)",
    )
    ran = aiir(capsys, "store", "init")
    assert ran.status == 2
    assert "no shared store chosen" in ran.err


def test_init_creates_the_schema_once_and_status_reports_it(database: str, capsys: Capture) -> None:
    before = aiir(capsys, "store", "status", "--store", database)
    assert before.status == 2
    assert "schema version 0, this aiir needs 1: run `aiir store init`" in before.out
    first = aiir(capsys, "store", "init", "--store", database)
    assert first.status == 0, first.err
    assert "schema version 1 (applied: 001_incidents.sql)" in first.out
    again = aiir(capsys, "store", "init", "--store", database)
    assert "already up to date" in again.out
    status = aiir(capsys, "store", "status", "--store", database)
    assert status.status == 0, status.err
    assert "chosen by --store" in status.out
    assert "answers: yes; schema version 1; 0 incident(s)" in status.out
    assert PASSWORD not in first.out + again.out + status.out  # the URL is shown masked


def test_the_flag_wins_over_the_variable_which_wins_over_the_workspace(
    database: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    aiir(capsys, "store", "init", "--store", database)
    workspace = write_workspace(
        tmp_path / "ws", {"aiir": 1, "workspace": "acme-ai", "store": "postgresql://nowhere:1/x"}
    )
    monkeypatch.chdir(workspace)
    from_file = aiir(capsys, "store", "status")
    assert from_file.status == 2
    assert "postgresql://nowhere:1/x does not answer" in from_file.err
    assert len(from_file.err.strip().splitlines()) == 1
    monkeypatch.setenv("AIIR_STORE", database)
    from_variable = aiir(capsys, "store", "status")
    assert from_variable.status == 0, from_variable.err
    assert "chosen by AIIR_STORE" in from_variable.out
    monkeypatch.setenv("AIIR_STORE", "postgresql://nowhere:1/x")
    from_flag = aiir(capsys, "store", "status", "--store", database)
    assert from_flag.status == 0, from_flag.err
    assert "chosen by --store" in from_flag.out


def test_a_bad_or_unreachable_store_is_one_line_exit_2_password_masked(
    postgres: Server, capsys: Capture, tmp_path: Path
) -> None:
    not_one = aiir(capsys, "store", "status", "--store", "https://db.example/x")
    assert not_one.status == 2
    assert not_one.err.strip() == (
        "aiir: --store 'https://db.example/x': not an incident store: expected a "
        "postgresql:// URL (or nothing, for the files)"
    )
    wrong = f"postgresql://aiir:{PASSWORD}-wrong@127.0.0.1:{postgres.port}/postgres"
    refused = aiir(capsys, "store", "init", "--store", wrong)
    assert refused.status == 2
    assert len(refused.err.strip().splitlines()) == 1
    assert "refused the connection" in refused.err
    assert "password authentication failed" in refused.err
    assert PASSWORD not in refused.err
    incidents = tmp_path / "walks"
    write(tmp_path / "rb.yaml", copy.deepcopy(RUNBOOK))
    runbook = str(tmp_path / "rb.yaml")
    where = ["--incident-dir", str(incidents)]
    turned_away = aiir(capsys, "run", runbook, "--store", wrong, *where)
    assert turned_away.status == 2  # a URL that is wrong: nothing started
    assert "refused the connection" in turned_away.err
    assert PASSWORD not in turned_away.err + turned_away.out
    assert not incidents.exists() or not any(incidents.iterdir())
    away = aiir(
        capsys, "run", runbook, "--store", "postgresql://aiir:hunter2-secret@127.0.0.1:1/x", *where
    )
    assert "does not answer" in away.out  # a store that is away: the walk goes on locally
    assert "hunter2-secret" not in away.err + away.out
    assert len(list(incidents.iterdir())) == 1


def test_a_workspace_store_that_is_no_url_names_its_line(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = write_workspace(
        tmp_path / "ws", {"aiir": 1, "workspace": "acme-ai", "store": "mysql://db/x"}
    )
    monkeypatch.chdir(workspace)
    ran = aiir(capsys, "store", "status")
    assert ran.status == 2
    assert "aiir.yaml:3" in ran.err


def walk(tmp_path: Path, capsys: Capture, database: str, answers: dict[str, str]) -> str:
    """``aiir run`` on the shared store from the folder ``a``; the incident's id."""
    write(tmp_path / "rb.yaml", copy.deepcopy(RUNBOOK))
    write(tmp_path / "answers.yaml", answers)
    ran = aiir(
        capsys,
        "run",
        str(tmp_path / "rb.yaml"),
        "-a",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(tmp_path / "a"),
        "--store",
        database,
    )
    (folder,) = (tmp_path / "a").iterdir()
    assert ran.status in {0, 1, 2}, ran.err
    return folder.name


def test_a_walk_on_the_store_is_read_from_another_folder(
    database: str, tmp_path: Path, capsys: Capture
) -> None:
    aiir(capsys, "store", "init", "--store", database)
    incident = walk(tmp_path, capsys, database, {"look": "yes", "contain": "yes"})
    other = ["--incident-dir", str(tmp_path / "b"), "--store", database]  # another machine
    listed = aiir(capsys, "incidents", *other)
    assert listed.status == 0, listed.err
    assert incident in listed.out
    shown = aiir(capsys, "show", incident, *other)
    assert shown.status == 0, shown.err
    assert "resolved" in shown.out
    checked = aiir(capsys, "verify", incident, *other)
    assert checked.status == 0, checked.err
    assert "journal chain and evidence consistent" in checked.out
    assert (tmp_path / "b" / incident / "journal.jsonl").read_bytes() == (
        tmp_path / "a" / incident / "journal.jsonl"
    ).read_bytes()
    assert verify(tmp_path / "b" / incident) == []
    store = PostgresStore(database)
    try:
        assert store.ids() == [incident]
    finally:
        store.close()


def test_a_local_copy_forged_and_rechained_is_named_by_verify_against_the_store(
    database: str, tmp_path: Path, capsys: Capture
) -> None:
    import json

    from tests.incident.test_journal import rechain

    aiir(capsys, "store", "init", "--store", database)
    incident = walk(tmp_path, capsys, database, {"look": "yes", "contain": "yes"})
    journal = tmp_path / "a" / incident / "journal.jsonl"
    events = [json.loads(line) for line in journal.read_bytes().splitlines()]
    answered = next(i for i, e in enumerate(events) if e["type"] == "answer")
    events[answered]["data"]["value"] = "no"  # a forger's edit, the chain recomputed after it
    journal.write_bytes(b"".join(rechain(events, answered)))
    assert verify(tmp_path / "a" / incident) == []  # the forged copy holds together by itself
    checked = aiir(
        capsys, "verify", incident, "--incident-dir", str(tmp_path / "a"), "--store", database
    )
    assert checked.status == 1
    assert "differs from the store" in checked.err
    assert "TAMPERED" in checked.err
    honest = aiir(
        capsys, "verify", incident, "--incident-dir", str(tmp_path / "c"), "--store", database
    )
    assert honest.status == 0, honest.err
    assert "the same, line for line, as the store" in honest.out


def test_resume_from_another_folder_goes_on_where_the_walk_stopped(
    database: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    aiir(capsys, "store", "init", "--store", database)
    incident = walk(tmp_path, capsys, database, {"look": "yes"})  # stops at contain
    write(tmp_path / "rest.yaml", {"contain": "yes"})
    monkeypatch.setenv("AIIR_OPERATOR", "bo")
    monkeypatch.setenv("AIIR_STORE", database)
    ran = aiir(capsys, "resume", incident, "-a", str(tmp_path / "rest.yaml"), "--incident-dir", "b")
    assert ran.status == 0, ran.err
    assert "resumed by bo" in ran.out
    store = PostgresStore(database)
    try:
        types = [e.type for e in store.changes(incident, 0)]
        assert types[-1] == "incident.ended"
        assert "incident.resumed" in types
    finally:
        store.close()
    assert verify(tmp_path / "b" / incident) == []


def test_push_uploads_an_incident_started_on_the_files(
    database: str, tmp_path: Path, capsys: Capture
) -> None:
    aiir(capsys, "store", "init", "--store", database)
    write(tmp_path / "rb.yaml", copy.deepcopy(RUNBOOK))
    write(tmp_path / "answers.yaml", {"look": "no"})
    local = ["--incident-dir", str(tmp_path / "a")]
    ran = aiir(
        capsys, "run", str(tmp_path / "rb.yaml"), "-a", str(tmp_path / "answers.yaml"), *local
    )
    assert ran.status == 0, ran.err
    (folder,) = (tmp_path / "a").iterdir()
    pushed = aiir(capsys, "store", "push", folder.name, *local, "--store", database)
    assert pushed.status == 0, pushed.err
    assert "event(s) uploaded" in pushed.out
    again = aiir(capsys, "store", "push", folder.name, *local, "--store", database)
    assert f"{folder.name}: 0 event(s) uploaded" in again.out
    checked = aiir(capsys, "verify", folder.name, "--incident-dir", "b", "--store", database)
    assert checked.status == 0, checked.err


def test_watch_on_another_machine_shows_new_events_within_a_second(
    database: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess
    import sys
    import threading
    import time

    aiir(capsys, "store", "init", "--store", database)
    incident = walk(tmp_path, capsys, database, {"look": "yes"})  # stops at contain
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AIIR_")}
    environ |= {"AIIR_STORE": database, "NO_COLOR": "1", "COLUMNS": "200"}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "aiir", "watch", incident, "--incident-dir", str(tmp_path / "w")],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[tuple[float, str]] = []

    def reading() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            seen.append((time.monotonic(), line))

    reader = threading.Thread(target=reading, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("watching" in line for _, line in seen):
            assert time.monotonic() < deadline, watcher.stderr
            time.sleep(0.05)
        write(tmp_path / "rest.yaml", {"contain": "yes"})
        monkeypatch.setenv("AIIR_STORE", database)
        ran = aiir(
            capsys, "resume", incident, "-a", str(tmp_path / "rest.yaml"), "--incident-dir", "c"
        )
        written = time.monotonic()
        assert ran.status == 0, ran.err
        watcher.wait(timeout=30)
        reader.join(timeout=5)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    ended = [at for at, line in seen if "incident.ended" in line]
    assert ended, "".join(line for _, line in seen)
    assert ended[0] - written < 1.0
    assert any("ended (resolved): nothing more to watch" in line for _, line in seen)


def test_incidents_watch_on_another_machine_sees_a_new_incident_of_the_store(
    database: str, tmp_path: Path, capsys: Capture
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    aiir(capsys, "store", "init", "--store", database)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AIIR_")}
    environ |= {"AIIR_STORE": database, "NO_COLOR": "1", "COLUMNS": "200"}
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiir",
            "incidents",
            "--watch",
            "--incident-dir",
            str(tmp_path / "w"),
        ],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        incident = walk(tmp_path, capsys, database, {"look": "yes"})  # stops at contain: open
        deadline = time.monotonic() + 60
        while not (tmp_path / "w" / incident / "journal.jsonl").is_file():
            assert time.monotonic() < deadline, "the watch never copied the new incident"
            assert watcher.poll() is None, watcher.communicate()
            time.sleep(0.1)
        time.sleep(1.5)  # one more redraw
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert incident in out, out + err
    assert "stopped watching the incidents" in out


def test_a_workspace_store_is_where_its_walks_go(
    database: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    aiir(capsys, "store", "init", "--store", database)
    for name in ("alice-ws", "bob-ws"):  # two workspaces on two machines, one database
        write_workspace(tmp_path / name, {"aiir": 1, "workspace": "acme-ai", "store": database})
    write(tmp_path / "rb.yaml", copy.deepcopy(RUNBOOK))
    write(tmp_path / "answers.yaml", {"look": "no"})
    monkeypatch.chdir(tmp_path / "alice-ws")
    ran = aiir(capsys, "run", str(tmp_path / "rb.yaml"), "-a", str(tmp_path / "answers.yaml"))
    assert ran.status == 0, ran.err
    (folder,) = (tmp_path / "alice-ws" / ".aiir" / "incidents").iterdir()
    monkeypatch.chdir(tmp_path / "bob-ws")
    shown = aiir(capsys, "show", folder.name)
    assert shown.status == 0, shown.err
    assert "resolved" in shown.out
    assert (tmp_path / "bob-ws" / ".aiir" / "incidents" / folder.name / "journal.jsonl").is_file()


def test_without_the_client_installed_the_store_is_one_line_naming_the_extra(
    capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    ran = aiir(capsys, "store", "status", "--store", "postgresql://aiir:pw-secret-1@db/x")
    assert ran.status == 2
    assert ran.err.strip() == (
        "aiir: the incident store postgresql://***@db/x is PostgreSQL, and its client is "
        "not installed: pip install 'aiir-runbooks[postgresql]'"
    )
