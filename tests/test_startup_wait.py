"""The LiteLLM start-up wait (tests/conftest.py): as long as the proxy is alive and getting on,
however slow a busy machine makes it; a stuck or dead one fails with its log's last lines.

Real processes stand in for the proxy: one that computes before it answers, one that sleeps
forever, one that exits at once.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aiir.sandbox.transport import free_port
from tests import conftest

# Computes for a while (CPU time grows, the log does not), then answers the health check.
BUSY_THEN_READY = """
import sys, time, http.server
port, busy = int(sys.argv[1]), float(sys.argv[2])
until = time.process_time() + busy
while time.process_time() < until:
    pass
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health/liveliness" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


@pytest.fixture
def short_stall(monkeypatch: pytest.MonkeyPatch) -> float:
    """A stall window of seconds, not minutes (long enough that a busy machine's scheduler does
    not starve a computing child that long)."""
    monkeypatch.setattr(conftest, "STARTUP_STALL", 2.0)
    monkeypatch.setattr(conftest, "STARTUP_BOUND", 60.0)
    return 2.0


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "proxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return process, log


def test_a_proxy_that_keeps_computing_is_waited_for_past_the_stall_window(
    tmp_path: Path, short_stall: float
) -> None:
    port = free_port()
    busy = 1.5 * short_stall
    process, log = _start(tmp_path, "-c", BUSY_THEN_READY, str(port), str(busy))
    try:
        assert conftest.alive(process, f"http://127.0.0.1:{port}", log) is None
    finally:
        conftest._stop(process)


def test_a_proxy_that_makes_no_progress_is_given_up(tmp_path: Path, short_stall: float) -> None:
    process, log = _start(tmp_path, "-c", "import time; time.sleep(120)")
    try:
        why = conftest.alive(process, f"http://127.0.0.1:{free_port()}", log)
    finally:
        conftest._stop(process)
    assert why is not None
    assert why.startswith("made no progress (no CPU time, no log) for ")


def test_a_proxy_that_exits_says_its_status(tmp_path: Path, short_stall: float) -> None:
    process, log = _start(tmp_path, "-c", "raise SystemExit(3)")
    assert conftest.alive(process, f"http://127.0.0.1:{free_port()}", log) == (
        "exited with status 3"
    )


def test_a_stuck_proxy_fails_the_tests_with_its_log_tail(
    tmp_path: Path, short_stall: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "litellm"
    fake.write_text("#!/bin/sh\necho 'INFO: importing the proxy'\nexec sleep 120\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("AIIR_LITELLM", str(fake))
    proxy = conftest._Process({"model_list": []}, tmp_path / "proxy")
    proxy.launch()
    try:
        with pytest.raises(pytest.fail.Exception) as failed:
            proxy.wait()
    finally:
        proxy.stop()
    message = str(failed.value)
    assert "it made no progress (no CPU time, no log) for " in message
    assert message.endswith("INFO: importing the proxy")


def test_cpu_time_is_read_from_proc() -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc here: the wait falls back to the log's growth")
    spent = conftest.cpu_seconds(os.getpid())
    assert spent is not None
    assert spent > 0
    assert conftest.cpu_seconds(2**22 + 1) is None  # above Linux's pid_max: no such process
