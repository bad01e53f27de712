"""Follow-up tickets: a post-mortem's action items filed in Jira (``aiir report ID --file-actions``).

Each written action item becomes one Jira issue in the workspace's ``jira`` project, labelled
with the incident (``aiir-ID``) and linked to the incident's own ticket when a notify node filed
one. Every attempt is journalled as a ``ticket.filed`` event with the item's key and, when Jira
took it, the ticket's key: an item filed once is never filed again, so running the command twice
files nothing twice. A practice incident (sandbox, drill, tabletop) files into the exercise's
inbox, never into Jira. The incident is locked while its tickets are filed, as while it is walked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiir.environment import Environment
from aiir.errors import InputError
from aiir.formats.organisation import JiraChannel
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.journal import Journal, short_anchor
from aiir.incident.state import Incident, load_incident
from aiir.outbound import jira
from aiir.outbound.notify import Delivery, Notifier
from aiir.reports.actions import TO_WRITE, ActionItem
from aiir.respond.shared import taken_up

FOLLOW_UP_LABEL = "aiir-follow-up"


@dataclass(frozen=True)
class Filing:
    """What became of one action item."""

    item: ActionItem
    outcome: str  # filed, already filed, not filed, skipped
    reference: str | None = None
    reason: str = ""

    def line(self, simulated: str | None) -> str:
        what = self.item.action
        if self.outcome == "filed":
            where = f" (kept in the {simulated} inbox, not in Jira)" if simulated else ""
            note = f" ({self.reason})" if self.reason else ""
            return f"filed {self.reference}{where}{note}: {what}"
        if self.outcome == "already filed":
            return f"already filed {self.reference}: {what}"
        if not self.item.written:
            return f"skipped: the {self.item.kind or 'untyped'} item is not written yet (✍)"
        return f"{self.outcome}: {self.reason}: {what}"


def jira_channel(env: Environment) -> JiraChannel:
    channel = env.workspace.config.channels.jira if env.workspace else None
    if channel is None:
        raise InputError("--file-actions: no jira channel in aiir.yaml (channels.jira)")
    return channel


def file_actions(
    env: Environment, incident_id: str, items: list[ActionItem]
) -> tuple[Incident, list[Filing]]:
    """File every written, untracked, not yet filed item; journal each attempt."""
    channel = jira_channel(env)
    with _locked(env, incident_id) as journal:
        incident = load_incident(env.incidents_dir, incident_id)
        notifier = _notifier(env, incident)
        filed, unfinished = _filed(incident), _unfinished(incident)
        parent = incident_ticket(incident)
        filings = []
        seen: set[str] = set()
        for item in items:
            if not item.written:
                filings.append(Filing(item, "skipped", reason="not written yet"))
            elif item.key in seen:
                filings.append(Filing(item, "skipped", reason="listed twice"))
            elif item.key in filed:
                filings.append(Filing(item, "already filed", filed[item.key]))
            elif item.tracked:
                filings.append(Filing(item, "skipped", reason=f"has a ticket ({item.ticket})"))
            elif item.key in unfinished:  # stopped while filing it: never filed again unseen
                filings.append(_stopped(journal, incident, item))
            else:
                filings.append(_file(notifier, channel, journal, incident, item, parent))
            seen.add(item.key)
    return incident, filings


def incident_ticket(incident: Incident) -> str | None:
    """The key of the ticket a notify node filed for the incident (Jira or JSM), if any, of the
    same kind as the incident (a practice ticket for a practice incident)."""
    key = None
    for event in incident.history():
        data = event.data
        if (
            event.type == EventType.NOTIFY_SENT
            and data.get("channel") in {"jira", "jsm"}
            and data.get("ok")
            and data.get("reference")
            and bool(data.get("simulated")) == bool(incident.exercise)
        ):
            key = str(data["reference"])
    return key


def _filed(incident: Incident) -> dict[str, str]:
    """Item key -> ticket key of every item a ``ticket.filed`` event says Jira took."""
    return {
        str(e.data["action"]): str(e.data.get("reference") or "")
        for e in incident.history()
        if e.type == EventType.TICKET_FILED and e.data.get("ok")
    }


def _unfinished(incident: Incident) -> set[str]:
    """Item keys whose last word is a ``ticket.intent``: the command stopped (a kill, a crash)
    between the request and its outcome, and Jira may hold the issue."""
    last: dict[str, str] = {}
    for event in incident.history():
        if event.type in {EventType.TICKET_INTENT, EventType.TICKET_FILED}:
            last[str(event.data.get("action"))] = event.type
    return {key for key, type_ in last.items() if type_ == EventType.TICKET_INTENT}


def _stopped(journal: Journal, incident: Incident, item: ActionItem) -> Filing:
    """Journalled as may have been filed; the next run files it, once someone has looked."""
    label = jira.incident_label(incident.id)
    reason = (
        "aiir stopped while filing it, and Jira may have made it: look for label "
        f"{label} before filing again (the next run files it)"
    )
    filed = payloads.TicketFiled(
        action=item.key, item=item.action, channel="jira", ok=False, reason=reason
    )
    filed["uncertain"] = True
    if incident.exercise:
        filed["simulated"] = incident.exercise
    journal.append(EventType.TICKET_FILED, filed)
    return Filing(item, "not filed", reason=reason)


def _file(
    notifier: Notifier,
    channel: JiraChannel,
    journal: Journal,
    incident: Incident,
    item: ActionItem,
    parent: str | None,
) -> Filing:
    anchor = short_anchor(journal.anchor())
    try:
        account = jira.account(notifier, channel, "jira")
        intent = payloads.TicketIntent(action=item.key, item=item.action, channel="jira")
        if incident.exercise:
            intent["simulated"] = incident.exercise
        journal.append(EventType.TICKET_INTENT, intent)
        created = notifier.jira_issue(account, _fields(channel, incident, item, anchor))
        link = None
        if created.ok and created.reference and parent:
            link = notifier.jira_link(account, channel.link_type, created.reference, parent)
    except InputError as exc:  # an unset or unusable credential: nothing went out
        created, link = Delivery("jira", False, None, 0, "", {}, reason=str(exc)), None
    filed = payloads.TicketFiled(
        action=item.key,
        item=item.action,
        kind=item.kind,
        owner=item.owner,
        channel=created.channel,  # the delivery, as _record keeps it
        ok=created.ok,
        status=created.status,
        attempts=created.attempts,
        reason=created.reason,
        reference=created.reference,
        reply={"body": created.reply},
        request=created.request,
        anchor=anchor,
        linked_to=parent if link is not None and link.ok else None,
    )
    if created.uncertain:
        filed["uncertain"] = True
    if link is not None:
        filed["link"] = _record(link)
    if incident.exercise:
        filed["simulated"] = incident.exercise
    journal.append(EventType.TICKET_FILED, filed)
    if not created.ok:
        return Filing(item, "not filed", reason=_status(created, incident))
    if link is not None and not link.ok:
        return Filing(item, "filed", created.reference, f"not linked to {parent}: {link.reason}")
    return Filing(item, "filed", created.reference)


def _fields(
    channel: JiraChannel, incident: Incident, item: ActionItem, anchor: str
) -> dict[str, Any]:
    lines = [f"Action item from the post-mortem of {incident.id}: {item.action}"]
    if item.kind:
        lines.append(f"Type: {item.kind}")
    if item.owner and TO_WRITE not in item.owner:
        lines.append(f"Owner: {item.owner}")
    document = jira.adf_document("\n".join(lines), jira.closing_line(incident, anchor))
    labels = [jira.incident_label(incident.id), FOLLOW_UP_LABEL]
    return jira.issue_fields(channel, item.action, document, labels)


def _record(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the journal keeps it: the receiver's answer under ``reply.body``."""
    return {**delivery.as_dict(), "reply": {"body": delivery.reply}}


def _status(delivery: Delivery, incident: Incident) -> str:
    """``401 …`` for a refusal, the transport's words for no answer. After a 5xx or no answer
    to a request that went out Jira may have made the issue all the same: the line says where
    to look (not after a refused connection: nothing reached Jira)."""
    reason = delivery.reason.removeprefix("HTTP ")
    if delivery.attempts and (delivery.uncertain or (delivery.status or 0) >= 500):
        label = jira.incident_label(incident.id)
        reason += f" (Jira may have made it anyway: look for label {label} before filing again)"
    return reason


def _notifier(env: Environment, incident: Incident) -> Notifier:
    """Jira itself, or for a practice incident the exercise's inbox (no credential is read)."""
    if incident.exercise:
        return env.inbox.notifier("jira", env.clock.sleep)
    return Notifier(env.http, env.clock.sleep, env.environ)


@contextlib.contextmanager
def _locked(env: Environment, incident_id: str) -> Iterator[Journal]:
    """The incident's journal, checked and locked (as a walk holds it) until the block ends."""
    journal = taken_up(env, incident_id, lambda t: t, "changed")  # a shared store: its lease
    try:
        journal.load()
        yield journal
    finally:
        journal.close()
