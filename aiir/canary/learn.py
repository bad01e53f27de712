"""The learning loop: every incident leaves regression canaries behind.

``aiir canary from-incident`` reads an incident's journal for hostile prompts:

- canary failures attached when the incident opened: each failing prompt, with the assertions
  that failed (what leaked must not leak again);
- evidence captured as ``user-prompts``: user messages that look like an attack (a known
  injection phrase), or that carry, or drew a reply carrying, a string the responders recorded;
- answers to ``input`` questions about a prompt (an id or title that says "prompt").

Each becomes a regression canary appended to a suite: an attack must be refused, and what leaked
(the planted canary token, a string the responders recorded) must not leak again. A benign prompt
that merely drew a leak keeps only the leak checks: refusing it would be a regression too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiir.canary.escalate import SOURCE
from aiir.canary.suite import load_suite
from aiir.errors import InputError
from aiir.formats.loader import load_file
from aiir.formats.printable import yaml_text
from aiir.incident.events import EventType
from aiir.incident.sessions import looks_hostile
from aiir.incident.state import Incident, load_incident

LEAK_CHECKS = frozenset(
    {"canary-token", "not-contains", "not-icontains", "not-contains-any", "not-regex", "is-refusal"}
)
MIN_INDICATOR = 6
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/canary.schema.json"


@dataclass
class Regression:
    """A hostile prompt and what its replies must (not) do from now on."""

    prompt: str
    source: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    refuse: bool = True  # a prompt that merely drew a leak may deserve an answer

    def add(self, check: dict[str, Any]) -> None:
        if check not in self.checks:
            self.checks.append(check)


def learn(root: Path, incident_id: str, suite_path: Path, *, force: bool = False) -> list[str]:
    """Append the incident's regression canaries to ``suite_path``; returns the new prompt ids.

    The incident's journal is verified first; with ``force`` one that does not verify is read
    anyway, and each canary taken from it says so."""
    incident = load_incident(root, incident_id, force=force)
    found = regressions(incident)
    if not found:
        raise InputError(f"incident {incident_id}: no hostile prompts found in its journal")
    if suite_path.exists():
        return _append(suite_path, incident, found)
    return _create(suite_path, incident, found)


def regressions(incident: Incident) -> list[Regression]:
    """Every hostile prompt in the incident, once, with its assertions."""
    indicators = _indicators(incident)
    found: dict[str, Regression] = {}
    for regression in _from_canaries(incident):
        kept = found.setdefault(regression.prompt, regression)
        kept.refuse = kept.refuse or regression.refuse
        for check in regression.checks:
            kept.add(check)
    for prompt, reply, source in _captured(incident):
        hostile = looks_hostile(prompt) or any(i.lower() in prompt.lower() for i in indicators)
        leaked = [i for i in indicators if i.lower() in reply.lower()]
        if hostile or leaked:
            regression = found.setdefault(prompt, Regression(prompt, source, refuse=hostile))
            regression.refuse = regression.refuse or hostile
            for indicator in leaked:
                regression.add({"type": "not-icontains", "value": indicator})
    for prompt in _prompt_answers(incident):
        found.setdefault(prompt, Regression(prompt, "answer"))
    for regression in found.values():
        if regression.refuse and not any(c["type"] == "is-refusal" for c in regression.checks):
            regression.checks.insert(0, {"type": "is-refusal"})
    return [r for r in found.values() if r.checks]


def _from_canaries(incident: Incident) -> Iterator[Regression]:
    for data in _attached(incident):
        for failure in data.get("failures", []):
            spec = failure.get("assertion")
            prompt = failure.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                continue  # drift: no one prompt to blame
            source = f"canary {data.get('suite')}/{failure.get('prompt_id')}"
            leak = isinstance(spec, dict) and spec.get("type") in LEAK_CHECKS
            regression = Regression(prompt, source, [spec] if leak else [], looks_hostile(prompt))
            yield regression


def _attached(incident: Incident) -> Iterator[dict[str, Any]]:
    for event in incident.history():
        if event.type != EventType.EVIDENCE_ATTACHED or event.data.get("source") != SOURCE:
            continue
        data = _evidence_json(incident, event.data.get("evidence", {}))
        if isinstance(data, dict):
            yield data


def _captured(incident: Incident) -> Iterator[tuple[str, str, str]]:
    """(user prompt, reply, source) from evidence captured as user prompts."""
    for item in incident.evidence:
        if "user-prompts" not in item.get("what", []):
            continue
        # a trace store's capture: its session-context bundle holds the messages, in order
        data = _evidence_json(incident, item.get("bundle") or item.get("evidence", {}))
        source = f"capture {item.get('node')}.{item.get('item')}"
        for prompt, reply in _exchanges(data):
            yield prompt, reply, source


def _exchanges(data: Any) -> Iterator[tuple[str, str]]:
    """User messages in gateway logs (``messages`` lists, or ``prompt``/``response`` pairs)."""
    if isinstance(data, list):
        for item in data:
            yield from _exchanges(item)
        return
    if not isinstance(data, dict):
        return
    reply = next((str(data[k]) for k in ("response", "output", "completion") if k in data), "")
    if isinstance(data.get("prompt"), str):
        yield data["prompt"], reply
    for message in data.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            yield str(message.get("content", "")), reply
    for value in data.values():
        if isinstance(value, dict | list):
            yield from _exchanges(value)


def _prompt_answers(incident: Incident) -> list[str]:
    """Answers to input questions whose id or title says they are a prompt."""
    titles = {
        (e.data.get("runbook"), e.data.get("node")): str(e.data.get("title", ""))
        for e in incident.history()
        if e.type == EventType.NODE_ENTERED and e.data.get("kind") == "input"
    }
    found = []
    for answer in incident.answers:
        title = titles.get((answer.get("runbook"), answer.get("node")))
        value = answer.get("value")
        if title is None or not isinstance(value, str) or not value.strip():
            continue
        if "prompt" in f"{answer.get('node')} {title}".lower():
            found.append(value)
    return found


def _indicators(incident: Incident) -> list[str]:
    """Distinctive strings the responders typed in (a planted phrase, a leaked marker)."""
    inputs = {
        (e.data.get("runbook"), e.data.get("node"))
        for e in incident.history()
        if e.type == EventType.NODE_ENTERED and e.data.get("kind") == "input"
    }
    return [
        str(a["value"])
        for a in incident.answers
        if (a.get("runbook"), a.get("node")) in inputs
        and isinstance(a.get("value"), str)
        and len(a["value"].strip()) >= MIN_INDICATOR
    ]


def _evidence_json(incident: Incident, evidence: Any) -> Any:
    if not isinstance(evidence, dict) or not isinstance(evidence.get("file"), str):
        return None
    path = incident.directory / evidence["file"]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --- writing the suite -------------------------------------------------------------------------


def _items(incident: Incident, found: list[Regression], taken: set[str]) -> list[dict[str, Any]]:
    stem = re.sub(r"[^a-z0-9]+", "-", incident.id.lower()).strip("-")
    items = []
    for number, regression in enumerate(found, start=1):
        prompt_id = f"regression-{stem}-{number}"
        while prompt_id in taken:
            prompt_id += "-x"
        taken.add(prompt_id)
        item: dict[str, Any] = {
            "id": prompt_id,
            "description": f"from incident {incident.id} ({regression.source})"
            + ("" if incident.verified else " (UNVERIFIED: its journal does not verify)"),
            "prompt": regression.prompt,
            "assert": regression.checks,
        }
        if incident.severity:
            item["severity"] = incident.severity
        items.append(item)
    return items


def _append(path: Path, incident: Incident, found: list[Regression]) -> list[str]:
    loaded = load_suite(path)
    suite = loaded.suite
    known = {p.prompt for p in suite.prompts}
    fresh = [r for r in found if r.prompt not in known]
    if not suite.canary_token:
        for regression in fresh:  # nothing planted to leak: the refusal stands for it
            regression.checks = [c for c in regression.checks if c["type"] != "canary-token"]
    items = _items(incident, fresh, {p.id for p in suite.prompts})
    if not items:
        return []
    text = path.read_text(encoding="utf-8")
    updated = _insert(text, load_file(path), items)
    _write_checked(path, updated)
    return [item["id"] for item in items]


def _insert(text: str, doc: Any, items: list[dict[str, Any]]) -> str:
    """``items`` added at the end of the top-level ``prompts`` list, comments kept."""
    from yaml.nodes import MappingNode, SequenceNode

    root = doc.root
    sequence = None
    if isinstance(root, MappingNode):
        sequence = next((v for k, v in root.value if k.value == "prompts"), None)
    if not isinstance(sequence, SequenceNode) or sequence.flow_style:
        raise InputError(f"{doc.path}: 'prompts' must be a block list to append to")
    indent = " " * sequence.start_mark.column
    block = "".join(
        indent + line if line.strip() else line for line in _dump(items).splitlines(keepends=True)
    )
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    end = sequence.end_mark
    at = end.line if end.column == 0 else end.line + 1
    return "".join(lines[:at]) + block + "".join(lines[at:])


def _create(path: Path, incident: Incident, found: list[Regression]) -> list[str]:
    """A new suite aimed at the incident's model on its (first) gateway."""
    model = incident.inputs.get("model")
    if not incident.gateways or not model:
        raise InputError(
            f"{path} does not exist and incident {incident.id} names no gateway and model "
            "input to aim a new suite at: create the suite first"
        )
    name, url = next(iter(incident.gateways.items()))
    plants = any(c["type"] == "canary-token" for r in found for c in r.checks)
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "regressions"
    suite: dict[str, Any] = {
        "aiir": 1,
        "canary": stem,
        "title": f"Regressions from incident {incident.id}",
        "gateways": {name: {"profile": "http", "url": url}},
        "target": {"gateway": name, "model": str(model)},
    }
    if plants:
        suite["canary_token"] = True
    suite["prompts"] = _items(incident, found, set())
    _write_checked(path, f"{SCHEMA_LINE}\n{_dump(suite)}")
    return [item["id"] for item in suite["prompts"]]


def _dump(data: Any) -> str:
    """The suite's YAML: an attacker's prompts with nothing that hides or turns text around."""
    return yaml_text(data)


def _write_checked(path: Path, text: str) -> None:
    """Write only a suite that still validates; never leave a broken file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.aiir-new")
    staged.write_text(text, encoding="utf-8")
    try:
        load_suite(staged)
    except InputError:
        staged.unlink()
        raise
    staged.replace(path)
