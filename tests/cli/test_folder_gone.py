"""A working folder deleted after the shell entered it: every command that looks for aiir.yaml
or resolves a path ended as an internal error (a crash log). Now one line, exit 2, nothing done;
help still shows."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests.runs import aiir_command, process_env

GONE = "the current folder no longer exists"


def in_a_deleted_folder(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "gone"
    folder.mkdir()
    command = shlex.join([*aiir_command(), *args])
    script = f"cd {shlex.quote(str(folder))} && rmdir {shlex.quote(str(folder))} && {command}"
    return subprocess.run(
        ["sh", "-c", script],
        env=process_env(tmp_path / "incidents"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [["library"], ["incidents"], ["drill", "prompt-injection-jailbreak"], ["validate", "triage"]],
)
def test_each_command_says_so_in_one_line(tmp_path: Path, args: list[str]) -> None:
    ran = in_a_deleted_folder(tmp_path, *args)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.splitlines() == [
        f"aiir: {GONE} (deleted since the shell entered it): cd into one"
    ]
    assert ran.stdout == ""
    assert not (tmp_path / "incidents").exists()  # nothing done


def test_help_still_shows(tmp_path: Path) -> None:
    ran = in_a_deleted_folder(tmp_path, "--help")
    assert ran.returncode == 0, ran.stderr
    assert "Usage: aiir" in ran.stdout
