"""The engine: a small state machine over a runbook graph.

It knows nothing of terminals or sockets: everything it does to the world goes through the
:class:`~aiir.environment.Environment` (prompter, HTTP client, clock, console) and the
:class:`~aiir.incident.journal.Journal`.

Every effect (an answer, a branch taken, a lever, an action, a capture, a message, a decision) is a
numbered *step*. A resumed walk replays the journal: steps that already have a result are taken
from it, not done again, so the walk arrives where it stopped with the same state. A lever whose
intent was journalled but whose result was not is checked with its verify probe before anything
is sent again: no lever is ever engaged twice. The same holds within a walk: a lever whose last
try may have taken effect (a timeout, a dropped connection, a reply that did not say) is probed
before it is reported, and its state is ``unknown`` when nothing can tell.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from aiir.engine import timers
from aiir.engine.fencing import fence_call, fence_first, fenced
from aiir.engine.frames import (
    FAILURE_OPTIONS,
    Ended,
    Frame,
    Placeholders,
    RunbookSource,
    TemplateContext,
    saved_by,
)
from aiir.engine.loops import Visits, bound
from aiir.engine.nodes import handler_for
from aiir.engine.nodes.actions import after_captures
from aiir.engine.nodes.levers import release_lever
from aiir.engine.nodes.messages import resolve_pages
from aiir.engine.roles import NotYourRole, role_problem
from aiir.engine.screen import ScreenFor
from aiir.environment import Environment
from aiir.errors import InputError
from aiir.formats.answers import lap_answer
from aiir.formats.common import lower_severity
from aiir.formats.profile import Profile
from aiir.formats.schema import Lever, Node, Outcome, Request, Runbook
from aiir.formats.templating import render
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.journal import Event, Journal
from aiir.incident.state import Incident, LeverRecord, LeverStates
from aiir.incident.view import incident_fields
from aiir.outbound.gateway import Call, Reply, build_call
from aiir.outbound.readable import full_request, readable
from aiir.outbound.sending import Sender, Settled
from aiir.prompts import MissingAnswer, Option, Prompter
from aiir.redact import masker
from aiir.timestamps import clock_text, iso, parse_iso

if TYPE_CHECKING:  # notify is imported only when a walk sends a message
    from aiir.incident.writing import Writes
    from aiir.outbound.notify import Delivery, Notifier


ChildFrame = Callable[["Walk", Runbook, bytes, Mapping[str, Any], str], Frame]


class Walk:
    """Walks one incident's runbook graph, journalling every step."""

    def __init__(
        self,
        env: Environment,
        journal: Journal,
        incident: Incident,
        profiles: Mapping[str, Profile],
        source: RunbookSource,
        scripted: Mapping[str, Any],
        secrets: set[str],
        screen: ScreenFor,
        child_frame: ChildFrame | None = None,
    ) -> None:
        self.env = env
        self.journal = journal
        self.incident = incident
        self.profiles = profiles
        self.source = source
        self.scripted = scripted
        self.secrets = secrets
        self.masked = masker(secrets, patterns=False)
        self.screen = screen(self.scrub)
        self.sender = Sender(env.http, env.clock.sleep, on_wait=self.screen.note, clean=self.scrub)
        self.sender.before_try = partial(fence_call, self) if journal.upstream else None
        self.at: tuple[Frame, str] | None = None  # the node entered last (its requests' key)
        self.sent_offline: set[str] = set()  # the store silent: nodes told to send all the same
        self.step = 0
        self.last_recorded = journal.last_step  # a resumed walk replays the steps up to it
        self.frames: dict[str, Frame] = {}
        self.resolve_child = child_frame  # how a called runbook becomes a frame
        self.asked: Counter[str] = Counter()  # per answer key: how often asked (a loop's laps)
        self._saved_by: dict[int, tuple[Runbook, dict[str, str]]] = {}  # by runbook, kept

    # --- journal and replay -----------------------------------------------------------------

    def scrub(self, text: str) -> str:
        return self.masked(text)

    def add_secrets(self, values: set[str]) -> None:
        """More values to mask (a called runbook's secrets), on the screen and in the journal."""
        self.secrets.update(values)
        self.masked = self.journal.scrub = masker(self.secrets, patterns=False)

    def write_from_now(self) -> None:
        """Replay nothing: every event from here on is written as it happens (a release)."""
        self.step = self.last_recorded

    @property
    def replaying(self) -> bool:
        return self.step < self.last_recorded

    def write(
        self, type_: str, data: Mapping[str, Any], *, step: int | None = None
    ) -> Event | None:
        """Append an event (unless replaying one already written) and fold it into the state.
        This is :meth:`record` for any type, unchecked: writers call ``record``."""
        if step is None and self.replaying:
            return None
        self.flush()
        event = self.journal.write(type_, data, step=step)
        for noted in self.journal.take_foreign():  # notes from another terminal, in order
            self.take_in(noted)
        self.incident.apply(event)
        return event

    if TYPE_CHECKING:  # to mypy, each event type takes its own record (aiir.incident.writing)
        record: Writes[Event | None]
    else:
        record = write

    def catch_up(self) -> None:
        """Fold in what others appended meanwhile (notes, approvals, hand-offs), from the feed."""
        for event in self.journal.catch_up():
            self.take_in(event)

    def take_in(self, event: Event) -> None:
        """A side event another terminal appended, folded in; a hand-off is said on screen."""
        self.incident.apply(event)
        if event.type == EventType.INCIDENT_HANDED_OFF:
            self.screen.note(f"handed off to {event.data.get('to')} by {event.data.get('by')}")

    def flush(self) -> None:
        """Journal what others around the walk reported (a tabletop's injects) in order."""
        while self.env.outbox:
            type_, data = self.env.outbox.pop(0)
            self.incident.apply(self.journal.append(type_, data))

    def next_step(self) -> tuple[int, dict[str, Event]]:
        self.step += 1
        if self.step > self.last_recorded:
            return self.step, {}
        return self.step, {e.type: e for e in self.journal.recorded(self.step)}

    def context(self, frame: Frame, **extra: Any) -> TemplateContext:
        now = self.env.clock.now()
        runbook = frame.runbook

        def incident() -> dict[str, Any]:
            return incident_fields(
                self.incident,
                now,
                runbook=runbook.id,
                category=runbook.category or "",
                tags=runbook.tags.model_dump(),
                operator=self.env.operator,
            )

        later: dict[str, Callable[[], Any]] = {
            "incident": incident,
            "levers": lambda: LeverStates.of(self.incident, {runbook.id: runbook}, own=True),
        }
        if self.env.dry_run:  # nothing replies in a dry run: say where each value would come from
            later["vars"] = lambda: self.placeholders(runbook)
        values = {"inputs": frame.inputs, "answers": frame.answers, "env": frame.env}
        if not self.env.dry_run:
            values["vars"] = self.incident.vars
        context = TemplateContext(values, later)
        context.update(extra)
        return context

    def placeholders(self, runbook: Runbook) -> Placeholders:
        """The saved values, and where each one not given yet will come from."""
        sources = self._saved_by.get(id(runbook))
        if sources is None or sources[0] is not runbook:
            sources = (runbook, saved_by(runbook, self.profiles))
            self._saved_by[id(runbook)] = sources
        return Placeholders(self.incident.vars, sources[1])

    # --- the walk ----------------------------------------------------------------------------

    def run(self, frame: Frame) -> Ended:
        """Walk ``frame`` from its start; the root walk also closes the incident."""
        ended = self.walk(frame)
        for walked in list(self.frames.values()):  # called runbooks' evidence too
            after_captures(self, walked)
        resolve_pages(self, ended.outcome)
        data = payloads.IncidentEnded(outcome=ended.outcome.value, summary=ended.summary)
        if ended.claimed is not None:
            data["claimed"] = ended.claimed.value
        timers.finish(self)
        self.record(EventType.INCIDENT_ENDED, data)
        self.screen.ended(self.incident, ended.outcome.value, ended.summary)
        return ended

    def walk(self, frame: Frame) -> Ended:
        self.frames[frame.runbook.id] = frame
        node_id = frame.runbook.start
        visits = Visits()
        while True:
            bounded = bound(self, frame, visits, node_id, frame.runbook.nodes[node_id])
            if isinstance(bounded, Ended):
                return bounded
            if bounded != node_id:  # the operator left the loop by one of its exits
                node_id = bounded
                continue
            node = frame.runbook.nodes[node_id]
            self.enter(frame, node_id, node)
            result = self.handle(frame, node_id, node)
            timers.done(self, frame, node_id)
            if isinstance(result, Ended):
                return result
            node_id = result

    def enter(self, frame: Frame, node_id: str, node: Node) -> None:
        self.at = (frame, node_id)
        if node.severity is not None:
            self.change_severity(frame, node_id, node.severity.value, downgrade=node.downgrade)
        on_call = self.on_call(node.owner)
        self.record(
            EventType.NODE_ENTERED,
            payloads.NodeEntered(
                runbook=frame.runbook.id,
                node=node_id,
                kind=node.kind,
                title=node.title,
                owner=node.owner,
                on_call=on_call,
                severity=self.incident.severity,
            ),
        )
        if not self.replaying:
            self.remind()
            timers.check(self)
            for observer in self.env.observers:
                observer(frame.runbook.id, node_id)
            text = (
                render(node.text, self.context(frame), f"nodes.{node_id}.text") if node.text else ""
            )
            self.screen.node(
                self.incident, frame.runbook, node_id, node, text, self.env.clock.now(), on_call
            )
            timers.show(self)

    def remind(self) -> None:
        """The status-update cadence (:func:`aiir.engine.timers.cadence`: the runbook's, the
        workspace's, or PagerDuty's 5 then 20 minutes). Only a message a status channel took
        counts: a draft, a page or a failed send does not."""
        cadence = timers.cadence(self)
        if self.incident.severity not in cadence.severities:
            return
        now = self.env.clock.now()
        started = parse_iso(self.incident.started_at)
        posted = self.incident.status_posted_at  # folded from the journal: nothing is scanned
        if posted is not None:
            every = cadence.every_at(now - started)
            due, why = (
                parse_iso(posted) + every,
                f"next status update due (every {timers.minutes(every)})",
            )
        else:
            first = cadence.first
            due, why = started + first, f"first status update due within {timers.minutes(first)}"
        if now < due or self.incident.reminded_due == iso(due):
            return
        late = clock_text(now - due).removeprefix("T+")
        self.screen.reminder(f"{why}: overdue by {late}; post one (Slack update, status page)")
        self.record(EventType.REMINDER, payloads.Reminder(due=iso(due), reason=why))

    def on_call(self, role: str | None) -> str | None:
        """Who is on call for a node's owner role, from the workspace roster."""
        if role is None or self.env.workspace is None:
            return None
        return self.env.workspace.on_call(role).label()

    def change_severity(
        self, frame: Frame, node_id: str, severity: str, *, downgrade: bool = False
    ) -> None:
        """Severity only rises: the first one the walk gives sets it (the runbook's is where it
        starts, before triage); a later, lower one is journalled as kept, unless a downgrade."""
        current = self.incident.severity
        runbook = frame.runbook.id
        decided = self.incident.severity_decided
        if decided and lower_severity(severity, current) and not downgrade:
            kept = payloads.SeverityKept(
                severity=current, lower=severity, runbook=runbook, node=node_id
            )
            self.record(EventType.SEVERITY_KEPT, kept)
            if not self.replaying:
                self.screen.note(
                    f"severity stays {current}: {severity} is lower, and severity only rises "
                    "(a downgrade is `downgrade: true` in the runbook or `aiir severity`)"
                )
            return
        if severity != current:
            changed = payloads.SeverityChanged(
                {"from": current, "to": severity, "runbook": runbook, "node": node_id}
            )
            if decided and downgrade and lower_severity(severity, current):
                changed["downgrade"] = True
            if self.record(EventType.SEVERITY_CHANGED, changed) is None:
                self.incident.severity = severity
            if not self.replaying:
                self.screen.severity(severity)

    def handle(self, frame: Frame, node_id: str, node: Node) -> str | Ended:
        """The node's handler, found by its kind (:mod:`aiir.engine.nodes`)."""
        return handler_for(node)(self, frame, node_id, node)

    # --- asking --------------------------------------------------------------------------------

    def ask(
        self,
        frame: Frame,
        node_id: str,
        how: str,
        message: str,
        options: list[Option] | None = None,
        *,
        key: str | None = None,
        default: Any = None,
        check: Callable[[str], str | None] | None = None,
        details: Callable[[], str] | None = None,
        preset: str | None = None,
    ) -> Any:
        """One answer, from the journal when replaying, else from the prompter (and journalled);
        ``details`` (what ``d`` shows) is made only when the prompter is asked.

        A text answer must pass ``check`` before it is journalled: a journalled answer is
        replayed on resume, so a bad one would stop every resume at the same place. With
        ``preset`` (the flag that answered, e.g. ``--yes``) the answer is ``default``, journalled
        without asking: the step exists either way, so a resume with other flags replays alike.
        """
        step, recorded = self.next_step()
        full_key = frame.prefix + (key or node_id)
        lap = self.asked[full_key]
        self.asked[full_key] += 1
        if EventType.ANSWER in recorded:
            value = recorded[EventType.ANSWER].data["value"]
        else:
            self.check_role(frame, node_id)
            if preset is not None and full_key in self.scripted:
                preset = None  # an answer given for this very question beats a blanket flag
            if preset is not None:
                value = default
            else:
                shown = self.scrub(details()) if details is not None else None
                value = self.prompt(
                    full_key, how, self.scrub(message), options or [], default, check, shown, lap
                )
            problem = check(str(value)) if check is not None else None
            if problem is not None:  # a journalled answer is replayed: a bad one never is
                raise InputError(
                    f"answer to {full_key!r}: {problem}: {self.scrub(str(value))!r} "
                    "(not recorded: resume to answer it again)"
                )
            answer = payloads.Answer(
                runbook=frame.runbook.id, node=node_id, key=key or node_id, value=value
            )
            if preset:
                answer["by"] = preset
            self.record(EventType.ANSWER, answer, step=step)
        if key is None:
            frame.answers[node_id] = value
        return value

    def check_role(self, frame: Frame, node_id: str) -> None:
        """With ``enforce_roles: true``, only someone the roster gives a node's owner role (or
        the person it names) answers it; anyone else stops the walk, resumably, and is told
        whom to hand it to. Nothing is journalled as an answer."""
        node = frame.runbook.nodes.get(node_id)
        owner = node.owner if node is not None else None
        problem = role_problem(self.env, owner) if owner is not None else None
        if problem is not None:
            incident = self.incident.id
            raise NotYourRole(
                f"node {node_id!r} is owned by {owner}: {problem}; hand it off "
                f"(aiir handoff {incident} --to {owner}) and let them go on (aiir resume {incident})"
            )

    def prompt(
        self,
        key: str,
        how: str,
        message: str,
        options: list[Option],
        default: Any,
        check: Callable[[str], str | None] | None = None,
        details: str | None = None,
        lap: int = 0,
    ) -> Any:
        """Ask the prompter (the answers file first, for the questions it answers; a list of
        answers answers a node met in a loop, one per visit, ``lap`` counting from 0)."""
        prompter = self.env.prompter
        if hasattr(prompter, "notes"):  # a prompter that takes notes: they go to the journal
            prompter.notes = self.take_note
        found, given = (
            lap_answer(self.scripted[key], how, lap) if key in self.scripted else (False, None)
        )
        if found:
            from aiir.prompts import ScriptedPrompter

            prompter = ScriptedPrompter({key: given}, prompter)
        try:
            return self.ask_prompter(prompter, key, how, message, options, default, check, details)
        except MissingAnswer as exc:
            if key not in self.scripted:
                raise
            count = len(self.scripted[key])
            raise MissingAnswer(
                f"{exc} (the {count} answers to {key!r} in the answers are used up: "
                f"add one for visit {lap + 1} to its list)"
            ) from None

    @staticmethod
    def ask_prompter(
        prompter: Prompter,
        key: str,
        how: str,
        message: str,
        options: list[Option],
        default: Any,
        check: Callable[[str], str | None] | None,
        details: str | None,
    ) -> Any:
        if how == "choose_many":
            return prompter.choose_many(key, message, options)
        if how == "choose":
            return prompter.choose(key, message, options)
        if how == "confirm":
            return prompter.confirm(key, message, bool(default), details)
        if how == "checklist":
            return prompter.checklist(key, message, options)
        return prompter.text(key, message, default, check)

    def take_note(self, text: str) -> None:
        """A note typed at a prompt: journalled with the operator, the question asked again."""
        self.record(EventType.NOTE, payloads.Note(text=self.scrub(text), by=self.env.operator))
        self.screen.note(f"noted by {self.env.operator}")

    # --- levers --------------------------------------------------------------------------------

    def preset(self) -> str | None:
        """The flag that answers every approval, if one was given."""
        return "--yes" if self.env.assume_yes else "--dry-run" if self.env.dry_run else None

    def approve(self, frame: Frame, node_id: str, what: str, call: Call, question: str) -> bool:
        """Ask to go ahead with ``call`` unless a flag pre-approved it; No is the default."""
        preset = self.preset()
        key = f"{node_id}.approve"
        try:
            return bool(
                self.ask(
                    frame,
                    node_id,
                    "confirm",
                    question,
                    key=key,
                    default=bool(preset),
                    details=lambda: full_request(call.summary()),  # not made for --yes
                    preset=preset,
                )
            )
        except MissingAnswer:
            raise MissingAnswer(
                f"{frame.prefix}{node_id}: {what} needs approval and there is no terminal: "
                "pass --yes to pre-approve levers and actions "
                f"(or answer `{frame.prefix}{key}: yes` in --answers)"
            ) from None

    def call_for(
        self, frame: Frame, request: Request, where: str, *, preview: bool = False, **extra: Any
    ) -> Call:
        context = self.context(frame, **extra)
        if preview:  # before the engage has replied: its saved values are placeholders
            context["vars"] = self.placeholders(frame.runbook)
        return build_call(request, where, context, frame.endpoints, self.profiles)

    def release_preview(self, frame: Frame, name: str, lever: Lever) -> str:
        """How a lever will be released, for the operator deciding whether to engage it."""
        if lever.release is None:
            return "no release request: undo it by hand"
        try:
            call = self.call_for(frame, lever.release, f"levers.{name}.release", preview=True)
        except InputError as exc:
            return f"release request cannot be built yet ({exc})"
        return f"{call.method} {readable(call.url)}"

    def send(self, call: Call, settled: Settled | None = None, *, blind: bool = True) -> Reply:
        fence_first(self, call)
        with self.screen.waiting(f"{call.method} {call.url}"):
            return self.sender.send(call, settled, blind=blind)

    def declined(self, frame: Frame, node_id: str, next_node: str) -> str:
        self.screen.note("declined: not sent")
        return next_node

    def decide(
        self,
        frame: Frame,
        node_id: str,
        problem: str,
        options: tuple[Option, ...] = FAILURE_OPTIONS,
    ) -> str:
        self.screen.failure(problem)
        try:
            return str(
                self.ask(
                    frame,
                    node_id,
                    "choose",
                    f"{problem}. What now?",
                    list(options),
                    key=f"{node_id}.on_failure",
                )
            )
        except MissingAnswer:
            self.screen.note(
                f"no terminal and no `{frame.prefix}{node_id}.on_failure` answer: aborting"
            )
            return "abort"

    def failed(
        self, frame: Frame, node_id: str, problem: str, edge: str | None, next_node: str
    ) -> str | Ended | None:
        """Where a step that failed goes: its own failure edge when it has one, else where the
        operator's decision leads; None when they chose to try it again."""
        if edge is not None:
            return edge
        decision = self.decide(frame, node_id, problem)
        return None if decision == "retry" else self.after_failure(frame, decision, next_node)

    def after_failure(self, frame: Frame, decision: str, next_node: str) -> str | Ended:
        if decision == "skip":
            return next_node
        if decision == "release":
            self.release_all()
            return Ended(Outcome.ABORTED, "Walk stopped after a failure; engaged levers released.")
        return Ended(Outcome.FAILED, "Walk aborted after a failure; levers left as they were.")

    def release_all(self) -> None:
        for record in self.incident.needs_release():
            self.release(record)

    def release(self, record: LeverRecord, shown: bool = False) -> bool:
        """Release one lever (journalled); True when confirmed. ``shown``: its request was seen."""
        return release_lever(self, record, shown)

    # --- actions, captures, notifications, calls -----------------------------------------------

    def notifier(self, channel: str) -> Notifier:
        """Where a message goes: the channel itself, or in an exercise the inbox (no channel
        secret is read, nothing reaches a real channel)."""
        from aiir.outbound.notify import Notifier

        if self.env.exercise:
            return self.env.inbox.notifier(channel, self.env.clock.sleep)
        fenced(self, channel)  # a shared store's lease, renewed (or refused, or asked about)
        return Notifier(self.env.http, self.env.clock.sleep, self.env.environ)

    def sent(self, delivery: Delivery, data: payloads.NotifySent, step: int | None = None) -> None:
        """Journal a send (``simulated`` in an exercise) and say what became of it."""
        if self.env.exercise:
            data["simulated"] = self.env.exercise
        self.record(EventType.NOTIFY_SENT, data, step=step)
        self.screen.delivered(
            delivery.channel,
            delivery.ok,
            delivery.reason,
            delivery.reference,
            simulated=bool(self.env.exercise),
            uncertain=delivery.uncertain,
        )
