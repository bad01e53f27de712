"""The AI system inventory: risk tiers for representative systems, and each kind of coverage gap."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from rich.console import Console

from aiir.environment import Environment
from aiir.formats.organisation import AISystem
from aiir.formats.workspace import load
from aiir.prompts import NoTerminalPrompter
from aiir.reports.assessment import Gap, assess, gaps
from aiir.respond.session import start
from tests.helpers import write
from tests.respond import aiir, no_terminal
from tests.support.clock import START, FakeClock

NOW = START + dt.timedelta(days=100)

BASE: dict[str, Any] = {
    "id": "system",
    "name": "A system",
    "owner": "security",
    "model": "m",
    "provider": "p",
    "data_sensitivity": "public",
    "user_facing": False,
    "autonomy": "none",
    "eu_ai_act": "minimal",
    "blast_radius": "single-user",
}


def system(**facts: Any) -> AISystem:
    return AISystem.model_validate({**BASE, **facts})


# --- risk tiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "score", "tier", "likelihood", "impact"),
    [
        pytest.param({}, 0, "low", 0, 0, id="internal-lookup"),
        pytest.param(
            {"user_facing": True, "eu_ai_act": "limited"}, 2, "low", 0, 0, id="public-faq-bot"
        ),
        pytest.param(
            {
                "autonomy": "act-with-approval",
                "data_sensitivity": "internal",
                "blast_radius": "team",
            },
            4,
            "medium",
            1,
            0,
            id="ad-agent",
        ),
        pytest.param(
            {
                "user_facing": True,
                "autonomy": "suggest",
                "data_sensitivity": "confidential",
                "blast_radius": "customers",
                "eu_ai_act": "limited",
            },
            7,
            "medium",
            1,
            1,
            id="medium-at-7",
        ),
        pytest.param(
            {
                "user_facing": True,
                "autonomy": "suggest",
                "data_sensitivity": "personal",
                "blast_radius": "customers",
                "eu_ai_act": "limited",
            },
            8,
            "high",
            1,
            1,
            id="support-bot-high-at-8",
        ),
        pytest.param(
            {
                "user_facing": True,
                "autonomy": "act-with-approval",
                "data_sensitivity": "personal",
                "blast_radius": "public",
                "eu_ai_act": "limited",
            },
            10,
            "high",
            1,
            1,
            id="high-at-10",
        ),
        pytest.param(
            {
                "autonomy": "autonomous",
                "data_sensitivity": "personal",
                "blast_radius": "customers",
                "eu_ai_act": "high",
            },
            11,
            "critical",
            1,
            2,
            id="fraud-model-critical-at-11",
        ),
        pytest.param({"eu_ai_act": "high"}, 3, "high", 0, 0, id="ai-act-high-risk-floor"),
        pytest.param({"eu_ai_act": "gpai-systemic"}, 3, "high", 0, 0, id="gpai-systemic-floor"),
        pytest.param({"eu_ai_act": "prohibited"}, 4, "critical", 0, 1, id="prohibited"),
        pytest.param(
            {
                "user_facing": True,
                "autonomy": "autonomous",
                "data_sensitivity": "special-category",
                "blast_radius": "critical-infrastructure",
                "eu_ai_act": "prohibited",
            },
            16,
            "critical",
            2,
            2,
            id="worst-case",
        ),
    ],
)
def test_assess_scores_and_tiers_a_system(
    facts: dict[str, Any], score: int, tier: str, likelihood: int, impact: int
) -> None:
    risk = assess(system(**facts))
    assert (risk.score, risk.tier, risk.likelihood, risk.impact) == (
        score,
        tier,
        likelihood,
        impact,
    )


# --- gaps --------------------------------------------------------------------------------------

HIGH = {
    "user_facing": True,
    "autonomy": "suggest",
    "data_sensitivity": "personal",
    "blast_radius": "customers",
    "eu_ai_act": "limited",
}


def _workspace(root: Path, systems: list[dict[str, Any]]) -> None:
    write(root / "aiir.yaml", {"aiir": 1, "workspace": "w"})
    write(
        root / "team.yaml",
        {
            "aiir": 1,
            "team": "w",
            "people": {"sam": {"name": "Sam"}},
            "roles": {"security": {"on_call": "sam"}, "data-science": {"people": []}},
        },
    )
    write(root / "inventory.yaml", {"aiir": 1, "inventory": "w", "systems": systems})


def _runbook(root: Path, runbook_id: str, systems: list[str], outcome: str = "contained") -> Path:
    path = root / "runbooks" / f"{runbook_id}.yaml"
    write(
        path,
        {
            "aiir": 1,
            "id": runbook_id,
            "title": f"Runbook {runbook_id}",
            "owner": "security",
            "severity": "SEV2",
            "systems": systems,
            "start": "done",
            "nodes": {"done": {"kind": "end", "title": "Done", "outcome": outcome}},
        },
    )
    return path


def _canary(root: Path, name: str, systems: list[str]) -> None:
    write(
        root / "canaries" / f"{name}.yaml",
        {
            "aiir": 1,
            "canary": name,
            "title": name,
            "systems": systems,
            "gateways": {"gw": {"profile": "litellm", "url": "http://127.0.0.1:4000"}},
            "target": {"model": "m"},
            "prompts": [{"id": "p", "prompt": "hi", "assert": [{"type": "is-refusal"}]}],
        },
    )


def _walk(runbook: Path, incidents: Path, when: dt.datetime, *, drill: bool = True) -> None:
    env = Environment(
        console=Console(file=io.StringIO()),
        prompter=NoTerminalPrompter(),
        client=httpx2.Client(),
        clock=FakeClock(when),
        environ={},
        operator="drill",
        incidents_dir=incidents,
    )
    result = start(runbook, env, drill=drill)
    assert result.incident.ended_at is not None


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Systems that each lack one thing, and one that lacks nothing."""
    _workspace(
        tmp_path,
        [
            {**BASE, **HIGH, "id": "covered"},
            {**BASE, "id": "unplanned"},
            {**BASE, "id": "unwatched"},
            {**BASE, "id": "orphan", "owner": "data-science"},
            {**BASE, **HIGH, "id": "undrilled"},
        ],
    )
    _runbook(tmp_path, "covered-rb", ["covered"])
    _runbook(tmp_path, "small-rb", ["unwatched", "orphan"])
    _runbook(tmp_path, "undrilled-rb", ["undrilled"])
    _canary(tmp_path, "suite", ["covered", "unplanned", "orphan", "undrilled"])
    return tmp_path


def found(root: Path, now: dt.datetime = NOW) -> set[tuple[str, str]]:
    return {(g.system, g.kind) for g in gaps(load(root / "aiir.yaml"), root / "incidents", now)}


def test_each_kind_of_gap_is_found(workspace: Path) -> None:
    _walk(
        workspace / "runbooks" / "covered-rb.yaml",
        workspace / "incidents",
        NOW - dt.timedelta(days=10),
    )
    assert found(workspace) == {
        ("unplanned", "no-runbook"),
        ("unwatched", "no-canary"),
        ("orphan", "no-owner"),
        ("undrilled", "no-recent-drill"),
    }


def test_gaps_say_what_is_missing(workspace: Path) -> None:
    listed = gaps(load(workspace / "aiir.yaml"), workspace / "incidents", NOW)
    by_key = {(g.system, g.kind): g for g in listed}
    assert by_key[("unplanned", "no-runbook")] == Gap(
        "unplanned", "no-runbook", "no runbook names it in `systems`"
    )
    assert by_key[("unwatched", "no-canary")].message == (
        "no canary suite or detection rule watches it"
    )
    assert by_key[("orphan", "no-owner")].message == (
        "owner 'data-science' has nobody on call in the roster"
    )
    assert by_key[("undrilled", "no-recent-drill")].message == (
        "high risk, and no drill of its runbooks passed in the last 90 days"
    )


def test_a_passing_drill_within_90_days_closes_the_drill_gap(workspace: Path) -> None:
    incidents = workspace / "incidents"
    runbook = workspace / "runbooks" / "undrilled-rb.yaml"
    _walk(runbook, incidents, NOW - dt.timedelta(days=89, hours=23))
    assert ("undrilled", "no-recent-drill") not in found(workspace)
    assert ("covered", "no-recent-drill") in found(workspace)


@pytest.mark.parametrize("kind", ["too-old", "failed", "not-a-drill"])
def test_only_a_recent_passing_drill_counts(workspace: Path, kind: str) -> None:
    incidents = workspace / "incidents"
    runbook = workspace / "runbooks" / "undrilled-rb.yaml"
    if kind == "too-old":
        _walk(runbook, incidents, NOW - dt.timedelta(days=90, minutes=1))
    elif kind == "failed":
        _walk(_runbook(workspace, "undrilled-rb", ["undrilled"], "failed"), incidents, NOW)
    else:
        _walk(runbook, incidents, NOW, drill=False)
    assert ("undrilled", "no-recent-drill") in found(workspace)


def test_a_drill_of_a_runbook_that_calls_the_systems_runbook_counts(workspace: Path) -> None:
    write(
        workspace / "runbooks" / "triage.yaml",
        {
            "aiir": 1,
            "id": "triage",
            "title": "Triage",
            "owner": "security",
            "severity": "SEV2",
            "start": "hand-off",
            "nodes": {"hand-off": {"kind": "call", "title": "Hand off", "runbook": "undrilled-rb"}},
        },
    )
    _walk(workspace / "runbooks" / "triage.yaml", workspace / "incidents", NOW)
    assert ("undrilled", "no-recent-drill") not in found(workspace)


def test_without_a_roster_there_is_no_owner_gap(workspace: Path) -> None:
    (workspace / "team.yaml").unlink()
    assert not {kind for _, kind in found(workspace)} & {"no-owner"}


def test_inventory_json_gives_each_systems_tier(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_terminal(monkeypatch, workspace)
    ran = aiir(capsys, "inventory", "show", "--json")
    assert ran.status == 0
    tiers = {s["id"]: (s["risk_score"], s["risk_tier"]) for s in json.loads(ran.out)}
    assert tiers == {
        "covered": (8, "high"),
        "unplanned": (0, "low"),
        "unwatched": (0, "low"),
        "orphan": (0, "low"),
        "undrilled": (8, "high"),
    }
    ran = aiir(capsys, "inventory", "check", "--json")
    assert ran.status == 1
    kinds = {(g["system"], g["kind"]) for g in json.loads(ran.out)}
    assert ("unplanned", "no-runbook") in kinds


def test_inventory_without_a_workspace_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)
    ran = aiir(capsys, "inventory", "check")
    assert ran.status == 2
    assert ran.err == "aiir: no aiir.yaml here or above (create one with: aiir init DIR)\n"


def test_detection_rules_that_name_a_system_watch_it(workspace: Path) -> None:
    write(
        workspace / "detections" / "gateway.yaml",
        {
            "aiir": 1,
            "detect": "gateway",
            "systems": ["unwatched"],
            "prometheus": {"url": "http://127.0.0.1:9090"},
            "rules": [{"id": "errors", "query": "up", "below": 1}],
        },
    )
    assert ("unwatched", "no-canary") not in found(workspace)
