"""Ctrl-Z then ``fg`` in a real job-control shell: the walk stops, comes back to the question
it asked, and what is typed at the shell meanwhile answers nothing.

A yes/no and a text prompt took Ctrl-Z as a character: '^Z' stood in the answer (with "type y
or n" under it), nothing was suspended, and the 'jobs' and 'fg' the operator then typed went
into the lever's answer line.
"""

from __future__ import annotations

import io
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from aiir.incident.state import load_incident
from tests.helpers import write
from tests.runs import aiir_command, drill, only_incident, process_env, strip_ansi
from tests.servers import serve_gateway

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
    pytest.mark.skipif(shutil.which("bash") is None, reason="a job-control shell"),
]
CTRL_Z = "\x1a"


class Shell:
    def __init__(self, tmp_path: Path) -> None:
        env = process_env(tmp_path / "incidents", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", PS1="$ ")
        env.pop("COLUMNS")
        self.log = io.StringIO()
        self.child = pexpect.spawn(
            "bash",
            ["--norc", "--noprofile", "-i"],
            env=env,
            dimensions=(24, 80),
            encoding="utf-8",
            timeout=20,
            use_poll=True,
        )
        self.child.logfile_read = self.log
        self.child.expect_exact("$ ")

    def settle(self, seconds: float = 1.0) -> None:
        self.child.expect(pexpect.TIMEOUT, timeout=seconds)

    def shown(self) -> str:
        return strip_ansi(self.log.getvalue())

    def suspend_and_resume(self) -> str:
        """Ctrl-Z, the shell's jobs, then fg: what the screen said from the Ctrl-Z on."""
        start = len(self.log.getvalue())
        self.child.send(CTRL_Z)
        self.child.expect_exact("Stopped")
        self.child.expect_exact("$ ")
        self.child.sendline("fg")
        self.settle(1.5)
        return strip_ansi(self.log.getvalue()[start:])


def test_ctrl_z_and_fg_at_inputs_and_a_lever_answer_nothing(tmp_path: Path) -> None:
    with serve_gateway() as (url, state):
        path = tmp_path / "drill.yaml"
        write(path, drill())
        shell = Shell(tmp_path)
        command = [*aiir_command(), "run", str(path), "--gateway", f"gateway={url}"]
        try:
            shell.child.sendline(" ".join(shlex.quote(part) for part in command))
            shell.child.expect_exact("What happened to support-bot?")
            shell.settle(0.5)
            shell.child.send("\r")
            shell.child.expect_exact("Which phrase did the attack use?")
            shell.settle(0.5)
            shell.child.send("ignore")
            shell.settle(0.3)
            back = shell.suspend_and_resume()
            assert "^Z" not in back, back
            assert "Which phrase did the attack use?" in back, back  # the same question again
            shell.child.send(" previous\r")
            shell.child.expect_exact("Engage lever 'filter'?")
            shell.settle(0.8)
            back = shell.suspend_and_resume()
            assert "^Z" not in back, back
            assert "type y (yes) or n (no)" not in back, back  # Ctrl-Z was no answer
            assert "Engage lever 'filter'?" in back, back
            assert state.count("POST", "/guardrails") == 0
            shell.child.send("n\r")
            shell.child.expect_exact("declined: not sent")
        finally:
            shell.child.terminate(force=True)
        incidents = tmp_path / "incidents"
        incident = load_incident(incidents, only_incident(incidents))
        given = {a["key"]: a["value"] for a in incident.answers}
        assert given["phrase"] == "ignore previous", shell.shown()[-1500:]
        assert state.count("POST", "/guardrails") == 0
