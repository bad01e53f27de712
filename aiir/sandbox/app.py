"""The simulated gateway as one ASGI application (Starlette).

Every simulated service answers on the same application, so every gateway a runbook declares can
point at one sandbox: the LiteLLM proxy (OpenAI chat and models, LiteLLM's admin API), the agent
platform (agents, tools, memory, RAG collections), the scoring service, the MLflow registry,
Airflow and Unleash; plus the sandbox's own ``/sandbox/*`` endpoints for state and faults.
Served in-process (fast drills) or on a loopback socket by ``aiir sandbox serve``.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from aiir.sandbox.litellm import LiteLLMApi
from aiir.sandbox.routing import Incoming, route
from aiir.sandbox.state import SandboxState


class SandboxApi:
    """The sandbox's own endpoints: what is in effect, faults on command, reset, request log."""

    def __init__(self, sandbox: SandboxState) -> None:
        self.sandbox = sandbox

    def state(self, call: Incoming) -> dict[str, Any]:
        return self.sandbox.state()

    def add_fault(self, call: Incoming) -> dict[str, Any]:
        fault = self.sandbox.faults.add(
            call.text("model", "*"), call.text("fault"), call.text("value")
        )
        return {"fault": fault.as_dict(), "faults": [f.as_dict() for f in self.sandbox.faults]}

    def clear_faults(self, call: Incoming) -> dict[str, Any]:
        self.sandbox.faults.clear()
        return {"faults": []}

    def reset(self, call: Incoming) -> dict[str, Any]:
        self.sandbox.reset()
        return self.sandbox.state()

    def logs(self, call: Incoming) -> list[dict[str, Any]]:
        return self.sandbox.router.window(call.query.get("start", ""), call.query.get("end", ""))

    def routes(self) -> list[Route]:
        host = self.sandbox
        return [
            route("/sandbox/state", "GET", self.state, host),
            route("/sandbox/faults", "POST", self.add_fault, host, admin=True),
            route("/sandbox/faults", "DELETE", self.clear_faults, host, admin=True),
            route("/sandbox/reset", "POST", self.reset, host, admin=True),
            route("/sandbox/logs", "GET", self.logs, host, admin=True),
        ]


def create_app(state: SandboxState | None = None) -> Starlette:
    """A fresh simulated gateway; pass a :class:`SandboxState` to share or inspect its state."""
    sandbox = state or SandboxState()
    routes = [
        *LiteLLMApi(sandbox).routes(),
        *SandboxApi(sandbox).routes(),
        *sandbox.agents.routes(sandbox),
        *sandbox.retrieval.routes(sandbox),
        *sandbox.traces.routes(sandbox),
        *sandbox.scoring.routes(sandbox),
        *sandbox.registry.routes(sandbox),
        *sandbox.pipelines.routes(sandbox),
        *sandbox.flags.routes(sandbox),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    return app
