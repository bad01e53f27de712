"""A failing suite's page and posts, sent as :mod:`aiir.outbound.alerting` decides.

PagerDuty is triggered on every failing run with a dedup key stable per suite and target, so
repeated failures update one alert; the first passing run after that resolves it. Slack hears of
the transitions only (failing, recovered), not of every failing run of a sweep every minute.
"""

from __future__ import annotations

from typing import Any

from aiir.canary.result import SuiteRun
from aiir.formats.canary import CanaryAlert
from aiir.outbound import alerting
from aiir.outbound.alerting import AlertState, context, escape, header, section
from aiir.outbound.notify import Notifier, PagerDutyEvent, pagerduty_severity

MAX_DETAILS = 20
MAX_SLACK_FAILURES = 10


def alert_secrets(alert: CanaryAlert, notifier: Notifier, suite: str) -> list[str]:
    """The routing key and webhook URL a suite names; unset variables are bad input."""
    return alerting.route_secrets(alert, notifier, f"suite {suite}")


def deliver(run: SuiteRun, previous: AlertState, notifier_for: alerting.NotifierFor) -> AlertState:
    """Page, update or resolve; returns the alert's new state. Deliveries go to ``run``."""
    watched = alerting.Watched(run.target.key, not run.ok, run.started, run.name)
    state, sent = alerting.deliver(
        watched, _Message(run), run.loaded.suite.alert, previous, notifier_for
    )
    run.deliveries.extend(sent)
    return state


class _Message:
    """What a suite's page and posts say."""

    def __init__(self, run: SuiteRun) -> None:
        self.run = run

    def pagerduty_event(self, source: str) -> PagerDutyEvent:
        return pagerduty_event(self.run, source)

    def slack_failing(self) -> tuple[str, list[dict[str, Any]]]:
        return slack_failing(self.run)

    def slack_recovered(self, previous: AlertState) -> tuple[str, list[dict[str, Any]]]:
        return slack_recovered(self.run, previous)


def pagerduty_event(run: SuiteRun, source: str) -> PagerDutyEvent:
    failures = run.failures
    first = failures[0]
    suite = run.loaded.suite
    details: dict[str, Any] = {
        "suite": suite.canary,
        "title": suite.title,
        "target": {"gateway": run.target.gateway, "model": run.target.model},
        "run": run.run_id,
        "checks": run.checks,
        "failed": len(failures),
        "failures": [f.as_dict(run.secrets) for f in failures[:MAX_DETAILS]],
    }
    if run.drifted:
        details["drift"] = [s.summary for s in run.drifted]
    if run.incident:
        details["incident"] = run.incident
    only_drift = all(f.check.startswith("drift:") for f in failures)
    return PagerDutyEvent(
        summary=f"[aiir canary] {run.summary()}; first: {first.prompt_id}: "
        f"{first.check}: {first.as_dict(run.secrets)['detail']}",
        source=source,
        severity=pagerduty_severity(run.severity),
        timestamp=run.started,
        component=run.target.model,
        group=run.target.gateway,
        class_="drift" if only_drift else "canary-failure",
        custom_details=details,
    )


def slack_failing(run: SuiteRun) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks for a suite that started failing."""
    failures = run.failures
    lines = []
    for failure in failures[:MAX_SLACK_FAILURES]:
        shown = failure.as_dict(run.secrets, excerpt=150)
        line = (
            f"• *{escape(failure.prompt_id)}* `{escape(failure.check)}`: {escape(shown['detail'])}"
        )
        if shown["output"]:
            line += f"\n> {escape(shown['output'])}"
        lines.append(line)
    if len(failures) > MAX_SLACK_FAILURES:
        lines.append(f"… and {len(failures) - MAX_SLACK_FAILURES} more")
    text = f"Canary failing ({run.severity}): {run.summary()}"
    blocks = [
        header(f"Canary failing: {run.loaded.suite.title}"),
        section(f"*{escape(run.summary())}* ({run.severity})"),
        section("\n".join(lines)),
        _context(run),
    ]
    return text, blocks


def slack_recovered(run: SuiteRun, previous: AlertState) -> tuple[str, list[dict[str, Any]]]:
    since = f" (failing since {previous.since})" if previous.since else ""
    text = f"Canary recovered: {run.summary()}{since}"
    blocks = [
        header(f"Canary recovered: {run.loaded.suite.title}"),
        section(escape(text)),
        _context(run),
    ]
    return text, blocks


def _context(run: SuiteRun) -> dict[str, Any]:
    text = f"aiir canary · run {run.run_id} · {escape(run.target.key)}"
    if run.incident:
        text += f" · incident {run.incident}"
    return context(text)
