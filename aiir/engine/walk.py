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

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

from aiir.engine.screen import ScreenFor
from aiir.environment import Environment
from aiir.errors import InputError
from aiir.formats.schema import (
    CLAIMS_CONTAINMENT,
    FAILING_OUTCOMES,
    ActionNode,
    BranchNode,
    CallNode,
    CaptureItem,
    CaptureNode,
    ChecklistNode,
    ConfirmNode,
    EndNode,
    InputNode,
    Lever,
    LeverNode,
    Node,
    NotifyNode,
    Outcome,
    Profile,
    QuestionNode,
    Request,
    Runbook,
)
from aiir.formats.templating import evaluate, render
from aiir.incident.journal import Event, Journal
from aiir.incident.state import Incident, LeverRecord, LeverStates
from aiir.outbound.gateway import Call, Endpoint, Reply, Sender, build_call, diagnose
from aiir.outbound.readable import full_request, readable
from aiir.prompts import MissingAnswer, Option
from aiir.timestamps import clock_text, iso, parse_iso

if TYPE_CHECKING:  # notify is imported only when a walk sends a message
    from aiir.outbound.notify import Delivery, Notifier

# Where a delivered message counts as a status update for the major-incident cadence. A page
# (PagerDuty) calls people in; it tells nobody how things stand.
STATUS_CHANNELS = frozenset({"slack", "statuspage", "webhook"})
RETRY = Option("retry", "Retry")
SKIP = Option("skip", "Skip it and go on")
KEEP = Option("skip", "Go on; it stays listed as possibly engaged, for release")
RELEASE = Option("release", "Release every engaged lever and stop")
ABORT = Option("abort", "Abort the walk (levers stay as they are)")
FAILURE_OPTIONS = (RETRY, SKIP, RELEASE, ABORT)
DEFAULT_WINDOW = dt.timedelta(hours=1)
NOT_RESENT = (
    "the run stopped after this request may have been sent, and nothing can check whether it "
    "took effect: not sent again"
)
NO_PROBE = "it may have taken effect, and this lever has no verify probe to tell"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Ended:
    """How a walk (or a called runbook) ended; ``claimed`` is what its end node said, when the
    walk could not bear it out (``contained`` with no lever in effect)."""

    outcome: Outcome
    summary: str = ""
    claimed: Outcome | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in FAILING_OUTCOMES


@dataclass
class Frame:
    """One runbook being walked (the root, or one called from it)."""

    runbook: Runbook
    inputs: dict[str, Any]
    endpoints: dict[str, Endpoint]
    env: dict[str, str]
    prefix: str = ""  # answers-file key prefix for called runbooks: "child-id."
    answers: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, str] = field(default_factory=dict)  # a called runbook's copy and hash


MAX_CALL_DEPTH = 32  # runbooks called by called runbooks; far beyond any real hand-off chain


class RunbookSource:
    """Where called runbooks come from: the caller's directory, then the shipped library."""

    def __init__(self, loader: Any, directories: list[Path]) -> None:
        self.loader = loader
        self.directories = directories

    def find(self, runbook_id: str) -> tuple[Runbook, bytes]:
        from aiir.formats.loader import load_file

        for directory in self.directories:
            candidate = directory / f"{runbook_id}.yaml"
            if candidate.is_file():
                return self.loader(candidate), candidate.read_bytes()
        for directory in self.directories:
            for path in sorted(directory.glob("*.yaml")):
                data = load_file(path).data
                if isinstance(data, dict) and data.get("id") == runbook_id:
                    return self.loader(path), path.read_bytes()
        raise InputError(
            f"no runbook with id {runbook_id!r} in {', '.join(map(str, self.directories))}"
        )


def duration(text: str | None, default: dt.timedelta = DEFAULT_WINDOW) -> dt.timedelta:
    if not text:
        return default
    match = _DURATION.match(text)
    if not match:
        return default
    return dt.timedelta(**{_UNITS[match[2]]: int(match[1])})


def saved_by(runbook: Runbook, profiles: Mapping[str, Profile]) -> dict[str, str]:
    """Each value a request of ``runbook`` saves from its reply, and which request saves it."""

    def saves(request: Request) -> list[str]:
        names = list(request.save)
        if request.use is not None:
            profile_name, action_name = request.use.split(".", 1)
            profile = profiles.get(profile_name)
            if profile is not None and action_name in profile.actions:
                names += list(profile.actions[action_name].save)
        return names

    found: dict[str, str] = {}
    for lever in runbook.levers.values():
        for name in saves(lever.engage):
            found.setdefault(name, "engage")
    for node_id, node in runbook.nodes.items():
        if isinstance(node, ActionNode):
            for name in saves(node.request):
                found.setdefault(name, f"action {node_id}")
    return found


class Placeholders(dict[str, Any]):
    """Saved values, and for those no real reply has given yet a placeholder that says where
    the value will come from (``<saved by engage: guardrail_id>``): a dry run and a request
    preview show them instead of failing."""

    def __init__(self, known: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        super().__init__(known)
        self.sources = sources

    def __missing__(self, name: str) -> str:
        if name in self.sources:
            return f"<saved by {self.sources[name]}: {name}>"
        raise KeyError(name)


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
    ) -> None:
        self.env = env
        self.journal = journal
        self.incident = incident
        self.profiles = profiles
        self.source = source
        self.scripted = scripted
        self.secrets = secrets
        self.screen = screen(self.scrub)
        self.sender = Sender(env.http, env.clock.sleep, on_wait=self.screen.note)
        self.step = 0
        self.recorded: dict[int, list[Event]] = {}
        for event in journal.events:
            if event.step is not None:
                self.recorded.setdefault(event.step, []).append(event)
        self.last_recorded = max(self.recorded, default=0)
        self.frames: dict[str, Frame] = {}
        self.reminded_for: dt.datetime | None = None
        self.resolve_child: Callable[[Walk, Runbook, bytes, Mapping[str, Any], str], Frame] | None
        self.resolve_child = (
            None  # set by aiir.respond.session: how a called runbook becomes a frame
        )

    # --- journal and replay -----------------------------------------------------------------

    def scrub(self, text: str) -> str:
        from aiir.redact import scrub

        return scrub(text, self.secrets, patterns=False)

    @property
    def replaying(self) -> bool:
        return self.step < self.last_recorded

    def record(self, type_: str, data: dict[str, Any], step: int | None = None) -> Event | None:
        """Append an event (unless replaying one already written) and fold it into the state."""
        if step is None and self.replaying:
            return None
        self.flush()
        event = self.journal.append(type_, data, step=step)
        self.incident.apply(event)
        return event

    def flush(self) -> None:
        """Journal what others around the walk reported (a tabletop's injects) in order."""
        while self.env.outbox:
            type_, data = self.env.outbox.pop(0)
            self.incident.apply(self.journal.append(type_, data))

    def next_step(self) -> tuple[int, dict[str, Event]]:
        self.step += 1
        return self.step, {e.type: e for e in self.recorded.get(self.step, [])}

    def context(self, frame: Frame, **extra: Any) -> dict[str, Any]:
        started = parse_iso(self.incident.started_at)
        elapsed = self.env.clock.now() - started
        incident = {
            "id": self.incident.id,
            "title": self.incident.title,
            "runbook": frame.runbook.id,
            "severity": self.incident.severity,
            "started_at": self.incident.started_at,
            "elapsed": clock_text(elapsed),
            "operator": self.env.operator,
            "drill": self.incident.drill,
            "exercise": self.incident.exercise or "",
            "outcome": self.incident.outcome or "",
            "category": frame.runbook.category or "",
            "tags": frame.runbook.tags.model_dump(),
        }
        saved: Mapping[str, Any] = self.incident.vars
        if self.env.dry_run:  # nothing replies in a dry run: say where each value would come from
            saved = Placeholders(self.incident.vars, saved_by(frame.runbook, self.profiles))
        return {
            "inputs": frame.inputs,
            "answers": frame.answers,
            "vars": saved,
            "env": frame.env,
            "incident": incident,
            "levers": LeverStates.of(self.incident, {frame.runbook.id: frame.runbook}, own=True),
            **extra,
        }

    # --- the walk ----------------------------------------------------------------------------

    def run(self, frame: Frame) -> Ended:
        """Walk ``frame`` from its start; the root walk also closes the incident."""
        ended = self.walk(frame)
        for walked in list(self.frames.values()):  # called runbooks' evidence too
            self.after_captures(walked)
        self.resolve_pages(ended.outcome)
        data: dict[str, Any] = {"outcome": ended.outcome.value, "summary": ended.summary}
        if ended.claimed is not None:
            data["claimed"] = ended.claimed.value
        self.record("incident.ended", data)
        self.screen.ended(self.incident, ended.outcome.value, ended.summary)
        return ended

    def walk(self, frame: Frame) -> Ended:
        self.frames[frame.runbook.id] = frame
        node_id = frame.runbook.start
        while True:
            node = frame.runbook.nodes[node_id]
            self.enter(frame, node_id, node)
            result = self.handle(frame, node_id, node)
            if isinstance(result, Ended):
                return result
            node_id = result

    def enter(self, frame: Frame, node_id: str, node: Node) -> None:
        if node.severity is not None:
            self.change_severity(frame, node_id, node.severity.value)
        on_call = self.on_call(node.owner)
        self.record(
            "node.entered",
            {
                "runbook": frame.runbook.id,
                "node": node_id,
                "kind": node.kind,
                "title": node.title,
                "owner": node.owner,
                "on_call": on_call,
                "severity": self.incident.severity,
            },
        )
        if not self.replaying:
            self.remind()
            for observer in self.env.observers:
                observer(frame.runbook.id, node_id)
            text = (
                render(node.text, self.context(frame), f"nodes.{node_id}.text") if node.text else ""
            )
            self.screen.node(
                self.incident, frame.runbook, node_id, node, text, self.env.clock.now(), on_call
            )

    def remind(self) -> None:
        """PagerDuty's cadence for major incidents: a first status post within 5 minutes of the
        incident call, then at least every 20 minutes for the first 2 hours (hourly after).
        Only a message a status channel took counts: a draft, a page or a failed send does not."""
        if self.incident.severity not in {"SEV1", "SEV2"}:
            return
        now = self.env.clock.now()
        started = parse_iso(self.incident.started_at)
        posts = [
            parse_iso(e.ts)
            for e in self.incident.events
            if e.type == "notify.sent"
            and e.data.get("ok") is True
            and e.data.get("channel") in STATUS_CHANNELS
        ]
        if posts:
            every = dt.timedelta(minutes=20 if now - started < dt.timedelta(hours=2) else 60)
            due, why = (
                max(posts) + every,
                f"next status update due (every {every.seconds // 60} min)",
            )
        else:
            due, why = started + dt.timedelta(minutes=5), "first status update due within 5 min"
        if now < due or self.reminded_for == due:
            return
        self.reminded_for = due
        late = clock_text(now - due).removeprefix("T+")
        self.screen.reminder(f"{why}: overdue by {late}; post one (Slack update, status page)")
        self.record("reminder", {"due": iso(due), "reason": why})

    def on_call(self, role: str | None) -> str | None:
        """Who is on call for a node's owner role, from the workspace roster."""
        if role is None or self.env.workspace is None:
            return None
        return self.env.workspace.on_call(role).label()

    def change_severity(self, frame: Frame, node_id: str, severity: str) -> None:
        if severity != self.incident.severity:
            data = {
                "from": self.incident.severity,
                "to": severity,
                "runbook": frame.runbook.id,
                "node": node_id,
            }
            if self.record("severity.changed", data) is None:
                self.incident.severity = severity
            if not self.replaying:
                self.screen.severity(severity)

    def handle(self, frame: Frame, node_id: str, node: Node) -> str | Ended:
        if isinstance(node, QuestionNode):
            return self.question(frame, node_id, node)
        if isinstance(node, ConfirmNode):
            yes = self.ask(
                frame, node_id, "confirm", render(node.prompt, self.context(frame), node_id)
            )
            if yes:
                self.classify(frame, node_id, [c.value for c in node.classify])
            return node.yes if yes else node.no
        if isinstance(node, InputNode):
            return self.text_input(frame, node_id, node)
        if isinstance(node, ChecklistNode):
            return self.checklist(frame, node_id, node)
        if isinstance(node, LeverNode):
            return self.lever(frame, node_id, node)
        if isinstance(node, ActionNode):
            return self.action(frame, node_id, node)
        if isinstance(node, CaptureNode):
            return self.capture(frame, node_id, node)
        if isinstance(node, NotifyNode):
            return self.notify(frame, node_id, node)
        if isinstance(node, BranchNode):
            return self.branch(frame, node_id, node)
        if isinstance(node, CallNode):
            return self.call(frame, node_id, node)
        assert isinstance(node, EndNode)
        return self.end(frame, node_id, node)

    def end(self, frame: Frame, node_id: str, node: EndNode) -> Ended:
        """The end node's outcome, when the walk bears it out: ``contained`` needs a lever that
        its probe proved in effect, or the outcome is ``not-contained``, with the reason."""
        summary = (
            render(node.summary, self.context(frame), f"nodes.{node_id}.summary")
            if node.summary
            else ""
        )
        outcome = Outcome(node.outcome.value)
        if outcome not in CLAIMS_CONTAINMENT or self.env.dry_run:
            return Ended(outcome, summary.strip())
        if any(r.state == "verified" for r in self.incident.levers):
            return Ended(outcome, summary.strip())
        levers = [f"{r.lever} {r.state}" for r in self.incident.levers]
        declined = [
            str(a.get("node"))
            for a in self.incident.answers
            if str(a.get("key", "")).endswith(".approve") and a.get("value") is False
        ]
        why = "; ".join(
            filter(
                None,
                [
                    ", ".join(levers) if levers else "no lever was engaged",
                    f"declined at {', '.join(declined)}" if declined else "",
                ],
            )
        )
        reason = f"not contained: no lever is proven in effect ({why})"
        return Ended(Outcome.NOT_CONTAINED, reason, claimed=outcome)

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
        details: str | None = None,
        preset: str | None = None,
    ) -> Any:
        """One answer, from the journal when replaying, else from the prompter (and journalled).

        A text answer must pass ``check`` before it is journalled: a journalled answer is
        replayed on resume, so a bad one would stop every resume at the same place. With
        ``preset`` (the flag that answered, e.g. ``--yes``) the answer is ``default``, journalled
        without asking: the step exists either way, so a resume with other flags replays alike.
        """
        step, recorded = self.next_step()
        if "answer" in recorded:
            value = recorded["answer"].data["value"]
        else:
            full_key = frame.prefix + (key or node_id)
            if preset is not None and full_key in self.scripted:
                preset = None  # an answer given for this very question beats a blanket flag
            if preset is not None:
                value = default
            else:
                value = self.prompt(
                    full_key, how, self.scrub(message), options or [], default, check, details
                )
            problem = check(str(value)) if check is not None else None
            if problem is not None:  # a journalled answer is replayed: a bad one never is
                raise InputError(
                    f"answer to {full_key!r}: {problem}: {self.scrub(str(value))!r} "
                    "(not recorded: resume to answer it again)"
                )
            self.record(
                "answer",
                {
                    "runbook": frame.runbook.id,
                    "node": node_id,
                    "key": key or node_id,
                    "value": value,
                    **({"by": preset} if preset else {}),
                },
                step=step,
            )
        if key is None:
            frame.answers[node_id] = value
        return value

    def prompt(
        self,
        key: str,
        how: str,
        message: str,
        options: list[Option],
        default: Any,
        check: Callable[[str], str | None] | None = None,
        details: str | None = None,
    ) -> Any:
        """Ask the prompter (the answers file first, for the questions it answers)."""
        prompter = self.env.prompter
        if key in self.scripted:
            from aiir.prompts import ScriptedPrompter

            prompter = ScriptedPrompter(self.scripted, prompter)
        if how == "choose":
            return prompter.choose(key, message, options)
        if how == "confirm":
            return prompter.confirm(key, message, bool(default), details)
        if how == "checklist":
            return prompter.checklist(key, message, options)
        return prompter.text(key, message, default, check)

    def question(self, frame: Frame, node_id: str, node: QuestionNode) -> str:
        options = [Option(c.value, c.label) for c in node.choices]
        prompt = render(node.prompt, self.context(frame), f"nodes.{node_id}.prompt")
        value = self.ask(frame, node_id, "choose", prompt, options)
        choice = next(c for c in node.choices if c.value == value)
        if choice.severity is not None:
            self.change_severity(frame, node_id, choice.severity.value)
        self.classify(frame, node_id, [c.value for c in choice.classify])
        return choice.next

    def classify(self, frame: Frame, node_id: str, facts: list[str]) -> None:
        """Record facts that start regulatory clocks; the answer's time is the awareness time."""
        if facts:
            self.record(
                "classified", {"runbook": frame.runbook.id, "node": node_id, "facts": facts}
            )

    def text_input(self, frame: Frame, node_id: str, node: InputNode) -> str:
        context = self.context(frame)
        prompt = render(node.prompt, context, f"nodes.{node_id}.prompt")
        default = (
            render(node.default, context, f"nodes.{node_id}.default") if node.default else None
        )
        self.ask(frame, node_id, "text", prompt, default=default, check=input_check(node))
        return node.next

    def checklist(self, frame: Frame, node_id: str, node: ChecklistNode) -> str:
        options = [Option(i.id, f"{i.text} ({i.owner})" if i.owner else i.text) for i in node.items]
        done = self.ask(frame, node_id, "checklist", f"{node.title}: tick what is done", options)
        missing = [i.id for i in node.items if i.id not in done]
        if missing and not self.replaying:
            self.screen.note(f"open items: {', '.join(missing)}")
        return node.next

    def branch(self, frame: Frame, node_id: str, node: BranchNode) -> str:
        step, recorded = self.next_step()
        if "branch" in recorded:
            return str(recorded["branch"].data["next"])
        context = self.context(frame)
        target, case = node.default, None
        for i, arm in enumerate(node.cases):
            if evaluate(arm.when, context, f"nodes.{node_id}.cases[{i}].when"):
                target, case = arm.next, i
                break
        self.record(
            "branch",
            {"runbook": frame.runbook.id, "node": node_id, "case": case, "next": target},
            step=step,
        )
        return target

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
                    details=full_request(call.summary()),
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
            context["vars"] = Placeholders(
                self.incident.vars, saved_by(frame.runbook, self.profiles)
            )
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

    def lever(self, frame: Frame, node_id: str, node: LeverNode) -> str | Ended:
        lever = frame.runbook.levers[node.lever]
        previous: LeverRecord | None = None
        while True:
            engage = self.call_for(frame, lever.engage, f"levers.{node.lever}.engage")
            if not self.replaying:
                self.screen.lever_request(
                    node.lever, lever, engage, self.release_preview(frame, node.lever, lever)
                )
                if self.env.dry_run:
                    self.dry_run_probes(frame, node.lever, lever)
            question = f"Engage lever {node.lever!r}? y sends {engage.method} {path_of(engage)}"
            what = f"Lever {node.lever!r} ({lever.kind.value})"
            if not self.approve(frame, node_id, what, engage, question):
                return self.declined(frame, node_id, node.next)
            check_first = previous is not None and previous.state == "unknown"
            record = self.pull(frame, node_id, node.lever, lever, engage, check_first=check_first)
            if record.state in {"verified", "engaged", "dry-run"}:
                return node.next
            if node.on_failure is not None:
                return node.on_failure
            options: tuple[Option, ...] = FAILURE_OPTIONS
            if record.state == "unknown" and lever.verify is None:  # nothing could tell: no resend
                options = (KEEP, RELEASE, ABORT)
            problem = f"Lever {node.lever!r}: {record.state}: {record.verdict}"
            decision = self.decide(frame, node_id, problem, options)
            if decision != "retry":
                return self.after_failure(frame, decision, node.next)
            previous = record

    def dry_run_probes(self, frame: Frame, name: str, lever: Lever) -> None:
        """A dry run shows every request a lever would make: its verify probe and release too."""
        for part, request in (("verify", lever.verify), ("release", lever.release)):
            if request is None:
                continue
            call = self.call_for(frame, request, f"levers.{name}.{part}", preview=True)
            self.screen.request(f"Lever {name!r}: {part} (dry run: not sent)", call.summary())

    def pull(
        self,
        frame: Frame,
        node_id: str,
        name: str,
        lever: Lever,
        engage: Call,
        *,
        check_first: bool = False,
    ) -> LeverRecord:
        """Engage then verify one lever, exactly once across interruptions."""
        step, recorded = self.next_step()
        base = {"runbook": frame.runbook.id, "node": node_id, "lever": name}
        if "lever.intent" not in recorded:
            self.record(
                "lever.intent",
                {
                    **base,
                    "title": lever.title,
                    "kind": lever.kind.value,
                    "destroys_evidence": lever.destroys_evidence,
                    "request": engage.summary(),
                    "dry_run": self.env.dry_run,
                },
                step=step,
            )
        record = self.incident.lever_at(step)
        assert record is not None
        if self.env.dry_run:
            self.record("lever.engaged", {**base, "ok": False, "dry_run": True}, step=step)
            self.screen.lever(record)
            return record
        if "lever.engaged" not in recorded:
            resumed = "lever.intent" in recorded or check_first
            self.engage(frame, step, base, lever, engage, resumed=resumed)
        if record.state == "engaged" and "lever.verified" not in recorded:
            self.verify(frame, step, base, lever)
        if not self.replaying or step == self.last_recorded:
            self.screen.lever(record)
        return record

    def engage(
        self,
        frame: Frame,
        step: int,
        base: dict[str, Any],
        lever: Lever,
        engage: Call,
        *,
        resumed: bool,
    ) -> None:
        """Send the engage request and journal what became of it, probing whenever its effect
        is unknown (before a retry, and after a last try that may have taken effect)."""
        if resumed and self.engaged_before(frame, step, base, lever, engage):
            return
        in_place: Reply | None = None

        def settled() -> Reply | None:  # before a retry: did the failed try take effect?
            nonlocal in_place
            verdict, probe = self.probe(frame, base, lever)
            in_place = probe if verdict else None
            return in_place

        reply = self.send(engage, settled if lever.verify is not None else None)
        if in_place is not None:
            self.confirmed(step, base, in_place, engage)
            return
        reply = diagnose(engage, reply, self.profiles, self.send, frame.endpoints[engage.gateway])
        if reply.ok or not reply.uncertain or reply.unavailable:
            self.record(
                "lever.engaged", {**base, "ok": reply.ok, "reply": reply.summary()}, step=step
            )
            return
        self.settle(frame, step, base, lever, engage, reply)

    def settle(
        self,
        frame: Frame,
        step: int,
        base: dict[str, Any],
        lever: Lever,
        engage: Call,
        failure: Reply,
    ) -> None:
        """The last try failed in a way that may still have taken effect: ask the probe."""

        def journal(reason: str, **flags: Any) -> None:
            reply = {**failure.summary(), "reason": reason}
            self.record("lever.engaged", {**base, "ok": False, **flags, "reply": reply}, step=step)

        if lever.verify is None:
            journal(f"{failure.reason}: {NO_PROBE}", unknown=True)
            return
        verdict, probe = self.probe(frame, base, lever)
        if verdict:
            assert probe is not None
            self.confirmed(step, base, probe, engage)
        elif verdict is None:
            why = probe.reason if probe is not None else "the probe could not be sent"
            journal(
                f"{failure.reason}; it may have taken effect, and the verify probe cannot tell "
                f"({why})",
                unknown=True,
            )
        else:
            journal(f"{failure.reason} (the verify probe shows it did not take effect)")

    def probe(
        self, frame: Frame, base: dict[str, Any], lever: Lever
    ) -> tuple[bool | None, Reply | None]:
        """One try of the verify probe: True when the lever is in effect, False when it is
        not, None when the probe got no verdict (no answer, or the gateway failing)."""
        assert lever.verify is not None
        try:
            call = self.call_for(frame, lever.verify, f"levers.{base['lever']}.verify")
        except InputError:
            return None, None
        reply = self.sender.send(dataclasses.replace(call, retries=0))
        if reply.ok:
            return True, reply
        if reply.status is None or reply.status >= 500:
            return None, reply
        return False, reply

    def engaged_before(
        self, frame: Frame, step: int, base: dict[str, Any], lever: Lever, engage: Call
    ) -> bool:
        """The engage may have gone out already (the run stopped between intent and result, or
        the last try's effect is unknown): settle it without engaging twice.

        The verify probe tells whether the lever took effect. Without a probe, or when the probe
        cannot tell, nothing is sent: the lever's state is unknown and the operator decides.
        """
        unknown = {**base, "ok": False, "unknown": True, "reply": {"reason": NOT_RESENT}}
        if lever.verify is None:
            self.record("lever.engaged", unknown, step=step)
            return True
        with self.screen.waiting(f"checking whether lever {base['lever']!r} is in effect"):
            verdict, probe = self.probe(frame, base, lever)
        if verdict is False:
            return False
        if verdict is None:
            self.record("lever.engaged", unknown, step=step)
            return True
        assert probe is not None
        self.confirmed(step, base, probe, engage)
        return True

    def confirmed(self, step: int, base: dict[str, Any], probe: Reply, engage: Call) -> None:
        """The verify probe found the lever in effect, though no engage reply said so."""
        data = {**base, "ok": True, "confirmed_by_verify": True, "reply": probe.summary()}
        if engage.save:  # they come with the engage reply, which is lost or a failure
            data["lost"] = sorted(engage.save)
            self.screen.note(
                f"lever {base['lever']!r} is engaged, but its reply was lost: "
                f"{', '.join(data['lost'])} unknown; its release may need doing by hand"
            )
        self.record("lever.engaged", data, step=step)
        self.record("lever.verified", {**base, "ok": True, "reply": probe.summary()}, step=step)

    def verify(self, frame: Frame, step: int, base: dict[str, Any], lever: Lever) -> None:
        if lever.verify is None:
            return
        reply = self.send(self.call_for(frame, lever.verify, f"levers.{base['lever']}.verify"))
        self.record("lever.verified", {**base, "ok": reply.ok, "reply": reply.summary()}, step=step)

    def send(self, call: Call, settled: Callable[[], Reply | None] | None = None) -> Reply:
        with self.screen.waiting(f"{call.method} {call.url}"):
            return self.sender.send(call, settled)

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

    def release(self, record: LeverRecord) -> bool:
        """Release one engaged lever (journalled); True when the gateway confirmed it.

        A release that cannot be built (it needs a value the lost engage reply carried) is
        journalled as failed, with the request to make by hand; the caller goes on to the rest.
        """
        frame = self.frames.get(record.runbook)
        base = {"runbook": record.runbook, "lever": record.lever, "engaged_step": record.step}
        if frame is None or record.lever not in frame.runbook.levers:
            reason = (
                f"runbook {record.runbook!r} is not loaded: undo lever {record.lever!r} by hand"
            )
            self.record("lever.released", {**base, "ok": False, "reply": {"reason": reason}})
            self.screen.failure(f"Lever {record.lever!r}: {reason}")
            return False
        lever = frame.runbook.levers[record.lever]
        if lever.release is None:
            self.screen.note(f"lever {record.lever!r} has no release; undo it by hand")
            return False
        try:
            call = self.call_for(frame, lever.release, f"levers.{record.lever}.release")
        except InputError as exc:  # e.g. a value saved from a lost engage reply: go on to the rest
            manual = self.release_preview(frame, record.lever, lever)
            reason = (
                f"release request could not be built ({exc}); undo it on the gateway by hand: "
                f"{manual}"
            )
            self.record("lever.released", {**base, "ok": False, "reply": {"reason": reason}})
            self.screen.failure(f"Lever {record.lever!r}: {reason}")
            return False
        self.screen.request(f"Release {record.lever!r}", call.summary())
        reply = self.send(call)
        self.record(
            "lever.released",
            {**base, "ok": reply.ok, "request": call.summary(), "reply": reply.summary()},
        )
        self.screen.lever(record)
        return reply.ok

    # --- actions, captures, notifications, calls -----------------------------------------------

    def action(self, frame: Frame, node_id: str, node: ActionNode) -> str | Ended:
        while True:
            call = self.call_for(frame, node.request, f"nodes.{node_id}.request")
            if not self.replaying:
                self.screen.request(f"Action {node.title!r}", call.summary())
            question = f"Send this request? y sends {call.method} {path_of(call)}"
            if not self.approve(frame, node_id, f"Action {node.title!r}", call, question):
                return self.declined(frame, node_id, node.next)
            step, recorded = self.next_step()
            base = {"runbook": frame.runbook.id, "node": node_id}
            if "action.result" in recorded:
                ok = bool(recorded["action.result"].data.get("ok"))
            elif self.env.dry_run:
                ok = True
            elif "action.intent" in recorded:  # stopped after the intent: never re-sent blindly
                unknown = {"ok": False, "unknown": True, "reply": {"reason": NOT_RESENT}}
                self.record("action.result", {**base, **unknown}, step=step)
                self.screen.note(f"action {node_id!r}: {NOT_RESENT}")
                ok = False
            else:
                self.record("action.intent", {**base, "request": call.summary()}, step=step)
                reply = self.send(call)
                self.record(
                    "action.result", {**base, "ok": reply.ok, "reply": reply.summary()}, step=step
                )
                self.screen.reply(reply)
                ok = reply.ok
            frame.answers[node_id] = "ok" if ok else "failed"
            if ok:
                return node.next
            if node.on_failure is not None:
                return node.on_failure
            decision = self.decide(frame, node_id, f"Action {node.title!r} failed")
            if decision != "retry":
                return self.after_failure(frame, decision, node.next)

    def capture(self, frame: Frame, node_id: str, node: CaptureNode) -> str | Ended:
        for index, item in enumerate(node.items):
            outcome = self.capture_item(frame, node_id, index, item, "before")
            if isinstance(outcome, Ended):
                return outcome
        return node.next

    def window(self, item: CaptureItem, part: str) -> dict[str, str]:
        started = parse_iso(self.incident.started_at)
        start = started - duration(item.window_before)
        if part == "before":
            end = self.env.clock.now()
        else:
            end = min(self.env.clock.now(), started + duration(item.window_after))
        return {"start": iso(start), "end": iso(end)}

    def capture_item(
        self, frame: Frame, node_id: str, index: int, item: CaptureItem, part: str
    ) -> str | Ended | None:
        while True:
            window = self.window(item, part)
            call = self.call_for(
                frame, item.request, f"nodes.{node_id}.items[{index}].request", window=window
            )
            step, recorded = self.next_step()
            if "capture.stored" in recorded:
                return None
            if self.env.dry_run:
                self.screen.request(f"Capture {item.name!r} ({part})", call.summary())
                return None
            reply = self.send(call)
            suffix = "json" if reply.json() is not None else "txt"
            name = f"{node_id}.{item.name}.{part}.{step}.{suffix}"
            relative, digest = self.journal.store_evidence(name, self.scrub(reply.text).encode())
            data = {
                "runbook": frame.runbook.id,
                "node": node_id,
                "item": item.name,
                "part": part,
                "what": [w.value for w in item.what],
                "window": window,
                "window_after": item.window_after,
                "index": index,
                "ok": reply.ok,
                "evidence": {
                    "file": relative,
                    "sha256": digest,
                    "bytes": reply.size,
                    "truncated": reply.size > len(reply.body),  # only the first MAX_BODY kept
                },
                "reply": {k: v for k, v in reply.summary(0).items() if k != "body"},
            }
            self.record("capture.stored", data, step=step)
            self.screen.captured(item.name, relative, digest, reply)
            if reply.ok or part == "after":
                return None
            decision = self.decide(frame, node_id, f"Capture {item.name!r}: {reply.reason}")
            if decision != "retry":
                outcome = self.after_failure(frame, decision, "")
                return outcome if isinstance(outcome, Ended) else None

    def after_captures(self, frame: Frame) -> None:
        """At the end, fetch each capture's "after" window again."""
        for node_id, node in frame.runbook.nodes.items():
            if not isinstance(node, CaptureNode):
                continue
            taken = {
                e["item"]
                for e in self.incident.evidence
                if e.get("node") == node_id
                and e.get("runbook") == frame.runbook.id
                and e.get("part") == "before"
            }
            for index, item in enumerate(node.items):
                if item.window_after and item.name in taken:
                    self.capture_item(frame, node_id, index, item, "after")

    def notify(self, frame: Frame, node_id: str, node: NotifyNode) -> str:
        """Render the message (journalled), then send it where the workspace says (journalled).

        In an exercise (sandbox, drill, tabletop) the message goes to the exercise's inbox:
        nothing leaves for a real channel, and the journal says it was simulated."""
        from aiir.outbound import dispatch

        step, recorded = self.next_step()
        if "notify.rendered" in recorded:
            rendered = recorded["notify.rendered"].data
            text = str(rendered.get("wire", rendered.get("text", "")))
        else:
            text = self.render_message(frame, node_id, node, step)  # the channel's wire form
        target = dispatch.route(node, self.env.workspace)
        if not target.ready or self.env.dry_run:
            if not self.replaying and node.channel != "record":
                self.screen.note(target.reason or "dry run: not sent")
            return node.next
        if dispatch.external(node) and not self.approve_message(frame, node_id, node):
            return node.next
        if "notify.sent" not in recorded:
            self.send_message(frame, node_id, node, text, step)
        return node.next

    def approve_message(self, frame: Frame, node_id: str, node: NotifyNode) -> bool:
        """External communications wait for the incident commander (or --yes); No is the default."""
        commander = self.on_call("incident-commander") or "the incident commander"
        preset = "--yes" if self.env.assume_yes else None
        where = f"{node.channel} (sandbox)" if self.env.exercise else node.channel
        try:
            approved = bool(
                self.ask(
                    frame,
                    node_id,
                    "confirm",
                    f"{commander}: approve this {node.audience} message? "
                    f"y sends it to {where} now, N does not",
                    key=f"{node_id}.approve",
                    default=bool(preset),
                    preset=preset,
                )
            )
        except MissingAnswer:
            raise MissingAnswer(
                f"{frame.prefix}{node_id}: an external message needs the incident commander's "
                f"approval and there is no terminal: pass --yes (or answer `{frame.prefix}{node_id}.approve: yes`)"
            ) from None
        if not approved:
            self.screen.note("not approved: not sent")
        return approved

    def send_message(
        self, frame: Frame, node_id: str, node: NotifyNode, text: str, step: int
    ) -> None:
        from aiir.outbound import dispatch
        from aiir.outbound.notify import Delivery

        assert self.env.workspace is not None
        from aiir.incident.journal import short_anchor

        notifier = self.notifier(node.channel)
        label = f"{node.channel} (sandbox)" if self.env.exercise else node.channel
        anchor = short_anchor(self.journal.anchor())  # the head as the message leaves
        with self.screen.waiting(f"sending to {label}"):
            try:
                delivery = dispatch.deliver(
                    node,
                    text,
                    self.incident,
                    self.env.workspace,
                    notifier,
                    self.incident.vars,
                    runbook_url=frame.runbook.url,
                    anchor=anchor,
                )
            except InputError as exc:  # an unset secret or roster entry: never stop containment
                delivery = Delivery(node.channel, False, None, 0, "", {}, reason=str(exc))
        reply: dict[str, Any] = {"body": delivery.reply}  # the receiver's answer, secrets masked
        if node.channel == "statuspage" and delivery.ok and delivery.reference:
            reply["saved"] = {dispatch.STATUSPAGE_VAR: delivery.reference}
        data = {
            "runbook": frame.runbook.id,
            "node": node_id,
            **delivery.as_dict(),
            "to": node.to,
            "anchor": anchor,
            "reply": reply,
        }
        self.sent(delivery, data, step)

    def notifier(self, channel: str) -> Notifier:
        """Where a message goes: the channel itself, or in an exercise the inbox (no channel
        secret is read, nothing reaches a real channel)."""
        from aiir.outbound.notify import Notifier

        if self.env.exercise:
            return self.env.inbox.notifier(channel, self.env.clock.sleep)
        return Notifier(self.env.http, self.env.clock.sleep, self.env.environ)

    def sent(self, delivery: Delivery, data: dict[str, Any], step: int | None = None) -> None:
        """Journal a send (``simulated`` in an exercise) and say what became of it."""
        if self.env.exercise:
            data["simulated"] = self.env.exercise
        self.record("notify.sent", data, step=step)
        self.screen.delivered(
            delivery.channel,
            delivery.ok,
            delivery.reason,
            delivery.reference,
            simulated=bool(self.env.exercise),
        )

    def resolve_pages(self, outcome: Outcome) -> None:
        """An incident that ended resolves the pages it opened (see dispatch.resolutions)."""
        if self.env.dry_run or self.env.workspace is None:
            return
        from aiir.outbound.dispatch import resolutions

        for delivery, data in resolutions(
            outcome,
            self.incident,
            self.env.workspace,
            lambda: self.notifier("pagerduty"),
            simulated=bool(self.env.exercise),
        ):
            self.sent(delivery, data)

    def render_message(self, frame: Frame, node_id: str, node: NotifyNode, step: int) -> str:
        """Journal and show the message as plain text; return its wire form for the channel
        (the values inserted escaped for the channel's markup, e.g. Slack's)."""
        from aiir.outbound.dispatch import markup

        context = self.context(frame)

        def draw(markup: str | None) -> str:
            if node.template is not None:
                from aiir.reports.context import report_context
                from aiir.reports.templates import render_named

                override = self.env.workspace.template_dir() if self.env.workspace else None
                base = report_context(self.incident, self.env.workspace, self.env.clock.now())
                merged = {
                    **base,
                    **context,
                    "incident": {**base["incident"], **context["incident"]},
                    "levers": base[
                        "levers"
                    ],  # a status update tells of every lever, called ones too
                }
                return render_named(node.template, merged, self.incident, override, markup=markup)
            source = node.message or ""
            return render(source, context, f"nodes.{node_id}.message", markup=markup)

        text = draw(None)
        channel_markup = markup(node.channel)
        wire = draw(channel_markup).strip() if channel_markup else text.strip()
        data = {
            "runbook": frame.runbook.id,
            "node": node_id,
            "channel": node.channel,
            "audience": node.audience,
            "template": node.template,
            "text": text.strip(),
            **({"wire": wire} if wire != text.strip() else {}),
        }
        self.record("notify.rendered", data, step=step)
        self.screen.message(node.channel, node.audience, text.strip())
        return wire

    def call(self, frame: Frame, node_id: str, node: CallNode) -> str | Ended:
        """Walk a called runbook. Its environment and gateways are checked here, when the walk
        reaches it, before anything of it is sent (every missing variable named at once)."""
        assert self.resolve_child is not None
        if frame.prefix.count(".") >= MAX_CALL_DEPTH:  # validation refuses call cycles; a backstop
            raise InputError(
                f"nodes.{node_id}: calls nest {MAX_CALL_DEPTH} deep: not calling {node.runbook!r} "
                "again (a cycle of calls?)"
            )
        child_runbook, raw = self.source.find(node.runbook)
        context = self.context(frame)
        given = {
            k: render(v, context, f"nodes.{node_id}.inputs.{k}") for k, v in node.inputs.items()
        }
        child = self.resolve_child(self, child_runbook, raw, given, frame.prefix)
        self.record(
            "call.entered",
            {
                "runbook": frame.runbook.id,
                "node": node_id,
                "child": child_runbook.id,
                "inputs": child.inputs,
                **child.snapshot,
            },
        )
        ended = self.walk(child)
        self.record(
            "call.returned",
            {
                "runbook": frame.runbook.id,
                "node": node_id,
                "child": child_runbook.id,
                "outcome": ended.outcome.value,
            },
        )
        frame.answers[node_id] = ended.outcome.value
        if node.next is None or ended.failed:
            return ended
        return node.next


def path_of(call: Call) -> str:
    """The part of a request's URL the operator does not already see in the box above."""
    return readable(httpx2.URL(call.url).raw_path.decode("ascii", errors="replace"))


def input_check(node: InputNode) -> Callable[[str], str | None]:
    """What is wrong with a free-text answer, in words: required unless the node says not,
    and matching the node's pattern (its ``hint`` says what is expected)."""

    def check(answer: str) -> str | None:
        if not answer.strip():
            return None if not node.required else "an answer is required"
        if node.pattern and not re.fullmatch(node.pattern, answer):
            return (
                f"expected {node.hint}"
                if node.hint
                else "that answer does not have the expected form"
            )
        return None

    return check
