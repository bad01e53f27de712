"""The one CLI harness of the tests: ``aiir ARGS`` in this process, through :func:`aiir.cli.main`
as the console script runs it, with an environment the test controls.

By default the environment is the process's as the test left it (``monkeypatch.setenv``), with
no terminal and, when given, the test's clock and node observers; or a whole environment of the
test's own making (:func:`tests.support.environment.fake_environment`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from aiir.cli import main
from aiir.environment import Clock, Environment
from tests.support.clock import Observer


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


def process_environment(
    clock: Clock | None = None, observers: Iterable[Observer] = ()
) -> Environment:
    """The process's environment as :func:`aiir.cli.main` builds it, without a terminal, on
    ``clock`` (if given), with ``observers`` of every node the walk enters."""
    env = Environment.from_process(terminal=None)
    if clock is not None:
        env.clock = clock
    env.observers.extend(observers)
    return env


def run_cli(capsys: pytest.CaptureFixture[str], *args: str, env: Environment | None = None) -> Ran:
    """``aiir ARGS``: exit status, stdout, stderr."""
    # Made inside main, as the command line's is: a bad variable is the command's one line (exit
    # 2), not an error raised here; main closes it (a sandbox's event loop and sockets).
    status = main(list(args), env or process_environment)
    out, err = capsys.readouterr()
    return Ran(int(status), out, err)
