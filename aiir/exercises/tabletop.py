"""Tabletop exercises: a room walks a runbook while the facilitator's screen delivers injects.

Injects arrive at their scenario time (``--speed`` compresses the clock: 60 means a scenario
minute passes every real second), also while the room is still discussing a question, or earlier,
when the facilitator presses ``y`` at the offer shown before each question. The room's answers
drive the runbook against the simulated gateway, which reflects every lever they pull. At the end
aiir writes an after-action report in Markdown (:mod:`aiir.exercises.after_action`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
from rich.console import Console
from rich.panel import Panel

from aiir.engine.frames import duration
from aiir.environment import Clock, Environment, SystemClock
from aiir.exercises.after_action import after_action
from aiir.formats.scenario import Inject
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.prompts import Check, Option, Prompter
from aiir.redact import scrub
from aiir.respond.session import RunResult, start
from aiir.sandbox import SandboxState
from aiir.terminal.inert import inert
from aiir.timestamps import clock_text
from aiir.validate.scenarios import Prepared

if TYPE_CHECKING:
    from aiir.environment import Outbox

__all__ = ["InjectBoard", "TabletopPrompter", "after_action", "run_tabletop"]

T = TypeVar("T")
ZERO = dt.timedelta()


@dataclass
class Delivery:
    inject: Inject
    at: dt.timedelta  # scenario time when it reached the room
    by: str  # "time" or "facilitator"


@dataclass
class InjectBoard:
    """The timeline of injects and what has been delivered, on a possibly accelerated clock.

    The scenario clock starts with :meth:`begin` (when the incident opens, not while the
    runbooks load). Delivery is thread-safe: on a terminal, injects that fall due while the room
    is answering a question are delivered from a timer thread (:meth:`live`).
    """

    injects: Sequence[Inject]
    clock: Clock
    console: Console
    outbox: Outbox
    speed: float = 1.0
    started: dt.datetime | None = None
    delivered: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pending = sorted(self.injects, key=lambda i: duration(i.at, ZERO))
        self.lock = threading.RLock()

    def begin(self) -> None:
        """Start the scenario clock (once) and deliver what is due at T+0."""
        with self.lock:
            if self.started is None:
                self.started = self.clock.now()
        self.deliver_due()

    def elapsed(self) -> dt.timedelta:
        """Scenario time since :meth:`begin` (zero before it)."""
        if self.started is None:
            return ZERO
        return (self.clock.now() - self.started) * self.speed

    def due_in(self) -> dt.timedelta | None:
        """Scenario time until the next inject is due; None when none is left."""
        with self.lock:
            if not self.pending or self.started is None:
                return None
            return duration(self.pending[0].at, ZERO) - self.elapsed()

    def deliver_due(self) -> None:
        with self.lock:
            while (
                self.started is not None
                and self.pending
                and duration(self.pending[0].at, ZERO) <= self.elapsed()
            ):
                self.deliver("time")

    def deliver(self, by: str, inject: Inject | None = None) -> None:
        """Deliver ``inject`` (default: the next one), unless it has already been delivered."""
        with self.lock:
            if inject is None and self.pending:
                inject = self.pending[0]
            if inject is None or inject not in self.pending:
                return
            self.pending.remove(inject)
            now = self.elapsed()
            self.delivered.append(Delivery(inject, now, by))
            source = f" — {inject.from_}" if inject.from_ else ""
            title = f"INJECT {inject.at} · scenario time {clock_text(now)}{source}"
            self.console.print(
                Panel(
                    inert(scrub(inject.text, patterns=False)),
                    title=inert(
                        scrub(title)
                    ),  # the scenario's text: no markup, no escapes, no secret
                    border_style="magenta",
                    title_align="left",
                )
            )
            self.outbox.append(
                (
                    EventType.INJECT_DELIVERED,
                    payloads.InjectDelivered(
                        {
                            "at": inject.at,
                            "text": inject.text,
                            "from": inject.from_,
                            "by": by,
                            "scenario_time": clock_text(now),
                        }
                    ),
                )
            )

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        """While a question waits for the room, deliver injects as they fall due (terminal only:
        prompt_toolkit keeps the prompt below what is printed)."""
        if not self.console.is_terminal or self.due_in() is None:
            yield
            return
        from prompt_toolkit.patch_stdout import patch_stdout

        stop = threading.Event()
        timer = threading.Thread(target=self._on_time, args=(stop,), daemon=True)
        with patch_stdout(raw=True):
            timer.start()
            try:
                yield
            finally:
                stop.set()
                timer.join()

    def _on_time(self, stop: threading.Event) -> None:
        while not stop.is_set():
            left = self.due_in()
            if left is None:
                return
            if left > ZERO:  # wake up at the due time (at most every half second)
                stop.wait(min(left.total_seconds() / self.speed, 0.5))
                continue
            self.deliver_due()


class TabletopPrompter:
    """Wraps the room's prompter: before each question, due injects arrive and the facilitator
    may deliver the next one early; while the room answers, injects keep arriving on time."""

    def __init__(self, inner: Prompter, board: InjectBoard) -> None:
        self.inner = inner
        self.board = board

    def _between(self) -> None:
        self.board.deliver_due()
        while self.board.pending:
            upcoming = self.board.pending[0]
            source = f" from {upcoming.from_}" if upcoming.from_ else ""
            offer = f"Facilitator: deliver the next inject now ({upcoming.at}{source})?"
            with self.board.live():
                early = self.inner.confirm("facilitator.inject", offer, False)
            if not early:
                return
            self.board.deliver("facilitator", upcoming)

    def _ask(self, question: Callable[[], T]) -> T:
        self._between()
        with self.board.live():
            return question()

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        return self._ask(lambda: self.inner.choose(key, message, options))

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        return self._ask(lambda: self.inner.confirm(key, message, default, details))

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        return self._ask(lambda: self.inner.text(key, message, default, check))

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return self._ask(lambda: self.inner.checklist(key, message, options))

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return self._ask(lambda: self.inner.choose_many(key, message, options))


def run_tabletop(
    prepared: Prepared,
    env: Environment,
    *,
    speed: float = 1.0,
    report: Path | None = None,
) -> tuple[RunResult, Path, InjectBoard]:
    """Run the exercise; returns the walk, where the after-action report went, and the board.

    The scenario's answers, if any, answer those questions for the room (routine steps a
    facilitator wants to skip); every other question is the room's.
    """
    env.environ = {**env.environ, **prepared.scenario.env}
    state = SandboxState(seed=7)
    env.close()
    env.use_sandbox(state, exercise="tabletop")
    for fault in prepared.scenario.faults:
        if fault.at is None:
            state.add_fault(fault.model, fault.fault, str(fault.value))
    pending = [f for f in prepared.scenario.faults if f.at is not None]
    board = InjectBoard(prepared.scenario.injects, env.clock, env.console, env.outbox, speed)

    def on_node(runbook: str, node: str) -> None:
        board.begin()  # the exercise starts when the incident opens
        for fault in [f for f in pending if runbook == prepared.runbook.id and f.at == node]:
            pending.remove(fault)
            state.add_fault(fault.model, fault.fault, str(fault.value))

    env.observers.append(on_node)
    env.prompter = TabletopPrompter(env.prompter, board)
    try:
        result = start(
            prepared.runbook_file,
            env,
            inputs=prepared.scenario.inputs,
            scripted=prepared.answers,
            drill=True,
        )
    finally:
        env.close()
    board.deliver_due()
    target = report or result.incident.directory / "after-action.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(after_action(prepared, result.incident, board, state), encoding="utf-8")
    return result, target, board


def default_environment(
    console: Console,
    prompter: Prompter,
    incidents_dir: Path,
    clock: Clock | None = None,
    environ: dict[str, Any] | None = None,
    operator: str = "facilitator",
) -> Environment:
    """The environment a tabletop runs in: the room's prompter, a possibly injected clock."""
    return Environment(
        console=console,
        prompter=prompter,
        client=httpx2.Client(transport=httpx2.MockTransport(_unused)),  # replaced by the sandbox
        clock=clock or SystemClock(),
        environ=environ or {},
        operator=operator,
        incidents_dir=incidents_dir,
        assume_yes=False,
    )


def _unused(request: httpx2.Request) -> httpx2.Response:
    raise RuntimeError("a tabletop only talks to its simulated gateway")
