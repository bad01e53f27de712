"""What practice reaches: a drill against a staging gateway talks to what ``--gateway`` names and
nothing else (never a runbook's own address of a gateway left unnamed), and an exercise's levers
are released where they were engaged, the screen saying it is practice; a real walk says so too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.environment import Environment
from aiir.errors import InputError
from aiir.formats.findings import parse
from aiir.formats.loader import load_file
from aiir.formats.schema import Runbook
from aiir.respond.preparation import endpoints_for
from aiir.sandbox import SandboxState, create_app, serve_in_thread
from aiir.terminal.screen import LIVE_BANNER
from tests.receiver import Receiver, serve_receiver
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
Capture = pytest.CaptureFixture[str]
MASTER_KEY = "sk-staging-master-0123456789"
KEYS = {"LITELLM_MASTER_KEY": MASTER_KEY, "AGENT_PLATFORM_TOKEN": "agent-platform-token-0123"}


@pytest.fixture
def staging() -> Iterator[tuple[str, SandboxState]]:
    state = SandboxState()
    with serve_in_thread(create_app(state)) as url:
        yield url, state


@pytest.fixture
def production() -> Iterator[Receiver]:
    with serve_receiver() as receiver:
        yield receiver


def agents_drill(tmp_path: Path, production: Receiver) -> Path:
    """The excessive-agency drill, its runbook's agent platform at ``production``."""
    runbook = (ROOT / "runbooks" / "excessive-agency.yaml").read_text(encoding="utf-8")
    assert "url: http://127.0.0.1:8700" in runbook
    (tmp_path / "excessive-agency.yaml").write_text(
        runbook.replace("url: http://127.0.0.1:8700", f"url: {production.url}"), encoding="utf-8"
    )
    scenario = (ROOT / "examples" / "drills" / "excessive-agency.yaml").read_text(encoding="utf-8")
    path = tmp_path / "drill.yaml"
    path.write_text(
        scenario.replace("runbook: excessive-agency", "runbook: excessive-agency.yaml"),
        encoding="utf-8",
    )
    return path


def test_a_staging_drill_never_reaches_the_address_of_a_gateway_it_does_not_name(
    tmp_path: Path,
    staging: tuple[str, SandboxState],
    production: Receiver,
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("AGENT_PLATFORM_TOKEN", "agent-platform-token-0123456789")
    drill = agents_drill(tmp_path, production)
    incidents = tmp_path / "incidents"
    args = ["drill", str(drill), "-g", f"gateway={staging[0]}", "--incident-dir", str(incidents)]
    ran = run_cli(capsys, *args)
    assert production.requests == []  # the agent was not paused on the real platform
    assert ran.status == 2
    assert ran.err.count("\n") == 1
    assert "declares 'agents': pass --gateway agents=URL too; nothing was run" in ran.err
    assert not incidents.exists() or not any(incidents.iterdir())


def test_an_exercise_without_the_simulated_gateway_resolves_only_named_gateways(
    tmp_path: Path,
) -> None:
    """Also a runbook reached by a call (checked when the walk gets there) or a resumed one."""
    runbook = parse(load_file(ROOT / "runbooks" / "excessive-agency.yaml"), Runbook)
    env = Environment(gateway_urls={"gateway": "http://127.0.0.1:9"}, exercise="drill")
    with pytest.raises(InputError, match="pass --gateway agents=URL"):
        endpoints_for(runbook, env, KEYS)
    env.gateway_urls["agents"] = "http://127.0.0.1:9"
    assert set(endpoints_for(runbook, env, KEYS)) == {"gateway", "agents"}


def test_a_staging_drill_is_released_on_its_staging_gateway(
    tmp_path: Path,
    staging: tuple[str, SandboxState],
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, state = staging
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    incidents = tmp_path / "incidents"
    drill = ROOT / "examples" / "drills" / "prompt-injection.yaml"
    ran = run_cli(capsys, "drill", str(drill), "-g", f"gateway={url}", "--json",
                  "--incident-dir", str(incidents))  # fmt: skip
    assert ran.status == 0, ran.out + ran.err
    [result] = json.loads(ran.out)
    engaged = state.state()
    assert engaged["blocked_keys"]
    assert engaged["guardrails"]
    released = run_cli(capsys, "release", result["incident"], "--yes",
                       "--incident-dir", str(incidents))  # fmt: skip
    assert released.status == 0, released.out + released.err
    assert "EXERCISE (drill): releasing on the staging gateway it ran against" in released.out
    assert (state.state()["blocked_keys"], state.state()["guardrails"]) == ([], [])


def test_a_sandbox_release_says_it_is_practice(tmp_path: Path, capsys: Capture) -> None:
    incidents = tmp_path / "incidents"
    answers = ROOT / "examples" / "answers" / "prompt-injection.yaml"
    args = ["--sandbox", "--yes", "--answers", str(answers), "--incident-dir", str(incidents)]
    ran = run_cli(capsys, "run", "prompt-injection", *args)
    assert ran.status == 0, ran.err
    assert LIVE_BANNER not in ran.out
    [incident] = [d.name for d in incidents.iterdir()]
    released = run_cli(capsys, "release", incident, "--yes", "--incident-dir", str(incidents))
    assert released.status == 0, released.err
    assert (
        "EXERCISE (sandbox): releasing on a simulated gateway rebuilt from its journal; "
        "nothing reaches a real channel"
    ) in released.out


def test_a_real_walk_says_it_is_real(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.servers import serve_gateway

    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    incidents = tmp_path / "incidents"
    with serve_gateway() as (url, _):
        args = ["-g", f"gateway={url}", "--incident-dir", str(incidents)]
        ran = run_cli(capsys, "run", "prompt-injection", *args)
    assert ran.status == 2  # no terminal: it stops at its first question, having said what it is
    first = ran.out.splitlines()[0]
    assert first.startswith("Incident INC-")
    assert first.endswith(LIVE_BANNER)


def test_a_scenario_cannot_set_aiirs_own_settings(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario's ``env`` is its runbook's variables: not the store its incident is written
    to, nor where a page would go (it took ``AIIR_STORE`` and the drill wrote there)."""
    monkeypatch.delenv("AIIR_STORE", raising=False)
    scenario = (ROOT / "examples" / "drills" / "prompt-injection.yaml").read_text(encoding="utf-8")
    assert "\nenv:" not in scenario
    path = tmp_path / "drill.yaml"
    path.write_text(
        scenario + "env:\n  AIIR_STORE: postgresql://aiir:pw@127.0.0.1:9/aiir\n", encoding="utf-8"
    )
    line = len(scenario.splitlines()) + 2
    incidents = tmp_path / "incidents"
    ran = run_cli(capsys, "drill", str(path), "--incident-dir", str(incidents))
    assert ran.status == 2
    assert ran.err == (
        f"aiir: {path}:{line}:3: error: env.AIIR_STORE: AIIR_STORE is aiir's own setting (where "
        "incidents go, which store, which channel), not a variable of runbook 'prompt-injection': "
        "a scenario sets only its runbook's variables\n"
    )
    assert not incidents.exists()


def test_a_sandbox_canary_refuses_a_gateway_flag(tmp_path: Path, capsys: Capture) -> None:
    """As ``aiir run --sandbox``: the flag's address would have been recorded as the gateway of
    the practice incident ``--on-fail-run`` opens."""
    from tests.canaries import write_suite

    path = write_suite(tmp_path / "s.yaml")
    ran = run_cli(capsys, "canary", "run", str(path), "--sandbox", "-g", "gw=http://127.0.0.1:9")
    assert ran.status == 2
    assert ran.err == (
        "aiir: --sandbox and --gateway: a sandbox run talks only to the simulated gateway\n"
    )


def test_only_a_drill_goes_on_against_the_staging_gateway_its_journal_names() -> None:
    """A sandbox walk, a tabletop or a practice incident opened by a canary or a detection is
    resumed and released on the simulated gateway, whatever address its journal holds."""
    from aiir.incident.state import Incident
    from aiir.respond.session import staged

    for exercise in ("sandbox", "tabletop"):
        practice = Incident(
            id="INC-1", directory=Path(), exercise=exercise, gateways={"gateway": "http://10.0.0.1"}
        )
        assert not staged(practice)
    drill = Incident(
        id="INC-2", directory=Path(), exercise="drill", gateways={"gateway": "http://10.0.0.1"}
    )
    assert staged(drill)
    simulated = Incident(
        id="INC-3",
        directory=Path(),
        exercise="drill",
        gateways={"gateway": "http://sandbox.aiir.invalid"},
    )
    assert not staged(simulated)


def test_a_drill_does_not_claim_the_workspace_lacks_a_channel(tmp_path: Path) -> None:
    """A drill reads no aiir.yaml: its screen says so, not "no pagerduty channel in aiir.yaml"
    (untrue of a team whose aiir.yaml has one)."""
    from aiir.exercises.drill import run_drill
    from aiir.validate.scenarios import prepare

    result = run_drill(prepare(ROOT / "examples" / "drills" / "prompt-injection.yaml"), tmp_path)
    assert result.ok, result.transcript
    assert "channel in aiir.yaml" not in result.transcript
    assert "not sent: a drill reads no aiir.yaml channels; the message is on record" in (
        result.transcript
    )


def test_releasing_a_real_incident_says_it_is_real(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiir.respond.session import start
    from tests.incidents import (
        ANSWERS,
        RecordingPrompter,
        containment_runbook,
        environment,
        write_runbook,
    )
    from tests.incidents import MASTER_KEY as KEY
    from tests.servers import serve_gateway

    monkeypatch.setenv("LITELLM_MASTER_KEY", KEY)
    runbook = write_runbook(tmp_path, containment_runbook())
    incidents = tmp_path / "incidents"
    with serve_gateway() as (url, _):
        with environment(incidents, url, RecordingPrompter(ANSWERS)) as env:
            incident = start(runbook, env).incident
        assert incident.needs_release()
        args = ["-g", f"gw={url}", "--yes", "--incident-dir", str(incidents)]
        ran = run_cli(capsys, "release", incident.id, *args)
    assert ran.status == 0, ran.err
    assert ran.out.splitlines()[0] == "  LIVE: releasing on the real gateways"
    assert "EXERCISE" not in ran.out
