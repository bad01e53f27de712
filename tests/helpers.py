"""Documents for tests: a minimal valid runbook to mutate, and where things land in its YAML."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

_MINIMAL: dict[str, Any] = {
    "aiir": 1,
    "id": "demo",
    "title": "Demo runbook",
    "owner": "security",
    "severity": "SEV3",
    "tags": {"owasp": ["LLM01:2025"]},
    "inputs": {"model": {"description": "Model group"}},
    "env": {"TOKEN": {"description": "Gateway token"}},
    "gateways": {
        "gw": {
            "profile": "http",
            "url": "http://127.0.0.1:4000",
            "headers": {"Authorization": "Bearer {{ env.TOKEN }}"},
        }
    },
    "levers": {
        "kill": {
            "title": "Kill switch",
            "kind": "kill-switch",
            "engage": {"method": "POST", "path": "/kill", "json": {"model": "{{ inputs.model }}"}},
            "verify": {"use": "http.chat", "with": {"model": "{{ inputs.model }}", "prompt": "hi"}},
            "release": {"method": "POST", "path": "/revive"},
        }
    },
    "start": "triage",
    "nodes": {
        "triage": {
            "kind": "question",
            "title": "Triage",
            "prompt": "What happened to {{ inputs.model }}?",
            "choices": [
                {"label": "Harmful output", "value": "harmful", "next": "contain"},
                {"label": "Data leak", "value": "leak", "next": "contain"},
                {"label": "Nothing", "value": "nothing", "next": "dismiss"},
            ],
        },
        "contain": {"kind": "lever", "title": "Kill the model", "lever": "kill", "next": "done"},
        "done": {
            "kind": "end",
            "title": "Contained",
            "outcome": "contained",
            "summary": "Contained after {{ answers.triage }}.",
        },
        "dismiss": {"kind": "end", "title": "Dismissed", "outcome": "false-positive"},
    },
}


def minimal_runbook() -> dict[str, Any]:
    """A fresh copy of a small runbook with no findings at all, for a test to break."""
    return copy.deepcopy(_MINIMAL)


def confirm_runbook(
    runbook_id: str, title: str, contain: str | None = None, owner: str | None = None
) -> dict[str, Any]:
    """A two-question runbook (``look``: "Real?", then ``contain`` when given, owned by
    ``owner``) ending at ``done``: what the team, roles, notes and hostile-input tests walk."""
    nodes: dict[str, Any] = {
        "look": {"kind": "confirm", "title": "Look", "prompt": "Real?", "yes": "done", "no": "done"}
    }
    if contain is not None:
        nodes["look"]["yes"] = "contain"
        step = {
            "kind": "confirm",
            "title": "Contain",
            "prompt": contain,
            "yes": "done",
            "no": "done",
        }
        nodes["contain"] = step | ({"owner": owner} if owner else {})
    nodes["done"] = {"kind": "end", "title": "Done", "outcome": "resolved"}
    return {
        "aiir": 1,
        "id": runbook_id,
        "title": title,
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM01:2025"]},
        "start": "look",
        "nodes": nodes,
    }


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def write(path: Path, data: Any) -> str:
    """Dump ``data`` as YAML to ``path``; returns the text, for :func:`where`."""
    text = data if isinstance(data, str) else dump(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def where(text: str, snippet: str, mark: str | None = None) -> str:
    """``line:col`` of ``mark`` inside the first occurrence of ``snippet`` in ``text``.

    Without ``mark``, the snippet's first non-blank character. Expected locations are computed from
    the text itself, independently of the loader's node marks.
    """
    start = text.index(snippet)
    offset = start + (snippet.index(mark) if mark else len(snippet) - len(snippet.lstrip()))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"
