"""The credentials an incident's runbooks write as they are (headers, gateway URLs' userinfo), read back from the copies kept with
its journal, for the readers that show or export it.

A runbook header written with its credential in it (``Authorization: Bearer live-…``,
``X-Api-Key: …``) has been masked since the ``literal-credential`` warning came in; an incident
walked before then journalled what the gateway echoed of it (a reply's excerpt, an evidence
file). The journal is not changed (it would no longer verify): ``show``, ``report``, ``export``
and ``watch`` declare those values (:func:`aiir.redact.declare`) and mask them as they show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiir.errors import LoadError
from aiir.formats.loader import load_file
from aiir.incident.events import SNAPSHOT_DIR
from aiir.redact import declare, header_credentials, url_credentials


def declare_literal_credentials(directory: Path) -> None:
    """Declare the credential headers written as they are in the incident's runbook copies (a
    copy that cannot be read declares nothing; the others still do)."""
    found: set[str] = set()
    for copy in sorted((directory / SNAPSHOT_DIR).glob("*.yaml")):
        try:
            data = load_file(copy).data
        except (LoadError, OSError):
            continue
        for headers in _headers(data):
            found |= header_credentials(headers)
        for url in _urls(data):
            found |= url_credentials(url)
    declare(found)


def _headers(data: Any) -> Iterator[dict[str, str]]:
    """Each ``headers:`` mapping anywhere in ``data`` (a gateway's, a request's), with only its
    values written as they are: one made from a template is masked by its variable."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "headers" and isinstance(value, dict):
                yield {
                    str(k): v
                    for k, v in value.items()
                    if isinstance(v, str) and "{{" not in v and "{%" not in v
                }
            else:
                yield from _headers(value)
    elif isinstance(data, list):
        for item in data:
            yield from _headers(item)


def _urls(data: Any) -> Iterator[str]:
    """Each ``url:`` written as it is anywhere in ``data`` (a gateway's): its userinfo and the
    credentials of its query are masked as a ``--gateway`` URL's are."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "url" and isinstance(value, str):
                if "{{" not in value and "{%" not in value:
                    yield value
            else:
                yield from _urls(value)
    elif isinstance(data, list):
        for item in data:
            yield from _urls(item)
