"""The keyboard between questions: keys typed while nothing is asked answer nothing, and are
not echoed either (a ``y`` and a key typed while a request is in flight would stand on the
screen under the question as if they had answered it)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def unechoed() -> Iterator[None]:
    """While the body runs, the terminal does not echo what is typed (the keys are dropped
    before the next question: ``prompter.discard_typeahead``); the terminal's own settings are
    put back after it, whatever happens. Not a terminal: nothing to do."""
    import termios

    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        foreground = os.tcgetpgrp(fd) == os.getpgrp()
    except (AttributeError, OSError, ValueError, termios.error):  # a pipe, /dev/null, closed
        foreground = False
    if not foreground:  # a run in the background (`&`) would be stopped for touching it
        yield
        return
    quiet = list(saved)
    quiet[3] = saved[3] & ~(termios.ECHO | termios.ECHONL)  # the local modes, without echo
    with contextlib.suppress(OSError, termios.error):
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
