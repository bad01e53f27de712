"""Before each request of a walk on the shared store: its lease renewed there (the journal's
upstream, :meth:`aiir.incident.replica.Replica.fence`), and when the store has not answered this
walker for longer than the lease, the operator's word.

Past the lease, another responder who reaches the store (a network split: this walker is cut
off, they are not) may have taken the incident over and made this very request: the walk does
not send on its own. It asks, No by default; ``--yes`` does not answer it (it could engage a
lever twice), an answers file does only by naming it (``NODE.send_offline: yes``). The decision
is journalled (``store.silent``); not sent, the walk stops there as it does when the lease is
found lost, to be resumed once the store answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiir.engine.frames import path_of
from aiir.formats.answers import SEND_OFFLINE
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.fencing import LeaseInDoubt
from aiir.incident.journal import JournalConflict
from aiir.outbound.gateway import Call
from aiir.prompts import MissingAnswer

if TYPE_CHECKING:
    from aiir.engine.walk import Walk


def fence_call(walk: Walk, call: Call) -> None:
    """Before each try of a request to a gateway (the query left out: it may hold a key)."""
    fenced(walk, f"{call.method} {path_of(call).split('?', 1)[0]}")


def fence_first(walk: Walk, call: Call) -> None:
    """The fence before a request is under way: before the intent of one that is not sent
    again blindly (a lever's engage, an action) is journalled, so a request refused or not
    sent leaves no intent that would read as "stopped while it was in flight"; and before the
    screen's spinner starts, so a question is asked on a quiet screen. Each try is fenced
    again as it goes."""
    if walk.sender.before_try is not None and not walk.env.dry_run:
        walk.sender.before_try(call)


def fenced(walk: Walk, what: str) -> None:
    """Before ``what`` (a request, or a channel's name) leaves: the lease renewed, or refused
    (:class:`JournalConflict`, nothing sent), or in doubt and the operator asked."""
    upstream = walk.journal.upstream
    if upstream is None:
        return
    try:
        upstream.fence()
    except LeaseInDoubt as doubt:
        send_all_the_same(walk, walk.scrub(what), doubt)
    else:  # the store answered (or the lease runs yet): a later silence is asked about again
        walk.sent_offline.clear()


def send_all_the_same(walk: Walk, what: str, doubt: LeaseInDoubt) -> None:
    """Ask whether to send ``what`` while the store is silent past the lease; journal the
    answer. Yes returns (and the node's later requests go unasked while the store stays
    silent); no, or nobody to ask, stops the walk with nothing sent."""
    frame, node_id = walk.at if walk.at is not None else (None, "")
    short = f"{node_id}.{SEND_OFFLINE}" if node_id else SEND_OFFLINE
    key = (frame.prefix if frame is not None else "") + short
    if key in walk.sent_offline:
        return
    node = frame.runbook.nodes.get(node_id) if frame is not None else None
    kind = node.kind if node is not None else ""
    done = {"lever": "engaged this lever", "notify": "sent this message"}.get(
        kind, "made this request"
    )
    known = f"{doubt.known}: another responder may have taken the incident over and {done}"
    question = f"{what}: {known}. Send anyway? y sends it without the store, N does not send it"
    try:
        send = bool(walk.prompt(key, "confirm", question, [], False))
    except MissingAnswer:
        send, by = False, "no terminal and no answer"
    else:
        by = f"the answers file ({key})" if key in walk.scripted else f"{walk.env.operator}"
    data = payloads.StoreSilent(
        request=what, send=send, by=by, silent=doubt.silent, lease=doubt.lease
    )
    if frame is not None:
        data["runbook"], data["node"] = frame.runbook.id, node_id
    walk.record(EventType.STORE_SILENT, data)
    if send:
        walk.sent_offline.add(key)
        walk.screen.note(f"{what}: sent without the store's word, as {by} said; {doubt.known}")
        return
    raise JournalConflict(
        f"incident {walk.incident.id}: {what}: not sent: {known}; the walk stops here "
        f"(resume it once the store answers, or answer `{key}: yes` to send it all the same)"
    )
