"""``main`` called again and again in one process keeps no descriptor of a command that ended.

A practice run's simulated gateway runs on an event loop of its own (an epoll and a socket
pair): the environment ``main`` made was never closed, so every run kept three descriptors, and
a long test session ran select() out of them ('filedescriptor out of range in select()')."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aiir.cli import main

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")

RUN = ["run", "prompt-injection", "--sandbox", "--yes", "-a", "prompt-injection"]


def _open() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_practice_runs_in_one_process_keep_no_descriptors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIIR_OPERATOR", "tester")
    monkeypatch.delenv("AIIR_STORE", raising=False)
    statuses = []
    for number in range(2):  # the first run's imports may open what stays open
        statuses.append(main([*RUN, "--incident-dir", str(tmp_path / f"warm{number}")]))
    before = _open()
    for number in range(5):
        statuses.append(main([*RUN, "--incident-dir", str(tmp_path / f"inc{number}")]))
    after = _open()
    capsys.readouterr()
    assert statuses == [0] * 7
    assert after - before <= 1, f"{after - before} descriptors kept by 5 runs"
