"""A TCP proxy on 127.0.0.1 in front of a server (PostgreSQL), standing for ONE machine's network
path to it: ``cut()`` drops every connection through it and refuses new ones (a network split:
this machine cannot reach the database, while others, connecting directly, still do);
``mend()`` lets connections through again."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from tests.support.faultproxy import pipe


@dataclass
class SplitProxy:
    upstream: tuple[str, int]
    port: int = 0
    cut_off: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    _open: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, dsn: str) -> str:
        """``dsn`` (a postgresql:// URL to the upstream) through this proxy."""
        host, port = self.upstream
        return dsn.replace(f"@{host}:{port}/", f"@127.0.0.1:{self.port}/")

    def cut(self) -> None:
        self.cut_off.set()
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def mend(self) -> None:
        self.cut_off.clear()

    def handle(self, client: socket.socket) -> None:
        if self.cut_off.is_set():
            client.close()
            return
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._open += [client, server]
        threading.Thread(target=pipe, args=(server, client), daemon=True).start()
        pipe(client, server)


@contextmanager
def split_proxy(upstream: tuple[str, int]) -> Iterator[SplitProxy]:
    """A running proxy in front of ``upstream`` (host, port)."""
    proxy = SplitProxy(upstream)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    proxy.port = listener.getsockname()[1]

    def serve() -> None:
        while not proxy.stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=proxy.handle, args=(client,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.stop.set()
        proxy.cut()
        thread.join(timeout=5)
        listener.close()
