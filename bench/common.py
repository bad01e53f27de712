"""Pieces the benchmarks share."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Callable, Iterator, Mapping

Sample = tuple[float, float]  # wall seconds, CPU seconds


def interleaved(works: Mapping[str, Callable[[], Sample]], repeat: int) -> dict[str, list[Sample]]:
    """Each timed piece of work ``repeat`` times, taking turns, so that noise falls on all alike."""
    samples: dict[str, list[Sample]] = {label: [] for label in works}
    for _ in range(repeat):
        for label, work in works.items():
            samples[label].append(work())
    return samples


def medians(samples: list[Sample]) -> Sample:
    """The median wall time and the median CPU time."""
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


@contextlib.contextmanager
def fsync_off() -> Iterator[None]:
    """The same writes, not waited for: what is left is the program's own time."""
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = real


def compile_aiir() -> None:
    """Write aiir's .pyc files, as installing its wheel does.

    A checkout installed in editable mode compiles each module on first import, and not even that
    when ``PYTHONDONTWRITEBYTECODE`` is set (as on some CI machines): every timed run would then
    pay ~50 ms of compiling that no installed aiir pays, while its peers come from site-packages,
    compiled. ``compileall`` writes the files whatever that variable says.
    """
    import compileall
    from pathlib import Path

    import aiir

    compileall.compile_dir(Path(aiir.__file__).parent, quiet=1)
