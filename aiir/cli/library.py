"""``aiir library``: what ships with aiir, by id, for every command that takes one."""

from enum import StrEnum
from typing import Annotated

import typer


class LibraryKind(StrEnum):
    runbooks = "runbooks"
    drills = "drills"
    tabletops = "tabletops"
    canaries = "canaries"
    answers = "answers"
    detections = "detections"


USES = {
    "runbooks": "aiir run ID, aiir graph ID, --on-fail-run ID, --open ID",
    "drills": "aiir drill ID",
    "tabletops": "aiir tabletop ID",
    "canaries": "aiir canary run ID --sandbox",
    "answers": "aiir run RUNBOOK --answers ID",
    "detections": "aiir detect ID --prometheus URL --phoenix URL",
}


def command(
    kind: Annotated[
        LibraryKind | None,
        typer.Option(
            "--kind",
            "-k",
            metavar="KIND",
            help="Only this kind: runbooks, drills, tabletops, canaries, answers or detections.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of {kind, id, title, path}.")
    ] = False,
) -> None:
    """List the runbooks, drill and tabletop scenarios, canary suites and answers that ship with
    aiir: id, title and file. Any command that takes one takes its id."""
    import json
    import os

    from aiir.formats.library import KINDS, shipped

    kinds = [kind.value] if kind is not None else list(KINDS)
    entries = [entry for name in kinds for entry in shipped(name)]
    if as_json:
        rows = [
            {"kind": e.kind, "id": e.id, "title": e.title, "path": str(e.path)} for e in entries
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    here = os.getcwd()
    for name in kinds:
        found = [e for e in entries if e.kind == name]
        typer.echo(f"{name} ({len(found)}): {USES[name]}")
        width = max((len(e.id) for e in found), default=0)
        for entry in found:
            relative = os.path.relpath(entry.path, here)
            shown = entry.path if relative.startswith("..") else relative
            typer.echo(f"  {entry.id:<{width}}  {entry.title}  [{shown}]")
        typer.echo("")
