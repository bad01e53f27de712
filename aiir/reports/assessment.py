"""The AI system inventory: a risk tier per system, and the gaps in the response to each.

The first month of adopting aiir: know what AI you run and what it could break. A system is covered when a
runbook names it, a canary suite watches it, someone owns it, and (when its risk is high) a drill
of its runbook passed in the last 90 days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiir.errors import LoadError
from aiir.formats.loader import load_file
from aiir.formats.organisation import AISystem
from aiir.formats.workspace import Loaded
from aiir.incident.events import EventType
from aiir.incident.state import list_incidents

SENSITIVITY = {"public": 0, "internal": 1, "confidential": 2, "personal": 3, "special-category": 4}
AUTONOMY = {"none": 0, "suggest": 1, "act-with-approval": 2, "autonomous": 3}
EU_CLASS = {"minimal": 0, "limited": 1, "gpai": 1, "high": 3, "gpai-systemic": 3, "prohibited": 4}
BLAST = {"single-user": 0, "team": 1, "customers": 2, "public": 3, "critical-infrastructure": 4}
TIERS = ("critical", "high", "medium", "low")
DRILL_WINDOW = dt.timedelta(days=90)


@dataclass(frozen=True)
class Assessment:
    """A system's risk: the score, its tier, and where it sits in the matrix."""

    system: AISystem
    score: int
    tier: str
    likelihood: int  # 0-2: exposure (user-facing, autonomy)
    impact: int  # 0-2: what a failure reaches (data, blast radius, legal class)


def assess(system: AISystem) -> Assessment:
    """Score 0-16 from the system's facts; the EU AI Act class sets a floor on the tier."""
    exposure = int(system.user_facing) + AUTONOMY[system.autonomy]
    reach = SENSITIVITY[system.data_sensitivity] + BLAST[system.blast_radius]
    score = exposure + reach + EU_CLASS[system.eu_ai_act]
    tier = (
        "critical" if score >= 11 else "high" if score >= 8 else "medium" if score >= 4 else "low"
    )
    if system.eu_ai_act in {"high", "gpai-systemic", "prohibited"} and TIERS.index(tier) > 1:
        tier = "high"
    if system.eu_ai_act == "prohibited":
        tier = "critical"
    return Assessment(
        system,
        score,
        tier,
        min(exposure // 2, 2),
        min((reach + EU_CLASS[system.eu_ai_act]) // 4, 2),
    )


@dataclass(frozen=True)
class Gap:
    system: str
    kind: str  # no-runbook, no-canary, no-owner, no-recent-drill
    message: str


def _yaml_docs(folders: Iterable[Path]) -> Iterable[tuple[Path, Any]]:
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.y*ml")):
            try:
                yield path, load_file(path).data
            except LoadError:
                continue


def _named_systems(data: Any) -> set[str]:
    if not isinstance(data, dict):
        return set()
    named = data.get("systems") or []
    single = data.get("system")
    raw_target = data.get("target")
    target: dict[str, Any] = raw_target if isinstance(raw_target, dict) else {}
    found = {str(s) for s in named} if isinstance(named, list) else set()
    if isinstance(single, str):
        found.add(single)
    if isinstance(target.get("system"), str):
        found.add(target["system"])
    return found


def coverage(workspace: Loaded) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Which runbooks, and which canary suites or detection rules (what watches it), name each
    system."""
    folders = [workspace.path(f) for f in workspace.config.runbooks]
    runbooks: dict[str, set[str]] = {}
    for path, data in _yaml_docs(folders):
        if isinstance(data, dict) and "nodes" in data:
            for system in _named_systems(data):
                runbooks.setdefault(system, set()).add(str(data.get("id", path.stem)))
    suites: dict[str, set[str]] = {}
    for path, data in _yaml_docs(workspace.path(f) for f in workspace.config.canaries):
        for system in _named_systems(data):
            suites.setdefault(system, set()).add(path.stem)
    for path, data in _yaml_docs(workspace.path(f) for f in workspace.config.detections):
        if isinstance(data, dict) and "detect" in data:
            for system in _named_systems(data):
                suites.setdefault(system, set()).add(f"detect:{data.get('detect', path.stem)}")
    return runbooks, suites


def gaps(workspace: Loaded, incidents_dir: Path, now: dt.datetime) -> list[Gap]:
    """Every gap in the response to every inventoried system."""
    runbooks, suites = coverage(workspace)
    drilled = _recent_drills(incidents_dir, now)
    found: list[Gap] = []
    for system in workspace.inventory.systems if workspace.inventory else []:
        risk = assess(system)
        if system.id not in runbooks:
            found.append(Gap(system.id, "no-runbook", "no runbook names it in `systems`"))
        if system.id not in suites:
            message = "no canary suite or detection rule watches it"
            found.append(Gap(system.id, "no-canary", message))
        owner = workspace.on_call(system.owner)
        if workspace.team is not None and owner.person is None:
            found.append(
                Gap(
                    system.id,
                    "no-owner",
                    f"owner {system.owner!r} has nobody on call in the roster",
                )
            )
        if risk.tier in {"critical", "high"} and not (runbooks.get(system.id, set()) & drilled):
            found.append(
                Gap(
                    system.id,
                    "no-recent-drill",
                    f"{risk.tier} risk, and no drill of its runbooks passed in the last 90 days",
                )
            )
    return found


def _recent_drills(incidents_dir: Path, now: dt.datetime) -> set[str]:
    """Runbook ids with a drill that ended well within the window."""
    from aiir.timestamps import parse_iso

    passed: set[str] = set()
    for incident in list_incidents(incidents_dir):
        if (
            not incident.drill
            or not incident.verified  # a journal that does not verify proves no drill
            or incident.outcome in {None, "failed", "aborted"}
            or not incident.ended_at
        ):
            continue
        if now - parse_iso(incident.ended_at) <= DRILL_WINDOW:
            passed.update(
                {
                    incident.runbook,
                    *(
                        e.data.get("child", "")
                        for e in incident.history()
                        if e.type == EventType.CALL_ENTERED
                    ),
                }
            )
    return passed
