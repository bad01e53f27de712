"""``COLUMNS`` too small to draw in (0 from a CI that knows no width, 1, a typo): taken as
unknown, the terminal's own width, else 80. ``aiir drill`` with ``COLUMNS=0`` printed nothing
at all and exited 0; with ``COLUMNS=1``, one corner of its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runs import process_env, run_aiir


@pytest.mark.parametrize("columns", ["0", "1", "19"])
def test_a_width_nothing_fits_in_is_taken_as_unknown(tmp_path: Path, columns: str) -> None:
    env = process_env(tmp_path / "incidents", COLUMNS=columns)
    ran = run_aiir(["drill", "prompt-injection-jailbreak"], env)
    assert ran.returncode == 0, ran.stderr.decode()
    out = ran.stdout.decode()
    assert "1 passed, 0 failed" in out, out
    header = next(line for line in out.splitlines() if "scenario" in line)
    assert "result" in header  # the table drawn at a width it fits in
    assert len(header) <= 80
    assert "nothing sent" in out  # the practice banner, whole
