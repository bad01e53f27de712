"""Serving the simulated gateway: in-process for a synchronous client, or on a loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx2


class InProcessTransport(httpx2.BaseTransport):
    """Lets a synchronous ``httpx2.Client`` call an ASGI app without a socket (fast drills).

    The app runs on an event loop of its own thread, so requests from several threads (a
    request abandoned at its deadline, the probe that follows) are served side by side, as a
    server would.
    """

    def __init__(self, app: Any) -> None:
        self._inner = httpx2.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="aiir-sandbox"
        )
        self._thread.start()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        forwarded = httpx2.Request(
            request.method, request.url, headers=request.headers, content=body
        )
        future = asyncio.run_coroutine_threadsafe(self._send(forwarded), self._loop)
        return future.result()

    async def _send(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        content = await response.aread()
        return httpx2.Response(response.status_code, headers=response.headers, content=content)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a background thread; yields its base URL; always stops."""
    import time

    import uvicorn

    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
