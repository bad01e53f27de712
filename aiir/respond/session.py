"""Start, resume and release: everything between the command line and the engine.

Bad input (an invalid runbook, an unknown ``--set`` or ``--gateway``, a wrong answers file, a
missing required input or environment variable) is found here, before an incident exists, so
nothing is executed and nothing is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiir.engine.approvals import practice_only
from aiir.engine.frames import Ended, Frame, RunbookSource
from aiir.engine.screen import ScreenFor
from aiir.engine.walk import Walk
from aiir.environment import SANDBOX_URL, Environment
from aiir.errors import AiirError, ExitStatus, InputError
from aiir.formats.findings import parse
from aiir.formats.includes import resolved_bytes
from aiir.formats.library import data_dir, profiles
from aiir.formats.loader import load_file
from aiir.formats.schema import Runbook
from aiir.incident import payloads
from aiir.incident.events import EventType, EvidenceRef
from aiir.incident.journal import Event, Journal, JournalConflict
from aiir.incident.lock import IncidentLock
from aiir.incident.opening import discard, staged_incident
from aiir.incident.replica import Replica
from aiir.incident.state import Incident, new_incident
from aiir.outbound.gateway import Endpoint
from aiir.redact import mask_bytes, masker
from aiir.respond.preparation import (
    endpoints_for,
    env_values,
    practising,
    preflight,
    reachable_runbooks,
    same_gateways,
    secret_values,
    tell_unsent_userinfo,
)
from aiir.respond.shared import for_new, taken_up
from aiir.timestamps import iso
from aiir.validate.answers import coerce_inputs, load_answers
from aiir.validate.checked import load_checked

SNAPSHOTS = "runbooks"


def checked_loader(env: Environment) -> Callable[[Path], Runbook]:
    """:func:`load_checked` with the team's own gateway profiles and roles of ``env``."""
    roles = env.workspace.roles() if env.workspace is not None else None
    return functools.partial(load_checked, profile_folders=env.profile_dirs, roles=roles)


def terminal_screen(env: Environment) -> ScreenFor:
    """The walk's screen, drawn on the environment's console."""
    from aiir.terminal.screen import TerminalScreen

    return functools.partial(TerminalScreen, env.console)


@dataclass(frozen=True)
class Attachment:
    """Evidence that came with the incident's opening (what detected or reported it)."""

    name: str
    content: bytes
    description: str
    source: str = "aiir"


@dataclass
class RunResult:
    """The incident and how the walk ended (``ended`` is None when it was interrupted)."""

    incident: Incident
    ended: Ended | None

    @property
    def exit_status(self) -> ExitStatus:
        if self.ended is None:
            return ExitStatus.INTERRUPTED
        return ExitStatus.FAILED if self.ended.failed else ExitStatus.OK


# --- loading and checking ----------------------------------------------------------------------


# --- frames ------------------------------------------------------------------------------------


def child_frame(
    walk: Walk, runbook: Runbook, raw: bytes, given: Mapping[str, Any], prefix: str
) -> Frame:
    """A frame for a called runbook; its source is kept beside the journal, and its hash goes
    into ``call.entered`` (``Frame.snapshot``). The copy is kept last, once nothing can refuse
    the call: a copy no line names is one ``aiir verify`` calls added."""
    env_vals = env_values(runbook, walk.env.environ, dry_run=practising(walk.env))
    endpoints = endpoints_for(runbook, walk.env, env_vals)
    walk.add_secrets(secret_values(runbook, env_vals, endpoints))
    inputs = coerce_inputs(runbook, given, f"call of {runbook.id}:")
    snapshot, digest = walk.journal.store_snapshot(runbook.id, raw)
    return Frame(
        runbook=runbook,
        inputs=inputs,
        endpoints=endpoints,
        env=env_vals,
        prefix=f"{prefix}{runbook.id}.",
        snapshot={"snapshot": snapshot, "snapshot_sha256": digest},
    )


# --- start, resume, release ----------------------------------------------------------------------


def start(
    path: Path,
    env: Environment,
    *,
    inputs: Mapping[str, Any] | None = None,
    answers: Path | None = None,
    scripted: Mapping[str, Any] | None = None,
    drill: bool = False,
    attachments: Sequence[Attachment] = (),
    check_all: bool = False,
) -> RunResult:
    """Open an incident for the runbook at ``path`` and walk it.

    Answers come from an ``answers`` file or, already checked, as ``scripted`` (drills).
    ``attachments`` (what opened the incident: a failed canary, a human report) are stored as
    evidence and journalled right after the incident opens.
    """
    load = checked_loader(env)
    runbook = load(path)
    if answers is not None:
        scripted = load_answers(answers, runbook)
    practice_only(scripted or {}, env.exercise)
    source = RunbookSource(load, [path.parent, data_dir("runbooks")])
    preflight(reachable_runbooks(runbook, source), env, check_all=check_all)
    values = coerce_inputs(runbook, inputs or {}, "--set")
    env_vals = env_values(runbook, env.environ, dry_run=practising(env))
    endpoints = endpoints_for(runbook, env, env_vals)
    secrets = secret_values(runbook, env_vals, endpoints)
    journal = _new_journal(env, masker(secrets, patterns=False))
    with _closed_on_error(journal):
        incident = _opened(
            journal, path, runbook, values, endpoints, drill=drill, exercise=env.exercise
        )
        for item in attachments:
            incident.apply(_attach(journal, item))
        walk = Walk(
            env,
            journal,
            incident,
            profiles(env.environ),
            source,
            scripted or {},
            secrets,
            screen=terminal_screen(env),
            child_frame=child_frame,
        )
    frame = Frame(runbook, values, endpoints, env_vals)
    walk.screen.opened(incident, runbook)
    tell_unsent_userinfo(endpoints, walk.screen.note)
    _tell_store(walk)
    return _walk(walk, frame)


def _new_journal(env: Environment, scrub_text: Callable[[str], str]) -> Journal:
    """A new incident's journal: its folder made exclusively where no reader looks, and locked,
    before any line; the first line moves it into place (:mod:`aiir.incident.opening`)."""
    now = env.clock.now()
    if env.dry_run:  # a dry run writes nothing: no directory, no lock
        incident_id, directory = new_incident(env.incidents_dir, now, persist=False)
        return Journal(
            directory, env.operator, lambda: iso(env.clock.now()), scrub_text, persist=False
        )
    incident_id, staged = staged_incident(env.incidents_dir, now)
    lock = IncidentLock(staged, incident_id, env.operator, iso(now))
    try:
        lock.acquire()
        upstream = for_new(env, incident_id, iso(now))  # a shared store's lease, if any
    except BaseException:
        lock.release()
        discard(staged)
        raise
    return Journal(
        staged,
        env.operator,
        lambda: iso(env.clock.now()),
        scrub_text,
        lock=lock,
        upstream=upstream,
        home=env.incidents_dir / incident_id,
    )


def _tell_store(walk: Walk) -> None:
    """What happens to a shared store (it stops answering mid-walk) is said on the walk's
    screen."""
    if isinstance(walk.journal.upstream, Replica):
        walk.journal.upstream.tell(walk.screen.note)


@contextlib.contextmanager
def _closed_on_error(journal: Journal) -> Iterator[None]:
    """Until the walk takes the journal over: on any error, close it (and let go of the lock).
    An error after a cut line was set aside says so too: the journal changed all the same."""
    try:
        yield
    except BaseException as exc:
        journal.close()
        if journal.home is not None:  # no first line: no incident, nothing left of its opening
            discard(journal.directory)
        journal.cut_said_in(exc)
        raise


def _opened(
    journal: Journal,
    path: Path,
    runbook: Runbook,
    values: Mapping[str, Any],
    endpoints: Mapping[str, Endpoint],
    *,
    drill: bool,
    exercise: str | None,
) -> Incident:
    """Keep a copy of the runbook and open the incident with it, its hash in the first line."""
    snapshot, digest = journal.store_snapshot(runbook.id, resolved_bytes(path))
    opened = journal.append(
        EventType.INCIDENT_OPENED,
        payloads.IncidentOpened(
            id=journal.directory.name,
            runbook=runbook.id,
            version=runbook.version,
            title=runbook.title,
            severity=runbook.severity.value,
            category=runbook.category,
            tags=runbook.tags.model_dump(),
            inputs=dict(values),
            snapshot=snapshot,
            snapshot_sha256=digest,
            source=str(path),
            gateways={n: e.base_url for n, e in endpoints.items()},
            drill=drill,
            exercise=exercise,
            dry_run=not journal.persist,
        ),
    )
    incident = Incident(id=journal.directory.name, directory=journal.directory)  # in place now
    incident.apply(opened)
    return incident


def _attach(journal: Journal, item: Attachment) -> Event:
    content = mask_bytes(item.content, journal.scrub)  # masked as the walk's own evidence
    relative, digest = journal.store_evidence(item.name, content)
    evidence = EvidenceRef(relative, digest, len(content)).data()
    return journal.append(
        EventType.EVIDENCE_ATTACHED,
        payloads.EvidenceAttached(
            item=item.name, description=item.description, source=item.source, evidence=evidence
        ),
    )


def _walk(walk: Walk, frame: Frame) -> RunResult:
    try:
        return RunResult(walk.incident, walk.run(frame))
    except KeyboardInterrupt as exc:
        key = getattr(exc, "key", "Ctrl-C")
        _interrupted(walk, f"interrupted by the operator ({key})")
        return RunResult(walk.incident, None)
    except AiirError as exc:
        # The CLI can only mask secret-looking names; the walk knows every declared secret.
        exc.args = (walk.scrub(str(exc)),)
        with contextlib.suppress(JournalConflict):  # refused (a lease lost): the reason stands
            _interrupted(walk, str(exc))
        raise
    finally:
        walk.journal.close()


def _interrupted(walk: Walk, reason: str) -> None:
    event = walk.journal.append(
        EventType.INCIDENT_INTERRUPTED, payloads.IncidentInterrupted(reason=reason)
    )
    walk.incident.apply(event)
    if walk.journal.persist:
        walk.screen.note(f"incident {walk.incident.id} stopped: {reason}")
        walk.screen.recap(walk.incident)
        walk.screen.note(f"resume with: aiir resume {walk.incident.id}")
        walk.screen.note(f"journal anchor: {walk.journal.anchor()} (keep it)")
    else:
        walk.screen.note(f"dry run stopped: {reason}")


def snapshot_source(env: Environment, directory: Path, incident: Incident) -> RunbookSource:
    """Called runbooks as the incident keeps them: its copies (by id, also for a call that
    named a path), then the folder of the runbook the incident was opened with (a call the
    walk had not entered yet when it stopped: a kill between reaching a call and journalling
    ``call.entered``), then the shipped library."""
    called: dict[str, str] = {}
    folders = [directory / SNAPSHOTS]
    for event in incident.history():
        if event.type == EventType.INCIDENT_OPENED:
            opened_from = Path(str(event.data.get("source") or "")).parent
            if opened_from != Path() and opened_from.is_dir():
                folders.append(opened_from)
        elif event.type == EventType.CALL_ENTERED and "ref" in event.data:
            called[str(event.data["ref"])] = str(event.data["child"])
    folders.append(data_dir("runbooks"))
    return RunbookSource(checked_loader(env), folders, called)


def _open_existing(env: Environment, incident_id: str) -> tuple[Journal, Incident, Runbook, Path]:
    """Lock the incident, then read and verify its journal (chain, evidence, runbook copies).

    The lock comes first: what is read must not change before the walk is done with it. On any
    error the lock is let go again.
    """
    journal = taken_up(env, incident_id, lambda t: t)  # a shared store: its lease, then its rows
    directory = journal.directory
    with _closed_on_error(journal):
        incident = Incident(id=incident_id, directory=directory, keep_events=False)
        journal.load(incident.apply, mend=True)  # one pass: checked and folded, none kept
        if journal.cut is not None:  # a walker killed mid-line: that line never was
            said = journal.cut.note(env.operator)
            incident.apply(journal.append(EventType.NOTE, said))
        runbook = parse(load_file(directory / incident.snapshot), Runbook)
    return journal, incident, runbook, directory


def attach_exercise(env: Environment, incident: Incident) -> None:
    """An exercise goes on against a simulated gateway rebuilt from its journal (what was
    engaged stays engaged); it never reaches a real gateway or channel, whatever the flags."""
    if incident.exercise is None or env.sandbox_url is not None:  # real, or already attached
        return
    env.exercise = incident.exercise  # its messages go to the exercise's inbox, whatever else
    if staged(incident):  # a drill against staging: it goes on there, and only there
        return
    if env.gateway_urls:
        raise InputError(
            f"--gateway: {incident.id} is an exercise ({incident.exercise}); it runs against "
            "the simulated gateway only"
        )
    from aiir.sandbox.replay import rebuild

    env.use_sandbox(rebuild(applied_requests(incident)), exercise=incident.exercise)


def staged(incident: Incident) -> bool:
    """A drill that ran against a staging gateway (``aiir drill --gateway``): what it engaged
    is there, not in a simulated gateway. Only a drill can have: any other exercise goes on
    against the simulated gateway whatever addresses its journal holds."""
    if incident.exercise != "drill":
        return False
    urls = [*incident.gateways.values(), *(r["url"] for r in applied_requests(incident))]
    return any(
        str(url).rstrip("/") != SANDBOX_URL and not str(url).startswith(SANDBOX_URL + "/")
        for url in urls
    )


def applied_requests(incident: Incident) -> list[dict[str, Any]]:
    """Every request of an incident that took effect, in order: engages, actions, releases."""
    intents: dict[tuple[str, int | None], dict[str, Any]] = {}
    applied: list[dict[str, Any]] = []
    for event in incident.history():
        data = event.data
        if event.type in {EventType.LEVER_INTENT, EventType.ACTION_INTENT}:
            intents[(event.type.split(".")[0], event.step)] = data.get("request") or {}
        elif event.type == EventType.LEVER_ENGAGED and data.get("ok"):
            applied.append(intents.get(("lever", event.step), {}))
        elif event.type == EventType.ACTION_RESULT and data.get("ok"):
            applied.append(intents.get(("action", event.step), {}))
        elif event.type == EventType.LEVER_RELEASED and data.get("ok") and data.get("request"):
            applied.append(data["request"])
    return [request for request in applied if request.get("url")]


def _took_over(walk: Walk) -> dict[str, Any] | None:
    """Who held the lock before and died walking: said on the screen, returned for the journal
    (its ``took_over_from``); None when nobody did."""
    holder = walk.journal.lock.taken_over if walk.journal.lock else None
    if isinstance(walk.journal.upstream, Replica) and walk.journal.upstream.taken_over:
        holder = walk.journal.upstream.taken_over  # the shared store's lease: another machine
    if holder is None:
        return None
    if holder.host != socket.gethostname() and walk.journal.upstream is None:
        walk.screen.note(
            f"took over the incident from {holder.describe()}: its lock was free here, but aiir "
            f"cannot see the processes of {holder.host}: if one still walks this incident there, "
            "stop it (a lock on a shared folder may not reach across machines)"
        )
    else:
        walk.screen.note(f"took over the incident from {holder.describe()}: that process is gone")
    return dataclasses.asdict(holder)


def _resumed_by(operator: str, incident: Incident) -> str:
    """What the screen says when another responder picks an incident up."""
    line = f"resumed by {operator}; {incident.walker} walked it before"
    if incident.lead != operator:
        line += f"; {incident.lead} leads (aiir handoff {incident.id} --to {operator} to lead)"
    return line


def resume(incident_id: str, env: Environment, *, answers: Path | None = None) -> RunResult:
    """Continue an interrupted incident from its journal."""
    journal, incident, runbook, directory = _open_existing(env, incident_id)
    with _closed_on_error(journal):
        attach_exercise(env, incident)
        if incident.outcome is not None:
            raise InputError(
                f"incident {incident_id} already ended ({incident.outcome}); nothing to resume"
            )
        if incident.dry_run:
            raise InputError(f"incident {incident_id} was a dry run; start it again instead")
        scripted = load_answers(answers, runbook) if answers else {}
        practice_only(scripted, env.exercise)
        given = set(env.gateway_urls)
        env.gateway_urls = {**incident.gateways, **env.gateway_urls}
        source = snapshot_source(env, directory, incident)
        preflight(reachable_runbooks(runbook, source), env)
        env_vals = env_values(runbook, env.environ, dry_run=practising(env))
        endpoints = endpoints_for(runbook, env, env_vals)
        secrets = secret_values(runbook, env_vals, endpoints)
        journal.scrub = masker(secrets, patterns=False)
        same_gateways(incident.masked_gateways, endpoints, given, journal.scrub)
        walk = Walk(
            env,
            journal,
            incident,
            profiles(env.environ),
            source,
            scripted,
            secrets,
            screen=terminal_screen(env),
            child_frame=child_frame,
        )
        walk.screen.opened(incident, runbook, resumed=True)
        tell_unsent_userinfo(endpoints, walk.screen.note)
        if journal.cut is not None:
            walk.screen.note(journal.cut.said())
        _tell_store(walk)
        resumed = payloads.IncidentResumed(from_step=walk.last_recorded, by=env.operator)
        took_over = _took_over(walk)
        if took_over is not None:
            resumed["took_over_from"] = took_over
        if incident.walker and incident.walker != env.operator:  # another responder goes on
            resumed["after"] = incident.walker
            walk.screen.note(_resumed_by(env.operator, incident))
        incident.apply(journal.append(EventType.INCIDENT_RESUMED, resumed))
    frame = Frame(runbook, dict(incident.inputs), endpoints, env_vals)
    return _walk(walk, frame)


def release(incident_id: str, env: Environment, lever: str | None = None) -> Incident:
    """Release engaged levers of an incident, newest first (all, or the one named); a lever
    whose release cannot be made does not stop the others."""
    journal, incident, runbook, directory = _open_existing(env, incident_id)
    try:
        attach_exercise(env, incident)
        given = set(env.gateway_urls)
        env.gateway_urls = {**incident.gateways, **env.gateway_urls}
        pending = incident.needs_release()
        if lever is not None:
            pending = [r for r in pending if lever in {r.lever, r.key}]
            if not pending:
                engaged = ", ".join(r.lever for r in incident.needs_release()) or "none"
                raise InputError(
                    f"lever {lever!r} is not engaged in {incident_id} (engaged: {engaged})"
                )
        source = snapshot_source(env, directory, incident)
        walk = Walk(
            env,
            journal,
            incident,
            profiles(env.environ),
            source,
            {},
            set(),
            screen=terminal_screen(env),
            child_frame=child_frame,
        )
        walk.write_from_now()
        if journal.cut is not None:
            walk.screen.note(journal.cut.said())
        frames = _frames_for_release(walk, runbook, source, incident)
        same_gateways(incident.masked_gateways, frames[runbook.id].endpoints, given, walk.scrub)
        if incident.exercise:  # said once the gateways are known: a refusal sends nothing
            walk.screen.note(_practice_release(incident.exercise, env))
        elif pending:
            walk.screen.note("LIVE: releasing on the real gateways")
        took_over = _took_over(walk)
        if took_over is not None:  # the dead walker's place in the story, as a resume keeps it
            taken = payloads.IncidentTakenOver(by="release", took_over_from=took_over)
            incident.apply(journal.append(EventType.INCIDENT_TAKEN_OVER, taken))
        in_flight = [r.lever for r in incident.levers if r.state == "intent"]
        if not pending and in_flight:  # its walk stopped with the request out: not known
            walk.screen.note(
                f"nothing known to be engaged in {incident_id}, but lever(s) "
                f"{', '.join(in_flight)} may be: the walk stopped while the request was in "
                f"flight; aiir resume {incident_id} checks it with its verify probe"
            )
        elif not pending:  # say so: a silent success reads as "maybe it did something"
            walk.screen.note(f"nothing to release: no lever of {incident_id} is engaged")
        else:
            walk.screen.recap(incident)
        for record in pending:
            frame = frames.get(record.runbook)
            if (
                frame is not None
                and not env.assume_yes
                and not _approve_release(walk, frame, record.lever)
            ):
                continue
            try:
                walk.release(record, shown=frame is not None and not env.assume_yes)
            except KeyboardInterrupt:  # the release may have gone out: say so, then stop
                walk.screen.failure(
                    f"stopped while releasing lever {record.lever!r}: its release may have "
                    f"taken effect; check the gateway before aiir release {incident_id} again"
                )
                raise
    except AiirError as exc:
        journal.cut_said_in(exc)
        raise
    finally:
        journal.close()
    return incident


def _practice_release(exercise: str, env: Environment) -> str:
    """What a release of an exercise's levers reaches (said first: it is not a real one)."""
    where = (
        "a simulated gateway rebuilt from its journal"
        if env.sandbox_url is not None
        else "the staging gateway it ran against"
    )
    return (
        f"EXERCISE ({exercise}): releasing on {where}; nothing reaches a real channel, "
        "messages stay in the exercise's inbox"
    )


def _approve_release(walk: Walk, frame: Frame, lever: str) -> bool:
    """Ask before each release; journalled, but outside the walk's numbered steps."""
    from aiir.engine.nodes.levers import release_shown
    from aiir.prompts import MissingAnswer

    key = f"{frame.prefix}{lever}.release"
    record = next((r for r in walk.incident.needs_release() if r.lever == lever), None)
    state = f" ({record.state})" if record is not None else ""
    question = f"Release lever {lever!r}{state}? y sends its release now, N leaves it engaged"
    details = release_shown(walk, frame, lever)
    try:
        approved = bool(walk.prompt(key, "confirm", question, [], False, details=details))
    except MissingAnswer:
        raise MissingAnswer(
            f"releasing {lever!r} needs approval and there is no terminal: pass --yes"
        ) from None
    walk.record(
        EventType.ANSWER,
        payloads.Answer(runbook=frame.runbook.id, node=lever, key=key, value=approved),
    )
    return approved


def _frames_for_release(
    walk: Walk, root: Runbook, source: RunbookSource, incident: Incident
) -> dict[str, Frame]:
    env_vals = env_values(root, walk.env.environ, dry_run=practising(walk.env))
    endpoints = endpoints_for(root, walk.env, env_vals)
    walk.add_secrets(secret_values(root, env_vals, endpoints))
    frames = {root.id: Frame(root, dict(incident.inputs), endpoints, env_vals)}
    for event in incident.history():
        if event.type == EventType.CALL_ENTERED and event.data.get("child") not in frames:
            try:  # a called runbook that cannot be set up only holds back its own levers
                child, raw = source.find(str(event.data["child"]))
                frames[child.id] = child_frame(walk, child, raw, event.data.get("inputs", {}), "")
            except InputError as exc:
                walk.screen.failure(f"runbook {event.data.get('child')!r}: {exc}")
    for answer in incident.answers:
        owner = frames.get(answer.get("runbook", ""))
        if owner is not None and answer.get("key") == answer.get("node"):
            owner.answers[answer["node"]] = answer["value"]
    walk.frames.update(frames)
    return frames
