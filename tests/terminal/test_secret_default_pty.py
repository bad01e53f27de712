"""An input whose default is made from a secret: the edit buffer would show the secret as it is,
so no default is offered there, and the screen says why."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from tests.helpers import write
from tests.runs import aiir_command, only_incident, process_env, strip_ansi

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

SECRET = 'p4ss"w\\rd-0x9f3a-kept'
RUNBOOK = """\
aiir: 1
id: secret-default
title: An input whose default reads a secret
version: 1.0.0
owner: security
severity: SEV3
category: direct-prompt-injection
summary: The default of an input is a secret.
env:
  ROTATE_TOKEN:
    description: the token to rotate
start: which
nodes:
  which:
    kind: input
    title: The token
    prompt: Token to rotate
    default: "{{ env.ROTATE_TOKEN }}"
    next: done
  done:
    kind: end
    title: Done
    outcome: resolved
"""


@pytest.mark.parametrize("term", ["xterm-256color", "dumb"])
def test_a_secret_default_is_not_put_in_the_edit_buffer(tmp_path: Path, term: str) -> None:
    runbook = tmp_path / "secret-default.yaml"
    write(runbook, RUNBOOK)
    incidents = tmp_path / "incidents"
    env = process_env(incidents, ROTATE_TOKEN=SECRET, TERM=term)
    command = aiir_command()
    transcript = io.StringIO()
    child = pexpect.spawn(
        command[0],
        [*command[1:], "run", str(runbook)],
        env=env,
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=20,
        use_poll=True,
    )
    child.logfile_read = transcript
    child.expect_exact("Token to rotate")
    child.send("by hand\r")
    child.expect_exact(pexpect.EOF)
    child.close()
    shown = strip_ansi(transcript.getvalue())
    assert child.exitstatus == 0, shown
    assert "its default holds a secret, so none is offered" in shown
    for spelling in (SECRET, "0x9f3a-kept", "p4ss"):
        assert spelling not in shown
    journal = (incidents / only_incident(incidents) / "journal.jsonl").read_text()
    assert "0x9f3a" not in journal
    assert '"value": "by hand"' in journal or '"value":"by hand"' in journal
