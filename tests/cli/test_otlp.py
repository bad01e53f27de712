"""``--otlp`` on the walks and ``aiir export --format otlp``, end to end: the real command in
this process, a loopback gateway, a loopback OTLP/HTTP endpoint."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import write
from tests.incidents import ANSWERS, MASTER_KEY, containment_runbook, write_answers, write_runbook
from tests.receiver import Receiver, serve_receiver
from tests.respond import CONFIG, aiir, no_terminal, write_workspace
from tests.servers import serve_gateway
from tests.support.otlp import received_spans

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as got:
        yield got


@pytest.fixture
def walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``aiir run`` of the containment runbook against a loopback gateway, unattended."""
    no_terminal(monkeypatch)
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    monkeypatch.chdir(tmp_path)
    with serve_gateway() as (url, _):
        runbook = write_runbook(tmp_path, containment_runbook())
        answers = write_answers(tmp_path, ANSWERS)
        yield ["run", str(runbook), "--answers", str(answers), "--yes", "--gateway", f"gw={url}"]


def dead_port() -> int:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return int(closed.getsockname()[1])


def incidents(tmp_path: Path) -> list[str]:
    folder = tmp_path / "inc"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_run_with_otlp_sends_the_walks_trace(
    walk: list[str], receiver: Receiver, tmp_path: Path, capsys: Capture
) -> None:
    ran = aiir(capsys, *walk, "--otlp", receiver.url, "--incident-dir", str(tmp_path / "inc"))
    assert ran.status == 0, ran.err
    [incident] = incidents(tmp_path)
    spans = received_spans(receiver)
    assert f"trace: {len(spans)} spans of {incident} sent to {receiver.url}" in ran.out
    assert {s.attributes["aiir.incident.id"] for s in spans} == {incident}
    assert "engage filter" in {s.name for s in spans}


def test_export_after_the_walk_sends_the_same_trace(
    walk: list[str], receiver: Receiver, tmp_path: Path, capsys: Capture
) -> None:
    folder = str(tmp_path / "inc")
    assert aiir(capsys, *walk, "--otlp", receiver.url, "--incident-dir", folder).status == 0
    live = received_spans(receiver)
    receiver.requests.clear()
    [incident] = incidents(tmp_path)
    ran = aiir(
        capsys,
        "export",
        incident,
        "--format",
        "otlp",
        "--otlp",
        receiver.url,
        "--incident-dir",
        folder,
    )
    assert ran.status == 0, ran.err
    later = received_spans(receiver)
    assert [(s.span_id, s.parent_id, s.start, s.end) for s in later] == [
        (s.span_id, s.parent_id, s.start, s.end) for s in live
    ]


def test_an_endpoint_that_is_down_harms_no_walk(
    walk: list[str], tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.outbound.otlp.TIMEOUT", 1.0)
    url = f"http://127.0.0.1:{dead_port()}"
    ran = aiir(capsys, *walk, "--otlp", url, "--incident-dir", str(tmp_path / "inc"))
    assert ran.status == 0
    [incident] = incidents(tmp_path)
    assert ran.err == (
        f"aiir: trace of {incident} not exported to {url}: connection refused; the walk is "
        f"journalled as it was (send it later: aiir export {incident} --format otlp --otlp URL)\n"
    )
    assert "Traceback" not in ran.err
    assert aiir(capsys, "verify", incident, "--incident-dir", str(tmp_path / "inc")).status == 0
    export = aiir(
        capsys,
        "export",
        incident,
        "--format",
        "otlp",
        "--otlp",
        url,
        "--incident-dir",
        str(tmp_path / "inc"),
    )
    assert export.status == 1
    assert export.err == f"aiir: trace of {incident} not exported to {url}: connection refused\n"


@pytest.mark.parametrize("url", ["ftp://collector", "not a url", "http://", "http://[::1"])
def test_a_wrong_otlp_url_is_exit_2_and_nothing_runs(
    walk: list[str], tmp_path: Path, capsys: Capture, url: str
) -> None:
    ran = aiir(capsys, *walk, "--otlp", url, "--incident-dir", str(tmp_path / "inc"))
    assert ran.status == 2
    assert ran.err.startswith("aiir: --otlp ")
    assert ran.err.count("\n") == 1
    assert incidents(tmp_path) == []


def test_the_workspace_sends_real_walks_with_its_headers_and_never_practice(
    walk: list[str],
    receiver: Receiver,
    tmp_path: Path,
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {
        **CONFIG,
        "otlp": {
            "url": receiver.url,
            "project": "response",
            "headers_env": {"authorization": "TRACE_AUTH"},
        },
    }
    workspace = write_workspace(tmp_path / "ws", config)
    monkeypatch.setenv("AIIR_WORKSPACE", str(workspace))
    folder = str(tmp_path / "inc")
    missing = aiir(capsys, *walk, "--incident-dir", folder)
    assert missing.status == 2
    assert "otlp.headers_env.authorization: $TRACE_AUTH is not set" in missing.err
    assert incidents(tmp_path) == []
    monkeypatch.setenv("TRACE_AUTH", "Bearer trace-token-0123456789")
    assert aiir(capsys, *walk, "--incident-dir", folder).status == 0
    [request] = receiver.to("/v1/traces")
    assert request.headers["authorization"] == "Bearer trace-token-0123456789"
    spans = received_spans(receiver)
    assert {s.resource["openinference.project.name"] for s in spans} == {"response"}
    receiver.requests.clear()
    sandbox = ["run", "prompt-injection", "--sandbox", "--yes", "--answers", "prompt-injection"]
    real = incidents(tmp_path)
    assert aiir(capsys, *sandbox, "--incident-dir", folder).status == 0
    assert receiver.requests == []  # practice is exported only when asked
    [practice] = sorted(set(incidents(tmp_path)) - set(real))
    later = aiir(capsys, "export", practice, "--format", "otlp", "--incident-dir", folder)
    assert (later.status, later.err) == (
        2,
        f"aiir: --format otlp: {practice} is an exercise (sandbox); its trace goes only where "
        "--otlp URL names, not to aiir.yaml's otlp:\n",
    )
    assert receiver.requests == []  # not even after the fact, by the workspace's otlp:
    asked = aiir(capsys, *sandbox, "--otlp", receiver.url, "--incident-dir", folder)
    assert asked.status == 0
    spans = received_spans(receiver)
    assert {s.attributes["aiir.exercise"] for s in spans} == {"sandbox"}
    assert {s.resource["aiir.exercise"] for s in spans} == {"sandbox"}


def test_a_drill_with_otlp_sends_each_drill_marked_as_exercise(
    receiver: Receiver, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_terminal(monkeypatch)
    ran = aiir(
        capsys, "drill", "prompt-injection", "--otlp", receiver.url, "--incident-dir", str(tmp_path)
    )
    assert ran.status == 0, ran.out + ran.err
    spans = received_spans(receiver)
    assert spans
    assert {s.attributes["aiir.exercise"] for s in spans} == {"drill"}
    assert "trace: " in ran.err


def test_otlp_goes_with_format_otlp_only(tmp_path: Path, capsys: Capture) -> None:
    write(tmp_path / "x.yaml", {})
    ran = aiir(capsys, "export", "INC-1", "--format", "stix", "--otlp", "http://127.0.0.1:4318")
    assert (ran.status, ran.err) == (
        2,
        "aiir: --otlp: goes with --format otlp, not --format stix\n",
    )
