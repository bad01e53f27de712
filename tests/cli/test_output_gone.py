"""A command whose output went away ends quietly: ``aiir watch`` in a terminal that was closed
(writing to the hung-up terminal raises EIO), a listing piped into a reader that left (EPIPE).
No crash log, no 'internal error', no traceback. The same errors from a file aiir writes (an
incident's journal) are still reported as the failure they are. (Click ends a command whose
pipe broke with status 1; a closed terminal ends with the same.)"""

from __future__ import annotations

import errno
import glob
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiir import cli
from tests.helpers import write
from tests.runs import aiir_command, only_incident, process_env, run_aiir
from tests.support.cli import run_cli
from tests.terminal.test_watch_pty import RUNBOOK  # a walk that stops at its second question

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def _open_incident(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """An incident stopped at ``more``; the environment to reach it, crash logs under tmp_path."""
    write(tmp_path / "rb.yaml", RUNBOOK)
    write(tmp_path / "first.yaml", {"look": "yes"})
    incidents = tmp_path / "incidents"
    env = process_env(incidents, TMPDIR=str(tmp_path))
    ran = run_aiir(["run", str(tmp_path / "rb.yaml"), "-a", str(tmp_path / "first.yaml")], env)
    assert ran.returncode != 0, ran.stdout
    return only_incident(incidents), env


def _crash_logs(tmp_path: Path) -> list[str]:
    return glob.glob(str(tmp_path / "aiir-crash-*"))


def _read_until(fd: int, wanted: bytes, timeout: float = 30.0) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        seen += os.read(fd, 4096)
    assert wanted in seen, seen
    return seen


def test_watch_in_a_terminal_that_was_closed_ends_quietly(tmp_path: Path) -> None:
    incident, env = _open_incident(tmp_path)
    master, terminal = os.openpty()
    watcher = subprocess.Popen(
        [*aiir_command(), "watch", incident],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    try:
        _read_until(master, b"Ctrl-C to stop")
    finally:
        os.close(master)  # the terminal window closes: every later write raises EIO
    noted = run_aiir(["note", incident, "after the window closed"], env)
    assert noted.returncode == 0, noted.stderr
    assert watcher.wait(timeout=30) == 1
    assert _crash_logs(tmp_path) == []


def test_watch_into_a_pipe_whose_reader_left_ends_quietly(tmp_path: Path) -> None:
    incident, env = _open_incident(tmp_path)
    reader, writer = os.pipe()
    watcher = subprocess.Popen(
        [*aiir_command(), "watch", incident],
        stdin=subprocess.DEVNULL,
        stdout=writer,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(writer)
    _read_until(reader, b"Ctrl-C to stop")
    os.close(reader)  # `aiir watch ID | head -1`: the reader has what it wanted
    noted = run_aiir(["note", incident, "after the reader left"], env)
    assert noted.returncode == 0, noted.stderr
    _out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 1
    assert err.decode() == ""  # no 'internal error', no 'Exception ignored ... BrokenPipeError'
    assert _crash_logs(tmp_path) == []


def test_an_io_error_writing_the_journal_is_still_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    incident, env = _open_incident(tmp_path)
    monkeypatch.setenv("AIIR_INCIDENT_DIR", env["AIIR_INCIDENT_DIR"])
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    real_write = os.write

    def failing(fd: int, data: bytes) -> int:
        if fd > 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))  # the disk under the journal
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing)
    ran = run_cli(capsys, "note", incident, "the disk fails")
    assert ran.status == 1
    assert "the journal (Input/output error); this event was not kept" in ran.err
    assert "internal error" not in ran.err


def test_only_a_hung_up_terminal_or_pipe_counts_as_gone() -> None:
    reader, writer = os.pipe()
    master, terminal = os.openpty()
    with open(writer, "w") as piped, open(terminal, "w") as shown:
        assert not cli._hung_up(piped)
        assert not cli._hung_up(shown)
        os.close(reader)
        os.close(master)
        assert cli._hung_up(piped)
        assert cli._hung_up(shown)
    with open(os.devnull, "w") as plain_file:
        assert not cli._hung_up(plain_file)
