"""A scenario's traffic happens before the walk, so the evidence the runbook captures holds it."""

from __future__ import annotations

import json
from pathlib import Path

from aiir.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_scenario_traffic_is_in_the_captured_gateway_logs(tmp_path: Path) -> None:
    incidents = tmp_path / "incidents"
    scenario = ROOT / "examples" / "drills" / "prompt-injection.yaml"
    assert main(["drill", str(scenario), "--incident-dir", str(incidents)]) == 0
    (incident,) = incidents.iterdir()
    (before,) = (incident / "evidence").glob("capture.gateway-logs.before.*.json")
    logs = json.loads(before.read_text(encoding="utf-8"))
    prompts = [entry["prompt"] for entry in logs]
    assert any("Ignore all previous instructions" in p for p in prompts)
    assert all("Developer mode enabled" in entry["response"] for entry in logs)  # the fault
