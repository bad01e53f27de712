"""The two-person rule in a walk: a lever with ``approve`` is engaged only once enough other
people approved it, each from their own terminal (``aiir approve INCIDENT LEVER``).

The walk journals ``approval.requested`` (its step), shows who is asked and how, then polls the
journal's change feed for the approvals and rejections others append, until enough count, one
rejection comes, or the timeout passes; it closes the request with ``approval.closed``. A resumed
walk that stopped while waiting waits on for the same request (its deadline unchanged); one that
stopped after the close replays its outcome. In practice (a drill, a sandbox run, a tabletop)
approvals may come from the answers (``NODE.approvals``), journalled like any others.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiir.engine.frames import Frame, duration
from aiir.errors import InputError
from aiir.formats.schema import Approval
from aiir.incident import payloads
from aiir.incident.approvals import (
    APPROVED,
    REJECTED,
    TIMED_OUT,
    ApprovalRequest,
    Verdict,
)
from aiir.incident.events import EventType
from aiir.timestamps import iso, parse_iso

if TYPE_CHECKING:
    from aiir.engine.walk import Walk

POLL = 0.5  # seconds between two reads of the journal while waiting
SUFFIX = "approvals"  # NODE.approvals in an answers file or a scenario


def approved(walk: Walk, frame: Frame, node_id: str, name: str, wanted: Approval) -> str:
    """How the request for lever ``name`` ended: approved, rejected or timed-out (a replay
    reads it from the journal; a dry run asks nobody)."""
    step, recorded = walk.next_step()
    if EventType.APPROVAL_CLOSED in recorded:
        return str(recorded[EventType.APPROVAL_CLOSED].data["outcome"])
    if walk.env.dry_run:
        walk.screen.note(f"dry run: the {wanted.min} approval(s) lever {name!r} needs not asked")
        return APPROVED
    if EventType.APPROVAL_REQUESTED in recorded:
        request = opened_at(walk, recorded[EventType.APPROVAL_REQUESTED].seq)
    else:
        request = ask(walk, frame, node_id, name, wanted, step)
    show(walk, request, wanted)
    supply_scripted(walk, frame, node_id, request)
    wait(walk, request)
    return close(walk, request, step)


def opened_at(walk: Walk, seq: int) -> ApprovalRequest:
    found = next((r for r in walk.incident.approvals if r.seq == seq), None)
    assert found is not None, f"approval.requested at line {seq} is folded"
    return found


def ask(
    walk: Walk, frame: Frame, node_id: str, name: str, wanted: Approval, step: int
) -> ApprovalRequest:
    until = walk.env.clock.now() + duration(wanted.timeout)
    data = payloads.ApprovalRequested(
        runbook=frame.runbook.id,
        node=node_id,
        lever=name,
        min=wanted.min,
        roles=list(wanted.roles),
        timeout=wanted.timeout,
        until=iso(until),
    )
    event = walk.record(EventType.APPROVAL_REQUESTED, data, step=step)
    assert event is not None
    return opened_at(walk, event.seq)


def show(walk: Walk, request: ApprovalRequest, wanted: Approval) -> None:
    """Who is asked, how many, until when, and the exact commands, on one screen."""
    incident, lever = walk.incident.id, request.lever
    # On the files an approver names the folder; on a shared store every machine finds it there.
    folder = Path(walk.journal.directory).parent.resolve()
    where = "" if walk.journal.upstream is not None else f" --incident-dir {folder}"
    who = f"anyone but {request.requester}"
    if request.roles:
        on_call = [walk.on_call(role) or role for role in request.roles]
        who = f"people the team roster gives {' or '.join(request.roles)} ({'; '.join(on_call)})"
        who += f", not {request.requester}"
    walk.screen.approvals(
        f"Lever {lever} needs {plural(request.needed)} before it is engaged",
        [
            f"Asked: {who}",
            f"Waiting until {request.until[11:19]} UTC ({wanted.timeout}); then it is not approved",
            "Each approver runs, in their own terminal:",
            f"  aiir approve {incident} {lever}{where}",
            f'  aiir reject {incident} {lever} --reason "why"{where}',
            "Ctrl-C stops the walk; `aiir resume` waits on for the same request.",
        ],
    )


def plural(count: int) -> str:
    return f"{count} approval" + ("" if count == 1 else "s")


def scripted_approvals(scripted: Mapping[str, Any], key: str) -> list[dict[str, str]]:
    """``NODE.approvals`` of the answers: a name approves, ``{by, reject: reason}`` rejects."""
    given = scripted.get(key)
    items = given if isinstance(given, list) else [] if given is None else [given]
    found = []
    for item in items:
        if isinstance(item, Mapping):
            found.append({str(k): str(v) for k, v in item.items()})
        else:
            found.append({"by": str(item)})
    return found


def supply_scripted(walk: Walk, frame: Frame, node_id: str, request: ApprovalRequest) -> None:
    """Approvals the answers give (practice only), journalled once each as the people named."""
    key = f"{frame.prefix}{node_id}.{SUFFIX}"
    given = scripted_approvals(walk.scripted, key)
    if not given:
        return
    practice_only({key: given}, walk.env.exercise)
    said = {v.by for v in request.verdicts}
    for item in given:
        if item["by"] in said:
            continue
        if "reject" in item:
            rejected = payloads.ApprovalRejected(
                runbook=request.runbook,
                node=request.node,
                lever=request.lever,
                request=request.seq,
                by=item["by"],
                via="answers",
                reason=item["reject"],
            )
            walk.record(EventType.APPROVAL_REJECTED, rejected)
        else:
            granted = payloads.ApprovalGranted(
                runbook=request.runbook,
                node=request.node,
                lever=request.lever,
                request=request.seq,
                by=item["by"],
                via="answers",
                roles=sorted(roles_of(walk, item["by"]) or ()),
            )
            walk.record(EventType.APPROVAL_GRANTED, granted)


def practice_only(scripted: Mapping[str, Any], exercise: str | None) -> None:
    """Refuse, before anything runs, answers that approve in a real incident: there the
    approvers are people at their own terminals, not lines a requester wrote."""
    keys = [key for key in scripted if key.endswith(f".{SUFFIX}")]
    if keys and not exercise:
        raise InputError(
            f"--answers: {keys[0]}: approvals from answers count only in practice (a drill, a "
            "sandbox run, a tabletop); in a real incident each approver runs aiir approve"
        )


def roles_of(walk: Walk, person: str) -> Collection[str] | None:
    workspace = walk.env.workspace
    return workspace.roles_of(person) if workspace is not None else None


def wait(walk: Walk, request: ApprovalRequest) -> None:
    """Poll the journal for others' word until the request is decided or its time is up;
    meanwhile the screen waits as for a request in flight (what is typed is not echoed under
    the box as if someone had answered at this keyboard)."""
    clock = walk.env.clock
    until = parse_iso(request.until)
    shown = 0
    with walk.screen.waiting(f"waiting for approval of lever {request.lever!r}"):
        while True:
            walk.catch_up()
            shown = tell(walk, request, shown)
            if judged(walk, request) is not None:
                return
            left = until - clock.now()
            clock.sleep(min(POLL, max(left.total_seconds(), 0.0)))


Decision = tuple[str, list[str], str | None]  # outcome, who approved, why not approved


def judged(walk: Walk, request: ApprovalRequest) -> Decision | None:
    """The request's outcome on what is folded so far, or None while it stays open."""
    counted, rejection = request.counted(lambda person: roles_of(walk, person))
    names = [v.by for v in counted]
    if rejection is not None:
        return REJECTED, names, f"rejected by {rejection.by}: {rejection.reason}"
    if len(counted) >= request.needed:
        return APPROVED, names, None
    if walk.env.clock.now() >= parse_iso(request.until):
        have = f"{len(counted)} of {request.needed}"
        return TIMED_OUT, names, f"timed out with {have} approvals"
    return None


def close(walk: Walk, request: ApprovalRequest, step: int) -> str:
    """Decide and journal the outcome under the append lock: a word appended before the close
    is in it (a rejection that came last still stops the lever); none can come after."""
    with walk.journal.appending():
        walk.catch_up()
        decision = judged(walk, request)
        assert decision is not None  # what decided the wait still holds, or a rejection came
        outcome, names, reason = decision
        data = payloads.ApprovalClosed(
            runbook=request.runbook,
            node=request.node,
            lever=request.lever,
            request=request.seq,
            outcome=outcome,
            approvers=names,
            reason=reason,
        )
        walk.record(EventType.APPROVAL_CLOSED, data, step=step)
    if outcome == APPROVED:
        walk.screen.note(f"approved by {', '.join(names)}: engaging")
    else:
        walk.screen.failure(f"Lever {request.lever!r}: {reason}")
    return outcome


def tell(walk: Walk, request: ApprovalRequest, shown: int) -> int:
    """Say each verdict as it arrives; one that does not count says why."""
    for verdict in request.verdicts[shown:]:
        walk.screen.note(line(walk, request, verdict))
    return len(request.verdicts)


def line(walk: Walk, request: ApprovalRequest, verdict: Verdict) -> str:
    why_not = request.eligible(verdict.by, lambda person: roles_of(walk, person))
    if why_not is not None:
        said = "approved" if verdict.approved else "rejected it"
        return f"{verdict.by} {said}, which does not count: {why_not}"
    if not verdict.approved:
        return f"{verdict.by} rejected it: {verdict.reason}"
    counted, _ = request.counted(lambda person: roles_of(walk, person))
    return f"approved by {verdict.by} ({len(counted)} of {request.needed})"
