"""The checks beyond the schema: graph shape, references, templates, evidence before levers."""

from __future__ import annotations

import difflib
import functools
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiir.formats.findings import Finding, at
from aiir.formats.loader import Document
from aiir.formats.profile import Profile
from aiir.formats.schema import (
    ActionNode,
    BranchNode,
    CallNode,
    CaptureNode,
    ChecklistNode,
    ConfirmNode,
    InputNode,
    LeverNode,
    Node,
    QuestionNode,
    Request,
    Runbook,
    is_terminal,
)
from aiir.formats.templating import (
    INCIDENT_FIELDS,
    WINDOW_FIELDS,
    Reference,
    TemplateFailure,
    environment,
    is_template,
    references,
)
from aiir.validate.template_hazards import dunder_constant, hazard, private_name, takes_no_arguments

Loc = tuple[str | int, ...]
ANSWERING = (QuestionNode, ConfirmNode, InputNode, ChecklistNode, CallNode, LeverNode, ActionNode)


def runbook_findings(
    doc: Document, runbook: Runbook, profiles: Mapping[str, Profile], runbook_ids: set[str]
) -> list[Finding]:
    """Every finding beyond the schema for one runbook."""
    targets = _target_map(runbook.nodes)
    findings: list[Finding] = []
    findings += _reference_findings(doc, runbook, runbook_ids)
    findings += _graph_findings(doc, runbook, targets)
    findings += _lever_findings(doc, runbook)
    findings += _evidence_findings(doc, runbook, targets)
    findings += _input_findings(doc, runbook)
    findings += _request_findings(doc, runbook, profiles)
    findings += _template_findings(doc, runbook, profiles)
    return findings


def _suggest(name: str, known: Iterator[str] | list[str] | set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- references ------------------------------------------------------------------------------


def _reference_findings(doc: Document, runbook: Runbook, runbook_ids: set[str]) -> list[Finding]:
    out: list[Finding] = []
    nodes = runbook.nodes
    if runbook.start not in nodes:
        message = f"{runbook.start!r} names no node{_suggest(runbook.start, set(nodes))}"
        out.append(at(doc, ("start",), "dangling-next", message))
    for node_id, node in nodes.items():
        for _, loc, target in node.edges():
            if target not in nodes:
                message = f"{target!r} names no node{_suggest(target, set(nodes))}"
                out.append(at(doc, ("nodes", node_id, *loc), "dangling-next", message))
        if isinstance(node, LeverNode) and node.lever not in runbook.levers:
            known = ", ".join(sorted(runbook.levers)) or "none"
            message = f"{node.lever!r} is not a declared lever (declared: {known})"
            out.append(at(doc, ("nodes", node_id, "lever"), "unknown-lever", message))
        if isinstance(node, CallNode) and node.runbook not in runbook_ids:
            message = f"no runbook with id {node.runbook!r}{_suggest(node.runbook, runbook_ids)}"
            out.append(at(doc, ("nodes", node_id, "runbook"), "unknown-runbook", message))
    return out


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
    return out


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
    return out


def _path_to(node_id: str, parents: Mapping[str, str | None]) -> list[str]:
    path = [node_id]
    while (parent := parents[path[-1]]) is not None:
        path.append(parent)
    return path[::-1]


# --- requests --------------------------------------------------------------------------------


def requests(runbook: Runbook) -> Iterator[tuple[Loc, Request, bool]]:
    """Every request in the runbook with its location; the flag marks capture requests."""
    for name, lever in runbook.levers.items():
        for part in ("engage", "verify", "release"):
            request = getattr(lever, part)
            if request is not None:
                yield ("levers", name, part), request, False
    for node_id, node in runbook.nodes.items():
        if isinstance(node, ActionNode):
            yield ("nodes", node_id, "request"), node.request, False
        elif isinstance(node, CaptureNode):
            for i, item in enumerate(node.items):
                yield ("nodes", node_id, "items", i, "request"), item.request, True


def _request_findings(
    doc: Document, runbook: Runbook, profiles: Mapping[str, Profile]
) -> list[Finding]:
    out: list[Finding] = []
    for name, gateway in runbook.gateways.items():
        if gateway.profile not in profiles:
            hint = _suggest(gateway.profile, set(profiles))
            message = f"unknown gateway profile {gateway.profile!r}{hint}"
            out.append(at(doc, ("gateways", name, "profile"), "unknown-profile", message))
        problem = url_problem(gateway.url) if gateway.url is not None else None
        if problem is not None:
            out.append(at(doc, ("gateways", name, "url"), "gateway-url", problem))
    for loc, request, _ in requests(runbook):
        out += _one_request(doc, runbook, profiles, loc, request)
    return out


_SCHEMES = ("http://", "https://")
_TEMPLATE_START = re.compile(r"\{[{%#]")


def url_problem(url: str) -> str | None:
    """Why a gateway's base URL cannot work, when it cannot: an http(s) URL with a host.

    A templated URL (``http://{{ env.HOST }}:4000``) is checked as far as its literal start goes.
    """
    start = _TEMPLATE_START.search(url)
    literal = url if start is None else url[: start.start()]
    if start is not None and any(s.startswith(literal.lower()) for s in _SCHEMES):
        return None  # "{{ env.URL }}", "http{{ ... }}": the rest is known only at run time
    shown = url if len(url) <= 60 else url[:59] + "…"
    if not literal.lower().startswith(_SCHEMES):
        return f"{shown!r} is not an http(s) URL: it must start with http:// or https://"
    if any(c.isspace() for c in literal):
        return f"{shown!r} is not a URL: it has a space in it"
    authority = re.split(r"[/?#]", literal.split("://", 1)[1], maxsplit=1)
    if start is None or len(authority) > 1:  # the host is all there: check it
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(literal)
            host, _ = parts.hostname, parts.port  # port raises on "host:abc"
        except ValueError as exc:
            return f"{shown!r} is not a valid URL ({exc})"
        if not host:
            return f"{shown!r} has no host: expected e.g. https://gateway.internal:4000"
    return None


def _one_request(
    doc: Document,
    runbook: Runbook,
    profiles: Mapping[str, Profile],
    loc: Loc,
    request: Request,
) -> list[Finding]:
    gateways = runbook.gateways
    gateway_name = request.gateway
    if gateway_name is not None and gateway_name not in gateways:
        known = ", ".join(sorted(gateways)) or "none"
        message = f"{gateway_name!r} is not a declared gateway (declared: {known})"
        return [at(doc, (*loc, "gateway"), "unknown-gateway", message)]
    if gateway_name is None:
        if not gateways:
            return [
                at(doc, loc, "unknown-gateway", "no gateway declared: add one under 'gateways'")
            ]
        if len(gateways) > 1:
            message = (
                f"several gateways declared ({', '.join(sorted(gateways))}): name one in 'gateway'"
            )
            return [at(doc, loc, "unknown-gateway", message)]
        gateway_name = next(iter(gateways))
    if request.use is None:
        return []
    profile_name, action_name = request.use.split(".", 1)
    profile = profiles.get(profile_name)
    if profile is None:
        message = f"unknown profile {profile_name!r}{_suggest(profile_name, set(profiles))}"
        return [at(doc, (*loc, "use"), "unknown-action", message)]
    action = profile.actions.get(action_name)
    if action is None:
        hint = _suggest(action_name, set(profile.actions))
        message = f"profile {profile_name!r} has no action {action_name!r}{hint}"
        return [at(doc, (*loc, "use"), "unknown-action", message)]
    out: list[Finding] = []
    gateway_profile = profiles.get(gateways[gateway_name].profile)
    if gateway_profile is not None and profile_name not in gateway_profile.speaks:
        message = (
            f"{request.use!r} needs a {profile_name} gateway; "
            f"gateway {gateway_name!r} is {gateway_profile.profile}"
        )
        out.append(at(doc, (*loc, "use"), "unknown-action", message))
    for param in request.with_:
        if param not in action.params:
            known = ", ".join(sorted(action.params)) or "none"
            message = f"{request.use} takes no parameter {param!r} (takes: {known})"
            out.append(at(doc, (*loc, "with", param), "unknown-param", message, key=True))
    for param, spec in action.params.items():
        if spec.required and spec.default is None and param not in request.with_:
            message = f"{request.use} needs parameter {param!r} in 'with' ({spec.description})"
            out.append(at(doc, (*loc, "use"), "missing-param", message))
    return out


# --- templates -------------------------------------------------------------------------------


def template_fields(runbook: Runbook) -> Iterator[tuple[Loc, str, bool, frozenset[str]]]:
    """``(loc, source, is_expression, extra_namespaces)`` for every templated field."""
    none: frozenset[str] = frozenset()
    for name, gateway in runbook.gateways.items():
        if gateway.url is not None:
            yield ("gateways", name, "url"), gateway.url, False, frozenset({"only-env"})
        for header, value in gateway.headers.items():
            yield ("gateways", name, "headers", header), value, False, frozenset({"only-env"})
    for loc, request, in_capture in requests(runbook):
        extra = frozenset({"window"}) if in_capture else none
        for sub, value in _request_strings(request):
            yield (*loc, *sub), value, False, extra
    for node_id, node in runbook.nodes.items():
        base: Loc = ("nodes", node_id)
        fields = type(node).model_fields  # getattr's miss path on a pydantic model is slow
        for attr in ("text", "prompt", "message", "summary"):
            shown = getattr(node, attr) if attr in fields else None
            if isinstance(shown, str):
                yield (*base, attr), shown, False, none
        if isinstance(node, InputNode) and node.default is not None:
            yield (*base, "default"), node.default, False, none
        if isinstance(node, BranchNode):
            for i, case in enumerate(node.cases):
                yield (*base, "cases", i, "when"), case.when, True, none
        if isinstance(node, CallNode):
            for key, value in node.inputs.items():
                yield (*base, "inputs", key), value, False, none


def _request_strings(request: Request) -> Iterator[tuple[Loc, str]]:
    if request.path is not None:
        yield ("path",), request.path
    if request.body is not None:
        yield ("body",), request.body
    for field, mapping in (("query", request.query), ("headers", request.headers)):
        for key, value in mapping.items():
            yield (field, key), value
    yield from _json_strings(("json",), request.json_)
    yield from _json_strings(("with",), request.with_)
    if request.expect is not None:
        for key, value in request.expect.headers.items():
            yield ("expect", "headers", key), value
        yield from _json_strings(("expect", "json"), request.expect.json_)


def _json_strings(loc: Loc, value: Any) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings((*loc, key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_strings((*loc, i), item)


def defined_names(runbook: Runbook, profiles: Mapping[str, Profile]) -> dict[str, set[str]]:
    """What each template namespace holds in this runbook."""
    saved: set[str] = set()
    for _, request, _ in requests(runbook):
        saved.update(request.save)
        if request.use is not None:
            profile_name, action_name = request.use.split(".", 1)
            action = profiles.get(profile_name, None)
            if action is not None and action_name in action.actions:
                saved.update(action.actions[action_name].save)
    answers = {n for n, node in runbook.nodes.items() if isinstance(node, ANSWERING)}
    return {
        "inputs": set(runbook.inputs),
        "env": set(runbook.env),
        "answers": answers,
        "vars": saved,
        "incident": set(INCIDENT_FIELDS),
        "window": set(WINDOW_FIELDS),
        "levers": set(runbook.levers),
    }


def _template_findings(
    doc: Document, runbook: Runbook, profiles: Mapping[str, Profile]
) -> list[Finding]:
    defined = defined_names(runbook, profiles)
    out: list[Finding] = []
    for loc, source, expression, extra in template_fields(runbook):
        allowed = (
            {"env"}
            if "only-env" in extra
            else {"inputs", "answers", "vars", "env", "incident", "levers"}
        )
        allowed |= extra - {"only-env"}
        problem = template_hazard(source, expression=expression)
        if problem is not None:
            out.append(at(doc, loc, "template", f"template {problem}"))
            continue
        try:
            refs = template_references(source, expression=expression)
        except TemplateFailure as exc:
            out.append(at(doc, loc, "template", f"template syntax error: {_first_line(exc)}"))
            continue
        for ref in refs:
            problem = _undefined(ref.namespace, ref.name, allowed, defined)
            if problem:
                out.append(at(doc, loc, "undefined-variable", problem))
    return out


def _first_line(exc: Exception) -> str:
    """Jinja2 appends a fake traceback line to some messages ("File "<introspection>"...")."""
    return str(exc).split("\n", 1)[0]


def _undefined(
    namespace: str, name: str | None, allowed: set[str], defined: Mapping[str, set[str]]
) -> str | None:
    if namespace not in allowed:
        readable = ", ".join(f"{n}.*" for n in sorted(allowed))
        shown = f"{namespace}.{name}" if name else namespace
        return f"{shown!r} is not defined here; templates here read {readable}"
    if name is None or name in defined.get(namespace, set()):
        return None
    hint = _suggest(name, defined.get(namespace, set()))
    where = {
        "inputs": "declare it under 'inputs'",
        "env": "declare it under 'env'",
        "answers": "no question, confirm, input, checklist, lever, action or call node has that id",
        "vars": "no request saves it ('save:')",
        "incident": f"incident has: {', '.join(sorted(INCIDENT_FIELDS))}",
        "window": "window has: start, end",
        "levers": "declare it under 'levers'",
    }[namespace]
    return f"'{namespace}.{name}' is not defined: {where}{hint}"


# --- template references, fast ----------------------------------------------------------------

# Most templates only print a variable or compare one: `{{ inputs.model }}`, `{{ x | urlencode }}`,
# `incident.severity == 'SEV1'`. Those are read with a regular expression; anything else goes to
# Jinja2's parser, which costs about 0.2 ms a template (the bulk of validating a large library).
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_KEYWORD = r"(?:and|or|not|in|is|if|else|true|false|none|True|False|None)\b"
_STRING = r"'[^'\\{}\n]*'|\"[^\"\\{}\n]*\""
_NUMBER = r"[0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z_.])"
_REF = rf"(?!{_KEYWORD}){_NAME}(?:\.{_NAME}|\[\s*(?:{_STRING})\s*\])*"
_OPERAND = rf"(?:{_REF}(?:\s*\|\s*{_NAME})*|{_STRING}|{_NUMBER})"
_WORD = r"(?<![A-Za-z0-9_])(?:{})(?=[\s'\"])"
_COMPARE = r"==|!=|<=|>=|<|>|" + _WORD.format(r"not\s+in|in")
_COMPARISON = (
    rf"(?:not\s+)*{_OPERAND}(?:\s*(?:{_COMPARE})\s*{_OPERAND})*"  # Jinja2: no `a == not b`
)
_EXPRESSION = rf"\s*{_COMPARISON}(?:\s*{_WORD.format('and|or')}\s*{_COMPARISON})*\s*"
_DATA = r"(?:[^{]|\{(?![{%#]))*"
_SIMPLE = re.compile(rf"{_DATA}(?:\{{\{{{_EXPRESSION}\}}\}}{_DATA})*")
_PRINT = re.compile(rf"\{{\{{({_EXPRESSION})\}}\}}")
_TOKEN = re.compile(
    rf"(?P<skip>\|\s*(?P<filter>{_NAME})|{_STRING}|{_NUMBER}|{_KEYWORD})"
    rf"|(?P<ns>{_NAME})(?:\.(?P<attr>{_NAME})|\[\s*(?P<item>{_STRING})\s*\])?"
    rf"(?:\.{_NAME}|\[\s*(?:{_STRING})\s*\])*"
)
_NEWLINE = re.compile(r"\r\n|\r|\n")


@functools.lru_cache(maxsize=4096)
def template_hazard(source: str, *, expression: bool = False) -> str | None:
    """:func:`aiir.validate.template_hazards.hazard`, without Jinja2 for the simple templates."""
    text = "{{ " + source + " }}" if expression else source
    if not is_template(text):
        return None
    if _SIMPLE.fullmatch(text) is not None:
        found = _simple_hazard(text)
        if found is not _UNSURE:
            return found
    return hazard(source, expression=expression)


_UNSURE = "unsure"  # a simple template that Jinja2 must judge after all
_PIECE = re.compile(
    rf"(?P<string>{_STRING})|\.(?P<attr>{_NAME})|\[\s*(?P<item>{_STRING})\s*\]"
    rf"|\|\s*(?P<filter>{_NAME})"
)


def _simple_hazard(text: str) -> str | None:
    """What a simple template (names, strings, bare filters) does that the sandbox refuses."""
    constants: str | None = None
    for printed in _PRINT.finditer(text):
        for piece in _PIECE.finditer(printed.group(1)):
            if piece["filter"] is not None:
                if not takes_no_arguments(piece["filter"]):
                    return _UNSURE  # `x | attr`: Jinja2's reading says what is missing
                continue
            if piece["string"] is not None:
                if "__" in piece["string"] and constants is None:
                    constants = dunder_constant(piece["string"][1:-1])
                continue
            name = piece["attr"] if piece["attr"] is not None else piece["item"][1:-1]
            found = private_name(name)
            if found is not None:
                return found
    return constants


@functools.lru_cache(maxsize=4096)
def template_references(source: str, *, expression: bool = False) -> tuple[Reference, ...]:
    """:func:`aiir.formats.templating.references`, without Jinja2 for the simple templates."""
    text = "{{ " + source + " }}" if expression else source
    fast = _simple_references(text)
    if fast is not None:
        return fast
    return tuple(references(source, expression=expression))


def _simple_references(text: str) -> tuple[Reference, ...] | None:
    """The references of a simple template, in Jinja2's order; None when it is not simple."""
    if _SIMPLE.fullmatch(text) is None:
        return None
    filters = environment().filters
    accessed: list[Reference] = []
    bare: list[Reference] = []
    line, counted = 1, 0
    for printed in _PRINT.finditer(text):
        for token in _TOKEN.finditer(printed.group(1)):
            if token["filter"] is not None and token["filter"] not in filters:
                return None  # Jinja2 reports the unknown filter
            if token["ns"] is None:
                continue
            offset = printed.start(1) + token.start()
            line, counted = line + len(_NEWLINE.findall(text, counted, offset)), offset
            name = token["attr"] or (token["item"][1:-1] if token["item"] else None)
            (bare if name is None else accessed).append(Reference(token["ns"], name, line))
    return (*accessed, *bare)


# --- profiles --------------------------------------------------------------------------------


def profile_findings(doc: Document, profile: Profile) -> list[Finding]:
    """Profile actions may read only their own declared ``params``."""
    out: list[Finding] = []
    for name, action in profile.actions.items():
        base: Loc = ("actions", name)
        strings: list[tuple[Loc, str]] = [(("path",), action.path)]
        strings += [(("query", k), v) for k, v in action.query.items()]
        strings += [(("headers", k), v) for k, v in action.headers.items()]
        strings += list(_json_strings(("json",), action.json_))
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
                message = f"template syntax error: {_first_line(exc)}"
                out.append(at(doc, (*base, *loc), "template", message))
                continue
            for ref in refs:
                if ref.namespace != "params" or (ref.name and ref.name not in action.params):
                    shown = f"{ref.namespace}.{ref.name}" if ref.name else ref.namespace
                    message = f"'{shown}' is not defined: profile actions read their own params.*"
                    out.append(at(doc, (*base, *loc), "undefined-variable", message))
    return out
