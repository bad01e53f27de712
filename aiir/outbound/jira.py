"""Jira Cloud and Jira Service Management: tickets made from a message (formats: docs/domain.md).

A Jira issue's description is an Atlassian Document Format (ADF) document: JSON nodes, never
markup, so a hostile value inserted into the message stays text: it cannot add a link, a mention
or a mark, whatever it holds. aiir builds only ``paragraph``, ``text`` and ``hardBreak`` nodes
for the message (a blank line starts a paragraph, a line end is a hard break) and closes with a
paragraph naming the incident and the journal's anchor, those two in ``code`` marks. A Jira
summary holds at most 255 characters; a longer one is cut with a mark. A description past
:data:`MAX_DESCRIPTION` characters ends in a paragraph saying how much more is in the journal.

A Jira Service Management request (``/rest/servicedeskapi/request``) takes its description as
plain text (ADF there is experimental): it gets the message and the same closing line.
"""

from __future__ import annotations

from typing import Any

from aiir.formats.organisation import AtlassianAccount, JiraChannel, JsmChannel
from aiir.formats.printable import plain
from aiir.incident.state import Incident
from aiir.outbound.notify import Account, Delivery, Notifier

MAX_SUMMARY = 255
# Jira refuses a rich-text field over 32,767 characters; aiir keeps the text well inside it.
MAX_DESCRIPTION = 30_000
ISSUE_PATH = "/rest/api/3/issue"
LINK_PATH = "/rest/api/3/issueLink"
REQUEST_PATH = "/rest/servicedeskapi/request"
LABEL = "aiir"


def account(notifier: Notifier, channel: AtlassianAccount, what: str) -> Account:
    """The site and its Basic auth credentials, read from the channel's variables."""
    email = notifier.secret(channel.email_env, f"{what} channel (email)")
    token = notifier.secret(channel.token_env, f"{what} channel (API token)")
    return Account(channel.base_url.rstrip("/"), email, token)


def file_incident(
    notifier: Notifier,
    channel: JiraChannel,
    text: str,
    incident: Incident,
    anchor: str | None,
) -> Delivery:
    """The incident's ticket from a notify node's message; ``reference`` is its key."""
    document = adf_document(text, closing_line(incident, anchor))
    fields = issue_fields(
        channel, incident_title(incident), document, [incident_label(incident.id)]
    )
    return notifier.jira_issue(account(notifier, channel, "jira"), fields)


def raise_request(
    notifier: Notifier,
    channel: JsmChannel,
    text: str,
    incident: Incident,
    anchor: str | None,
) -> Delivery:
    """A Jira Service Management request from a notify node's message."""
    description = plain_description(text, closing_line(incident, anchor))
    return notifier.jsm_request(
        account(notifier, channel, "jsm"),
        channel.service_desk_id,
        channel.request_type_id,
        summary(incident_title(incident)),
        description,
    )


def summary(text: str) -> str:
    """One line of at most 255 characters, the cut marked with an ellipsis."""
    line = " ".join(text.split()) or "aiir incident"
    return line if len(line) <= MAX_SUMMARY else line[: MAX_SUMMARY - 1] + "…"


def incident_label(incident_id: str) -> str:
    """The label every ticket of an incident carries (a label holds no spaces)."""
    return f"aiir-{'-'.join(incident_id.split())}"[:MAX_SUMMARY]


def closing_line(incident: Incident, anchor: str | None) -> list[tuple[str, bool]]:
    """The incident's line as (text, is_code) runs: its id, runbook and the journal's anchor."""
    runs: list[tuple[str, bool]] = [("Incident ", False), (incident.id, True)]
    runs += [(" · runbook ", False), (incident.runbook, True)]
    if anchor:
        runs += [(" · journal anchor ", False), (anchor, True)]
    if incident.exercise or incident.drill:
        runs.append((f" · EXERCISE ({incident.exercise or 'drill'})", False))
    return runs


def adf_document(text: str, closing: list[tuple[str, bool]]) -> dict[str, Any]:
    """The ADF ``doc``: the message's paragraphs, then the closing paragraph."""
    paragraphs, left = _paragraphs(text.strip(), MAX_DESCRIPTION)
    content = [_paragraph(p) for p in paragraphs] or [_paragraph("(no text)")]
    if left:
        more = f"… {left:,} more characters of this message are in the incident's journal."
        content.append(_paragraph(more))
    content.append({"type": "paragraph", "content": [_text(t, code) for t, code in closing if t]})
    return {"type": "doc", "version": 1, "content": content}


def plain_description(text: str, closing: list[tuple[str, bool]]) -> str:
    """A JSM request's description: the message (cut as ADF's is) and the closing line."""
    paragraphs, left = _paragraphs(text.strip(), MAX_DESCRIPTION)
    body = "\n\n".join(paragraphs) or "(no text)"
    if left:
        body += f"\n\n… {left:,} more characters of this message are in the incident's journal."
    return body + "\n\n" + "".join(t for t, _ in closing)


def issue_fields(
    channel: JiraChannel, title: str, description: dict[str, Any], labels: list[str]
) -> dict[str, Any]:
    """The ``fields`` of ``POST /rest/api/3/issue``."""
    return {
        "project": {"key": channel.project},
        "summary": summary(title),
        "issuetype": {"name": channel.issue_type},
        "description": description,
        "labels": list(dict.fromkeys([LABEL, *channel.labels, *labels])),
    }


def incident_title(incident: Incident) -> str:
    return plain(f"[{incident.severity}] {incident.title}")  # a runbook's title is anyone's text


def _paragraphs(text: str, limit: int) -> tuple[list[str], int]:
    """The text's paragraphs (split at blank lines) within ``limit`` characters in all, and how
    many characters did not fit."""
    kept: list[str] = []
    room = limit
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    for number, part in enumerate(parts):
        if len(part) > room:
            if room > 0:
                kept.append(part[:room])
            return kept, len(part) - max(room, 0) + sum(len(p) for p in parts[number + 1 :])
        kept.append(part)
        room -= len(part)
    return kept, 0


def _paragraph(text: str) -> dict[str, Any]:
    """One paragraph: its lines as text nodes joined by hard breaks (an empty text node is
    invalid ADF, so blank lines leave none)."""
    content: list[dict[str, Any]] = []
    for line in (line.rstrip() for line in text.split("\n")):
        if not line:
            continue
        if content:
            content.append({"type": "hardBreak"})
        content.append(_text(line))
    return {"type": "paragraph", "content": content}


def _text(text: str, code: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if code:
        node["marks"] = [{"type": "code"}]
    return node
