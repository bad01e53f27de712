"""What ``aiir detect`` shows: per evaluation, each rule's status, number and threshold, and
what was sent. Labels and notes come from the telemetry (hostile text): shown inert."""

from __future__ import annotations

from rich.console import Console

from aiir.detect.verdicts import Status, Verdict
from aiir.detect.watch import Evaluation
from aiir.terminal.inert import inert

STYLE = {
    Status.OK: "green",
    Status.FAILING: "yellow",
    Status.FIRING: "bold red",
    Status.NO_DATA: "dim",
    Status.ERROR: "red",
}
WIDTH = 24  # a rule id's column


def show(console: Console, evaluation: Evaluation, *, practice: bool) -> None:
    rules = evaluation.loaded.rules
    firing = len(evaluation.firing)
    head = f"{rules.detect} at {evaluation.at}: "
    head += f"{firing} firing" if firing else "nothing firing"
    head += f" of {len(evaluation.verdicts)} rule(s)"
    console.print(inert(head, "bold"))
    for verdict in evaluation.verdicts:
        console.print(inert(_line(verdict), STYLE[verdict.status]))
    for delivery in evaluation.deliveries:
        console.print(inert(_delivery(delivery.channel, delivery.ok, delivery.reason, practice)))
    for note in evaluation.notes:
        console.print(inert(f"  {note}"))


def _line(verdict: Verdict) -> str:
    status = str(verdict.status).upper() if verdict.status is Status.FIRING else str(verdict.status)
    start = f"  {status:<8} {verdict.rule.id:<{WIDTH}}"
    if verdict.status is Status.ERROR:
        return f"{start} {verdict.measured.error}"
    if verdict.status is Status.NO_DATA:
        return f"{start} {verdict.measured.note or 'the query returned no samples'}"
    value = verdict.value
    shown = "-" if value is None else f"{value:.4g}"
    line = f"{start} {shown} ({verdict.rule.threshold})"
    if verdict.status in (Status.FAILING, Status.FIRING):
        line += f" {verdict.streak}/{verdict.rule.for_}"
        if len(verdict.offending) > 1:
            line += f", {len(verdict.offending)} series"
    if verdict.measured.note:
        line += f"; {verdict.measured.note}"
    return line


def _delivery(channel: str, ok: bool, reason: str, practice: bool) -> str:
    if practice:
        return f"  {channel}: kept in the exercise inbox (practice: nothing sent)"
    return f"  {channel}: {'sent' if ok else 'NOT sent: ' + reason}"
