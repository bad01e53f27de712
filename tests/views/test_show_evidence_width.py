"""``aiir show`` at 80 columns: each evidence file and its SHA-256 whole, folded over lines
(they were cut with an ellipsis: a file nobody could open by its name, a hash nobody could
compare)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.incident.events import EvidenceRef
from tests.incidents import walked_containment
from tests.support.cli import run_cli


def test_show_folds_evidence_files_and_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = walked_containment(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    shown = run_cli(capsys, "show", incident.id, "--incident-dir", str(tmp_path / "incidents"))
    assert shown.status == 0, shown.err
    table = shown.out[shown.out.index("Evidence") :]
    cells: dict[int, str] = {}
    for line in table.splitlines():
        if line.startswith("│"):
            for column, cell in enumerate(line.strip("│").split("│")):
                cells[column] = cells.get(column, "") + cell.strip()
    refs = [EvidenceRef.read(item.get("evidence")) for item in incident.evidence]
    assert refs
    for ref in refs:
        assert ref is not None
        assert ref.file in cells[1], (ref.file, table)
        assert ref.sha256 in cells[2], (ref.sha256, table)
    assert "…" not in table.split("\n\n")[0]
