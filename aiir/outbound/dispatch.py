"""Sending a notify node's message through the workspace's channels (formats: docs/domain.md, Message formats).

PagerDuty uses one dedup key per incident, so every page of an incident updates one alert and a
``resolve`` closes it. A Statuspage incident is created once and updated afterwards. A node with
``to: ROLE`` pages that role's on-call through the roster's routing key instead of the channel's.
A public Statuspage incident is named after the approved text, not the (internal) runbook title.

Every message to a team's own systems (Slack, Teams, Jira, PagerDuty, a webhook) carries the journal's anchor
at the moment it was sent (``SEQ:HASH``, short form), so a copy of the chain's head lives outside
the journal: ``aiir verify ID --anchor`` with it shows whether lines were changed or removed since.
A public status page does not: its readers are customers, and the anchor is for the team.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiir.errors import InputError
from aiir.formats.printable import plain
from aiir.formats.schema import NotifyNode
from aiir.formats.templating import slack_escape
from aiir.formats.workspace import Loaded
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.state import Incident
from aiir.outbound.jira import file_incident, raise_request
from aiir.outbound.notify import (
    IDEMPOTENCY_KEY,
    MAX_PAGE_MESSAGE,
    Delivery,
    Link,
    Notifier,
    PagerDutyEvent,
    pagerduty_severity,
    within,
)
from aiir.outbound.pieces import split
from aiir.outbound.teams import teams_message

STATUSPAGE_IMPACT: dict[str, Any] = {"SEV1": "critical", "SEV2": "major", "SEV3": "minor"}
STATUSPAGE_VAR = "statuspage_incident_id"
MAX_NAME = 120
SLACK_SECTION = 3000  # Slack refuses a section's text over 3,000 characters
SLACK_HEADER = 150
SLACK_BLOCKS = 50  # blocks in one message
# An incident that ends so leaves its pages open: someone is still on it.
KEEPS_PAGES_OPEN = frozenset({"failed", "aborted", "escalated", "not-contained"})


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


def repeatable(node: NotifyNode, saved: Mapping[str, Any]) -> bool:
    """Whether sending the node's message again after a try that may have been delivered acts
    once: a PagerDuty event (its dedup key), a webhook (the same Idempotency-Key), a Statuspage
    update (a PATCH). A Slack or Teams post, a ticket, a new status page incident would be two."""
    if node.channel == "statuspage":
        return bool(saved.get(STATUSPAGE_VAR))
    return node.channel in {"pagerduty", "webhook"}


def opened_before(node: NotifyNode, incident: Incident) -> str | None:
    """Why the node's Statuspage create may open a second public incident: an earlier create of
    this incident got no answer (it may have opened one, whose id aiir never learnt); None when
    nothing says so. Only a create: an update names its incident."""
    if node.channel != "statuspage" or incident.vars.get(STATUSPAGE_VAR):
        return None
    sent = (n for n in incident.notifications if n.get("channel") == "statuspage")
    if not any("delivery" in n for n in sent):  # the first: no journal to read again
        return None
    for event in incident.history():
        data = event.data
        request = data.get("request") or {}
        if (
            event.type == EventType.NOTIFY_SENT
            and data.get("channel") == "statuspage"
            and data.get("uncertain")
            and isinstance(request, dict)
            and request.get("method", "POST") == "POST"
        ):
            return "a status page incident may be open already (an earlier create got no answer)"
    return None


def markup(channel: str) -> str | None:
    """The markup a channel parses (values inserted into its messages are escaped for it)."""
    return channel if channel in {"slack", "teams"} else None


def deliver(
    node: NotifyNode,
    text: str,
    incident: Incident,
    workspace: Loaded,
    notifier: Notifier,
    saved: Mapping[str, Any],
    *,
    runbook_url: str | None = None,
    anchor: str | None = None,
    idempotency_key: str | None = None,
) -> Delivery:
    """Send ``text`` through the node's channel; the caller journals the delivery.

    For a channel with a :func:`markup`, ``text`` is its wire form (inserted values escaped).
    ``anchor`` is the journal's head as sent with the message (see the module's docstring).
    ``idempotency_key``: a webhook's ``Idempotency-Key``, the same when a message is sent again.
    """
    channels = workspace.config.channels
    if node.channel == "pagerduty":
        links = runbook_links(incident, workspace, runbook_url)
        return _pagerduty(node, text, incident, workspace, notifier, links, anchor)
    if node.channel == "slack":
        assert channels.slack is not None
        url = notifier.secret(channels.slack.webhook_env, "slack channel")
        blocks = slack_blocks(text, incident, anchor)
        return notifier.slack(url, slack_fallback(text), blocks)
    if node.channel == "teams":
        assert channels.teams is not None
        url = notifier.secret(channels.teams.webhook_env, "teams channel")
        return notifier.teams(url, teams_message(text, incident, anchor))
    if node.channel == "jira":
        assert channels.jira is not None
        return file_incident(notifier, channels.jira, text, incident, anchor)
    if node.channel == "jsm":
        assert channels.jsm is not None
        return raise_request(notifier, channels.jsm, text, incident, anchor)
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
            **({"journal_anchor": anchor} if anchor else {}),
        }
        same = {IDEMPOTENCY_KEY: idempotency_key} if idempotency_key else None
        return notifier.webhook(url, body, same)
    raise InputError(f"channel {node.channel!r} cannot send")  # pragma: no cover - route() said no


def runbook_links(incident: Incident, workspace: Loaded, url: str | None) -> list[Link]:
    """A page's link to its runbook: the runbook's own ``url``, else the workspace's
    ``runbook_url`` with ``{id}`` made the runbook's id; none when neither is given."""
    pattern = workspace.config.runbook_url
    href = url or (pattern.replace("{id}", incident.runbook) if pattern else None)
    return [Link(href, f"Runbook: {incident.runbook}")] if href else []


def _pagerduty(
    node: NotifyNode,
    text: str,
    incident: Incident,
    workspace: Loaded,
    notifier: Notifier,
    links: list[Link],
    anchor: str | None = None,
) -> Delivery:
    routing_env = _routing_env(node.to, workspace)
    key = notifier.secret(routing_env, f"pagerduty ({node.to or 'channel'})")
    dedup = dedup_key(incident, node.to)
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
        severity=pagerduty_severity(incident.severity),
        timestamp=incident.started_at,
        component=incident.runbook,
        group=incident.category or "ai-incident",
        class_="ai-incident",
        custom_details={
            "incident": incident.id,
            "severity": incident.severity,
            "message": within(text, MAX_PAGE_MESSAGE),
            "drill": incident.drill,
            **({"journal_anchor": anchor} if anchor else {}),
        },
    )
    return notifier.trigger(key, dedup, event, links)


def dedup_key(incident: Incident, role: str | None) -> str:
    """One alert per incident (and per role paged on its own routing key)."""
    return f"aiir-{incident.id}" + (f"-{role}" if role else "")


def _routing_env(role_name: str | None, workspace: Loaded) -> str:
    if role_name is not None:
        team = workspace.team
        role = team.roles.get(role_name) if team else None
        if role is None:
            raise InputError(f"notify to {role_name!r}: no such role in the team roster")
        if role.pagerduty_routing_key_env:
            return role.pagerduty_routing_key_env
        person = team.people.get(role.on_call or "") if team else None
        if person is not None and person.pagerduty_routing_key_env:
            return person.pagerduty_routing_key_env
        raise InputError(f"notify to {role_name!r}: the roster has no PagerDuty routing key for it")
    channel = workspace.config.channels.pagerduty
    if channel is None:
        raise InputError("pagerduty: no pagerduty channel in aiir.yaml")
    return channel.routing_key_env


# --- resolving the pages of an incident that ended ---------------------------------------------


def open_pages(incident: Incident, simulated: bool = False) -> dict[str, str | None]:
    """Dedup key -> role of every alert the incident triggered that PagerDuty took, or may have
    (no answer: a resolve of a key it never opened does nothing), and no later ``resolve``
    closed, from the journal (so a resumed walk resolves only what is left). Only practice
    pages (kept in an exercise's inbox) with ``simulated``, only real ones without."""
    pages: dict[str, str | None] = {}
    for event in incident.history():
        data = event.data
        if (
            event.type != EventType.NOTIFY_SENT
            or data.get("channel") != "pagerduty"
            or not (data.get("ok") or data.get("uncertain"))
        ):
            continue
        if bool(data.get("simulated")) != simulated:
            continue
        sent = data.get("request", {}).get("json", {})
        action = sent.get("event_action") if isinstance(sent, dict) else None
        key = str(data.get("reference") or "")
        if action == "trigger" and key:
            pages[key] = data.get("to")
        elif action == "resolve" and data.get("ok"):  # one with no answer may not have closed it
            pages.pop(key, None)
    return pages


def resolutions(
    outcome: str,
    incident: Incident,
    workspace: Loaded,
    notifier: Callable[[], Notifier],
    *,
    simulated: bool = False,
) -> Iterator[tuple[Delivery, payloads.NotifySent]]:
    """When a walk ends (not failed, aborted, escalated or not contained), resolve every alert it
    opened and nothing resolved since. Each delivery comes with its ``notify.sent`` record; the
    caller journals it. ``notifier`` is asked for only when a page is open: in an exercise
    (``simulated``) it is the inbox, so a practice page is resolved where it was sent."""
    if outcome in KEEPS_PAGES_OPEN:
        return
    pages = open_pages(incident, simulated)
    if not pages:
        return
    sender = notifier()
    for dedup, role in pages.items():
        try:
            key = sender.secret(_routing_env(role, workspace), f"pagerduty ({dedup})")
            delivery = sender.resolve(key, dedup)
        except InputError as exc:  # the key went away since the page: say so, go on
            delivery = Delivery("pagerduty", False, None, 0, "", {}, reason=f"not sent: {exc}")
        delivery = dataclasses.replace(delivery, reference=delivery.reference or dedup)
        data = delivery.sent_data({"body": delivery.reply})
        data["runbook"] = incident.runbook  # no node: the end of the walk sends it
        data["cause"], data["to"] = f"incident ended {outcome}", role
        yield delivery, data


def _first_line(text: str) -> str:
    """A page's summary; PagerDuty's 1,024-character cut is marked where it is made."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "aiir incident")


def headline(text: str) -> str:
    """A public incident's name: the first sentence of the approved text, never the runbook's
    title, which names the attack ("Direct prompt injection…") and was not approved."""
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0] or "Service issue"
    return sentence if len(sentence) <= MAX_NAME else sentence[: MAX_NAME - 1] + "…"


# --- Slack -----------------------------------------------------------------------------------


def slack_blocks(text: str, incident: Incident, anchor: str | None = None) -> list[dict[str, Any]]:
    """Block Kit: a header, the message over as many sections as it needs (each within Slack's
    limit, split at line ends or spaces), and the incident's context line (with the journal's
    anchor when given). A message too long for one Slack message ends in a section that says so:
    nothing is cut silently."""
    header = _marked_cut(plain(f"[{incident.severity}] {incident.title}"), SLACK_HEADER)
    sections = split_text(text, SLACK_SECTION) or ["(no text)"]
    room = SLACK_BLOCKS - 2  # the header and the context line
    if len(sections) > room:
        left = sum(len(s) for s in sections[room - 1 :])
        sections = [
            *sections[: room - 1],
            f"_… {left:,} more characters of this message are in the incident's journal._",
        ]
    context = f"`{slack_escape(incident.id)}` · runbook `{slack_escape(incident.runbook)}`"
    if anchor:
        context += f" · journal anchor `{slack_escape(anchor)}`"
    return [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        *({"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections),
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": context + (" · DRILL" if incident.drill else "")}
            ],
        },
    ]


def slack_fallback(text: str) -> str:
    """The notification text: the message, or its first section-sized part with a mark."""
    parts = split_text(text, SLACK_SECTION - 2)
    if not parts:
        return "aiir incident"
    return parts[0] if len(parts) == 1 else parts[0] + " …"


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at the last line end, else the
    last space, else (one long word) at the limit but never inside an ``&amp;``-style entity.
    The line end or space cut at is the only character dropped; blank pieces are skipped."""
    return split(text, limit, _cut_at)


def _cut_at(text: str, limit: int) -> int:
    for separator in ("\n", " "):
        at = text.rfind(separator, limit // 2, limit + 1)
        if at > 0:
            return at
    amp = text.rfind("&", max(limit - 8, 0), limit)
    if amp > 0 and ";" not in text[amp:limit]:
        return amp  # an entity would straddle the cut: cut before it
    return limit


def _marked_cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
