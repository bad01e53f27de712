"""Every command that opens or reads incidents works on the shared store (a real PostgreSQL
server) as on the files: a drill, a tabletop, an incident opened by a firing detection rule,
then ``incidents``, ``show``, ``report``, ``export`` and ``verify`` from another machine's folder.
A store that is no store is one line and exit 2 before anything is walked; one that does not
answer when a walk begins stops no walk."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from aiir.incident.journal import verify
from aiir.incident.postgres import PostgresStore
from tests.helpers import minimal_runbook, write
from tests.receiver import Answer, serve_receiver
from tests.support.cli import run_cli

pytestmark = pytest.mark.postgres

Capture = pytest.CaptureFixture[str]
ROOT = Path(__file__).resolve().parents[2]
DRILL = str(ROOT / "examples" / "drills" / "prompt-injection.yaml")


@pytest.fixture
def store(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no workspace around the test's folder
    for name in ("AIIR_STORE", "AIIR_INCIDENT_DIR", "AIIR_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    PostgresStore(database).migrate()
    return database


def _from_elsewhere(capsys: Capture, store: str, folder: Path, incident: str) -> None:
    """Another responder's machine reads the incident from the store alone."""
    listed = run_cli(capsys, "incidents", "--json", "--store", store, "--incident-dir", str(folder))
    assert listed.status == 0, listed.err
    assert incident in {row["id"] for row in json.loads(listed.out)}
    for command in (["show"], ["report"], ["export", "--format", "stix"], ["verify"]):
        ran = run_cli(capsys, *command, incident, "--store", store, "--incident-dir", str(folder))
        assert ran.status == 0, (command, ran.err)
    assert verify(folder / incident) == []


def test_a_drill_on_the_store_is_read_from_another_machine(
    store: str, tmp_path: Path, capsys: Capture
) -> None:
    ran = run_cli(
        capsys, "drill", DRILL, "--json", "--store", store, "--incident-dir", str(tmp_path / "ci")
    )
    assert ran.status == 0, ran.err
    (result,) = json.loads(ran.out)
    incident = result["incident"]
    assert PostgresStore(store).ids() == [incident]
    _from_elsewhere(capsys, store, tmp_path / "laptop", incident)
    row = json.loads(
        run_cli(capsys, "incidents", "--json", "--incident-dir", str(tmp_path / "laptop")).out
    )
    assert row[0]["exercise"] == "drill"


@pytest.mark.parametrize(
    ("flag", "said"),
    [
        (["--store", "http://db.example:5432/aiir"], "--store 'http://db.example:5432/aiir'"),
        (["--store", "postgresql://u:hunter2@db:port/x"], "not a valid URL"),
    ],
)
def test_a_drill_given_no_store_is_refused_before_any_scenario(
    flag: list[str], said: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    incidents = tmp_path / "ci"
    ran = run_cli(capsys, "drill", DRILL, *flag, "--incident-dir", str(incidents))
    assert ran.status == 2
    assert ran.err.count("\n") == 1, ran.err
    assert said in ran.err
    assert "hunter2" not in ran.err
    assert not incidents.exists()  # nothing walked


def test_a_store_variable_that_is_no_store_stops_a_drill_once(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIIR_STORE", "mysql://db/aiir")
    ran = run_cli(capsys, "drill", DRILL, DRILL, "--incident-dir", str(tmp_path / "ci"))
    assert ran.status == 2
    assert ran.err == (
        "aiir: AIIR_STORE 'mysql://db/aiir': not an incident store: expected a postgresql:// "
        "URL (or nothing, for the files)\n"
    )


def test_a_tabletop_on_the_store_is_read_from_another_machine(
    store: str, tmp_path: Path, capsys: Capture
) -> None:
    from aiir.environment import Environment
    from aiir.exercises.tabletop import default_environment, run_tabletop
    from aiir.validate.scenarios import prepare
    from tests.exercises.test_tabletop import EXAMPLE_ROOMS, T0, Room
    from tests.support.clock import FakeClock

    clock = FakeClock(T0)
    console = Console(file=io.StringIO(), width=120, highlight=False)
    name = "prompt-injection-data-leak"
    env = default_environment(
        console, Room(EXAMPLE_ROOMS[name], clock), tmp_path / "room", clock=clock
    )
    command = Environment(environ={"AIIR_STORE": store})  # the command's: its store carries over
    env.use_store_of(command)
    result, _, _ = run_tabletop(prepare(ROOT / "examples" / "tabletops" / f"{name}.yaml"), env)
    assert PostgresStore(store).ids() == [result.incident.id]
    _from_elsewhere(capsys, store, tmp_path / "laptop", result.incident.id)


def test_a_tabletop_given_no_store_is_refused_before_the_room_sits_down(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = run_cli(capsys, "tabletop", "prompt-injection-data-leak", "--store", "sqlite:///x.db")
    assert ran.status == 2
    assert "--store 'sqlite:///x.db': not an incident store" in ran.err


def _vector(value: float) -> Answer:
    result = [{"metric": {"model": "support-bot"}, "value": [1700000000.0, repr(value)]}]
    body = {"status": "success", "data": {"resultType": "vector", "result": result}}
    return Answer(200, json.dumps(body).encode(), {"content-type": "application/json"})


def _rules(url: str) -> dict[str, Any]:
    return {
        "aiir": 1,
        "detect": "gateway",
        "model": "support-bot",
        "prometheus": {"url": url, "timeout": 2},
        "rules": [{"id": "error-rate", "query": "max(llm_error_ratio)", "above": 0.05}],
    }


def test_an_incident_opened_by_detect_goes_to_the_store(
    store: str, tmp_path: Path, capsys: Capture
) -> None:
    runbook = tmp_path / "rb.yaml"
    write(runbook, minimal_runbook())
    with serve_receiver() as prometheus:
        write(tmp_path / "rules.yaml", _rules(prometheus.url))
        prometheus.queue("/api/v1/query", _vector(0.5))
        ran = run_cli(
            capsys,
            *("detect", str(tmp_path / "rules.yaml"), "--sandbox", "--on-fail-run", str(runbook)),
            *("--history-dir", str(tmp_path / "h"), "--incident-dir", str(tmp_path / "watcher")),
            *("--store", store),
        )
    assert ran.status == 1, ran.err
    (incident,) = PostgresStore(store).ids()
    _from_elsewhere(capsys, store, tmp_path / "laptop", incident)


def test_detect_given_no_store_reads_no_rule(tmp_path: Path, capsys: Capture) -> None:
    runbook = tmp_path / "rb.yaml"
    write(runbook, minimal_runbook())
    with serve_receiver() as prometheus:
        write(tmp_path / "rules.yaml", _rules(prometheus.url))
        ran = run_cli(
            capsys,
            *("detect", str(tmp_path / "rules.yaml"), "--sandbox", "--on-fail-run", str(runbook)),
            *("--history-dir", str(tmp_path / "h"), "--store", "redis://cache"),
        )
        assert prometheus.requests == []
    assert ran.status == 2
    assert "--store 'redis://cache': not an incident store" in ran.err


def test_a_drill_on_a_store_that_does_not_answer_passes_and_says_where_it_kept_it(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiir.sandbox.transport import free_port

    monkeypatch.chdir(tmp_path)
    down = f"postgresql://aiir:pg-secret-4411@127.0.0.1:{free_port()}/aiir"
    incidents = tmp_path / "ci"
    ran = run_cli(
        capsys, "drill", DRILL, "--json", "--store", down, "--incident-dir", str(incidents)
    )
    assert ran.status == 0, ran.err
    assert "does not answer" in ran.err
    assert "aiir store push" in ran.err
    assert "pg-secret-4411" not in ran.err + ran.out
    (result,) = json.loads(ran.out)
    assert verify(incidents / result["incident"]) == []


def test_a_drill_on_a_store_without_its_schema_is_refused_once(
    database: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    incidents = tmp_path / "ci"
    ran = run_cli(
        capsys, "drill", DRILL, DRILL, "--store", database, "--incident-dir", str(incidents)
    )
    assert ran.status == 2
    assert ran.err.count("run `aiir store init`") == 1, ran.err
    assert not incidents.exists()
