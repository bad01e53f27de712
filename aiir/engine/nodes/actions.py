"""Action and capture nodes: one request each (a capture item is one), evidence kept beside the journal."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from aiir.engine.fencing import fence_first
from aiir.engine.frames import (
    NOT_RESENT,
    Ended,
    Frame,
    duration,
    path_of,
)
from aiir.engine.nodes.registry import handles
from aiir.formats.schema import (
    ActionNode,
    CaptureItem,
    CaptureNode,
)
from aiir.incident import payloads
from aiir.incident.events import EventType, EvidenceRef
from aiir.incident.sessions import bundle
from aiir.outbound.gateway import Call, Reply
from aiir.timestamps import iso, parse_iso

if TYPE_CHECKING:
    from aiir.engine.walk import Walk

MAX_PAGES = 100  # of a trace store's spans, for one capture item


@handles(ActionNode)
def action(walk: Walk, frame: Frame, node_id: str, node: ActionNode) -> str | Ended:
    while True:
        call = walk.call_for(frame, node.request, f"nodes.{node_id}.request")
        if not walk.replaying:
            walk.screen.request(
                f"Action {node.title!r}", call.summary(), asking=walk.preset() is None
            )
        question = f"Send this request? y sends {call.method} {path_of(call)}"
        if not walk.approve(frame, node_id, f"Action {node.title!r}", call, question):
            return walk.declined(frame, node_id, node.next)
        step, recorded = walk.next_step()
        problem = f"Action {node.title!r} failed"
        if EventType.ACTION_RESULT in recorded:
            done = recorded[EventType.ACTION_RESULT].data
            ok = bool(done.get("ok"))
            if not ok and (done.get("unknown") or (done.get("reply") or {}).get("uncertain")):
                reason = (done.get("reply") or {}).get("reason") or NOT_RESENT
                problem = f"Action {node.title!r} may have taken effect: {reason}"
        elif walk.env.dry_run:
            ok = True
        elif EventType.ACTION_INTENT in recorded:  # stopped after the intent: never re-sent blindly
            unknown = payloads.ActionResult(
                runbook=frame.runbook.id,
                node=node_id,
                ok=False,
                unknown=True,
                reply={"reason": NOT_RESENT},
            )
            walk.record(EventType.ACTION_RESULT, unknown, step=step)
            walk.screen.note(f"action {node_id!r}: {NOT_RESENT}")
            ok = False
            problem = f"Action {node.title!r} may have taken effect: {NOT_RESENT}"
        else:
            intent = payloads.ActionIntent(
                runbook=frame.runbook.id, node=node_id, request=call.summary()
            )
            fence_first(walk, call)
            walk.record(EventType.ACTION_INTENT, intent, step=step)
            # A lost answer to a POST or PATCH may hide a done request: not re-sent unseen.
            reply = walk.send(call, blind=_idempotent(node, call))
            result = payloads.ActionResult(
                runbook=frame.runbook.id, node=node_id, ok=reply.ok, reply=reply.summary()
            )
            walk.record(EventType.ACTION_RESULT, result, step=step)
            walk.screen.reply(reply)
            ok = reply.ok
            if reply.uncertain:  # sent, and no answer says it was refused: it may have been done
                problem = f"Action {node.title!r} may have taken effect: {reply.reason}"
        frame.answers[node_id] = "ok" if ok else "failed"
        if ok:
            return node.next
        after = walk.failed(frame, node_id, problem, node.on_failure, node.next)
        if after is not None:
            return after


def _idempotent(node: ActionNode, call: Call) -> bool:
    """Whether the action is safe to send again after a try that may have taken effect: as its
    request says (``idempotent:``), else by its method (GET, HEAD, PUT, DELETE are)."""
    if node.request.idempotent is not None:
        return node.request.idempotent
    return call.repeatable


@handles(CaptureNode)
def capture(walk: Walk, frame: Frame, node_id: str, node: CaptureNode) -> str | Ended:
    for index, item in enumerate(node.items):
        outcome = capture_item(walk, frame, node_id, index, item, "before")
        if isinstance(outcome, Ended):
            return outcome
    return node.next


def capture_window(walk: Walk, item: CaptureItem, part: str) -> dict[str, str]:
    started = parse_iso(walk.incident.started_at)
    start = started - duration(item.window_before)
    if part == "before":
        end = walk.env.clock.now()
    else:
        end = min(walk.env.clock.now(), started + duration(item.window_after))
    return {"start": iso(start), "end": iso(end)}


def capture_item(
    walk: Walk, frame: Frame, node_id: str, index: int, item: CaptureItem, part: str
) -> str | Ended | None:
    while True:
        window = capture_window(walk, item, part)
        call = walk.call_for(
            frame, item.request, f"nodes.{node_id}.items[{index}].request", window=window
        )
        step, recorded = walk.next_step()
        if EventType.CAPTURE_STORED in recorded:
            return None
        if walk.env.dry_run:
            walk.screen.request(f"Capture {item.name!r} ({part})", call.summary())
            return None
        reply = walk.send(call)
        spans: list[Any] | None = None
        if item.format == "openinference":
            reply, spans = _all_pages(walk, call, reply)
        suffix = "json" if spans is not None or reply.json() is not None else "txt"
        name = f"{node_id}.{item.name}.{part}.{step}.{suffix}"
        text = json.dumps({"data": spans}, ensure_ascii=False) if spans is not None else reply.text
        relative, digest = walk.journal.store_evidence(name, walk.scrub(text).encode())
        data = payloads.CaptureStored(
            runbook=frame.runbook.id,
            node=node_id,
            item=item.name,
            part=part,
            what=[w.value for w in item.what],
            window=window,
            window_after=item.window_after,
            index=index,
            ok=reply.ok,
            evidence=EvidenceRef(
                relative, digest, reply.size, truncated=reply.size > len(reply.body)
            ).data(),  # only the first MAX_BODY bytes are kept
            reply={k: v for k, v in reply.summary(0).items() if k != "body"},
        )
        if spans is not None:
            data["bundle"] = _store_bundle(walk, name, spans, call.gateway)
            data["spans"] = len(spans)
        walk.record(EventType.CAPTURE_STORED, data, step=step)
        walk.screen.captured(item.name, relative, digest, reply)
        if reply.ok or part == "after":
            return None
        decision = walk.decide(frame, node_id, f"Capture {item.name!r}: {reply.reason}")
        if decision != "retry":
            outcome = walk.after_failure(frame, decision, "")
            return outcome if isinstance(outcome, Ended) else None


def _all_pages(walk: Walk, call: Call, reply: Reply) -> tuple[Reply, list[Any] | None]:
    """A trace store's spans, page after page (``next_cursor``, as Phoenix's REST API pages);
    None when a page is not a list of spans (the capture then fails honestly, as it reads)."""
    spans: list[Any] = []
    for _page in range(MAX_PAGES):
        body = _spans_page(reply.json()) if reply.ok else None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            if reply.ok:
                reply = dataclasses.replace(
                    reply, ok=False, reason="the reply is not a page of spans ({data: [...]})"
                )
            return reply, None
        spans.extend(body["data"])
        cursor = body.get("next_cursor")
        if not isinstance(cursor, str) or not cursor:
            return reply, spans
        reply = walk.send(dataclasses.replace(call, query={**call.query, "cursor": cursor}))
    reason = f"more than {MAX_PAGES} pages of spans: narrow the window"
    return dataclasses.replace(reply, ok=False, reason=reason), None


def _spans_page(body: Any) -> Any:
    """A page of spans: Phoenix's ``{data, next_cursor}``, or an OTLP/JSON export
    (``resourceSpans[].scopeSpans[].spans[]``), which has no further pages."""
    if isinstance(body, dict) and isinstance(body.get("resourceSpans"), list):
        spans = [
            span
            for resource in body["resourceSpans"]
            if isinstance(resource, dict)
            for scope in resource.get("scopeSpans") or []
            if isinstance(scope, dict)
            for span in scope.get("spans") or []
        ]
        return {"data": spans}
    return body


def _store_bundle(walk: Walk, name: str, spans: list[Any], source: str) -> dict[str, Any]:
    """The session-context bundle of the spans captured, kept as evidence of its own."""
    content = json.dumps(bundle(spans, source), ensure_ascii=False, indent=1)
    stem = name.rsplit(".", 1)[0]
    relative, digest = walk.journal.store_evidence(
        f"{stem}.bundle.json", walk.scrub(content).encode()
    )
    return EvidenceRef(relative, digest, len(content.encode())).data()


def after_captures(walk: Walk, frame: Frame) -> None:
    """At the end, fetch each capture's "after" window again."""
    for node_id, node in frame.runbook.nodes.items():
        if not isinstance(node, CaptureNode):
            continue
        taken = {
            e["item"]
            for e in walk.incident.evidence
            if e.get("node") == node_id
            and e.get("runbook") == frame.runbook.id
            and e.get("part") == "before"
        }
        for index, item in enumerate(node.items):
            if item.window_after and item.name in taken:
                capture_item(walk, frame, node_id, index, item, "after")
