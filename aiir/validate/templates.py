"""The templates of a runbook: each one parsed, its references defined, its hazards refused."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from aiir.formats.findings import Finding, Loc, at, suggest
from aiir.formats.loader import Document
from aiir.formats.profile import Profile
from aiir.formats.schema import (
    ActionNode,
    BranchNode,
    CallNode,
    ChecklistNode,
    ConfirmNode,
    InputNode,
    LeverNode,
    MultiSelectNode,
    QuestionNode,
    ReleaseNode,
    Request,
    Runbook,
    SetNode,
    WaitNode,
)
from aiir.formats.templating import (
    INCIDENT_FIELDS,
    WINDOW_FIELDS,
    Reference,
    TemplateFailure,
    is_template,
    references,
)
from aiir.validate import template_reading
from aiir.validate.requests import requests
from aiir.validate.template_hazards import hazard
from aiir.validate.template_reader import read

ANSWERING = (
    QuestionNode,
    ConfirmNode,
    MultiSelectNode,
    InputNode,
    ChecklistNode,
    CallNode,
    LeverNode,
    ActionNode,
    WaitNode,
    ReleaseNode,
)


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
        if isinstance(node, SetNode):
            for name, expression in node.values.items():
                yield (*base, "values", name), expression, True, none
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
    yield from json_strings(("json",), request.json_)
    yield from json_strings(("with",), request.with_)
    if request.expect is not None:
        for key, value in request.expect.headers.items():
            yield ("expect", "headers", key), value
        yield from json_strings(("expect", "json"), request.expect.json_)


def json_strings(loc: Loc, value: Any) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from json_strings((*loc, key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from json_strings((*loc, i), item)


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
    for node in runbook.nodes.values():
        if isinstance(node, SetNode):
            saved.update(node.values)
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


def template_findings(
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
            message = f"template syntax error: {first_line(exc)}"
            if expression and source.lstrip().startswith("{{"):
                message = f"an expression is written bare, without {{{{ }}}} ({message})"
            out.append(at(doc, loc, "template", message))
            continue
        for ref in refs:
            problem = _undefined(ref.namespace, ref.name, allowed, defined)
            if problem:
                out.append(at(doc, loc, "undefined-variable", problem))
    return out


def first_line(exc: Exception) -> str:
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
    hint = suggest(name, defined.get(namespace, set()))
    where = {
        "inputs": "declare it under 'inputs'",
        "env": "declare it under 'env'",
        "answers": "no question, confirm, input, checklist, lever, action or call node has that id",
        "vars": "no request saves it ('save:') and no set node sets it",
        "incident": f"incident has: {', '.join(sorted(INCIDENT_FIELDS))}",
        "window": "window has: start, end",
        "levers": "declare it under 'levers'",
    }[namespace]
    return f"'{namespace}.{name}' is not defined: {where}{hint}"


# --- template references and hazards, without Jinja2 when the reader reads them ------------------

# Jinja2's parser costs about 0.2 ms a template, and importing and setting it up ~18 ms of a cold
# `aiir validate`: the templates written in the grammar aiir.validate.template_reader reads (every
# shipped runbook's) are read by it; the rest go to Jinja2.


@functools.lru_cache(maxsize=4096)
def template_hazard(source: str, *, expression: bool = False) -> str | None:
    """:func:`aiir.validate.template_hazards.hazard`, without Jinja2 when the reader reads it."""
    text = "{{ " + source + " }}" if expression else source
    if not is_template(text):
        return None
    body = read(text)
    if body is not None:
        return template_reading.hazard(body)
    return hazard(source, expression=expression)


@functools.lru_cache(maxsize=4096)
def template_references(source: str, *, expression: bool = False) -> tuple[Reference, ...]:
    """:func:`aiir.formats.templating.references`, without Jinja2 when the reader reads it."""
    text = "{{ " + source + " }}" if expression else source
    if not is_template(text):
        return ()
    body = read(text)
    if body is not None:
        return template_reading.references(body)
    return tuple(references(source, expression=expression))
