"""Tables on an 80x24 terminal with a 300,000-character value in a cell (an inventory's model
and provider are free text): each cell is kept by its ends, so the table stays a few rows per
system instead of tens of thousands; ``--json`` keeps the whole value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from aiir.cli import main
from aiir.terminal.inert import CELL, ends
from tests.respond import aiir, no_terminal

HUGE = "m" * 300_000
WORDS = "p " * 150_000  # a long value of short words: folded, it would be a row per word


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "ws"
    assert main(["init", str(folder)]) == 0
    inventory = yaml.safe_load((folder / "inventory.yaml").read_text(encoding="utf-8"))
    system = inventory["systems"][0]
    system |= {"model": HUGE, "provider": WORDS, "name": "N " * 10_000}
    (folder / "inventory.yaml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    no_terminal(monkeypatch, folder)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    monkeypatch.chdir(folder)
    return folder


def test_the_inventory_table_keeps_a_huge_model_by_its_ends(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    ran = aiir(capsys, "inventory", "show")
    assert ran.status == 0, ran.err
    lines = ran.out.splitlines()
    assert len(lines) < 80, len(lines)
    assert max(len(line) for line in lines) <= 80
    assert "…" in ran.out
    ran = aiir(capsys, "inventory", "show", "--json")
    assert ran.status == 0
    assert json.loads(ran.out)[0]["model"] == HUGE  # the whole of it, for programs


def test_the_gaps_table_stays_short(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    ran = aiir(capsys, "inventory", "check")
    assert ran.status in (0, 1), ran.err
    assert len(ran.out.splitlines()) < 80


@pytest.mark.parametrize("keep", [1, 2, 5, 80, CELL])
def test_a_cell_keeps_its_two_ends_in_the_characters_it_has(keep: int) -> None:
    text = "start" + "x" * 1000 + "end"
    cut = ends(text, keep)
    assert len(cut) == keep
    if keep >= 80:
        assert cut.startswith("start")
        assert cut.endswith("end")
        assert "…" in cut
    assert ends("short", keep if keep >= 5 else 5) == "short"


def test_a_long_runbook_title_is_kept_by_its_ends_in_the_walk_and_in_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 20,000-character title (as long as a runbook's title may be) of short words: the
    walk's first line and show's heading were 250 rows of an 80-column terminal."""
    from tests.incidents import ANSWERS, containment_runbook, write_answers, write_runbook
    from tests.servers import serve_gateway

    no_terminal(monkeypatch)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-master-long-titles-0123")
    runbook = containment_runbook()
    runbook["title"] = "Title " + "T " * 9_990 + "end"
    runbook["nodes"][runbook["start"]]["title"] = "N " * 10_000
    path = write_runbook(tmp_path, runbook)
    answers = write_answers(tmp_path, ANSWERS)
    incidents = tmp_path / "incidents"
    with serve_gateway() as (url, _):
        ran = aiir(capsys, "run", str(path), "-a", str(answers), "--yes", "--gateway",
                   f"gw={url}", "--incident-dir", str(incidents))  # fmt: skip
    assert ran.status == 0, ran.err
    assert len(ran.out) < 20_000, len(ran.out)  # not the titles whole
    (incident,) = [d.name for d in incidents.iterdir()]
    ran = aiir(capsys, "show", incident, "--incident-dir", str(incidents))
    assert ran.status == 0, ran.err
    heading = ran.out.split("runbook contain")[0]
    assert len(heading.splitlines()) <= 5, heading
    assert heading.startswith(f"{incident}  SEV1  Title T")
    assert "end [contained]" in " ".join(heading.split())
    ran = aiir(capsys, "show", incident, "--json", "--incident-dir", str(incidents))
    assert json.loads(ran.out)["title"] == runbook["title"]  # the whole, for programs
