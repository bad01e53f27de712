"""Session context from a trace store: the spans an AI system wrote with the OpenInference
conventions (Arize Phoenix's REST API returns them with their attributes flattened to dotted keys),
regrouped into what a responder reads: per session, the ordered messages, the models and their
parameters, the documents retrieved with their ids and scores, the tool calls with their
arguments and results, the guardrail verdicts, the spans that failed, and the text that looks
like an attack. The bundle is evidence like any other: stored beside the journal with its SHA-256.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiir.formats import received

FORMAT = "aiir.session-context/1"
# Phrases of prompt injection and jailbreaks: a message, document or tool result holding one is
# listed as hostile (the canaries learn from the same list).
ATTACK_PHRASES = (
    "ignore all previous instructions",
    "ignore previous instructions",
    "ignore the above",
    "ignore the user's",
    "ignore the customer's",
    "do not mention this",
    "disregard your instructions",
    "disregard all prior",
    "system prompt",
    "your instructions",
    "developer mode",
    "jailbreak",
    "do anything now",
    "you are now dan",
)
_INDEXED = re.compile(r"^(?P<list>[a-z_.]+)\.(?P<n>\d+)\.(?P<rest>.+)$")


def looks_hostile(text: str) -> bool:
    """Whether ``text`` holds a known injection or jailbreak phrase (spacing and case aside)."""
    lowered = " ".join(text.lower().split())
    return any(phrase in lowered for phrase in ATTACK_PHRASES)


def bundle(spans: Iterable[Mapping[str, Any]], source: str) -> dict[str, Any]:
    """The session-context bundle of ``spans`` (Phoenix's span records), one entry a session:
    a trace belongs to the session its spans name (``session.id``), else it is one of its own."""
    kept = [_record(s) for s in spans if isinstance(s, Mapping)]
    traces: dict[str, list[Mapping[str, Any]]] = {}
    for span in kept:
        traces.setdefault(_trace(span), []).append(span)
    sessions: dict[str, dict[str, Any]] = {}
    for trace, members in traces.items():
        named = next(
            (_attrs(s).get("session.id") for s in members if "session.id" in _attrs(s)), None
        )
        key = str(named) if named is not None else trace
        entry = sessions.setdefault(key, _empty(key, named is not None))
        entry["traces"].append(trace)
        for span in sorted(members, key=lambda s: str(s.get("start_time", ""))):
            _add(entry, span)
    for entry in sessions.values():
        entry["messages"] = _once(entry["messages"])
    return {
        "format": FORMAT,
        "source": source,
        "spans": len(kept),
        "sessions": list(sessions.values()),
    }


def _record(span: Mapping[str, Any]) -> Mapping[str, Any]:
    """A span as Phoenix's REST API writes it; an OTLP/JSON span (attributes as a list of
    ``{key, value: {stringValue...}}``, camelCase or Phoenix's snake_case) is turned into one."""
    if not isinstance(span.get("attributes"), list):
        return span
    field = {k.replace("_", "").lower(): v for k, v in span.items()}
    attributes = {
        str(a.get("key")): _otlp_value(a.get("value"))
        for a in span["attributes"]
        if isinstance(a, Mapping)
    }
    found = field.get("status")
    status: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    started = field.get("starttimeunixnano")
    return {
        "name": field.get("name"),
        "context": {"trace_id": field.get("traceid"), "span_id": field.get("spanid")},
        "parent_id": field.get("parentspanid"),
        "span_kind": attributes.get("openinference.span.kind"),
        # nanoseconds, zero-padded: they sort as the times they are
        "start_time": f"{int(str(started)):020d}" if str(started or "").isdigit() else "",
        "status_code": "ERROR" if status.get("code") in (2, "STATUS_CODE_ERROR") else "OK",
        "status_message": status.get("message"),
        "attributes": attributes,
    }


def _otlp_value(value: Any) -> Any:
    """An OTLP AnyValue: the one of its fields that is set."""
    if not isinstance(value, Mapping):
        return None
    for key, held in value.items():
        if held is None:
            continue
        kind = key.replace("_", "").lower()
        if kind == "arrayvalue" and isinstance(held, Mapping):
            return [_otlp_value(v) for v in held.get("values") or []]
        if kind == "intvalue":
            return int(held)
        return held
    return None


def summary(data: Any) -> dict[str, int] | None:
    """Counts of a bundle, for ``aiir show`` and the post-mortem; None when it is not one."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    sessions = [s for s in data.get("sessions", []) if isinstance(s, dict)]

    def total(key: str) -> int:
        return sum(len(s.get(key) or []) for s in sessions)

    return {
        "sessions": len(sessions),
        "spans": int(data.get("spans") or 0),
        "messages": total("messages"),
        "documents": total("documents"),
        "tool_calls": total("tool_calls"),
        "guardrails": total("guardrails"),
        "errors": total("errors"),
        "hostile": total("hostile"),
    }


def _empty(key: str, named: bool) -> dict[str, Any]:
    return {
        "session": key if named else None,
        "trace_only": not named,
        "traces": [],
        "messages": [],
        "models": [],
        "documents": [],
        "tool_calls": [],
        "guardrails": [],
        "errors": [],
        "hostile": [],
    }


def _trace(span: Mapping[str, Any]) -> str:
    context = span.get("context")
    trace = context.get("trace_id") if isinstance(context, Mapping) else None
    return str(trace) if trace else "unknown"


def _attrs(span: Mapping[str, Any]) -> Mapping[str, Any]:
    attributes = span.get("attributes")
    return attributes if isinstance(attributes, Mapping) else {}


def _lists(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``prefix.N.rest`` keys as a list of ``{rest: value}``, in index order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        match = _INDEXED.match(key)
        if match and match["list"] == prefix:
            found.setdefault(int(match["n"]), {})[match["rest"]] = value
    return [found[n] for n in sorted(found)]


def _nested(attrs: Mapping[str, Any], prefix: str) -> Any:
    """A value written as JSON text, or flattened under ``prefix.`` by the store."""
    if prefix in attrs:
        value = attrs[prefix]
        if isinstance(value, str):
            try:
                return received.loads(value)
            except ValueError:
                return value
        return value
    inner = {k[len(prefix) + 1 :]: v for k, v in attrs.items() if k.startswith(prefix + ".")}
    return inner or None


def _add(entry: dict[str, Any], span: Mapping[str, Any]) -> None:
    attrs = _attrs(span)
    where = {"at": span.get("start_time"), "span": (span.get("context") or {}).get("span_id")}
    kind = str(span.get("span_kind") or attrs.get("openinference.span.kind") or "")
    name = str(span.get("name", ""))
    for direction in ("input", "output"):
        for message in _lists(attrs, f"llm.{direction}_messages"):
            role, content = message.get("message.role"), message.get("message.content")
            if content is None and role is None:
                continue
            text = "" if content is None else str(content)
            entry["messages"].append(
                {**where, "direction": direction, "role": role, "content": text}
            )
            _hostile(entry, where, f"{direction} message ({role})", text)
    model = attrs.get("llm.model_name")
    if model is not None:
        parameters = _nested(attrs, "llm.invocation_parameters")
        pair = {"model": str(model), "parameters": parameters}
        if pair not in entry["models"]:
            entry["models"].append(pair)
    for document in _lists(attrs, "retrieval.documents"):
        content = str(document.get("document.content", ""))
        metadata = _nested(document, "document.metadata")
        entry["documents"].append(
            {
                **where,
                "id": document.get("document.id"),
                "score": document.get("document.score"),
                "content": content,
                "metadata": metadata,
            }
        )
        source = metadata.get("source_id") if isinstance(metadata, dict) else None
        label = f"retrieved document {document.get('document.id')}"
        _hostile(entry, where, label + (f" (source {source})" if source else ""), content)
    if kind == "TOOL" or "tool.name" in attrs:
        result = attrs.get("output.value")
        entry["tool_calls"].append(
            {
                **where,
                "name": attrs.get("tool.name", name),
                "arguments": _nested(attrs, "tool.parameters"),
                "result": result,
            }
        )
        if isinstance(result, str):
            _hostile(entry, where, f"tool result ({attrs.get('tool.name', name)})", result)
    if kind == "GUARDRAIL":
        verdict = attrs.get("output.value")
        entry["guardrails"].append({**where, "name": name, "verdict": verdict})
    if span.get("status_code") == "ERROR":
        entry["errors"].append({**where, "name": name, "message": span.get("status_message")})


def _hostile(entry: dict[str, Any], where: dict[str, Any], what: str, text: str) -> None:
    if looks_hostile(text):
        entry["hostile"].append({**where, "in": what, "text": text[:2000]})


def _once(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each message once: every model call repeats the conversation so far as its input."""
    seen: set[tuple[Any, str]] = set()  # a reply comes back as the next call's input: once too
    kept = []
    for message in messages:
        key = (message["role"], message["content"])
        if key not in seen:
            seen.add(key)
            kept.append(message)
    return kept
