"""Faults injected on command, shared by every simulated service.

A fault names a target: a model group, an agent, a tool, a collection, a scoring model (or one of
its versions as ``name@version``), a DAG, a feature flag; ``*`` is every target. ``error`` fails
that target's requests at a rate (503 on the platform APIs, 500 upstream for chat), ``latency``
delays them, ``output`` scripts what a model or a tool says, ``drift`` shifts a model's
behaviour, ``canary-leak`` makes a chat model repeat its system prompt.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from aiir.sandbox.errors import SandboxError

FAULT_KINDS = ("latency", "error", "output", "drift", "canary-leak")


@dataclass
class Fault:
    """A fault injected for one target (``*`` for every target)."""

    model: str
    kind: str
    value: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"model": self.model, "fault": self.kind, "value": self.value}


class Faults:
    """The faults in force, and a seeded random source so error rates are reproducible."""

    def __init__(self, seed: int = 7) -> None:
        self.active: list[Fault] = []
        self.rng = random.Random(seed)  # noqa: S311 - reproducible faults, not security

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.active)

    def __len__(self) -> int:
        return len(self.active)

    def add(self, target: str, kind: str, value: str) -> Fault:
        if kind not in FAULT_KINDS:
            raise SandboxError(400, f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        fault = Fault(target or "*", kind, value)
        self.active.append(fault)
        return fault

    def clear(self) -> None:
        self.active.clear()

    def on(self, *targets: str) -> list[Fault]:
        """Faults that apply to any of ``targets``."""
        return [f for f in self.active if f.model == "*" or f.model in targets]

    def of(self, kind: str, *targets: str) -> list[Fault]:
        return [f for f in self.on(*targets) if f.kind == kind]

    def fails(self, *targets: str) -> bool:
        """Whether an ``error`` fault fails this request (value: the rate, 1 by default)."""
        return any(self.rng.random() < _number(f.value, 1.0) for f in self.of("error", *targets))

    def latency_ms(self, *targets: str) -> float:
        return sum(_number(f.value, 0.0) for f in self.of("latency", *targets))

    def drift(self, *targets: str) -> float:
        """Summed drift strength (1 when a drift fault gives none)."""
        return sum(max(_number(f.value, 1.0), 0.0) or 1.0 for f in self.of("drift", *targets))

    def output(self, *targets: str) -> str | None:
        scripted = self.of("output", *targets)
        return scripted[0].value if scripted else None

    def check(self, service: str, *targets: str) -> None:
        """Raise the service's outage when an ``error`` fault hits this request."""
        if self.fails(*targets):
            raise SandboxError(
                503,
                f"{service} unavailable for {targets[0]} (sandbox: injected failure)",
                "service_unavailable",
            )


def _number(text: str, default: float) -> float:
    try:
        return float(text) if text not in ("", None) else default
    except ValueError:
        return default
