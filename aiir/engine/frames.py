"""What a walk is made of: frames (one runbook being walked), how a walk ends, where called
runbooks come from, and the words and options the walk offers when a step fails."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiir.errors import InputError
from aiir.formats import patterns
from aiir.formats.includes import resolved_bytes
from aiir.formats.paths import LeavesFolder, beneath
from aiir.formats.profile import Profile
from aiir.formats.schema import (
    FAILING_OUTCOMES,
    ActionNode,
    CaptureNode,
    InputNode,
    Outcome,
    Request,
    Runbook,
    is_path,
)
from aiir.outbound.gateway import Call, Endpoint, parsed_url
from aiir.outbound.readable import readable
from aiir.prompts import Option

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

    def __init__(
        self, loader: Any, directories: list[Path], called: Mapping[str, str] | None = None
    ) -> None:
        self.loader = loader
        self.directories = directories
        self.called = dict(called or {})  # a path a call named -> the id it was (on resume)

    def find(self, runbook_id: str) -> tuple[Runbook, bytes]:
        """A runbook by id, or by a path relative to each directory in turn."""
        from aiir.formats.loader import load_file

        if is_path(runbook_id):
            if runbook_id in self.called:  # a resume: the copy kept under the runbook's id
                return self.find(self.called[runbook_id])
            for directory in self.directories:
                candidate = _beneath(directory, runbook_id)
                if candidate.is_file():
                    return self.loader(candidate), resolved_bytes(candidate)
            raise InputError(
                f"no runbook at {runbook_id!r} in {', '.join(map(str, self.directories))}"
            )
        for directory in self.directories:
            candidate = _beneath(directory, f"{runbook_id}.yaml")
            if candidate.is_file():
                return self.loader(candidate), resolved_bytes(candidate)
        for directory in self.directories:
            for path in sorted(directory.glob("*.yaml")):
                try:
                    data = load_file(beneath(directory, path.name)).data
                except LeavesFolder:  # not read: a link out of the folder
                    continue
                if isinstance(data, dict) and data.get("id") == runbook_id:
                    return self.loader(path), resolved_bytes(path)
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
        if isinstance(node, CaptureNode):
            for item in node.items:
                for name in saves(item.request):
                    found.setdefault(name, f"capture {node_id}.{item.name}")
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


class TemplateContext(MutableMapping[str, Any]):
    """What the walk's templates read (inputs, answers, vars, env, incident, levers), with the
    costlier entries worked out when a template first reads them (``later``): most requests,
    prompts and messages hold no template and read nothing (``bench.engine``: the incident's
    fields and every lever's state were built for each of them). A context is read right after
    it is made, before the walk records anything more."""

    def __init__(self, values: dict[str, Any], later: dict[str, Callable[[], Any]]) -> None:
        self._values = values
        self._later = later

    def __getitem__(self, key: str) -> Any:
        if key in self._later:
            self._values[key] = self._later.pop(key)()
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._later.pop(key, None)
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        if self._later.pop(key, None) is None:
            del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._values, *self._later])

    def __len__(self) -> int:
        return len(self._values) + len(self._later)


def path_of(call: Call) -> str:
    """The part of a request's URL the operator does not already see in the box above."""
    return readable(parsed_url(call.url).raw_path.decode("ascii", errors="replace"))


def input_check(node: InputNode) -> Callable[[str], str | None]:
    """What is wrong with a free-text answer, in words: required unless the node says not,
    and matching the node's pattern (its ``hint`` says what is expected)."""

    def check(answer: str) -> str | None:
        if not answer.strip():
            return None if not node.required else "an answer is required"
        try:
            matches = not node.pattern or patterns.fullmatch(node.pattern, answer)
        except patterns.PatternTooSlow as exc:
            return str(exc)
        if not matches:
            return (
                f"expected {node.hint}"
                if node.hint
                else "that answer does not have the expected form"
            )
        return None

    return check


def _beneath(directory: Path, name: str) -> Path:
    """``directory / name``; a symbolic link that leads out of ``directory`` stops the walk."""
    try:
        return beneath(directory, name)
    except LeavesFolder as exc:
        raise InputError(str(exc)) from None
