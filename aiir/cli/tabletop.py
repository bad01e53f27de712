"""``aiir tabletop``."""

from pathlib import Path
from typing import Annotated

import typer

from aiir.cli.options import Store

MAX_SPEED = 10_000.0  # scenario minutes per real minute: about a scenario week in a real minute


def command(
    scenario: Annotated[
        str,
        typer.Argument(
            metavar="SCENARIO",
            help="A tabletop scenario (a drill scenario with injects): a file, a directory "
            "holding one, or a shipped id (see: aiir library --kind tabletops).",
        ),
    ],
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            metavar="N",
            min=0.01,
            max=MAX_SPEED,  # inf (or 1e300) made the scenario clock overflow: an internal error
            help="Scenario minutes per real minute (60: a scenario hour in a minute).",
        ),
    ] = 1.0,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE",
            dir_okay=False,  # refused before the room sits down, not after the exercise
            help="Write the after-action report here (Markdown).",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Pre-approve every lever request.")
    ] = False,
    otlp: Annotated[
        str | None,
        typer.Option(
            "--otlp",
            metavar="URL",
            help="Export the exercise's trace (OpenTelemetry spans, marked as exercise) to this "
            "OTLP/HTTP endpoint when it stops.",
        ),
    ] = None,
    incident_dir: Annotated[
        Path | None,
        typer.Option("--incident-dir", metavar="DIR", help="Where the exercise is journalled."),
    ] = None,
    store: Store = None,
) -> int:
    """Facilitate a tabletop exercise: injects on a timeline, the room walks the runbook against
    the simulated gateway, and an after-action report is written at the end."""

    from aiir.cli import flags
    from aiir.cli.incident import _check_store, _send_trace, _trace_to
    from aiir.environment import console_on, has_terminal
    from aiir.errors import InputError
    from aiir.exercises.tabletop import default_environment, run_tabletop
    from aiir.formats.library import resolve_one
    from aiir.terminal.inert import inert
    from aiir.terminal.prompter import terminal_prompter
    from aiir.validate.scenarios import prepare

    process = flags.environment()
    process.store_flag = store
    _check_store(process)  # before the room sits down: a wrong store is one line, exit 2
    flags.out_file(report, "--report")
    where = _trace_to(process, otlp) if otlp is not None else None
    prepared = prepare(resolve_one(scenario, ["tabletops", "drills"]), process.profile_dirs)
    if not has_terminal():  # the room answers at the keyboard; nothing could answer here
        raise InputError(
            f"a tabletop needs a terminal: the room answers the runbook's questions "
            f"(to walk {scenario} unattended, give it answers and run: aiir drill {scenario})"
        )
    prompter = terminal_prompter()
    console = console_on()
    env = default_environment(
        console,
        prompter,
        process.incidents_at(flags.incident_dir(incident_dir)),
        environ=dict(process.environ),
        operator=process.operator,
    )
    env.assume_yes = yes
    env.use_store_of(process)
    console.rule(inert(f"Tabletop: {prepared.scenario.title}"))  # the scenario's text, and
    if prepared.scenario.description:  # a path the operator typed: no markup, no escapes
        console.print(inert(prepared.scenario.description))
    result, path, _ = run_tabletop(prepared, env, speed=speed, report=report)
    console.print(inert(f"After-action report: {path}"))
    _send_trace(env, result.incident, where)
    return int(result.exit_status)
