"""The one fake clock of the tests: time stands still until a test, a sleep or a ticking observer
moves it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

START = dt.datetime(2025, 11, 27, 3, 15, tzinfo=dt.UTC)  # in the past: no sandbox log falls in it
Observer = Callable[[str, str], None]


class FakeClock:
    """``now`` is ``moment`` (moved on by ``tick`` at every reading, if given); ``sleep`` is
    recorded and, unless ``sleeps_move`` is false, moves the clock as long as it would have
    slept (a retry's backoff)."""

    def __init__(
        self,
        moment: dt.datetime = START,
        *,
        tick: dt.timedelta = dt.timedelta(),
        sleeps_move: bool = True,
    ) -> None:
        self.moment = moment
        self.tick = tick
        self.sleeps_move = sleeps_move
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        self.moment += self.tick
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.sleeps_move:
            self.moment += dt.timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)

    def ticking(self, minutes: float = 1.0, at: Mapping[str, float] | None = None) -> Observer:
        """An observer that moves the clock on as each node is entered (``at``: per node id)."""

        def tick(runbook: str, node: str) -> None:
            self.advance(minutes=(at or {}).get(node, minutes))

        return tick
