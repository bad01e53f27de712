"""Keys that stop or do nothing, in a real pseudo-terminal: pressed while a lever's request is
in flight (what the screen says of the lever afterwards), and Ctrl-D at a list."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.state import load_incident
from tests.helpers import write
from tests.runs import DRILL_ANSWERS, drill, only_incident, process_env, run_aiir
from tests.servers import Gateway, serve_gateway
from tests.terminal.test_keyboard import ENTER, LEVER_QUESTION, Screen, start, to_the_lever

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]
CTRL_C = "\x03"
CTRL_D = "\x04"


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def engage_held(screen: Screen, state: Gateway) -> None:
    """Say yes to the filter while the gateway holds every request: it is in flight."""
    to_the_lever(screen)
    state.gate.clear()
    screen.type("y" + ENTER)
    deadline = time.monotonic() + 10
    while "/guardrails" not in state.arrived and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "/guardrails" in state.arrived


def test_ctrl_c_while_the_engage_is_in_flight_says_the_lever_may_be_engaged(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    screen = start(tmp_path, url)
    engage_held(screen, state)
    screen.type(CTRL_C)
    time.sleep(0.5)
    state.gate.set()  # the gateway takes it all the same: the filter is in place
    status, shown = screen.finish()
    flat = " ".join(shown.split())
    assert status == 130, shown
    assert state.guardrails  # it did take effect
    assert "No lever is engaged" not in flat  # not known: the request was out
    assert "filter (possibly engaged: stopped while its request was in flight)" in flat
    assert "Traceback" not in shown

    incidents = tmp_path / "incidents"
    incident_id = only_incident(incidents)
    env = process_env(incidents, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")
    released = run_aiir(["release", incident_id, "--yes"], env)
    said = " ".join(released.stdout.decode().split())
    assert "no lever of" not in said  # it may be engaged: release cannot say there is none
    assert "filter may be: the walk stopped while the request was in flight" in said
    assert f"aiir resume {incident_id} checks it" in said
    listed = " ".join(run_aiir(["incidents"], env).stdout.decode().split())
    assert "engaged: filter (maybe: stopped in flight)" in listed  # not "engaged: -"
    screen = Screen(["resume", incident_id], env)
    screen.wait("Is the attacker's key known?")  # the probe found it in effect: not resent
    flat = " ".join("\n".join(screen.lines()).split())
    screen.child.terminate(force=True)
    assert "No lever is engaged" not in flat
    assert state.count("POST", "/guardrails") == 1
    [record] = load_incident(incidents, incident_id).levers
    assert record.state == "verified"


def test_keys_typed_while_the_engage_is_in_flight_are_not_shown_as_answers(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    screen = start(tmp_path, url)
    engage_held(screen, state)
    screen.type("y" + ENTER + "sk-typed-ahead-42" + ENTER)
    time.sleep(0.5)
    state.gate.set()
    screen.wait("Is the attacker's key known?")
    shown = "\n".join(screen.lines())
    screen.child.terminate(force=True)
    assert "sk-typed-ahead-42" not in shown  # neither answered nor echoed as if it were
    assert state.count("POST", "/guardrails") == 1
    assert f"{LEVER_QUESTION} y sends POST /guardrails y" in shown  # the one answer given


@pytest.mark.parametrize("at", ["a list", "a checklist"])
def test_ctrl_d_at_a_list_stops_the_walk_resumably_as_at_a_text_prompt(
    tmp_path: Path, gateway: tuple[str, Gateway], at: str
) -> None:
    url, _ = gateway
    screen = start(tmp_path, url)
    if at == "a checklist":
        to_the_lever(screen)
        screen.type("n" + ENTER)
        screen.wait("Is the attacker's key known?")
        screen.type("n" + ENTER)
        screen.wait("Eradicate: tick what is done")
    else:
        screen.wait("What happened to support-bot?")
    screen.type(CTRL_D)
    status, shown = screen.finish()
    assert status == 130, shown
    assert "interrupted by the operator (Ctrl-D)" in " ".join(shown.split())
    incidents = tmp_path / "incidents"
    assert load_incident(incidents, only_incident(incidents)).state == "interrupted"


def test_keys_typed_while_waiting_for_approvals_are_not_shown_as_answers(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """Only ``aiir approve`` in another terminal approves: a y typed here does nothing, and
    does not stand under the box as if it had."""
    url, state = gateway
    runbook = drill()
    runbook["levers"]["filter"]["approve"] = {"min": 1, "timeout": "10m"}
    screen = start(tmp_path, url, runbook)
    to_the_lever(screen)
    screen.type("y" + ENTER)
    screen.wait("Ctrl-C stops the walk")
    screen.type("yes-typed-here" + ENTER)
    time.sleep(1.0)
    shown = "\n".join(screen.lines())
    assert "yes-typed-here" not in shown
    assert state.count("POST", "/guardrails") == 0
    incidents = tmp_path / "incidents"
    env = process_env(incidents, AIIR_OPERATOR="bob")
    assert run_aiir(["approve", only_incident(incidents), "filter"], env).returncode == 0
    screen.wait("Is the attacker's key known?")
    shown = "\n".join(screen.lines())
    screen.child.terminate(force=True)
    assert "yes-typed-here" not in shown
    assert state.count("POST", "/guardrails") == 1


def test_keys_typed_between_the_polls_of_a_wait_are_not_echoed(tmp_path: Path) -> None:
    from tests.engine.test_wait import PENDING, READY, waiting
    from tests.receiver import serve_receiver

    with serve_receiver() as receiver:
        receiver.queue("/e2e", PENDING, PENDING, PENDING, READY)
        runbook = waiting(receiver.url, deadline="1m")
        runbook["nodes"]["e2e"]["interval"] = "2s"
        screen = start(tmp_path, receiver.url, runbook)
        screen.wait("poll 1: not yet")
        screen.type("y" + ENTER + "typed-while-polling" + ENTER)
        status, shown = screen.finish()
    assert status == 0, shown
    assert "typed-while-polling" not in shown
    assert "held after 4 poll(s)" in shown


def test_ctrl_c_while_a_release_is_in_flight_says_it_may_have_taken_effect(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    write(tmp_path / "drill.yaml", drill())
    write(tmp_path / "answers.yaml", DRILL_ANSWERS)
    incidents = tmp_path / "incidents"
    env = process_env(incidents, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")
    args = ["run", str(tmp_path / "drill.yaml"), "--gateway", f"gateway={url}", "--yes"]
    assert run_aiir([*args, "--answers", str(tmp_path / "answers.yaml")], env).returncode == 0
    screen = Screen(["release", only_incident(incidents), "filter"], env)
    screen.wait("Release lever 'filter'")
    state.gate.clear()
    screen.type("y" + ENTER)
    deadline = time.monotonic() + 10
    while not any(p.startswith("/guardrails/") for p in state.arrived):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    screen.type(CTRL_C)
    time.sleep(0.5)
    state.gate.set()
    status, shown = screen.finish()
    flat = " ".join(shown.split())
    assert status == 130, shown
    assert "stopped while releasing lever 'filter': its release may have taken effect" in flat
    assert "Traceback" not in shown


def test_a_request_in_flight_with_stdin_closed_and_a_terminal_to_show_it(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """The spinner turns the echo of standard input off: with none (closed), it just spins."""
    import pexpect

    from tests.runs import aiir_command, strip_ansi

    url, state = gateway
    write(tmp_path / "drill.yaml", drill())
    write(tmp_path / "answers.yaml", DRILL_ANSWERS)
    env = process_env(tmp_path / "incidents", TERM="xterm")
    args = ["run", str(tmp_path / "drill.yaml"), "--gateway", f"gateway={url}", "--yes"]
    args += ["--answers", str(tmp_path / "answers.yaml")]
    command = " ".join(["exec", *aiir_command(), *args, "<&-"])
    child = pexpect.spawn(
        "/bin/sh", ["-c", command], env=env, encoding="utf-8", timeout=30, use_poll=True
    )
    shown = strip_ansi(child.read())
    child.close()
    assert child.exitstatus == 0, shown
    assert "internal error" not in shown
    assert "Outcome: contained" in shown
    assert state.count("POST", "/guardrails") == 1


def test_a_scripted_walk_in_the_background_is_not_stopped_by_its_spinner(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """`aiir run ... &` from a shell with job control: a process in the background that
    changes the terminal's settings is stopped (SIGTTOU); the spinner leaves them alone there."""
    import pexpect

    from tests.runs import aiir_command, strip_ansi

    url, state = gateway
    write(tmp_path / "drill.yaml", drill())
    write(tmp_path / "answers.yaml", DRILL_ANSWERS)
    env = process_env(tmp_path / "incidents", TERM="xterm")
    args = ["run", str(tmp_path / "drill.yaml"), "--gateway", f"gateway={url}", "--yes"]
    args += ["--answers", str(tmp_path / "answers.yaml")]
    walk = " ".join([*aiir_command(), *args])
    script = f"set -m; {walk} </dev/tty & wait $!; echo walked: $?"
    child = pexpect.spawn(
        "/bin/bash", ["-c", script], env=env, encoding="utf-8", timeout=30, use_poll=True
    )
    shown = strip_ansi(child.read())
    child.close()
    assert "walked: 0" in shown, shown
    assert "Outcome: contained" in shown
    assert state.count("POST", "/guardrails") == 1
