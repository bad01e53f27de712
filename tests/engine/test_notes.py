"""Notes: ``aiir note ID TEXT`` from any terminal, even while another process walks the
incident, journalled with the operator, in the timeline of ``aiir show`` and the post-mortem."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import JOURNAL, Journal
from aiir.incident.lock import IncidentLock
from tests.helpers import confirm_runbook, write
from tests.respond import OPERATOR, aiir, journal, no_terminal, of_type
from tests.runs import aiir_command, process_env
from tests.support.clock import START

Capture = pytest.CaptureFixture[str]

RUNBOOK: dict[str, Any] = confirm_runbook("noted", "A runbook to take notes in")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    no_terminal(monkeypatch)


def _incident(tmp_path: Path, capsys: Capture) -> Path:
    write(tmp_path / "rb.yaml", RUNBOOK)
    write(tmp_path / "answers.yaml", {"look": "yes"})
    incidents = tmp_path / "inc"
    ran = aiir(
        capsys,
        "run",
        str(tmp_path / "rb.yaml"),
        "-a",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(incidents),
    )
    assert ran.status == 0, ran.err
    (folder,) = incidents.iterdir()
    return folder


def test_a_note_is_journalled_and_shown_in_the_timeline_and_post_mortem(
    tmp_path: Path, capsys: Capture
) -> None:
    folder = _incident(tmp_path, capsys)
    where = ["--incident-dir", str(folder.parent)]
    ran = aiir(capsys, "note", folder.name, "Legal asked for the raw transcripts", *where)
    assert ran.status == 0, ran.err
    assert f"noted in {folder.name} by {OPERATOR}" in ran.out
    last = journal(folder.parent, folder.name)[-1]
    assert (last.type, last.operator) == ("note", OPERATOR)
    assert last.data == {"text": "Legal asked for the raw transcripts", "by": OPERATOR}
    said = f"Note by {OPERATOR}: Legal asked for the raw transcripts"
    assert said in aiir(capsys, "show", folder.name, *where).out
    assert said in aiir(capsys, "report", folder.name, *where).out
    assert aiir(capsys, "verify", folder.name, *where).status == 0


def test_an_empty_note_is_refused(tmp_path: Path, capsys: Capture) -> None:
    folder = _incident(tmp_path, capsys)
    before = (folder / JOURNAL).read_bytes()
    ran = aiir(capsys, "note", folder.name, "   ", "--incident-dir", str(folder.parent))
    assert ran.status == 2
    assert "a note needs some text" in ran.err
    assert (folder / JOURNAL).read_bytes() == before


@pytest.mark.parametrize(
    "text", ["\x1b[31m\x1b[0m", "\x1b]0;title\x07", "\u202e\u200f", "\x07\x08"]
)
def test_a_note_of_only_escape_codes_is_refused(tmp_path: Path, capsys: Capture, text: str) -> None:
    """It would show as an empty note on every screen and report."""
    folder = _incident(tmp_path, capsys)
    before = (folder / JOURNAL).read_bytes()
    ran = aiir(capsys, "note", folder.name, text, "--incident-dir", str(folder.parent))
    assert ran.status == 2
    assert "a note needs some text" in ran.err
    assert (folder / JOURNAL).read_bytes() == before


def test_notes_from_other_processes_join_a_walker_s_chain(tmp_path: Path, capsys: Capture) -> None:
    """A walker holds the incident and appends; four ``aiir note`` processes at once append
    beside it: every note is in, in one unbroken chain, and the walker took them in."""
    folder = _incident(tmp_path, capsys)
    lock = IncidentLock(folder, folder.name, "walker", START.isoformat())
    lock.acquire()
    walker = Journal(folder, "walker", lambda: "2026-11-27T03:15:02.000Z", lambda t: t, lock=lock)
    try:
        walker.load()
        env = process_env(folder.parent)
        notes = [
            subprocess.Popen(
                [*aiir_command(), "note", folder.name, f"note {i}"],
                env={**env, "AIIR_OPERATOR": f"scribe-{i}"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for i in range(4)
        ]
        for i in range(20):  # the walker goes on meanwhile
            walker.write("reminder", {"what": f"walker {i}"})
        results = [p.communicate(timeout=60) for p in notes]
        assert [p.returncode for p in notes] == [0, 0, 0, 0], results
        walker.write("reminder", {"what": "after the notes"})
        taken = walker.take_foreign()
    finally:
        walker.close()
    events = journal(folder.parent, folder.name)  # asserts the chain and shapes verify
    noted = of_type(events, "note")
    assert sorted(n["text"] for n in noted) == [f"note {i}" for i in range(4)]
    assert sorted(e.operator for e in events if e.type == "note") == [
        f"scribe-{i}" for i in range(4)
    ]
    assert len(of_type(events, "reminder")) == 21
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert sorted(e.data["text"] for e in taken) == [f"note {i}" for i in range(4)]
    assert aiir(capsys, "verify", folder.name, "--incident-dir", str(folder.parent)).status == 0
