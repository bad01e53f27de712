"""The real Prometheus server, for the tests marked ``prometheus``, scraping a loopback exporter.

``scripts/test`` installs Debian's ``prometheus`` package when it is missing and exports
``AIIR_PROMETHEUS``, the path of the server; without it the tests are skipped, and under CI=true
they fail. A session's server keeps its TSDB in a temporary folder, listens on 127.0.0.1 only,
scrapes the test's :class:`Exporter` every second, and is stopped when the test ends.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aiir.sandbox.transport import free_port
from tests.conftest import _stop, _tail, alive, server_executable
from tests.receiver import serving

SCRAPE = "1s"


@dataclass
class Exporter:
    """Metrics in Prometheus's text format, set by the test: ``name{labels}`` -> value."""

    url: str = ""
    values: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, series: str, value: float) -> None:
        with self.lock:
            self.values[series] = value

    def add(self, series: str, amount: float) -> None:
        with self.lock:
            self.values[series] = self.values.get(series, 0.0) + amount

    def text(self) -> bytes:
        with self.lock:
            return "".join(f"{k} {v!r}\n" for k, v in sorted(self.values.items())).encode()


@dataclass(frozen=True)
class Prometheus:
    url: str

    def wait_for(self, query: str, check: Callable[[float], bool], within: float = 60.0) -> float:
        """Query until ``check(value)`` holds for the first sample (scrapes land each second);
        returns that value. Fails the test after ``within`` seconds."""
        deadline = time.monotonic() + within
        last: float | None = None
        with httpx2.Client(trust_env=False, timeout=10) as client:
            while time.monotonic() < deadline:
                body = client.get(f"{self.url}/api/v1/query", params={"query": query}).json()
                result = body.get("data", {}).get("result") or []
                if result:
                    last = float(result[0]["value"][1])
                    if check(last):
                        return last
                time.sleep(0.25)
        pytest.fail(f"Prometheus: {query} never met the check (last value {last})")


@contextmanager
def serve_exporter() -> Iterator[Exporter]:
    exporter = Exporter()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            body = exporter.text()
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        exporter.url = url.removeprefix("http://")
        yield exporter


@contextmanager
def serve_prometheus(exporter: Exporter) -> Iterator[Prometheus]:
    """Start a server scraping ``exporter``, yield it once it is ready, stop it."""
    command = server_executable(
        "AIIR_PROMETHEUS", "Debian's prometheus package", "when it is missing (as root, with apt)"
    )
    with tempfile.TemporaryDirectory(prefix="aiir-prometheus-") as folder:
        config = Path(folder) / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {SCRAPE}\n  evaluation_interval: {SCRAPE}\n"
            "scrape_configs:\n  - job_name: app\n"
            f"    static_configs:\n      - targets: ['{exporter.url}']\n",
            encoding="utf-8",
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(folder) / "prometheus.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    command,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={Path(folder) / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--web.enable-lifecycle",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )
        try:
            why = alive(process, url, log, health="/-/ready")
            if why is not None:
                pytest.fail(f"Prometheus did not start on {url}: it {why}:\n{_tail(log)}")
            yield Prometheus(url)
        finally:
            _stop(process)
