"""Scripted drills: walk a runbook with scripted answers against a simulated (or staging) gateway,
inject faults, and check the walk against the scenario's expectations.

Each expectation group (path, levers, outcome, severity, notifications, containment) becomes one
JUnit test case, so CI shows exactly which part of the response drifted from the plan.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from rich.console import Console

from aiir.engine.frames import duration
from aiir.environment import SANDBOX_URL, Environment, SystemClock
from aiir.errors import AiirError, InputError
from aiir.formats.scenario import Expectations, FaultSpec, Scenario
from aiir.incident.events import EventType
from aiir.incident.state import Incident, load_incident
from aiir.prompts import MissingAnswer, NoTerminalPrompter
from aiir.reports.context import incident_timers
from aiir.reports.timers import MET, MISSED, judged
from aiir.respond.session import start
from aiir.sandbox import InProcessTransport, SandboxState, create_app
from aiir.timestamps import parse_iso
from aiir.validate.scenarios import Prepared


@dataclass
class Group:
    """One expectation group's verdict: a JUnit test case."""

    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class DrillResult:
    """How one scenario went."""

    path: Path
    scenario: Scenario | None
    incident: Incident | None = None
    groups: list[Group] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    transcript: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and all(g.ok for g in self.groups)

    @property
    def name(self) -> str:
        return self.scenario.scenario if self.scenario else self.path.stem


class Unanswered(NoTerminalPrompter):
    """A question the scenario does not answer: say where the answer goes."""

    def __init__(self, scenario: Path) -> None:
        self.scenario = scenario

    def _missing(self, key: str, hint: str) -> MissingAnswer:
        return MissingAnswer(
            f"the scenario does not answer {key!r}: add `{key}: {hint}` under answers "
            f"in {self.scenario}"
        )


class DrillClock:
    """Wall-clock time that skips waits: a retry backoff against the in-process sandbox costs
    no real time, yet still shows in the journal's timestamps (and in time to containment)."""

    def __init__(self) -> None:
        self.skipped = dt.timedelta()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.skipped

    def sleep(self, seconds: float) -> None:
        self.skipped += dt.timedelta(seconds=seconds)


def run_drill(
    prepared: Prepared,
    incidents_dir: Path,
    gateway_urls: dict[str, str] | None = None,
    process: Environment | None = None,
    console: Console | None = None,
) -> DrillResult:
    """Walk the scenario's runbook unattended and judge the walk: in the variables of
    ``process`` (the command's environment), keeping its incident in the store it chose."""
    scenario = prepared.scenario
    transcript = io.StringIO()
    staging = bool(gateway_urls)
    state = SandboxState(seed=7)
    env = Environment(
        console=console or Console(file=transcript, width=100, highlight=False),
        prompter=Unanswered(prepared.path),
        client=httpx2.Client(verify=True, follow_redirects=False)
        if staging
        else httpx2.Client(transport=InProcessTransport(create_app(state))),
        clock=SystemClock() if staging else DrillClock(),
        environ={**(process.environ if process else {}), **scenario.env},
        operator="drill",
        incidents_dir=incidents_dir,
        assume_yes=True,
        gateway_urls=dict(gateway_urls or {}),
        sandbox_url=None if staging else SANDBOX_URL,
        exercise="drill",  # messages go to the drill's inbox, also against a staging gateway
    )
    if process is not None:
        env.use_store_of(process)
    inject = _injector(env, state)
    for fault in scenario.faults:
        if fault.at is None:
            inject(fault)
    if not staging:
        replay_traffic(env, scenario)
    pending = [f for f in scenario.faults if f.at is not None]

    def on_node(runbook: str, node: str) -> None:
        # Once each, and only at the scenario's own runbook's node (a called one may share ids).
        for fault in [f for f in pending if runbook == prepared.runbook.id and f.at == node]:
            pending.remove(fault)
            inject(fault)
        if runbook == prepared.runbook.id and node in scenario.takes:
            env.clock.sleep(duration(scenario.takes[node]).total_seconds())

    env.observers.append(on_node)
    started = time.perf_counter()
    result = DrillResult(prepared.path, scenario)
    before = _incident_ids(incidents_dir)
    try:
        run = start(
            prepared.runbook_file,
            env,
            inputs=scenario.inputs,
            scripted=prepared.answers,
            drill=True,
        )
        result.incident = run.incident
        result.groups = judge(scenario.expect, run.incident)
    except AiirError as exc:
        result.error = str(exc)
        opened = sorted(_incident_ids(incidents_dir) - before)  # stopped part-way: say which
        result.incident = load_incident(incidents_dir, opened[-1]) if opened else None
    finally:
        env.close()
    result.seconds = time.perf_counter() - started
    result.transcript = transcript.getvalue()
    return result


def _incident_ids(root: Path) -> set[str]:
    """The incidents under ``root`` (not ``.opening``, where one is made before its first line)."""
    return (
        {d.name for d in root.iterdir() if not d.name.startswith(".")} if root.is_dir() else set()
    )


def replay_traffic(env: Environment, scenario: Scenario) -> None:
    """The incident happens first: the scenario's user traffic goes through the simulated gateway
    (with its faults), so the gateway's logs hold what forensics will capture."""
    for item in scenario.traffic:
        headers = {"Authorization": f"Bearer {item.key}"} if item.key else {}
        messages = [{"role": "user", "content": item.prompt}]
        if item.retrieve is not None:  # a RAG application: what it retrieved goes in as context
            found = env.http.post(
                f"{SANDBOX_URL}/v1/collections/{item.retrieve.collection}/query",
                json={"query": item.retrieve.query, "top_k": item.retrieve.top_k}
                | ({"session_id": item.session} if item.session else {}),
            ).json()
            context = "\n".join(str(hit.get("text")) for hit in found.get("results", []))
            messages.insert(0, {"role": "system", "content": f"Answer from:\n{context}"})
        body: dict[str, Any] = {"model": item.model, "messages": messages}
        if item.session:
            body["metadata"] = {"session_id": item.session}
        env.http.post(f"{SANDBOX_URL}/v1/chat/completions", json=body, headers=headers)


def _injector(env: Environment, state: SandboxState) -> Callable[[FaultSpec], None]:
    def inject(fault: FaultSpec) -> None:
        if env.sandbox_url is not None:
            state.add_fault(fault.model, fault.fault, str(fault.value))
            return
        # A staging gateway: only a sandbox served on a socket takes faults, through its API.
        for url in env.gateway_urls.values():
            body = {"model": fault.model, "fault": fault.fault, "value": str(fault.value)}
            try:
                response = env.http.post(f"{url.rstrip('/')}/sandbox/faults", json=body)
            except (httpx2.HTTPError, httpx2.InvalidURL, UnicodeError) as exc:  # not sent
                raise InputError(f"cannot inject fault {fault.fault!r} at {url}: {exc}") from None
            if response.status_code != 200:
                raise InputError(f"{url} does not take faults (status {response.status_code})")

    return inject


# --- judging -----------------------------------------------------------------------------------


def visited(incident: Incident) -> list[str]:
    """Node ids in the order walked; a called runbook's nodes as ``runbook.node``."""
    path: list[str] = []
    for event in incident.events:
        if event.type == EventType.NODE_ENTERED:
            node, runbook = str(event.data["node"]), str(event.data["runbook"])
            path.append(node if runbook == incident.runbook else f"{runbook}.{node}")
    return path


def judge(expect: Expectations, incident: Incident) -> list[Group]:
    """One group per kind of expectation the scenario states."""
    groups: list[Group] = []
    walked = visited(incident)
    if expect.path is not None or expect.visits or expect.avoids:
        groups.append(_path(expect, walked))
    if expect.levers is not None:
        groups.append(_levers(expect, incident))
    if expect.outcome is not None:
        group = Group("outcome")
        if incident.outcome != expect.outcome.value:
            got = (
                f"{incident.outcome}: {incident.summary}" if incident.summary else incident.outcome
            )
            group.problems.append(f"expected outcome {expect.outcome.value}, got {got}")
            group.problems += last_failure(incident)
        groups.append(group)
    if expect.severity is not None:
        group = Group("severity")
        if incident.severity != expect.severity.value:
            group.problems.append(
                f"expected final severity {expect.severity.value}, got {incident.severity}"
            )
        groups.append(group)
    if expect.notifications:
        groups.append(_notifications(expect, incident))
    if expect.containment_within is not None:
        groups.append(_containment(expect.containment_within, incident))
    if expect.timers:
        groups.append(timers_group(expect, incident))
    return groups


def _path(expect: Expectations, walked: list[str]) -> Group:
    group = Group("path")
    if expect.path is not None:
        group.problems += path_problems(expect.path, walked)
    group.problems += [
        f"expected to visit {n}, but the walk never reached it"
        for n in expect.visits
        if n not in walked
    ]
    group.problems += [
        f"expected to avoid {n}, but the walk visited it" for n in expect.avoids if n in walked
    ]
    return group


def path_problems(expected: list[str], walked: list[str]) -> list[str]:
    """How the walk differs from the expected path; [] when it matches.

    Node ids never contain a dot, so an expected path without ``runbook.node`` steps is the
    scenario's own runbook: a called runbook's steps are left out of the comparison.
    """
    if not any("." in step for step in expected):
        walked = [step for step in walked if "." not in step]
    if walked == expected:
        return []
    problems = [f"expected path {' → '.join(expected)}", f"walked path   {' → '.join(walked)}"]
    pairs = zip(expected, walked, strict=False)
    diverged = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
    if diverged is not None:
        problems.append(
            f"first difference at step {diverged + 1}: "
            f"expected {expected[diverged]}, walked {walked[diverged]}"
        )
    elif len(walked) < len(expected):
        stop = f"after step {len(walked)} ({walked[-1]})" if walked else "before its first step"
        problems.append(f"the walk ended {stop}; expected next: {expected[len(walked)]}")
    else:
        problems.append(
            f"the walk went on after step {len(expected)}: {' → '.join(walked[len(expected) :])}"
        )
    return problems


FAILURES: dict[str, str] = {
    EventType.CAPTURE_STORED: "capture",
    EventType.ACTION_RESULT: "action",
    EventType.LEVER_ENGAGED: "lever",
    EventType.LEVER_VERIFIED: "verify of lever",
}


def last_failure(incident: Incident) -> list[str]:
    """The last request that failed in the walk: usually why it ended failed or aborted."""
    for event in reversed(incident.events):
        kind = FAILURES.get(event.type)
        if kind is None or event.data.get("ok"):
            continue
        what = " ".join(filter(None, [kind, event.data.get("item") or event.data.get("lever")]))
        reason = event.data.get("reply", {}).get("reason", "failed")
        return [f"last failure: {what} at {event.data.get('node')}: {reason}"]
    return []


def _levers(expect: Expectations, incident: Incident) -> Group:
    assert expect.levers is not None
    group = Group("levers")
    states = {r.lever: r for r in incident.levers}
    for name in expect.levers.engaged:
        if name not in states or states[name].state in {
            "intent",
            "failed",
            "unavailable",
            "dry-run",
        }:
            got = states[name].verdict if name in states else "never engaged"
            group.problems.append(f"expected lever {name} engaged: {got}")
    proven = {
        e.data.get("lever")
        for e in incident.events
        if e.type == EventType.LEVER_VERIFIED and e.data.get("ok")
    }
    for name in expect.levers.verified:
        if name not in proven:
            got = states[name].verdict if name in states else "never engaged"
            group.problems.append(f"expected lever {name} verified effective: {got}")
    for name in expect.levers.released:
        if name not in states or states[name].state != "released":
            got = states[name].verdict if name in states else "never engaged"
            group.problems.append(f"expected lever {name} released during the walk: {got}")
    for name in expect.levers.not_engaged:
        if name in states and states[name].state not in {"intent", "dry-run"}:
            group.problems.append(
                f"expected lever {name} not engaged, but it is {states[name].state}"
            )
    return group


def _notifications(expect: Expectations, incident: Incident) -> Group:
    group = Group("notifications")
    for wanted in expect.notifications:
        candidates = [
            n for n in incident.notifications if wanted.channel in {None, n.get("channel")}
        ]
        if not candidates:
            group.problems.append(
                f"expected a {wanted.channel or 'any'} message; none was rendered"
            )
            continue
        for needle in wanted.contains:
            if not any(needle in str(n.get("text", "")) for n in candidates):
                group.problems.append(
                    f"expected a {wanted.channel or 'any'} message containing {needle!r}"
                )
    return group


def containment_time(incident: Incident) -> dt.timedelta | None:
    """From the incident's start to the first lever proven effective."""
    started = parse_iso(incident.started_at)
    for event in incident.events:
        if event.type == EventType.LEVER_VERIFIED and event.data.get("ok"):
            return parse_iso(event.ts) - started
    return None


def _containment(bound: str, incident: Incident) -> Group:
    group = Group("containment")
    took = containment_time(incident)
    if took is None:
        group.problems.append(f"expected containment within {bound}: no lever was proven effective")
    elif took > duration(bound):
        seconds = took.total_seconds()
        shown = f"{seconds:.1f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"
        group.problems.append(f"expected containment within {bound}, took {shown}")
    return group


def timers_group(expect: Expectations, incident: Incident) -> Group:
    """Each timer the scenario names ended up met or missed, as the walk journalled it."""
    group = Group("timers")
    verdicts = judged(incident.events)
    for name, wanted in expect.timers.items():
        verdict = verdicts.get((incident.runbook, name))
        got = (
            "not reached (the walk ended before its deadline and its node)"
            if verdict is None
            else MET
            if verdict.type == EventType.TIMER_MET
            else MISSED
        )
        if got != wanted:
            group.problems.append(f"expected timer {name} {wanted}, it was {got}")
    return group


def timer_texts(incident: Incident) -> list[str]:
    """``ack met at T+00:04:00 (due T+00:15:00)`` for each timer of the runbooks walked."""
    origin = parse_iso(incident.started_at)
    found = incident_timers(incident, dt.datetime.now(dt.UTC))
    return [f"{item.spec.name} {item.text(origin)}" for item in found]
