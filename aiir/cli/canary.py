"""``aiir canary run`` and ``aiir canary from-incident``."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aiir.cli.options import IncidentDir, OnFailRun, RunbookInputs, Store

if TYPE_CHECKING:
    from collections.abc import Mapping

app = typer.Typer(
    help="Canary prompts against a model: assertions, drift, alerts, incidents.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    suites: Annotated[
        list[str],
        typer.Argument(
            metavar="SUITE",
            help="Canary suites: files, directories (searched recursively), or shipped ids "
            "(see: aiir library --kind canaries).",
        ),
    ],
    gateway: Annotated[
        list[str] | None,
        typer.Option(
            "--gateway", "-g", metavar="NAME=URL", help="Point a declared gateway elsewhere."
        ),
    ] = None,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Run against the built-in simulated gateway.")
    ] = False,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit",
            metavar="FILE",
            dir_okay=False,  # refused before a prompt is sent, not after the run
            help="Write JUnit XML here (for CI test reports).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    alert: Annotated[
        bool,
        typer.Option(
            "--alert", help="Page (PagerDuty) and post (Slack) as each suite's alert says."
        ),
    ] = False,
    on_fail_run: OnFailRun = None,
    set_: RunbookInputs = None,
    history_dir: Annotated[
        Path | None,
        typer.Option(
            "--history-dir",
            metavar="DIR",
            help="Where run history is kept (default: $AIIR_CANARY_HISTORY or "
            "./.aiir/canary-history).",
        ),
    ] = None,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Send canary prompts, check every reply and the drift; exit 1 on any failure."""
    import gc
    import json

    from aiir.canary.history import history_root
    from aiir.canary.report import as_json as runs_json
    from aiir.canary.report import show, write_junit
    from aiir.canary.sweep import SweepOptions, sweep
    from aiir.cli import flags
    from aiir.errors import ExitStatus
    from aiir.formats.library import resolve, resolve_one

    # What the imports made lives as long as the command: out of the collector's sight, full
    # collections no longer walk it while the suite loads and the replies come in (~25 ms a
    # sweep here). Given back after, for a caller that runs commands in its own process.
    gc.freeze()
    try:
        env = flags.environment()
        if as_json:  # stdout carries the JSON alone; a walked runbook talks on stderr
            from aiir.environment import console_on

            env.console = console_on(stderr=True)
        env.incidents_at(flags.incident_dir(incident_dir))
        flags.out_file(junit, "--junit")  # before any prompt is sent: a wrong one costs nothing
        env.store_flag = store
        urls = flags.gateway_urls(gateway)  # before any suite is read: a wrong flag costs nothing
        if sandbox and urls:
            from aiir.errors import InputError

            raise InputError(
                "--sandbox and --gateway: a sandbox run talks only to the simulated gateway"
            )
        files = resolve(suites, ["canaries"])
        runbook = (
            None
            if on_fail_run is None
            else resolve_one(on_fail_run, ["runbooks"], flag="--on-fail-run")
        )
        options = SweepOptions(
            gateway_urls=urls,
            alert=alert,
            history_dir=history_root(env.environ, history_dir),
            on_fail_run=runbook,
            inputs=flags.pairs(set_, "--set", "KEY=VALUE"),
            progress=env.console.is_terminal and not _in_ci(env.environ) and not as_json,
        )
        if sandbox:
            from aiir.sandbox import SandboxState

            options.sandbox = SandboxState()
            env.use_sandbox(options.sandbox)
        runs = sweep(files, env, options)
        if as_json:
            from aiir.terminal.inert import json_inert  # model replies are hostile text

            typer.echo(json_inert(json.dumps(runs_json(runs), indent=2, ensure_ascii=False)))
        else:
            show(env.console, runs)
        if junit is not None:
            write_junit(junit, runs)
        failed = any(not r.ok for r in runs) or any(not d.ok for r in runs for d in r.deliveries)
        return ExitStatus.FAILED if failed else ExitStatus.OK
    finally:
        gc.unfreeze()


@app.command("from-incident")
def from_incident(
    incident: Annotated[
        str, typer.Argument(metavar="INCIDENT", help="Incident id (see: aiir incidents).")
    ],
    suite: Annotated[
        Path,
        typer.Option(
            "--suite", metavar="FILE", help="Suite file to append to (created if missing)."
        ),
    ],
    incident_dir: IncidentDir = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Read an incident whose journal does not verify (its canaries marked UNVERIFIED).",
        ),
    ] = False,
) -> int:
    """Turn an incident's hostile prompts into regression canaries in a suite."""
    from aiir.canary.learn import learn
    from aiir.cli import flags
    from aiir.errors import ExitStatus

    root = flags.environment().incidents_at(flags.incident_dir(incident_dir))
    added = learn(root, incident, suite, force=force)
    typer.echo(f"{suite}: {len(added)} regression canary(ies) added from {incident}")
    for prompt_id in added:
        typer.echo(f"  {prompt_id}")
    return ExitStatus.OK


def _in_ci(environ: "Mapping[str, str]") -> bool:
    return environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
