"""``--on-fail-run``: a failing suite opens an incident of a runbook, its failures as evidence
(:mod:`aiir.respond.escalation` opens it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiir.canary.result import SuiteRun
from aiir.environment import Environment
from aiir.redact import scrub

SOURCE = "aiir canary"


def escalate(
    run: SuiteRun,
    env: Environment,
    runbook: Path,
    inputs: Mapping[str, str],
    gateway_urls: Mapping[str, str],
) -> None:
    """Open (and walk, or record) an incident of ``runbook``; its id goes to ``run.incident``."""
    from aiir.respond.escalation import open_incident
    from aiir.respond.session import Attachment, checked_loader

    book = checked_loader(env)(runbook)
    env.gateway_urls = {k: v for k, v in gateway_urls.items() if k in book.gateways}
    name = f"canary-{run.name}-{run.run_id}.json"
    attachment = Attachment(name, evidence(run), run.summary(), SOURCE)
    opened = open_incident(env, runbook, inputs, attachment, run.target.model)
    run.incident = opened.incident
    run.notes.append(opened.note)


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
