"""What the run, security and terminal tests share: a small runbook, a planted master key, and a
clean environment for running the real ``aiir`` command in a child process."""

from __future__ import annotations

import copy
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROMPT_INJECTION = ROOT / "runbooks" / "prompt-injection.yaml"
# Unique per session, so finding it anywhere can only mean it leaked from this run.
MASTER_KEY = f"sk-plant-{secrets.token_hex(16)}"
ATTACKER_KEY = "sk-attacker-123456"
# Variables that would make rich colour a pipe, or point aiir somewhere else.
_DROPPED = re.compile(
    r"^(FORCE_COLOR|PY_COLORS|TTY_COMPATIBLE|TTY_INTERACTIVE|COLUMNS|LINES|LITELLM_MASTER_KEY|AIIR_.*)$"
)
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>()][0-9A-Za-z]?"
)

_DRILL: dict[str, Any] = {
    "aiir": 1,
    "id": "drill",
    "title": "Terminal drill",
    "owner": "security",
    "severity": "SEV3",
    "tags": {"owasp": ["LLM01:2025"]},
    "inputs": {"model": {"description": "Model group", "default": "support-bot"}},
    "env": {"LITELLM_MASTER_KEY": {"description": "LiteLLM admin key"}},
    "gateways": {
        "gateway": {
            "profile": "litellm",
            "url": "http://127.0.0.1:9",
            "headers": {"Authorization": "Bearer {{ env.LITELLM_MASTER_KEY }}"},
        }
    },
    "levers": {
        "filter": {
            "title": "Emergency filter on the attack phrase",
            "kind": "filter",
            "engage": {
                "use": "litellm.add_guardrail",
                "with": {
                    "name": "aiir-{{ incident.id }}",
                    "guardrail": "litellm_content_filter",
                    "blocked_words": ["{{ answers.phrase }}"],
                },
            },
            "verify": {
                "use": "litellm.chat",
                "with": {"model": "{{ inputs.model }}", "prompt": "{{ answers.phrase }} now"},
                "expect": {"status": [400, 403]},
            },
            "release": {
                "use": "litellm.remove_guardrail",
                "with": {"guardrail_id": "{{ vars.guardrail_id }}"},
            },
        },
        "block-key": {
            "title": "Block the attacker's key",
            "kind": "block",
            "engage": {
                "use": "litellm.block_key",
                "with": {"key": "{{ answers['attacker-key'] }}"},
            },
            "verify": {
                "use": "litellm.chat",
                "headers": {"Authorization": "Bearer {{ answers['attacker-key'] }}"},
                "with": {"model": "{{ inputs.model }}", "prompt": "ping"},
                "expect": {"status": [401, 403]},
            },
            "release": {
                "use": "litellm.unblock_key",
                "with": {"key": "{{ answers['attacker-key'] }}"},
            },
        },
    },
    "start": "triage",
    "nodes": {
        "triage": {
            "kind": "question",
            "title": "Triage",
            "prompt": "What happened to {{ inputs.model }}?",
            "choices": [
                {"label": "Harmful output reached users", "value": "harmful", "next": "phrase"},
                {
                    "label": "The system prompt leaked",
                    "value": "leak",
                    "next": "phrase",
                    "severity": "SEV1",
                },
                {"label": "Nothing", "value": "nothing", "next": "dismiss"},
            ],
        },
        "phrase": {
            "kind": "input",
            "title": "Attack phrase",
            "prompt": "Which phrase did the attack use?",
            "next": "contain",
        },
        "contain": {
            "kind": "lever",
            "title": "Filter the phrase",
            "lever": "filter",
            "next": "known",
        },
        "known": {
            "kind": "confirm",
            "title": "Attacker key",
            "prompt": "Is the attacker's key known?",
            "yes": "attacker-key",
            "no": "steps",
        },
        "attacker-key": {
            "kind": "input",
            "title": "Attacker key",
            "prompt": "Which virtual key?",
            "pattern": "sk-[A-Za-z0-9-]+",
            "next": "block",
        },
        "block": {"kind": "lever", "title": "Block the key", "lever": "block-key", "next": "steps"},
        "steps": {
            "kind": "checklist",
            "title": "Eradicate",
            "items": [
                {"id": "harden", "text": "Harden the system prompt"},
                {"id": "canaries", "text": "Add regression canaries"},
                {"id": "downstream", "text": "Check downstream actions"},
            ],
            "next": "done",
        },
        "done": {
            "kind": "end",
            "title": "Contained",
            "outcome": "contained",
            "summary": "Contained {{ answers.triage }} on {{ inputs.model }}; "
            "phrase {{ answers.phrase }}.",
        },
        "dismiss": {"kind": "end", "title": "Dismissed", "outcome": "false-positive"},
    },
}

# Every answer the drill asks for, as an answers file says them.
DRILL_ANSWERS: dict[str, Any] = {
    "triage": "leak",
    "phrase": "ignore previous",
    "known": "yes",
    "attacker-key": ATTACKER_KEY,
    "steps": "all",
}


def drill() -> dict[str, Any]:
    """The drill runbook: a question, an input, a lever, a confirmation, a patterned input, a
    second lever and a checklist, against a LiteLLM-like gateway. A fresh copy to change."""
    return copy.deepcopy(_DRILL)


def aiir_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m aiir``."""
    script = Path(sys.executable).with_name("aiir")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "aiir"]


def process_env(incidents: Path, **extra: str) -> dict[str, str]:
    """This process's environment without colour forcing or aiir settings; the master key set."""
    env = {k: v for k, v in os.environ.items() if not _DROPPED.match(k)}
    env.update(
        {
            "COLUMNS": "200",  # long lines stay whole, so assertions can find them
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "AIIR_INCIDENT_DIR": str(incidents),
            "AIIR_OPERATOR": "tester",
        }
    )
    env.update(extra)
    return env


def run_aiir(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The real command in a child process with no terminal (stdin is /dev/null), as in CI."""
    return subprocess.run(
        [*aiir_command(), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )


def strip_ansi(text: str) -> str:
    """Terminal output without colour and cursor sequences."""
    return _ANSI.sub("", text)


def only_incident(incidents: Path) -> str:
    """The id of the one incident under ``incidents``."""
    found = [d.name for d in incidents.iterdir() if d.is_dir()]
    assert len(found) == 1, found
    return found[0]
