"""The incident as templates read it (``incident.*``): one view, built here for the walk's
messages and for the reports alike."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiir.incident.state import Incident
from aiir.timestamps import clock_text, parse_iso


def incident_fields(
    incident: Incident,
    now: dt.datetime,
    *,
    runbook: str | None = None,
    category: str | None = None,
    tags: dict[str, Any] | None = None,
    operator: str | None = None,
) -> dict[str, Any]:
    """The fields of :data:`aiir.formats.templating.INCIDENT_FIELDS`, from the incident's state.

    A walk gives the runbook it is in (a called one has its own id, category and tags) and the
    operator at the keyboard; a report takes the incident's own. ``elapsed`` runs to the end of
    the incident, or to ``now`` while it is open.
    """
    started = parse_iso(incident.started_at)
    ended = parse_iso(incident.ended_at) if incident.ended_at else None
    return {
        "id": incident.id,
        "title": incident.title,
        "runbook": incident.runbook if runbook is None else runbook,
        "severity": incident.severity,
        "started_at": incident.started_at,
        "elapsed": clock_text((ended or now) - started),
        "operator": incident.operator if operator is None else operator,
        "drill": incident.drill,
        "exercise": incident.exercise or "",
        "outcome": incident.outcome or "",
        "category": (incident.category or "") if category is None else category,
        "tags": (incident.tags or {"owasp": [], "atlas": []}) if tags is None else tags,
    }
