"""The simulated gateway as one ASGI application (Starlette).

OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models``; LiteLLM's admin endpoints with
LiteLLM's paths, bodies and status codes, so a runbook written for LiteLLM runs unchanged against
it; and its own ``/sandbox/*`` endpoints for state and faults. Served in-process (fast drills) or
on a loopback socket by ``aiir sandbox serve``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aiir.sandbox.state import SandboxError, SandboxState

Handler = Callable[[Request], Awaitable[Response]]


def _error(exc: SandboxError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise SandboxError(400, "Invalid JSON body") from None
    if not isinstance(data, dict):
        raise SandboxError(400, "JSON body must be an object")
    return data


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization") or request.headers.get("x-litellm-api-key")
    if not header:
        return None
    return header.removeprefix("Bearer ").strip() or None


class _Api:
    """The route handlers; each reads or changes one :class:`SandboxState`."""

    def __init__(self, sandbox: SandboxState) -> None:
        self.sandbox = sandbox

    async def liveliness(self, request: Request) -> Response:
        return PlainTextResponse('"I\'m alive!"', media_type="application/json")

    async def readiness(self, request: Request) -> Response:
        return JSONResponse(
            {"status": "healthy", "db": "Not connected", "litellm_version": "sandbox"}
        )

    async def models(self, request: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "aiir-sandbox"}
            for m in self.sandbox.groups()
        ]
        return JSONResponse({"data": data, "object": "list"})

    async def model_info(self, request: Request) -> Response:
        with self.sandbox.lock:
            data = [
                {
                    "model_name": d.model_name,
                    "litellm_params": d.litellm_params,
                    "model_info": {"id": d.id},
                }
                for d in self.sandbox.deployments.values()
            ]
        return JSONResponse({"data": data})

    async def chat(self, request: Request) -> Response:
        body = await _json(request)
        served = self.sandbox.chat(body, _bearer(request))
        if served.latency_ms:
            await asyncio.sleep(served.latency_ms / 1000)
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served.model_group,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": served.content},
                    "logprobs": {"content": [{"token": "x", "logprob": served.logprob}]}
                    if body.get("logprobs")
                    else None,
                }
            ],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": len(served.content.split()),
                "total_tokens": 0,
            },
        }
        headers = {
            "x-litellm-model-group": served.model_group,
            "x-litellm-model-id": served.deployment,
            "x-litellm-attempted-fallbacks": str(served.attempted_fallbacks),
        }
        return JSONResponse(completion, headers=headers)

    async def block_key(self, request: Request) -> Response:
        key = str((await _json(request)).get("key", ""))
        with self.sandbox.lock:
            self.sandbox.blocked_keys.add(key)
        return JSONResponse({"token": key, "blocked": True})

    async def unblock_key(self, request: Request) -> Response:
        key = str((await _json(request)).get("key", ""))
        with self.sandbox.lock:
            self.sandbox.blocked_keys.discard(key)
        return JSONResponse({"token": key, "blocked": False})

    async def block_team(self, request: Request) -> Response:
        team = str((await _json(request)).get("team_id", ""))
        with self.sandbox.lock:
            self.sandbox.blocked_teams.add(team)
        return JSONResponse({"team_id": team, "blocked": True})

    async def unblock_team(self, request: Request) -> Response:
        team = str((await _json(request)).get("team_id", ""))
        with self.sandbox.lock:
            self.sandbox.blocked_teams.discard(team)
        return JSONResponse({"team_id": team, "blocked": False})

    async def model_delete(self, request: Request) -> Response:
        deployment = self.sandbox.delete_deployment(str((await _json(request)).get("id", "")))
        return JSONResponse({"message": f"Model: {deployment.id} deleted successfully"})

    async def model_new(self, request: Request) -> Response:
        body = await _json(request)
        info = body.get("model_info") or {}
        deployment = self.sandbox.add_deployment(
            str(body.get("model_name", "")),
            dict(body.get("litellm_params") or {}),
            info.get("id") or None,
        )
        return JSONResponse({"model_id": deployment.id, "model_name": deployment.model_name})

    async def fallback_set(self, request: Request) -> Response:
        body = await _json(request)
        model, fallbacks = (
            str(body.get("model", "")),
            [str(m) for m in body.get("fallback_models") or []],
        )
        if not model or not fallbacks:
            raise SandboxError(400, "model and fallback_models are required")
        with self.sandbox.lock:
            self.sandbox.fallbacks[model] = fallbacks
        return JSONResponse(
            {"model": model, "fallback_models": fallbacks, "message": "Fallback configured"}
        )

    async def fallback_get(self, request: Request) -> Response:
        model = request.path_params["model"]
        with self.sandbox.lock:
            if model not in self.sandbox.fallbacks:
                raise SandboxError(404, f"No fallbacks configured for model {model}")
            return JSONResponse({"model": model, "fallback_models": self.sandbox.fallbacks[model]})

    async def fallback_delete(self, request: Request) -> Response:
        model = request.path_params["model"]
        with self.sandbox.lock:
            if self.sandbox.fallbacks.pop(model, None) is None:
                raise SandboxError(404, f"No fallbacks configured for model {model}")
        return JSONResponse({"model": model, "message": "Fallback deleted"})

    async def guardrail_add(self, request: Request) -> Response:
        guardrail = (await _json(request)).get("guardrail")
        if not isinstance(guardrail, dict) or not guardrail.get("guardrail_name"):
            raise SandboxError(400, "guardrail.guardrail_name is required")
        ident = str(uuid.uuid4())
        record = {"guardrail_id": ident, **guardrail}
        with self.sandbox.lock:
            self.sandbox.guardrails[ident] = record
        return JSONResponse(record)

    async def guardrail_delete(self, request: Request) -> Response:
        ident = request.path_params["guardrail_id"]
        with self.sandbox.lock:
            if self.sandbox.guardrails.pop(ident, None) is None:
                raise SandboxError(404, f"Guardrail with ID {ident} not found")
        return JSONResponse({"message": f"Guardrail {ident} deleted successfully"})

    async def guardrail_list(self, request: Request) -> Response:
        with self.sandbox.lock:
            return JSONResponse({"guardrails": list(self.sandbox.guardrails.values())})

    async def apply_guardrail(self, request: Request) -> Response:
        body = await _json(request)
        return JSONResponse(
            self.sandbox.apply_guardrail(
                str(body.get("guardrail_name", "")), str(body.get("text", ""))
            )
        )

    async def spend_logs(self, request: Request) -> Response:
        start, end = (
            request.query_params.get("start_date", ""),
            request.query_params.get("end_date", ""),
        )
        return JSONResponse(_window(self.sandbox, start, end))

    async def sandbox_state(self, request: Request) -> Response:
        return JSONResponse(self.sandbox.state())

    async def faults_add(self, request: Request) -> Response:
        body = await _json(request)
        fault = self.sandbox.add_fault(
            str(body.get("model", "*")), str(body.get("fault", "")), str(body.get("value", ""))
        )
        return JSONResponse(
            {"fault": fault.as_dict(), "faults": [f.as_dict() for f in self.sandbox.faults]}
        )

    async def faults_clear(self, request: Request) -> Response:
        self.sandbox.clear_faults()
        return JSONResponse({"faults": []})

    async def reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return JSONResponse(self.sandbox.state())

    async def logs(self, request: Request) -> Response:
        start, end = request.query_params.get("start", ""), request.query_params.get("end", "")
        return JSONResponse(_window(self.sandbox, start, end))


def create_app(state: SandboxState | None = None) -> Starlette:
    """A fresh simulated gateway; pass a :class:`SandboxState` to share or inspect its state."""
    sandbox = state or SandboxState()
    api = _Api(sandbox)

    def guarded(
        handler: Callable[[Request], Awaitable[Response]], *, admin: bool = False
    ) -> Handler:
        async def wrapped(request: Request) -> Response:
            if admin and sandbox.master_key and _bearer(request) != sandbox.master_key:
                return _error(
                    SandboxError(401, "Authentication Error - admin key required", "auth_error")
                )
            try:
                return await handler(request)
            except SandboxError as exc:
                return _error(exc)

        return wrapped

    routes = [
        Route("/health/liveliness", guarded(api.liveliness), methods=["GET"]),
        Route("/health/readiness", guarded(api.readiness), methods=["GET"]),
        Route("/v1/models", guarded(api.models), methods=["GET"]),
        Route("/models", guarded(api.models), methods=["GET"]),
        Route("/model/info", guarded(api.model_info), methods=["GET"]),
        Route("/v1/chat/completions", guarded(api.chat), methods=["POST"]),
        Route("/chat/completions", guarded(api.chat), methods=["POST"]),
        Route("/key/block", guarded(api.block_key, admin=True), methods=["POST"]),
        Route("/key/unblock", guarded(api.unblock_key, admin=True), methods=["POST"]),
        Route("/team/block", guarded(api.block_team, admin=True), methods=["POST"]),
        Route("/team/unblock", guarded(api.unblock_team, admin=True), methods=["POST"]),
        Route("/model/delete", guarded(api.model_delete, admin=True), methods=["POST"]),
        Route("/model/new", guarded(api.model_new, admin=True), methods=["POST"]),
        Route("/fallback", guarded(api.fallback_set, admin=True), methods=["POST"]),
        Route("/fallback/{model:path}", guarded(api.fallback_get, admin=True), methods=["GET"]),
        Route(
            "/fallback/{model:path}", guarded(api.fallback_delete, admin=True), methods=["DELETE"]
        ),
        Route("/guardrails", guarded(api.guardrail_add, admin=True), methods=["POST"]),
        Route("/guardrails/list", guarded(api.guardrail_list, admin=True), methods=["GET"]),
        Route(
            "/guardrails/{guardrail_id}",
            guarded(api.guardrail_delete, admin=True),
            methods=["DELETE"],
        ),
        Route("/apply_guardrail", guarded(api.apply_guardrail), methods=["POST"]),
        Route("/spend/logs", guarded(api.spend_logs, admin=True), methods=["GET"]),
        Route("/sandbox/state", guarded(api.sandbox_state), methods=["GET"]),
        Route("/sandbox/faults", guarded(api.faults_add, admin=True), methods=["POST"]),
        Route("/sandbox/faults", guarded(api.faults_clear, admin=True), methods=["DELETE"]),
        Route("/sandbox/reset", guarded(api.reset, admin=True), methods=["POST"]),
        Route("/sandbox/logs", guarded(api.logs, admin=True), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    return app


def _window(sandbox: SandboxState, start: str, end: str) -> list[dict[str, Any]]:
    with sandbox.lock:
        return [
            e
            for e in sandbox.logs
            if (not start or e["ts"] >= start) and (not end or e["ts"] <= end)
        ]
