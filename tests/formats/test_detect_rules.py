"""Detection rules as a document kind: detection, line-precise validation, the JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.formats.kinds import detect_kind
from aiir.validate.documents import validate_paths
from tests.helpers import where, write

REPO = Path(__file__).resolve().parents[2]
Capture = pytest.CaptureFixture[str]


def rules(**change: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "aiir": 1,
        "detect": "llm-errors",
        "prometheus": {"url": "http://127.0.0.1:9090"},
        "alert": {"pagerduty": {"routing_key_env": "PD_KEY"}},
        "rules": [
            {
                "id": "error-rate",
                "query": "rate(errors_total[1m]) / rate(requests_total[1m])",
                "above": 0.05,
                "for": 3,
                "severity": "SEV2",
            },
            {"id": "throughput", "query": "rate(requests_total[1m])", "below": 0.1},
        ],
    }
    data.update(change)
    return data


def test_rules_are_detected_and_valid(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    write(path, rules())
    assert detect_kind(rules()) == "detect"
    report = validate_paths([path])
    assert report.checked == {str(path): "detect"}
    assert report.findings == []


def test_a_rule_needs_exactly_one_comparison(tmp_path: Path) -> None:
    data = rules()
    data["rules"][1]["above"] = 3
    path = tmp_path / "r.yaml"
    text = write(path, data)
    rendered = [f.render() for f in validate_paths([path]).findings]
    line = where(text, "- id: throughput", "id")
    assert rendered == [f"{path}:{line}: error: rules[1]: give exactly one of 'above' or 'below'"]


def test_duplicate_rule_ids_point_at_the_line(tmp_path: Path) -> None:
    data = rules()
    data["rules"][1]["id"] = "error-rate"
    path = tmp_path / "r.yaml"
    text = write(path, data)
    rendered = [f.render() for f in validate_paths([path]).findings]
    line = where(text, "- id: error-rate\n  query: rate(requests", "error-rate")
    assert rendered == [f"{path}:{line}: error: rules[1].id: duplicate rule id 'error-rate'"]


def test_a_zero_for_is_refused_at_its_line(tmp_path: Path) -> None:
    data = rules()
    data["rules"][0]["for"] = 0
    path = tmp_path / "r.yaml"
    text = write(path, data)
    finding = validate_paths([path]).findings[0]
    assert finding.render().startswith(f"{path}:{where(text, 'for: 0', '0')}: error: rules[0].for")


def test_detect_schema_is_current(capsys: Capture) -> None:
    assert main(["schema", "detect"]) == 0
    stored = (REPO / "schemas" / "detect.schema.json").read_text(encoding="utf-8")
    assert stored == capsys.readouterr().out, (
        "regenerate with `aiir schema detect > schemas/detect.schema.json`"
    )
