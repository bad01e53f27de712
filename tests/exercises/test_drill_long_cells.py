"""A drill whose expectation quotes a 19,000-character value, on an 80x24 terminal: the table
and each problem line stay short (a long value quoted in a problem kept by its two ends), and
the JUnit report keeps the whole of it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from aiir.cli import main
from tests.exercises.test_drills import ROOT

LONG = "c" * 19_000


def test_a_huge_expected_value_is_cut_on_screen_and_whole_in_junit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ROOT / "examples" / "drills" / "hallucination.yaml"
    scenario = yaml.safe_load(source.read_text(encoding="utf-8"))
    scenario["title"] = "T " * 10_000
    scenario["expect"]["notifications"][0]["contains"] = [LONG]
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    junit = tmp_path / "junit.xml"
    capsys.readouterr()
    status = main(
        ["drill", str(path), "--junit", str(junit), "--incident-dir", str(tmp_path / "inc")]
    )
    out = capsys.readouterr().out
    assert status == 1, out
    lines = out.splitlines()
    assert len(lines) < 24, out
    (problem,) = [line for line in lines if line.startswith("  notifications: ")]
    assert len(problem) <= 1000
    assert "'ccc" in problem
    assert "...ccc" in problem  # kept by its two ends
    (failure,) = ET.parse(junit).getroot().findall(".//testcase[@name='notifications']/failure")
    assert LONG in (failure.text or "")  # the whole of it where it matters
