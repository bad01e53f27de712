"""Files that a runbook names (called runbooks, included fragments) stay inside its folder; the
paths environment variables name.

The schema refuses a path written to leave it (``..``, ``~``, a leading ``/``). A path written
inside can still lead out through a symbolic link: git keeps links, so a shared repository could
hold ``shared/evidence.yaml -> ~/.aws/credentials``. :func:`beneath` follows the links and
keeps the file only when where it really is stays inside the folder it was taken from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from aiir.errors import InputError


class LeavesFolder(ValueError):
    """A named file whose real place, once symbolic links are followed, is outside its folder."""


def beneath(folder: Path, given: str) -> Path:
    """``folder / given``, refused with :class:`LeavesFolder` when links lead it outside
    ``folder``. A file that does not exist is returned as is, for the caller to say so."""
    candidate = folder / given
    try:
        real, root = candidate.resolve(), folder.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links (Python 3.11, 3.12)
        raise LeavesFolder(f"{given!r} cannot be followed (a loop of symbolic links?)") from exc
    if candidate.exists() and not real.is_relative_to(root):
        raise LeavesFolder(
            f"{given!r} leads out of {folder}{os.sep} through a symbolic link: keep the files "
            "a runbook names inside its folder"
        )
    return candidate


def variable_path(environ: Mapping[str, str], name: str) -> Path | None:
    """The path an environment variable names; None when it is unset or empty (as a shell's
    ``${X:-default}`` reads it). A value of spaces alone is refused: taken as a path it made a
    folder named by a space beside the one meant."""
    value = environ.get(name, "")
    if not value:
        return None
    if not value.strip():
        raise InputError(f"${name}={value!r}: a blank path; unset it or name a folder")
    return Path(value)
