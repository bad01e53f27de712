"""``--answers DIR``: the answers file for the runbook walked, from the folder's top level only.

It once searched the folder recursively and took every YAML file in it for an answers file: a
broken YAML file in a subfolder (an old draft, a CI config) stopped the walk with an error about
that file, and a second answers file anywhere below made the folder ambiguous, though the file
named after the runbook was right there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzzing import ROOT
from tests.respond import aiir, no_terminal

Capture = pytest.CaptureFixture[str]
ANSWERS = ROOT / "examples" / "answers" / "prompt-injection.yaml"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)


def _walk(capsys: Capture, folder: Path, tmp_path: Path, *more: str) -> tuple[int, str]:
    args = ["--sandbox", "--yes", "-a", str(folder), "--incident-dir", str(tmp_path / "inc")]
    ran = aiir(capsys, "run", "prompt-injection", *args, *more)
    return ran.status, ran.err


def test_a_broken_file_below_the_folder_is_not_read(tmp_path: Path, capsys: Capture) -> None:
    folder = tmp_path / "answers"
    (folder / "old").mkdir(parents=True)
    (folder / "prompt-injection.yaml").write_text(ANSWERS.read_text())
    (folder / "old" / "broken.yaml").write_text("aiir: 1\nid: [broken\n")
    (folder / "old" / "other.yaml").write_text("intake: something\n")
    status, err = _walk(capsys, folder, tmp_path)
    assert status == 0, err
    assert "broken.yaml" not in err


def test_the_file_named_after_the_runbook_is_chosen(tmp_path: Path, capsys: Capture) -> None:
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "prompt-injection.yaml").write_text(ANSWERS.read_text())
    (folder / "triage.yaml").write_text("intake: unrelated\n")
    (folder / "notes.yml").write_text("{{ not yaml\n")
    status, err = _walk(capsys, folder, tmp_path)
    assert status == 0, err


def test_a_folder_with_one_answers_file_uses_it(tmp_path: Path, capsys: Capture) -> None:
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "mine.yaml").write_text(ANSWERS.read_text())
    status, err = _walk(capsys, folder, tmp_path)
    assert status == 0, err


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ({}, "--answers {folder}: no answers file in this directory"),
        (
            {"a.yaml": "x: 1\n", "b.yaml": "y: 2\n"},
            "--answers {folder}: no prompt-injection.yaml (the answers of runbook "
            "'prompt-injection') in this directory, and 2 other YAML files: a.yaml, b.yaml",
        ),
    ],
    ids=["empty", "ambiguous"],
)
def test_a_folder_without_the_runbooks_answers_is_bad_input(
    files: dict[str, str], said: str, tmp_path: Path, capsys: Capture
) -> None:
    folder = tmp_path / "answers"
    (folder / "deeper").mkdir(parents=True)
    (folder / "deeper" / "prompt-injection.yaml").write_text(ANSWERS.read_text())
    for name, text in files.items():
        (folder / name).write_text(text)
    status, err = _walk(capsys, folder, tmp_path)
    assert status == 2
    assert err.strip().splitlines() == [f"aiir: {said.format(folder=folder)}"]
    assert not (tmp_path / "inc").exists()
