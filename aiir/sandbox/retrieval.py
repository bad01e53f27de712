"""The RAG collections behind the agent platform (aiir's reference conventions):
``/v1/collections/{collection}`` with sources, documents, snapshots, a query, a rollback, and
the status of its latest ingestion.

A query ranks the live documents by how many of the query's terms they contain and returns the
best ``top_k``, as a vector search returns nearest neighbours; a quarantined source is never
retrieved, though its documents are kept (and listed) for forensics. Every write makes a new
snapshot; a rollback makes an earlier snapshot live again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Route

from aiir.sandbox import world
from aiir.sandbox.errors import bad_request, not_found
from aiir.sandbox.faults import Faults
from aiir.sandbox.routing import Answer, Host, Incoming, integer_field, number_field, route
from aiir.sandbox.timeline import now
from aiir.sandbox.traces import TraceStore

SERVICE = "agent platform"
_TERM = re.compile(r"[a-z0-9]+")


def terms(text: str) -> set[str]:
    return set(_TERM.findall(text.lower()))


def relevance(query: str, text: str) -> float:
    """Share of the query's terms found in ``text`` (1.0 when it contains them all)."""
    wanted = terms(query)
    if not wanted:
        return 0.0
    return len(wanted & terms(text)) / len(wanted)


@dataclass(frozen=True)
class Document:
    id: str
    source_id: str
    text: str

    def as_json(self) -> dict[str, str]:
        return {"document_id": self.id, "source_id": self.source_id, "text": self.text}


@dataclass(frozen=True)
class Snapshot:
    id: str
    created_at: str
    documents: tuple[Document, ...]


@dataclass
class Collection:
    id: str
    documents: list[Document] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    snapshot_id: str = ""
    quarantined: dict[str, str] = field(default_factory=dict)  # source id -> reason

    def sources(self) -> list[str]:
        return sorted({d.source_id for d in self.documents})

    def write(self, documents: list[Document]) -> Snapshot:
        self.documents.extend(documents)
        snapshot = Snapshot(
            f"{self.id}-snap-{len(self.snapshots) + 1}", now(), tuple(self.documents)
        )
        self.snapshots.append(snapshot)
        self.snapshot_id = snapshot.id
        return snapshot

    def config(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "quarantined": sorted(self.quarantined)}

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "snapshot_id": self.snapshot_id,
            "snapshots": [
                {"snapshot_id": s.id, "created_at": s.created_at} for s in self.snapshots
            ],
            "sources": [
                {
                    "source_id": s,
                    "documents": sum(1 for d in self.documents if d.source_id == s),
                    "quarantined": s in self.quarantined,
                }
                for s in self.sources()
            ],
            "documents": len(self.documents),
        }


class Retrieval:
    """Every collection of the platform."""

    def __init__(self, faults: Faults, autoprovision: bool = True) -> None:
        self.faults = faults
        self.autoprovision = autoprovision
        self.collections: dict[str, Collection] = {}
        self.pristine: dict[str, dict[str, Any]] = {}
        self.traces: TraceStore | None = None  # the sandbox's trace store, when it has one
        self.reset()

    def reset(self) -> None:
        self.collections.clear()
        self.pristine.clear()
        for name, snapshots in world.COLLECTIONS.items():
            collection = self._create(name)
            for sources in snapshots:
                collection.write(_documents(collection, sources))
            self.pristine[name] = collection.config()

    def _create(self, name: str) -> Collection:
        collection = Collection(name)
        self.collections[name] = collection
        self.pristine[name] = collection.config()
        return collection

    def collection(self, name: str) -> Collection:
        self.faults.check(SERVICE, name)
        if name not in self.collections:
            if not self.autoprovision:
                raise not_found(f"collection {name!r}")
            self._create(name)
        return self.collections[name]

    def source(self, name: str, source_id: str) -> Collection:
        collection = self.collection(name)
        if source_id not in collection.sources():
            raise not_found(f"source {source_id!r} in collection {name!r}")
        return collection

    # --- services ----------------------------------------------------------------------------

    def get(self, call: Incoming) -> Answer:
        collection = self.collection(call.path["collection"])
        return Answer(collection.as_json(), delay_ms=self.faults.latency_ms(collection.id))

    def query(self, call: Incoming) -> dict[str, Any]:
        collection = self.collection(call.path["collection"])
        body = call.obj()
        text, top_k = str(body.get("query", "")), integer_field(body.get("top_k", 5), "top_k", 1)
        wanted = body.get("filter") or {}
        if not isinstance(wanted, dict):
            raise bad_request("filter must be an object, e.g. {source_id: ...}")
        threshold = number_field(body.get("score_threshold", 0.0), "score_threshold")
        hits = [
            (relevance(text, d.text), d)
            for d in collection.documents
            if d.source_id not in collection.quarantined
            and all(str(d.as_json().get(k)) == str(v) for k, v in wanted.items())
        ]
        ranked = sorted((h for h in hits if h[0] >= threshold), key=lambda h: -h[0])[:top_k]
        results = [{**d.as_json(), "score": round(score, 3)} for score, d in ranked]
        if self.traces is not None:
            session = body.get("session_id")
            self.traces.retriever(str(session) if session else None, text, results)
        return {
            "query": text,
            "snapshot_id": collection.snapshot_id,
            "total": len(results),
            "results": results,
        }

    def ingestion(self, call: Incoming) -> Answer:
        """The collection's latest ingestion (each write is one, and makes a snapshot): read
        only, as a platform's ingestion-job status."""
        collection = self.collection(call.path["collection"])
        latest = collection.snapshots[-1] if collection.snapshots else None
        body = {
            "collection": collection.id,
            "state": "complete" if latest else "none",
            "snapshot_id": collection.snapshot_id,
            "finished_at": latest.created_at if latest else None,
            "documents": len(collection.documents),
        }
        return Answer(body, delay_ms=self.faults.latency_ms(collection.id))

    def documents(self, call: Incoming) -> dict[str, Any]:
        source_id = call.path["source"]
        collection = self.source(call.path["collection"], source_id)
        return {
            "source_id": source_id,
            "quarantined": source_id in collection.quarantined,
            "documents": [d.as_json() for d in collection.documents if d.source_id == source_id],
        }

    def add_documents(self, call: Incoming) -> Answer:
        """Ingest documents into a source (how drills and tests plant content)."""
        collection = self.collection(call.path["collection"])
        body = call.obj()
        texts = body.get("documents") or ([body["text"]] if body.get("text") else [])
        if not isinstance(texts, list) or not texts:
            raise bad_request("documents (a list of texts) or text is required")
        source = call.path["source"]
        snapshot = collection.write(_documents(collection, {source: [str(t) for t in texts]}))
        return Answer({"source_id": source, "added": len(texts), "snapshot_id": snapshot.id}, 201)

    def quarantine(self, call: Incoming) -> dict[str, Any]:
        source_id = call.path["source"]
        collection = self.source(call.path["collection"], source_id)
        collection.quarantined[source_id] = call.text("reason")
        return {"source_id": source_id, "quarantined": True}

    def restore(self, call: Incoming) -> dict[str, Any]:
        source_id = call.path["source"]
        collection = self.source(call.path["collection"], source_id)
        collection.quarantined.pop(source_id, None)
        return {"source_id": source_id, "quarantined": False}

    def rollback(self, call: Incoming) -> dict[str, Any]:
        collection = self.collection(call.path["collection"])
        wanted = call.text("snapshot_id")
        snapshot = next((s for s in collection.snapshots if s.id == wanted), None)
        if snapshot is None:
            raise not_found(f"snapshot {wanted!r} of collection {collection.id!r}")
        collection.documents = list(snapshot.documents)
        collection.snapshot_id = snapshot.id
        return {
            "id": collection.id,
            "snapshot_id": snapshot.id,
            "documents": len(snapshot.documents),
        }

    def changes(self) -> dict[str, Any]:
        return {
            f"collection {name}": c.config()
            for name, c in self.collections.items()
            if c.config() != self.pristine.get(name)
        }

    def routes(self, host: Host) -> list[Route]:
        base = "/v1/collections/{collection}"
        source = f"{base}/sources/{{source}}"
        return [
            route(base, "GET", self.get, host),
            route(f"{base}/query", "POST", self.query, host),
            route(f"{base}/ingestion", "GET", self.ingestion, host),
            route(f"{base}/rollback", "POST", self.rollback, host),
            route(f"{source}/documents", "GET", self.documents, host),
            route(f"{source}/documents", "POST", self.add_documents, host),
            route(f"{source}/quarantine", "POST", self.quarantine, host),
            route(f"{source}/restore", "POST", self.restore, host),
        ]


def _documents(collection: Collection, sources: dict[str, list[str]]) -> list[Document]:
    start = len(collection.documents)
    flat = [(source, text) for source, texts in sources.items() for text in texts]
    return [
        Document(f"{collection.id}-doc-{start + i + 1}", source, text)
        for i, (source, text) in enumerate(flat)
    ]
