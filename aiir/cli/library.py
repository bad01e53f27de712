"""``aiir library``: what ships with aiir, by id, for every command that takes one."""

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from aiir.formats.library import Shipped


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
    import textwrap

    from aiir.formats.library import KINDS, shipped

    kinds = [kind.value] if kind is not None else list(KINDS)
    entries = [entry for name in kinds for entry in shipped(name)]
    if as_json:
        rows = [
            {"kind": e.kind, "id": e.id, "title": e.title, "path": str(e.path)} for e in entries
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from aiir.cli.flags import environment

    console = environment().console
    columns = console.width if console.is_terminal else 0
    for name in kinds:
        found = [e for e in entries if e.kind == name]
        heading = f"{name} ({len(found)}): {USES[name]}"
        if columns:
            heading = "\n".join(textwrap.wrap(heading, columns - 1, subsequent_indent="    "))
        typer.echo(heading)
        typer.echo("".join(listing(found, os.getcwd(), columns)))


def listing(found: "list[Shipped]", here: str, columns: int) -> "Iterator[str]":
    """The lines of one kind: id, title and file, one line each (``columns`` 0: for a pipe, a
    file or grep), else folded to a terminal's width with each folder named once."""
    import os
    import textwrap

    width = max((len(e.id) for e in found), default=0)
    if not columns:
        for entry in found:
            yield f"  {entry.id:<{width}}  {entry.title}  [{_shown(entry.path, here)}]\n"
        return
    longest = max((len(w) for e in found for w in f"{e.title} [{e.path.name}]".split()), default=0)
    # the title beside the id, else under it: beside while the longest word fits there
    beside = width + 4 <= columns // 2 and width + 4 + longest < columns
    hang = " " * (width + 4) if beside else "      "
    folder = None
    for entry in found:
        if entry.path.parent != folder:
            folder = entry.path.parent
            yield f"  in {_shown(folder, here)}{os.sep}\n"
        if not beside:
            yield f"  {entry.id}\n"
        lines = textwrap.wrap(
            f"{entry.title}  [{entry.path.name}]",
            max(columns - 1, 40),
            initial_indent=f"  {entry.id:<{width}}  " if beside else hang,
            subsequent_indent=hang,
            break_on_hyphens=False,
            break_long_words=False,
        )
        yield "\n".join(lines) + "\n"


def _shown(path: "Path", here: str) -> str:
    """``path`` from the working directory when it is below it, else whole."""
    import os

    relative = os.path.relpath(path, here)
    return str(path) if relative.startswith("..") else relative
