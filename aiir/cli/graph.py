"""``aiir graph``."""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    text = "text"


def command(
    runbook: Annotated[Path, typer.Argument(help="The runbook file to draw.")],
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="mermaid (Markdown), dot (Graphviz) or text.")
    ] = Format.text,
) -> None:
    """Draw a runbook's decision tree: choice labels on edges, levers and outcomes marked."""
    from aiir.graph import render
    from aiir.library import load_runbook

    typer.echo(render(load_runbook(runbook), fmt.value), nl=False)
