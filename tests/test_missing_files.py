"""A path that does not exist is bad input (exit 2, one line naming it), for every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.cli import main


@pytest.mark.parametrize(
    "args",
    [
        ["run", "{missing}"],
        ["graph", "{missing}"],
        ["validate", "{missing}"],
        ["drill", "{missing}"],
        ["tabletop", "{missing}"],
        ["canary", "run", "{missing}"],
    ],
)
def test_a_missing_file_is_bad_input(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-such.yaml")
    status = main([a.format(missing=missing) for a in args])
    err = capsys.readouterr().err
    assert status == 2
    assert "no-such.yaml" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
