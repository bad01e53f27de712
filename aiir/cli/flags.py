"""Flags several commands share, checked before anything runs: ``NAME=VALUE`` pairs, gateway
overrides and the folder incidents are kept in.

Light on purpose (no engine, no HTTP client): the canary commands use it too.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiir.errors import InputError, shown

if TYPE_CHECKING:
    from aiir.environment import Environment

_ENVIRONMENT: contextvars.ContextVar[Callable[[], Environment] | None] = contextvars.ContextVar(
    "aiir_environment", default=None
)
_GATEWAY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")  # a runbook's gateway ids (a slug)


def pairs(given: list[str] | None, flag: str, metavar: str = "NAME=VALUE") -> dict[str, str]:
    """``["a=1", "b=2"]``; a pair without '=' or without a name is a usage error, which names
    the form as the flag's help does (``metavar``)."""
    out: dict[str, str] = {}
    for pair in given or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            from aiir.redact import cut

            raise InputError(f"{flag} {cut(pair, 200)!r}: expected {metavar}")
        out[name.strip()] = value
    return out


def gateway_urls(given: list[str] | None, flag: str = "--gateway") -> dict[str, str]:
    """``--gateway NAME=URL`` overrides. An empty URL (an unset shell variable: ``gw=$URL``)
    is refused: ignored, the runbook's own URL would get the gateway's admin key instead."""
    urls = pairs(given, flag, "NAME=URL")
    for name, url in urls.items():
        if not _GATEWAY_NAME.match(name):
            raise InputError(
                f"{flag} {name[:100]!r}: not a gateway name (lowercase, digits, - and _)"
            )
        if not url.strip():
            raise InputError(
                f"{flag} {name}=: no URL after '=' (an unset shell variable?); nothing was sent"
            )
        if not _is_http(url):
            from aiir.redact import cut

            raise InputError(f"{flag} {name}={cut(url, 200)!r}: {_not_http(url)}")
    return urls


def _not_http(url: str) -> str:
    """What is wrong with a URL :func:`_is_http` refused."""
    try:
        host = urlsplit(url).hostname
    except ValueError:  # an unclosed IPv6 bracket
        host = None
    if host and url.lower().startswith(("http://", "https://")):
        return "its host is no name a host can have (an empty label, as in a..b, or one over 63)"
    return "not an http(s) URL"


def _is_http(url: str) -> bool:
    from aiir.validate.urls import host_can_exist

    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    host = parts.hostname
    return parts.scheme in {"http", "https"} and bool(host) and host_can_exist(host or "")


def incident_dir(flag: Path | None) -> Path | None:
    """``--incident-dir``: a directory, or one to be made; never a file."""
    if flag is not None and flag.exists() and not flag.is_dir():
        raise InputError(f"--incident-dir {shown(str(flag))}: not a directory")
    return flag


NAME_MAX = 255  # bytes in one name of a path, on every file system aiir runs on


def out_file(path: Path | None, flag: str = "--out") -> Path | None:
    """A file to write: not a directory, not under a file, and not in an incident's folder
    (the journal and the files it vouches for: writing there would destroy the record)."""
    from aiir.incident.journal import JOURNAL

    if path is None:
        return None
    if any(len(os.fsencode(part)) > NAME_MAX for part in path.parts):
        raise InputError(f"{flag} {shown(str(path))}: a name in it is too long for a file")
    if path.is_dir():
        raise InputError(f"{flag} {shown(str(path))}: is a directory; name a file")
    folder = next((p for p in path.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise InputError(f"{flag} {path}: {folder} is a file, not a folder")
    if any((p / JOURNAL).is_file() for p in path.resolve().parents):
        raise InputError(f"{flag} {path}: inside an incident's folder; write it elsewhere")
    return path


def environment() -> Environment:
    """The one :class:`~aiir.environment.Environment` that :func:`aiir.cli.main` built for the
    command it is running."""
    source = _ENVIRONMENT.get()
    if source is None:  # a command called outside aiir.cli.main (never from the command line)
        raise RuntimeError("no Environment: run commands through aiir.cli.main")
    return source()


@contextlib.contextmanager
def running_in(source: Callable[[], Environment]) -> Iterator[None]:
    """Make the environment ``source`` gives the one of the commands run inside (see
    :func:`environment`); ``source`` makes it once, when a command first asks."""
    token = _ENVIRONMENT.set(source)
    try:
        yield
    finally:
        _ENVIRONMENT.reset(token)
