"""``--on-fail-run``: a failing suite opens an incident of a runbook, its failures as evidence.

In a terminal the operator walks the runbook at once. Without one the incident is recorded and
stops at its first question, for the on-call to pick up with ``aiir resume``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiir.canary.result import SuiteRun
from aiir.environment import Environment
from aiir.errors import AiirError
from aiir.formats.schema import Runbook
from aiir.incident.events import EventType
from aiir.incident.journal import JOURNAL, read_events
from aiir.redact import scrub

SOURCE = "aiir canary"
EVIDENCE_TYPE = EventType.EVIDENCE_ATTACHED
LOOK_BACK = 50  # incidents searched for the one just opened, newest first


def runbook_inputs(runbook: Runbook, given: Mapping[str, str], model: str) -> dict[str, str]:
    """``--set`` values, and the canary's model for a runbook input named ``model``."""
    inputs = dict(given)
    if "model" in runbook.inputs and "model" not in inputs:
        inputs["model"] = model
    return inputs


def escalate(
    run: SuiteRun,
    env: Environment,
    runbook: Path,
    inputs: Mapping[str, str],
    gateway_urls: Mapping[str, str],
) -> None:
    """Open (and walk, or record) an incident of ``runbook``; its id goes to ``run.incident``."""
    from aiir.prompts import MissingAnswer
    from aiir.respond.session import Attachment, checked_loader, start

    book = checked_loader(env)(runbook)
    env.gateway_urls = {k: v for k, v in gateway_urls.items() if k in book.gateways}
    name = f"canary-{run.name}-{run.run_id}.json"
    attachment = Attachment(name, evidence(run), run.summary(), SOURCE)
    try:
        result = start(
            runbook,
            env,
            inputs=runbook_inputs(book, inputs, run.target.model),
            attachments=[attachment],
        )
    except AiirError as exc:
        run.incident = _opened_with(env.incidents_dir, name)
        if run.incident is None:
            run.notes.append(f"no incident opened from {runbook}: {exc}")
        elif isinstance(exc, MissingAnswer):
            run.notes.append(
                f"incident {run.incident} recorded ({runbook.name}); it waits at its first "
                f"question: aiir resume {run.incident}"
            )
        else:
            run.notes.append(f"incident {run.incident} stopped: {exc}")
        return
    run.incident = result.incident.id
    outcome = result.incident.outcome or "interrupted"
    run.notes.append(f"incident {run.incident} ({runbook.name}): {outcome}")


def evidence(run: SuiteRun) -> bytes:
    """The failing prompts, raw outputs and assertions: forensic copies, secrets masked."""

    def masked(text: str) -> str:
        return scrub(text, run.secrets, patterns=False)

    data: dict[str, Any] = {
        "source": SOURCE,
        "suite": run.name,
        "title": run.loaded.suite.title,
        "file": str(run.loaded.path),
        "target": {"gateway": run.target.gateway, "model": run.target.model},
        "run": run.run_id,
        "started": run.started,
        "summary": run.summary(),
        "canary_token_planted": run.token is not None,
        "system_prompt": masked(run.loaded.suite.system_prompt or ""),
        "failures": [
            {
                "prompt_id": f.prompt_id,
                "repeat": f.repeat,
                "check": f.check,
                "detail": masked(f.detail),
                "prompt": masked(f.prompt),
                "output": masked(f.output),
                "severity": f.severity,
                "assertion": f.spec,
            }
            for f in run.failures
        ],
        "drift": [s.as_dict() for s in run.signals],
    }
    return json.dumps(data, indent=2, ensure_ascii=False).encode()


def _opened_with(root: Path, name: str) -> str | None:
    """The incident whose journal attached ``name``: the one this run just opened."""
    if not root.is_dir():
        return None
    directories = sorted((d for d in root.iterdir() if (d / JOURNAL).is_file()), reverse=True)
    for directory in directories[:LOOK_BACK]:
        events, _ = read_events(directory / JOURNAL)
        if any(e.type == EVIDENCE_TYPE and e.data.get("item") == name for e in events[:5]):
            return directory.name
    return None
