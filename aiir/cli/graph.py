"""``aiir graph``."""

from enum import StrEnum
from typing import Annotated

import typer


class Format(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    text = "text"


def command(
    runbook: Annotated[
        str,
        typer.Argument(
            metavar="RUNBOOK",
            help="A runbook file, a directory holding one, or a shipped runbook's id.",
        ),
    ],
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="text (the default), mermaid (Markdown) or dot (Graphviz).",
        ),
    ] = Format.text,
) -> None:
    """Draw a runbook's decision tree: choice labels on edges, levers and outcomes marked."""
    from aiir.graph import render
    from aiir.library import load_runbook, resolve_one

    typer.echo(render(load_runbook(resolve_one(runbook, ["runbooks"])), fmt.value), nl=False)
