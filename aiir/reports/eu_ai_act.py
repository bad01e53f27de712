"""An incident as a draft EU AI Act Art. 73 serious-incident report, in the sections of the
Commission's reporting template (draft of September 2025): the reporting entity and its contact,
the AI system, the incident, the affected persons, the corrective measures, the causal link, the
Member States concerned, and whether the report is initial or complete.

aiir fills what the journal knows: the incident's date, the awareness time (when the incident was
opened, or ``--aware-at``), the runbook's category, the Art. 3(49) type from the classification
answers (``death``, ``critical-infrastructure``, ``widespread-infringement``), the levers engaged
as corrective measures taken, the evidence preserved, and the deadline from the regulatory clock.
Every other part is a string starting ``TO BE COMPLETED BY`` and naming who must write it, and
``to_be_completed`` lists their paths: nothing is invented. Practice is marked as an exercise,
a journal that does not verify as UNVERIFIED; secrets are masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from aiir.formats.organisation import AISystem
from aiir.formats.workspace import Loaded
from aiir.incident.state import Incident, lever_view
from aiir.redact import mask_data, scrub
from aiir.reports import clocks
from aiir.reports.context import DETAIL, facts, systems_involved
from aiir.timestamps import iso, parse_iso

TEMPLATE = (
    "European Commission, reporting template for serious incidents under Article 73 of "
    "Regulation (EU) 2024/1689 (draft, September 2025)"
)
PROVIDER = "TO BE COMPLETED BY THE PROVIDER"
WITH_DEPLOYER = "TO BE COMPLETED BY THE PROVIDER (with the deployer)"
MARK = "TO BE COMPLETED BY"

# Art. 3(49): the harms that make an incident serious, and the fact that establishes each.
HARMS = {
    "death": ("a", "death of a person, or serious harm to a person's health"),
    "critical-infrastructure": (
        "b",
        "serious and irreversible disruption of the management or operation of critical "
        "infrastructure",
    ),
    "widespread-infringement": (
        "c",
        "infringement of obligations under Union law intended to protect fundamental rights",
    ),
}


def report(
    incident: Incident,
    workspace: Loaded | None,
    now: dt.datetime,
    aware_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The draft Art. 73 report of ``incident`` as a JSON-ready dict, secrets masked."""
    systems = systems_involved(incident, workspace)
    known = facts(incident, systems)
    aware = aware_at or parse_iso(incident.started_at)
    drafted = {
        "report": "EU AI Act Art. 73 serious-incident report (draft)",
        "template": TEMPLATE,
        "status": _status(incident),
        "exercise": incident.exercise or ("drill" if incident.drill else None),
        "verified": incident.verified,
        "drafted_at": iso(now),
        "not_legal_advice": clocks.NOT_LEGAL_ADVICE,
        "report_type": {
            "value": "initial",
            "why": "Art. 73(5) allows an incomplete initial report; it is complete only once "
            "every part marked TO BE COMPLETED is written and the causal link is assessed.",
        },
        "reporting_entity": _entity(incident, workspace),
        "ai_systems": [_system(s) for s in systems] or [_unknown_system()],
        "incident": _incident(incident, known, aware),
        "affected_persons": {
            "number": f"{WITH_DEPLOYER}: how many persons were affected",
            "description": f"{WITH_DEPLOYER}: who was affected and the harm each suffered",
        },
        "corrective_measures": {
            "taken": _measures(incident),
            "planned": f"{PROVIDER}: the measures planned, and when",
        },
        "causal_link": _causal_link(incident, known),
        "member_states_concerned": f"{WITH_DEPLOYER}: the Member States where it occurred",
        "deadline": _deadline(known, incident, aware, now),
        "evidence": [
            {"item": e.get("item"), "part": e.get("part"), "stored_at": e.get("ts")}
            for e in incident.evidence
        ],
        "timeline": [
            {"at": e.ts, "what": DETAIL[e.type](e.data)}
            for e in incident.history()
            if e.type in DETAIL
        ],
    }
    masked: dict[str, Any] = mask_data(drafted, scrub)
    masked["to_be_completed"] = sorted(_marked(masked))
    return masked


def _status(incident: Incident) -> str:
    said = []
    if not incident.verified:
        said.append("UNVERIFIED: its journal does not verify; check every value before use.")
    practice = incident.exercise or ("drill" if incident.drill else None)
    if practice:
        said.append(f"EXERCISE ({practice}): practice, not a real incident. Do not submit.")
    said.append("DRAFT: review and complete every part marked TO BE COMPLETED before submitting.")
    return " ".join(said)


def _entity(incident: Incident, workspace: Loaded | None) -> dict[str, Any]:
    contact = workspace.on_call("incident-commander") if workspace else None
    person = contact.person if contact else None
    return {
        "role": f"{PROVIDER}: provider or deployer of the AI system",
        "name": f"{PROVIDER}: legal name (workspace: {workspace.config.workspace})"
        if workspace
        else f"{PROVIDER}: legal name",
        "address": f"{PROVIDER}: registered address",
        "contact": {
            "name": person.name if person else incident.operator or f"{PROVIDER}: contact name",
            "email": f"{PROVIDER}: contact email",
            "phone": f"{PROVIDER}: contact phone",
        },
        "authorised_representative": f"{PROVIDER}: the authorised representative in the Union, "
        "if the provider is established outside it",
    }


def _system(system: AISystem) -> dict[str, Any]:
    return {
        "name": system.name,
        "inventory_id": system.id,
        "version": system.system_prompt_version or f"{PROVIDER}: the version placed on the market",
        "model": system.model,
        "model_provider": system.provider,
        "risk_class": system.eu_ai_act,
        "high_risk_category": f"{PROVIDER}: the Annex III area (or Annex I legislation) that "
        "makes it high-risk",
        "eu_database_registration_number": f"{PROVIDER}: its registration number in the EU "
        "database (Art. 71)",
    }


def _unknown_system() -> dict[str, Any]:
    return {
        "name": f"{PROVIDER}: the AI system's name (no inventory entry names it)",
        "version": f"{PROVIDER}: the version placed on the market",
        "high_risk_category": f"{PROVIDER}: the Annex III area (or Annex I legislation) that "
        "makes it high-risk",
        "eu_database_registration_number": f"{PROVIDER}: its registration number in the EU "
        "database (Art. 71)",
    }


def _incident(incident: Incident, known: Mapping[str, dt.datetime], aware: dt.datetime) -> Any:
    types = [
        {"point": f"Art. 3(49)({point})", "harm": harm, "established_at": iso(known[fact])}
        for fact, (point, harm) in HARMS.items()
        if fact in known
    ]
    return {
        "aiir_incident": incident.id,
        "title": incident.title,
        "category": incident.category or f"{PROVIDER}: the kind of incident",
        "severity": incident.severity,
        "date_of_occurrence": incident.started_at,
        "date_of_awareness": iso(aware),
        "description": {
            "from_journal": f"{incident.title}. {incident.summary or ''}".strip(),
            "account": f"{PROVIDER}: what happened, in the provider's own words",
        },
        "serious_incident_type": types
        or f"{PROVIDER}: which of Art. 3(49)(a) to (d) applies (the journal establishes none; "
        "(d) is serious harm to property or the environment)",
        "serious_incident_established": "serious-incident" in known,
        "location": f"{WITH_DEPLOYER}: where it happened",
    }


def _measures(incident: Incident) -> list[dict[str, Any]] | str:
    taken = [
        {
            "lever": view["lever"],
            "title": view["title"],
            "state": view["state"],
            "verdict": view["verdict"],
            "engaged_at": view["engaged_at"],
            "released_at": view["released_at"] or None,
        }
        for view in map(lever_view, incident.levers)
        if view["state"] not in {"dry-run", "failed", "unavailable"}
    ]
    return taken or f"{PROVIDER}: the measures taken (the journal records no lever engaged)"


def _causal_link(incident: Incident, known: Mapping[str, dt.datetime]) -> dict[str, Any]:
    return {
        "assessment": f"{PROVIDER}: whether the AI system caused the incident, or is reasonably "
        "likely to have (Art. 73(2)), and how that was established",
        "classified_serious_at": iso(known["serious-incident"])
        if "serious-incident" in known
        else None,
        "evidence_preserved": bool(incident.evidence),
    }


def _deadline(
    known: Mapping[str, dt.datetime], incident: Incident, aware: dt.datetime, now: dt.datetime
) -> dict[str, Any] | str:
    dues = clocks.deadlines(
        known, ["eu-ai-act"], parse_iso(incident.started_at), {"eu-ai-act": aware}
    )
    if not dues:
        return (
            f"{PROVIDER}: the journal does not establish a serious incident of a high-risk AI "
            "system, so no Art. 73 clock runs; if it is one, the report is due within 15 days "
            "of awareness at the latest"
        )
    first = dues[0]
    return {
        "due": iso(first.due),
        "source": first.source,
        "obligation": first.obligation,
        "clock_started_at": iso(first.aware_at),
        "left": clocks.left_text(first.left(now)),
        "overdue": first.overdue(now),
    }


def _marked(value: Any, path: str = "") -> Iterator[str]:
    """The paths (``incident.location``, ``ai_systems[0].version``) a person must write."""
    if isinstance(value, str) and value.startswith(MARK):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in {"status", "report_type"}:
                yield from _marked(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _marked(item, f"{path}[{index}]")
