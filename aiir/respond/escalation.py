"""Opening an incident from what detected it: a failing canary suite, a firing detection rule.

What detected it comes along as evidence (:class:`Attachment`). In a terminal the operator walks
the runbook at once. Without one the incident is recorded and stops at its first question, for
the on-call to pick up with ``aiir resume``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiir.environment import Environment
from aiir.errors import AiirError, InputError, shown
from aiir.formats.schema import Runbook
from aiir.incident.events import EventType
from aiir.incident.journal import JOURNAL, read_events
from aiir.prompts import MissingAnswer
from aiir.respond.session import Attachment, checked_loader, start

EVIDENCE_TYPE = EventType.EVIDENCE_ATTACHED
LOOK_BACK = 50  # incidents searched for the one just opened, newest first


@dataclass(frozen=True)
class Opened:
    """The incident opened (None when none was), and a line saying what became of it."""

    incident: str | None
    note: str


def runbook_inputs(runbook: Runbook, given: Mapping[str, str], model: str | None) -> dict[str, str]:
    """``--set`` values, and the watched model for a runbook input named ``model``."""
    inputs = dict(given)
    if model is not None and "model" in runbook.inputs and "model" not in inputs:
        inputs["model"] = model
    return inputs


def check_runbook(
    path: Path,
    env: Environment,
    inputs: Mapping[str, str],
    models: list[str | None],
    *,
    practice: bool,
) -> set[str]:
    """``--on-fail-run``'s runbook, before anything is sent: the shared store its incident
    goes to must be one, and the runbook must load, find its variables (none in practice) and
    take its inputs for each watched model; returns its gateways."""
    from aiir.respond.preparation import env_values
    from aiir.respond.shared import check
    from aiir.validate.answers import coerce_inputs

    check(env)  # the store its incident goes to: a wrong one is one line, exit 2
    if not path.is_file():
        raise InputError(f"--on-fail-run {shown(str(path))}: no such runbook file")
    runbook = checked_loader(env)(path)
    env_values(runbook, env.environ, dry_run=practice)
    for model in models:
        coerce_inputs(runbook, runbook_inputs(runbook, inputs, model), "--set")
    return set(runbook.gateways)


def open_incident(
    env: Environment,
    runbook: Path,
    inputs: Mapping[str, str],
    attachment: Attachment,
    model: str | None = None,
) -> Opened:
    """Open (and walk, or record) an incident of ``runbook`` with ``attachment`` as evidence."""
    book = checked_loader(env)(runbook)
    try:
        result = start(
            runbook,
            env,
            inputs=runbook_inputs(book, inputs, model),
            attachments=[attachment],
        )
    except AiirError as exc:
        incident = opened_with(env.incidents_dir, attachment.name)
        if incident is None:
            return Opened(None, f"no incident opened from {runbook}: {exc}")
        if isinstance(exc, MissingAnswer):
            note = (
                f"incident {incident} recorded ({runbook.name}); it waits at its first "
                f"question: aiir resume {incident}"
            )
            return Opened(incident, note)
        return Opened(incident, f"incident {incident} stopped: {exc}")
    outcome = result.incident.outcome or "interrupted"
    return Opened(result.incident.id, f"incident {result.incident.id} ({runbook.name}): {outcome}")


def opened_with(root: Path, name: str) -> str | None:
    """The incident whose journal attached ``name``: the one just opened."""
    if not root.is_dir():
        return None
    directories = sorted((d for d in root.iterdir() if (d / JOURNAL).is_file()), reverse=True)
    for directory in directories[:LOOK_BACK]:
        events, _ = read_events(directory / JOURNAL)
        if any(e.type == EVIDENCE_TYPE and e.data.get("item") == name for e in events[:5]):
            return directory.name
    return None
