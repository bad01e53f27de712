"""A folder in which no folder can be made though it exists (procfs answers ENOENT to mkdir):
an incident cannot be opened there, said so, once. It was taken for another opening that had
just removed ``.opening``, tried a hundred times, and said "no free incident id; try again"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from aiir.errors import InputError
from aiir.incident.opening import staged_incident

PROC = Path("/proc/1")


@pytest.mark.skipif(not PROC.is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_folder_is_said_as_such() -> None:
    with pytest.raises(InputError) as raised:
        staged_incident(PROC, dt.datetime(2026, 12, 7, 15, 5, tzinfo=dt.UTC))
    assert str(raised.value) == "/proc/1: cannot keep incidents here: No such file or directory"
