"""The one object through which the engine touches the world; tests swap each part."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx2

from aiir.prompts import NoTerminalPrompter, Prompter

if TYPE_CHECKING:
    from rich.console import Console

    from aiir.formats.workspace import Loaded
    from aiir.outbound.inbox import Inbox

INCIDENT_DIR_VARIABLE = "AIIR_INCIDENT_DIR"
SANDBOX_URL = "http://sandbox.aiir.invalid"


class Clock(Protocol):
    """Wall-clock time in UTC, and sleeping (for backoff)."""

    def now(self) -> dt.datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def default_operator(environ: Mapping[str, str]) -> str:
    explicit = environ.get("AIIR_OPERATOR")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def incidents_root(
    environ: Mapping[str, str], flag: Path | None = None, workspace: Loaded | None = None
) -> Path:
    """``--incident-dir``, else ``$AIIR_INCIDENT_DIR``, else the workspace's, else ``./.aiir/incidents``."""
    if flag is not None:
        return flag
    if environ.get(INCIDENT_DIR_VARIABLE):
        return Path(environ[INCIDENT_DIR_VARIABLE])
    if workspace is not None:
        return workspace.path(workspace.config.incidents)
    return Path(".aiir") / "incidents"


def _inbox() -> Inbox:
    from aiir.outbound.inbox import Inbox

    return Inbox()


def _outside_the_sandbox(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError(
        f"{request.url.host} is outside the sandbox: an exercise talks only to the simulated "
        "gateway",
        request=request,
    )


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@dataclass
class Environment:
    """Console, prompter, HTTP client, clock, environment variables and run flags."""

    console: Console
    prompter: Prompter
    client: httpx2.Client | None = None  # see `http`
    clock: Clock = field(default_factory=SystemClock)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    operator: str = "unknown"
    incidents_dir: Path = Path(".aiir") / "incidents"
    dry_run: bool = False
    assume_yes: bool = False
    gateway_urls: dict[str, str] = field(default_factory=dict)
    sandbox_url: str | None = None  # every gateway not named in gateway_urls goes here
    observers: list[Callable[[str, str], None]] = field(default_factory=list)  # (runbook, node)
    outbox: list[tuple[str, dict[str, object]]] = field(default_factory=list)  # events to journal
    workspace: Loaded | None = None
    # Practice: "sandbox", "drill" or "tabletop". Messages go to ``inbox``, never to a channel.
    exercise: str | None = None
    inbox: Inbox = field(default_factory=_inbox)

    def use_sandbox(self, state: object | None = None, exercise: str = "sandbox") -> None:
        """Route every gateway to an in-process simulated gateway (no socket, no keys).

        Nothing else is reachable: the client refuses every other address, and notifications
        go to the exercise's inbox (see :mod:`aiir.outbound.inbox`).
        """
        from aiir.sandbox import InProcessTransport, SandboxState, create_app

        sandbox = state if isinstance(state, SandboxState) else SandboxState()
        transport = InProcessTransport(create_app(sandbox))
        self.close()
        self.client = httpx2.Client(
            mounts={
                SANDBOX_URL.replace("http://", "all://"): transport,
                "all://": httpx2.MockTransport(_outside_the_sandbox),
            },
            verify=True,
            follow_redirects=False,
        )
        self.sandbox_url = SANDBOX_URL
        self.exercise = self.exercise or exercise

    @property
    def http(self) -> httpx2.Client:
        """The HTTP client, made on first use: its TLS context alone costs ~20 ms to load, and a
        canary run, a validation or a plain-HTTP sweep never needs it."""
        if self.client is None:
            self.client = httpx2.Client(verify=True, follow_redirects=False)
        return self.client

    def close(self) -> None:
        """Close the HTTP client, if one was made."""
        if self.client is not None:
            self.client.close()
            self.client = None

    @classmethod
    def for_terminal(cls, **overrides: object) -> Environment:
        """The real world: a terminal prompter when there is a terminal, else none."""
        from rich.console import Console

        from aiir.formats.workspace import current
        from aiir.terminal.prompter import TerminalPrompter

        environ = dict(os.environ)
        prompter: Prompter = TerminalPrompter() if has_terminal() else NoTerminalPrompter()
        workspace = current(environ)
        env = cls(
            console=Console(highlight=False, stderr=False),
            prompter=prompter,
            environ=environ,
            operator=default_operator(environ),
            incidents_dir=incidents_root(environ, None, workspace),
            workspace=workspace,
        )
        for name, value in overrides.items():
            setattr(env, name, value)
        return env
