"""``aiir store init``, ``status``, ``push``: the team's shared incident store (PostgreSQL)."""

from typing import TYPE_CHECKING, Annotated

import typer

from aiir.cli.incident import _environment
from aiir.cli.options import IncidentDir, Store

if TYPE_CHECKING:
    from aiir.environment import Environment
    from aiir.incident.postgres import PostgresStore

app = typer.Typer(
    help="The team's shared incident store (PostgreSQL): create its schema, check it, upload "
    "a local journal to it.",
    no_args_is_help=True,
)


def _chosen(env: "Environment", command: str) -> "PostgresStore":
    """The shared store chosen, or one line saying none is (the files need no set-up)."""
    from aiir.errors import InputError
    from aiir.respond.shared import shared

    store = shared(env)
    if store is None:
        raise InputError(
            f"aiir store {command}: no shared store chosen (--store, $AIIR_STORE or aiir.yaml's "
            f"store:); the files in {env.incidents_dir} need no set-up"
        )
    return store


@app.command("init")
def init(incident_dir: IncidentDir = None, store: Store = None) -> None:
    """Create the store's schema, or migrate it to this aiir's version (safe to run again)."""
    from aiir.incident.postgres import migrations

    env = _environment(incident_dir, store=store)
    chosen = _chosen(env, "init")
    try:
        applied = chosen.migrate()
    finally:
        chosen.close()
    latest = migrations()[-1][0]
    if applied:
        typer.echo(
            f"incident store {chosen.shown}: schema version {latest} "
            f"(applied: {', '.join(applied)})"
        )
    else:
        typer.echo(f"incident store {chosen.shown}: schema version {latest}, already up to date")


@app.command("status")
def status(incident_dir: IncidentDir = None, store: Store = None) -> int:
    """Which incident store is in use, whether it answers, and its schema version."""
    from aiir.errors import ExitStatus
    from aiir.incident.postgres import migrations
    from aiir.incident.store_rows import lost_rows

    latest = migrations()[-1][0]
    env = _environment(incident_dir, store=store)
    url, where = env.store_at()
    if not url:
        typer.echo(f"incident store: the files in {env.incidents_dir} (the default)")
        return ExitStatus.OK
    chosen = _chosen(env, "status")
    try:
        version = chosen.version()  # does not answer: one line, exit 2
        count = len(chosen.ids()) if version else 0
        lost = lost_rows(chosen) if version >= latest else {}
    finally:
        chosen.close()
    typer.echo(
        f"incident store: {chosen.shown} (chosen by {where}); local copy in {env.incidents_dir}"
    )
    if version < latest:
        typer.echo(
            f"answers: yes; schema version {version}, this aiir needs {latest}: run `aiir store init`"
        )
        return ExitStatus.BAD_INPUT
    typer.echo(f"answers: yes; schema version {version}; {count} incident(s)")
    for incident in _outboxes(env):
        typer.echo(
            f"{incident}: the local copy has lines the store has not got: aiir store push {incident}"
        )
    for incident, why in lost.items():  # tampering, as verify says it (exit 1)
        typer.echo(f"TAMPERED: {why} (aiir verify {incident})")
    return ExitStatus.FAILED if lost else ExitStatus.OK


def _outboxes(env: "Environment") -> list[str]:
    """The incidents whose local copy holds lines written while the store was down."""
    from aiir.incident.replica import outbox

    root = env.incidents_dir
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and outbox(d))


@app.command("push")
def push(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> None:
    """Upload an incident's local journal lines the store has not got (written while it was
    down, or an incident started on the files), with their chain intact."""
    from aiir.incident.replica import push as upload
    from aiir.incident.state import check_id
    from aiir.timestamps import iso

    env = _environment(incident_dir, store=store)
    chosen = _chosen(env, "push")
    try:
        chosen.ready()
        sent = upload(
            chosen, env.incidents_dir, check_id(incident), env.operator, iso(env.clock.now())
        )
    finally:
        chosen.close()
    typer.echo(f"{incident}: {sent} event(s) uploaded to {chosen.shown}; chain intact")
