"""Fixtures the engine's tests share: a real loopback receiver and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.receiver import Receiver, serve_receiver
from tests.respond import freeze, no_terminal
from tests.support.clock import FakeClock


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on loopback that answers as each test scripts it."""
    with serve_receiver() as served:
        yield served


@pytest.fixture
def clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """As in CI (no terminal), on a fake clock every command reads; incidents under tmp_path."""
    no_terminal(monkeypatch)
    clock = FakeClock()
    freeze(monkeypatch, clock)
    monkeypatch.setenv("AIIR_INCIDENT_DIR", str(tmp_path / "incidents"))
    return clock
