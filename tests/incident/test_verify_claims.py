"""What ``aiir verify`` says is what it can know: a chain read alone shows a journal consistent,
never intact, because lines cut from its end or a chain made again whole read the same; only an
anchor kept elsewhere proves it, and then it says intact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.incident.journal import GENESIS, JOURNAL, Event, chain_hash
from aiir.incident.state import Incident
from aiir.incident.store import line_of
from tests.incidents import walked_containment


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    return walked_containment(tmp_path_factory.mktemp("claims"))


@pytest.fixture
def incident(finished: Incident, tmp_path: Path) -> Path:
    copy = tmp_path / "incidents" / finished.id
    shutil.copytree(finished.directory, copy)
    return copy


def verify_cli(
    directory: Path, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, str, str]:
    status = main(["verify", directory.name, "--incident-dir", str(directory.parent), *flags])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def head_anchor(directory: Path) -> str:
    last = json.loads((directory / JOURNAL).read_bytes().splitlines()[-1])
    return f"{last['seq']}:{last['hash']}"


def rechained(directory: Path, edit_line: int, summary: str) -> None:
    """The journal written again whole: one line's text changed and every hash made anew, as
    whoever can write the file can do."""
    prev, out = GENESIS, []
    for number, raw in enumerate((directory / JOURNAL).read_bytes().splitlines(), start=1):
        record = json.loads(raw)
        del record["hash"]
        if number == edit_line:
            record["data"]["summary"] = summary
        record["prev"] = prev
        event = Event(**record, hash=chain_hash(record))
        out.append(line_of(event))
        prev = event.hash
    (directory / JOURNAL).write_bytes(b"".join(out))


def test_without_an_anchor_verify_says_consistent_and_what_it_cannot_tell(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = verify_cli(incident, capsys)
    assert status == 0, err
    assert "intact" not in out
    first, hint, anchor = out.splitlines()
    assert first.startswith(f"{incident.name}: journal chain and evidence consistent (")
    assert "no anchor given" in hint
    assert "--anchor" in hint
    assert anchor == f"anchor: {head_anchor(incident)}"


def test_with_the_head_anchored_verify_says_intact(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = verify_cli(incident, capsys, "--anchor", head_anchor(incident))
    assert status == 0, err
    assert out.splitlines()[0] == f"{incident.name}: journal chain and evidence intact"
    assert "no anchor given" not in out


def test_lines_cut_at_a_line_end_are_not_called_intact_and_the_anchor_catches_them(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = head_anchor(incident)
    journal = incident / JOURNAL
    journal.write_bytes(b"".join(journal.read_bytes().splitlines(keepends=True)[:-1]))
    status, out, _ = verify_cli(incident, capsys)
    assert status == 0
    assert "intact" not in out
    assert "no anchor given" in out
    status, out, err = verify_cli(incident, capsys, "--anchor", kept)
    assert status == 1
    assert "lines were cut from its end" in err
    assert "intact" not in out


def test_a_journal_written_again_whole_is_not_called_intact_and_the_anchor_catches_it(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = head_anchor(incident)
    lines = (incident / JOURNAL).read_bytes().splitlines()
    rechained(incident, len(lines), "nothing happened")
    status, out, _ = verify_cli(incident, capsys)
    assert status == 0
    assert "intact" not in out
    assert "no anchor given" in out
    status, out, err = verify_cli(incident, capsys, "--anchor", kept)
    assert status == 1
    assert f"line {len(lines)} has hash" in err
    assert "intact" not in out
