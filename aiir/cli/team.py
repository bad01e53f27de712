"""``aiir approve``, ``aiir reject``, ``aiir handoff``: what other responders say of an incident
they do not walk: a lever a walk waits for, who leads now."""

from typing import Annotated

import typer

from aiir.cli.incident import _environment
from aiir.cli.options import IncidentDir, Store

Incident = Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")]
LeverName = Annotated[str, typer.Argument(metavar="LEVER", help="The lever waiting for approval.")]


def approve(
    incident: Incident, lever: LeverName, incident_dir: IncidentDir = None, store: Store = None
) -> None:
    """Approve a lever a walk is waiting for (the two-person rule): from your own terminal."""
    from aiir.respond.approvals import give

    env = _environment(incident_dir, store=store)
    given = give(env, incident, lever, approve=True)
    needed = given.request.needed
    typer.echo(
        f"approved lever {lever!r} of {incident} as {env.operator} ({given.counted} of {needed} "
        "needed); the walk engages it once enough approve"
    )


def reject(
    incident: Incident,
    lever: LeverName,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why it must not be engaged.")
    ],
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> None:
    """Reject a lever a walk is waiting for, with a reason: it is not engaged."""
    from aiir.respond.approvals import give

    env = _environment(incident_dir, store=store)
    give(env, incident, lever, approve=False, reason=reason)
    typer.echo(f"rejected lever {lever!r} of {incident} as {env.operator}: it will not be engaged")


def handoff(
    incident: Incident,
    to: Annotated[
        str,
        typer.Option("--to", metavar="ROLE|PERSON", help="Who leads now: a role or a person."),
    ],
    note: Annotated[
        str, typer.Option("--note", metavar="TEXT", help="What the new lead should know.")
    ] = "",
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> None:
    """Hand an incident's lead to a role or a person (journalled), even while it is walked."""
    from aiir.respond.handoff import hand_off
    from aiir.terminal.inert import plain

    env = _environment(incident_dir, store=store)
    done = hand_off(env, incident, to, note)
    on_call = f" (on call: {done.on_call})" if done.on_call else ""
    typer.echo(
        plain(f"{incident}: handed off from {done.before} to {done.to}{on_call} by {env.operator}")
    )
