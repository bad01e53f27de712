"""An incident as an AVID report (the AI Vulnerability Database's report format, the one garak's
``--write_avid`` writes): what is affected (developer, deployer, artifacts), the problem type,
metrics, references, a description, the impact in the AVID taxonomy and the date reported.

The report's class is ``Undefined`` (AVID's classes are AIID incidents, ATLAS case studies, CVE
entries and LLM evaluations; an incident of one's own is none of them) and its type ``Issue``.
The taxonomy's SEP view comes from the runbook's category (``SEP``); the lifecycle view is
deployment, where an incident happens. The references are the ATLAS techniques of the runbook's
tags. Practice is said to be an exercise and a journal that does not verify to be UNVERIFIED, at
the start of the description; secrets are masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from aiir.incident.state import Incident
from aiir.redact import mask_data, scrub
from aiir.reports.atlas import technique
from aiir.reports.stix import UNVERIFIED

TAXONOMY_VERSION = "0.2"
DEPLOYMENT = "L06: Deployment"

# The runbook categories of the shipped library, in AVID's SEP view (security, ethics, performance).
SEP = {
    "bias-amplification": ["E0100: Bias/ Discrimination"],
    "data-poisoning": ["S0600: Data Poisoning"],
    "denial-of-wallet": ["S0302: Excessive Queries"],
    "direct-prompt-injection": ["S0403: Adversarial Example"],
    "excessive-agency": ["S0300: Over-permissive API"],
    "hallucination": ["E0402: Generative Misinformation"],
    "improper-output-handling": ["S0100: Software Vulnerability"],
    "indirect-prompt-injection": ["S0403: Adversarial Example", "S0601: Ingest Poisoning"],
    "misuse-deepfakes": ["E0401: Deliberative Misinformation"],
    "model-drift": ["P0101: Data drift"],
    "model-extraction": ["S0502: Model theft"],
    "rag-poisoning": ["S0601: Ingest Poisoning"],
    "sensitive-data-leak": ["S0301: Information Leak"],
    "supply-chain": ["S0200: Supply Chain Compromise"],
    "system-prompt-leak": ["S0301: Information Leak"],
}
DOMAIN = {"S": "Security", "E": "Ethics", "P": "Performance"}


def report(
    incident: Incident,
    now: dt.datetime,
    deployer: str | None = None,
    systems: Sequence[Any] = (),
) -> dict[str, Any]:
    """The AVID report of ``incident`` as a JSON-ready dict, secrets masked; ``systems``: the
    inventory entries of the AI systems involved."""
    sep = SEP.get(incident.category or "", [])
    drafted = {
        "data_type": "AVID",
        "affects": {
            "developer": sorted({s.provider for s in systems}),
            "deployer": [deployer] if deployer else [],
            "artifacts": _artifacts(incident, systems),
        },
        "problemtype": {
            "classof": "Undefined",
            "type": "Issue",
            "description": {"lang": "eng", "value": f"{incident.title} ({incident.id})"},
        },
        "metrics": [],
        "references": [
            {
                "type": "source",
                "label": f"MITRE ATLAS {tag}" + (f": {known[0]}" if known else ""),
                "url": f"https://atlas.mitre.org/techniques/{tag}",
            }
            for tag in incident.tags.get("atlas", [])
            for known in [technique(tag)]
        ],
        "description": {"lang": "eng", "value": _description(incident)},
        "impact": {
            "avid": {
                "vuln_id": None,  # AVID gives one to a vulnerability it publishes
                "risk_domain": sorted({DOMAIN[s[0]] for s in sep}),
                "sep_view": sep,
                "lifecycle_view": [DEPLOYMENT],
                "taxonomy_version": TAXONOMY_VERSION,
            }
        },
        "reported_date": now.date().isoformat(),
    }
    masked: dict[str, Any] = mask_data(drafted, scrub)
    return masked


def _artifacts(incident: Incident, systems: Sequence[Any]) -> list[dict[str, str]]:
    found = [{"type": "System", "name": s.name} for s in systems]
    found += [{"type": "Model", "name": m} for m in dict.fromkeys(s.model for s in systems)]
    model = incident.inputs.get("model")
    if isinstance(model, str) and model and model not in {s.model for s in systems}:
        found.append({"type": "Model", "name": model})
    return found


def _description(incident: Incident) -> str:
    warning = "" if incident.verified else f"{UNVERIFIED}: its journal does not verify. "
    practice = incident.exercise or ("drill" if incident.drill else None)
    kind = f"An exercise ({practice}), not a real incident. " if practice else ""
    outcome = incident.summary or f"Outcome: {incident.outcome or 'still open'}."
    engaged = [f"{r.lever} ({r.state})" for r in incident.levers if r.state != "dry-run"]
    levers = f" Levers: {', '.join(engaged)}." if engaged else ""
    return (
        f"{warning}{kind}{incident.severity} AI incident, category "
        f"{incident.category or 'none'}, handled with the aiir runbook {incident.runbook}. "
        f"{outcome}{levers}"
    )
