"""Writing an event: each event type with its own record, checked by mypy.

:class:`Writes` is the type of :meth:`aiir.incident.journal.Journal.append` and of
:meth:`aiir.engine.walk.Walk.record`: one overload per event type, pairing the type with its record
in :mod:`aiir.incident.payloads` (as :data:`aiir.incident.events.PAYLOADS` does for reading), so
``walk.record(EventType.LEVER_ENGAGED, payloads.LeverVerified(...))`` is a mypy error, and so is a
key the record does not declare or a value of another type. At run time nothing here is called:
a record is a plain dict, and both methods write it as they always have.
``tests/incident/test_event_types.py`` holds these overloads and ``PAYLOADS`` to one pairing.
"""

from typing import Literal, Protocol, TypeVar, overload

from aiir.incident import payloads
from aiir.incident.events import EventType

R_co = TypeVar("R_co", covariant=True)  # what a write returns: the event (None when replaying one)


class Writes(Protocol[R_co]):
    """Append an event of ``type_`` with ``data``, the record of that type."""

    @overload
    def __call__(
        self,
        type_: Literal[EventType.INCIDENT_OPENED],
        data: payloads.IncidentOpened,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.SEVERITY_CHANGED],
        data: payloads.SeverityChanged,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.SEVERITY_KEPT],
        data: payloads.SeverityKept,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self, type_: Literal[EventType.ANSWER], data: payloads.Answer, *, step: int | None = None
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.CLASSIFIED],
        data: payloads.Classified,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self, type_: Literal[EventType.BRANCH], data: payloads.Branch, *, step: int | None = None
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.NODE_ENTERED],
        data: payloads.NodeEntered,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.TASK_DONE],
        data: payloads.TaskDone,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.TASKS_COMPLETE],
        data: payloads.TasksComplete,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.LEVER_INTENT],
        data: payloads.LeverIntent,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.LEVER_ENGAGED],
        data: payloads.LeverEngaged,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.LEVER_VERIFIED],
        data: payloads.LeverVerified,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.LEVER_RELEASED],
        data: payloads.LeverReleased,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.ACTION_INTENT],
        data: payloads.ActionIntent,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.ACTION_RESULT],
        data: payloads.ActionResult,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.CAPTURE_STORED],
        data: payloads.CaptureStored,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.EVIDENCE_ATTACHED],
        data: payloads.EvidenceAttached,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.NOTIFY_RENDERED],
        data: payloads.NotifyRendered,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.NOTIFY_INTENT],
        data: payloads.NotifyIntent,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.NOTIFY_SENT],
        data: payloads.NotifySent,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.TICKET_INTENT],
        data: payloads.TicketIntent,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.TICKET_FILED],
        data: payloads.TicketFiled,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.CALL_ENTERED],
        data: payloads.CallEntered,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.CALL_RETURNED],
        data: payloads.CallReturned,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.LIMIT_REACHED],
        data: payloads.LimitReached,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.WAIT_STARTED],
        data: payloads.WaitStarted,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.WAIT_ENDED],
        data: payloads.WaitEnded,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.VALUES_SET],
        data: payloads.ValuesSet,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.REMINDER],
        data: payloads.Reminder,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.TIMER_MET],
        data: payloads.TimerMet,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.TIMER_MISSED],
        data: payloads.TimerMissed,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.INJECT_DELIVERED],
        data: payloads.InjectDelivered,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.INCIDENT_ENDED],
        data: payloads.IncidentEnded,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.INCIDENT_INTERRUPTED],
        data: payloads.IncidentInterrupted,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.INCIDENT_RESUMED],
        data: payloads.IncidentResumed,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.INCIDENT_TAKEN_OVER],
        data: payloads.IncidentTakenOver,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self, type_: Literal[EventType.NOTE], data: payloads.Note, *, step: int | None = None
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.APPROVAL_REQUESTED],
        data: payloads.ApprovalRequested,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.APPROVAL_GRANTED],
        data: payloads.ApprovalGranted,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.APPROVAL_REJECTED],
        data: payloads.ApprovalRejected,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.APPROVAL_CLOSED],
        data: payloads.ApprovalClosed,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.INCIDENT_HANDED_OFF],
        data: payloads.IncidentHandedOff,
        *,
        step: int | None = None,
    ) -> R_co: ...

    @overload
    def __call__(
        self,
        type_: Literal[EventType.STORE_SILENT],
        data: payloads.StoreSilent,
        *,
        step: int | None = None,
    ) -> R_co: ...
