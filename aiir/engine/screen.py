"""What the walk shows the operator, as a protocol: the engine says what happened, a screen
decides how it looks (:class:`aiir.terminal.screen.TerminalScreen` draws it with rich).

A screen is made for one walk from the walk's ``scrub`` (secrets masked before anything shows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from aiir.formats.schema import Lever, Node, Runbook
from aiir.incident.state import Incident, LeverRecord
from aiir.outbound.gateway import Call, Reply


class Screen(Protocol):
    """Every line the walk puts before the operator."""

    def opened(self, incident: Incident, runbook: Runbook, resumed: bool = False) -> None: ...

    def recap(self, incident: Incident) -> None: ...

    def node(
        self,
        incident: Incident,
        runbook: Runbook,
        node_id: str,
        node: Node,
        text: str,
        now: dt.datetime,
        on_call: str | None = None,
    ) -> None: ...

    def severity(self, severity: str) -> None: ...

    def note(self, message: str) -> None: ...

    def failure(self, problem: str) -> None: ...

    def request(self, what: str, summary: dict[str, Any], asking: bool = False) -> None:
        """A request about to be sent; ``asking``: a yes/no on it follows (it may be shortened
        to fit above it, the full request a keypress away)."""

    def lever_request(self, name: str, lever: Lever, call: Call, release: str) -> None: ...

    def approvals(self, title: str, lines: list[str]) -> None:
        """A lever waiting for other people's approvals: who is asked, how many, until when,
        and the command each of them runs."""
        ...

    def reply(self, reply: Reply) -> None: ...

    def lever(self, record: LeverRecord) -> None: ...

    def captured(self, name: str, relative: str, digest: str, reply: Reply) -> None: ...

    def message(self, channel: str, audience: str, text: str) -> None: ...

    def delivered(
        self,
        channel: str,
        ok: bool,
        reason: str,
        reference: str | None,
        simulated: bool = False,
        uncertain: bool = False,
    ) -> None: ...

    def reminder(self, message: str) -> None: ...

    def ended(self, incident: Incident, outcome: str, summary: str) -> None: ...

    def waiting(self, label: str) -> AbstractContextManager[None]:
        """While a request is in flight."""
        ...


ScreenFor = Callable[[Callable[[str], str]], Screen]  # a walk's scrub -> the walk's screen
