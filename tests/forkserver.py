"""``aiir`` in real child processes without paying its imports each time.

A crash test runs the CLI in a fresh process for every kill point: a cold ``python -m aiir run``
spends most of its second importing pydantic, httpx2, rich and Jinja2. A fork server imports
them once; each run is a child forked from it, with its own environment, standard streams and
exit status, killed by a real SIGKILL when the test says so. The server is a process of its own
(started with ``subprocess``, never forked from pytest, whose threads a fork would not carry),
and it runs no command itself, so every child starts with aiir's caches empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SERVER = r"""
import json, os, signal, sys, time, traceback
from importlib import import_module

for name in ("aiir.cli", "aiir.respond.session", "aiir.engine.walk", "aiir.outbound.gateway", "aiir.incident.journal",
             "aiir.incident.state", "aiir.terminal.prompter", "aiir.terminal.screen", "aiir.formats.templating", "httpx2"):
    try:
        import_module(name)
    except Exception:  # a module that moved is imported by the child instead
        pass


def patch_kill(target, nth):
    # The CLI with module.Class.method patched to SIGKILL the process right after its Nth call.
    module, owner, name = target.rsplit(".", 2)
    cls = getattr(import_module(module), owner)
    original = getattr(cls, name)
    calls = [0]

    def killing(*args, **kwargs):
        result = original(*args, **kwargs)
        calls[0] += 1
        if calls[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(cls, name, killing)


def child(request):
    for fd, key, mode in ((0, None, os.O_RDONLY), (1, "stdout", os.O_WRONLY), (2, "stderr", os.O_WRONLY)):
        path = os.devnull if key is None else request[key]
        opened = os.open(path, mode | (os.O_CREAT | os.O_TRUNC if key else 0), 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    if request["kill"]:
        patch_kill(*request["kill"])
    from aiir.cli import main
    try:
        status = main(request["argv"])
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(request)
    deadline = time.monotonic() + request["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = None
            break
        time.sleep(0.005)
    if status is None:
        code = None
    elif os.WIFSIGNALED(status):
        code = -os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
    sys.stdout.write(json.dumps({"returncode": code}) + "\n")
    sys.stdout.flush()
"""


class ForkServer:
    """Runs ``aiir ARGS`` in children of one pre-imported server process."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.runs = 0
        self.process: subprocess.Popen[str] | None = None

    def _server(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self.process

    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        *,
        cwd: Path,
        kill: tuple[str, int] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Like ``subprocess.run([python, -m, aiir, *argv])`` with output captured as text."""
        self.runs += 1
        out, err = (self.scratch / f"run-{self.runs}.{n}" for n in ("out", "err"))
        request: dict[str, Any] = {
            "argv": argv,
            "env": env,
            "cwd": str(cwd),
            "kill": list(kill) if kill else None,
            "stdout": str(out),
            "stderr": str(err),
            "timeout": timeout,
        }
        server = self._server()
        assert server.stdin is not None
        assert server.stdout is not None
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        line = server.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server exited ({server.wait()})")
        reply = json.loads(line)
        if reply["returncode"] is None:
            raise subprocess.TimeoutExpired(argv, timeout)
        return subprocess.CompletedProcess(
            argv,
            reply["returncode"],
            out.read_text(encoding="utf-8"),
            err.read_text(encoding="utf-8"),
        )

    def close(self) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
