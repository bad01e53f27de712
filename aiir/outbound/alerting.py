"""An alert that follows a watched thing's state: page while it fails, resolve when it recovers.

Shared by the canaries (a failing suite) and detection (a firing rule). PagerDuty is triggered on
every failing evaluation with a dedup key stable per watched thing, so repeated failures update
one alert; the first passing evaluation after that resolves it. Slack hears of the transitions
only (failing, recovered), not of every failing evaluation of a sweep every minute.

What the page and the posts say is the caller's (:class:`Message`); when to send them is here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiir.formats.common import PagerDutyChannel, SlackChannel
from aiir.formats.printable import plain
from aiir.formats.templating import slack_escape
from aiir.outbound.notify import Delivery, Notifier, PagerDutyEvent

SLACK_SECTION = 2900  # Slack refuses a section text over 3000 characters


@dataclass(frozen=True)
class AlertState:
    """The alert a watched thing has open (or had): remembered so recovery can resolve it."""

    open: bool = False
    dedup_key: str = ""
    since: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"open": self.open, "dedup_key": self.dedup_key, "since": self.since}

    @classmethod
    def of(cls, data: object) -> AlertState:
        """Read back from :meth:`as_dict` (anything else: no alert open)."""
        if not isinstance(data, Mapping):
            return cls()
        since = data.get("since")
        return cls(
            bool(data.get("open")),
            str(data.get("dedup_key", "")),
            since if isinstance(since, str) else None,
        )


class Routes(Protocol):
    """Where an alert goes: a suite's or a rule set's ``alert``."""

    @property
    def pagerduty(self) -> PagerDutyChannel | None: ...

    @property
    def slack(self) -> SlackChannel | None: ...


class Message(Protocol):
    """What the page and the posts about one watched thing say."""

    def pagerduty_event(self, source: str) -> PagerDutyEvent: ...

    def slack_failing(self) -> tuple[str, list[dict[str, Any]]]: ...

    def slack_recovered(self, previous: AlertState) -> tuple[str, list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class Watched:
    """One evaluation of a watched thing: its alert key, whether it fails, when it was looked at."""

    key: str
    failing: bool
    at: str
    what: str  # named in the error when a routing key or webhook variable is unset


NotifierFor = Callable[[str], Notifier]  # by channel: "pagerduty", "slack"


def route_secrets(routes: Routes, notifier: Notifier, what: str) -> list[str]:
    """The routing key and webhook URL ``routes`` name; unset variables are bad input."""
    found = []
    if routes.pagerduty is not None:
        found.append(notifier.secret(routes.pagerduty.routing_key_env, f"{what} alert"))
    if routes.slack is not None:
        found.append(notifier.secret(routes.slack.webhook_env, f"{what} alert"))
    return found


def deliver(
    watched: Watched,
    message: Message,
    routes: Routes,
    previous: AlertState,
    notifier_for: NotifierFor,
) -> tuple[AlertState, list[Delivery]]:
    """Page, update or resolve; the alert's new state and what was sent."""
    if watched.failing:
        return _failing(watched, message, routes, previous, notifier_for)
    if not previous.open:
        return previous, []
    resolved: list[Delivery] = []
    if routes.pagerduty is not None:
        notifier = notifier_for("pagerduty")
        routing = notifier.secret(routes.pagerduty.routing_key_env, watched.what)
        resolved.append(notifier.resolve(routing, previous.dedup_key or watched.key))
    if routes.slack is not None:
        notifier = notifier_for("slack")
        webhook = notifier.secret(routes.slack.webhook_env, watched.what)
        resolved.append(notifier.slack(webhook, *message.slack_recovered(previous)))
    if all(d.ok for d in resolved):
        return AlertState(False, previous.dedup_key or watched.key, None), resolved
    return previous, resolved  # resolve again on the next passing evaluation


def _failing(
    watched: Watched,
    message: Message,
    routes: Routes,
    previous: AlertState,
    notifier_for: NotifierFor,
) -> tuple[AlertState, list[Delivery]]:
    sent: list[Delivery] = []
    if routes.pagerduty is not None:
        notifier = notifier_for("pagerduty")
        routing = notifier.secret(routes.pagerduty.routing_key_env, watched.what)
        event = message.pagerduty_event(routes.pagerduty.source)
        sent.append(notifier.trigger(routing, watched.key, event))
    if routes.slack is not None and not previous.open:
        notifier = notifier_for("slack")
        webhook = notifier.secret(routes.slack.webhook_env, watched.what)
        sent.append(notifier.slack(webhook, *message.slack_failing()))
    since = previous.since if previous.open else watched.at
    return AlertState(True, watched.key, since), sent


# --- Slack's blocks ----------------------------------------------------------------------------


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_SECTION]}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def escape(text: str) -> str:
    """Slack's mrkdwn escaping of printable text: hostile text (a canary's model output) cannot
    mention @channel, forge a link, or turn its readers' text around with a bidi override."""
    return slack_escape(plain(text))
