"""Every path through a runbook's graph, and the scripted answers that walk it.

A path goes from the start to an end node. At a question it takes one choice, at a confirmation
yes or no, at a branch the case the answers so far select (so every path is feasible), at a lever
with ``on_failure`` either outcome, and at a call one path of the called runbook (a different one
for each caller path, in turn) before going on. An edge is taken at most once per path, so a
cycle ("still off: diagnose again") is walked around once; a node met twice gets one answer per
visit.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiir.formats.schema import (
    FAILING_OUTCOMES,
    ActionNode,
    BranchNode,
    CallNode,
    CaptureNode,
    ChecklistNode,
    ConfirmNode,
    EndNode,
    InputNode,
    LeverNode,
    MultiSelectNode,
    Node,
    NotifyNode,
    Outcome,
    QuestionNode,
    ReleaseNode,
    Runbook,
    SetNode,
    TasksNode,
    WaitNode,
)
from aiir.formats.templating import environment, render
from aiir.incident.state import LeverStates

# How to answer an input node: (runbook id, node id, the frame's inputs) -> the text.
Plausible = Callable[[str, str, Mapping[str, Any]], str]


@dataclass(frozen=True)
class Visit:
    """One node on a path, the answer given there (if it takes one) and the edge taken out."""

    runbook: str
    prefix: str  # answer-key prefix of the runbook's frame: "" or "callee." (nested: "a.b.")
    node: str
    answer: Any = None
    edge: str = ""
    lever: str | None = None
    lever_fails: bool = False
    released: str | None = None  # at a release step: the lever it releases
    inputs: tuple[tuple[str, Any], ...] = ()  # at a lever: its runbook's inputs
    # At a call before a callee path is chosen: the callee's paths, and whether the caller ends.
    callee: tuple[Path, ...] = field(default=(), compare=False, repr=False)
    ends: bool = False

    @property
    def key(self) -> str:
        return self.prefix + self.node


@dataclass(frozen=True)
class Path:
    """A walk from the start to an end, with the outcome that end gives."""

    visits: tuple[Visit, ...]
    outcome: Outcome

    def nodes(self, root: str) -> list[str]:
        """As :func:`aiir.exercises.drill.visited` lists them: a called runbook's as ``runbook.node``."""
        return [v.node if v.runbook == root else f"{v.runbook}.{v.node}" for v in self.visits]

    def edges(self) -> set[tuple[str, str, str]]:
        return {(v.runbook, v.node, v.edge) for v in self.visits if v.edge}

    def answers(self) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """Answers by key: asked once (for ``scripted``), and asked more than once, in order."""
        by_key: dict[str, list[Any]] = {}
        for visit in self.visits:
            if visit.answer is not None:
                by_key.setdefault(visit.key, []).append(visit.answer)
        once = {k: v[0] for k, v in by_key.items() if len(v) == 1}
        return once, {k: v for k, v in by_key.items() if len(v) > 1}

    def levers(self) -> list[Visit]:
        return [v for v in self.visits if v.lever is not None]


@dataclass
class Frame:
    runbook: Runbook
    inputs: dict[str, Any]
    prefix: str
    answers: dict[str, Any] = field(default_factory=dict)
    used: frozenset[tuple[str, str]] = frozenset()
    engaged: tuple[str, ...] = ()  # this runbook's levers engaged and verified so far


class Paths:
    """Enumerates paths of the runbooks in ``library`` (by id); ``plausible`` answers inputs;
    a path ``feasible`` rejects (say, one that removes the same deployment twice) takes another
    path through the callee."""

    def __init__(
        self,
        library: Mapping[str, Runbook],
        plausible: Plausible,
        feasible: Callable[[Path], bool] = lambda path: True,
    ) -> None:
        self.library = library
        self.plausible = plausible
        self.feasible = feasible
        self.turn = itertools.count()
        self.cache: dict[tuple[str, str, str], list[Path]] = {}

    def of(self, runbook: Runbook, inputs: Mapping[str, Any], prefix: str = "") -> list[Path]:
        key = (runbook.id, repr(sorted(inputs.items())), prefix)
        if key not in self.cache:
            frame = Frame(runbook, dict(inputs), prefix)
            expanded = (self._expand(p) for p in self._from(frame, runbook.start, ()))
            self.cache[key] = [p for p in expanded if p is not None]
        return self.cache[key]

    def _expand(self, path: Path) -> Path | None:
        """Choose a callee path at each call, in turn, skipping infeasible combinations."""
        slot = next((i for i, v in enumerate(path.visits) if v.callee), None)
        if slot is None:
            return path if self.feasible(path) else None
        call = path.visits[slot]
        first = next(self.turn)
        for k in range(len(call.callee)):
            inner = call.callee[(first + k) % len(call.callee)]
            if inner.outcome in FAILING_OUTCOMES and not call.ends:
                continue
            done = dataclasses.replace(call, callee=(), ends=False)
            visits = (*path.visits[:slot], done, *inner.visits, *path.visits[slot + 1 :])
            chosen = self._expand(Path(visits, inner.outcome if call.ends else path.outcome))
            if chosen is not None:
                return chosen
        return None

    def _from(self, frame: Frame, node_id: str, so_far: tuple[Visit, ...]) -> Iterator[Path]:
        node = frame.runbook.nodes[node_id]
        if isinstance(node, EndNode):
            yield Path((*so_far, self._visit(frame, node_id)), Outcome(node.outcome.value))
            return
        if isinstance(node, CallNode):
            yield from self._call(frame, node_id, node, so_far)
            return
        for edge, answer, target, extra in self._edges(frame, node_id, node):
            if (node_id, edge) in frame.used:
                continue
            visit = self._visit(frame, node_id, answer=answer, edge=edge, **extra)
            answers = frame.answers
            if answer is not None or isinstance(node, ActionNode):
                answers = answers | {node_id: _value(node, answer)}
            used = frame.used | {(node_id, edge)}
            engaged = frame.engaged
            if "lever" in extra and not extra.get("lever_fails"):
                engaged = (*engaged, str(extra["lever"]))
            child = Frame(frame.runbook, frame.inputs, frame.prefix, answers, used, engaged)
            yield from self._from(child, target, (*so_far, visit))

    def _visit(self, frame: Frame, node_id: str, **details: Any) -> Visit:
        return Visit(frame.runbook.id, frame.prefix, node_id, **details)

    def _edges(
        self, frame: Frame, node_id: str, node: Node
    ) -> Iterator[tuple[str, Any, str, dict[str, Any]]]:
        """(edge label, answer given, next node, extra details of the visit)."""
        if isinstance(node, QuestionNode):
            for choice in node.choices:
                yield choice.value, choice.value, choice.next, {}
        elif isinstance(node, ConfirmNode):
            yield "yes", "yes", node.yes, {}
            yield "no", "no", node.no, {}
        elif isinstance(node, BranchNode):
            yield self._branch(frame, node)
        elif isinstance(node, LeverNode):
            lever = {"lever": node.lever, "inputs": tuple(sorted(frame.inputs.items()))}
            yield "ok", None, node.next, lever
            if node.on_failure is not None:
                yield "failed", None, node.on_failure, {**lever, "lever_fails": True}
        elif isinstance(node, InputNode):
            yield "next", self.plausible(frame.runbook.id, node_id, frame.inputs), node.next, {}
        elif isinstance(node, ChecklistNode | TasksNode):
            yield "next", "all", node.next, {}
        elif isinstance(node, MultiSelectNode):
            yield "next", [c.value for c in node.choices], node.next, {}
        elif isinstance(node, ReleaseNode):
            yield "next", None, node.next, {"released": node.lever}
        elif isinstance(node, ActionNode | CaptureNode | NotifyNode | SetNode | WaitNode):
            yield "next", None, node.next, {}

    def _branch(self, frame: Frame, node: BranchNode) -> tuple[str, Any, str, dict[str, Any]]:
        context = _context(frame)
        for index, arm in enumerate(node.cases):
            if _expression(arm.when)(context):
                return f"case{index}", None, arm.next, {}
        return "default", None, node.default, {}

    def _call(
        self, frame: Frame, node_id: str, node: CallNode, so_far: tuple[Visit, ...]
    ) -> Iterator[Path]:
        """A slot for the callee's path, chosen once the caller's path is complete."""
        callee = self.library[node.runbook]
        context = _context(frame)
        given = {k: render(v, context, k) for k, v in node.inputs.items()}
        inputs = {n: given.get(n, spec.default) for n, spec in callee.inputs.items()}
        options = tuple(self.of(callee, inputs, f"{frame.prefix}{callee.id}."))
        slot = self._visit(frame, node_id, edge="call", callee=options, ends=node.next is None)
        if node.next is None:
            yield Path((*so_far, slot), Outcome.CONTAINED)  # the callee's end decides
            return
        answers = frame.answers | {node_id: "(the callee's outcome)"}
        child = Frame(frame.runbook, frame.inputs, frame.prefix, answers, frame.used, frame.engaged)
        yield from self._from(child, node.next, (*so_far, slot))


def covering(paths: list[Path], runbook: str) -> list[Path]:
    """A subset of ``paths`` that takes every edge of ``runbook`` that any of them takes (a
    called runbook's own edges are its own paths' business)."""
    chosen: list[Path] = []
    seen: set[tuple[str, str, str]] = set()
    for path in sorted(paths, key=lambda p: -len(p.edges())):
        own = {edge for edge in path.edges() if edge[0] == runbook}
        if not own <= seen:
            chosen.append(path)
            seen |= own
    return chosen


def nested(flat: Mapping[str, Any], runbook: Runbook, library: Mapping[str, Runbook]) -> Any:
    """``{"node": v, "callee.node": w}`` as an answers file writes it: ``{callee: {node: w}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, rest = key.partition(".")
        if head in runbook.nodes:
            out[key] = value
        else:
            out.setdefault(head, {})[rest] = value
    for head, sub in list(out.items()):
        if head not in runbook.nodes and isinstance(sub, dict):
            out[head] = nested(sub, library[head], library)
    return out


@functools.cache
def _expression(source: str) -> Callable[[Mapping[str, Any]], Any]:
    return environment().compile_expression(source, undefined_to_none=False)


def _value(node: Node, answer: Any) -> Any:
    """What ``answers.<node>`` holds in a template after this answer."""
    if isinstance(node, ConfirmNode):
        return answer == "yes"
    if isinstance(node, ChecklistNode):
        return [item.id for item in node.items]
    if isinstance(node, TasksNode):
        return None  # a tasks node gives no answer to templates
    if isinstance(node, ActionNode):
        return "ok"
    return answer


def _context(frame: Frame) -> dict[str, Any]:
    return {
        "inputs": frame.inputs,
        "answers": frame.answers,
        "vars": {},
        "env": {},
        "incident": {"id": "INC-PATHS", "severity": frame.runbook.severity.value},
        "levers": LeverStates(
            [
                {"lever": name, "engaged": True, "verified": True, "title": name}
                for name in frame.engaged
            ],
            {name: name for name in frame.runbook.levers},
        ),
    }
