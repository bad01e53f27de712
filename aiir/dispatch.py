"""Sending a notify node's message through the workspace's channels (DOMAIN.md §6 formats).

PagerDuty uses one dedup key per incident, so every page of an incident updates one alert and a
``resolve`` closes it. A Statuspage incident is created once and updated afterwards. A node with
``to: ROLE`` pages that role's on-call through the roster's routing key instead of the channel's.
A public Statuspage incident is named after the approved text, not the (internal) runbook title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiir.errors import InputError
from aiir.incident import Incident
from aiir.notify import Delivery, Notifier, PagerDutyEvent
from aiir.schema import NotifyNode
from aiir.workspace import Loaded

PD_SEVERITY: dict[str, Any] = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning"}
STATUSPAGE_IMPACT: dict[str, Any] = {"SEV1": "critical", "SEV2": "major", "SEV3": "minor"}
STATUSPAGE_VAR = "statuspage_incident_id"
MAX_NAME = 120


@dataclass(frozen=True)
class Route:
    """Where a message goes, or why it goes nowhere."""

    channel: str
    ready: bool
    reason: str = ""


def route(node: NotifyNode, workspace: Loaded | None) -> Route:
    """Whether the workspace can send this node's message at all."""
    if node.channel in {"record", "email"}:
        return Route(node.channel, False, f"{node.channel}: recorded, not sent")
    if node.to is not None and node.channel == "pagerduty":
        if workspace is None or workspace.team is None:
            return Route(node.channel, False, "not sent: no aiir.yaml with a team roster")
        return Route(node.channel, True)
    channels = workspace.config.channels if workspace else None
    configured = getattr(channels, node.channel, None) if channels else None
    if configured is None:
        return Route(node.channel, False, f"not sent: no {node.channel} channel in aiir.yaml")
    return Route(node.channel, True)


def external(node: NotifyNode) -> bool:
    """Messages that leave the company need the incident commander's approval."""
    return node.audience in {"external", "regulator"} or node.channel == "statuspage"


def deliver(
    node: NotifyNode,
    text: str,
    incident: Incident,
    workspace: Loaded,
    notifier: Notifier,
    saved: Mapping[str, Any],
) -> Delivery:
    """Send ``text`` through the node's channel; the caller journals the delivery."""
    channels = workspace.config.channels
    if node.channel == "pagerduty":
        return _pagerduty(node, text, incident, workspace, notifier)
    if node.channel == "slack":
        assert channels.slack is not None
        url = notifier.secret(channels.slack.webhook_env, "slack channel")
        return notifier.slack(url, _first_line(text), slack_blocks(text, incident))
    if node.channel == "statuspage":
        assert channels.statuspage is not None
        page = channels.statuspage
        key = notifier.secret(page.api_key_env, "statuspage channel")
        existing = saved.get(STATUSPAGE_VAR)
        impact = STATUSPAGE_IMPACT.get(incident.severity, "none")
        if existing:
            return notifier.statuspage_update(
                key, page.page_id, str(existing), status=node.status, body=text
            )
        return notifier.statuspage_create(
            key,
            page.page_id,
            headline(text),
            node.status,
            text,
            impact=impact,
            component_ids=page.component_ids,
        )
    if node.channel == "webhook":
        assert channels.webhook is not None
        url = notifier.secret(channels.webhook.url_env, "webhook channel")
        body = {
            "incident": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "audience": node.audience,
            "text": text,
        }
        return notifier.webhook(url, body)
    raise InputError(f"channel {node.channel!r} cannot send")  # pragma: no cover - route() said no


def _pagerduty(
    node: NotifyNode, text: str, incident: Incident, workspace: Loaded, notifier: Notifier
) -> Delivery:
    routing_env = _routing_env(node, workspace)
    key = notifier.secret(routing_env, f"pagerduty ({node.to or 'channel'})")
    dedup = f"aiir-{incident.id}" + (f"-{node.to}" if node.to else "")
    if node.event == "acknowledge":
        return notifier.acknowledge(key, dedup)
    if node.event == "resolve":
        return notifier.resolve(key, dedup)
    source = (
        workspace.config.channels.pagerduty.source
        if workspace.config.channels.pagerduty
        else "aiir"
    )
    event = PagerDutyEvent(
        summary=_first_line(text),
        source=source,
        severity=PD_SEVERITY.get(incident.severity, "info"),
        timestamp=incident.started_at,
        component=incident.runbook,
        group=incident.category or "ai-incident",
        class_="ai-incident",
        custom_details={
            "incident": incident.id,
            "severity": incident.severity,
            "message": text,
            "drill": incident.drill,
        },
    )
    return notifier.trigger(key, dedup, event)


def _routing_env(node: NotifyNode, workspace: Loaded) -> str:
    if node.to is not None:
        team = workspace.team
        role = team.roles.get(node.to) if team else None
        if role is None:
            raise InputError(f"notify to {node.to!r}: no such role in the team roster")
        if role.pagerduty_routing_key_env:
            return role.pagerduty_routing_key_env
        person = team.people.get(role.on_call or "") if team else None
        if person is not None and person.pagerduty_routing_key_env:
            return person.pagerduty_routing_key_env
        raise InputError(f"notify to {node.to!r}: the roster has no PagerDuty routing key for it")
    channel = workspace.config.channels.pagerduty
    assert channel is not None
    return channel.routing_key_env


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "aiir incident")[
        :1024
    ]


def headline(text: str) -> str:
    """A public incident's name: the first sentence of the approved text, never the runbook's
    title, which names the attack ("Direct prompt injection…") and was not approved."""
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0] or "Service issue"
    return sentence if len(sentence) <= MAX_NAME else sentence[: MAX_NAME - 1] + "…"


def slack_blocks(text: str, incident: Incident) -> list[dict[str, Any]]:
    """Block Kit: a header, the message, and the incident's context line."""
    return [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"[{incident.severity}] {incident.title}"[:150]},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"`{incident.id}` · runbook `{incident.runbook}`"
                    + (" · DRILL" if incident.drill else ""),
                }
            ],
        },
    ]
