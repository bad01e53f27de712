"""The one object through which aiir touches the world; tests swap each part.

``aiir.cli.main`` builds one :class:`Environment` per command from the process (its variables,
its terminal) with :meth:`Environment.from_process`, and hands it to the command; nothing else
in aiir reads ``os.environ``. A test builds its own with a fake clock, a scripted prompter and a
dictionary of variables (``tests/support/environment.py``).

What is costly to make is made on first use: the console (rich), the prompter, the HTTP client
(its TLS context), the workspace (a file lookup). ``aiir --help`` pays for none of them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from aiir.errors import InputError
from aiir.formats.printable import plain
from aiir.formats.received import without_surrogates
from aiir.prompts import NoTerminalPrompter, Prompter
from aiir.redact import watch

if TYPE_CHECKING:
    from typing import Literal, TypeAlias

    import httpx2
    from rich.console import Console

    from aiir.formats.workspace import Loaded
    from aiir.incident import payloads
    from aiir.incident.events import EventType
    from aiir.outbound.inbox import Inbox

    # Events others around a walk report (a tabletop's injects), journalled by the walk in order.
    Outbox: TypeAlias = list[tuple[Literal[EventType.INJECT_DELIVERED], payloads.InjectDelivered]]

INCIDENT_DIR_VARIABLE = "AIIR_INCIDENT_DIR"
STORE_VARIABLE = "AIIR_STORE"
SANDBOX_URL = "http://sandbox.aiir.invalid"
MAX_SLEEP = 86_400.0  # seconds one time.sleep is given at most (a long sleep is several)


class Clock(Protocol):
    """Wall-clock time in UTC, and sleeping (for backoff)."""

    def now(self) -> dt.datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, however long: a runbook may poll every 999999d, and ``time.sleep``
        of more than the platform's ``time_t`` holds raised OverflowError (an internal error);
        nothing (not a ValueError) for a span of zero, less, or not a number."""
        left = seconds
        while left > 0:
            step = min(left, MAX_SLEEP)
            time.sleep(step)
            left -= step


MAX_OPERATOR = 100  # characters of the operator's name, on every line of the journal


def default_operator(environ: Mapping[str, str]) -> str:
    """``$AIIR_OPERATOR``, else the login name. The name goes on every journal line and every
    message a walk prints: a bad byte in it reads as U+FFFD, controls and escapes are dropped,
    and a line break or tab is a space (``noted by bob`` and a line of its own after it)."""
    explicit = _one_line(environ.get("AIIR_OPERATOR") or "")
    if len(explicit) > MAX_OPERATOR:
        raise InputError(
            f"AIIR_OPERATOR: a name of at most {MAX_OPERATOR} characters "
            f"(this one is {len(explicit)})"
        )
    if explicit:
        return explicit
    try:
        return _one_line(getpass.getuser())[:MAX_OPERATOR] or "unknown"
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _one_line(name: str) -> str:
    return " ".join(plain(without_surrogates(name)).split())


def incidents_root(
    environ: Mapping[str, str], flag: Path | None = None, workspace: Loaded | None = None
) -> Path:
    """``--incident-dir``, else ``$AIIR_INCIDENT_DIR``, else the workspace's, else ``./.aiir/incidents``."""
    if flag is not None:
        return flag
    from aiir.formats.paths import variable_path

    named = variable_path(environ, INCIDENT_DIR_VARIABLE)
    if named is not None:
        return named
    if workspace is not None:
        return workspace.path(workspace.config.incidents)
    return Path(".aiir") / "incidents"


def _outside_the_sandbox(request: httpx2.Request) -> httpx2.Response:
    import httpx2

    raise httpx2.ConnectError(
        f"{request.url.host} is outside the sandbox: an exercise talks only to the simulated "
        "gateway",
        request=request,
    )


MIN_COLUMNS = 20  # narrower than this, no table or box of aiir's can be drawn


def console_on(*, stderr: bool = False) -> Console:
    """A console on standard output (or error), as wide as rich finds it (``COLUMNS``, else the
    terminal, else 80), but never narrower than :data:`MIN_COLUMNS`: ``COLUMNS=0`` (a CI that
    knows no width) made ``aiir drill`` print nothing at all, and ``COLUMNS=1`` one corner of
    its table. Such a width is taken as unknown: the terminal's own, else 80."""
    from rich.console import Console

    console = Console(highlight=False, stderr=stderr)
    if console.width < MIN_COLUMNS:
        try:
            known = os.get_terminal_size(console.file.fileno()).columns
        except (AttributeError, OSError, ValueError):  # no terminal, or a file without one
            known = 0
        console.width = known if known >= MIN_COLUMNS else 80
    return console


def _tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


def has_terminal() -> bool:
    """Whether standard input and output are a terminal; a closed one (``<&-``: Python has
    None for it, or a file that is closed) is no terminal."""
    return _tty(sys.stdin) and _tty(sys.stdout)


def no_terminal() -> str:
    """Why no question can be asked, in the words of what the operator did: at a terminal with
    the output piped (``aiir run … | tee walk.log``), "there is no terminal" read as a bug."""
    if _tty(sys.stdin) and not _tty(sys.stdout):
        return "standard output is not a terminal (a pipe or a file; run it without the pipe)"
    return "there is no terminal"


class Environment:
    """Console, prompter, HTTP client, clock, environment variables and run flags.

    ``console``, ``prompter``, ``workspace`` and ``incidents_dir`` may be given, or left to be
    made on first use: a console on standard output, the ``terminal`` prompter when standard input
    and output are a terminal (else one that refuses to ask), the workspace found from the
    current directory (only when ``find_workspace``), the incidents folder as
    :func:`incidents_root` says.
    """

    def __init__(
        self,
        console: Console | None = None,
        prompter: Prompter | None = None,
        client: httpx2.Client | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        operator: str = "unknown",
        incidents_dir: Path | None = None,
        dry_run: bool = False,
        assume_yes: bool = False,
        gateway_urls: dict[str, str] | None = None,
        sandbox_url: str | None = None,
        observers: list[Callable[[str, str], None]] | None = None,
        outbox: Outbox | None = None,
        workspace: Loaded | None = None,
        exercise: str | None = None,
        inbox: Inbox | None = None,
        *,
        terminal: Callable[[], Prompter] | None = None,
        find_workspace: bool = False,
    ) -> None:
        self._console = console
        self._prompter = prompter
        self._terminal = terminal
        self.client = client  # see `http`
        self.clock: Clock = clock or SystemClock()
        self.environ: Mapping[str, str] = {} if environ is None else environ
        watch(self.environ)  # its secret-looking values are masked wherever aiir writes
        self.operator = operator
        self._incidents_dir = incidents_dir
        self.dry_run = dry_run
        self.assume_yes = assume_yes
        self.gateway_urls: dict[str, str] = {} if gateway_urls is None else gateway_urls
        self.sandbox_url = sandbox_url  # every gateway not named in gateway_urls goes here
        self.observers: list[Callable[[str, str], None]] = observers or []  # (runbook, node)
        self.outbox: Outbox = outbox or []  # events to journal
        self._workspace = workspace
        self._find_workspace = find_workspace and workspace is None
        # Practice: "sandbox", "drill" or "tabletop". Messages go to ``inbox``, never to a channel.
        self.exercise = exercise
        self._inbox = inbox
        self.store_flag: str | None = None  # --store, when the command was given it
        self.store_where = "--store"  # what chose store_flag (an exercise's: its command's)

    @classmethod
    def from_process(cls, terminal: Callable[[], Prompter] | None = None) -> Environment:
        """The real world: this process's variables, its terminal (asked through ``terminal``
        when there is one), the workspace around the current directory."""
        environ = dict(os.environ)
        return cls(
            environ=environ,
            operator=default_operator(environ),
            terminal=terminal,
            find_workspace=True,
        )

    # --- made on first use -----------------------------------------------------------------

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = console_on()
        return self._console

    @console.setter
    def console(self, console: Console) -> None:
        self._console = console

    @property
    def prompter(self) -> Prompter:
        if self._prompter is None:
            terminal = self._terminal if has_terminal() else None
            self._prompter = (
                terminal() if terminal is not None else NoTerminalPrompter(no_terminal())
            )
        return self._prompter

    @prompter.setter
    def prompter(self, prompter: Prompter) -> None:
        self._prompter = prompter

    @property
    def workspace(self) -> Loaded | None:
        if self._find_workspace:
            from aiir.formats.workspace import current

            self._find_workspace = False
            self._workspace = current(self.environ)
        return self._workspace

    @workspace.setter
    def workspace(self, workspace: Loaded | None) -> None:
        self._find_workspace = False
        self._workspace = workspace

    @property
    def incidents_dir(self) -> Path:
        if self._incidents_dir is None:
            self._incidents_dir = incidents_root(self.environ, None, self.workspace)
        return self._incidents_dir

    @incidents_dir.setter
    def incidents_dir(self, folder: Path) -> None:
        self._incidents_dir = folder

    def incidents_at(self, flag: Path | None) -> Path:
        """``--incident-dir`` if given, else where this environment keeps incidents."""
        self._incidents_dir = incidents_root(self.environ, flag, self.workspace)
        return self._incidents_dir

    def store_at(self, flag: str | None = None) -> tuple[str, str]:
        """The shared incident store's URL and where it was chosen: ``--store`` (``flag``, else
        the one this command was given), else ``$AIIR_STORE``, else aiir.yaml's ``store:``;
        ``("", "")`` for the files."""
        if flag:
            return flag, "--store"
        if self.store_flag:
            return self.store_flag, self.store_where
        if self.environ.get(STORE_VARIABLE):
            return self.environ[STORE_VARIABLE], STORE_VARIABLE
        if self.workspace is not None and self.workspace.config.store:
            return self.workspace.config.store, f"{self.workspace.root / 'aiir.yaml'} store:"
        return "", ""

    def use_store_of(self, other: Environment) -> None:
        """The shared store ``other`` chose (by flag, variable or workspace), for an exercise's
        own environment made from a command's."""
        url, where = other.store_at()
        if url:
            self.store_flag, self.store_where = url, where

    @property
    def profile_dirs(self) -> tuple[Path, ...]:
        """The team's own gateway profile folders (see :func:`aiir.formats.library.profile_dirs`)."""
        from aiir.formats.library import profile_dirs

        return profile_dirs(self.environ)

    @property
    def inbox(self) -> Inbox:
        if self._inbox is None:
            from aiir.outbound.inbox import Inbox

            self._inbox = Inbox()
        return self._inbox

    @inbox.setter
    def inbox(self, inbox: Inbox) -> None:
        self._inbox = inbox

    @property
    def http(self) -> httpx2.Client:
        """The HTTP client, made on first use: its TLS context alone costs ~20 ms to load, and a
        canary run, a validation or a plain-HTTP sweep never needs it."""
        if self.client is None:
            import httpx2

            self.client = httpx2.Client(verify=True, follow_redirects=False)
        return self.client

    # --- practice --------------------------------------------------------------------------

    def use_sandbox(self, state: object | None = None, exercise: str = "sandbox") -> None:
        """Route every gateway to an in-process simulated gateway (no socket, no keys).

        Nothing else is reachable: the client refuses every other address, and notifications
        go to the exercise's inbox (see :mod:`aiir.outbound.inbox`).
        """
        import httpx2

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

    def close(self) -> None:
        """Close the HTTP client, if one was made."""
        if self.client is not None:
            self.client.close()
            self.client = None
