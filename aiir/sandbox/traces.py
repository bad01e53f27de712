"""The simulated gateway's trace store: the spans an instrumented AI application would have sent to
Arize Phoenix, for the traffic the sandbox served (a chat completion is an LLM span, a
collection query a RETRIEVER span), served as Phoenix's REST API serves them:
``GET /v1/projects/{project}/spans``, paged with ``limit`` and ``cursor``, from ``start_time``.

A request names its session in its body (``metadata.session_id`` on a chat, ``session_id`` on a
query); the spans of one session share a trace. Practice captures the session context from here,
never from a real trace store.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Route

from aiir.sandbox.errors import bad_request
from aiir.sandbox.routing import Host, Incoming, integer_field, route
from aiir.sandbox.timeline import now


def _hex(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: size * 2]


@dataclass
class TraceStore:
    spans: list[dict[str, Any]] = field(default_factory=list)
    _count: itertools.count[int] = field(default_factory=itertools.count)

    def reset(self) -> None:
        self.spans.clear()

    def llm(
        self, session: str | None, model: str, messages: Any, output: str | None, error: str | None
    ) -> None:
        attributes: dict[str, Any] = {"llm.model_name": model}
        for n, message in enumerate(messages if isinstance(messages, list) else []):
            if isinstance(message, dict):
                attributes[f"llm.input_messages.{n}.message.role"] = str(message.get("role"))
                attributes[f"llm.input_messages.{n}.message.content"] = str(message.get("content"))
        if output is not None:
            attributes["llm.output_messages.0.message.role"] = "assistant"
            attributes["llm.output_messages.0.message.content"] = output
        self._add("llm", "LLM", session, attributes, error)

    def retriever(self, session: str | None, query: str, results: list[dict[str, Any]]) -> None:
        attributes: dict[str, Any] = {"input.value": query}
        for n, hit in enumerate(results):
            prefix = f"retrieval.documents.{n}.document"
            attributes[f"{prefix}.id"] = str(hit.get("document_id"))
            attributes[f"{prefix}.score"] = hit.get("score")
            attributes[f"{prefix}.content"] = str(hit.get("text"))
            attributes[f"{prefix}.metadata"] = json.dumps({"source_id": hit.get("source_id")})
        self._add("retrieve", "RETRIEVER", session, attributes, None)

    def _add(
        self,
        name: str,
        kind: str,
        session: str | None,
        attributes: dict[str, Any],
        error: str | None,
    ) -> None:
        n = next(self._count)
        trace = _hex(f"session/{session}" if session else f"span/{n}", 16)
        if session:
            attributes["session.id"] = session
        self.spans.append(
            {
                "id": f"sandbox-span-{n}",
                "name": name,
                "context": {"trace_id": trace, "span_id": _hex(f"span/{n}", 8)},
                "span_kind": kind,
                "parent_id": None,
                "start_time": now(),
                "end_time": now(),
                "status_code": "ERROR" if error else "OK",
                "status_message": error or "",
                "attributes": attributes,
                "events": [],
            }
        )

    def list_spans(self, call: Incoming) -> dict[str, Any]:
        limit = integer_field(call.query.get("limit", "100"), "limit", 1)
        try:
            start = int(call.query.get("cursor", "0") or "0")
        except ValueError:
            raise bad_request("cursor: not one this store gave") from None
        since = call.query.get("start_time", "")
        kept = [s for s in self.spans if not since or s["start_time"] >= since]
        page = kept[start : start + limit]
        more = start + limit < len(kept)
        return {"data": page, "next_cursor": str(start + limit) if more else None}

    def routes(self, host: Host) -> list[Route]:
        return [route("/v1/projects/{project}/spans", "GET", self.list_spans, host)]
