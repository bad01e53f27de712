"""``aiir canary run`` in a real pseudo-terminal: the progress bar, and a failure walked at once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.canaries import write_suite
from tests.runs import aiir_command, process_env, strip_ansi

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]
REPO = Path(__file__).resolve().parents[2]
CTRL_C = "\x03"


def spawn(args: list[str], env: dict[str, str]) -> Any:
    command = aiir_command()
    return pexpect.spawn(
        command[0],
        [*command[1:], *args],
        env=env,
        dimensions=(40, 160),
        encoding="utf-8",
        timeout=30,
        use_poll=True,
    )


def finish(child: Any) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus), strip_ansi(child.before or "")


def terminal_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = process_env(tmp_path / "incidents")
    env.pop("CI", None)
    return {**env, **extra}


def test_a_terminal_shows_a_progress_bar_and_ci_does_not(tmp_path: Path) -> None:
    suite = str(REPO / "examples" / "canaries" / "coding-assistant.yaml")
    args = ["canary", "run", suite, "--sandbox", "--history-dir", str(tmp_path / "h")]
    status, shown = finish(spawn(args, terminal_env(tmp_path)))
    assert status == 0
    assert "canary coding-assistant" in shown  # the bar's label, cleared when done
    assert "PASS coding-assistant: all 24 check(s) passed" in shown
    status, shown = finish(spawn(args, terminal_env(tmp_path, CI="true")))
    assert status == 0
    assert "canary coding-assistant" not in shown
    assert "PASS coding-assistant" in shown


def test_a_failure_in_a_terminal_walks_the_runbook_at_once(tmp_path: Path) -> None:
    path = write_suite(tmp_path / "s.yaml")
    args = ["canary", "run", str(path), "--sandbox", "--history-dir", str(tmp_path / "h")]
    args += ["--on-fail-run", str(REPO / "runbooks" / "system-prompt-leak.yaml")]
    env = terminal_env(tmp_path)
    text = path.read_text().replace("value: OK", "value: NOT-IN-THE-REPLY")
    path.write_text(text)
    child = spawn(args, env)
    child.expect("What does the evidence show")
    child.send(CTRL_C)
    status, shown = finish(child)
    assert status == 1
    incidents = [d.name for d in (tmp_path / "incidents").iterdir()]
    assert len(incidents) == 1
    assert f"incident {incidents[0]} (system-prompt-leak.yaml): interrupted" in shown
    assert "FAIL support: 4 of 28 check(s) failed" in shown
