"""A journal is read line by line, and a line is at most ``MAX_LINE`` bytes: a journal made a
huge sparse file (or with gigabytes appended without an end of line) is named, quickly and in
bounded memory, by every reader; nothing after the over-long line is read. aiir never writes a
line that long, so no journal it wrote is refused for it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.errors import AiirError
from aiir.incident import journal as journal_module
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.journal import JOURNAL, MAX_LINE, Journal, verify
from aiir.incident.state import Incident
from tests.incidents import walked_containment

OVERLONG = "longer than 64 MiB, far more than an aiir event: not an event"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    return walked_containment(tmp_path_factory.mktemp("overlong"))


@pytest.fixture
def incident(finished: Incident, tmp_path: Path) -> Path:
    copy = tmp_path / "incidents" / finished.id
    shutil.copytree(finished.directory, copy)
    return copy


def lines_of(directory: Path) -> int:
    return len((directory / JOURNAL).read_bytes().splitlines())


@pytest.mark.parametrize(
    "grow",
    [
        lambda path: os.truncate(path, 8 * 1024**3),  # 8 GiB of NUL bytes, taking no disk
        lambda path: path.open("ab").write(b'{"data":' + b" " * (MAX_LINE + 10) + b"}\n"),
    ],
    ids=["sparse-8-gib", "one-line-too-long"],
)
@pytest.mark.parametrize("command", ["verify", "show", "resume", "release", "report"])
def test_an_over_long_line_is_named_by_every_reader(
    incident: Path, capsys: pytest.CaptureFixture[str], grow: object, command: str
) -> None:
    last = lines_of(incident)
    grow(incident / JOURNAL)  # type: ignore[operator]
    began = time.monotonic()
    status = main([command, incident.name, "--incident-dir", str(incident.parent)])
    took = time.monotonic() - began
    err = capsys.readouterr().err
    assert status == 1, err
    assert f"line {last + 1}: {OVERLONG}" in err
    assert "Traceback" not in err
    assert took < 20  # the 8 GiB are not read


def test_the_listing_shows_an_incident_with_an_over_long_line_as_tampered(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.truncate(incident / JOURNAL, 8 * 1024**3)
    status = main(["incidents", "--incident-dir", str(incident.parent)])
    out = capsys.readouterr().out
    assert status == 0
    assert "TAMPERED" in out


def test_a_line_just_short_of_the_limit_is_read(
    incident: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    longest = max(map(len, (incident / JOURNAL).read_bytes().splitlines(keepends=True)))
    monkeypatch.setattr("aiir.incident.chain.MAX_LINE", longest + 1)
    assert verify(incident) == []
    monkeypatch.setattr("aiir.incident.chain.MAX_LINE", longest - 1)
    assert any(OVERLONG.split(",")[1] in problem for problem in verify(incident))


def test_aiir_never_writes_a_line_longer_than_it_reads(
    incident: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "MAX_LINE", 4096)
    before = (incident / JOURNAL).read_bytes()
    journal = Journal(incident, "tester", lambda: "2026-12-07T07:00:00.000Z", lambda t: t)
    journal.load()
    with pytest.raises(AiirError, match=r"is more than a journal line holds .*it was not kept"):
        journal.append(EventType.NOTE, payloads.Note(text="x" * 5000, by="tester"))
    journal.close()
    assert (incident / JOURNAL).read_bytes() == before
    assert verify(incident) == []
