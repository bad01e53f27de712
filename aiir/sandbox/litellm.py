"""The LiteLLM proxy's routes: OpenAI-compatible chat and models, and the admin endpoints with
LiteLLM's paths, bodies and status codes, so a runbook written for LiteLLM runs unchanged here."""

from __future__ import annotations

import time
import uuid
from functools import partial
from typing import Any

from starlette.routing import Route

from aiir.sandbox.errors import SandboxError, bad_request
from aiir.sandbox.routing import Answer, Incoming, route
from aiir.sandbox.state import SandboxState


class LiteLLMApi:
    """Each handler reads or changes the sandbox's router and key store."""

    def __init__(self, sandbox: SandboxState) -> None:
        self.sandbox = sandbox
        self.router = sandbox.router
        self.keys = sandbox.keys

    # --- health and models -----------------------------------------------------------------

    def liveliness(self, call: Incoming) -> str:
        return "I'm alive!"

    def readiness(self, call: Incoming) -> dict[str, Any]:
        return {"status": "healthy", "db": "connected (sandbox)", "litellm_version": "sandbox"}

    def models(self, call: Incoming) -> dict[str, Any]:
        data = [_model_object(m) for m in self.router.groups()]
        return {"data": data, "object": "list"}

    def model(self, call: Incoming) -> Any:
        """OpenAI's model object; for a decision model, the scoring service's view of it."""
        name = call.path["model"]
        if self.sandbox.scoring.knows(name):
            return self.sandbox.scoring.get(call)
        if self.router.group_of(name):
            return _model_object(name)
        if self.sandbox.autoprovision:  # a decision model named for the first time
            return self.sandbox.scoring.get(call)
        raise SandboxError(404, f"The model `{name}` does not exist", "not_found_error")

    def model_info(self, call: Incoming) -> dict[str, Any]:
        wanted = call.query.get("litellm_model_id")
        deployments = (
            [self.router.deployment(wanted)] if wanted else list(self.router.deployments.values())
        )
        return {
            "data": [
                {
                    "model_name": d.model_name,
                    "litellm_params": d.litellm_params,
                    "model_info": {"id": d.id, "db_model": False},
                }
                for d in deployments
            ]
        }

    # --- chat --------------------------------------------------------------------------------

    def chat(self, call: Incoming) -> Answer:
        body = call.obj()
        metadata = body.get("metadata")
        session = metadata.get("session_id") if isinstance(metadata, dict) else None
        trace = partial(
            self.sandbox.traces.llm,
            str(session) if session else None,
            str(body.get("model") or ""),
            body.get("messages"),
        )
        try:
            served = self.router.chat(body, call.key, self.sandbox.master_key)
        except SandboxError as exc:
            trace(None, exc.message)
            raise
        trace(served.content, None)
        choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": served.content},
            "logprobs": {
                "content": [
                    {"token": "x", "logprob": served.logprob, "bytes": [120], "top_logprobs": []}
                ]
            }
            if body.get("logprobs")
            else None,
        }
        words = len(served.content.split())
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served.model_group,
            "choices": [choice],
            "usage": {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words},
        }
        headers = {
            "x-litellm-model-group": served.model_group,
            "x-litellm-model-id": served.deployment,
            "x-litellm-attempted-fallbacks": str(served.attempted_fallbacks),
        }
        return Answer(completion, headers=headers, delay_ms=served.latency_ms)

    # --- keys and teams ------------------------------------------------------------------

    def key_generate(self, call: Incoming) -> dict[str, Any]:
        key, record = self.keys.generate(call.obj(), open_gateway=self.sandbox.open_gateway)
        return {"key": key, "token": record.token, **record.info()}

    def key_update(self, call: Incoming) -> dict[str, Any]:
        key = _required(call, "key")
        record = self.keys.update(key, call.obj(), open_gateway=self.sandbox.open_gateway)
        return {"key": key, **record.info()}

    def key_info(self, call: Incoming) -> dict[str, Any]:
        key = call.query.get("key") or call.key or ""
        record = self.keys.find(key, open_gateway=self.sandbox.open_gateway)
        return {"key": key, "info": record.info()}

    def key_block(self, call: Incoming) -> dict[str, Any]:
        return self._block_key(call, True)

    def key_unblock(self, call: Incoming) -> dict[str, Any]:
        return self._block_key(call, False)

    def _block_key(self, call: Incoming, blocked: bool) -> dict[str, Any]:
        record = self.keys.find(_required(call, "key"), open_gateway=self.sandbox.open_gateway)
        record.blocked = blocked
        return {"token": record.token, **record.info()}

    def team_new(self, call: Incoming) -> dict[str, Any]:
        team_id = call.text("team_id") or f"team-{self.router.new_id('team')[:8]}"
        if team_id in self.keys.teams:
            raise bad_request(
                f"Team id = {team_id} already exists. Please use a different team id."
            )
        team = self.keys.team(team_id, open_gateway=True)
        team.team_alias = call.text("team_alias") or None
        return team.info()

    def team_info(self, call: Incoming) -> dict[str, Any]:
        team = self.keys.team(call.query.get("team_id", ""), open_gateway=False)
        members = [k.info() for k in self.keys.keys.values() if k.team_id == team.team_id]
        return {"team_id": team.team_id, "team_info": team.info(), "keys": members}

    def team_block(self, call: Incoming) -> dict[str, Any]:
        return self._block_team(call, True)

    def team_unblock(self, call: Incoming) -> dict[str, Any]:
        return self._block_team(call, False)

    def _block_team(self, call: Incoming, blocked: bool) -> dict[str, Any]:
        team = self.keys.team(_required(call, "team_id"), open_gateway=self.sandbox.open_gateway)
        team.blocked = blocked
        return team.info()

    # --- deployments and fallbacks ---------------------------------------------------------

    def model_delete(self, call: Incoming) -> dict[str, Any]:
        deployment = self.router.delete_deployment(_required(call, "id"))
        return {"message": f"Model: {deployment.id} deleted successfully"}

    def model_new(self, call: Incoming) -> dict[str, Any]:
        body = call.obj()
        info = body.get("model_info") or {}
        params = body.get("litellm_params")
        if not call.text("model_name") or not isinstance(params, dict):
            raise bad_request("model_name and litellm_params (an object) are required")
        deployment = self.router.add_deployment(
            call.text("model_name"), dict(params), str(info.get("id") or "") or None
        )
        return {"model_id": deployment.id, "model_name": deployment.model_name}

    def fallback_set(self, call: Incoming) -> dict[str, Any]:
        model = call.text("model")
        fallbacks = [str(m) for m in call.obj().get("fallback_models") or []]
        if not model or not fallbacks:
            raise bad_request("model and fallback_models are required")
        self.router.fallbacks[model] = fallbacks
        return {"model": model, "fallback_models": fallbacks, "message": "Fallback configured"}

    def fallback_get(self, call: Incoming) -> dict[str, Any]:
        model = call.path["model"]
        if model not in self.router.fallbacks:
            raise SandboxError(404, f"No fallbacks configured for model {model}")
        return {"model": model, "fallback_models": self.router.fallbacks[model]}

    def fallback_delete(self, call: Incoming) -> dict[str, Any]:
        model = call.path["model"]
        if self.router.fallbacks.pop(model, None) is None:
            raise SandboxError(404, f"No fallbacks configured for model {model}")
        return {"model": model, "message": "Fallback deleted"}

    # --- guardrails --------------------------------------------------------------------------

    def guardrail_add(self, call: Incoming) -> dict[str, Any]:
        guardrail = call.obj().get("guardrail")
        if not isinstance(guardrail, dict) or not guardrail.get("guardrail_name"):
            raise bad_request("guardrail.guardrail_name is required")
        return self.router.add_guardrail(self.router.new_id("guardrail"), guardrail)

    def guardrail_delete(self, call: Incoming) -> dict[str, Any]:
        ident = call.path["guardrail_id"]
        if self.router.guardrails.pop(ident, None) is None:
            raise SandboxError(404, f"Guardrail with ID {ident} not found")
        return {"message": f"Guardrail {ident} deleted successfully"}

    def guardrail_list(self, call: Incoming) -> dict[str, Any]:
        return {"guardrails": list(self.router.guardrails.values())}

    def apply_guardrail(self, call: Incoming) -> dict[str, Any]:
        return self.router.apply_guardrail(call.text("guardrail_name"), call.text("text"))

    def spend_logs(self, call: Incoming) -> list[dict[str, Any]]:
        query = call.query
        return self.router.window(
            query.get("start_date", ""), query.get("end_date", ""), query.get("api_key", "")
        )

    def routes(self) -> list[Route]:
        host = self.sandbox
        admin = [
            ("/key/generate", "POST", self.key_generate),
            ("/key/update", "POST", self.key_update),
            ("/key/info", "GET", self.key_info),
            ("/key/block", "POST", self.key_block),
            ("/key/unblock", "POST", self.key_unblock),
            ("/team/new", "POST", self.team_new),
            ("/team/info", "GET", self.team_info),
            ("/team/block", "POST", self.team_block),
            ("/team/unblock", "POST", self.team_unblock),
            ("/model/delete", "POST", self.model_delete),
            ("/model/new", "POST", self.model_new),
            ("/fallback", "POST", self.fallback_set),
            ("/fallback/{model:path}", "GET", self.fallback_get),
            ("/fallback/{model:path}", "DELETE", self.fallback_delete),
            ("/guardrails", "POST", self.guardrail_add),
            ("/guardrails/list", "GET", self.guardrail_list),
            ("/guardrails/{guardrail_id}", "DELETE", self.guardrail_delete),
            ("/spend/logs", "GET", self.spend_logs),
        ]
        public = [
            ("/health/liveliness", "GET", self.liveliness),
            ("/health/readiness", "GET", self.readiness),
            ("/v1/models", "GET", self.models),
            ("/models", "GET", self.models),
            ("/v1/models/{model}", "GET", self.model),
            ("/model/info", "GET", self.model_info),
            ("/v1/chat/completions", "POST", self.chat),
            ("/chat/completions", "POST", self.chat),
            ("/apply_guardrail", "POST", self.apply_guardrail),
        ]
        return [route(p, m, f, host, admin=True) for p, m, f in admin] + [
            route(p, m, f, host) for p, m, f in public
        ]


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "aiir-sandbox"}


def _required(call: Incoming, name: str) -> str:
    value = call.text(name)
    if not value:
        raise bad_request(f"{name} is required")
    return value
