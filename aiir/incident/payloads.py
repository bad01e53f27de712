"""What each event's data holds, as typed records: one ``TypedDict`` per event type, named once
here and registered by type in :data:`aiir.incident.events.PAYLOADS`.

Reading a journal holds every line to these records (:func:`checks_of`): ``Required[...]`` keys
must be there, and a typed key's value is checked when it is present. ``Unchecked[...]`` keys are
written for people and other tools and only described here: nothing aiir reads back depends on
them. A type alone cannot say that a string is a SHA-256, a UTC time or a file inside the
incident; ``Annotated`` carries those checks. A record built as ``LeverEngaged(runbook=...,
lever=..., ok=True)`` is checked by mypy, key by key.
"""

# No ``from __future__ import annotations``: the records' annotations are read at import time.
from typing import (
    Annotated,
    Any,
    Required,
    TypedDict,
    TypeVar,
    get_args,
    get_origin,
    get_type_hints,
)

from aiir.incident.checks import (
    FLAG,
    MAYBE_TEXT,
    OBJECT,
    SNAPSHOT_DIR,
    TEXT,
    Check,
    evidence_ref,
    hex64,
    inside,
    list_of,
    mapping_of,
    of,
    timestamp,
)

T = TypeVar("T")
UNCHECKED = "unchecked"  # written and documented, not checked when read back
Unchecked = Annotated[T, UNCHECKED]
Sha256 = Annotated[str, hex64]
Time = Annotated[str, timestamp]  # UTC ISO-8601, as the journal writes it
SnapshotFile = Annotated[str, inside(SNAPSHOT_DIR)]  # a runbook copy kept in the incident
EvidenceData = Annotated[dict[str, Any], evidence_ref]  # {"file", "sha256", "bytes"}: EvidenceRef


class IncidentOpened(TypedDict, total=False):
    """``incident.opened``."""

    category: str | None
    drill: bool
    dry_run: bool
    exercise: str | None
    gateways: dict[str, str]
    id: str
    inputs: dict[str, Any]
    runbook: Required[str]
    severity: str
    snapshot: Required[SnapshotFile]
    snapshot_sha256: Sha256
    source: Unchecked[str]
    tags: dict[str, list[Any]]
    title: str
    version: str


SeverityChanged = TypedDict(
    "SeverityChanged",
    {
        "by": str,
        "downgrade": bool,
        "from": str,
        "node": str,
        "reason": str,
        "runbook": str,
        "to": str,
    },
    total=False,
)
"""``severity.changed``."""


class SeverityKept(TypedDict, total=False):
    """``severity.kept``."""

    lower: str
    node: str
    runbook: str
    severity: str


class Answer(TypedDict, total=False):
    """``answer``."""

    by: str | None
    key: str
    node: Required[str]
    runbook: Required[str]
    value: Required[Unchecked[Any]]


class Classified(TypedDict, total=False):
    """``classified``."""

    facts: list[str]
    node: str
    runbook: str


class Branch(TypedDict, total=False):
    """``branch``."""

    case: Unchecked[int | None]
    next: Required[str]
    node: str
    runbook: str
    undecided: list[str]


class NodeEntered(TypedDict, total=False):
    """``node.entered``."""

    kind: str
    node: Required[str]
    on_call: Unchecked[str | None]  # who the roster has on call for the owner role
    owner: Unchecked[str | None]
    runbook: Required[str]
    severity: Unchecked[str]
    title: str


class TaskDone(TypedDict, total=False):
    """``task.done``."""

    by: Required[str]
    node: Required[str]
    note: str | None
    on_call: str | None
    owner: str
    runbook: Required[str]
    task: Required[str]
    title: str
    via: str


class TasksComplete(TypedDict, total=False):
    """``tasks.complete``."""

    done: Required[list[str]]
    needed: int
    node: Required[str]
    runbook: Required[str]


class LeverKeys(TypedDict):
    """The keys every event of one lever's engagement starts with (not an event of its own)."""

    lever: str
    node: str
    runbook: str


class LeverIntent(TypedDict, total=False):
    """``lever.intent``."""

    destroys_evidence: Unchecked[bool]
    dry_run: Unchecked[bool]
    kind: str
    lever: Required[str]
    node: str
    request: Unchecked[dict[str, Any]]
    runbook: Required[str]
    title: str


class LeverEngaged(TypedDict, total=False):
    """``lever.engaged``."""

    confirmed_by_verify: Unchecked[bool]
    dry_run: bool
    engage_failure: Unchecked[dict[str, Any]]  # the failed try's reply, when the probe confirmed
    lever: str
    lost: list[str]
    node: str
    ok: bool
    reply: dict[str, Any]
    runbook: str
    unknown: bool


class LeverVerified(TypedDict, total=False):
    """``lever.verified``."""

    lever: str
    node: str
    ok: bool
    reply: dict[str, Any]
    runbook: str
    unverified: bool
    unanswered: Unchecked[bool]  # unverified because the probe got no answer or a 5xx


class LeverReleased(TypedDict, total=False):
    """``lever.released``."""

    engaged_step: Required[int]
    confirmed_by_verify: Unchecked[bool]  # the request failed, the probe shows it not in effect
    lever: str
    node: str
    not_engaged: Unchecked[bool]
    ok: bool
    reply: dict[str, Any]
    request: Unchecked[dict[str, Any]]
    runbook: str
    still_in_effect: Unchecked[bool | None]  # None: the verify probe could not tell


class ActionIntent(TypedDict, total=False):
    """``action.intent``."""

    node: str
    request: Unchecked[dict[str, Any]]
    runbook: str


class ActionResult(TypedDict, total=False):
    """``action.result``."""

    node: str
    ok: bool
    reply: dict[str, Any]
    runbook: str
    unknown: bool


class CaptureStored(TypedDict, total=False):
    """``capture.stored``."""

    bundle: EvidenceData
    evidence: EvidenceData
    index: Unchecked[int]
    item: str
    node: str
    ok: bool
    part: str
    reply: dict[str, Any]
    runbook: str
    spans: Unchecked[int]
    what: list[str]
    window: Unchecked[dict[str, Any]]
    window_after: Unchecked[str | None]


class EvidenceAttached(TypedDict, total=False):
    """``evidence.attached``."""

    description: str
    evidence: EvidenceData
    item: str
    source: str


class NotifyRendered(TypedDict, total=False):
    """``notify.rendered``."""

    audience: str
    channel: str
    node: str
    runbook: str
    template: Unchecked[str | None]
    text: str
    wire: Unchecked[str]  # as the channel's markup has it, when it differs from the text


class NotifyIntent(TypedDict, total=False):
    """``notify.intent``: a message about to leave, journalled before it is sent. A resume that
    finds one without its ``notify.sent`` knows the message may have been delivered."""

    channel: str
    idempotency_key: Unchecked[str]  # a webhook's Idempotency-Key: the same on a send again
    node: str
    runbook: str
    simulated: Unchecked[str]  # the exercise, whose inbox it goes to
    to: Unchecked[str | None]


class NotifySent(TypedDict, total=False):
    """``notify.sent``."""

    anchor: Unchecked[str]
    attempts: Unchecked[int]
    cause: Unchecked[str]  # why a page is resolved when the walk ends
    channel: str
    node: str
    ok: bool
    reason: str | None
    reference: Unchecked[str | None]
    reply: dict[str, Any]
    request: Unchecked[dict[str, Any]]
    runbook: str
    simulated: Unchecked[str]  # the exercise, when its inbox took the message
    status: int | None
    to: Unchecked[str | None]
    uncertain: Unchecked[bool]  # it went out, no answer says taken or refused (none, a 5xx)


class TicketIntent(TypedDict, total=False):
    """``ticket.intent``: a follow-up about to be filed, journalled before the request leaves.
    One without its ``ticket.filed`` may be in Jira: it is not filed again unseen."""

    action: Required[str]
    channel: str
    item: str
    simulated: Unchecked[str]


class TicketFiled(TypedDict, total=False):
    """``ticket.filed``."""

    action: Required[str]
    anchor: Unchecked[str]
    attempts: Unchecked[int]
    channel: str
    item: str
    kind: Unchecked[str]
    link: Unchecked[dict[str, Any]]  # the link to the parent issue: a delivery, as above
    linked_to: str | None
    ok: Required[bool]
    owner: Unchecked[str]
    reason: str | None
    reference: str | None
    reply: dict[str, Any]
    request: Unchecked[dict[str, Any]]
    simulated: Unchecked[str]  # the exercise, when its inbox took the issue
    status: int | None
    uncertain: Unchecked[bool]  # it went out, no answer says made or refused: look before filing


class CallEntered(TypedDict, total=False):
    """``call.entered``."""

    child: Required[str]
    inputs: dict[str, Any]
    node: str
    ref: str
    runbook: str
    snapshot: SnapshotFile
    snapshot_sha256: Sha256


class CallReturned(TypedDict, total=False):
    """``call.returned``."""

    child: str
    node: str
    outcome: str
    runbook: str


class LimitReached(TypedDict, total=False):
    """``limit.reached``."""

    decision: str
    limit: Required[int]
    node: Required[str]
    runbook: str
    visits: Unchecked[int]


class WaitStarted(TypedDict, total=False):
    """``wait.started``."""

    deadline: Unchecked[str]
    interval: Unchecked[str]
    node: str
    request: Unchecked[dict[str, Any]]
    runbook: str


class WaitEnded(TypedDict, total=False):
    """``wait.ended``."""

    node: str
    ok: bool
    polls: int
    reply: dict[str, Any]
    runbook: str
    timed_out: Unchecked[bool]
    waited_s: Unchecked[int]


class ValuesSet(TypedDict, total=False):
    """``values.set``."""

    node: str
    runbook: str
    values: Required[dict[str, Any]]


class Reminder(TypedDict, total=False):
    """``reminder``."""

    due: Unchecked[str]
    reason: Unchecked[str]


TimerVerdict = TypedDict(
    "TimerVerdict",
    {
        "due": Required[Time],
        "from": Unchecked[str],
        "runbook": Required[str],
        "timer": Required[str],
        "until": Unchecked[str | None],  # None: until the walk ends
        "within": str,
    },
    total=False,
)
"""What a timer's verdict says, met or missed."""


class TimerMet(TimerVerdict, total=False):
    """``timer.met``."""


class TimerMissed(TimerVerdict, total=False):
    """``timer.missed``."""


InjectDelivered = TypedDict(
    "InjectDelivered",
    {
        "at": Unchecked[str],
        "by": Unchecked[str],
        "from": Unchecked[str | None],
        "scenario_time": Unchecked[str],
        "text": Unchecked[str],
    },
    total=False,
)
"""``inject.delivered``."""


class IncidentEnded(TypedDict, total=False):
    """``incident.ended``."""

    claimed: Unchecked[str]
    outcome: Required[str]
    summary: str | None


class IncidentInterrupted(TypedDict, total=False):
    """``incident.interrupted``."""

    reason: str


class StoreSilent(TypedDict, total=False):
    """``store.silent``: a request due while the shared store had not answered the walker for
    longer than its lease (another responder may hold the incident), and whether it was sent."""

    runbook: str
    node: str
    request: Unchecked[str]  # the request or channel it was about
    send: Required[bool]
    by: Unchecked[str]  # who decided: the operator at the terminal, the answers file, nobody
    silent: Unchecked[float | None]  # seconds without an answer (None: since the walk began)
    lease: Unchecked[float]  # the lease's seconds


class IncidentResumed(TypedDict, total=False):
    """``incident.resumed``."""

    after: str | None
    by: str
    from_step: int
    took_over_from: Unchecked[dict[str, Any]]


class IncidentTakenOver(TypedDict, total=False):
    """``incident.taken_over``."""

    by: str
    took_over_from: dict[str, Any]


class Note(TypedDict, total=False):
    """``note``."""

    at: str | None
    by: str
    text: Required[str]
    evidence: EvidenceData  # a file the note is about (a journal line set aside)


class ApprovalRequested(TypedDict, total=False):
    """``approval.requested``."""

    lever: Required[str]
    min: Required[int]
    node: str
    roles: list[str]
    runbook: str
    timeout: str
    until: Required[Time]


class ApprovalGranted(TypedDict, total=False):
    """``approval.granted``."""

    by: Required[str]
    lever: Required[str]
    node: str
    request: Required[int]
    roles: list[str]
    runbook: str
    via: str


class ApprovalRejected(TypedDict, total=False):
    """``approval.rejected``."""

    by: Required[str]
    lever: Required[str]
    node: str
    reason: Required[str]
    request: Required[int]
    runbook: str
    via: str


class ApprovalClosed(TypedDict, total=False):
    """``approval.closed``."""

    approvers: list[str]
    lever: Required[str]
    node: str
    outcome: Required[str]
    reason: str | None
    request: Required[int]
    runbook: str


IncidentHandedOff = TypedDict(
    "IncidentHandedOff",
    {
        "by": Required[str],
        "from": str | None,
        "note": str | None,
        "to": Required[str],
    },
    total=False,
)
"""``incident.handed_off``."""


_PLAIN: dict[Any, Check] = {
    str: TEXT,
    bool: FLAG,
    int: of(int),
    dict[str, Any]: OBJECT,
    dict[str, str]: mapping_of(str),
    dict[str, list[Any]]: mapping_of(list),
    list[str]: list_of(str),
    str | None: MAYBE_TEXT,
    int | None: of(int, None),
}


def checks_of(record: type) -> tuple[frozenset[str], dict[str, Check]]:
    """The keys a record's event must carry, and the check for each key read back."""
    checks: dict[str, Check] = {}
    for key, annotation in get_type_hints(record, include_extras=True).items():
        hint = get_args(annotation)[0] if get_origin(annotation) is Required else annotation
        if get_origin(hint) is Annotated:
            _, *meta = get_args(hint)
            if UNCHECKED not in meta:
                checks[key] = meta[0]
            continue
        if hint is Any:
            continue  # any value (an answer is a string, a yes/no or a list)
        if hint not in _PLAIN:
            raise TypeError(f"{record.__name__}.{key}: {hint} has no check; annotate one")
        checks[key] = _PLAIN[hint]
    return frozenset(getattr(record, "__required_keys__", ())), checks
