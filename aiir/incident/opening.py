"""A new incident's folder, made where no reader looks until its first journal line is in it.

An incident is opened in ``<root>/.opening/<id>``: its lock, its runbook copy, then its first
line. Only then is the folder renamed to ``<root>/<id>`` (:class:`aiir.incident.journal.Journal`
does it, with the line). A walk killed before its first line leaves no incident behind: no
folder with a runbook copy and no journal, which reads as one whose journal was deleted. What
it leaves under ``.opening`` is cleared by a later open once nobody holds its lock (and one
killed between its first line and the rename is moved into place then).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import time
from pathlib import Path

from aiir.errors import InputError, shown
from aiir.incident import state
from aiir.incident.journal import JOURNAL
from aiir.incident.lock import LOCK

OPENING = ".opening"
_TRIES = 100
_ABANDONED_AFTER = 60.0  # seconds: an opening younger than this may not have its lock yet


def staged_incident(root: Path, now: dt.datetime) -> tuple[str, Path]:
    """A new incident's id and the folder it is opened in, made exclusively: no other opening
    and no incident under ``root`` has that id (a taken id is drawn again)."""
    state.check_root(root)
    staging = root / OPENING
    _clear_abandoned(staging)
    for _ in range(_TRIES):
        incident_id = state.new_incident_id(now)  # looked up each time: tests fix it
        folder = staging / incident_id
        try:
            staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:  # ENOENT too: a folder no folder can be made in (/proc/1)
            raise InputError(
                f"{shown(str(root))}: cannot keep incidents here: {exc.strerror}"
            ) from None
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        except FileNotFoundError:  # another opening just removed .opening: make it again
            continue
        except OSError as exc:
            raise InputError(
                f"{shown(str(root))}: cannot keep incidents here: {exc.strerror}"
            ) from None
        # The opening that had this id before has been renamed into place by now, or this
        # mkdir would have failed: so an incident of this id is seen here, if there is one.
        if os.path.lexists(root / incident_id):
            os.rmdir(folder)
            continue
        return incident_id, folder
    raise InputError(f"{root}: no free incident id for {now:%Y-%m-%d %H:%M:%S}; try again")


def discard(folder: Path) -> None:
    """An opening that got no first line, removed (and ``.opening`` with it, if empty)."""
    if folder.parent.name == OPENING:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()


def _clear_abandoned(staging: Path) -> None:
    """Openings whose walk died: nobody holds their lock. One that wrote its first line was
    opened, and is moved into place (it resumes like any incident its walker left); one that did
    not is removed, once older than any opening still taking its lock."""
    try:
        entries = list(os.scandir(staging))
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.is_symlink() or not entry.is_dir():
                continue
            folder = Path(entry.path)
            opened = (folder / JOURNAL).is_file() and (folder / JOURNAL).stat().st_size > 0
            if not opened and time.time() - entry.stat().st_mtime < _ABANDONED_AFTER:
                continue
            if not _unheld(folder / LOCK):
                continue
            if opened:
                home = staging.parent / entry.name
                if not os.path.lexists(home):
                    os.rename(folder, home)
            else:
                shutil.rmtree(folder, ignore_errors=True)


def _unheld(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
