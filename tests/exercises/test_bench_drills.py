"""``bench.drills`` replays, for each example drill, the sandbox's replies to a bare walk of the
same runbook. It stopped with "the bare walk took another path" once a drill's traffic had a
retrieval (two requests before the walk, counted as one), and nothing ran it to notice."""

from __future__ import annotations

from pathlib import Path

from aiir.exercises.drill_report import scenario_files
from bench.drills import ROOT, measure


def test_every_example_drill_is_measured_beside_its_bare_walk(tmp_path: Path) -> None:
    files = scenario_files([ROOT / "examples" / "drills"])
    figures = measure(files, tmp_path, repeat=1)
    assert figures["drills"] == len(files) == len(figures["rows"])
    assert all(row["bare_ms"] > 0 for row in figures["rows"])
