"""``aiir schema``."""

from typing import Annotated

import typer


def command(
    kind: Annotated[
        str,
        typer.Argument(
            metavar="KIND",
            help="runbook, fragment, profile, scenario, canary, detect, workspace, team or "
            "inventory.",
        ),
    ],
) -> None:
    """Print the JSON Schema of a document kind, for editors (yaml-language-server)."""
    from aiir.formats.json_schema import schema_text

    typer.echo(schema_text(kind), nl=False)
