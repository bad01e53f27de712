"""Every shipped runbook, walked end to end along every path of its graph against the simulated
gateway (in-process): scripted answers steer each walk; every lever on the path must be proven
effective by its verify probe; the outcome is the end node's; the journal verifies; releasing the
incident undoes every lever, leaving the simulated world exactly as it started.

A runbook with more than ``MAX_PATHS`` paths is walked along a subset that takes every edge. A
call into another runbook follows one path of the callee (a different one for each caller path);
each callee's own paths are covered by its own test.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from rich.console import Console

import aiir.respond.session
from aiir.environment import SANDBOX_URL, Environment
from aiir.exercises.drill import visited
from aiir.formats.answers import as_bool
from aiir.formats.loader import load_text
from aiir.formats.schema import CallNode, Runbook
from aiir.incident.journal import verify
from aiir.prompts import Check, NoTerminalPrompter, Option
from aiir.respond.session import release, start
from aiir.sandbox import SandboxState
from aiir.validate.answers import check_answers
from aiir.validate.checked import load_checked
from tests.answers import (
    DEPLOYMENT_INPUTS,
    ENVIRON,
    RUNBOOKS,
    SUSPECT_TEAM,
    library,
    plausible,
    team_keys,
)
from tests.walks import Path as Walk
from tests.walks import Paths, covering, nested

MAX_PATHS = 200
# A lever taken along its on_failure edge fails for real: the sandbox fails the target it acts on.
FAILING_TARGETS = {("excessive-agency", "pause-agent"): "agent"}


@functools.cache
def enumerate_paths(runbook_id: str) -> tuple[Walk, ...]:
    """Every path of the runbook (every edge when there are too many); triage's affected model
    is the one its category runbook defaults to."""
    runbooks = library()
    found: list[Walk] = []
    root = runbooks[runbook_id]
    targets = _triage_targets(root)
    for model in sorted(set(targets.values())) if targets else [None]:
        paths = Paths(runbooks, _answering(model), _feasible)
        inputs = {name: spec.default for name, spec in root.inputs.items()}
        found += [
            p for p in paths.of(root, inputs) if model is None or _hands_to(p, targets) == model
        ]
    return tuple(found if len(found) <= MAX_PATHS else covering(found, runbook_id))


def _feasible(path: Walk) -> bool:
    """No walk removes the same deployment twice (once by a called runbook, once by its
    caller): the operator would find it gone and answer otherwise."""
    removed = [v.answer for v in path.visits if v.node in DEPLOYMENT_INPUTS]
    return len(removed) == len(set(removed))


def _triage_targets(root: Runbook) -> dict[str, str]:
    """For a runbook asking ``affected-model``: each called runbook's default model."""
    if "affected-model" not in root.nodes:
        return {}
    called = {n.runbook for n in root.nodes.values() if isinstance(n, CallNode)}
    return {rid: str(library()[rid].inputs["model"].default) for rid in called} | {
        "": "support-bot"
    }


def _hands_to(path: Walk, targets: Mapping[str, str]) -> str:
    callee = next((v.runbook for v in path.visits if v.runbook in targets), "")
    return targets[callee]


def _answering(model: str | None) -> Any:
    def answer(runbook: str, node: str, inputs: Mapping[str, Any]) -> str:
        if node == "affected-model" and model is not None:
            return model
        return plausible(runbook, node, inputs)

    return answer


def cases() -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in RUNBOOKS]


# --- the walk's environment ---------------------------------------------------------------------


class Sequenced(NoTerminalPrompter):
    """Answers for questions met more than once on a path (a cycle), one per visit."""

    def __init__(self, answers: Mapping[str, Sequence[Any]]) -> None:
        self.queues = {key: list(values) for key, values in answers.items()}

    def _next(self, key: str) -> Any:
        if not self.queues.get(key):
            raise AssertionError(f"{key!r} asked more often than the path visits it")
        return self.queues[key].pop(0)

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        return str(self._next(key)) if key in self.queues else super().choose(key, message, options)

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        return (
            as_bool(self._next(key), key) if key in self.queues else super().confirm(key, message)
        )

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        return str(self._next(key)) if key in self.queues else super().text(key, message)


class Silent(Console):
    """A console that renders nothing: the walks' screens are not what this test checks."""

    def print(self, *objects: Any, **options: Any) -> None:
        return None


class InstantClock:
    """Real time, but backoff sleeps return at once (faulty targets are retried)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float) -> None:
        return None


def environment(base: Environment, path: Walk, incidents: Path) -> Environment:
    """This path's environment, on the runbook's in-process sandbox (``base.http``)."""
    _, repeated = path.answers()
    env = Environment(
        console=base.console,
        prompter=Sequenced(repeated),
        client=base.client,
        clock=base.clock,
        environ={**ENVIRON, **_team_keys(path)},
        operator=base.operator,
        incidents_dir=incidents,
        assume_yes=base.assume_yes,
        sandbox_url=base.sandbox_url,
        exercise=base.exercise,
    )
    return env


def sandboxed() -> tuple[Environment, SandboxState]:
    """An environment whose every gateway is one in-process sandbox, reset between walks."""
    sandbox = SandboxState()
    env = Environment(
        console=Silent(quiet=True),
        prompter=NoTerminalPrompter(),
        client=httpx2.Client(transport=httpx2.MockTransport(_unrouted)),
        clock=InstantClock(),
        environ=ENVIRON,
        operator="all-paths",
        assume_yes=True,
    )
    env.use_sandbox(sandbox)
    return env, sandbox


def _unrouted(request: httpx2.Request) -> httpx2.Response:
    """The client an environment is built with, until use_sandbox replaces it."""
    raise AssertionError(f"{request.url}: not the sandbox's client")


def _team_keys(path: Walk) -> dict[str, str]:
    """APP_TEAM_KEY / AGENT_TEAM_KEY: a key of the team each kill switch on the path blocks."""
    keys: dict[str, str] = {}
    for visit in path.levers():
        for name, key in team_keys(library()[visit.runbook], dict(visit.inputs)).items():
            assert keys.get(name, key) == key, f"{name}: two teams on one path"
            keys[name] = key
    return keys


def prepare(env: Environment, sandbox: SandboxState, path: Walk) -> None:
    """Keys the answers name exist as the answers say (the suspect's key is in its team); a
    lever meant to fail meets a failing target, until the walk moves on."""
    once, _ = path.answers()
    suspect = next((v for k, v in once.items() if k.endswith("suspect-key")), None)
    if suspect is not None:
        body = {"key": suspect, "team_id": SUSPECT_TEAM}
        assert env.http.post(f"{SANDBOX_URL}/key/generate", json=body).status_code == 200
    for visit in path.levers():
        if visit.lever_fails:
            _fail_until_next(env, sandbox, path, visit)


def _fail_until_next(env: Environment, sandbox: SandboxState, path: Walk, visit: Any) -> None:
    target = str(dict(visit.inputs)[FAILING_TARGETS[(visit.runbook, visit.lever)]])
    after = path.visits[path.visits.index(visit) + 1].node

    def observe(runbook_id: str, node: str) -> None:
        if node == visit.node:
            sandbox.add_fault(target, "error", "1")
        elif node == after:
            sandbox.clear_faults()

    env.observers.append(observe)


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validate each runbook once for the whole file, not once per walk (load_checked parses
    every runbook of the folder for a runbook with calls), and skip the journal's fsync per
    event (its durability is test_journal's subject): the ~850 walks stay within a minute."""
    monkeypatch.setattr(aiir.respond.session, "load_checked", _cached_load)
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@functools.cache
def _cached_load(
    path: Path, profile_folders: tuple[Path, ...] = (), roles: frozenset[str] | None = None
) -> Runbook:
    return load_checked(path, profile_folders, roles)


def scripted(path: Walk, root: Runbook) -> dict[str, Any]:
    """The answers an answers file would hold, checked against each runbook's nodes."""
    once, _ = path.answers()
    tree = nested(once, root, library())
    _check(tree, root)
    return once


def _check(tree: Mapping[str, Any], runbook: Runbook) -> None:
    own = {k: v for k, v in tree.items() if k in runbook.nodes}
    doc = load_text(yaml.safe_dump(own), f"{runbook.id}-answers.yaml")
    check_answers(doc, doc.data, runbook)
    for key, sub in tree.items():
        if key not in runbook.nodes:
            _check(sub, library()[key])


@pytest.mark.parametrize("runbook_file", cases())
def test_every_path_runs_end_to_end(runbook_file: Path, tmp_path: Path) -> None:
    root = library()[load_checked(runbook_file).id]
    paths = enumerate_paths(root.id)
    assert paths, f"{root.id}: no path from {root.start} to an end"
    base, sandbox = sandboxed()
    for number, path in enumerate(paths):
        sandbox.reset()
        env = environment(base, path, tmp_path / f"path-{number}")
        walk_one(runbook_file, root, path, env, sandbox)


def walk_one(
    runbook_file: Path, root: Runbook, path: Walk, env: Environment, sandbox: SandboxState
) -> None:
    """Walk ``path``; check the walk, its levers, outcome and journal; release; check clean."""
    assert sandbox.changes() == {}
    prepare(env, sandbox, path)
    where = " → ".join(path.nodes(root.id))
    result = start(runbook_file, env, scripted=scripted(path, root), drill=True)
    incident = result.incident
    assert visited(incident) == path.nodes(root.id), where
    assert result.ended is not None, where
    assert (result.ended.outcome, incident.outcome) == (path.outcome, path.outcome.value), where
    expected = {
        (v.runbook, v.lever): "failed" if v.lever_fails else "verified" for v in path.levers()
    }
    for visit in path.visits:  # a release step of the walk's own
        if visit.released and expected.get((visit.runbook, visit.released)) == "verified":
            expected[(visit.runbook, visit.released)] = "released"
    levers = {(r.runbook, r.lever): r.state for r in incident.levers}
    assert levers == expected, (where, [(r.lever, r.verdict) for r in incident.levers])
    assert verify(incident.directory) == [], where
    released = release(incident.id, env)
    left = [(r.lever, r.verdict) for r in released.levers if r.state not in {"released", "failed"}]
    assert left == [], where
    assert sandbox.changes() == {}, where
