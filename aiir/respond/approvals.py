"""``aiir approve`` and ``aiir reject``: a second person's word on a lever a walk waits for.

Either goes in while the walker holds the incident: like a note, it is appended under the
journal's append lock and the walker takes it into its chain while it waits. It is refused, with
nothing written, when no approval of the lever is pending, when the requester gives it (the
two-person rule), when the request names roles the roster does not give the approver, when the
approver already spoke, when someone rejected it already (an approval then would change
nothing), or when the request's time is up.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiir.environment import Environment
from aiir.errors import InputError
from aiir.incident import payloads
from aiir.incident.approvals import ApprovalRequest, pending
from aiir.incident.events import EventType
from aiir.incident.state import Incident
from aiir.respond.beside import beside_walker
from aiir.timestamps import parse_iso

MAX_REASON = 2000


@dataclass(frozen=True)
class Given:
    """A verdict journalled: the request it answers and how many approvals count so far."""

    request: ApprovalRequest
    counted: int


def give(
    env: Environment, incident_id: str, lever: str, *, approve: bool, reason: str = ""
) -> Given:
    """Journal ``env.operator``'s approval (or rejection, with ``reason``) of ``lever``."""
    why = " ".join(reason.split())
    if not approve and not why:
        raise InputError("--reason: say why the lever is rejected")
    if len(why) > MAX_REASON:
        raise InputError(f"--reason is at most {MAX_REASON} characters (this one is {len(why)})")
    with beside_walker(env, incident_id) as (journal, incident):
        request = _open_request(env, incident, lever, approve=approve)
        if approve:
            granted = payloads.ApprovalGranted(
                runbook=request.runbook,
                node=request.node,
                lever=lever,
                request=request.seq,
                by=env.operator,
                via="terminal",
                roles=sorted(_roles_of(env, env.operator) or ()),
            )
            event = journal.append(EventType.APPROVAL_GRANTED, granted)
        else:
            rejected = payloads.ApprovalRejected(
                runbook=request.runbook,
                node=request.node,
                lever=lever,
                request=request.seq,
                by=env.operator,
                via="terminal",
                reason=why,
            )
            event = journal.append(EventType.APPROVAL_REJECTED, rejected)
        incident.apply(event)
    counted, _ = request.counted(lambda person: _roles_of(env, person))
    return Given(request, len(counted))


def _open_request(
    env: Environment, incident: Incident, lever: str, *, approve: bool
) -> ApprovalRequest:
    request = pending(incident.approvals, lever)
    where = f"{incident.id} lever {lever!r}"
    if request is None:
        waiting = sorted({r.lever for r in incident.approvals if r.open})
        shown = ", ".join(waiting) or "none"
        raise InputError(f"{where}: no approval of it is pending (pending: {shown})")
    problem = request.eligible(env.operator, lambda person: _roles_of(env, person))
    if problem is not None:
        raise InputError(f"{where}: {problem}; nothing was recorded")
    if any(v.by == env.operator for v in request.verdicts):
        raise InputError(f"{where}: {env.operator} has already answered this request")
    if env.clock.now() >= parse_iso(request.until):
        raise InputError(f"{where}: the request's time ran out at {request.until}; too late")
    _, rejection = request.counted(lambda person: _roles_of(env, person))
    if approve and rejection is not None:  # the walker has not closed it yet: it will reject
        raise InputError(
            f"{where}: {rejection.by} rejected it ({rejection.reason}): it will not be engaged; "
            "nothing was recorded"
        )
    return request


def _roles_of(env: Environment, person: str) -> frozenset[str] | None:
    workspace = env.workspace
    return workspace.roles_of(person) if workspace is not None else None
