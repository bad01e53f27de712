"""validate warns (never errs) about a pattern that repeats a repeat, like ``(a+)+``."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.formats.patterns import nested_quantifier
from aiir.validate.documents import validate_paths
from tests.canaries import write_suite
from tests.helpers import write
from tests.incidents import containment_runbook


@pytest.mark.parametrize(
    ("pattern", "nested"),
    [
        ("^(a+)+$", True),
        ("(a*)*b", True),
        (r"(?:\w+)*$", True),
        ("((a+))+", True),
        ("x(a(b+)+)y", True),
        (r"(\d+\.)+\d+", False),  # separated repeats backtrack only linearly
        ("^sk-[A-Za-z0-9]+$", False),
        ("(a+){2}", False),  # bounded outer repeat
        ("(a++)+", False),  # possessive inner repeat
        ("[(]+", False),
        ("(", False),  # invalid: the validator's error, not this warning's
    ],
)
def test_nested_quantifiers(pattern: str, nested: bool) -> None:
    assert nested_quantifier(pattern) is nested


def test_a_nested_quantifier_is_a_warning_at_the_pattern(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = containment_runbook()
    data["inputs"]["alias"] = {"description": "Key alias", "pattern": "^(a+)+$", "required": False}
    data["nodes"]["ask"] = {
        "kind": "input",
        "title": "Ask",
        "prompt": "Which?",
        "pattern": r"(?:\w+)*$",
        "hint": "a word",
        "next": data["start"],
    }
    text = write(Path("rb.yaml"), data)
    report = validate_paths(["rb.yaml"])
    slow = [f for f in report.findings if "repeats a repeat" in f.render()]
    assert [f.level for f in slow] == ["warning", "warning"]
    lines = text.splitlines()
    for finding, shown in zip(slow, ["'^(a+)+$'", r"'(?:\\w+)*$'"], strict=True):
        rendered = finding.render()
        assert shown in rendered
        line = int(rendered.split(":")[1])
        assert "pattern:" in lines[line - 1]
    assert not [f for f in report.findings if f.level == "error"]


def test_a_canary_regex_with_a_nested_quantifier_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prompts = [
        {"id": "p", "prompt": "Hi", "assert": [{"type": "not-regex", "value": "^(a+)+$"}]},
        {"id": "q", "prompt": "Hi", "assert": [{"type": "regex", "value": r"(\d+\.)+"}]},
    ]
    write_suite(tmp_path / "suite.yaml", canary_token=False, prompts=prompts)
    report = validate_paths(["suite.yaml"])
    slow = [f.render() for f in report.findings if "repeats a repeat" in f.render()]
    assert len(slow) == 1, slow
    assert slow[0].startswith("suite.yaml:")
    assert "warning" in slow[0]
    assert "'^(a+)+$'" in slow[0]
    assert not [f for f in report.findings if f.level == "error"]
