"""Reading a file someone named without blocking on it: only a regular file is read.

``open()`` on a FIFO waits for a writer, without end when there is none, and a device
(``/dev/zero``, a terminal) is no document either. The file is opened without blocking and
refused unless it is a regular file, before a byte is read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

NOT_REGULAR = "not a regular file (a FIFO, socket or device)"


def read_regular(path: str | Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of the regular file at ``path``.

    Raises :class:`IsADirectoryError` for a directory and :class:`OSError` (its ``strerror``
    :data:`NOT_REGULAR`) for anything else that is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, NOT_REGULAR, str(path))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit)
    finally:
        os.close(fd)
