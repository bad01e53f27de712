"""``aiir export``: an incident in a format another team's tools read (STIX 2.1 for a SOC)."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from aiir.cli.incident import Force, IncidentDir, _environment


class Format(StrEnum):
    stix = "stix"


def command(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    format: Annotated[
        Format,
        typer.Option("--format", "-f", metavar="FORMAT", help="stix: a STIX 2.1 bundle (JSON)."),
    ] = Format.stix,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Write to this file instead of stdout."),
    ] = None,
    force: Force = False,
    incident_dir: IncidentDir = None,
) -> None:
    """Export an incident from its journal (verified first; secrets masked)."""
    from aiir.cli import flags
    from aiir.errors import InputError
    from aiir.incident.state import load_incident
    from aiir.reports.context import write
    from aiir.reports.stix import bundle

    flags.out_file(out)  # before anything is read: a wrong --out costs nothing
    env = _environment(incident_dir)
    record = load_incident(env.incidents_dir, incident, force=force)
    workspace = env.workspace.config.workspace if env.workspace else None
    text = json.dumps(bundle(record, workspace), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        write(out, text)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write it: {exc.strerror}") from None
    typer.echo(f"wrote {out}", err=True)
