"""Wait nodes: poll a request until its expectation holds, on the walk's clock (a drill's clock
skips the waits), up to a deadline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiir.engine.frames import Ended, Frame, duration, path_of
from aiir.engine.nodes.registry import handles
from aiir.formats.schema import WaitNode
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.outbound.gateway import Call, Reply

if TYPE_CHECKING:
    from aiir.engine.walk import Walk

SAFE = frozenset({"GET", "HEAD"})  # a poll that changes nothing needs no approval


@dataclass(frozen=True)
class Polled:
    """How a wait ended: the last reply, how many polls, how long it waited."""

    reply: Reply
    polls: int
    waited: dt.timedelta

    @property
    def held(self) -> bool:
        return self.reply.ok


@handles(WaitNode)
def wait(walk: Walk, frame: Frame, node_id: str, node: WaitNode) -> str | Ended:
    while True:
        call = walk.call_for(frame, node.request, f"nodes.{node_id}.request")
        every = f"every {node.interval} for up to {node.deadline}"
        if not walk.replaying:
            asking = call.method not in SAFE and walk.preset() is None
            walk.screen.request(f"Wait {node.title!r}: poll {every}", call.summary(), asking)
        if call.method not in SAFE:
            question = f"Poll with this request? y sends {call.method} {path_of(call)} {every}"
            if not walk.approve(frame, node_id, f"Wait {node.title!r}", call, question):
                return walk.declined(frame, node_id, node.next)
        held = waited(walk, frame, node_id, node, call)
        frame.answers[node_id] = "held" if held else "timed-out"
        if held:
            return node.next
        problem = f"Wait {node.title!r}: the deadline ({node.deadline}) passed"
        after = walk.failed(frame, node_id, problem, node.on_timeout, node.next)
        if after is not None:
            return after


def waited(walk: Walk, frame: Frame, node_id: str, node: WaitNode, call: Call) -> bool:
    """Whether the expectation held before the deadline: from the journal when replaying, else
    polled (journalled as it starts and as it ends). A dry run polls nothing and goes on."""
    step, recorded = walk.next_step()
    if EventType.WAIT_ENDED in recorded:
        return bool(recorded[EventType.WAIT_ENDED].data.get("ok"))
    if walk.env.dry_run:
        walk.screen.note("dry run: not polled")
        return True
    started = payloads.WaitStarted(
        runbook=frame.runbook.id,
        node=node_id,
        request=call.summary(),
        interval=node.interval,
        deadline=node.deadline,
    )
    walk.record(EventType.WAIT_STARTED, started, step=step)
    polled = poll(walk, call, duration(node.interval), duration(node.deadline))
    data = payloads.WaitEnded(
        runbook=frame.runbook.id,
        node=node_id,
        ok=polled.held,
        timed_out=not polled.held,
        polls=polled.polls,
        waited_s=int(polled.waited.total_seconds()),
        reply=polled.reply.summary(),
    )
    walk.record(EventType.WAIT_ENDED, data, step=step)
    how = "held" if polled.held else f"did not hold by the deadline ({node.deadline})"
    walk.screen.note(f"{how} after {polled.polls} poll(s), {seconds(polled.waited)}")
    walk.screen.reply(polled.reply)
    return polled.held


def poll(walk: Walk, call: Call, interval: dt.timedelta, deadline: dt.timedelta) -> Polled:
    """Send ``call`` until its reply is ok, sleeping ``interval`` between polls; the last poll
    is at the deadline."""
    clock = walk.env.clock
    started = clock.now()
    polls, said = 0, ""
    while True:
        polls += 1
        reply = walk.send(call)
        elapsed = clock.now() - started
        left = deadline - elapsed
        if reply.ok or left <= dt.timedelta():
            return Polled(reply, polls, elapsed)
        pause = min(interval, left)
        if polls <= 3 or polls % 10 == 0 or reply.reason != said:  # progress, not a flood
            walk.screen.note(
                f"poll {polls}: not yet ({reply.reason}); next in {seconds(pause)}, "
                f"{seconds(left)} left"
            )
        said = reply.reason
        with walk.screen.waiting(f"next poll in {seconds(pause)}"):  # keys typed: not echoed
            clock.sleep(pause.total_seconds())


def seconds(span: dt.timedelta) -> str:
    """``1h 2m 5s`` (the parts that are not zero; ``0s`` for none)."""
    total = int(span.total_seconds())
    parts = [(total // 3600, "h"), (total // 60 % 60, "m"), (total % 60, "s")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0s"
