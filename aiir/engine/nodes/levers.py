"""Lever nodes: approve, engage (probing whatever may already have taken effect), verify; and
release nodes, which undo a lever engaged earlier in the walk."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiir.engine.approvals import approved
from aiir.engine.fencing import fence_first
from aiir.engine.frames import (
    ABORT,
    FAILURE_OPTIONS,
    KEEP,
    NO_PROBE,
    NOT_RESENT,
    RELEASE,
    Ended,
    Frame,
    path_of,
)
from aiir.engine.nodes.registry import handles
from aiir.errors import InputError
from aiir.formats.schema import (
    Lever,
    LeverNode,
    ReleaseNode,
    Request,
)
from aiir.incident import payloads
from aiir.incident.approvals import APPROVED
from aiir.incident.events import EventType
from aiir.incident.state import NEEDS_RELEASE, LeverRecord
from aiir.outbound.gateway import Call, Reply
from aiir.outbound.readable import full_request
from aiir.outbound.sending import diagnose
from aiir.prompts import NoTerminalPrompter, Option

if TYPE_CHECKING:
    from aiir.engine.walk import Walk


@handles(LeverNode)
def lever(walk: Walk, frame: Frame, node_id: str, node: LeverNode) -> str | Ended:
    lever = frame.runbook.levers[node.lever]
    previous: LeverRecord | None = None
    while True:
        engage = walk.call_for(frame, lever.engage, f"levers.{node.lever}.engage")
        if not walk.replaying:
            walk.screen.lever_request(
                node.lever, lever, engage, walk.release_preview(frame, node.lever, lever)
            )
            if walk.env.dry_run:
                dry_run_probes(walk, frame, node.lever, lever)
        question = f"Engage lever {node.lever!r}? y sends {engage.method} {path_of(engage)}"
        what = f"Lever {node.lever!r} ({lever.kind.value})"
        if not walk.approve(frame, node_id, what, engage, question):
            return walk.declined(frame, node_id, node.next)
        if lever.approve is not None:
            outcome = approved(walk, frame, node_id, node.lever, lever.approve)
            if outcome != APPROVED:
                problem = f"Lever {node.lever!r} not engaged: not approved ({outcome})"
                after = walk.failed(frame, node_id, problem, node.on_failure, node.next)
                if after is not None:
                    return after
                continue
        # Over a lever that may be in effect, a retry probes before it engages again.
        check_first = previous is not None and previous.state in {"unknown", "engaged"}
        record = pull(walk, frame, node_id, node.lever, lever, engage, check_first=check_first)
        state = state_here(walk, record)
        if state in {"verified", "dry-run"} or (state == "engaged" and not record.unanswered):
            return node.next  # engaged with a probe that got no answer: the operator decides
        if node.on_failure is not None:
            return node.on_failure
        options: tuple[Option, ...] = FAILURE_OPTIONS
        if record.state == "unknown" and lever.verify is None:  # nothing could tell: no resend
            options = (KEEP, RELEASE, ABORT)
        problem = f"Lever {node.lever!r}: {record.state}: {record.verdict}"
        decision = walk.decide(frame, node_id, problem, options)
        if decision != "retry":
            return walk.after_failure(frame, decision, node.next)
        previous = record


def state_here(walk: Walk, record: LeverRecord) -> str:
    """The lever's state as this node left it: a replay reads past a release step's later
    release (the state folded from the whole journal is the walk's last)."""
    if walk.replaying and record.state == "released" and record.before_release:
        return record.before_release
    return record.state


def dry_run_probes(walk: Walk, frame: Frame, name: str, lever: Lever) -> None:
    """A dry run shows every request a lever would make: its verify probe and release too."""
    for part, request in (("verify", lever.verify), ("release", lever.release)):
        if request is None:
            continue
        call = walk.call_for(frame, request, f"levers.{name}.{part}", preview=True)
        walk.screen.request(f"Lever {name!r}: {part} (dry run: not sent)", call.summary())


def pull(
    walk: Walk,
    frame: Frame,
    node_id: str,
    name: str,
    lever: Lever,
    engage: Call,
    *,
    check_first: bool = False,
) -> LeverRecord:
    """Engage then verify one lever, exactly once across interruptions."""
    step, recorded = walk.next_step()
    base = payloads.LeverKeys(runbook=frame.runbook.id, node=node_id, lever=name)
    if EventType.LEVER_INTENT not in recorded:
        fence_first(walk, engage)
        walk.record(
            EventType.LEVER_INTENT,
            payloads.LeverIntent(
                **base,
                title=lever.title,
                kind=lever.kind.value,
                destroys_evidence=lever.destroys_evidence,
                request=engage.summary(),
                dry_run=walk.env.dry_run,
            ),
            step=step,
        )
    record = walk.incident.lever_at(step)
    assert record is not None
    if walk.env.dry_run:
        dry_run = engaged_data(base, ok=False)
        dry_run["dry_run"] = True
        walk.record(EventType.LEVER_ENGAGED, dry_run, step=step)
        walk.screen.lever(record)
        return record
    if EventType.LEVER_ENGAGED not in recorded:
        resumed = EventType.LEVER_INTENT in recorded or check_first
        engage_lever(walk, frame, step, base, lever, engage, resumed=resumed)
    if record.state == "engaged" and EventType.LEVER_VERIFIED not in recorded:
        verify(walk, frame, step, base, lever)
    if not walk.replaying or step == walk.last_recorded:
        walk.screen.lever(record)
    return record


def engage_lever(
    walk: Walk,
    frame: Frame,
    step: int,
    base: payloads.LeverKeys,
    lever: Lever,
    engage: Call,
    *,
    resumed: bool,
) -> None:
    """Send the engage request and journal what became of it, probing whenever its effect
    is unknown (before a retry, and after a last try that may have taken effect)."""
    if resumed and engaged_before(walk, frame, step, base, lever, engage):
        return
    in_place: Reply | None = None
    failed_try: Reply | None = None

    def settled(failed: Reply) -> Reply | None:  # before a retry: did the failed try take effect?
        nonlocal in_place, failed_try
        verdict, probe = probe_lever(walk, frame, base, lever)
        in_place, failed_try = (probe, failed) if verdict else (None, None)
        if verdict is None and failed.uncertain:  # cannot tell: a second try could apply it twice
            return failed
        return in_place

    # Never sent again over a try that may have taken effect unless the probe says it did not.
    reply = walk.send(engage, settled if lever.verify is not None else None, blind=False)
    if in_place is not None:
        confirmed(walk, step, base, in_place, engage, failed_try)
        return
    reply = diagnose(engage, reply, walk.profiles, walk.send, frame.endpoints[engage.gateway])
    if reply.ok or not reply.uncertain or reply.unavailable:
        engaged = engaged_data(base, ok=reply.ok, reply=reply.summary())
        walk.record(EventType.LEVER_ENGAGED, engaged, step=step)
        return
    settle(walk, frame, step, base, lever, engage, reply)


def settle(
    walk: Walk,
    frame: Frame,
    step: int,
    base: payloads.LeverKeys,
    lever: Lever,
    engage: Call,
    failure: Reply,
) -> None:
    """The last try failed in a way that may still have taken effect: ask the probe."""

    def journal(reason: str, *, unknown: bool = False) -> None:
        reply = {**failure.summary(), "reason": reason}
        failed = engaged_data(base, ok=False, reply=reply)
        if unknown:
            failed["unknown"] = True
        walk.record(EventType.LEVER_ENGAGED, failed, step=step)

    if lever.verify is None:
        journal(f"{failure.reason}: {NO_PROBE}", unknown=True)
        return
    verdict, probe = probe_lever(walk, frame, base, lever)
    if verdict:
        assert probe is not None
        confirmed(walk, step, base, probe, engage, failure)
    elif verdict is None:
        why = probe.reason if probe is not None else "the probe could not be sent"
        journal(
            f"{failure.reason}; it may have taken effect, and the verify probe cannot tell ({why})",
            unknown=True,
        )
    else:
        journal(f"{failure.reason} (the verify probe shows it did not take effect)")


def engaged_data(
    base: payloads.LeverKeys, *, ok: bool, reply: dict[str, Any] | None = None
) -> payloads.LeverEngaged:
    """``lever.engaged`` of the lever ``base`` names: whether it is in effect, and the reply."""
    data = payloads.LeverEngaged(
        runbook=base["runbook"], node=base["node"], lever=base["lever"], ok=ok
    )
    if reply is not None:
        data["reply"] = reply
    return data


def verified_data(
    base: payloads.LeverKeys, *, ok: bool, reply: dict[str, Any]
) -> payloads.LeverVerified:
    """``lever.verified`` of the lever ``base`` names: what its verify probe found."""
    return payloads.LeverVerified(
        runbook=base["runbook"], node=base["node"], lever=base["lever"], ok=ok, reply=reply
    )


def probe_lever(
    walk: Walk, frame: Frame, base: Mapping[str, Any], lever: Lever
) -> tuple[bool | None, Reply | None]:
    """One try of the verify probe: True when the lever is in effect, False when it is
    not, None when the probe got no verdict (no answer, or the gateway failing)."""
    assert lever.verify is not None
    try:
        call = walk.call_for(frame, lever.verify, f"levers.{base['lever']}.verify")
    except InputError:
        return None, None
    if unset_in(walk, frame, lever.verify, f"levers.{base['lever']}.verify"):
        return None, None
    reply = walk.sender.send(dataclasses.replace(call, retries=0))
    if reply.ok:
        return True, reply
    if no_verdict(reply):
        return None, reply
    return False, reply


def no_verdict(probe: Reply) -> bool:
    """A failed probe that says nothing about the lever: no answer, or the gateway failing."""
    return not probe.ok and (probe.status is None or probe.status >= 500)


def engaged_before(
    walk: Walk, frame: Frame, step: int, base: payloads.LeverKeys, lever: Lever, engage: Call
) -> bool:
    """The engage may have gone out already (the run stopped between intent and result, or
    the last try's effect is unknown): settle it without engaging twice.

    The verify probe tells whether the lever took effect. Without a probe, or when the probe
    cannot tell, nothing is sent: the lever's state is unknown and the operator decides.
    """
    unknown = engaged_data(base, ok=False, reply={"reason": NOT_RESENT})
    unknown["unknown"] = True
    if lever.verify is None:
        walk.record(EventType.LEVER_ENGAGED, unknown, step=step)
        return True
    with walk.screen.waiting(f"checking whether lever {base['lever']!r} is in effect"):
        verdict, probe = probe_lever(walk, frame, base, lever)
    if verdict is False:
        return False
    if verdict is None:
        walk.record(EventType.LEVER_ENGAGED, unknown, step=step)
        return True
    assert probe is not None
    confirmed(walk, step, base, probe, engage)
    return True


def confirmed(
    walk: Walk,
    step: int,
    base: payloads.LeverKeys,
    probe: Reply,
    engage: Call,
    failure: Reply | None = None,
) -> None:
    """The verify probe found the lever in effect, though no engage reply said so. The
    engage's own failure (a dropped answer, a 502) is kept beside the probe's reply: the
    journal shows what the gateway answered, not only what the probe found."""
    data = engaged_data(base, ok=True, reply=probe.summary())
    data["confirmed_by_verify"] = True
    if failure is not None:
        data["engage_failure"] = failure.summary()
        walk.screen.note(
            f"lever {base['lever']!r}: its engage request failed ({failure.reason}), "
            "but the verify probe finds it in effect"
        )
    if engage.save:  # they come with the engage reply, which is lost or a failure
        data["lost"] = lost = sorted(engage.save)
        walk.screen.note(
            f"lever {base['lever']!r} is engaged, but its reply was lost: "
            f"{', '.join(lost)} unknown; its release may need doing by hand"
        )
    walk.record(EventType.LEVER_ENGAGED, data, step=step)
    verified = verified_data(base, ok=True, reply=probe.summary())
    walk.record(EventType.LEVER_VERIFIED, verified, step=step)


def verify(walk: Walk, frame: Frame, step: int, base: payloads.LeverKeys, lever: Lever) -> None:
    if lever.verify is None:
        return
    where = f"levers.{base['lever']}.verify"
    unset = unset_in(walk, frame, lever.verify, where)
    if unset:  # a probe that cannot be built as written is no verdict on the lever
        reason = f"cannot verify: {', '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set"
        unverified = verified_data(base, ok=False, reply={"reason": reason})
        unverified["unverified"] = True
        walk.record(EventType.LEVER_VERIFIED, unverified, step=step)
        return
    reply = walk.send(walk.call_for(frame, lever.verify, where))
    verified = verified_data(base, ok=reply.ok, reply=reply.summary())
    if no_verdict(reply):  # the lever was engaged; a probe with no answer does not undo that
        verified["reply"]["reason"] = f"cannot verify: the verify probe got {reply.reason}"
        verified["unverified"] = verified["unanswered"] = True
    walk.record(EventType.LEVER_VERIFIED, verified, step=step)


@handles(ReleaseNode)
def release_step(walk: Walk, frame: Frame, node_id: str, node: ReleaseNode) -> str | Ended:
    """Release a lever this walk engaged, then check with its verify probe that it no longer
    holds. A lever never engaged here is said to be so; nothing is sent."""
    lever = frame.runbook.levers[node.lever]
    while True:
        record = engaged_here(walk, frame, node.lever)
        if record is None:
            if not walk.replaying:
                walk.screen.note(f"lever {node.lever!r} was not engaged in this walk: not released")
            frame.answers[node_id] = "not-engaged"
            return node.next
        question = f"Release lever {node.lever!r} (now {record.state})? y sends its release"
        if lever.release is not None and not nothing_to_release(walk, record):
            try:
                call = walk.call_for(frame, lever.release, f"levers.{node.lever}.release")
            except InputError:
                call = None
            if call is not None:
                if not walk.replaying:
                    walk.screen.request(
                        f"Release {node.lever!r}", call.summary(), asking=walk.preset() is None
                    )
                if not walk.approve(frame, node_id, f"Release of {node.lever!r}", call, question):
                    frame.answers[node_id] = "declined"
                    return walk.declined(frame, node_id, node.next)
        ok = released(walk, frame, node_id, node.lever, lever, record)
        frame.answers[node_id] = "released" if ok else "failed"
        if ok:
            return node.next
        problem = f"Lever {node.lever!r}: {record.verdict}"
        after = walk.failed(frame, node_id, problem, node.on_failure, node.next)
        if after is not None:
            return after


def nothing_to_release(walk: Walk, record: LeverRecord) -> bool:
    """The lever is not in effect (it failed, or was released already): no approval is asked.
    A resume reads it from the journal (the state then is the walk's last)."""
    if walk.replaying:
        upcoming = walk.journal.recorded(walk.step + 1)
        return any(e.type == EventType.LEVER_RELEASED for e in upcoming)
    return record.state not in NEEDS_RELEASE


def engaged_here(walk: Walk, frame: Frame, name: str) -> LeverRecord | None:
    """The latest engagement of lever ``name`` of this frame's runbook, whatever became of it."""
    mine = [
        r
        for r in walk.incident.levers
        if (r.runbook, r.lever) == (frame.runbook.id, name) and r.state != "superseded"
    ]
    return mine[-1] if mine else None


def released(
    walk: Walk, frame: Frame, node_id: str, name: str, lever: Lever, record: LeverRecord
) -> bool:
    """One release, journalled (``lever.released``), replayed from the journal on resume."""
    step, recorded = walk.next_step()
    if EventType.LEVER_RELEASED in recorded:
        return bool(recorded[EventType.LEVER_RELEASED].data.get("ok"))
    base = payloads.LeverReleased(
        runbook=frame.runbook.id, node=node_id, lever=name, engaged_step=record.step
    )
    if walk.env.dry_run:
        walk.screen.note(f"dry run: lever {name!r} not released")
        return True
    data = release_data(walk, frame, name, lever, record, base)
    walk.record(EventType.LEVER_RELEASED, data, step=step)
    if not data["ok"]:
        walk.screen.failure(f"Lever {name!r}: {data['reply'].get('reason', 'release failed')}")
    walk.screen.lever(record)
    return bool(data["ok"])


def release_data(
    walk: Walk,
    frame: Frame,
    name: str,
    lever: Lever,
    record: LeverRecord,
    base: payloads.LeverReleased,
) -> payloads.LeverReleased:
    """Send the release and probe it: what the journal says of it (``base`` and more)."""
    if record.state not in NEEDS_RELEASE:
        reason = f"lever {name!r} is {record.state} ({record.verdict}): nothing to release"
        return payloads.LeverReleased(**base, ok=False, not_engaged=True, reply={"reason": reason})
    if lever.release is None:
        reason = "this lever has no release: undo it by hand"
        return payloads.LeverReleased(**base, ok=False, reply={"reason": reason})
    try:
        call = walk.call_for(frame, lever.release, f"levers.{name}.release")
    except InputError as exc:
        manual = walk.release_preview(frame, name, lever)
        reason = f"release request could not be built ({exc}); undo it by hand: {manual}"
        return payloads.LeverReleased(**base, ok=False, reply={"reason": reason})
    reply, summary = send_release(walk, frame, name, lever, call)
    data = payloads.LeverReleased(**base, ok=summary["ok"], request=call.summary(), reply=summary)
    if not summary["ok"]:
        return gone_all_the_same(walk, frame, name, lever, data)
    if not reply.ok:  # settled by the verify probe between tries: released
        data["still_in_effect"] = False
        return data
    if lever.verify is None:
        return data
    verdict, _ = probe_lever(walk, frame, {"lever": name}, lever)
    data["still_in_effect"] = verdict
    if verdict:  # the probe that proved the lever in effect still passes: not released
        reason = "the release was sent, but the verify probe still shows the lever in effect"
        data["ok"] = False
        data["reply"] = {**reply.summary(), "reason": reason}
    elif verdict is None:
        walk.screen.note(f"lever {name!r}: released; the verify probe cannot tell")
    else:
        walk.screen.note(f"lever {name!r}: released, and its verify probe no longer passes")
    return data


def unset_in(walk: Walk, frame: Frame, request: Request, where: str) -> list[str]:
    """The optional environment variables ``request`` reads that are not set: each is given a
    marker, and the request built with them says which markers it holds."""
    unset = [
        name
        for name, spec in frame.runbook.env.items()
        if not spec.required and not frame.env.get(name)
    ]
    if not unset:
        return []
    nonce = secrets.token_hex(8)  # URL- and header-safe, and in no real value
    marked = {**frame.env, **{name: f"unset{nonce}{name}" for name in unset}}
    try:
        call = walk.call_for(frame, request, where, env=marked)
    except InputError:
        return []  # the request cannot be built at all: that failure is reported as it is
    built = json.dumps([call.url, call.headers, call.query, call.json, call.body], default=str)
    return [name for name in unset if f"unset{nonce}{name}" in built]


def release_lever(walk: Walk, record: LeverRecord, shown: bool = False) -> bool:
    """Release one engaged lever (journalled); True when the gateway confirmed it; its request
    is shown first unless it was ``shown`` at the question that approved it.

    A release that cannot be built (it needs a value the lost engage reply carried) is
    journalled as failed, with the request to make by hand; the caller goes on to the rest.
    """
    frame = walk.frames.get(record.runbook)
    base = payloads.LeverReleased(
        runbook=record.runbook, lever=record.lever, engaged_step=record.step
    )
    if frame is None or record.lever not in frame.runbook.levers:
        reason = f"runbook {record.runbook!r} is not loaded: undo lever {record.lever!r} by hand"
        failed = payloads.LeverReleased(**base, ok=False, reply={"reason": reason})
        walk.record(EventType.LEVER_RELEASED, failed)
        walk.screen.failure(f"Lever {record.lever!r}: {reason}")
        return False
    lever = frame.runbook.levers[record.lever]
    if lever.release is None:
        walk.screen.note(f"lever {record.lever!r} has no release; undo it by hand")
        return False
    try:
        call = walk.call_for(frame, lever.release, f"levers.{record.lever}.release")
    except InputError as exc:  # e.g. a value saved from a lost engage reply: go on to the rest
        manual = walk.release_preview(frame, record.lever, lever)
        reason = (
            f"release request could not be built ({exc}); undo it on the gateway by hand: {manual}"
        )
        failed = payloads.LeverReleased(**base, ok=False, reply={"reason": reason})
        walk.record(EventType.LEVER_RELEASED, failed)
        walk.screen.failure(f"Lever {record.lever!r}: {reason}")
        return False
    if not shown:
        walk.screen.request(f"Release {record.lever!r}", call.summary())
    _, summary = send_release(walk, frame, record.lever, lever, call)
    data = payloads.LeverReleased(**base, ok=summary["ok"], request=call.summary(), reply=summary)
    if not summary["ok"]:
        data = gone_all_the_same(walk, frame, record.lever, lever, data)
    walk.record(EventType.LEVER_RELEASED, data)
    walk.screen.lever(record)
    return bool(data["ok"])


def release_shown(walk: Walk, frame: Frame, name: str) -> str | None:
    """Show what y sends before a release is asked for (on a terminal); the full request, for
    ``d`` at the question. None: there is no terminal, no release, or it cannot be built yet
    (the release says why when it is tried)."""
    lever = frame.runbook.levers.get(name)
    if lever is None or lever.release is None or isinstance(walk.env.prompter, NoTerminalPrompter):
        return None
    try:
        call = walk.call_for(frame, lever.release, f"levers.{name}.release")
    except InputError:
        return None
    walk.screen.request(f"Release {name!r}", call.summary(), asking=True)
    return full_request(call.summary())


def gone_all_the_same(
    walk: Walk, frame: Frame, name: str, lever: Lever, failed: payloads.LeverReleased
) -> payloads.LeverReleased:
    """A release request that failed may still find the lever gone: an earlier release that
    was sent, then lost with its process (killed before its line was written), or one whose
    reply was lost. The verify probe tells: when it no longer passes, the lever is not in
    effect, and saying its release failed would not be true."""
    if lever.verify is None:
        return failed
    verdict, _ = probe_lever(walk, frame, {"lever": name}, lever)
    failed["still_in_effect"] = verdict
    if verdict is not False:
        return failed
    reason = (
        f"the release request failed ({failed['reply'].get('reason', 'no reason given')}), "
        "but the verify probe no longer passes: the lever is not in effect"
    )
    walk.screen.note(f"lever {name!r}: {reason}")
    failed["ok"], failed["confirmed_by_verify"] = True, True
    failed["reply"] = {**failed["reply"], "reason": reason}
    return failed


def send_release(
    walk: Walk, frame: Frame, name: str, lever: Lever, call: Call
) -> tuple[Reply, dict[str, Any]]:
    """Send a release; the reply, and what the journal keeps of it. A try that failed yet may
    have taken effect (no answer, a 5xx) is settled by the verify probe, before a retry and
    after the last try: a probe that no longer passes means released, whatever the reply."""
    gone: Reply | None = None

    def settled(failed: Reply) -> Reply | None:
        nonlocal gone
        if failed.uncertain and probe_lever(walk, frame, {"lever": name}, lever)[0] is False:
            gone = failed
        return gone  # None: a release is sent again (undoing twice does no harm)

    reply = walk.send(call, settled if lever.verify is not None else None)
    if gone is None and lever.verify is not None and not reply.ok and reply.uncertain:
        gone = reply if probe_lever(walk, frame, {"lever": name}, lever)[0] is False else None
    summary = reply.summary()
    if gone is not None:
        reason = f"{reply.reason}; the verify probe no longer passes: released"
        summary.update(ok=True, reason=reason)
    return reply, summary
