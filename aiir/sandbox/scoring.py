"""A decision (scoring) service in front of a model (aiir's reference conventions):
``/v1/models/{model}`` with its decision mode, ``/score``, ``/metrics`` and ``/decisions``.

It serves the registry version its alias points at. The decision mode is the lever: ``model``
lets the model decide; ``rules`` decides with a rule-based fallback; ``review`` queues the
model's would-be declines for an analyst; ``off`` takes the model out and sends everything to
people without a score. A ``drift`` fault on the model (or on ``model@version``, one version
only) pushes its risk scores up, so valid records start being declined.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Route

from aiir.sandbox.errors import bad_request
from aiir.sandbox.faults import Faults
from aiir.sandbox.registry import ModelRegistry
from aiir.sandbox.routing import Answer, Host, Incoming, route
from aiir.sandbox.timeline import now, within

SERVICE = "scoring service"
DECISION_MODES = ("model", "rules", "review", "off")
DECLINE_AT = 0.7
RULES_MAX_AMOUNT = 5000.0


@dataclass
class Decision:
    id: str
    ts: str
    record: dict[str, Any]
    decision: str  # approve, decline, review
    decided_by: str  # model, rules, human
    score: float | None
    model_version: str | None
    mode: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ScoringModel:
    name: str
    alias: str = "champion"
    decision_mode: str = "model"
    reason: str = ""
    decisions: list[Decision] = field(default_factory=list)


class ScoringService:
    """Decision models, each serving its registry alias."""

    def __init__(self, registry: ModelRegistry, faults: Faults, autoprovision: bool = True) -> None:
        self.registry = registry
        self.faults = faults
        self.autoprovision = autoprovision
        self.models: dict[str, ScoringModel] = {}
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        self.models.clear()
        self.ids = itertools.count(1)
        for name in self.registry.models:
            self.models[name] = ScoringModel(name)

    def knows(self, name: str) -> bool:
        return name in self.models

    def model(self, name: str) -> ScoringModel:
        self.faults.check(SERVICE, name)
        if name not in self.models:
            self.registry.model(name)  # registered on first use, or MLflow's 404
            self.models[name] = ScoringModel(name)
        return self.models[name]

    def serving_version(self, model: ScoringModel) -> str | None:
        return self.registry.serving(model.name, model.alias)

    # --- deciding ------------------------------------------------------------------------------

    def risk(self, model: ScoringModel, record: dict[str, Any]) -> float:
        """The model's risk score for a record; drift faults push it up."""
        amount = _float(record.get("amount"), 0.0)
        risk = 0.05 + min(amount / 20_000.0, 0.4)
        if record.get("card_present") is False:
            risk += 0.15
        if _float(record.get("customer_tenure_days"), 365.0) < 30:
            risk += 0.2
        version = self.serving_version(model)
        risk += 0.7 * self.faults.drift(model.name, f"{model.name}@{version}")
        return round(min(risk, 0.99), 3)

    def decide(self, model: ScoringModel, record: dict[str, Any]) -> Decision:
        score = self.risk(model, record)
        by_model = "decline" if score >= DECLINE_AT else "approve"
        decision, decided_by = by_model, "model"
        shown: float | None = score
        if model.decision_mode == "rules":
            decision, decided_by = _rules(record), "rules"
        elif model.decision_mode == "review" and by_model == "decline":
            decision, decided_by = "review", "human"
        elif model.decision_mode == "off":
            decision, decided_by, shown = "review", "human", None
        return Decision(
            f"dec-{next(self.ids):05d}",
            now(),
            record,
            decision,
            decided_by,
            shown,
            self.serving_version(model),
            model.decision_mode,
        )

    # --- services ----------------------------------------------------------------------------

    def get(self, call: Incoming) -> Answer:
        model = self.model(call.path["model"])
        return Answer(self.view(model), delay_ms=self.faults.latency_ms(model.name))

    def view(self, model: ScoringModel) -> dict[str, Any]:
        return {
            "id": model.name,
            "object": "model",
            "owned_by": "aiir-sandbox",
            "name": model.name,
            "decision_mode": model.decision_mode,
            "alias": model.alias,
            "serving_version": self.serving_version(model),
            "reason": model.reason,
        }

    def set_mode(self, call: Incoming) -> dict[str, Any]:
        model = self.model(call.path["model"])
        mode = call.text("mode")
        if mode not in DECISION_MODES:
            raise bad_request(f"mode must be one of {', '.join(DECISION_MODES)}, not {mode!r}")
        previous, model.decision_mode, model.reason = model.decision_mode, mode, call.text("reason")
        return {**self.view(model), "previous_mode": previous}

    def score(self, call: Incoming) -> Answer:
        model = self.model(call.path["model"])
        decision = self.decide(model, call.obj())
        model.decisions.append(decision)
        return Answer(decision.as_json(), delay_ms=self.faults.latency_ms(model.name))

    def decisions(self, call: Incoming) -> dict[str, Any]:
        model = self.model(call.path["model"])
        found = self._window(model, call)
        return {"model": model.name, "decisions": [d.as_json() for d in found], "total": len(found)}

    def metrics(self, call: Incoming) -> dict[str, Any]:
        model = self.model(call.path["model"])
        found = self._window(model, call)
        counts = {
            k: sum(1 for d in found if d.decision == k) for k in ("approve", "decline", "review")
        }
        scores = [d.score for d in found if d.score is not None]
        return {
            "model": model.name,
            "serving_version": self.serving_version(model),
            "decision_mode": model.decision_mode,
            "decisions": len(found),
            "rates": {k: round(v / len(found), 3) if found else 0.0 for k, v in counts.items()},
            "mean_score": round(sum(scores) / len(scores), 3) if scores else None,
        }

    def _window(self, model: ScoringModel, call: Incoming) -> list[Decision]:
        start, end = call.query.get("start", ""), call.query.get("end", "")
        return [d for d in model.decisions if within(d.ts, start, end)]

    def changes(self) -> dict[str, Any]:
        return {
            f"decision mode {name}": model.decision_mode
            for name, model in self.models.items()
            if model.decision_mode != "model"
        }

    def routes(self, host: Host) -> list[Route]:
        base = "/v1/models/{model}"
        return [
            route(f"{base}/decision-mode", "PUT", self.set_mode, host),
            route(f"{base}/score", "POST", self.score, host),
            route(f"{base}/metrics", "GET", self.metrics, host),
            route(f"{base}/decisions", "GET", self.decisions, host),
        ]


def _rules(record: dict[str, Any]) -> str:
    """The rule-based fallback: coarse, but blind to the model's drift."""
    if _float(record.get("amount"), 0.0) > RULES_MAX_AMOUNT:
        return "review"
    if (
        record.get("card_present") is False
        and _float(record.get("customer_tenure_days"), 365.0) < 30
    ):
        return "decline"
    return "approve"


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
