"""Notify nodes: a message rendered, approved when it leaves the organisation, sent (or kept in an exercise's inbox)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from aiir.engine.frames import (
    Frame,
)
from aiir.engine.nodes.registry import handles
from aiir.errors import InputError
from aiir.formats.printable import plain
from aiir.formats.schema import (
    NotifyNode,
    Outcome,
)
from aiir.formats.templating import render
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.journal import Event
from aiir.prompts import MissingAnswer

if TYPE_CHECKING:
    from aiir.engine.walk import Walk


@handles(NotifyNode)
def notify(walk: Walk, frame: Frame, node_id: str, node: NotifyNode) -> str:
    """Render the message (journalled), then send it where the workspace says (journalled).

    In an exercise (sandbox, drill, tabletop) the message goes to the exercise's inbox:
    nothing leaves for a real channel, and the journal says it was simulated."""
    from aiir.outbound import dispatch

    step, recorded = walk.next_step()
    if EventType.NOTIFY_RENDERED in recorded:
        rendered = recorded[EventType.NOTIFY_RENDERED].data
        text = str(rendered.get("wire", rendered.get("text", "")))
    else:
        text = render_message(walk, frame, node_id, node, step)  # the channel's wire form
    target = dispatch.route(node, walk.env.workspace)
    if not target.ready or walk.env.dry_run:
        if not walk.replaying and node.channel != "record":
            walk.screen.note(_not_sent(walk, node, target.reason))
        return node.next
    if dispatch.external(node) and not approve_message(walk, frame, node_id, node):
        return node.next
    if EventType.NOTIFY_SENT in recorded:
        return node.next
    intent = recorded.get(EventType.NOTIFY_INTENT)
    doubt = STOPPED if intent is not None else dispatch.opened_before(node, walk.incident)
    if doubt and not send_anyway(walk, frame, node_id, node, step, doubt):
        return node.next  # it, or what it would make, may be there already
    send_message(walk, frame, node_id, node, text, step, intent)
    return node.next


STOPPED = "aiir stopped while sending this message, which may have been delivered"


def send_anyway(
    walk: Walk, frame: Frame, node_id: str, node: NotifyNode, step: int, doubt: str
) -> bool:
    """A message that may be there already (``doubt`` says why: a stop between its intent and
    its outcome, a status page incident whose create got no answer): sent when sending it again
    acts once (PagerDuty's dedup key, a webhook's Idempotency-Key), else only if the operator
    (or the answers file, ``NODE.resend``) says so. No is the default, journalled as a delivery
    that may have been made. ``--yes`` does not answer it: it could post twice."""
    from aiir.outbound.dispatch import repeatable

    where = f"{node.channel} (sandbox)" if walk.env.exercise else node.channel
    if doubt == STOPPED and repeatable(node, walk.incident.vars):
        walk.screen.note(f"{where}: aiir stopped while sending this message; sent again, as one")
        return True
    question = f"{where}: {doubt}. Send it anyway? y may post it twice, N does not send it"
    key = f"{frame.prefix}{node_id}.resend"
    try:
        again = bool(walk.prompt(key, "confirm", question, [], False))
    except MissingAnswer:
        again = False
    else:
        answer = payloads.Answer(
            runbook=frame.runbook.id, node=node_id, key=f"{node_id}.resend", value=again
        )
        walk.record(EventType.ANSWER, answer, step=step)
    if again:
        return True
    from aiir.outbound.notify import Delivery

    stopped = doubt == STOPPED  # this very message may have been delivered
    reason = (
        "aiir stopped while sending it, and it was not sent again"
        if stopped
        else f"not sent: {doubt} (answer {node_id}.resend: yes to send it all the same)"
    )
    kept = Delivery(node.channel, False, None, 0, "", {}, reason=reason, uncertain=stopped)
    data = kept.sent_data({})
    data["runbook"], data["node"], data["to"] = frame.runbook.id, node_id, node.to
    walk.sent(kept, data, step)
    return False


def _not_sent(walk: Walk, node: NotifyNode, reason: str) -> str:
    """Why a message stays on record. A drill and a tabletop read no workspace: not "no slack
    channel in aiir.yaml" when the team's aiir.yaml has one."""
    exercise = walk.env.exercise
    if exercise and walk.env.workspace is None and node.channel not in {"record", "email"}:
        return f"not sent: a {exercise} reads no aiir.yaml channels; the message is on record"
    return reason or "dry run: not sent"


def approve_message(walk: Walk, frame: Frame, node_id: str, node: NotifyNode) -> bool:
    """External communications wait for the incident commander (or --yes); No is the default."""
    commander = walk.on_call("incident-commander") or "the incident commander"
    preset = "--yes" if walk.env.assume_yes else None
    where = f"{node.channel} (sandbox)" if walk.env.exercise else node.channel
    try:
        approved = bool(
            walk.ask(
                frame,
                node_id,
                "confirm",
                f"{commander}: approve this {node.audience} message? "
                f"y sends it to {where} now, N does not",
                key=f"{node_id}.approve",
                default=bool(preset),
                preset=preset,
            )
        )
    except MissingAnswer:
        raise MissingAnswer(
            f"{frame.prefix}{node_id}: an external message needs the incident commander's "
            f"approval and there is no terminal: pass --yes (or answer `{frame.prefix}{node_id}.approve: yes`)"
        ) from None
    if not approved:
        walk.screen.note("not approved: not sent")
    return approved


def send_message(
    walk: Walk,
    frame: Frame,
    node_id: str,
    node: NotifyNode,
    text: str,
    step: int,
    again: Event | None = None,
) -> None:
    """Journal the intent, send, journal the delivery: a stop between the two is known on resume.
    ``again``: the intent of a message sent once already, sent again as it was (its anchor, its
    webhook's Idempotency-Key), so a receiver that checks a repeated key sees the same body."""
    from aiir.outbound import dispatch
    from aiir.outbound.notify import Delivery

    assert walk.env.workspace is not None
    from aiir.incident.journal import anchor_of, short_anchor

    notifier = walk.notifier(node.channel)  # the lease first: a message refused has no intent
    if again is None:
        intent = payloads.NotifyIntent(runbook=frame.runbook.id, node=node_id, channel=node.channel)
        intent["to"] = node.to
        if node.channel == "webhook":
            intent["idempotency_key"] = str(uuid.uuid4())
        if walk.env.exercise:
            intent["simulated"] = walk.env.exercise
        again = walk.record(EventType.NOTIFY_INTENT, intent, step=step)
        assert again is not None
    key = again.data.get("idempotency_key")
    label = f"{node.channel} (sandbox)" if walk.env.exercise else node.channel
    anchor = short_anchor(anchor_of([again]))  # the intent, the head as the message left
    with walk.screen.waiting(f"sending to {label}"):
        try:
            delivery = dispatch.deliver(
                node,
                text,
                walk.incident,
                walk.env.workspace,
                notifier,
                walk.incident.vars,
                runbook_url=frame.runbook.url,
                anchor=anchor,
                idempotency_key=key,
            )
        except InputError as exc:  # an unset secret or roster entry: never stop containment
            delivery = Delivery(node.channel, False, None, 0, "", {}, reason=f"not sent: {exc}")
    reply: dict[str, Any] = {"body": delivery.reply}  # the receiver's answer, secrets masked
    if node.channel == "statuspage" and delivery.ok and delivery.reference:
        reply["saved"] = {dispatch.STATUSPAGE_VAR: delivery.reference}
    data = delivery.sent_data(reply)
    data["runbook"], data["node"] = frame.runbook.id, node_id
    data["to"], data["anchor"] = node.to, anchor
    walk.sent(delivery, data, step)


def render_message(walk: Walk, frame: Frame, node_id: str, node: NotifyNode, step: int) -> str:
    """Journal and show the message as plain text; return its wire form for the channel
    (the values inserted escaped for the channel's markup, e.g. Slack's)."""
    from aiir.outbound.dispatch import markup

    context = walk.context(frame)

    def draw(markup: str | None) -> str:
        if node.template is not None:
            from aiir.reports.context import report_context
            from aiir.reports.templates import render_named

            override = walk.env.workspace.template_dir() if walk.env.workspace else None
            base = report_context(walk.incident, walk.env.workspace, walk.env.clock.now())
            merged = {
                **base,
                **context,
                "incident": {**base["incident"], **context["incident"]},
                "levers": base["levers"],  # a status update tells of every lever, called ones too
            }
            return render_named(node.template, merged, walk.incident, override, markup=markup)
        source = node.message or ""
        return render(source, context, f"nodes.{node_id}.message", markup=markup)

    text = draw(None)
    channel_markup = markup(node.channel)
    # What leaves is printable: no escapes, controls, bidi or invisible characters of a value's
    wire = draw(channel_markup).strip() if channel_markup else plain(text.strip())
    data = payloads.NotifyRendered(
        runbook=frame.runbook.id,
        node=node_id,
        channel=node.channel,
        audience=node.audience,
        template=node.template,
        text=text.strip(),
    )
    if wire != text.strip():
        data["wire"] = wire
    walk.record(EventType.NOTIFY_RENDERED, data, step=step)
    walk.screen.message(node.channel, node.audience, text.strip())
    return wire


def resolve_pages(walk: Walk, outcome: Outcome) -> None:
    """An incident that ended resolves the pages it opened (see dispatch.resolutions)."""
    if walk.env.dry_run or walk.env.workspace is None:
        return
    from aiir.outbound.dispatch import resolutions

    for delivery, data in resolutions(
        outcome,
        walk.incident,
        walk.env.workspace,
        lambda: walk.notifier("pagerduty"),
        simulated=bool(walk.env.exercise),
    ):
        walk.sent(delivery, data)
