"""An incident as a MITRE ATLAS case study, in the YAML that the atlas-data repository keeps its
case studies in (one file per study: id, name, summary, incident date, a procedure of tactic and
technique ids, target, actor, type, references, reporter).

The procedure has one step per ATLAS technique in the runbook's tags, in the runbook's order,
each under the first tactic ATLAS files that technique under (``TACTICS``); a step's description
says what the walk saw (the hostile prompts it captured, the levers engaged). A technique whose
tactic aiir does not know is left out of the procedure and named in the summary, for the reporter
to place. What only a person knows (who attacked, the public references) is marked
``TO BE COMPLETED BY THE REPORTER``. Practice is a case study of type ``exercise``; a journal that
does not verify is exported with a summary that starts ``UNVERIFIED``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from aiir.formats.printable import yaml_text
from aiir.incident.state import Incident
from aiir.redact import mask_data, scrub
from aiir.reports.stix import UNVERIFIED, hostile_prompts
from aiir.timestamps import parse_iso

TO_COMPLETE = "TO BE COMPLETED BY THE REPORTER"

# ATLAS tactics, by id.
TACTIC_NAMES = {
    "AML.TA0000": "AI Model Access",
    "AML.TA0001": "AI Attack Staging",
    "AML.TA0002": "Reconnaissance",
    "AML.TA0003": "Resource Development",
    "AML.TA0004": "Initial Access",
    "AML.TA0005": "Execution",
    "AML.TA0006": "Persistence",
    "AML.TA0007": "Defense Evasion",
    "AML.TA0008": "Discovery",
    "AML.TA0009": "Collection",
    "AML.TA0010": "Exfiltration",
    "AML.TA0011": "Impact",
    "AML.TA0012": "Privilege Escalation",
    "AML.TA0013": "Credential Access",
}

# The techniques the shipped runbooks are tagged with: (name, the first tactic ATLAS lists for
# it). A sub-technique (AML.T0051.000) takes its parent's tactic when it is not listed itself.
TACTICS: dict[str, tuple[str, str]] = {
    "AML.T0005": ("Create Proxy AI Model", "AML.TA0001"),
    "AML.T0010": ("AI Supply Chain Compromise", "AML.TA0004"),
    "AML.T0018": ("Manipulate AI Model", "AML.TA0006"),
    "AML.T0020": ("Poison Training Data", "AML.TA0003"),
    "AML.T0024": ("Exfiltration via AI Inference API", "AML.TA0010"),
    "AML.T0029": ("Denial of AI Service", "AML.TA0011"),
    "AML.T0034": ("Cost Harvesting", "AML.TA0011"),
    "AML.T0048": ("External Harms", "AML.TA0011"),
    "AML.T0050": ("Command and Scripting Interpreter", "AML.TA0005"),
    "AML.T0051": ("LLM Prompt Injection", "AML.TA0005"),
    "AML.T0053": ("AI Agent Tool Invocation", "AML.TA0005"),
    "AML.T0054": ("LLM Jailbreak", "AML.TA0012"),
    "AML.T0056": ("Extract LLM System Prompt", "AML.TA0010"),
    "AML.T0057": ("LLM Data Leakage", "AML.TA0010"),
    "AML.T0058": ("Publish Poisoned Models", "AML.TA0003"),
    "AML.T0060": ("Publish Hallucinated Entities", "AML.TA0003"),
    "AML.T0062": ("Discover LLM Hallucinations", "AML.TA0008"),
    "AML.T0065": ("LLM Prompt Crafting", "AML.TA0003"),
    "AML.T0066": ("Retrieval Content Crafting", "AML.TA0003"),
    "AML.T0068": ("LLM Prompt Obfuscation", "AML.TA0007"),
    "AML.T0070": ("RAG Poisoning", "AML.TA0006"),
    "AML.T0071": ("False RAG Entry Injection", "AML.TA0007"),
    "AML.T0077": ("LLM Response Rendering", "AML.TA0010"),
    "AML.T0080": ("AI Agent Context Poisoning", "AML.TA0006"),
    "AML.T0086": ("Exfiltration via AI Agent Tool Invocation", "AML.TA0010"),
    "AML.T0088": ("Generate Deepfakes", "AML.TA0001"),
    "AML.T0093": ("Prompt Infiltration via Public-Facing Application", "AML.TA0004"),
    "AML.T0101": ("Data Destruction via AI Agent Tool Invocation", "AML.TA0011"),
    "AML.T0104": ("Publish Poisoned AI Agent Tool", "AML.TA0003"),
}


def technique(technique_id: str) -> tuple[str, str] | None:
    """(name, tactic id) of an ATLAS technique or sub-technique, if aiir knows it."""
    return TACTICS.get(technique_id) or TACTICS.get(".".join(technique_id.split(".")[:2]))


def case_study(
    incident: Incident, reporter: str | None = None, targets: Sequence[str] = ()
) -> dict[str, Any]:
    """The ATLAS case study of ``incident``, secrets masked (the date a ``datetime.date``);
    ``targets``: the names of the AI systems involved, from the workspace's inventory."""
    placed, unplaced = [], []
    for tag in incident.tags.get("atlas", []):
        known = technique(tag)
        if known is None:
            unplaced.append(tag)
        else:
            placed.append(_step(incident, tag, *known))
    study: dict[str, Any] = {
        "id": _study_id(incident),
        "name": f"{incident.title} ({incident.id})",
        "object-type": "case-study",
        "summary": _summary(incident, unplaced),
        "incident-date": parse_iso(incident.started_at).date(),
        "incident-date-granularity": "DATE",
        "procedure": placed,
        "reporter": reporter or incident.operator or TO_COMPLETE,
        "target": ", ".join(targets) or f"{TO_COMPLETE}: the AI system attacked",
        "actor": f"{TO_COMPLETE}: who performed the attack, if known",
        "case-study-type": "exercise" if incident.drill or incident.exercise else "incident",
        "references": [],
    }
    masked: dict[str, Any] = mask_data(study, scrub)
    masked["incident-date"] = study["incident-date"]  # a date, not text: YAML writes it bare
    return masked


def to_yaml(study: dict[str, Any]) -> str:
    """The case study as atlas-data writes one (keys in order, dates unquoted), with nothing
    that prints as nothing or turns text around (:func:`aiir.formats.printable.yaml_text`)."""
    return yaml_text(study)


def _study_id(incident: Incident) -> str:
    """A local id in ATLAS's shape (``AIIR.CS`` and four digits from the incident id); ATLAS gives
    a published study its own ``AML.CS`` id."""
    number = int(hashlib.sha256(incident.id.encode()).hexdigest(), 16) % 10_000
    return f"AIIR.CS{number:04d}"


def _summary(incident: Incident, unplaced: list[str]) -> str:
    warning = "" if incident.verified else f"{UNVERIFIED}: its journal does not verify. "
    practice = incident.exercise or ("drill" if incident.drill else None)
    kind = f"An exercise ({practice}), not a real incident: " if practice else ""
    outcome = incident.summary or f"Outcome: {incident.outcome or 'still open'}."
    text = (
        f"{warning}{kind}{incident.severity} AI incident {incident.id}, responded to with the "
        f"aiir runbook {incident.runbook} (category {incident.category or 'none'}). {outcome}"
    )
    if unplaced:
        text += (
            f" Techniques whose ATLAS tactic aiir does not know ({TO_COMPLETE} as procedure "
            f"steps): {', '.join(unplaced)}."
        )
    return text


def _step(incident: Incident, tag: str, name: str, tactic: str) -> dict[str, str]:
    seen = [f"the walk captured a hostile prompt as {n}" for n, _ in hostile_prompts(incident)]
    engaged = [f"lever {r.lever} ({r.state})" for r in incident.levers if r.state != "dry-run"]
    said = f"{name} ({TACTIC_NAMES[tactic]}), as the runbook {incident.runbook} classifies it."
    if seen:
        said += " " + "; ".join(seen).capitalize() + "."
    if engaged:
        said += " Response: " + ", ".join(engaged) + "."
    return {"tactic": tactic, "technique": tag, "description": said}
