"""The canary failure table on an 80x24 terminal with huge check values (a 300,000-character
``contains``, a ``contains-any`` of 300 long values): each cell is kept by its ends, the table
stays a few rows per failure; ``--json`` keeps each failure's whole detail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from aiir.cli import main
from tests.canary.test_canary import REPO

HUGE = "v " * 150_000
MANY = ["w " * 1_000] * 300


def _suite(tmp_path: Path) -> Path:
    suite = yaml.safe_load(
        (REPO / "examples" / "canaries" / "support-assistant.yaml").read_text(encoding="utf-8")
    )
    prompt = suite["prompts"][0]
    prompt["assert"] = [
        {"type": "contains", "value": HUGE},
        {"type": "contains-any", "value": MANY, "description": "D " * 10_000},
    ]
    prompt["prompt"] = "P " * 10_000
    suite["prompts"] = [prompt]
    suite["repeats"] = 1
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def test_huge_check_values_are_cut_in_the_table_and_whole_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _suite(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    monkeypatch.setenv("GATEWAY_KEY", "k")
    history = ["--history-dir", str(tmp_path / "h")]
    capsys.readouterr()
    assert main(["canary", "run", str(path), "--sandbox", *history]) == 1
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    lines = shown.splitlines()
    assert len(lines) < 60, len(lines)
    assert max(len(line) for line in lines) <= 80
    assert main(["canary", "run", str(path), "--sandbox", "--json", *history]) == 1
    (run,) = json.loads(capsys.readouterr().out)
    details = [f["detail"] for f in run["failures"]]
    assert sum(len(d) for d in details) > 10 * 240  # not cut for programs
