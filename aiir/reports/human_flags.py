"""Human reports: the human-in-the-loop channel. Anyone can flag what an AI system did.

A flag records who reported what, about which system, and when, with optional evidence (hashed);
it can page the system's owner and open an incident that carries the report as evidence.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiir.environment import Environment
from aiir.errors import InputError, shown
from aiir.formats.received import without_surrogates
from aiir.incident.events import EvidenceRef
from aiir.outbound.notify import MAX_PAGE_MESSAGE, Delivery, Notifier, PagerDutyEvent, within
from aiir.redact import MASK, mask_bytes, mask_data, scrub
from aiir.timestamps import iso

MAX_EVIDENCE = 20 * 1024 * 1024


@dataclass(frozen=True)
class Flag:
    id: str
    record: dict[str, Any]
    path: Path


def flags_dir(env: Environment) -> Path:
    """Beside the incidents: ``<incidents>/../flags``."""
    return env.incidents_dir.parent / "flags"


def record_flag(env: Environment, system: str, text: str, evidence: Path | None = None) -> Flag:
    """Write the report (and a copy of its evidence with its SHA-256); nothing is sent."""
    known = env.workspace.systems() if env.workspace else {}
    if known and system not in known:
        raise InputError(
            f"no system {system!r} in the inventory (systems: {', '.join(sorted(known))})"
        )
    if not text.strip():
        raise InputError('say what happened: aiir flag SYSTEM "what happened"')
    now = env.clock.now()
    flag_id = f"FLAG-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    folder = flags_dir(env) / flag_id
    record: dict[str, Any] = {
        "id": flag_id,
        "ts": iso(now),
        "reporter": env.operator,
        "system": system,
        "text": scrub(text),  # the environment's secrets, pasted in, are masked
    }
    record = mask_data(record, without_surrogates)  # a bad byte in argv: U+FFFD, as the journal
    if evidence is not None:
        record["evidence"] = _copy_evidence(evidence, folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flag.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    return Flag(flag_id, record, path)


def _copy_evidence(source: Path, folder: Path) -> dict[str, Any]:
    if not source.is_file():
        raise InputError(f"--evidence {shown(str(source))}: no such file")
    content = source.read_bytes()
    if len(content) > MAX_EVIDENCE:
        raise InputError(
            f"--evidence {shown(str(source))}: larger than {MAX_EVIDENCE // 1024 // 1024} MiB"
        )
    content = mask_bytes(content)  # a transcript holding a key of this environment: masked
    folder.mkdir(parents=True, exist_ok=True)
    # Its name too: a file named after the key it holds (log-sk-….txt) would keep it in the name
    target = folder / f"evidence-{scrub(source.name).replace(MASK, 'masked')}"
    target.write_bytes(content)
    return EvidenceRef(target.name, hashlib.sha256(content).hexdigest(), len(content)).data()


def page_owner(env: Environment, flag: Flag) -> Delivery:
    """Alert the system's owner through the roster's PagerDuty routing key."""
    workspace = env.workspace
    system = workspace.systems().get(flag.record["system"]) if workspace else None
    if workspace is None or system is None or workspace.team is None:
        raise InputError(
            "--alert needs an aiir.yaml with a team roster and the system in the inventory"
        )
    role = workspace.team.roles.get(system.owner)
    person = workspace.on_call(system.owner).person
    variable = (
        (role.pagerduty_routing_key_env if role else None)
        or (person.pagerduty_routing_key_env if person else None)
        or (
            workspace.config.channels.pagerduty.routing_key_env
            if workspace.config.channels.pagerduty
            else None
        )
    )
    if variable is None:
        raise InputError(
            f"--alert: no PagerDuty routing key for {system.owner!r} in the roster or aiir.yaml"
        )
    notifier = Notifier(env.http, env.clock.sleep, env.environ)
    key = notifier.secret(variable, f"--alert ({system.owner})")
    channel = workspace.config.channels.pagerduty
    event = PagerDutyEvent(
        summary=f"[human report] {system.name}: {flag.record['text']}"[:1024],
        source=channel.source if channel else "aiir",  # where alerts come from, not who reported
        severity="warning",
        timestamp=flag.record["ts"],
        component=system.id,
        group="ai-human-report",
        class_="human-report",
        custom_details={
            "flag": flag.id,
            "reporter": flag.record["reporter"],
            "text": within(flag.record["text"], MAX_PAGE_MESSAGE, "the flag's record"),
        },
    )
    return notifier.trigger(key, f"aiir-{flag.id}", event)


def as_attachment_bytes(flag: Flag) -> bytes:
    return json.dumps(flag.record, indent=2, ensure_ascii=False).encode()
