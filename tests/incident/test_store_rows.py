"""The store's rows checked against the head its incidents table names (no database needed:
the check is on what one snapshot read)."""

from __future__ import annotations

import time

import pytest

from aiir.incident.store_rows import StoreLostRows, checked

HEAD = "f" * 64


def rows(*seqs: int, last: str = HEAD) -> list[tuple[int, str, bytes]]:
    return [(s, last if i == len(seqs) - 1 else "a" * 64, b"{}\n") for i, s in enumerate(seqs)]


def check(head: int, found: list[tuple[int, str, bytes]], after: int = 1, known: int = 0) -> str:
    with pytest.raises(StoreLostRows) as caught:
        checked("INC-1", "postgresql://db/x", (head, HEAD), found, after, known)
    return str(caught.value)


def test_rows_that_reach_the_head_pass() -> None:
    assert checked("INC-1", "db", (3, HEAD), rows(1, 2, 3), 1) == rows(1, 2, 3)
    assert checked("INC-1", "db", (3, HEAD), [], 4) == []  # nothing new after the head
    assert checked("INC-1", "db", (0, HEAD), [], 1) == []  # registered, no line yet


def test_what_is_gone_is_named() -> None:
    assert "line 3 is gone (2 of lines 1 to 2 are there)" in check(3, rows(1, 2))
    assert "lines 2 to 3 are gone" in check(3, rows(1))
    assert "2 lines from line 2 on are gone" in check(5, rows(1, 3, 5))
    assert "it holds no line from 1 on" in check(3, [])
    assert "yet this copy read line 9 from it before" in check(3, rows(1, 2, 3), known=9)
    assert "another hash" in check(2, rows(1, 2, last="b" * 64))
    assert "rows no append wrote" in check(2, [*rows(1, 2), (3, "c" * 64, b"{}\n")])


def test_a_forged_head_a_trillion_lines_on_is_named_at_once() -> None:
    started = time.monotonic()
    message = check(10**12, rows(1, 2))
    assert time.monotonic() - started < 1
    assert f"lines 3 to {10**12} are gone" in message
