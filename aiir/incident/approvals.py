"""The two-person rule, read from the journal: a walker asks for approvals of a lever
(``approval.requested``), other people grant or reject it from their own terminals (side events
naming the request's ``seq``), and the walker closes the request (``approval.closed``).

Who has approved is folded from the events, never held in the walker's memory, so an approval
appended by another process (or, through a shared store, another machine) counts like one given
here. Which approvals count is decided by :meth:`ApprovalRequest.counted`: never the requester's
own, each person once, and with ``roles`` only people the roster gives one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from aiir.incident.events import EventType
from aiir.incident.journal import Event

APPROVED, REJECTED, TIMED_OUT = "approved", "rejected", "timed-out"
# The roles the roster gives a person (None: there is no roster to ask).
RolesOf = Callable[[str], Collection[str] | None]


@dataclass(frozen=True)
class Verdict:
    """One person's approval or rejection of a request."""

    by: str
    approved: bool
    at: str
    reason: str = ""
    via: str = "terminal"


@dataclass
class ApprovalRequest:
    """A lever waiting for approvals, and what others said of it."""

    seq: int  # the request's own line: what approvals name
    step: int | None
    runbook: str
    node: str
    lever: str
    requester: str
    needed: int
    roles: tuple[str, ...]
    until: str
    verdicts: list[Verdict] = field(default_factory=list)
    outcome: str | None = None

    @property
    def open(self) -> bool:
        return self.outcome is None

    def eligible(self, person: str, roles_of: RolesOf) -> str | None:
        """Why ``person`` cannot approve or reject this request, or None when they can."""
        if person == self.requester:
            return (
                f"{person} asked for this approval: another person must approve or reject it "
                "(the two-person rule)"
            )
        if not self.roles:
            return None
        theirs = roles_of(person)
        if theirs is None:
            return (
                f"only {' or '.join(self.roles)} may approve, and there is no team roster here "
                f"to show that {person} is one"
            )
        if not set(self.roles) & set(theirs):
            held = ", ".join(sorted(theirs)) or "no role"
            return (
                f"only {' or '.join(self.roles)} may approve; the team roster gives {person} {held}"
            )
        return None

    def counted(self, roles_of: RolesOf) -> tuple[list[Verdict], Verdict | None]:
        """The approvals that count (each eligible person's first word, in order) and the first
        eligible rejection, if any."""
        seen: set[str] = set()
        approvals: list[Verdict] = []
        for verdict in self.verdicts:
            if verdict.by in seen or self.eligible(verdict.by, roles_of) is not None:
                continue
            seen.add(verdict.by)
            if not verdict.approved:
                return approvals, verdict
            approvals.append(verdict)
        return approvals, None


def request_of(event: Event) -> ApprovalRequest:
    data = event.data
    return ApprovalRequest(
        seq=event.seq,
        step=event.step,
        runbook=str(data.get("runbook", "")),
        node=str(data.get("node", "")),
        lever=str(data["lever"]),
        requester=event.operator,
        needed=int(data["min"]),
        roles=tuple(data.get("roles", ())),
        until=str(data["until"]),
    )


def verdict_of(event: Event) -> Verdict:
    data = event.data
    return Verdict(
        by=str(data["by"]),
        approved=event.type == EventType.APPROVAL_GRANTED,
        at=event.ts,
        reason=str(data.get("reason") or ""),
        via=str(data.get("via") or "terminal"),
    )


def pending(requests: Collection[ApprovalRequest], lever: str) -> ApprovalRequest | None:
    """The open request for ``lever`` (the newest, should there be more)."""
    found = [r for r in requests if r.open and r.lever == lever]
    return found[-1] if found else None
