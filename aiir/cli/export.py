"""``aiir export``: an incident in a format another team's tools read: STIX 2.1 for a SOC, the
EU AI Act Art. 73 report for a market surveillance authority, a MITRE ATLAS case study, an AVID
report; or its trace, sent to an OpenTelemetry back end (OTLP/HTTP)."""

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aiir.cli.incident import AwareAt, Force, Otlp, _close, _environment, _synced
from aiir.cli.options import IncidentDir, Store

if TYPE_CHECKING:
    from aiir.environment import Environment
    from aiir.incident.state import Incident
    from aiir.respond.trace import Destination


class Format(StrEnum):
    stix = "stix"
    eu_ai_act = "eu-ai-act"
    atlas = "atlas"
    avid = "avid"
    otlp = "otlp"


FORMAT_HELP = (
    "stix: a STIX 2.1 bundle (JSON); eu-ai-act: the Art. 73 serious-incident report, a draft "
    "with the parts a person writes marked (JSON); atlas: a MITRE ATLAS case study (YAML); "
    "avid: an AVID report (JSON); otlp: the walk's trace, sent to --otlp URL (or aiir.yaml's "
    "otlp:) as OpenTelemetry spans."
)


def command(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    format: Annotated[
        Format, typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_HELP)
    ] = Format.stix,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Write to this file instead of stdout."),
    ] = None,
    aware_at: AwareAt = None,
    force: Force = False,
    otlp: Otlp = None,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Export an incident from its journal (verified first; secrets masked)."""
    from aiir.cli import flags
    from aiir.errors import InputError, shown
    from aiir.incident.state import load_incident
    from aiir.reports.context import parse_aware_at, write

    flags.out_file(out)  # before anything is read: a wrong --out costs nothing
    if format is Format.otlp or otlp is not None:
        return _send(incident, format, out, otlp, force, incident_dir, store)
    awareness = parse_aware_at(aware_at or [])
    if awareness and format is not Format.eu_ai_act:
        raise InputError("--aware-at: only --format eu-ai-act has a regulatory clock")
    if set(awareness) - {"*", "eu-ai-act"}:
        raise InputError(
            "--aware-at: --format eu-ai-act reads only eu-ai-act's clock (eu-ai-act=T or T)"
        )
    env = _environment(incident_dir, store=store)
    _close(_synced(env, incident))  # a shared store's rows copied first
    record = load_incident(env.incidents_dir, incident, force=force)
    text = _render(format, record, env, awareness)
    if out is None:
        typer.echo(text, nl=False)
        return 0
    try:
        write(out, text)
    except OSError as exc:
        raise InputError(f"--out {shown(str(out))}: cannot write it: {exc.strerror}") from None
    typer.echo(f"wrote {out}", err=True)
    return 0


def _send(
    incident: str,
    format: Format,
    out: Path | None,
    otlp: str | None,
    force: bool,
    incident_dir: Path | None,
    store: str | None,
) -> int:
    """``--format otlp``: the incident's trace sent where ``--otlp`` (or, for a real incident,
    the workspace) says; 1 when the endpoint did not take it."""
    from aiir.errors import ExitStatus, InputError
    from aiir.incident.state import load_incident
    from aiir.respond.trace import export

    if format is not Format.otlp:
        raise InputError(f"--otlp: goes with --format otlp, not --format {format.value}")
    if out is not None:
        raise InputError("--out: --format otlp sends the trace; it writes no file")
    env = _environment(incident_dir, store=store)
    where = _destination(env, otlp)
    _close(_synced(env, incident))
    record = load_incident(env.incidents_dir, incident, force=force)
    if record.exercise and otlp is None:  # aiir.yaml's otlp: takes real walks only
        raise InputError(
            f"--format otlp: {incident} is an exercise ({record.exercise}); its trace goes only "
            "where --otlp URL names, not to aiir.yaml's otlp:"
        )
    ok, line = export(env, record, where, walked=False)
    typer.echo(line if ok else f"aiir: {line}", err=not ok)
    return int(ExitStatus.OK if ok else ExitStatus.FAILED)


def _destination(env: "Environment", otlp: str | None) -> "Destination":
    import dataclasses

    from aiir.errors import InputError
    from aiir.respond.trace import destination

    where = destination(env, otlp)
    if where is None:
        raise InputError("--format otlp: no --otlp URL given and no otlp: in aiir.yaml")
    return dataclasses.replace(where, asked=True)


def _render(format: Format, record: "Incident", env: "Environment", aware: dict[str, Any]) -> str:
    from aiir.reports import atlas, avid, eu_ai_act, stix
    from aiir.reports.context import systems_involved

    workspace = env.workspace.config.workspace if env.workspace else None
    systems = systems_involved(record, env.workspace)
    if format is Format.atlas:
        return atlas.to_yaml(atlas.case_study(record, workspace, [s.name for s in systems]))
    if format is Format.eu_ai_act:
        moment = aware.get("eu-ai-act") or aware.get("*")
        made = eu_ai_act.report(record, env.workspace, env.clock.now(), moment)
    elif format is Format.avid:
        made = avid.report(record, env.clock.now(), workspace, systems)
    else:
        made = stix.bundle(record, workspace)
    from aiir.terminal.inert import json_inert

    return json_inert(json.dumps(made, indent=2, ensure_ascii=False)) + "\n"
