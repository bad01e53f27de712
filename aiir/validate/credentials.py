"""Credentials written into a document as they are: warned about, since the file is copied into
every incident. Light on purpose: a canary run checks its suite with it, and loads no runbook
models."""

from __future__ import annotations

from collections.abc import Mapping

from aiir.formats.findings import Finding, Loc, at
from aiir.formats.loader import Document
from aiir.redact import credential_header, url_credentials


def literal_credentials(doc: Document, loc: Loc, headers: Mapping[str, str]) -> list[Finding]:
    """A warning for each credential header written as it is: the file is copied into every
    incident (and the shared store) with it; it is masked in what aiir shows and keeps, but
    belongs in a declared variable."""
    return [
        at(
            doc,
            (*loc, name),
            "literal-credential",
            f"header {name} holds a credential written in the file, which is copied into every "
            "incident with it: read it from a declared variable ('{{ env.NAME }}')",
            level="warning",
        )
        for name, value in headers.items()
        if credential_header(name) and "{{" not in value and "{%" not in value
    ]


def literal_url_credential(doc: Document, loc: Loc, url: str | None) -> list[Finding]:
    """A warning for a gateway URL written with a password in it (``http://ops:pw@host``): the
    file is copied into every incident with it, as with a credential header."""
    if url is None or "{{" in url or "{%" in url or not url_credentials(url):
        return []
    return [
        at(
            doc,
            loc,
            "literal-credential",
            "the URL holds a credential written in the file (its user:password@ or a token in "
            "its query), which is copied into every incident with it: give the URL with "
            "--gateway NAME=URL or in aiir.yaml, or send the credential in a header read from "
            "a declared variable ('{{ env.NAME }}')",
            level="warning",
        )
    ]
