"""A runbook's pattern meets the operator's answer in bounded time.

``^(a+)+$`` against ``'a' * 40 + '!'`` backtracks for ever under Python's ``re``; ``(a|aa)+$``
against 61 characters takes the ``regex`` package past its time limit too. Every walk here runs in
a child process with a timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.incidents import write_answers, write_runbook
from tests.runs import process_env, run_aiir

NESTED = "^(a+)+$"  # catastrophic under re; regex's own optimisations answer it at once
SLOW = "(a|aa)+$"  # past the time limit under regex as well
HOSTILE = "a" * 40 + "!"


def _runbook(pattern: str) -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "patterned",
        "title": "A patterned input",
        "owner": "security",
        "severity": "SEV3",
        "tags": {"owasp": ["LLM01:2025"]},
        "inputs": {"model": {"description": "Model group", "pattern": pattern, "required": False}},
        "start": "ask",
        "nodes": {
            "ask": {
                "kind": "input",
                "title": "Ask",
                "prompt": "Which key?",
                "pattern": pattern,
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def _lines(ran: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [
        line
        for line in ran.stderr.decode().splitlines() + ran.stdout.decode().splitlines()
        if line.strip()
    ]


@pytest.mark.parametrize("pattern", [NESTED, SLOW])
def test_an_answer_file_value_against_a_catastrophic_pattern_does_not_hang(
    tmp_path: Path, pattern: str
) -> None:
    runbook = write_runbook(tmp_path, _runbook(pattern))
    answers = write_answers(tmp_path, {"ask": HOSTILE + ("a" * 20 if pattern == SLOW else "")})
    ran = run_aiir(["run", str(runbook), "--answers", str(answers)], process_env(tmp_path / "i"))
    text = "\n".join(_lines(ran))
    assert ran.returncode == 2, text
    assert "Traceback" not in text
    assert "internal error" not in text.lower()
    assert not (tmp_path / "i").exists() or not any((tmp_path / "i").iterdir())
    if pattern == SLOW:
        assert "took too long to match" in text


def test_a_set_value_against_a_slow_pattern_is_refused_in_one_line(tmp_path: Path) -> None:
    runbook = write_runbook(tmp_path, _runbook(SLOW))
    answers = write_answers(tmp_path, {"ask": "aa"})
    value = "a" * 60 + "!"
    ran = run_aiir(
        ["run", str(runbook), "--set", f"model={value}", "--answers", str(answers)],
        process_env(tmp_path / "i"),
    )
    text = "\n".join(_lines(ran))
    assert ran.returncode == 2, text
    assert "--set model" in text, text
    assert "took too long to match" in text, text
    assert "Traceback" not in text


def test_the_walks_own_check_refuses_an_answer_whose_match_takes_too_long() -> None:
    """The interactive prompt's check (what a typed answer meets), in a child process."""
    script = f"""
from aiir.engine.frames import input_check
from aiir.formats.schema import InputNode
node = InputNode.model_validate({{"kind": "input", "title": "Ask", "prompt": "?",
                                  "pattern": {SLOW!r}, "hint": "a key", "next": "done"}})
check = input_check(node)
print(check("a" * 60 + "!"))
print(check("aaaa"))
node = InputNode.model_validate({{"kind": "input", "title": "Ask", "prompt": "?",
                                  "pattern": {NESTED!r}, "hint": "a key", "next": "done"}})
print(input_check(node)({HOSTILE!r}))
"""
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert ran.returncode == 0, ran.stderr
    slow, good, nested = ran.stdout.splitlines()
    assert "took too long to match" in slow
    assert SLOW in slow
    assert good == "None"
    assert nested == "expected a key"
