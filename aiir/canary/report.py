"""Showing canary runs: a progress bar, the summary table, JSON and JUnit XML.

Prompts, outputs and failure details are hostile text: they reach the terminal only as rich
``Text`` made plain (no escape sequences, no console markup) with secrets masked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from aiir.canary.result import SuiteRun, clean
from aiir.terminal.inert import cell, inert

MAX_ROWS = 50


@contextlib.contextmanager
def progress_bar(console: Console, run: SuiteRun) -> Iterator[Callable[[], None] | None]:
    """A transient bar on the terminal, advanced once per reply."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    suite = run.loaded.suite
    total = sum(p.repeats or suite.repeats for p in suite.prompts)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"canary {suite.canary}", total=total)
        yield lambda: progress.advance(task)


def show(console: Console, runs: Sequence[SuiteRun]) -> None:
    """Every run's verdict; a table of every failure with its prompt and output excerpt."""
    for run in runs:
        _show_run(console, run)
    failed = sum(1 for r in runs if not r.ok)
    style = "bold red" if failed else "bold green"
    console.print(Text(f"{len(runs)} suite(s), {failed} failing", style=style))


def _show_run(console: Console, run: SuiteRun) -> None:
    verdict = Text("PASS " if run.ok else "FAIL ", style="bold green" if run.ok else "bold red")
    verdict.append_text(inert(f"{run.summary()} ({run.seconds:.2f} s)"))
    console.print(verdict)
    failures = [f for f in run.failures if not f.check.startswith("drift:")]
    if failures:
        from rich.table import Table

        table = Table("prompt", "check", "found", "output", show_lines=False, expand=False)
        for failure in failures[:MAX_ROWS]:
            shown = failure.as_dict(run.secrets, excerpt=120)
            prompt = (
                f"{failure.prompt_id}#{failure.repeat}" if failure.repeat else failure.prompt_id
            )
            table.add_row(  # each cell kept by its ends: the whole is in --json and --junit
                cell(f"{prompt}\n{shown['prompt']}"),
                cell(failure.check),
                cell(shown["detail"]),
                cell(shown["output"]),
            )
        console.print(table)
        if len(failures) > MAX_ROWS:
            console.print(Text(f"… and {len(failures) - MAX_ROWS} more failures"))
    _show_drift(console, run)
    for delivery in run.deliveries:
        if run.practice:
            line = (
                f"  alert {delivery.channel}: kept in the exercise inbox (practice: nothing sent)"
            )
            console.print(inert(line))
            continue
        state = (
            "delivered"
            if delivery.ok
            else f"{delivery.reason}; it may have been delivered"
            if delivery.uncertain
            else f"NOT delivered: {delivery.reason}"
        )
        line = f"  alert {delivery.channel}: {state} ({delivery.attempts} attempt(s))"
        console.print(inert(clean(line, run.secrets, None)), style=None if delivery.ok else "red")
    for note in run.notes:
        console.print(inert(f"  {note}"))


def _show_drift(console: Console, run: SuiteRun) -> None:
    if not run.loaded.suite.drift.enabled:
        return
    if not run.signals:
        console.print(Text("  drift: not enough history yet for a baseline", style="dim"))
        return
    for signal in run.signals:
        style = "bold red" if signal.drifted else "dim"
        word = "DRIFT" if signal.drifted else "ok"
        console.print(Text(f"  {word} {signal.summary}", style=style))


def as_json(runs: Sequence[SuiteRun]) -> list[dict[str, Any]]:
    return [
        {
            "suite": run.name,
            "file": str(run.loaded.path),
            "ok": run.ok,
            "run": run.run_id,
            "started": run.started,
            "seconds": round(run.seconds, 3),
            "target": {"gateway": run.target.gateway, "model": run.target.model},
            "samples": len(run.samples),
            "checks": run.checks,
            "failures": [f.as_dict(run.secrets) for f in run.failures],
            "drift": [s.as_dict() for s in run.signals],
            "baseline_runs": run.baseline_runs,
            "deliveries": run.delivery_records(),
            "incident": run.incident,
            "notes": [clean(n, run.secrets, None) for n in run.notes],
        }
        for run in runs
    ]


def junit_xml(runs: Sequence[SuiteRun]) -> str:
    """One test suite per canary suite, one test case per prompt, one for drift."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="aiir canaries")
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    total = failed = 0
    for run in runs:
        cases = _cases(run)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=run.name,
            tests=str(len(cases)),
            failures=str(sum(1 for _, problems in cases if problems)),
            errors="0",
            skipped="0",
            time=f"{run.seconds:.3f}",
            timestamp=stamp,
            file=str(run.loaded.path),
        )
        for name, problems in cases:
            case = ET.SubElement(suite, "testcase", name=name, classname=f"canary.{run.name}")
            if problems:
                first = problems[0].splitlines()[0][:500]
                failure = ET.SubElement(case, "failure", message=first, type="CanaryFailed")
                failure.text = "\n".join(problems)
                failed += 1
            total += 1
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _cases(run: SuiteRun) -> list[tuple[str, list[str]]]:
    problems: dict[str, list[str]] = {p.id: [] for p in run.loaded.suite.prompts}
    for failure in run.failures:
        shown = failure.as_dict(run.secrets, excerpt=300)
        line = f"{failure.check}: {shown['detail']}"
        if shown["output"]:
            line += f"\n  output: {shown['output']}"
        problems.setdefault(failure.prompt_id, []).append(line)
    drift = problems.pop("(drift)", [])
    cases = list(problems.items())
    if run.signals:
        cases.append(("drift", drift))
    return cases


def write_junit(path: Path, runs: Sequence[SuiteRun]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(runs), encoding="utf-8")
