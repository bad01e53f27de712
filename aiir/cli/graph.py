"""``aiir graph``."""

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"
    png = "png"
    svg = "svg"


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
            help="text (the default), mermaid (Markdown), dot (Graphviz), or a picture drawn "
            "by Graphviz: png or svg.",
        ),
    ] = Format.text,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Write to this file instead of standard output.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Draw a runbook's decision tree: choice labels on edges, levers and outcomes marked."""
    from aiir.errors import InputError
    from aiir.formats.library import load_runbook, resolve_one
    from aiir.validate.graph import picture, render

    drawn = load_runbook(resolve_one(runbook, ["runbooks"]))
    if fmt not in (Format.png, Format.svg):
        shown = render(drawn, fmt.value)
        if out is None:
            typer.echo(shown, nl=False)
        else:
            _write(out, shown.encode())
        return
    if fmt is Format.png and out is None and sys.stdout.isatty():
        raise InputError("--format png is binary: pass --out FILE, or redirect the output")
    image = picture(drawn, fmt.value)
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(image)
        sys.stdout.buffer.flush()
    else:
        _write(out, image)


def _write(path: Path, content: bytes) -> None:
    from aiir.errors import InputError, shown

    try:
        path.write_bytes(content)
    except OSError as exc:
        raise InputError(f"--out {shown(str(path))}: {exc.strerror or exc}") from None
