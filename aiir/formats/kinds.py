"""The kinds of aiir document, and which one a parsed YAML file is."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from aiir.formats.canary import CanarySuite
from aiir.formats.organisation import Inventory, Team, Workspace
from aiir.formats.profile import Profile
from aiir.formats.scenario import Scenario
from aiir.formats.schema import Runbook


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
    for kind in ("workspace", "team", "inventory"):
        if kind in data:
            return kind
    if "nodes" in data or "start" in data:
        return "runbook"
    return None


KINDS: dict[str, type[BaseModel]] = {
    "runbook": Runbook,
    "profile": Profile,
    "scenario": Scenario,
    "workspace": Workspace,
    "team": Team,
    "inventory": Inventory,
    "canary": CanarySuite,
}
