"""Rebuilding a simulated gateway from what an exercise did to it, so that an exercise can be
resumed or released later: what was engaged stays engaged.

The journal keeps every request that took effect (a lever's engage, an action, a release) as the
operator saw it; replayed in order on a fresh sandbox with the same seed, they leave it as the
exercise left it, with the same ids (the sandbox numbers what it creates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx2

from aiir.sandbox.app import create_app
from aiir.sandbox.state import SandboxState
from aiir.sandbox.transport import InProcessTransport


def rebuild(requests: Iterable[Mapping[str, Any]], seed: int = 7) -> SandboxState:
    """A fresh sandbox with ``requests`` (method, url, query, json or body) applied in order."""
    state = SandboxState(seed=seed)
    transport = InProcessTransport(create_app(state))
    try:
        with httpx2.Client(transport=transport) as client:
            for request in requests:
                client.request(
                    str(request.get("method", "GET")),
                    str(request.get("url", "")),
                    params=request.get("query") or None,
                    json=request.get("json"),
                    content=request.get("body"),
                )
    finally:
        transport.close()
    return state
