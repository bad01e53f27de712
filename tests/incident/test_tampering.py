"""Tampering that leaves every hash as it was: the bytes around an event, a key named twice,
the incident's folder, the kind of file an event vouches for. ``aiir verify`` names each."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.incident.journal import JOURNAL, verify
from aiir.incident.state import Incident
from tests.incidents import copy_incident, walked_containment


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


# --- the files the journal vouches for ---------------------------------------------------------


def evidence(directory: Path) -> list[Path]:
    return sorted((directory / "evidence").iterdir())


def named_on(directory: Path, relative: str) -> int:
    """The line number (seq) of the event that vouches for ``relative``."""
    return next(n for n, line in enumerate(lines(directory), 1) if relative.encode() in line)


def test_evidence_replaced_by_a_link_to_the_same_bytes_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = evidence(incident)[0]
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes(file.read_bytes())  # the hash still matches: only the kind of file tells
    file.unlink()
    file.symlink_to(outside)
    relative = file.relative_to(incident).as_posix()
    assert verify(incident) == [
        f"evidence {relative}: a symbolic link, not the file itself (named on line "
        f"{named_on(incident, relative)})"
    ]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert "Traceback" not in output


def test_an_evidence_folder_that_is_a_link_is_named_for_each_file(
    incident: Path, tmp_path: Path
) -> None:
    folder = incident / "evidence"
    shutil.copytree(folder, tmp_path / "elsewhere")
    shutil.rmtree(folder)
    folder.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    problems = verify(incident)
    assert len(problems) == 2
    assert all("in evidence/, a symbolic link, not a folder of the incident" in p for p in problems)


def test_a_runbook_copy_replaced_by_a_link_is_named(incident: Path, tmp_path: Path) -> None:
    copy = incident / "runbooks" / "contain.yaml"
    outside = tmp_path / "contain.yaml"
    outside.write_bytes(copy.read_bytes())
    copy.unlink()
    copy.symlink_to(outside)
    assert verify(incident) == [
        "runbook snapshot runbooks/contain.yaml: a symbolic link, not the file itself (named on "
        "line 1)"
    ]


@pytest.mark.parametrize(
    ("make", "kind"),
    [(Path.mkdir, "a folder"), (os.mkfifo, "a named pipe")],
    ids=["folder", "fifo"],
)
def test_evidence_replaced_by_what_is_not_a_file_is_named_as_such(
    incident: Path, make: object, kind: str
) -> None:
    file = evidence(incident)[0]
    file.unlink()
    make(file)  # type: ignore[operator]
    relative = file.relative_to(incident).as_posix()
    assert verify(incident) == [
        f"evidence {relative}: not a file ({kind}) (named on line {named_on(incident, relative)})"
    ]


def test_a_journal_that_is_a_link_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    journal = incident / JOURNAL
    outside = tmp_path / "journal.jsonl"
    outside.write_bytes(journal.read_bytes())
    journal.unlink()
    journal.symlink_to(outside)
    assert verify(incident) == [
        "journal.jsonl: a symbolic link, not the journal itself (a copy of the incident leaves it "
        "out, and it can be changed from elsewhere)"
    ]
    shown = main(["show", incident.name, "--incident-dir", str(incident.parent)])
    assert shown == 1
    assert "a symbolic link, not the journal itself" in capsys.readouterr().err


# --- the incident's folder -------------------------------------------------------------------


def elsewhere(found: str, folder: str) -> str:
    return (
        f"line 1: opens incident {found!r}, not {folder!r}, the folder it is in (the folder was "
        "renamed, or another incident's journal was copied in)"
    )


def test_a_renamed_incident_folder_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = incident.rename(incident.parent / "INC-20200101-000000-0000")
    assert verify(renamed) == [elsewhere(incident.name, renamed.name)]
    status, output = verify_cli(renamed, capsys)
    assert status == 1
    assert "Traceback" not in output
    for command in ("show", "report", "export"):
        assert main([command, renamed.name, "--incident-dir", str(renamed.parent)]) == 1
        assert "the folder was renamed" in capsys.readouterr().err


def test_another_incidents_journal_copied_in_is_named(tmp_path: Path, incident: Path) -> None:
    other = walked_containment(tmp_path / "other").directory
    shutil.copy(other / JOURNAL, incident / JOURNAL)  # it chains, and so do its files' hashes
    (incident / "evidence").rename(incident / "old-evidence")
    shutil.copytree(other / "evidence", incident / "evidence")
    assert verify(incident) == [elsewhere(other.name, incident.name)]


def test_a_second_incident_made_from_a_copy_verifies(finished: Incident, tmp_path: Path) -> None:
    second = copy_incident(finished.directory, tmp_path / "INC-20200101-000000-0000")
    assert verify(second) == []


# --- files no line names -----------------------------------------------------------------------


def unnamed(relative: str) -> str:
    return (
        f"{relative}: named by no line of the journal (added; or written by a walk stopped "
        "before the line that names it: aiir resume writes that line)"
    )


@pytest.mark.parametrize("relative", ["evidence/planted.json", "runbooks/planted.yaml"])
def test_a_file_added_beside_the_evidence_or_runbook_copies_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str], relative: str
) -> None:
    (incident / relative).write_text("{}")
    assert verify(incident) == [unnamed(relative)]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert f"journal.jsonl: {unnamed(relative)}" in output


def test_a_file_a_stopped_walk_left_unnamed_is_named_and_the_walk_resumes(
    incident: Path,
) -> None:
    from aiir.incident.journal import Journal

    cut = lines(incident)
    stored = max(n for n, line in enumerate(cut) if b'"type":"capture.stored"' in line)
    rewrite(incident, cut[:stored])  # killed after the evidence file, before its line
    (left,) = [p for p in evidence(incident) if p.name.encode() not in b"".join(cut[:stored])]
    assert verify(incident) == [unnamed(left.relative_to(incident).as_posix())]
    journal = Journal(incident, "tester", lambda: "2026-12-07T00:00:00.000Z", str)
    journal.load()  # what resume reads first: a file no line names does not stop it
    journal.close()


def test_an_evidence_folder_replaced_by_a_file_is_named_as_such(incident: Path) -> None:
    shutil.rmtree(incident / "evidence")
    (incident / "evidence").write_text("{}")
    problems = verify(incident)
    assert len(problems) == 2
    assert all("in evidence/, not a folder (a file)" in p for p in problems), problems


# --- the journal itself gone ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "show", "resume", "note"])
def test_a_deleted_journal_is_named_not_an_unknown_incident(
    incident: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    (incident / JOURNAL).unlink()
    args = [command, incident.name, *(["a note"] if command == "note" else [])]
    status = main([*args, "--incident-dir", str(incident.parent)])
    assert status == 1
    assert capsys.readouterr().err == (
        f"aiir: {incident / JOURNAL}: missing, though the incident's evidence or runbook copy is "
        "there (the journal was deleted, or its walk stopped before writing its first line)\n"
    )


def test_a_journal_replaced_by_a_folder_is_named(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (incident / JOURNAL).unlink()
    (incident / JOURNAL).mkdir()
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert (
        output == f"aiir: {incident / JOURNAL}: not a file: the incident's journal was replaced\n"
    )


def test_a_folder_with_nothing_of_an_incident_is_no_incident(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "INC-20200101-000000-0000" / "evidence").mkdir(parents=True)
    status = main(["verify", "INC-20200101-000000-0000", "--incident-dir", str(tmp_path)])
    assert status == 2
    assert "no incident 'INC-20200101-000000-0000'" in capsys.readouterr().err


def test_lines_cut_from_the_end_through_a_capture_leave_its_file_named(incident: Path) -> None:
    cut = lines(incident)
    stored = max(n for n, line in enumerate(cut) if b'"type":"capture.stored"' in line)
    rewrite(incident, cut[:stored])  # the capture's line and all after it, no anchor at hand
    (problem,) = verify(incident)
    assert problem.startswith("evidence/")
    assert "named by no line of the journal" in problem


# --- hard links: one file under two names ----------------------------------------------------


HARD = "a hard link, one file under two names (a write through the other name changes it)"


def test_evidence_with_a_second_name_is_named(
    incident: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same bytes, same inode: only the link count tells that a write elsewhere changes it."""
    file = evidence(incident)[0]
    os.link(file, tmp_path / "second-name.json")
    relative = file.relative_to(incident).as_posix()
    assert verify(incident) == [
        f"evidence {relative}: {HARD} (named on line {named_on(incident, relative)})"
    ]
    status, output = verify_cli(incident, capsys)
    assert status == 1
    assert "Traceback" not in output


def test_a_runbook_copy_with_a_second_name_is_named(incident: Path) -> None:
    copy = incident / "runbooks" / "contain.yaml"
    os.link(copy, incident / "evidence" / "..contain")  # inside the incident, as well
    problems = verify(incident)
    assert f"runbook snapshot runbooks/contain.yaml: {HARD} (named on line 1)" in problems


def test_a_journal_with_a_second_name_is_named(incident: Path, tmp_path: Path) -> None:
    os.link(incident / JOURNAL, tmp_path / "journal-elsewhere.jsonl")
    assert verify(incident) == [f"journal.jsonl: {HARD}"]
