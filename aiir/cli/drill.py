"""``aiir drill``."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aiir.cli.options import Store

if TYPE_CHECKING:
    from aiir.environment import Environment


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
        typer.Option(
            "--junit",
            metavar="FILE",
            dir_okay=False,  # refused before the drills run, not after (exit 2, incidents kept)
            help="Write JUnit XML here (for CI test reports).",
        ),
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
    store: Store = None,
) -> int:
    """Run scripted drills against the simulated gateway; exit 1 when any expectation is unmet."""
    from aiir.cli.flags import environment, gateway_urls, out_file
    from aiir.cli.incident import _check_store
    from aiir.exercises.drill_report import run_drills
    from aiir.respond.trace import destination

    urls = gateway_urls(gateway)  # before anything is read: a URL no request can go to is exit 2
    env = environment()
    env.store_flag = store
    _check_store(env)  # before any scenario: a wrong store is one line, exit 2
    out_file(junit, "--junit")  # before any drill: a JUnit file that cannot be written is exit 2
    _say_if_unanswered(env)
    trace = destination(env, otlp) if otlp is not None else None
    return int(
        run_drills(
            scenarios,
            env,
            junit=junit,
            as_json=as_json,
            gateways=urls,
            verbose=verbose,
            incident_dir=incident_dir,
            trace=trace,
        )
    )


def _say_if_unanswered(env: "Environment") -> None:
    """A shared store that does not answer fails no drill; their incidents stay local (said)."""
    if not env.store_at()[0]:
        return
    from aiir.redact import scrub
    from aiir.respond.shared import unanswered

    problem = unanswered(env)
    if problem:
        typer.echo(
            f"aiir: {scrub(problem)}; each drill's incident is kept in the local incidents "
            "folder: upload it once the store is back with `aiir store push ID`",
            err=True,
        )
