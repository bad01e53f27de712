"""A TCP proxy on 127.0.0.1 in front of a server (PostgreSQL), standing for ONE machine's network
path to it: ``cut()`` drops every connection through it and refuses new ones (a network split:
this machine cannot reach the database, while others, connecting directly, still do);
``stall()`` keeps every connection open and forwards nothing more, either way (the packets lost
on the way: a blackhole, where nothing says the connection is gone); ``mend()`` lets
connections through again."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from tests.support.accepting import accepting


@dataclass
class SplitProxy:
    upstream: tuple[str, int]
    port: int = 0
    cut_off: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)
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

    def stall(self) -> None:
        self.stalled.set()

    def mend(self) -> None:
        self.cut_off.clear()
        self.stalled.clear()

    def pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """``source`` to ``sink`` until either closes; while stalled, nothing is read."""
        try:
            while True:
                while self.stalled.is_set() and not self.stop.is_set():
                    time.sleep(0.05)
                chunk = source.recv(65536)
                if not chunk:
                    break
                while self.stalled.is_set() and not self.stop.is_set():
                    time.sleep(0.05)  # read just as the stall began: held back too
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def handle(self, client: socket.socket) -> None:
        if self.cut_off.is_set():
            client.close()
            return
        with self._lock:
            self._open.append(client)
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._open.append(server)
        threading.Thread(target=self.pipe, args=(server, client), daemon=True).start()
        self.pipe(client, server)


@contextmanager
def split_proxy(upstream: tuple[str, int]) -> Iterator[SplitProxy]:
    """A running proxy in front of ``upstream`` (host, port)."""
    proxy = SplitProxy(upstream)
    with accepting(proxy.handle, proxy.stop, backlog=64) as port:
        proxy.port = port
        try:
            yield proxy
        finally:
            proxy.stop.set()
            proxy.cut()
