"""What an on-call engineer types into the shipped runbooks, in the sandbox's seeded world
(:mod:`aiir.sandbox.world`): the keys, tools, sources, markers and versions that exist there."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiir.formats.schema import Runbook
from aiir.sandbox import world
from aiir.validate.checked import load_checked

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.yaml"))
# Environment a real run needs; the sandbox under test is open (no master key).
ENVIRON = {
    "LITELLM_MASTER_KEY": "sk-aiir-tests-master",
    "AGENT_PLATFORM_TOKEN": "agents-token",
    "SCORING_ADMIN_TOKEN": "scoring-token",
    "MLFLOW_TRACKING_TOKEN": "mlflow-token",
    "AIRFLOW_AUTH": "Basic YWlpcjphaWly",
    "UNLEASH_ADMIN_TOKEN": "unleash-token",
}
SUSPECT_TEAM = "acme-scraper-team"  # the suspect key of model-extraction is one of its keys
DEPLOYMENT_INPUTS = frozenset({"deployment-id", "regressed-deployment"})
# Input answers by (runbook, node), then by node.
PLAUSIBLE: dict[tuple[str, str] | str, str] = {
    ("triage", "intake"): "Canary support-bot-jailbreak failed at 03:12 UTC on the help widget",
    ("triage", "affected-model"): "support-bot",
    ("excessive-agency", "tool"): "ads.update_budget",
    ("supply-chain", "tool"): "mcp-github",
    ("indirect-prompt-injection", "marker"): "Ignore the customer's question",
    ("indirect-prompt-injection", "source-id"): "ticket-48213",
    ("rag-poisoning", "marker"): "+1-555-0199",
    ("rag-poisoning", "source-id"): "upload-7731",
    ("sensitive-data-leak", "source-id"): "crm-export-2024",
    "clean-snapshot": "support-kb-snap-1",
    "leaked-marker": "CUST-88213",
    "source-tool": "web_browse",
    "action-tool": "send_email",
    "exec-tool": "code_interpreter",
    "exfil-domain": "collector.example.net",
    "attacker-key": "sk-attacker-0001",
    "spender-key": "sk-spender-0001",
    "extractor-key": "sk-extractor-0001",
    "host-key": "sk-host-0001",
    "abuser-key": "sk-abuser-0001",
    "suspect-key": "sk-suspect-0001",
    "suspect-team": SUSPECT_TEAM,
    "spend-rate": "42.5",
    "package": "fastjson-utils2",
    "trigger": "cf-trigger-7f3a",
    "payload": "collector.example.net/pixel",
    "target": "Jane Politician",
    "leak-phrase": "Internal escalation code: ESC-7731",
}


def plausible(runbook: str, node: str, inputs: Mapping[str, Any]) -> str:
    """The answer to input ``node`` of ``runbook`` whose inputs are ``inputs``."""
    if (runbook, node) in PLAUSIBLE:
        return PLAUSIBLE[(runbook, node)]
    if node in PLAUSIBLE:
        return PLAUSIBLE[node]
    if node in DEPLOYMENT_INPUTS:
        return world.deployment_id(str(inputs["model"]))
    if node in {"last-good-version", "last-fair-version"}:  # the version before the served one
        served = world.REGISTERED_MODELS.get(str(inputs["model"]), world.DEFAULT_VERSIONS)
        return str(served - 1)
    raise AssertionError(f"no plausible answer for {runbook}.{node}: add one to tests/answers.py")


def team_keys(runbook: Runbook, inputs: Mapping[str, Any] | None = None) -> dict[str, str]:
    """APP_TEAM_KEY (or AGENT_TEAM_KEY): a key of the team the runbook's kill switch blocks."""
    spec = runbook.inputs.get("team_id")
    team = (inputs or {}).get("team_id", spec.default if spec else None)
    if team not in world.TEAM_KEYS:
        return {}
    variable = "AGENT_TEAM_KEY" if "AGENT_TEAM_KEY" in runbook.env else "APP_TEAM_KEY"
    return {variable: world.TEAM_KEYS[str(team)]}


@functools.cache
def library() -> dict[str, Runbook]:
    """The shipped runbooks by id, each validated once."""
    return {runbook.id: runbook for runbook in map(load_checked, RUNBOOKS)}
