"""A resume or release that sets a cut line aside and then stops on an error still says it set
the line aside: the journal changed (a file moved out of it, a note written) all the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.incident.journal import JOURNAL, verify
from aiir.incident.state import Incident
from tests.incidents import walked_containment


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    return walked_containment(tmp_path_factory.mktemp("cut-told"))


@pytest.fixture
def cut(finished: Incident, tmp_path: Path) -> tuple[Path, int]:
    """The ended incident with a side writer's line cut short at its end (``aiir note`` killed
    mid-write): where the cut starts."""
    copy = tmp_path / "incidents" / finished.id
    shutil.copytree(finished.directory, copy)
    size = (copy / JOURNAL).stat().st_size
    with open(copy / JOURNAL, "ab") as journal:
        journal.write(b'{"data":{"by":"alice","text":"the')
    return copy, size


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["resume"], "already ended (contained); nothing to resume"),
        (["release", "{id}", "nope"], "lever 'nope' is not engaged"),
    ],
    ids=["resume-of-an-ended-incident", "release-of-a-lever-not-engaged"],
)
def test_a_refusal_after_a_cut_line_was_set_aside_says_it_was(
    cut: tuple[Path, int], capsys: pytest.CaptureFixture[str], args: list[str], refusal: str
) -> None:
    directory, size = cut
    argv = [a.format(id=directory.name) for a in args]
    if argv == ["resume"]:
        argv.append(directory.name)
    status = main([*argv, "--incident-dir", str(directory.parent)])
    err = capsys.readouterr().err
    assert status == 2
    assert refusal in err
    part = f"evidence/journal-cut-at-{size}.part"
    assert "the journal's last line was cut short" in err
    assert f"set aside in {part}" in err
    assert len(err.strip().splitlines()) == 1
    assert (directory / part).is_file()
    assert verify(directory) == []  # what it said it did, it did: the note vouches for the file
