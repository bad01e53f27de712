"""The real Arize Phoenix server, for the tests marked ``phoenix``.

``scripts/test`` installs Phoenix (pinned, with its constraints in this folder) into its own
cached virtual environment and exports ``AIIR_PHOENIX``, the path of its ``phoenix`` command;
without it the tests are skipped, and under CI=true they fail. A session's server keeps its
SQLite storage in a temporary folder, listens on 127.0.0.1 only, sends no telemetry, and is
stopped when the session ends.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aiir.sandbox.transport import free_port
from tests.conftest import _stop, _tail, alive, server_executable

# Phoenix's start-up is ~25 s of imports and migrations on an idle machine, minutes on a busy one:
# it is waited for as LiteLLM's is, as long as it gets on (its CPU time or its log grows).


@dataclass(frozen=True)
class Phoenix:
    """A running server: its base URL."""

    url: str

    @property
    def traces(self) -> str:
        """Its OTLP/HTTP endpoint for spans."""
        return f"{self.url}/v1/traces"

    def spans(
        self, project: str, keep: Callable[[dict[str, Any]], bool], at_least: int = 1
    ) -> list[dict[str, Any]]:
        """The spans of ``project`` that ``keep`` keeps (paging through the REST API), waiting
        until there are ``at_least``: Phoenix takes OTLP in and writes it to its database in
        the background. Waits up to a minute, then returns what it has."""
        deadline = time.monotonic() + 60.0
        with httpx2.Client(trust_env=False, timeout=30) as client:
            while True:
                every = _all_spans(client, f"{self.url}/v1/projects/{project}/spans")
                found = [span for span in every if keep(span)]
                if len(found) >= at_least or time.monotonic() > deadline:
                    return found
                time.sleep(0.5)


def _all_spans(client: httpx2.Client, url: str) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        reply = client.get(url, params=params)
        if reply.status_code == 404:  # no such project yet: nothing written to it so far
            return spans
        reply.raise_for_status()
        body = reply.json()
        spans.extend(body["data"])
        cursor = body.get("next_cursor")
        if not cursor:
            return spans


def phoenix_executable() -> str:
    return server_executable("AIIR_PHOENIX", "the real Arize Phoenix server")


def serve_phoenix() -> Iterator[Phoenix]:
    """Start a server, yield it once it answers, stop it."""
    command = phoenix_executable()
    with tempfile.TemporaryDirectory(prefix="aiir-phoenix-") as folder:
        port, grpc = free_port(), free_port()
        env = {
            **os.environ,
            "PHOENIX_WORKING_DIR": folder,
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(grpc),
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        log = Path(folder) / "phoenix.log"
        url = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [command, "serve"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,
            )
        try:
            why = alive(process, url, log, health="/healthz")
            if why is not None:
                pytest.fail(f"Phoenix did not start on {url}: it {why}:\n{_tail(log)}")
            yield Phoenix(url)
        finally:
            _stop(process)
