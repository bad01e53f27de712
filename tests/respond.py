"""What the "respond and learn" tests share: a frozen clock, a workspace built from dicts, the
``aiir`` command in-process with that clock, and a fixed incident id.

The clock is the only time anything sees: the journal's timestamps, the regulatory clocks, the
status-update reminders and the reports all read it, so every rendered text is reproducible.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import JOURNAL, Event, read_events
from tests.helpers import write
from tests.support.cli import Ran, process_environment, run_cli
from tests.support.clock import START, FakeClock, Observer

ID_SUFFIX = "0001"
OPERATOR = "tester"


def no_terminal(monkeypatch: pytest.MonkeyPatch, workspace: Path | None = None) -> None:
    """As in CI: no terminal, no colour, no aiir settings from the outside; a known operator."""
    import os

    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    for name in list(os.environ):
        if name.startswith("AIIR_") or name in {"FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("AIIR_OPERATOR", OPERATOR)
    if workspace is not None:
        monkeypatch.setenv("AIIR_WORKSPACE", str(workspace))


@dataclass(frozen=True)
class Frozen:
    clock: FakeClock
    observers: tuple[Observer, ...]


FROZEN: Frozen | None = None  # set by :func:`freeze` for one test (undone by monkeypatch)


def freeze(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, observers: Iterable[Observer] = ()
) -> None:
    """Every command :func:`aiir` runs reads ``clock``; incident ids end in a fixed suffix."""
    monkeypatch.setattr(sys.modules[__name__], "FROZEN", Frozen(clock, tuple(observers)))
    monkeypatch.setattr(
        "aiir.incident.state.new_incident_id", lambda now: f"INC-{now:%Y%m%d-%H%M%S}-{ID_SUFFIX}"
    )


def incident_id(moment: dt.datetime = START) -> str:
    """The id :func:`freeze` gives an incident opened at ``moment``."""
    return f"INC-{moment:%Y%m%d-%H%M%S}-{ID_SUFFIX}"


def aiir(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """``aiir ARGS`` in this process (on the frozen clock, if any): exit status, stdout, stderr."""
    frozen = FROZEN
    if frozen is None:
        return run_cli(capsys, *args)
    return run_cli(capsys, *args, env=process_environment(frozen.clock, frozen.observers))


def journal(incidents: Path, incident: str) -> list[Event]:
    events, problems = read_events(incidents / incident / JOURNAL)
    assert not problems, problems
    return events


def journal_bytes(incidents: Path) -> bytes:
    """Every byte journalled or stored under ``incidents`` (journals, evidence, runbook copies)."""
    return b"".join(p.read_bytes() for p in sorted(incidents.rglob("*")) if p.is_file())


def of_type(events: Iterable[Event], kind: str) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == kind]


# --- a workspace ---------------------------------------------------------------------------------

TEAM: dict[str, Any] = {
    "aiir": 1,
    "team": "acme-ai",
    "people": {
        "alex": {"name": "Alex Example", "slack": "@alex"},
        "sam": {"name": "Sam Example", "slack": "@sam"},
        "kim": {"name": "Kim Example"},
    },
    "roles": {
        "incident-commander": {"on_call": "alex", "people": ["alex", "sam"]},
        "security": {
            "on_call": "sam",
            "people": ["sam"],
            "pagerduty_routing_key_env": "SECURITY_PD_ROUTING_KEY",
        },
        "ml-engineering": {"on_call": "kim", "people": ["kim"]},
        "data-science": {"on_call": "kim", "people": ["kim"]},
        "mlops": {"on_call": "alex", "people": ["alex"]},
        "communications": {"on_call": "sam", "people": ["sam"]},
        "legal-compliance": {"people": []},
    },
}

SUPPORT_BOT: dict[str, Any] = {
    "id": "support-bot",
    "name": "Customer support assistant",
    "owner": "security",
    "model": "gpt-4o-mini",
    "provider": "openai",
    "gateway": "gateway",
    "data_sensitivity": "personal",
    "user_facing": True,
    "autonomy": "suggest",
    "eu_ai_act": "high",
    "blast_radius": "customers",
    "system_prompt_version": "v12",
    "guardrails": ["prompt-injection-filter"],
    "rag_index": "help-center-2025-11",
}

INVENTORY: dict[str, Any] = {"aiir": 1, "inventory": "acme-ai", "systems": [SUPPORT_BOT]}

CONFIG: dict[str, Any] = {
    "aiir": 1,
    "workspace": "acme-ai",
    "regimes": ["eu-ai-act", "gdpr", "nis2"],
    "disclosure": [
        {"severities": ["SEV1"], "audience": "status-page", "within": "1h"},
        {"categories": ["sensitive-data-leak"], "audience": "customers", "within": "72h"},
    ],
}


def write_workspace(
    root: Path,
    config: Mapping[str, Any] | None = None,
    team: Mapping[str, Any] | None = None,
    inventory: Mapping[str, Any] | None = None,
) -> Path:
    """``aiir.yaml``, ``team.yaml`` and ``inventory.yaml`` under ``root`` (defaults above)."""
    write(root / "aiir.yaml", copy.deepcopy(dict(config or CONFIG)))
    write(root / "team.yaml", copy.deepcopy(dict(team or TEAM)))
    write(root / "inventory.yaml", copy.deepcopy(dict(inventory or INVENTORY)))
    return root


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
