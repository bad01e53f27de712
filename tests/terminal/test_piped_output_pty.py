"""At a terminal with the walk's output piped (``aiir run … | tee walk.log``): no question can
be asked, and the walk said "there is no terminal" to someone sitting at one. It now says that
standard output is not a terminal; with no terminal at all it says so as before."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from tests.runs import aiir_command, process_env, run_aiir

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

PIPED = "needs an answer and standard output is not a terminal (a pipe or a file;"


def test_piped_output_is_named(tmp_path: Path) -> None:
    command = shlex.join([*aiir_command(), "run", "prompt-injection", "--sandbox"])
    env = process_env(tmp_path / "incidents", TERM="xterm")
    child = pexpect.spawn(
        "/bin/sh",
        ["-c", f"{command} | cat"],
        env=env,
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=60,
        use_poll=True,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert PIPED in " ".join(child.before.split()), child.before[-2000:]
    assert "there is no terminal" not in child.before


def test_no_terminal_at_all_is_said_as_before(tmp_path: Path) -> None:
    ran = run_aiir(["run", "prompt-injection", "--sandbox"], process_env(tmp_path / "incidents"))
    assert ran.returncode != 0
    assert b"needs an answer and there is no terminal" in ran.stderr
