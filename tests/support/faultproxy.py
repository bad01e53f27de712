"""A fault-injecting TCP proxy on 127.0.0.1, between aiir and a real gateway (LiteLLM).

The first request whose request line holds ``match`` is forwarded, so the gateway really acts
on it, and then its answer is lost on the way back: ``drop`` closes the connection, ``bad``
answers 502 in the gateway's place, ``stall`` holds the answer past any timeout, ``echo``
answers 200 with the request (headers and all) in its headers and body, ``down`` drops the
connection and every later one (the gateway gone mid-walk). Every other request, and every
later one, passes through untouched.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from tests.support.accepting import accepting

STALL_SECONDS = 30.0


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    mode: str
    match: bytes
    faulted: list[bytes] = field(default_factory=list)
    passed: list[bytes] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def handle(self, client: socket.socket) -> None:
        if self.mode == "down" and self.faulted:
            client.close()
            return
        with client, socket.create_connection(self.upstream, timeout=60) as server:
            request = read_message(client)
            line = request.split(b"\r\n", 1)[0]
            fault = self.match in line and not self.faulted
            (self.faulted if fault else self.passed).append(line)
            server.sendall(request)
            if not fault:
                threading.Thread(target=pipe, args=(server, client), daemon=True).start()
                pipe(client, server)
                return
            read_message(server)  # the gateway has acted: its whole answer is in
            self.lose(client, request)

    def lose(self, client: socket.socket, request: bytes) -> None:
        if self.mode == "bad":
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 3\r\n\r\nbad")
        elif self.mode == "stall":
            self.stop.wait(STALL_SECONDS)
        elif self.mode == "echo":
            head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
            echoed = b"".join(b"x-echo-" + h + b"\r\n" for h in head if b":" in h)
            client.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
                + echoed
                + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(request)
                + request
            )
        # drop, down: nothing is sent back; the connection closes


def read_message(sock: socket.socket) -> bytes:
    """One HTTP message with a content-length body (or none), as bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def fault_proxy(upstream_url: str, mode: str, match: str) -> Iterator[tuple[str, FaultProxy]]:
    """A running proxy in front of ``upstream_url``: its URL and its record of requests."""
    host, _, port = upstream_url.removeprefix("http://").partition(":")
    proxy = FaultProxy((host, int(port)), mode, match.encode())
    with accepting(proxy.handle, proxy.stop) as listening:
        yield f"http://127.0.0.1:{listening}", proxy
