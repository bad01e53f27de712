"""The checks beyond the schema: graph shape, references, templates, evidence before levers."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from aiir.formats import patterns
from aiir.formats.findings import Finding, Loc, at, suggest
from aiir.formats.loader import Document
from aiir.formats.paths import LeavesFolder, beneath
from aiir.formats.profile import Profile
from aiir.formats.schema import (
    CallNode,
    CaptureNode,
    InputNode,
    LeverNode,
    Node,
    ReleaseNode,
    Runbook,
    is_path,
    is_terminal,
)
from aiir.formats.templating import (
    TemplateFailure,
)
from aiir.validate.approvals import approval_findings
from aiir.validate.requests import request_findings
from aiir.validate.tasks import task_findings
from aiir.validate.templates import (
    first_line,
    json_strings,
    template_findings,
    template_hazard,
    template_references,
)
from aiir.validate.timers import timer_findings


def runbook_findings(
    doc: Document,
    runbook: Runbook,
    profiles: Mapping[str, Profile],
    runbook_ids: set[str],
    roles: Collection[str] | None = None,
) -> list[Finding]:
    """Every finding beyond the schema for one runbook; ``roles`` are the team file's (roles
    and people), None when there is none."""
    targets = _target_map(runbook.nodes)
    findings: list[Finding] = []
    findings += _reference_findings(doc, runbook, runbook_ids)
    findings += _graph_findings(doc, runbook, targets)
    findings += _lever_findings(doc, runbook)
    findings += _evidence_findings(doc, runbook, targets)
    findings += _input_findings(doc, runbook)
    findings += request_findings(doc, runbook, profiles)
    findings += template_findings(doc, runbook, profiles)
    findings += timer_findings(doc, runbook)
    findings += task_findings(doc, runbook, roles)
    findings += approval_findings(doc, runbook, roles)
    return findings


# --- references ------------------------------------------------------------------------------


def _reference_findings(doc: Document, runbook: Runbook, runbook_ids: set[str]) -> list[Finding]:
    out: list[Finding] = []
    nodes = runbook.nodes
    if runbook.start not in nodes:
        message = f"{runbook.start!r} names no node{suggest(runbook.start, set(nodes))}"
        out.append(at(doc, ("start",), "dangling-next", message))
    for node_id, node in nodes.items():
        for _, loc, target in node.edges():
            if target not in nodes:
                message = f"{target!r} names no node{suggest(target, set(nodes))}"
                out.append(at(doc, ("nodes", node_id, *loc), "dangling-next", message))
        if isinstance(node, ReleaseNode):
            out += _release_findings(doc, runbook, node_id, node)
        if isinstance(node, LeverNode) and node.lever not in runbook.levers:
            known = ", ".join(sorted(runbook.levers)) or "none"
            message = f"{node.lever!r} is not a declared lever (declared: {known})"
            out.append(at(doc, ("nodes", node_id, "lever"), "unknown-lever", message))
        if isinstance(node, CallNode):
            out += _call_target_findings(doc, node_id, node, runbook_ids)
    return out


def _release_findings(
    doc: Document, runbook: Runbook, node_id: str, node: ReleaseNode
) -> list[Finding]:
    """A release step names a declared lever that has a release request and that some lever
    node of this runbook engages."""
    loc = ("nodes", node_id, "lever")
    lever = runbook.levers.get(node.lever)
    if lever is None:
        known = ", ".join(sorted(runbook.levers)) or "none"
        message = f"{node.lever!r} is not a declared lever (declared: {known})"
        return [at(doc, loc, "unknown-lever", message)]
    if lever.release is None:
        message = f"lever {node.lever!r} has no 'release' request: a release step cannot undo it"
        return [at(doc, loc, "no-release", message)]
    engaged = any(
        isinstance(n, LeverNode) and n.lever == node.lever for n in runbook.nodes.values()
    )
    if not engaged:
        message = f"no lever node of this runbook engages {node.lever!r}: nothing to release"
        return [at(doc, loc, "never-engaged", message, level="warning")]
    return []


def _call_target_findings(
    doc: Document, node_id: str, node: CallNode, runbook_ids: set[str]
) -> list[Finding]:
    """A call's runbook must be there: a known id, or a file at the path (from this folder)."""
    if is_path(node.runbook):
        try:
            target = beneath(Path(doc.path).parent, node.runbook)
        except LeavesFolder as exc:
            return [at(doc, ("nodes", node_id, "runbook"), "outside-folder", str(exc))]
        if target.is_file():
            problem = _unloadable(target)
            if problem is None:
                return []
            message = f"the runbook at {node.runbook!r} cannot be walked: {problem}"
            return [at(doc, ("nodes", node_id, "runbook"), "invalid-runbook", message)]
        else:
            message = f"no runbook at {node.runbook!r} (a path is taken from this runbook's folder)"
    elif node.runbook not in runbook_ids:
        message = f"no runbook with id {node.runbook!r}{suggest(node.runbook, runbook_ids)}"
    else:
        return []
    return [at(doc, ("nodes", node_id, "runbook"), "unknown-runbook", message)]


def _unloadable(path: Path) -> str | None:
    """Why the runbook a call names by path would stop the walk (not YAML, a fragment it includes
    broken, not a runbook), or None; its own findings are reported where it is validated."""
    from aiir.errors import LoadError
    from aiir.formats.includes import resolved
    from aiir.formats.loader import load_file
    from aiir.formats.modeling import ValidationError

    try:
        Runbook.model_validate(resolved(load_file(path)).data)
    except LoadError as exc:
        return exc.render()
    except ValidationError:
        return f"it is not a valid runbook (aiir validate {path})"
    return None


# --- calls between runbooks --------------------------------------------------------------------

# A runbook id -> where a walk would find that runbook (a key, e.g. its path) and the runbook;
# None when it finds none (reported on its own) or the runbook there is invalid.
Resolve = Callable[[str], tuple[str, Runbook] | None]


def call_cycle_findings(
    doc: Document, runbook: Runbook, key: str, resolve: Resolve
) -> list[Finding]:
    """Call nodes that lead into a cycle of calls: the walk would call runbooks without end.

    ``key`` is where this runbook itself is found, so a call to its own id is seen as a cycle.
    """
    calls = [(n, node.runbook) for n, node in runbook.nodes.items() if isinstance(node, CallNode)]
    if not calls:
        return []
    names, targets = _call_graph(runbook, key, resolve)
    members = list(targets)
    cyclic = {member for ring in _cycles(members, targets) for member in ring}
    toward_root = _hops_toward({key}, targets)
    toward_cycle = _hops_toward(cyclic, targets)
    out: list[Finding] = []
    for node_id, callee in calls:
        found = resolve(callee)
        if found is None:
            continue
        target = found[0]
        if target in toward_root:
            ring = [names[n] for n in _follow(target, toward_root)]
            message = (
                f"runbook {runbook.id!r} calls itself"
                if target == key
                else f"call cycle: {' → '.join([runbook.id, *ring])}"
            )
            message += ": a walk would call runbooks without end"
        elif target in toward_cycle:
            entry = _follow(target, toward_cycle)
            ring = [names[n] for n in _ring(entry[-1], targets, cyclic)]
            message = (
                f"{callee!r} leads into a call cycle ({' → '.join(ring)}): "
                "a walk would call runbooks without end"
            )
        else:
            continue
        out.append(at(doc, ("nodes", node_id, "runbook"), "call-cycle", message))
    return out


def _call_graph(
    root: Runbook, key: str, resolve: Resolve
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every runbook the root can call, directly or not: key -> id, and key -> called keys."""
    names = {key: root.id}
    targets: dict[str, list[str]] = {}
    queue = deque([(key, root)])
    while queue:
        current, runbook = queue.popleft()
        called = targets[current] = []
        for node in runbook.nodes.values():
            if not isinstance(node, CallNode):
                continue
            found = resolve(node.runbook)
            if found is None:
                continue
            target, child = found
            if target not in called:
                called.append(target)
            if target not in names:
                names[target] = child.id
                queue.append((target, child))
    return names, targets


def _hops_toward(goals: set[str], targets: Targets) -> dict[str, str | None]:
    """For each key with a path into ``goals``: the next key on a shortest one (None: arrived)."""
    incoming: dict[str, list[str]] = {k: [] for k in targets}
    for source, called in targets.items():
        for target in called:
            incoming[target].append(source)
    hops: dict[str, str | None] = dict.fromkeys(goals)
    queue = deque(goals)
    while queue:
        current = queue.popleft()
        for source in incoming[current]:
            if source not in hops:
                hops[source] = current
                queue.append(source)
    return hops


def _follow(start: str, hops: Mapping[str, str | None]) -> list[str]:
    path = [start]
    while (step := hops[path[-1]]) is not None:
        path.append(step)
    return path


def _ring(entry: str, targets: Targets, cyclic: set[str]) -> list[str]:
    """A shortest cycle through ``entry``, as keys, ``entry`` first and last."""
    parents: dict[str, str] = {}
    queue = deque([entry])
    while queue:
        current = queue.popleft()
        for target in targets[current]:
            if target == entry:
                path = [current]
                while path[-1] != entry:
                    path.append(parents[path[-1]])
                return [entry, *reversed(path[:-1]), entry] if current != entry else [entry, entry]
            if target in cyclic and target not in parents:
                parents[target] = current
                queue.append(target)
    return [entry, entry]


# --- graph shape -----------------------------------------------------------------------------


Targets = Mapping[str, list[str]]


def _target_map(nodes: Mapping[str, Node]) -> dict[str, list[str]]:
    """Each node's successors that exist, worked out once (``edges()`` is not cheap)."""
    return {n: [e.target for e in node.edges() if e.target in nodes] for n, node in nodes.items()}


def _graph_findings(doc: Document, runbook: Runbook, targets: Targets) -> list[Finding]:
    nodes = runbook.nodes
    out: list[Finding] = []
    reachable = _reachable(runbook.start, targets, stop=frozenset())
    for node_id in nodes:
        if node_id not in reachable and runbook.start in nodes:
            message = f"unreachable: no path from start {runbook.start!r} leads here"
            out.append(
                at(doc, ("nodes", node_id), "unreachable", message, level="warning", key=True)
            )
    ending = _can_end(nodes, targets)
    trapped = [n for n in nodes if n not in ending]
    in_cycle: set[str] = set()
    for component in _cycles(trapped, targets):
        in_cycle.update(component)
        ring = " → ".join([*component, component[0]])
        message = f"cycle with no way out: {ring}"
        out.append(at(doc, ("nodes", component[0]), "trapped-cycle", message, key=True))
    for node_id in trapped:
        if node_id not in in_cycle:
            message = "no path from here to an end"
            out.append(at(doc, ("nodes", node_id), "no-end", message, key=True))
    return out + _bound_findings(doc, runbook, targets)


def _bound_findings(doc: Document, runbook: Runbook, targets: Targets) -> list[Finding]:
    """A ``max_visits`` on a node no cycle returns to bounds nothing: it is entered once."""
    bounded = [n for n, node in runbook.nodes.items() if node.max_visits is not None]
    if not bounded:
        return []
    cyclic = {n for component in _cycles(list(runbook.nodes), targets) for n in component}
    message = "max_visits bounds nothing here: no cycle leads back to this node"
    return [
        at(doc, ("nodes", n, "max_visits"), "unbounded", message, level="warning")
        for n in bounded
        if n not in cyclic
    ]


def _reachable(start: str, targets: Targets, stop: frozenset[str]) -> dict[str, str | None]:
    """Breadth-first from ``start``; ``stop`` nodes are entered but not left. Parent map."""
    if start not in targets:
        return {}
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current in stop:
            continue
        for target in targets[current]:
            if target not in parents:
                parents[target] = current
                queue.append(target)
    return parents


def _can_end(nodes: Mapping[str, Node], targets: Targets) -> set[str]:
    """Nodes with a path to an end. A dangling edge counts as one: it is reported on its own."""
    incoming: dict[str, list[str]] = {n: [] for n in nodes}
    ending: set[str] = set()
    for node_id, node in nodes.items():
        if is_terminal(node) or len(targets[node_id]) < len(node.edges()):
            ending.add(node_id)
        for target in targets[node_id]:
            incoming[target].append(node_id)
    queue = deque(ending)
    while queue:
        for source in incoming[queue.popleft()]:
            if source not in ending:
                ending.add(source)
                queue.append(source)
    return ending


def _cycles(members: list[str], targets: Targets) -> list[list[str]]:
    """Strongly connected components among ``members`` that contain a cycle (Tarjan)."""
    allowed = set(members)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:
        work = [(root, iter(targets[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node_id, children = work[-1]
            child = next((c for c in children if c in allowed), None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node_id])
                if low[node_id] == index[node_id]:
                    component = _pop_component(node_id, stack, on_stack)
                    if len(component) > 1 or node_id in targets[node_id]:
                        found.append(sorted(component, key=members.index))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(targets[child])))
            elif child in on_stack:
                low[node_id] = min(low[node_id], index[child])

    for member in members:
        if member not in index:
            visit(member)
    return sorted(found, key=lambda c: members.index(c[0]))


def _pop_component(root: str, stack: list[str], on_stack: set[str]) -> list[str]:
    component: list[str] = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


# --- levers and evidence ---------------------------------------------------------------------


def _lever_findings(doc: Document, runbook: Runbook) -> list[Finding]:
    out: list[Finding] = []
    used = {n.lever for n in runbook.nodes.values() if isinstance(n, LeverNode)}
    for name, lever in runbook.levers.items():
        loc: Loc = ("levers", name)
        if lever.release is None:
            message = "no 'release': the lever cannot be rolled back"
            out.append(at(doc, loc, "no-release", message, level="warning", key=True))
        if lever.verify is None:
            message = "no 'verify' probe: aiir cannot prove the lever took effect"
            out.append(at(doc, loc, "no-verify", message, level="warning", key=True))
        if name not in used:
            message = "declared but no lever node engages it"
            out.append(at(doc, loc, "unused-lever", message, level="warning", key=True))
    return out


def _evidence_findings(doc: Document, runbook: Runbook, targets: Targets) -> list[Finding]:
    nodes = runbook.nodes
    captures = frozenset(n for n, node in nodes.items() if isinstance(node, CaptureNode))
    parents = _reachable(runbook.start, targets, stop=captures)
    out: list[Finding] = []
    for node_id, node in nodes.items():
        if not isinstance(node, LeverNode) or node_id not in parents:
            continue
        lever = runbook.levers.get(node.lever)
        if lever is None or not lever.destroys_evidence:
            continue
        path = _path_to(node_id, parents)
        message = (
            f"lever {node.lever!r} destroys evidence, but a path reaches it with no capture "
            f"first: {' → '.join(path)}"
        )
        out.append(at(doc, ("nodes", node_id), "evidence", message, level="warning", key=True))
    return out


def _input_findings(doc: Document, runbook: Runbook) -> list[Finding]:
    """A patterned input with no ``hint``: an operator who mistypes is shown the regular
    expression itself, which tells few people at 3 a.m. what to type."""
    out: list[Finding] = []
    for node_id, node in runbook.nodes.items():
        if isinstance(node, InputNode) and node.pattern is not None and not node.hint:
            message = (
                "a pattern with no hint: an answer that does not match is told only the regular "
                "expression; say what is expected in words (hint: 'a key alias, like sk-...')"
            )
            out.append(at(doc, ("nodes", node_id, "pattern"), "no-hint", message, level="warning"))
    located = [(("inputs", name, "pattern"), spec.pattern) for name, spec in runbook.inputs.items()]
    located += [
        (("nodes", node_id, "pattern"), node.pattern)
        for node_id, node in runbook.nodes.items()
        if isinstance(node, InputNode)
    ]
    for loc, pattern in located:
        if pattern is not None and patterns.nested_quantifier(pattern):
            message = (
                f"the pattern {pattern!r} repeats a repeat (like (a+)+), which can backtrack "
                "exponentially on a near-miss answer (one whose match takes over a second is "
                "refused); drop the inner or the outer quantifier"
            )
            out.append(at(doc, loc, "slow-pattern", message, level="warning"))
    return out


def _path_to(node_id: str, parents: Mapping[str, str | None]) -> list[str]:
    path = [node_id]
    while (parent := parents[path[-1]]) is not None:
        path.append(parent)
    return path[::-1]


# --- profiles --------------------------------------------------------------------------------


def profile_findings(doc: Document, profile: Profile) -> list[Finding]:
    """Profile actions may read only their own declared ``params``."""
    out: list[Finding] = []
    for name, action in profile.actions.items():
        base: Loc = ("actions", name)
        strings: list[tuple[Loc, str]] = [(("path",), action.path)]
        strings += [(("query", k), v) for k, v in action.query.items()]
        strings += [(("headers", k), v) for k, v in action.headers.items()]
        strings += list(json_strings(("json",), action.json_))
        if action.body is not None:
            strings.append((("body",), action.body))
        for loc, source in strings:
            problem = template_hazard(source)
            if problem is not None:
                out.append(at(doc, (*base, *loc), "template", f"template {problem}"))
                continue
            try:
                refs = template_references(source)
            except TemplateFailure as exc:
                message = f"template syntax error: {first_line(exc)}"
                out.append(at(doc, (*base, *loc), "template", message))
                continue
            for ref in refs:
                if ref.namespace != "params" or (ref.name and ref.name not in action.params):
                    shown = f"{ref.namespace}.{ref.name}" if ref.name else ref.namespace
                    message = f"'{shown}' is not defined: profile actions read their own params.*"
                    out.append(at(doc, (*base, *loc), "undefined-variable", message))
    return out
