"""Paging on a failing suite and resolving on recovery, over :mod:`aiir.outbound.notify`.

PagerDuty is triggered on every failing run with a dedup key stable per suite and target, so
repeated failures update one alert; the first passing run after that resolves it. Slack hears of
the transitions only (failing, recovered), not of every failing run of a sweep every minute.
"""

from __future__ import annotations

from typing import Any

from aiir.canary.history import AlertState
from aiir.canary.result import SuiteRun
from aiir.formats.canary import CanaryAlert
from aiir.outbound.notify import Delivery, Notifier, PagerDutyEvent, pagerduty_severity

MAX_DETAILS = 20
MAX_SLACK_FAILURES = 10
SLACK_SECTION = 2900  # Slack refuses a section text over 3000 characters


def alert_secrets(alert: CanaryAlert, notifier: Notifier, suite: str) -> list[str]:
    """The routing key and webhook URL a suite names; unset variables are bad input."""
    found = []
    if alert.pagerduty is not None:
        found.append(notifier.secret(alert.pagerduty.routing_key_env, f"suite {suite} alert"))
    if alert.slack is not None:
        found.append(notifier.secret(alert.slack.webhook_env, f"suite {suite} alert"))
    return found


def deliver(run: SuiteRun, previous: AlertState, notifier: Notifier) -> AlertState:
    """Page, update or resolve; returns the alert's new state. Deliveries go to ``run``."""
    alert = run.loaded.suite.alert
    key = run.target.key
    if not run.ok:
        if alert.pagerduty is not None:
            routing = notifier.secret(alert.pagerduty.routing_key_env, run.name)
            event = pagerduty_event(run, alert.pagerduty.source)
            run.deliveries.append(notifier.trigger(routing, key, event))
        if alert.slack is not None and not previous.open:
            webhook = notifier.secret(alert.slack.webhook_env, run.name)
            run.deliveries.append(notifier.slack(webhook, *slack_failing(run)))
        return AlertState(True, key, previous.since if previous.open else run.started)
    if not previous.open:
        return previous
    resolved: list[Delivery] = []
    if alert.pagerduty is not None:
        routing = notifier.secret(alert.pagerduty.routing_key_env, run.name)
        resolved.append(notifier.resolve(routing, previous.dedup_key or key))
    if alert.slack is not None:
        webhook = notifier.secret(alert.slack.webhook_env, run.name)
        resolved.append(notifier.slack(webhook, *slack_recovered(run, previous)))
    run.deliveries.extend(resolved)
    if all(d.ok for d in resolved):
        return AlertState(False, previous.dedup_key or key, None)
    return previous  # resolve again on the next passing run


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
        line = f"• *{_esc(failure.prompt_id)}* `{_esc(failure.check)}`: {_esc(shown['detail'])}"
        if shown["output"]:
            line += f"\n> {_esc(shown['output'])}"
        lines.append(line)
    if len(failures) > MAX_SLACK_FAILURES:
        lines.append(f"… and {len(failures) - MAX_SLACK_FAILURES} more")
    text = f"Canary failing ({run.severity}): {run.summary()}"
    blocks = [
        _header(f"Canary failing: {run.loaded.suite.title}"),
        _section(f"*{_esc(run.summary())}* ({run.severity})"),
        _section("\n".join(lines)),
        _context(run),
    ]
    return text, blocks


def slack_recovered(run: SuiteRun, previous: AlertState) -> tuple[str, list[dict[str, Any]]]:
    since = f" (failing since {previous.since})" if previous.since else ""
    text = f"Canary recovered: {run.summary()}{since}"
    blocks = [
        _header(f"Canary recovered: {run.loaded.suite.title}"),
        _section(_esc(text)),
        _context(run),
    ]
    return text, blocks


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_SECTION]}}


def _context(run: SuiteRun) -> dict[str, Any]:
    text = f"aiir canary · run {run.run_id} · {_esc(run.target.key)}"
    if run.incident:
        text += f" · incident {run.incident}"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _esc(text: str) -> str:
    """Slack's mrkdwn escaping: hostile text cannot mention @channel or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
