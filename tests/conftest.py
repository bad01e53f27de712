"""Shared fixtures: the real LiteLLM proxy, in front of aiir's simulated gateway as its upstream.

``scripts/test`` installs LiteLLM in its own cached virtual environment and exports
``AIIR_LITELLM``; without it the ``litellm`` tests are skipped (and fail in CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx2
import pytest
import yaml

from aiir.sandbox import SandboxState, create_app, serve_in_thread
from aiir.sandbox.transport import free_port

pytest_plugins = ["tests.support.postgres"]  # the real PostgreSQL server: `postgres`, `database`


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C and Ctrl-\\ reach the programs the tests start, however this run was started. A
    background job of a shell without job control (``scripts/test &`` in a script, some CI
    runners) begins with SIGINT and SIGQUIT ignored; every child inherits that, Python then
    installs no KeyboardInterrupt handler, and the tests that press Ctrl-C in a pseudo-terminal
    or send SIGINT to a watcher waited for a program that never heard it."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGQUIT) == signal.SIG_IGN:
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)


LITELLM_MASTER_KEY = "sk-aiir-test-master-0123456789"
PRIMARY = "support-bot"
FALLBACK = "support-bot-fallback"
GUARDRAIL = "deny-words"
BLOCKED_WORD = "forbidden-canary"
# LiteLLM's start-up is ~7-25 s of imports on an idle machine, minutes on a busy one. The wait
# lasts as long as the process is alive and getting on (its CPU time or its log grows); it gives
# up when the process has made no progress for STARTUP_STALL seconds, or after STARTUP_BOUND.
STARTUP_BOUND = 15 * 60.0
STARTUP_STALL = 180.0
LOG_TAIL = 60


class LiteLLMProxy(NamedTuple):
    """A running LiteLLM proxy: its URL, its master key and the state of its upstream."""

    url: str
    master_key: str
    sandbox: SandboxState


def litellm_config(upstream: str, **general_settings: Any) -> dict[str, Any]:
    """Two model groups served by the simulated gateway, a fallback, a per-request guardrail."""

    def group(name: str) -> dict[str, Any]:
        params = {"model": f"openai/{name}", "api_base": f"{upstream}/v1", "api_key": "sk-dummy"}
        return {"model_name": name, "litellm_params": params}

    return {
        "model_list": [group(PRIMARY), group(FALLBACK)],
        "router_settings": {"fallbacks": [{PRIMARY: [FALLBACK]}], "num_retries": 0},
        "general_settings": {"master_key": LITELLM_MASTER_KEY, **general_settings},
        "guardrails": [
            {
                "guardrail_name": GUARDRAIL,
                "litellm_params": {
                    "guardrail": "litellm_content_filter",
                    "mode": "pre_call",
                    "default_on": False,  # applies only to requests that name it
                    "blocked_words": [{"keyword": BLOCKED_WORD, "action": "BLOCK"}],
                },
            }
        ],
    }


def server_executable(
    variable: str, server: str, where: str = "in its own cached virtual environment"
) -> str:
    """The command ``$variable`` names, which scripts/test installs: a missing one skips the
    test, and fails it under CI=true."""
    path = os.environ.get(variable, "")
    if not path:
        message = (
            f"{variable} is not set: run scripts/test, which installs {server} {where} and "
            f"points {variable} at it"
        )
        if os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{variable}={path} is not an executable", pytrace=False)
    return path


def litellm_executable() -> str:
    return server_executable("AIIR_LITELLM", "the real LiteLLM proxy")


def _tail(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL:])


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of ``pid`` and its waited-for children (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)", which may hold spaces
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


class Progress:
    """Whether a starting process is getting on: its CPU time or its log grew lately."""

    def __init__(self, pid: int, log: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.pid, self.log, self.clock = pid, log, clock
        self.mark = self._sample()
        self.last = clock()

    def _sample(self) -> tuple[float | None, int]:
        try:
            size = self.log.stat().st_size
        except OSError:
            size = 0
        return cpu_seconds(self.pid), size

    def stalled_for(self) -> float:
        """Seconds since the process last used CPU or wrote to its log."""
        now, sample = self.clock(), self._sample()
        if sample != self.mark:
            self.mark, self.last = sample, now
        return now - self.last


def alive(
    process: subprocess.Popen[bytes], url: str, log: Path, health: str = "/health/liveliness"
) -> str | None:
    """Wait for ``health`` to answer 200: None once it does, else why it never will."""
    started = time.monotonic()
    progress = Progress(process.pid, log)
    with httpx2.Client(trust_env=False, timeout=5) as client:
        while process.poll() is None:
            try:
                if client.get(f"{url}{health}").status_code == 200:
                    return None
            except httpx2.TransportError:
                pass
            stalled = progress.stalled_for()
            if stalled > STARTUP_STALL:
                return f"made no progress (no CPU time, no log) for {stalled:.0f}s"
            if time.monotonic() - started > STARTUP_BOUND:
                return f"was still starting after {STARTUP_BOUND:g}s"
            time.sleep(0.25)
    return f"exited with status {process.returncode}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class _Process:
    """One ``$AIIR_LITELLM`` process: launched now, waited for later, so several start at once."""

    def __init__(self, config: dict[str, Any], directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.config = directory / "config.yaml"
        self.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.log = directory / "litellm.log"
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "NO_PROXY": "127.0.0.1,localhost"}
        env["no_proxy"] = env["NO_PROXY"]
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [litellm_executable(), "--config", str(self.config), "--host", "127.0.0.1"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.directory,
            )

    def wait(self) -> None:
        """Until ``/health/liveliness`` answers; relaunched if its port was taken meanwhile."""
        for _attempt in range(3):
            assert self.process is not None
            why = alive(self.process, self.url, self.log)
            if why is None:
                return
            self.stop()
            if "address already in use" not in _tail(self.log).lower():
                break
            self.launch()
        pytest.fail(
            f"LiteLLM did not answer /health/liveliness on {self.url}: it {why}; "
            f"last lines of {self.log}:\n{_tail(self.log)}",
            pytrace=False,
        )

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},  # as shipped: no database, mock testing params refused
    "mock": {"dangerously_allow_mock_testing_request_params": True},
}


class Fleet:
    """One LiteLLM proxy per variant (extra ``general_settings``), each with its own sandbox
    upstream: all launched at once, waited for on first use, all stopped by :meth:`close`."""

    def __init__(self, directory: Path, variants: dict[str, dict[str, Any]]) -> None:
        self.stack = ExitStack()
        self.started: list[tuple[str, _Process, SandboxState]] = []
        self.proxies: dict[str, LiteLLMProxy] | None = None
        try:
            for name, general_settings in variants.items():
                sandbox = SandboxState()
                upstream = self.stack.enter_context(serve_in_thread(create_app(sandbox)))
                process = _Process(litellm_config(upstream, **general_settings), directory / name)
                self.stack.callback(process.stop)
                process.launch()
                self.started.append((name, process, sandbox))
        except BaseException:
            self.close()
            raise

    def wait(self) -> dict[str, LiteLLMProxy]:
        if self.proxies is None:
            proxies = {}
            for name, process, sandbox in self.started:
                process.wait()
                proxies[name] = LiteLLMProxy(process.url, LITELLM_MASTER_KEY, sandbox)
            self.proxies = proxies
        return self.proxies

    def close(self) -> None:
        self.stack.close()


@contextmanager
def litellm_proxies(
    directory: Path, variants: dict[str, dict[str, Any]]
) -> Iterator[dict[str, LiteLLMProxy]]:
    """The proxies of ``variants``, started and waited for; stopped afterwards."""
    litellm_executable()
    fleet = Fleet(directory, variants)
    try:
        yield fleet.wait()
    finally:
        fleet.close()


# The session's proxies start as soon as collection shows that a test will need them: their
# start-up (tens of seconds of imports, minutes on a busy machine) then overlaps the tests that run
# before the first LiteLLM test, on the core pytest leaves idle.
_EARLY: list[tuple[Fleet, Path]] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    executable = os.environ.get("AIIR_LITELLM", "")
    if session.config.option.collectonly or not os.access(executable, os.X_OK):
        return  # the fixture reports a missing or broken executable where a test needs it
    if any("litellm_proxies_started" in getattr(i, "fixturenames", ()) for i in session.items):
        directory = Path(tempfile.mkdtemp(prefix="aiir-litellm-"))
        _EARLY.append((Fleet(directory, VARIANTS), directory))


def pytest_sessionfinish(session: pytest.Session) -> None:
    while _EARLY:
        fleet, directory = _EARLY.pop()
        fleet.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def litellm_proxies_started(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, LiteLLMProxy]]:
    litellm_executable()
    if _EARLY:
        yield _EARLY[0][0].wait()
        return
    with litellm_proxies(tmp_path_factory.mktemp("litellm"), VARIANTS) as proxies:
        yield proxies


@pytest.fixture(scope="session")
def litellm_proxy(litellm_proxies_started: dict[str, LiteLLMProxy]) -> LiteLLMProxy:
    """The real LiteLLM proxy as configured by default: no database, mock test params refused."""
    return litellm_proxies_started["default"]


@pytest.fixture(scope="session")
def litellm_mock_proxy(litellm_proxies_started: dict[str, LiteLLMProxy]) -> LiteLLMProxy:
    """A second proxy that accepts LiteLLM's mock testing request params (mock fallbacks)."""
    return litellm_proxies_started["mock"]
