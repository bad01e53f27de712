"""``aiir incidents --watch`` when the shared store stops answering: the local copy is shown as
it was, with one line saying why, and the view goes on (no traceback, no exit)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from aiir.environment import Environment
from aiir.incident.postgres import StoreUnavailable
from aiir.views.watch import watch_incidents


def test_the_listing_goes_on_from_the_local_copy_while_the_store_is_away(tmp_path: Path) -> None:
    screen = io.StringIO()
    env = Environment(console=Console(file=screen, width=100), incidents_dir=tmp_path)
    answers = iter([StoreUnavailable("the incident store postgresql://***@db/x does not answer")])
    looks = []

    def refresh() -> None:
        looks.append(1)
        problem = next(answers, None)
        if problem is not None:
            raise problem

    def sleep(_: float) -> None:
        if len(looks) >= 2:
            raise KeyboardInterrupt

    watch_incidents(env, sleep=sleep, refresh=refresh)
    shown = screen.getvalue()
    assert "does not answer; the local copy as it was:" in shown
    assert shown.count("no open incidents") == 2  # drawn again once the store is back
    assert shown.rstrip().endswith("stopped watching the incidents (Ctrl-C)")


def test_a_store_that_stays_away_is_said_once_per_change(tmp_path: Path) -> None:
    screen = io.StringIO()
    env = Environment(console=Console(file=screen, width=100), incidents_dir=tmp_path)
    looks = []

    def refresh() -> None:
        looks.append(1)
        raise StoreUnavailable("the incident store postgresql://***@db/x does not answer")

    def sleep(_: float) -> None:
        if len(looks) >= 3:
            raise KeyboardInterrupt

    watch_incidents(env, sleep=sleep, refresh=refresh)
    assert screen.getvalue().count("does not answer") == 1
