"""A firing rule's page and posts, sent as :mod:`aiir.outbound.alerting` decides: PagerDuty on
every firing evaluation under a dedup key stable per rule (one alert, updated), resolved at the
first passing evaluation; Slack on the transitions only."""

from __future__ import annotations

from typing import Any

from aiir.detect.sources import described
from aiir.detect.verdicts import Verdict
from aiir.formats.detect import DetectRules
from aiir.outbound import alerting
from aiir.outbound.alerting import AlertState, NotifierFor, context, escape, header, section
from aiir.outbound.notify import Delivery, PagerDutyEvent, pagerduty_severity

SOURCE = "aiir detect"
MAX_SLACK_SAMPLES = 10


def dedup_key(rules: DetectRules, verdict: Verdict) -> str:
    return f"aiir-detect/{rules.detect}/{verdict.rule.id}"


def deliver(
    rules: DetectRules, verdict: Verdict, at: str, notifier_for: NotifierFor
) -> list[Delivery]:
    """Page, update or resolve for one rule; its new alert state goes to ``verdict.alert``."""
    firing = verdict.status.value == "firing"
    watched = alerting.Watched(dedup_key(rules, verdict), firing, at, f"rule {verdict.rule.id}")
    state, sent = alerting.deliver(
        watched, _Message(rules, verdict, at), rules.alert, verdict.alert, notifier_for
    )
    verdict.alert = state
    return sent


def summary(rules: DetectRules, verdict: Verdict) -> str:
    value = verdict.value
    shown = "no value" if value is None else f"{value:.4g}"
    runs = f"{verdict.streak} evaluation{'s' if verdict.streak != 1 else ''}"
    return f"{rules.detect}/{verdict.rule.id}: {shown} {verdict.rule.threshold} for {runs}"


def severity(rules: DetectRules, verdict: Verdict) -> str:
    return str(verdict.rule.severity or rules.severity)


class _Message:
    def __init__(self, rules: DetectRules, verdict: Verdict, at: str) -> None:
        self.rules, self.verdict, self.at = rules, verdict, at

    def pagerduty_event(self, source: str) -> PagerDutyEvent:
        verdict = self.verdict
        details: dict[str, Any] = {
            "rules": self.rules.detect,
            "rule": verdict.as_dict(),
            "what": described(verdict.rule),
        }
        return PagerDutyEvent(
            summary=f"[aiir detect] {summary(self.rules, verdict)}",
            source=source,
            severity=pagerduty_severity(severity(self.rules, verdict)),
            timestamp=self.at,
            component=self.rules.model,
            group=self.rules.detect,
            class_="detection",
            custom_details=details,
        )

    def slack_failing(self) -> tuple[str, list[dict[str, Any]]]:
        verdict = self.verdict
        lines = [
            f"• `{escape(s.name)}` {s.value:.4g}" for s in verdict.offending[:MAX_SLACK_SAMPLES]
        ]
        if len(verdict.offending) > MAX_SLACK_SAMPLES:
            lines.append(f"… and {len(verdict.offending) - MAX_SLACK_SAMPLES} more")
        text = f"Detection firing ({severity(self.rules, verdict)}): {summary(self.rules, verdict)}"
        blocks = [
            header(f"Detection firing: {self.rules.title or self.rules.detect}"),
            section(f"*{escape(summary(self.rules, verdict))}*"),
        ]
        if verdict.measured.note:
            blocks.append(section(escape(verdict.measured.note)))
        if lines:
            blocks.append(section("\n".join(lines)))
        blocks.append(self._context())
        return text, blocks

    def slack_recovered(self, previous: AlertState) -> tuple[str, list[dict[str, Any]]]:
        since = f" (firing since {previous.since})" if previous.since else ""
        text = f"Detection recovered: {self.rules.detect}/{self.verdict.rule.id}{since}"
        blocks = [
            header(f"Detection recovered: {self.rules.title or self.rules.detect}"),
            section(escape(text)),
            self._context(),
        ]
        return text, blocks

    def _context(self) -> dict[str, Any]:
        text = f"aiir detect · {escape(self.rules.detect)} · {self.at}"
        if self.verdict.incident:
            text += f" · incident {self.verdict.incident}"
        return context(text)
