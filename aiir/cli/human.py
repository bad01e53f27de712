"""``aiir flag``: anyone reports what an AI system did (human in the loop); recorded with its
evidence, optionally paged to the system's owner or opened as an incident."""

from pathlib import Path
from typing import Annotated

import typer

from aiir.cli.incident import Answers, Yes, _anchor, _answers, _environment, _runbook
from aiir.cli.options import IncidentDir, Store


def flag(
    system: Annotated[str, typer.Argument(metavar="SYSTEM", help="Inventory id of the AI system.")],
    what: Annotated[str, typer.Argument(metavar="WHAT", help="What happened, in your words.")],
    evidence: Annotated[
        Path | None,
        typer.Option(
            "--evidence",
            "-e",
            metavar="FILE",
            help="A screenshot, transcript or log to keep with it.",
        ),
    ] = None,
    alert: Annotated[
        bool, typer.Option("--alert", help="Page the system's owner (PagerDuty, from the roster).")
    ] = False,
    open_runbook: Annotated[
        str | None,
        typer.Option(
            "--open",
            metavar="RUNBOOK",
            help="Open an incident of this runbook (a file, or a shipped id) with the report "
            "as evidence.",
        ),
    ] = None,
    answers: Answers = None,
    yes: Yes = False,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Report what an AI system did (human-in-the-loop): recorded, optionally paged or opened."""
    from aiir.errors import ExitStatus, InputError
    from aiir.reports.human_flags import as_attachment_bytes, page_owner, record_flag
    from aiir.respond.session import Attachment, start

    if open_runbook is None and (answers is not None or yes):
        raise InputError("--answers and --yes are for the incident that --open RUNBOOK starts")
    runbook = None if open_runbook is None else _runbook(open_runbook, "--open")
    answers_path = _answers(answers)
    env = _environment(incident_dir, assume_yes=yes, store=store)
    report = record_flag(env, system, what, evidence)
    typer.echo(f"recorded {report.id} ({report.path})")
    status = ExitStatus.OK
    if alert:
        delivery = page_owner(env, report)
        said = (
            "paged the owner: ok"
            if delivery.ok
            else f"page to the owner: {delivery.reason}; it may have been delivered"
            if delivery.uncertain
            else f"owner not paged: {delivery.reason}"
        )
        typer.echo(said, err=not delivery.ok)
        status = ExitStatus.OK if delivery.ok else ExitStatus.FAILED
    if runbook is not None:
        attachment = Attachment(
            f"{report.id}.json",
            as_attachment_bytes(report),
            f"human report: {report.record['text']}",  # as recorded: secrets masked
            "aiir flag",
        )
        result = start(runbook, env, answers=answers_path, attachments=[attachment])
        if result.ended is not None:
            _anchor(result.incident)
        return int(result.exit_status) or int(status)
    return int(status)
