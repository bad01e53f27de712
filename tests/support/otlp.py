"""What an OTLP/HTTP endpoint received, decoded: the requests a loopback receiver
(:mod:`tests.receiver`) recorded on ``/v1/traces``, read with OpenTelemetry's own protobuf
definitions (``opentelemetry-proto``), as a collector reads them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.receiver import Receiver

TRACES = "/v1/traces"


@dataclass(frozen=True)
class GotSpan:
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root
    name: str
    start: int
    end: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    error: str | None  # the status message when the status is ERROR


def value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    return None if kind is None else getattr(any_value, kind)


def pairs(values: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in values}


def received_spans(receiver: Receiver) -> list[GotSpan]:
    """Every span the receiver took on ``/v1/traces``, in the order they came."""
    got = []
    for request in receiver.to(TRACES):
        assert request.headers["content-type"] == "application/x-protobuf"
        message = ExportTraceServiceRequest.FromString(request.body)
        for resource_spans in message.resource_spans:
            resource = pairs(resource_spans.resource.attributes)
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    failed = span.status.code == span.status.STATUS_CODE_ERROR
                    got.append(
                        GotSpan(
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            span.name,
                            span.start_time_unix_nano,
                            span.end_time_unix_nano,
                            pairs(span.attributes),
                            resource,
                            [(e.name, pairs(e.attributes)) for e in span.events],
                            span.status.message if failed else None,
                        )
                    )
    return got
