"""The real command with standard input closed (``<&-``, as a daemon or some CI runners start
it), and standard output closed too: no terminal, said in one line, exit 2, the incident left
resumable; never an internal error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import write
from tests.runs import aiir_command, drill, only_incident, process_env


@pytest.mark.parametrize("closed", [(0,), (0, 1)], ids=["stdin", "stdin-and-stdout"])
def test_a_walk_with_closed_streams_says_there_is_no_terminal(
    tmp_path: Path, closed: tuple[int, ...]
) -> None:
    write(tmp_path / "drill.yaml", drill())
    incidents = tmp_path / "incidents"

    def close() -> None:
        for fd in closed:
            os.close(fd)

    ran = subprocess.run(
        [*aiir_command(), "run", str(tmp_path / "drill.yaml")],
        env=process_env(incidents),
        preexec_fn=close,  # the child closes its own descriptors
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = ran.stderr.decode()
    assert ran.returncode == 2, err
    assert "internal error" not in err
    assert "'triage' needs an answer and there is no terminal" in err
    assert "--answers FILE" in err
    only_incident(incidents)  # opened, and stopped resumably
