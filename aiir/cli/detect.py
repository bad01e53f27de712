"""``aiir detect``: rules over Prometheus and a trace store, once or on an interval."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aiir.cli.options import IncidentDir, OnFailRun, RunbookInputs, Store

if TYPE_CHECKING:
    from aiir.detect.watch import DetectOptions
    from aiir.environment import Environment


def command(
    rules: Annotated[
        list[str],
        typer.Argument(
            metavar="RULES",
            help="Detection rules: files, directories (searched recursively), or shipped ids "
            "(see: aiir library --kind detections).",
        ),
    ],
    every: Annotated[
        str | None,
        typer.Option(
            "--every", metavar="DURATION", help="Evaluate again after this long (e.g. 30s, 1m)."
        ),
    ] = None,
    times: Annotated[
        int | None,
        typer.Option(
            "--times", metavar="N", help="With --every: stop after N evaluations (default: never)."
        ),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option("--prometheus", metavar="URL", help="Every rules file's Prometheus."),
    ] = None,
    phoenix: Annotated[
        str | None,
        typer.Option("--phoenix", metavar="URL", help="Every rules file's Phoenix."),
    ] = None,
    alert: Annotated[
        bool,
        typer.Option(
            "--alert", help="Page (PagerDuty) and post (Slack) as each file's alert says."
        ),
    ] = False,
    on_fail_run: OnFailRun = None,
    set_: RunbookInputs = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Practice: alerts go to the exercise inbox and an incident walks the simulated "
            "gateway; Prometheus and Phoenix are only read.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each evaluation as one line of JSON.")
    ] = False,
    history_dir: Annotated[
        Path | None,
        typer.Option(
            "--history-dir",
            metavar="DIR",
            help="Where each rule's state is kept between runs (default: $AIIR_DETECT_HISTORY "
            "or ./.aiir/detect-history).",
        ),
    ] = None,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Evaluate detection rules; exit 1 while any rule fires or cannot be evaluated."""
    from aiir.cli import flags
    from aiir.detect.history import history_root
    from aiir.detect.watch import DetectOptions
    from aiir.formats.library import resolve, resolve_one

    env = flags.environment()
    if as_json:  # stdout carries the JSON alone; a walked runbook talks on stderr
        from aiir.environment import console_on

        env.console = console_on(stderr=True)
    env.incidents_at(flags.incident_dir(incident_dir))
    env.store_flag = store
    interval = _interval(every, times)
    options = DetectOptions(
        alert=alert,
        inputs=flags.pairs(set_, "--set", "KEY=VALUE"),
        history_dir=history_root(env.environ, history_dir, practice=sandbox),
        practice=sandbox,
        prometheus=_url(prometheus, "--prometheus"),
        phoenix=_url(phoenix, "--phoenix"),
    )
    files = resolve(rules, ["detections"])
    if on_fail_run is not None:
        options.on_fail_run = resolve_one(on_fail_run, ["runbooks"], flag="--on-fail-run")
    if sandbox:
        env.use_sandbox()
    return _run(files, env, options, interval, times, as_json)


def _interval(every: str | None, times: int | None) -> float | None:
    from aiir.errors import InputError
    from aiir.formats.timers import span

    if times is not None and (every is None or times < 1):
        raise InputError("--times N: needs --every, and N of at least 1")
    if every is None:
        return None
    try:
        seconds = span(every.strip()).total_seconds()
    except ValueError:
        raise InputError(f"--every {every[:40]!r}: not a duration (e.g. 30s, 1m, 1h)") from None
    if seconds < 1:
        raise InputError("--every: at least 1s")
    return seconds


def _url(value: str | None, flag: str) -> str | None:
    from aiir.cli.flags import gateway_urls

    if value is None:
        return None
    return gateway_urls([f"source={value}"], flag)["source"]


def _run(
    files: list[Path],
    env: "Environment",
    options: "DetectOptions",
    interval: float | None,
    times: int | None,
    as_json: bool,
) -> int:
    import json

    import httpx2

    from aiir.detect.history import History
    from aiir.detect.report import show
    from aiir.detect.watch import evaluate, prepare
    from aiir.errors import ExitStatus
    from aiir.terminal.inert import inert, json_inert

    loaded = prepare(files, env, options)
    if options.practice:
        env.console.print(
            "practice: alerts go to the exercise inbox, nothing is sent; Prometheus and "
            "Phoenix are only read"
        )
    histories = [History(options.history_dir, item.rules.detect) for item in loaded]
    ok = True
    count = 0
    with httpx2.Client(follow_redirects=False) as client:  # the sources': reads only
        while True:
            count += 1
            ok = True
            for item, history in zip(loaded, histories, strict=True):
                evaluation = evaluate(item, env, options, client, history)
                ok = ok and evaluation.ok
                if as_json:
                    encoded = json.dumps(evaluation.as_dict(), ensure_ascii=False)
                    typer.echo(json_inert(encoded))
                else:
                    show(env.console, evaluation, practice=options.practice)
            if interval is None or (times is not None and count >= times):
                break
            if not as_json:
                env.console.print(inert(f"next evaluation in {interval:g} s (Ctrl-C stops)"))
            env.clock.sleep(interval)
    return ExitStatus.OK if ok else ExitStatus.FAILED
