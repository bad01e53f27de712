"""``aiir verify``: an incident's journal chain, evidence and runbook copies checked, against
the anchors kept elsewhere and, on a shared store, against the team's rows."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aiir.cli.incident import _close, _environment, _synced
from aiir.cli.options import IncidentDir, Store

if TYPE_CHECKING:
    from aiir.incident.journal import Anchor
    from aiir.incident.postgres import PostgresStore


def verify(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            metavar="SEQ:HASH",
            help="An anchor kept outside the journal (printed at the end of each walk); repeatable.",
        ),
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            metavar="FILE",
            help="A file of anchors, one per line ([INCIDENT] SEQ:HASH).",
        ),
    ] = None,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Check the journal's hash chain, every evidence file's and runbook copy's SHA-256, and the
    anchors given."""
    from aiir.errors import ExitStatus
    from aiir.incident.journal import JOURNAL, Anchor, verify_reading
    from aiir.incident.state import incident_dir as find
    from aiir.incident.store_rows import StoreLostRows

    given = [Anchor.parse(a, "--anchor") for a in anchor or []]
    if anchors is not None:
        given += _anchors_file(anchors, incident)
    env = _environment(incident_dir, store=store)
    try:
        shared, lost = _synced(env, incident), []
    except StoreLostRows as exc:  # nothing copied: a copy here is checked as it is
        shared, lost = None, [str(exc)]
    try:
        if lost and not (env.incidents_dir / incident / JOURNAL).is_file():
            typer.echo(f"aiir: {lost[0]}", err=True)
            typer.echo(f"{incident}: TAMPERED or damaged (1 problem(s))", err=True)
            return ExitStatus.FAILED
        directory = find(env.incidents_dir, incident)
        problems, reading = verify_reading(directory, given)  # one pass: nothing is read twice
        problems += lost
        unpushed = _against_store(shared, directory, problems)
    finally:
        _close(shared)
    from aiir.redact import scrub
    from aiir.terminal.inert import plain

    for problem in problems:  # it may quote a forged line's text (its type): made inert
        typer.echo(plain(scrub(f"{directory / JOURNAL}: {problem}")), err=True)
    if problems:
        typer.echo(f"{incident}: TAMPERED or damaged ({len(problems)} problem(s))", err=True)
        return ExitStatus.FAILED
    if given:  # only an anchor kept elsewhere proves no line was cut or the chain made again
        typer.echo(f"{incident}: journal chain and evidence intact")
    else:
        typer.echo(f"{incident}: journal chain and evidence consistent ({reading.lines} lines)")
    if shared is not None:
        typer.echo(f"the same, line for line, as the store {shared.shown}" + unpushed)
    if given:
        newest = max(given, key=lambda a: a.seq)
        typer.echo(
            f"anchors: {len(set(given))} given, each matches; the newest ({newest}) covers every line"
        )
    else:
        typer.echo(
            "no anchor given: lines cut from its end, or the whole journal written again with its "
            "hashes made anew, would read the same; check it against the anchor you kept "
            f"(aiir verify {directory.name} --anchor SEQ:HASH)"
        )
    typer.echo(f"anchor: {reading.anchor}")
    return ExitStatus.OK


def _anchors_file(path: Path, incident: str) -> "list[Anchor]":
    """``SEQ:HASH`` per line, or ``INCIDENT SEQ:HASH`` (lines of other incidents are skipped);
    blank lines and ``#`` comments are ignored."""
    from aiir.errors import InputError, shown
    from aiir.incident.journal import Anchor

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"--anchors {shown(str(path))}: cannot read it: {reason}") from None
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) == 2 and words[0] != incident:
            continue
        found.append(Anchor.parse(words[-1] if len(words) <= 2 else line, f"{path}:{number}:"))
    if not found:
        raise InputError(f"--anchors {shown(str(path))}: no anchor of {incident} in it")
    return found


def _against_store(store: "PostgresStore | None", directory: Path, problems: list[str]) -> str:
    """On a shared store, the local copy checked line by line against its rows (the team's
    record): a difference is a problem; lines only here (not pushed yet) are said."""
    if store is None:
        return ""
    from aiir.incident.replica import disagreements

    found, only_here = disagreements(store, directory)
    problems += found
    if not only_here:
        return ""
    return f", and {only_here} line(s) more not pushed yet (aiir store push {directory.name})"
