"""Everything the simulated gateway remembers, free of HTTP so it can be tested directly.

One :class:`SandboxState` is the whole simulated world: the LiteLLM proxy (router, virtual keys
and teams), the agent platform with its RAG collections, the scoring service and its MLflow
registry, the Airflow training pipelines and the Unleash feature flags, all seeded from
:mod:`aiir.sandbox.world`, plus the faults injected on command. Thread-safe: every route runs
under :attr:`SandboxState.lock`, and so should any reader on another thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from aiir.sandbox import world
from aiir.sandbox.agents import AgentPlatform
from aiir.sandbox.errors import SandboxError
from aiir.sandbox.faults import FAULT_KINDS, Fault, Faults
from aiir.sandbox.flags import FeatureFlags
from aiir.sandbox.keys import KeyStore
from aiir.sandbox.pipelines import Pipelines
from aiir.sandbox.registry import ModelRegistry
from aiir.sandbox.retrieval import Retrieval
from aiir.sandbox.router import (
    INJECTION_MARKERS,
    REFUSAL,
    SCRIPTED_OUTPUTS,
    Deployment,
    Router,
    Served,
)
from aiir.sandbox.scoring import ScoringService
from aiir.sandbox.traces import TraceStore

__all__ = [
    "FAULT_KINDS",
    "INJECTION_MARKERS",
    "REFUSAL",
    "SCRIPTED_OUTPUTS",
    "Deployment",
    "Fault",
    "SandboxError",
    "SandboxState",
    "Served",
]


@dataclass
class SandboxState:
    """The simulated world; ``autoprovision`` creates anything a runbook names on first use."""

    models: list[str] = field(default_factory=lambda: list(world.MODELS))
    master_key: str | None = None
    system_prompt: str = world.SYSTEM_PROMPT
    seed: int = 7
    autoprovision: bool = True
    team_keys: dict[str, str] = field(default_factory=lambda: dict(world.TEAM_KEYS))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.faults = Faults(self.seed)
        self.keys = KeyStore(self.team_keys)
        self.router = Router(
            self.models, self.faults, self.keys, self.system_prompt, self.autoprovision
        )
        self.agents = AgentPlatform(self.faults, self.autoprovision)
        self.retrieval = Retrieval(self.faults, self.autoprovision)
        self.traces = TraceStore()  # what an instrumented application sent its trace store
        self.retrieval.traces = self.traces
        self.registry = ModelRegistry(self.faults, self.autoprovision)
        self.scoring = ScoringService(self.registry, self.faults, self.autoprovision)
        self.pipelines = Pipelines(self.faults, self.autoprovision)
        self.flags = FeatureFlags(self.faults, self.autoprovision)

    @property
    def open_gateway(self) -> bool:
        """Without a master key every key is valid (and known from the moment it is named)."""
        return not self.master_key

    @property
    def logs(self) -> list[dict[str, Any]]:
        """Every chat request the gateway served or refused (LiteLLM's spend logs)."""
        return self.router.logs

    # --- faults and reset --------------------------------------------------------------------

    def add_fault(self, model: str, kind: str, value: str) -> Fault:
        with self.lock:
            return self.faults.add(model, kind, value)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def reset(self) -> None:
        """Back to the seeded world: no levers, no faults, no logs."""
        with self.lock:
            self.faults.clear()
            self.keys.reset()
            self.router.reset()
            self.registry.reset()
            self.traces.reset()
            for service in (self.agents, self.retrieval, self.scoring, self.pipelines, self.flags):
                service.reset()

    # --- what an operator (or a test) reads ------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """Every lever in effect: what differs from the world as it started. Empty when clean."""
        with self.lock:
            out: dict[str, Any] = {}
            for service in (
                self.keys,
                self.router,
                self.agents,
                self.retrieval,
                self.registry,
                self.scoring,
                self.pipelines,
                self.flags,
            ):
                out.update(service.changes())
            return out

    def state(self) -> dict[str, Any]:
        with self.lock:
            keys = self.keys.keys.values()
            return {
                "models": self.router.groups(),
                "deployments": [d.__dict__ for d in self.router.deployments.values()],
                "blocked_keys": sorted(k.key_name for k in keys if k.blocked),
                "blocked_teams": sorted(t.team_id for t in self.keys.teams.values() if t.blocked),
                "fallbacks": dict(self.router.fallbacks),
                "guardrails": list(self.router.guardrails.values()),
                "faults": [f.as_dict() for f in self.faults],
                "changes": self.changes(),
                "requests": len(self.router.logs),
            }
