"""A statement to the shared store that gets no answer in time is given up.

A network that loses every packet (a split where nothing says the connection is gone) leaves a
PostgreSQL client waiting for ever on a statement it has sent. A walker waiting there neither
sends nor says anything while another responder takes the incident over. :func:`answered_within`
shuts the connection's socket down once the deadline passes, so the statement fails
(psycopg's ``OperationalError``) and the walk treats the store as away: its outbox, and past its
lease, the question before each request.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Protocol


class HasSocket(Protocol):
    def fileno(self) -> int: ...


class Watch:
    """Whether the deadline passed (the connection was cut off by it)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.fired = False

    def why(self, reason: str) -> str:
        """The failure's reason, as the deadline made it."""
        return f"no answer within {self.seconds:g} s" if self.fired else reason

    def shut(self, descriptor: int) -> None:
        self.fired = True
        with suppress(OSError):
            sock = socket.socket(fileno=os.dup(descriptor))
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()


@contextmanager
def answered_within(connection: HasSocket, seconds: float | None) -> Iterator[Watch]:
    """What runs inside, cut off (its connection's socket shut down) after ``seconds``; None:
    no deadline."""
    watch = Watch(seconds)
    try:
        descriptor = os.dup(connection.fileno()) if seconds is not None else -1
    except (OSError, ValueError, AttributeError):  # closed already: the statement fails anyway
        descriptor = -1
    if descriptor < 0:
        yield watch
        return
    assert seconds is not None
    watchdog = threading.Timer(seconds, watch.shut, args=(descriptor,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield watch
    finally:
        watchdog.cancel()
        watchdog.join()
        os.close(descriptor)
