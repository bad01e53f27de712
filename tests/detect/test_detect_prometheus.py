"""``aiir detect`` against the real Prometheus, scraping a loopback exporter: a PromQL ratio of
counters and LiteLLM's deployment state page, open an incident and resolve as they change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import minimal_runbook, write
from tests.receiver import Receiver, serve_receiver
from tests.support.cli import run_cli
from tests.support.prometheus import Exporter, Prometheus, serve_exporter, serve_prometheus

pytestmark = pytest.mark.prometheus
Capture = pytest.CaptureFixture[str]
RATIO = "sum(rate(app_errors_total[30s])) / sum(rate(app_requests_total[30s]))"
STATE = "max by (litellm_model_name) (litellm_deployment_state)"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Exporter, Prometheus]]:
    with serve_exporter() as exporter, serve_prometheus(exporter) as prometheus:
        exporter.set('app_requests_total{model="support-bot"}', 0)
        exporter.set('app_errors_total{model="support-bot"}', 0)
        exporter.set('litellm_deployment_state{litellm_model_name="gpt-4o"}', 0)
        exporter.set('litellm_deployment_state{litellm_model_name="fallback"}', 0)
        yield exporter, prometheus


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with serve_receiver() as receiver:
        monkeypatch.setenv("PD_KEY", "pd-key-real-prometheus")
        monkeypatch.setenv("AIIR_PAGERDUTY_URL", receiver.url + "/v2/enqueue")
        monkeypatch.setenv("TOKEN", "gateway-token")
        yield receiver


def rules_file(tmp_path: Path, prometheus: Prometheus) -> Path:
    path = tmp_path / "rules.yaml"
    write(
        path,
        {
            "aiir": 1,
            "detect": "support-bot",
            "model": "support-bot",
            "prometheus": {"url": prometheus.url},
            "alert": {"pagerduty": {"routing_key_env": "PD_KEY"}},
            "rules": [
                {"id": "error-ratio", "query": RATIO, "above": 0.05, "for": 2},
                {"id": "deployment-outage", "query": STATE, "above": 1},
            ],
        },
    )
    return path


def detect(capsys: Capture, path: Path, *args: str) -> dict[str, Any]:
    history = str(path.parent / "history")
    ran = run_cli(capsys, "detect", str(path), "--json", "--history-dir", history, *args)
    assert ran.err == "" or "incident" in ran.err, ran.err
    record: dict[str, Any] = json.loads(ran.out)
    record["status"] = ran.status
    record["by_rule"] = {r["rule"]: r for r in record["rules"]}
    return record


def test_promql_rules_page_open_an_incident_and_resolve(
    tmp_path: Path, servers: tuple[Exporter, Prometheus], pagerduty: Receiver, capsys: Capture
) -> None:
    exporter, prometheus = servers
    path = rules_file(tmp_path, prometheus)
    runbook = tmp_path / "runbook.yaml"
    write(runbook, minimal_runbook())
    incidents = tmp_path / "incidents"
    args = ("--alert", "--on-fail-run", str(runbook), "--incident-dir", str(incidents))

    prometheus.wait_for("max(litellm_deployment_state)", lambda v: v == 0)
    quiet = detect(capsys, path, *args)
    assert quiet["status"] == 0
    assert quiet["by_rule"]["deployment-outage"]["status"] == "ok"
    assert quiet["by_rule"]["error-ratio"]["status"] == "no data"  # no traffic yet: 0/0 is NaN

    exporter.add('app_requests_total{model="support-bot"}', 1000)
    exporter.add('app_errors_total{model="support-bot"}', 300)
    exporter.set('litellm_deployment_state{litellm_model_name="fallback"}', 2)
    prometheus.wait_for(RATIO, lambda v: v > 0.05)
    prometheus.wait_for("max(litellm_deployment_state)", lambda v: v == 2)
    first = detect(capsys, path, *args)
    assert first["status"] == 1
    assert first["by_rule"]["error-ratio"]["status"] == "failing"  # for: 2
    outage = first["by_rule"]["deployment-outage"]
    assert outage["status"] == "firing"
    samples = {s["labels"]["litellm_model_name"]: s["value"] for s in outage["samples"]}
    assert samples == {"fallback": 2.0, "gpt-4o": 0.0}
    assert outage["offending"] == 1
    assert outage["incident"] is not None
    second = detect(capsys, path, *args)
    assert second["by_rule"]["error-ratio"]["status"] == "firing"
    assert second["by_rule"]["error-ratio"]["incident"] is not None
    pages = [r.json() for r in pagerduty.to("/v2/enqueue")]
    keys = [(p["event_action"], p["dedup_key"]) for p in pages]
    assert keys == [
        ("trigger", "aiir-detect/support-bot/deployment-outage"),
        ("trigger", "aiir-detect/support-bot/error-ratio"),
        ("trigger", "aiir-detect/support-bot/deployment-outage"),  # the same alert, updated
    ]
    opened = sorted(d.name for d in incidents.iterdir() if (d / "journal.jsonl").is_file())
    assert len(opened) == 2  # one per evaluation in which rules started firing

    exporter.set('litellm_deployment_state{litellm_model_name="fallback"}', 0)
    prometheus.wait_for("max(litellm_deployment_state)", lambda v: v == 0)
    recovered = detect(capsys, path, *args)
    assert recovered["by_rule"]["deployment-outage"]["status"] == "ok"
    resolves = [
        p for p in (r.json() for r in pagerduty.to("/v2/enqueue")) if p["event_action"] == "resolve"
    ]
    assert "aiir-detect/support-bot/deployment-outage" in {p["dedup_key"] for p in resolves}


def test_a_promql_error_is_said_and_pages_nobody(
    tmp_path: Path, servers: tuple[Exporter, Prometheus], pagerduty: Receiver, capsys: Capture
) -> None:
    _exporter, prometheus = servers
    path = tmp_path / "bad.yaml"
    write(
        path,
        {
            "aiir": 1,
            "detect": "typo",
            "prometheus": {"url": prometheus.url},
            "alert": {"pagerduty": {"routing_key_env": "PD_KEY"}},
            "rules": [{"id": "typo", "query": "sum(rate(app_errors_total[5m])", "above": 1}],
        },
    )
    record = detect(capsys, path, "--alert")
    assert record["status"] == 1
    rule = record["by_rule"]["typo"]
    assert rule["status"] == "error"
    assert rule["error"].startswith("Prometheus: HTTP 400: ")
    assert pagerduty.to("/v2/enqueue") == []
