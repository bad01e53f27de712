"""A real PostgreSQL server for the shared-store tests: initdb into a temporary folder, started
on 127.0.0.1 at a free port (its socket in that folder too), stopped at the end of the session.

The server binaries come from Debian's ``postgresql`` package (``scripts/test`` installs it,
exports ``AIIR_POSTGRES_BIN``, its folder of binaries, and makes the ``aiirpg`` system user:
initdb refuses to run as root, so as root the server runs as that user). Without
``AIIR_POSTGRES_BIN`` the newest ``/usr/lib/postgresql/*/bin`` is used. Missing binaries skip the
tests naming the install command; under CI=true they fail instead. The start-up is waited for as
LiteLLM's is: as long as the server is alive and getting on (its CPU time or its log grows).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiir.sandbox.transport import free_port
from tests.conftest import STARTUP_BOUND, STARTUP_STALL, Progress

BIN_VARIABLE = "AIIR_POSTGRES_BIN"
DEBIAN_BINS = "/usr/lib/postgresql/*/bin"
SERVER_USER = "aiirpg"  # made by scripts/test; the server runs as it when the tests run as root
SUPERUSER = "aiir"
PASSWORD = "pg-secret-9f3c2a71"  # a throwaway server's; the masking tests look for it
INSTALL = "apt-get install -y --no-install-recommends postgresql (or run scripts/test)"


@dataclass
class Server:
    """A running server: its folder, its binaries, its port."""

    folder: Path
    bin: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        command = [str(self.bin / "postgres"), "-D", str(self.data), "-k", str(self.folder)]
        command += ["-h", "127.0.0.1", "-p", str(self.port), "-c", "max_connections=200"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                _as_server_user(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait()

    def wait(self) -> None:
        """Until ``pg_isready`` says the server accepts connections, while it is alive and
        getting on; else the test fails with the server's log."""
        assert self.process is not None
        why = self._why_not_ready(self.process)
        if why is not None:
            pytest.fail(f"PostgreSQL {why}:\n{_tail(self.log)}", pytrace=False)

    def _why_not_ready(self, process: subprocess.Popen[bytes]) -> str | None:
        started = time.monotonic()
        progress = Progress(process.pid, self.log)
        pause = 0.05
        ready = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while process.poll() is None:
            if subprocess.run(ready, check=False).returncode == 0:
                return None
            stalled = progress.stalled_for()
            if stalled > STARTUP_STALL:
                return f"made no progress (no CPU time, no log) for {stalled:.0f}s"
            if time.monotonic() - started > STARTUP_BOUND:
                return f"was still starting after {STARTUP_BOUND:g}s"
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)
        return f"exited with status {process.returncode} at start-up"

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: the clients are cut off, the data is kept."""
        if self.process is None or self.process.poll() is not None:
            return
        stop = [str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"]
        subprocess.run(_as_server_user(stop), check=False, capture_output=True, timeout=60)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def create_database(self, name: str) -> str:
        """A fresh database on this server; its DSN."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _missing(message: str) -> None:
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    except OSError:
        return "(no log)"


def _newest_debian() -> Path | None:
    found = sorted(glob.glob(DEBIAN_BINS), key=lambda p: (len(p), p))
    return Path(found[-1]) if found else None


def binaries() -> Path:
    """The folder of the server's binaries, or a skip (under CI=true: a failure) naming the
    install command."""
    named = os.environ.get(BIN_VARIABLE, "")
    folder = Path(named) if named else _newest_debian()
    if folder is None or not (folder / "initdb").is_file():
        where = f"{BIN_VARIABLE}={named}" if named else DEBIAN_BINS
        _missing(f"PostgreSQL's server is not installed (no initdb in {where}): {INSTALL}")
    assert folder is not None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            _missing(
                f"running as root, PostgreSQL needs the system user {SERVER_USER!r}: "
                f"useradd --system --no-create-home {SERVER_USER} (or run scripts/test)"
            )
    return folder


def initialised(folder: Path, bin_: Path) -> Server:
    """A new cluster in ``folder`` with a superuser who logs in with a password."""
    folder.chmod(0o755)
    secret = folder / "password"
    secret.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chown(secret, user.pw_uid, user.pw_gid)
    command = [str(bin_ / "initdb"), "-D", str(folder / "data"), "-U", SUPERUSER]
    command += ["--pwfile", str(secret), "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"]
    done = subprocess.run(_as_server_user(command), check=False, capture_output=True, text=True)
    secret.unlink()
    if done.returncode != 0:
        pytest.fail(f"initdb failed: {done.stderr.strip()[-2000:]}", pytrace=False)
    return Server(folder, bin_, free_port())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the server is marked ``postgres`` (``-m 'not postgres'`` leaves it out)."""
    for item in items:
        if {"postgres", "own_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@contextmanager
def running_server(prefix: str) -> Iterator[Server]:
    """A real server in a folder of its own, started; stopped and removed after."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    server = initialised(folder, binaries())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """One real server for the whole session, stopped at its end."""
    with running_server("aiir-pg-") as server:
        yield server


@pytest.fixture
def own_server() -> Iterator[Server]:
    """A server of the test's own, which it may stop and start in the middle of a walk."""
    with running_server("aiir-pg-own-") as server:
        yield server


_databases = iter(range(1, 1 << 30))


@pytest.fixture
def database(postgres: Server) -> str:
    """A DSN of a database of its own for one test (on the session's server)."""
    return postgres.create_database(f"aiir_test_{os.getpid()}_{next(_databases)}")
