"""``aiir detect`` against the real Arize Phoenix: LLM spans seeded over OTLP with the
OpenTelemetry SDK, eval annotations (hallucination labels) written through Phoenix's REST API,
then rules over the annotation rate, the share of error spans and a latency percentile."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.helpers import write
from tests.support.cli import run_cli
from tests.support.phoenix import Phoenix, serve_phoenix

pytestmark = pytest.mark.phoenix
Capture = pytest.CaptureFixture[str]
PROJECT = "detect-bot"
SPANS = 30
ERRORS = 5  # spans 0-4 fail
HALLUCINATED = 9  # spans 0-8 are labelled hallucinated, the rest factual


@pytest.fixture(scope="module")
def phoenix() -> Iterator[Phoenix]:
    for server in serve_phoenix():
        seed(server)
        yield server


def seed(phoenix: Phoenix) -> None:
    provider = TracerProvider(resource=Resource.create({"openinference.project.name": PROJECT}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=phoenix.traces)))
    tracer = provider.get_tracer("detect-bot")
    ids = []
    start = time.time_ns() - 60 * 10**9
    for index in range(SPANS):
        attributes = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o"}
        span = tracer.start_span("llm", attributes=attributes, start_time=start)
        if index < ERRORS:
            span.set_status(Status(StatusCode.ERROR, "upstream 500"))
        span.end(end_time=start + (index + 1) * 100 * 10**6)  # 100 ms, 200 ms ... 3 s
        ids.append(format(span.get_span_context().span_id, "016x"))
    provider.force_flush()
    provider.shutdown()
    phoenix.spans(PROJECT, lambda _span: True, at_least=SPANS)
    annotations = [
        {
            "span_id": span_id,
            "name": "hallucination",
            "annotator_kind": "LLM",
            "result": {"label": "hallucinated" if i < HALLUCINATED else "factual"},
        }
        for i, span_id in enumerate(ids)
    ]
    with httpx2.Client(trust_env=False, timeout=30) as client:
        reply = client.post(
            f"{phoenix.url}/v1/span_annotations",
            params={"sync": "true"},
            json={"data": annotations},
        )
        reply.raise_for_status()


def rules(phoenix: Phoenix, tmp_path: Path, **measures: dict[str, Any]) -> Path:
    path = tmp_path / "rules.yaml"
    write(
        path,
        {
            "aiir": 1,
            "detect": "detect-bot",
            "phoenix": {"url": phoenix.url, "project": PROJECT},
            "rules": [
                {"id": name, "traces": measure.pop("traces"), **measure}
                for name, measure in measures.items()
            ],
        },
    )
    return path


def detect(capsys: Capture, path: Path) -> dict[str, Any]:
    history = str(path.parent / "history")
    ran = run_cli(capsys, "detect", str(path), "--json", "--history-dir", history)
    assert ran.err == "", ran.err
    record: dict[str, Any] = json.loads(ran.out)
    record["status"] = ran.status
    record["by_rule"] = {r["rule"]: r for r in record["rules"]}
    return record


def test_eval_annotations_error_spans_and_latency(
    phoenix: Phoenix, tmp_path: Path, capsys: Capture
) -> None:
    path = rules(
        phoenix,
        tmp_path,
        hallucination={
            "traces": {
                "measure": "annotation_rate",
                "annotation": "hallucination",
                "labels": ["hallucinated"],
                "span_kind": "LLM",
                "window": "1h",
            },
            "above": 0.1,
        },
        errors={"traces": {"measure": "error_rate", "window": "1h"}, "above": 0.1},
        latency={"traces": {"measure": "latency", "percentile": 90, "window": "1h"}, "above": 5000},
        sparse={"traces": {"measure": "error_rate", "window": "1h", "min_spans": 100}, "above": 0},
        elsewhere={"traces": {"measure": "error_rate", "window": "1m"}, "above": 0.1},
    )
    record = detect(capsys, path)
    assert record["status"] == 1
    rules_ = record["by_rule"]
    assert rules_["hallucination"]["status"] == "firing"
    assert rules_["hallucination"]["value"] == pytest.approx(HALLUCINATED / SPANS)
    assert rules_["hallucination"]["note"].startswith(f"{HALLUCINATED} of {SPANS} spans annotated")
    assert rules_["errors"]["status"] == "firing"
    assert rules_["errors"]["value"] == pytest.approx(ERRORS / SPANS)
    assert rules_["latency"]["status"] == "ok"
    assert rules_["latency"]["value"] == pytest.approx(2700, abs=1)  # p90 of 100..3000 ms
    assert rules_["sparse"]["status"] == "no data"
    assert "fewer than min_spans 100" in rules_["sparse"]["note"]
    assert rules_["elsewhere"]["status"] == "no data"  # the spans are older than a minute


def test_an_unknown_project_is_no_data_and_a_wrong_port_an_error(
    phoenix: Phoenix, tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    base = {"aiir": 1, "detect": "nowhere"}
    rule = {"id": "errors", "traces": {"measure": "error_rate"}, "above": 0.1}
    write(path, {**base, "phoenix": {"url": phoenix.url, "project": "no-such"}, "rules": [rule]})
    assert detect(capsys, path)["by_rule"]["errors"]["status"] == "no data"
    write(path, {**base, "phoenix": {"url": "http://127.0.0.1:9", "timeout": 2}, "rules": [rule]})
    failed = detect(capsys, path)
    assert failed["status"] == 1
    assert failed["by_rule"]["errors"]["error"] == "Phoenix: could not reach it (ConnectError)"
