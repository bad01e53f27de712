"""The system clock sleeps any span a runbook or a flag may state, without an internal error."""

from __future__ import annotations

import math
import time

import pytest

from aiir.environment import MAX_SLEEP, SystemClock, default_operator
from aiir.errors import InputError


def test_time_sleep_refuses_the_longest_span_a_runbook_may_state() -> None:
    """Control for the test below: 999999d (the format's longest) is more than time.sleep takes."""
    with pytest.raises(OverflowError):
        time.sleep(999_999 * 86_400.0)


def test_a_long_sleep_is_slept_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll every 999999d, or `detect --every 999999d`, ended in an internal error
    (OverflowError: timestamp out of range for platform time_t)."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    SystemClock().sleep(3 * MAX_SLEEP + 5)
    assert slept == [MAX_SLEEP, MAX_SLEEP, MAX_SLEEP, 5]


@pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan])
def test_no_sleep_for_nothing_less_or_not_a_number(
    monkeypatch: pytest.MonkeyPatch, seconds: float
) -> None:
    """time.sleep raises ValueError for a negative span or NaN."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    SystemClock().sleep(seconds)
    assert slept == []


def test_the_operator_is_one_line() -> None:
    """A line break in ``$AIIR_OPERATOR`` (or the login name) printed a line of its own after
    'noted by bob', and went into reports' Markdown as one: it is a space."""
    assert default_operator({"AIIR_OPERATOR": "bob\n\x1b[31mevil\t x"}) == "bob evil x"
    assert default_operator({"AIIR_OPERATOR": " \n "}) != ""


def test_an_operator_name_too_long_for_every_line_is_bad_input() -> None:
    with pytest.raises(InputError, match="AIIR_OPERATOR: a name of at most 100 characters"):
        default_operator({"AIIR_OPERATOR": "x" * 300})
