"""What ``aiir detect`` shows: per evaluation, each rule's status, number and threshold, and
what was sent. Labels and notes come from the telemetry (hostile text): shown inert."""

from __future__ import annotations

from rich.console import Console

from aiir.detect.verdicts import Status, Verdict
from aiir.detect.watch import Evaluation
from aiir.outbound.notify import Delivery
from aiir.terminal.inert import inert

STYLE = {
    Status.OK: "green",
    Status.FAILING: "yellow",
    Status.FIRING: "bold red",
    Status.NO_DATA: "dim",
    Status.ERROR: "red",
}


def show(console: Console, evaluation: Evaluation, *, practice: bool) -> None:
    rules = evaluation.loaded.rules
    at = evaluation.at[:19] + "Z"  # to the second: the line fits 80 columns
    console.print(inert(f"{rules.detect} at {at}: {_counts(evaluation)}", "bold"))
    width = max(len(v.rule.id) for v in evaluation.verdicts)
    for verdict in evaluation.verdicts:
        console.print(inert(_line(verdict, width), STYLE[verdict.status]))
    for delivery in evaluation.deliveries:
        console.print(inert(_delivery(delivery, practice)))
    for note in evaluation.notes:
        console.print(inert(f"  {note}"))


def _counts(evaluation: Evaluation) -> str:
    """``2 of 5 firing``, ``nothing firing``, ``...; 1 of 5 not evaluated``."""
    total = len(evaluation.verdicts)
    firing = len(evaluation.firing)
    errors = sum(1 for v in evaluation.verdicts if v.status is Status.ERROR)
    text = f"{firing} of {total} firing" if firing else f"nothing firing of {total}"
    return text + (f"; {errors} of {total} not evaluated" if errors else "")


def _line(verdict: Verdict, width: int) -> str:
    status = str(verdict.status).upper() if verdict.status is Status.FIRING else str(verdict.status)
    start = f"  {status:<8} {verdict.rule.id:<{width}}"
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


def _delivery(delivery: Delivery, practice: bool) -> str:
    channel, reason = delivery.channel, delivery.reason
    if practice:
        return f"  {channel}: kept in the exercise inbox (practice: nothing sent)"
    if delivery.ok:
        return f"  {channel}: sent"
    if delivery.uncertain:  # it went out, and no answer says it was taken or refused
        return f"  {channel}: {reason}; it may have been delivered"
    return f"  {channel}: NOT sent: {reason}"
