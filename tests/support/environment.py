"""The one fake environment of the tests: what :class:`aiir.environment.Environment` holds, each
part the test's (a console into a buffer, no terminal, a fake clock, a dictionary of variables),
as httpie's ``MockEnvironment`` is for httpie."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx2
from rich.console import Console

from aiir.environment import Clock, Environment
from aiir.prompts import NoTerminalPrompter, Prompter
from tests.support.clock import FakeClock


def fake_environment(
    incidents: Path | None = None,
    *,
    prompter: Prompter | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    client: httpx2.Client | None = None,
    width: int = 100,
    operator: str = "tester",
    **more: Any,
) -> Environment:
    """An environment that touches nothing of the process: its console writes into a buffer
    (:func:`screen`), its prompter answers nothing unless given one, its clock stands still."""
    return Environment(
        console=Console(file=io.StringIO(), width=width, highlight=False, color_system=None),
        prompter=prompter or NoTerminalPrompter(),
        client=client,
        clock=clock or FakeClock(),
        environ=dict(environ or {}),
        operator=operator,
        incidents_dir=incidents,
        **more,
    )


def screen(env: Environment) -> str:
    """What the environment's console printed."""
    file = env.console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()
