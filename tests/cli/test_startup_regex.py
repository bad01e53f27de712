"""``regex`` (bounded-time matching of a document's patterns) is imported only when a pattern is
compiled: ``aiir validate ONE.yaml``, whose runbook has none, paid ~7 ms for it (``bench.startup``)."""

from __future__ import annotations

import pytest

from aiir.formats import patterns
from tests.cli.test_startup import ONE, RUNBOOKS, loaded_by


def test_a_runbook_without_patterns_is_validated_without_regex() -> None:
    assert "regex" not in loaded_by("validate", str(ONE))


def test_a_runbook_with_patterns_still_compiles_them_with_regex() -> None:
    assert "regex" in loaded_by("validate", str(RUNBOOKS / "model-extraction.yaml"))


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("^[a-z]+$", None),
        ("(", "missing ), unterminated subpattern at position 0"),
        ("[z-a]", "bad character range z-a at position 1"),
    ],
)
def test_invalid_says_what_re_says(pattern: str, problem: str | None) -> None:
    assert patterns.invalid(pattern) == problem
