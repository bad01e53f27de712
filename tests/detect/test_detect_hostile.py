"""``aiir detect`` under hostile telemetry and bad luck: escape codes and infinities in what
Prometheus returns, a reply that drips, a server that echoes the API key back, a reply that
drops the connection, and two processes evaluating one rules file at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.detect.test_detect import QUERY, rules
from tests.helpers import minimal_runbook, write
from tests.receiver import Answer, serve_receiver
from tests.servers import Fault, Gateway, serve_echo, serve_gateway
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
ESC = "\x1b"


def hostile_vector() -> Answer:
    result = [
        {"metric": {"model": f"{ESC}[2J{ESC}]8;;http://evil/{ESC}\\x"}, "value": [1, "+Inf"]},
        {"metric": {"model": "\u202egnp.exe"}, "value": [1, "-Inf"]},
        {"metric": {"model": "nan"}, "value": [1, "NaN"]},
    ]
    body = {"status": "success", "data": {"resultType": "vector", "result": result}}
    return Answer(200, json.dumps(body).encode())


def test_escape_codes_and_infinities_stay_inert_and_valid_json(
    tmp_path: Path, capsys: Capture
) -> None:
    with serve_receiver() as server:
        path = tmp_path / "rules.yaml"
        write(path, rules(server.url, **{"for": 1}))
        server.queue(QUERY, hostile_vector(), hostile_vector())
        history = str(tmp_path / "history")
        shown = run_cli(capsys, "detect", str(path), "--history-dir", history)
        as_json = run_cli(capsys, "detect", str(path), "--history-dir", history, "--json")
    assert shown.status == 1
    assert ESC not in shown.out + shown.err
    assert "\u202e" not in shown.out
    assert "FIRING" in shown.out
    assert "inf" in shown.out
    record = json.loads(as_json.out)  # strict JSON: no bare Infinity
    assert ESC not in as_json.out
    assert record["rules"][0]["value"] == "+Inf"
    for line in (tmp_path / "history" / "gateway.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the history"))


def test_a_dripping_reply_is_cut_at_the_timeout(tmp_path: Path, capsys: Capture) -> None:
    body = json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}})
    state = Gateway(faults=[Fault(QUERY, status=200, body=body.encode(), drip=0.2, times=1)])
    with serve_gateway(state) as (url, _gateway):
        path = tmp_path / "rules.yaml"
        write(path, rules(url, **{"for": 1}))
        started = time.monotonic()
        ran = run_cli(capsys, "detect", str(path), "--json", "--history-dir", str(tmp_path / "h"))
        took = time.monotonic() - started
    rule = json.loads(ran.out)["rules"][0]
    assert rule["status"] == "error"
    assert (
        "did not arrive whole within the timeout" in rule["error"] or "no answer" in rule["error"]
    )
    assert took < 2 * 2 + 3  # the rules' timeout is 2 s: not the 16 s the drip would take


def test_a_dropped_connection_is_an_error_that_pages_nobody(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = Gateway(faults=[Fault(QUERY, drop=True, times=1)])
    with serve_gateway(state) as (url, _gateway), serve_receiver() as pagerduty:
        monkeypatch.setenv("PD_KEY", "pd-key")
        monkeypatch.setenv("AIIR_PAGERDUTY_URL", pagerduty.url + "/v2/enqueue")
        path = tmp_path / "rules.yaml"
        write(path, rules(url, **{"for": 1}))
        ran = run_cli(capsys, "detect", str(path), "--alert", "--history-dir", str(tmp_path / "h"))
        assert pagerduty.requests == []
    assert ran.status == 1
    assert "could not reach it" in ran.out


@pytest.mark.parametrize("key", ['ph-"quoted"\\back', "ph-key-with/slash+plus=", "ph-" + "k" * 60])
def test_phoenix_echoing_the_request_never_shows_its_key(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("PHOENIX_KEY", key)
    with serve_echo() as (url, heard):
        path = tmp_path / "rules.yaml"
        measure: dict[str, Any] = {"measure": "error_rate", "min_spans": 1}
        write(
            path,
            {
                "aiir": 1,
                "detect": "echo",
                "phoenix": {"url": url, "project": "missing", "api_key_env": "PHOENIX_KEY"},
                "rules": [{"id": "errors", "traces": measure, "above": 0.1}],
            },
        )
        history = str(tmp_path / "h")
        shown = run_cli(capsys, "detect", str(path), "--history-dir", history)
        as_json = run_cli(capsys, "detect", str(path), "--history-dir", history, "--json")
    assert heard[0].headers["authorization"] == f"Bearer {key}"
    everything = shown.out + shown.err + as_json.out + as_json.err
    everything += (tmp_path / "h" / "echo.jsonl").read_text()
    assert key not in everything
    assert json.dumps(key)[1:-1] not in everything


def test_an_api_key_with_a_line_break_is_refused_before_anything_is_read(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOENIX_KEY", "ph-key\nX-Injected: 1")
    with serve_echo() as (url, heard):
        path = tmp_path / "rules.yaml"
        write(
            path,
            {
                "aiir": 1,
                "detect": "echo",
                "phoenix": {"url": url, "api_key_env": "PHOENIX_KEY"},
                "rules": [{"id": "errors", "traces": {"measure": "error_rate"}, "above": 0.1}],
            },
        )
        ran = run_cli(capsys, "detect", str(path))
    assert ran.status == 2
    assert "PHOENIX_KEY holds a space, a line break" in ran.err
    assert "ph-key" not in ran.err
    assert heard == []


def test_two_processes_on_one_rules_file_open_one_incident(tmp_path: Path) -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1, "0.9"]}}
    slow = Fault(QUERY, status=200, body=json.dumps(body).encode(), delay=1.5, times=4)
    with serve_gateway(Gateway(faults=[slow])) as (url, _gateway):  # the evaluations overlap
        path = tmp_path / "rules.yaml"
        write(path, {**rules(url, **{"for": 1}), "model": "support-bot"})
        runbook = tmp_path / "runbook.yaml"
        write(runbook, minimal_runbook())
        command = [
            sys.executable, "-m", "aiir", "detect", str(path),
            "--history-dir", str(tmp_path / "history"),
            "--on-fail-run", str(runbook), "--incident-dir", str(tmp_path / "incidents"),
        ]  # fmt: skip
        env = {**os.environ, "TOKEN": "gateway-token", "CI": "true"}
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 1, (out, err)
    opened = [d for d in (tmp_path / "incidents").iterdir() if (d / "journal.jsonl").is_file()]
    assert len(opened) == 1
    lines = (tmp_path / "history" / "gateway.jsonl").read_text().splitlines()
    states = [json.loads(line)["rules"]["error-rate"] for line in lines]
    assert [s["incident"] for s in states] == ["opening", *[opened[0].name] * 4]


def test_an_evaluation_killed_while_it_opened_an_incident_neither_loses_nor_doubles_it(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 between the history's "opening" line and its next: the next evaluation finds
    the incident by its evidence when it was opened, and opens it when it was not."""
    monkeypatch.setenv("TOKEN", "gateway-token")
    with serve_receiver() as server:
        path = tmp_path / "rules.yaml"
        write(path, {**rules(server.url, **{"for": 1}), "model": "support-bot"})
        runbook = tmp_path / "runbook.yaml"
        write(runbook, minimal_runbook())
        body = {"status": "success", "data": {"resultType": "scalar", "result": [1, "0.9"]}}
        server.queue(QUERY, *[Answer(200, json.dumps(body).encode())] * 3)
        incidents = tmp_path / "incidents"
        history = tmp_path / "history" / "gateway.jsonl"
        args = [
            *("--history-dir", str(tmp_path / "history"), "--incident-dir", str(incidents)),
            *("--on-fail-run", str(runbook)),
        ]
        assert run_cli(capsys, "detect", str(path), *args).status == 1
        opened = [d.name for d in incidents.iterdir()]
        lines = history.read_text().splitlines()
        assert len(lines) == 2
        history.write_text(lines[0] + "\n")  # killed after the incident opened
        assert run_cli(capsys, "detect", str(path), *args).status == 1
        assert [d.name for d in incidents.iterdir()] == opened  # found, not opened again
        last = json.loads(history.read_text().splitlines()[-1])["rules"]["error-rate"]
        assert last["incident"] == opened[0]
        for directory in incidents.iterdir():  # killed before the incident existed
            shutil.rmtree(directory)
        history.write_text(lines[0] + "\n")
        assert run_cli(capsys, "detect", str(path), *args).status == 1
        again = [d.name for d in incidents.iterdir()]
        assert len(again) == 1
        last = json.loads(history.read_text().splitlines()[-1])["rules"]["error-rate"]
        assert last["incident"] == again[0]
