"""``aiir detect`` against loopback HTTP servers answering as Prometheus and PagerDuty do:
for-N streaks kept between runs, one page per rule under a stable dedup key, resolve on
recovery, errors that neither page nor resolve, bad input refused before anything is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiir.environment import Environment
from tests.helpers import minimal_runbook, where, write
from tests.receiver import Answer, Receiver, serve_receiver
from tests.support.cli import process_environment, run_cli
from tests.support.clock import FakeClock

Capture = pytest.CaptureFixture[str]
QUERY = "/api/v1/query"
ENQUEUE = "/v2/enqueue"


def vector(*values: float, **labels: str) -> Answer:
    result: list[dict[str, Any]] = [
        {"metric": {"model": f"m{i}", **labels}, "value": [1700000000.0, repr(v)]}
        for i, v in enumerate(values)
    ]
    body = {"status": "success", "data": {"resultType": "vector", "result": result}}
    return Answer(200, json.dumps(body).encode(), {"content-type": "application/json"})


def rules(url: str, **rule: Any) -> dict[str, Any]:
    return {
        "aiir": 1,
        "detect": "gateway",
        "prometheus": {"url": url, "timeout": 2},
        "alert": {"pagerduty": {"routing_key_env": "PD_KEY"}},
        "rules": [
            {"id": "error-rate", "query": "max(llm_error_ratio)", "above": 0.05, "for": 2, **rule}
        ],
    }


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    with serve_receiver() as receiver:
        monkeypatch.setenv("PD_KEY", "pd-routing-key-123")
        monkeypatch.setenv("AIIR_PAGERDUTY_URL", receiver.url + ENQUEUE)
        yield receiver


def detect(capsys: Capture, path: Path, *args: str, env: Environment | None = None) -> Any:
    history = path.parent / "history"
    return run_cli(capsys, "detect", str(path), "--history-dir", str(history), *args, env=env)


def test_a_rule_fires_after_for_evaluations_pages_once_and_resolves(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules(server.url))
    server.queue(QUERY, vector(0.2), vector(0.3), vector(0.25), vector(0.01))
    first = detect(capsys, path, "--alert")
    assert first.status == 0, first
    assert "failing" in first.out
    assert "1/2" in first.out
    assert server.to(ENQUEUE) == []  # one bad scrape pages nobody
    second = detect(capsys, path, "--alert")
    assert second.status == 1
    assert "FIRING" in second.out
    assert "2/2" in second.out
    third = detect(capsys, path, "--alert")
    assert third.status == 1
    pages = [r.json() for r in server.to(ENQUEUE)]
    assert [p["event_action"] for p in pages] == ["trigger", "trigger"]
    assert {p["dedup_key"] for p in pages} == {"aiir-detect/gateway/error-rate"}
    assert pages[0]["payload"]["summary"].startswith("[aiir detect] gateway/error-rate: 0.3 > 0.05")
    recovered = detect(capsys, path, "--alert")
    assert recovered.status == 0
    assert "ok" in recovered.out
    last = server.to(ENQUEUE)[-1].json()
    assert last["event_action"] == "resolve"
    assert last["dedup_key"] == "aiir-detect/gateway/error-rate"
    assert "pd-routing-key-123" not in first.out + second.out + third.out + recovered.out


def test_an_unreachable_or_refusing_prometheus_neither_pages_nor_resolves(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules(server.url, **{"for": 1}))
    refused = {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}
    server.queue(
        QUERY,
        vector(0.5),
        Answer(400, json.dumps(refused).encode()),
        Answer(200, b"<html>not json</html>"),
        vector(0.01),
    )
    assert detect(capsys, path, "--alert").status == 1  # fires and pages
    bad_query = detect(capsys, path, "--alert")
    assert bad_query.status == 1
    assert "Prometheus: HTTP 400: parse error at char 4" in bad_query.out
    not_json = detect(capsys, path, "--alert")
    assert "the reply is not JSON" in not_json.out
    assert [r.json()["event_action"] for r in server.to(ENQUEUE)] == ["trigger"]
    assert detect(capsys, path, "--alert").status == 0
    assert [r.json()["event_action"] for r in server.to(ENQUEUE)] == ["trigger", "resolve"]


def test_each_series_is_judged_and_no_data_is_said(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules(server.url, **{"for": 1}))
    server.queue(QUERY, vector(0.01, 0.4, 0.9), vector())
    ran = detect(capsys, path, "--json")
    assert ran.status == 1
    record = json.loads(ran.out)
    rule = record["rules"][0]
    assert rule["status"] == "firing"
    assert rule["value"] == 0.9
    assert rule["offending"] == 2
    empty = json.loads(detect(capsys, path, "--json").out)["rules"][0]
    assert empty["status"] == "no data"
    assert empty["value"] is None


def test_every_and_times_loop_on_the_clock(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules(server.url))
    server.queue(QUERY, vector(0.2), vector(0.2), vector(0.2))
    clock = FakeClock()
    ran = detect(
        capsys, path, "--every", "1m", "--times", "3", "--json", env=process_environment(clock)
    )
    lines = [json.loads(line) for line in ran.out.splitlines()]
    assert [r["rules"][0]["status"] for r in lines] == ["failing", "firing", "firing"]
    assert [r["at"][11:19] for r in lines] == ["03:15:00", "03:16:00", "03:17:00"]
    assert len(server.to(QUERY)) == 3


def test_an_incident_opens_when_a_rule_starts_firing_not_on_every_evaluation(
    tmp_path: Path, server: Receiver, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "gateway-token")
    path = tmp_path / "rules.yaml"
    write(path, {**rules(server.url, **{"for": 1}), "model": "support-bot"})
    runbook = tmp_path / "rb.yaml"
    write(runbook, minimal_runbook())
    incidents = tmp_path / "incidents"
    server.queue(QUERY, vector(0.5), vector(0.6))
    args = ("--on-fail-run", str(runbook), "--incident-dir", str(incidents))
    first = detect(capsys, path, *args)
    assert first.status == 1
    assert "incident" in first.out
    detect(capsys, path, *args)
    opened = [d for d in incidents.iterdir() if (d / "journal.jsonl").is_file()]
    assert len(opened) == 1
    evidence = list((opened[0] / "evidence").glob("detect-gateway-*.json"))
    assert len(evidence) == 1
    data = json.loads(evidence[0].read_text())
    assert data["firing"][0]["rule"] == "error-rate"
    assert data["firing"][0]["value"] == 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--every", "soon"), "--every 'soon': not a duration"),
        # more days than a time span holds: an internal error (OverflowError) once
        (("--every", "99999999999999999999d"), "--every '99999999999999999999d': not a duration"),
        (("--times", "3"), "--times N: needs --every"),
        (("--prometheus", "ftp://x"), "--prometheus"),
        (("--alert",), "PD_UNSET"),
    ],
)
def test_bad_flags_exit_2_before_anything_is_read(
    tmp_path: Path, server: Receiver, capsys: Capture, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "rules.yaml"
    data = rules(server.url)
    data["alert"] = {"pagerduty": {"routing_key_env": "PD_UNSET"}}
    write(path, data)
    ran = detect(capsys, path, *args)
    assert ran.status == 2, ran
    assert message in ran.err
    assert "Traceback" not in ran.err
    assert server.requests == []


def test_a_rule_without_its_source_is_refused_at_its_line(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    data = rules(server.url)
    del data["prometheus"]
    text = write(path, data)
    ran = detect(capsys, path)
    assert ran.status == 2
    assert f"{path}:{where(text, 'query: max', 'max')}: error: rules[0].query" in ran.err
    assert server.requests == []


def test_practice_keeps_pages_in_the_inbox_and_its_own_history(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules(server.url, **{"for": 1}))
    server.queue(QUERY, vector(0.5))
    ran = detect(capsys, path, "--alert", "--sandbox")
    assert ran.status == 1
    assert "practice" in ran.out
    assert "exercise inbox" in ran.out
    assert server.to(ENQUEUE) == []  # nothing reached the (real) PagerDuty
    assert (tmp_path / "history" / "sandbox" / "gateway.jsonl").is_file()
    assert not (tmp_path / "history" / "gateway.jsonl").exists()


def test_slack_hears_of_the_transitions_only(
    tmp_path: Path, server: Receiver, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_HOOK", server.url + "/services/T0/B0/secret")
    path = tmp_path / "rules.yaml"
    data = rules(server.url, **{"for": 1})
    data["alert"] = {"slack": {"webhook_env": "SLACK_HOOK"}}
    write(path, data)
    server.queue(QUERY, vector(0.5), vector(0.6), vector(0.7), vector(0.0))
    for _ in range(4):
        detect(capsys, path, "--alert")
    posts = [r.json() for r in server.to("/services/T0/B0/secret")]
    assert [p["text"].split(":")[0] for p in posts] == [
        "Detection firing (SEV3)",
        "Detection recovered",
    ]
    assert "gateway/error-rate: 0.5 > 0.05" in posts[0]["text"]


def test_practice_opens_an_exercise_incident_on_the_simulated_gateway(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, {**rules(server.url, **{"for": 1}), "model": "support-bot"})
    runbook = tmp_path / "rb.yaml"
    write(runbook, minimal_runbook())  # needs TOKEN: practice reads no secret
    server.queue(QUERY, vector(0.5))
    incidents = tmp_path / "incidents"
    ran = detect(
        capsys, path, "--sandbox", "--on-fail-run", str(runbook), "--incident-dir", str(incidents)
    )
    assert ran.status == 1, ran
    listed = run_cli(capsys, "incidents", "--json", "--incident-dir", str(incidents))
    rows = json.loads(listed.out)
    assert len(rows) == 1
    assert rows[0]["exercise"] == "sandbox"


def test_a_history_dir_that_is_a_file_is_bad_input(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules(server.url))
    (tmp_path / "taken").write_text("x")
    ran = run_cli(capsys, "detect", str(path), "--history-dir", str(tmp_path / "taken"))
    assert ran.status == 2
    assert ran.err.startswith(f"aiir: --history-dir {tmp_path / 'taken'}: cannot keep history")
    assert server.requests == []


def test_a_page_with_no_answer_is_not_said_to_be_unsent(
    tmp_path: Path, server: Receiver, capsys: Capture
) -> None:
    """PagerDuty's connection drops once it has each try: the page may be open."""
    path = tmp_path / "rules.yaml"
    write(path, rules(server.url, **{"for": 1}))
    server.queue(QUERY, vector(0.5))
    server.queue(ENQUEUE, *[Answer(202, b"", drop=True)] * 4)
    fired = detect(capsys, path, "--alert")
    assert fired.status == 1
    said = " ".join(fired.out.split())
    assert "pagerduty: no answer: connection lost after the request was sent" in said
    assert "; it may have been delivered" in said
    assert "NOT sent" not in said
    assert "pd-routing-key-123" not in said
