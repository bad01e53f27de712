"""An incident as a STIX 2.1 bundle, for a SOC's threat-intelligence platform.

The bundle holds: the workspace as an ``identity`` (the creator of every object), the
``incident``, one ``attack-pattern`` per MITRE ATLAS technique in the runbook's tags, and for each
hostile prompt the incident captured (an input or answer named like ``*prompt*``, ``*phrase*``,
``*payload*`` or ``*injection*``) an ``artifact`` holding its text, the ``observed-data`` that saw
it and an ``indicator`` with a STIX pattern matching it; ``relationship`` objects tie them
together (an indicator ``indicates`` each technique and is ``based-on`` its observation; the
incident is ``related-to`` each technique). Ids are derived from the incident id, so exporting
twice gives the same bundle. A journal that does not verify is exported marked UNVERIFIED
(a label on the incident and the start of its description).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from aiir.incident.state import Incident
from aiir.redact import mask_data, scrub

NAMESPACE = uuid.UUID("6f1d8e52-3a0c-4f4e-9d8b-0c7a5b2e9f31")  # aiir's own, fixed forever
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
HOSTILE = re.compile(r"prompt|phrase|payload|injection", re.I)
UNVERIFIED = "UNVERIFIED"


def bundle(incident: Incident, workspace: str | None = None) -> dict[str, Any]:
    """The STIX 2.1 bundle of ``incident``, secrets masked."""
    now = _timestamp(incident.ended_at or incident.started_at)
    first = _timestamp(incident.started_at)
    creator = _object(incident, "identity", "creator", now)
    creator.update(name=workspace or "aiir", identity_class="organization")
    objects: list[dict[str, Any]] = [creator]
    record = _incident(incident, creator["id"], now, first)
    objects.append(record)
    patterns = []
    for technique in incident.tags.get("atlas", []):
        pattern = _object(incident, "attack-pattern", technique, now, creator["id"])
        pattern["name"] = technique
        pattern["external_references"] = [
            # No url: strict validation wants a hash with every url, and a web page has none.
            {"source_name": "mitre-atlas", "external_id": technique}
        ]
        patterns.append(pattern)
        objects.append(pattern)
        objects.append(_relationship(incident, record, "related-to", pattern, now, creator["id"]))
    for name, text in hostile_prompts(incident):
        objects.extend(_indicated(incident, name, text, patterns, first, now, creator["id"]))
    masked = mask_data(objects, scrub)
    return {"type": "bundle", "id": _id(incident, "bundle", "bundle"), "objects": masked}


def hostile_prompts(incident: Incident) -> Iterator[tuple[str, str]]:
    """(name, text) of each hostile prompt the incident captured, each text once."""
    seen: set[str] = set()
    named = [*incident.inputs.items()]
    named += [(str(a.get("node", "")), a.get("value")) for a in incident.answers]
    for name, value in named:
        if isinstance(value, str) and value.strip() and HOSTILE.search(name) and value not in seen:
            seen.add(value)
            yield name, scrub(value)  # masked before it is base64-encoded, where no mask finds it


def _incident(incident: Incident, creator: str, now: str, first: str) -> dict[str, Any]:
    record = _object(incident, "incident", "incident", now, creator)
    record["created"] = first
    warning = "" if incident.verified else f"{UNVERIFIED}: its journal does not verify. "
    summary = incident.summary or f"Outcome: {incident.outcome or 'open'}."
    record["name"] = f"{incident.id}: {incident.title}"
    record["description"] = (
        f"{warning}{incident.severity} AI incident (runbook {incident.runbook}). {summary}"
    )
    labels = [incident.severity.lower()] if incident.severity else []
    labels += [] if incident.verified else [UNVERIFIED.lower()]
    if incident.drill or incident.exercise:
        labels.append("exercise")
    if labels:
        record["labels"] = labels
    record["external_references"] = [{"source_name": "aiir", "external_id": incident.id}]
    return record


def _indicated(
    incident: Incident,
    name: str,
    text: str,
    patterns: list[dict[str, Any]],
    first: str,
    now: str,
    creator: str,
) -> Iterator[dict[str, Any]]:
    payload = base64.b64encode(text.encode()).decode()
    artifact = {
        "type": "artifact",
        "spec_version": "2.1",
        # STIX's own deterministic id for an observable: UUIDv5 in the STIX namespace over its
        # contributing properties (for an artifact, the payload) as canonical JSON.
        "id": f"artifact--{uuid.uuid5(SCO_NAMESPACE, json.dumps({'payload_bin': payload}))}",
        "mime_type": "text/plain",
        "payload_bin": payload,
    }
    observed = _object(incident, "observed-data", name, now, creator)
    observed.update(
        first_observed=first, last_observed=now, number_observed=1, object_refs=[artifact["id"]]
    )
    indicator = _object(incident, "indicator", text, now, creator)
    indicator.update(
        name=f"Hostile prompt captured as {name}",
        description=f"A prompt used against the AI system in incident {incident.id}.",
        indicator_types=["malicious-activity"],
        pattern=f"[artifact:payload_bin = b'{payload}']",
        pattern_type="stix",
        valid_from=first,
    )
    yield from (artifact, observed, indicator)
    yield _relationship(incident, indicator, "based-on", observed, now, creator)
    for pattern in patterns:
        yield _relationship(incident, indicator, "indicates", pattern, now, creator)


def _relationship(
    incident: Incident,
    source: dict[str, Any],
    kind: str,
    target: dict[str, Any],
    now: str,
    creator: str,
) -> dict[str, Any]:
    relation = _object(incident, "relationship", f"{source['id']} {kind} {target['id']}", now)
    relation.update(
        created_by_ref=creator,
        relationship_type=kind,
        source_ref=source["id"],
        target_ref=target["id"],
    )
    return relation


def _object(
    incident: Incident, kind: str, key: str, now: str, creator: str | None = None
) -> dict[str, Any]:
    made = {
        "type": kind,
        "spec_version": "2.1",
        "id": _id(incident, kind, key),
        "created": now,
        "modified": now,
    }
    if creator is not None:
        made["created_by_ref"] = creator
    return made


def _id(incident: Incident, kind: str, key: str) -> str:
    """A UUIDv4 (STIX asks for version 4 outside cyber observables) made from a digest of the
    incident, the kind and a key rather than at random, so an export can be repeated."""
    digest = hashlib.sha256(f"{NAMESPACE}/{incident.id}/{kind}/{key}".encode()).digest()
    return f"{kind}--{uuid.UUID(bytes=digest[:16], version=4)}"


def _timestamp(value: str) -> str:
    """STIX wants RFC 3339 in UTC with ``Z``; the journal already writes that (milliseconds)."""
    return value if value.endswith("Z") else value + "Z" if value else "1970-01-01T00:00:00.000Z"
