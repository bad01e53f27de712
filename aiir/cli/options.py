"""Command-line options that several commands share, declared once (Typer only: cheap to load)."""

from pathlib import Path
from typing import Annotated

import typer

IncidentDir = Annotated[
    Path | None,
    typer.Option(
        "--incident-dir",
        metavar="DIR",
        help="Where incidents are kept (default: $AIIR_INCIDENT_DIR or ./.aiir/incidents).",
    ),
]
OnFailRun = Annotated[
    str | None,
    typer.Option(
        "--on-fail-run",
        metavar="RUNBOOK",
        help="Open an incident of this runbook (a file, or a shipped id) on a failure.",
    ),
]
RunbookInputs = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE", help="Input of the --on-fail-run runbook."),
]
Store = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="The team's shared incident store, a postgresql:// URL (default: $AIIR_STORE, "
        "else aiir.yaml's store:, else the files).",
    ),
]
