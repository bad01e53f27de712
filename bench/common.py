"""Pieces the benchmarks share."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def fsync_off() -> Iterator[None]:
    """The same writes, not waited for: what is left is the program's own time."""
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = real
