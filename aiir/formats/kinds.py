"""The kinds of aiir document, and which one a parsed YAML file is."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def detect_kind(data: Any) -> str | None:
    """Which kind of aiir document ``data`` is, or None when it is not one."""
    if not isinstance(data, dict) or "aiir" not in data:
        return None
    if "profile" in data:
        return "profile"
    if "scenario" in data:
        return "scenario"
    if "canary" in data:
        return "canary"
    if "detect" in data:
        return "detect"
    if "fragment" in data:
        return "fragment"
    for kind in ("workspace", "team", "inventory"):
        if kind in data:
            return kind
    if "nodes" in data or "start" in data:
        return "runbook"
    return None


# Each kind's model, as module and class: imported only when a document of that kind is read
# (validating one runbook loaded every kind's models, an eighth of ``aiir validate ONE.yaml``).
KINDS: dict[str, tuple[str, str]] = {
    "runbook": ("aiir.formats.schema", "Runbook"),
    "profile": ("aiir.formats.profile", "Profile"),
    "scenario": ("aiir.formats.scenario", "Scenario"),
    "workspace": ("aiir.formats.organisation", "Workspace"),
    "team": ("aiir.formats.organisation", "Team"),
    "inventory": ("aiir.formats.organisation", "Inventory"),
    "canary": ("aiir.formats.canary", "CanarySuite"),
    "fragment": ("aiir.formats.includes", "Fragment"),
    "detect": ("aiir.formats.detect", "DetectRules"),
}


def model_of(kind: str) -> type[BaseModel]:
    """The model of a kind of document (a key of :data:`KINDS`)."""
    module, name = KINDS[kind]
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model
