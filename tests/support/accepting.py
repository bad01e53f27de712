"""A raw TCP listener on 127.0.0.1 for the tests' own proxies and odd servers: each connection
handed to a function on a thread of its own, until the listener is stopped."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def accepting(
    handle: Callable[[socket.socket], None], stop: threading.Event, backlog: int = 32
) -> Iterator[int]:
    """Listen on a free loopback port (yielded) and call ``handle(connection)`` on a new thread
    for each connection, until ``stop`` is set; the listener is closed on the way out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    listener.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(client,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
