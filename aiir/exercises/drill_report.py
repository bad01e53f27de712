"""``aiir drill`` end to end: check every scenario first, run them, report, write JUnit."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from aiir.environment import Environment, console_on
from aiir.errors import ExitStatus, InputError
from aiir.exercises.drill import DrillResult, run_drill, timer_texts, visited
from aiir.exercises.junit import write_junit
from aiir.redact import masked_json, scrub
from aiir.respond.trace import Destination, export
from aiir.terminal.inert import inert
from aiir.validate.scenarios import Prepared, prepare


def scenario_files(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; directories searched for scenarios; shipped scenarios by id."""
    from aiir.formats.library import resolve

    return resolve(paths, ["drills", "tabletops"])


def prepare_all(files: Sequence[Path], profile_folders: tuple[Path, ...] = ()) -> list[Prepared]:
    """Check every scenario before any runs; report every invalid one, not just the first."""
    prepared: list[Prepared] = []
    errors: list[InputError] = []
    for path in files:
        try:
            prepared.append(prepare(path, profile_folders))
        except InputError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        lines = "\n".join(str(e) for e in errors)
        raise InputError(f"{len(errors)} invalid drill scenarios; nothing was run:\n{lines}")
    return prepared


def staged_only(prepared: Sequence[Prepared], urls: dict[str, str]) -> None:
    """A drill against staging names every gateway its runbook declares: any other would be the
    runbook's own address, a real system. Said before any drill runs."""
    for item in prepared:
        missing = sorted(set(item.runbook.gateways) - set(urls))
        if missing:
            raise InputError(
                f"--gateway: a drill against a staging gateway talks only to the gateways named "
                f"with --gateway; runbook {item.runbook.id!r} (scenario {item.path}) also "
                f"declares {', '.join(repr(m) for m in missing)}: pass --gateway {missing[0]}=URL "
                "too; nothing was run"
            )


def run_drills(
    paths: Sequence[str | Path],
    env: Environment,
    *,
    junit: Path | None = None,
    as_json: bool = False,
    gateways: Mapping[str, str] | None = None,
    verbose: bool = False,
    incident_dir: Path | None = None,
    console: Console | None = None,
    trace: Destination | None = None,
) -> ExitStatus:
    """Run every scenario; exit 1 if any expectation is unmet, 2 if any scenario is invalid.
    Drills run in ``env``'s variables and keep their incidents where it does (or in
    ``incident_dir``); with ``trace``, each drill's trace is exported there (a line each, on
    standard error: an endpoint that is down fails no drill)."""
    console = console or console_on()
    prepared = prepare_all(scenario_files(paths), env.profile_dirs)
    urls = dict(gateways or {})  # NAME=URL pairs, checked by the caller (the CLI: --gateway)
    if urls:
        staged_only(prepared, urls)
    root = env.incidents_at(incident_dir)
    results = [
        run_drill(p, root, urls, env, console if verbose and not as_json else None)
        for p in prepared
    ]
    if trace is not None:
        _export_traces(env, results, trace)
    if junit is not None:
        write_junit(junit, results)
    if as_json:
        print(masked_json([_as_dict(r) for r in results]))
    else:
        _report(console, results, junit)
    return ExitStatus.OK if all(r.ok for r in results) else ExitStatus.FAILED


def _export_traces(env: Environment, results: Sequence[DrillResult], trace: Destination) -> None:
    for result in results:
        if result.incident is not None:
            ok, line = export(env, result.incident, trace)
            print(line if ok else f"aiir: {line}", file=sys.stderr)


def _as_dict(result: DrillResult) -> dict[str, object]:
    return {
        "scenario": result.name,
        "file": str(result.path),
        "ok": result.ok,
        "error": result.error,
        "seconds": round(result.seconds, 3),
        "incident": result.incident.id if result.incident else None,
        "outcome": result.incident.outcome if result.incident else None,
        "path": visited(result.incident) if result.incident else [],
        "timers": timer_texts(result.incident) if result.incident else [],
        "groups": [{"name": g.name, "ok": g.ok, "problems": g.problems} for g in result.groups],
    }


def _report(console: Console, results: Sequence[DrillResult], junit: Path | None) -> None:
    from aiir.errors import clipped
    from aiir.terminal.inert import cell

    table = Table(
        "scenario",
        "runbook",
        "result",
        "checks",
        "time",
        "incident",
        title="Drills (practice: messages kept in the exercise's inbox, nothing sent)",
        title_justify="left",
    )
    table.columns[0].overflow = table.columns[5].overflow = "fold"
    for result in results:
        verdict = (
            Text("PASS", "bold green")
            if result.ok
            else Text("ERROR" if result.error else "FAIL", "bold red")
        )
        failed = [g.name for g in result.groups if not g.ok]
        checks = f"{len(result.groups) - len(failed)}/{len(result.groups)}"
        if failed:
            checks += " ✗ " + ", ".join(failed)
        table.add_row(  # kept by their ends: the whole is in --json and --junit
            cell(result.name),
            cell(result.scenario.runbook if result.scenario else "?"),
            verdict,
            checks,
            f"{result.seconds * 1000:.0f} ms",
            result.incident.id if result.incident else "-",
        )
    console.print(table)
    for result in results:  # each timer met or missed, with its time on the drill clock
        texts = timer_texts(result.incident) if result.incident else []
        if texts:
            console.print(inert(f"⏱ {result.name}: " + "; ".join(texts)), soft_wrap=True)
    for result in results:  # one line per problem, never wrapped: CI logs are grepped
        if result.ok:
            continue
        console.print(Text(f"✗ {result.name} ({result.path})", "bold red"), soft_wrap=True)
        if result.error:
            said = clipped(f"  could not run: {scrub(result.error)}")
            console.print(inert(said), soft_wrap=True)
        for group in result.groups:  # a long value quoted in one kept by its ends (cf. --junit)
            for problem in group.problems:
                said = clipped(f"  {group.name}: {scrub(problem)}")
                console.print(inert(said), soft_wrap=True)
    passed = sum(1 for r in results if r.ok)
    console.print(f"{passed} passed, {len(results) - passed} failed", soft_wrap=True)
    if junit is not None:
        console.print(inert(scrub(f"JUnit report: {junit}")), soft_wrap=True, highlight=False)
