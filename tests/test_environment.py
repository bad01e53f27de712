"""The system clock sleeps any span a runbook or a flag may state, without an internal error."""

from __future__ import annotations

import math
import time

import pytest

from aiir.environment import MAX_SLEEP, SystemClock


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
