"""``aiir note`` and ``aiir severity``: what a responder writes into an incident from any terminal."""

from typing import Annotated

import typer

from aiir.cli.incident import _environment
from aiir.cli.options import IncidentDir, Store

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")  # as formats.common.Severity, unimported:
# `aiir --help` loads no document model


def note(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    text: Annotated[str, typer.Argument(metavar="TEXT", help="What to note, in your words.")],
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> None:
    """Add a note to an incident's journal (a scribe's running log), even while it is walked."""
    from aiir.respond.scribe import add_note

    env = _environment(incident_dir, store=store)
    add_note(env, incident, text)
    typer.echo(f"noted in {incident} by {env.operator}")


def severity(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    level: Annotated[str, typer.Argument(metavar="SEVERITY", help="SEV1 (most severe) to SEV5.")],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why it changes (journalled).")
    ],
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> None:
    """Set an incident's severity by hand, up or down, journalled with who and why."""
    from aiir.errors import InputError
    from aiir.formats.common import Severity, lower_severity
    from aiir.respond.scribe import set_severity

    if level.upper() not in SEVERITIES:
        raise InputError(f"SEVERITY {level!r}: one of {', '.join(SEVERITIES)}")
    wanted = Severity(level.upper())
    env = _environment(incident_dir, store=store)
    before = set_severity(env, incident, wanted, reason)
    way = "lowered" if lower_severity(wanted.value, before) else "raised"
    typer.echo(f"{incident}: severity {way} from {before} to {wanted.value} by {env.operator}")
