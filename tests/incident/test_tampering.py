"""Tampering that leaves every hash as it was: the bytes around an event, a key named twice,
the incident's folder, the kind of file an event vouches for. ``aiir verify`` names each."""

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
    return walked_containment(tmp_path_factory.mktemp("tampering"))


@pytest.fixture
def incident(finished: Incident, tmp_path: Path) -> Path:
    copy = tmp_path / "incidents" / finished.id
    shutil.copytree(finished.directory, copy)
    return copy


def lines(directory: Path) -> list[bytes]:
    return (directory / JOURNAL).read_bytes().splitlines(keepends=True)


def rewrite(directory: Path, new_lines: list[bytes]) -> None:
    (directory / JOURNAL).write_bytes(b"".join(new_lines))


def verify_cli(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["verify", directory.name, "--incident-dir", str(directory.parent)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


# --- the bytes of a line ---------------------------------------------------------------------


AROUND = "white space or a carriage return around its event (the line was edited)"


@pytest.mark.parametrize(
    "edit",
    [
        lambda line: line[:-1] + b"\r\n",
        lambda line: line[:-1] + b" \n",
        lambda line: b"\t" + line,
    ],
    ids=["crlf", "trailing-space", "leading-tab"],
)
def test_white_space_around_one_event_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str], edit: object
) -> None:
    edited = lines(incident)
    edited[5] = edit(edited[5])  # type: ignore[operator]
    rewrite(incident, edited)
    assert verify(incident) == [f"line 6: {AROUND}"]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert f"journal.jsonl: line 6: {AROUND}" in output
    assert "Traceback" not in output


def test_a_journal_saved_with_crlf_line_endings_is_named_line_by_line(incident: Path) -> None:
    rewrite(incident, [line[:-1] + b"\r\n" for line in lines(incident)])
    problems = verify(incident)
    assert problems == [f"line {n}: {AROUND}" for n in range(1, len(lines(incident)) + 1)]


@pytest.mark.parametrize(
    ("number", "key", "first"),
    [(1, "operator", "mallory"), (8, "value", "false")],
    ids=["line-field", "data-key"],
)
def test_a_key_named_twice_is_named_even_when_the_value_hashed_is_the_last(
    incident: Path, capsys: pytest.CaptureFixture[str], number: int, key: str, first: str
) -> None:
    edited = lines(incident)
    line = edited[number - 1]
    at = line.index(f'"{key}":'.encode())
    value = f'"{first}"' if key == "operator" else first
    edited[number - 1] = line[:at] + f'"{key}":{value},'.encode() + line[at:]
    rewrite(incident, edited)
    assert verify(incident) == [
        f"line {number}: not a journal event (the key {key!r} twice in one object: readers "
        "would disagree on its value)"
    ]  # one problem: the chain is followed through the line
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert "Traceback" not in output
    shown = main(["show", incident.name, "--incident-dir", str(incident.parent)])
    assert shown == 1
    assert f"line {number}: not a journal event (the key" in capsys.readouterr().err
