"""``aiir drill``."""

from pathlib import Path
from typing import Annotated

import typer


def command(
    scenarios: Annotated[
        list[str],
        typer.Argument(
            metavar="SCENARIO",
            help="Drill scenarios: files, directories (searched recursively), or shipped ids "
            "(see: aiir library --kind drills).",
        ),
    ],
    junit: Annotated[
        Path | None,
        typer.Option("--junit", metavar="FILE", help="Write JUnit XML here (for CI test reports)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    gateway: Annotated[
        list[str] | None,
        typer.Option(
            "--gateway",
            "-g",
            metavar="NAME=URL",
            help="Run against a real (staging) gateway (repeatable).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show each walk as it happens.")
    ] = False,
    otlp: Annotated[
        str | None,
        typer.Option(
            "--otlp",
            metavar="URL",
            help="Export each drill's trace (OpenTelemetry spans, marked as exercise) to this "
            "OTLP/HTTP endpoint.",
        ),
    ] = None,
    incident_dir: Annotated[
        Path | None,
        typer.Option(
            "--incident-dir",
            metavar="DIR",
            help="Where drill incidents are journalled (default: ./.aiir/incidents).",
        ),
    ] = None,
) -> int:
    """Run scripted drills against the simulated gateway; exit 1 when any expectation is unmet."""
    from aiir.cli.flags import environment
    from aiir.exercises.drill_report import run_drills
    from aiir.respond.trace import destination

    env = environment()
    trace = destination(env, otlp) if otlp is not None else None
    return int(
        run_drills(
            scenarios,
            env,
            junit=junit,
            as_json=as_json,
            gateways=gateway or [],
            verbose=verbose,
            incident_dir=incident_dir,
            trace=trace,
        )
    )
