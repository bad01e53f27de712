"""One walker per incident: an exclusive lock on a ``lock`` file in the incident's directory.

The lock is ``flock(2)`` on that file, held from before the journal is read until the walk (or
the release) ends. The kernel drops it when its holder's process ends, however it ends (``kill
-9`` included), so a lock left by a dead walker is simply taken over: there is no stale state to
guess about. Who holds it (pid, host, operator, since) is written into the file for the message a
second walker gets; a clean release empties the file, so a name found there by the next holder is
one whose process died while walking. The holder also says what it does: a walker ("walked") is
never waited for, a short command ("changed": a severity set by hand, a ticket filed) is waited
for a few seconds by the next short command, so two responders changing one incident at once
both get in.

``flock`` is local to one machine: on a network filesystem shared by several machines it may not
exclude a walker on another one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiir.errors import AiirError, InputError

LOCK = "lock"
_READ_TRIES = 20  # the holder writes its name right after locking: wait a moment for it
_READ_PAUSE = 0.025
WALKING = "walked"
# A short command (a change of severity, a ticket filed) holds the lock for a moment: another one
# waits for it this long instead of being turned away. A walker is never waited for.
PATIENCE = 10.0


class IncidentLocked(InputError):
    """Another process is walking (or releasing) this incident, or changing it."""

    def __init__(self, message: str, holder: Holder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds an incident's lock."""

    pid: int
    host: str
    operator: str
    since: str
    doing: str = WALKING  # what is done to the incident: "walked", or a short "changed"

    def describe(self) -> str:
        return f"{self.operator} (pid {self.pid} on host {self.host}) since {self.since}"

    @classmethod
    def parse(cls, raw: bytes) -> Holder | None:
        try:
            data: Any = json.loads(raw)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                operator=str(data["operator"]),
                since=str(data["since"]),
                doing=str(data.get("doing", WALKING)),
            )
        except (ValueError, TypeError, KeyError):
            return None


class IncidentLock:
    """The exclusive right to append to one incident's journal."""

    def __init__(
        self, directory: Path, incident_id: str, operator: str, since: str, doing: str = WALKING
    ) -> None:
        self.path = directory / LOCK
        self.incident_id = incident_id
        self.holder = Holder(os.getpid(), socket.gethostname(), operator, since, doing)
        self.taken_over: Holder | None = None  # a walker that died holding it
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`IncidentLocked` naming its holder and what it does.
        A holder that is not walking (a short command), or not named yet, is waited for, up to
        :data:`PATIENCE`."""
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                self._try_acquire()
                return
            except IncidentLocked as exc:
                # A walker is not waited for. A holder not named is one just starting or just
                # letting go (the file is emptied before the lock is dropped): waited for too.
                if exc.holder is not None and exc.holder.doing == WALKING:
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(_READ_PAUSE * 2)

    def _try_acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot open the incident's lock: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_of(fd)
            os.close(fd)
            raise IncidentLocked(self._busy(holder), holder) from None
        except OSError as exc:
            os.close(fd)
            raise AiirError(
                f"{self.path}: cannot lock the incident ({exc.strerror}); "
                "refusing to walk it without a lock"
            ) from None
        self.taken_over = Holder.parse(_read(fd))
        record = json.dumps(asdict(self.holder)).encode() + b"\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Empty the file (a clean exit leaves no name behind), then unlock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> IncidentLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def _busy(self, holder: Holder | None) -> str:
        who = holder.describe() if holder else "another process (it has not said who yet)"
        doing = holder.doing if holder else WALKING
        return f"incident {self.incident_id} is being {doing} by {who}: wait for it or stop it"


def _read(fd: int) -> bytes:
    return os.pread(fd, 4096, 0)


def _holder_of(fd: int) -> Holder | None:
    """The holder named in the file. Right after taking the lock, the file may still name a dead
    walker, or no one: read again for a moment until it names a live one."""
    host = socket.gethostname()
    for _ in range(_READ_TRIES):
        holder = Holder.parse(_read(fd))
        if holder is not None and (holder.host != host or _alive(holder.pid)):
            return holder
        time.sleep(_READ_PAUSE)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
