"""Exporting a walk's own trace: where it goes (``--otlp URL``, else the workspace's ``otlp:``)
and the one line said about it. Decided before the walk, so a wrong address or a missing header
variable stops the command before anything runs; sent after it, from the journal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiir.environment import Environment
from aiir.errors import InputError
from aiir.incident.state import Incident
from aiir.outbound.trace import DEFAULT_PROJECT

FLAG = "--otlp"


@dataclass(frozen=True)
class Destination:
    """An OTLP/HTTP endpoint; ``asked``: named on the command line (practice goes only then)."""

    url: str
    project: str = DEFAULT_PROJECT
    headers: Mapping[str, str] = field(default_factory=dict)
    asked: bool = True

    def takes(self, incident: Incident) -> bool:
        """Whether this incident's trace goes here: a real one always, practice when asked."""
        return self.asked or (incident.exercise is None and not incident.dry_run)


def checked_url(url: str, where: str = FLAG) -> str:
    """An http(s) address with a host, else a usage error naming ``where``."""
    try:
        parts = urlsplit(url)
        good = parts.scheme in {"http", "https"} and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        good = False
    if not good or any(c.isspace() for c in url):
        raise InputError(
            f"{where} {url[:200]!r}: not an http(s) URL of an OTLP/HTTP endpoint "
            "(e.g. http://127.0.0.1:6006/v1/traces)"
        )
    return url


def destination(env: Environment, flag: str | None) -> Destination | None:
    """Where this command's trace goes: the flag's URL, else the workspace's (with its project
    and headers either way), else nowhere."""
    workspace = env.workspace.config.otlp if env.workspace else None
    if flag is None and workspace is None:
        return None
    url = checked_url(flag) if flag is not None else workspace.url if workspace else ""
    if workspace is None:
        return Destination(url)
    headers = {}
    for name, variable in workspace.headers_env.items():
        value = env.environ.get(variable)
        if not value:
            raise InputError(
                f"aiir.yaml otlp.headers_env.{name}: ${variable} is not set; nothing was run"
            )
        headers[name] = value
    return Destination(url, workspace.project, headers, asked=flag is not None)


def export(
    env: Environment, incident: Incident, where: Destination, *, walked: bool = True
) -> tuple[bool, str]:
    """Send ``incident``'s trace, built from its journal; (sent, the line to say). ``walked``:
    right after a walk, whose failure to export says how to send it later."""
    from aiir.outbound.otlp import send
    from aiir.outbound.trace import build
    from aiir.redact import scrub

    trace = build(incident, incident.history(), where.project)
    sent = send(trace, where.url, where.headers)
    shown = scrub(where.url)
    if sent.ok:
        return True, f"trace: {sent.spans} spans of {incident.id} sent to {shown} " + (
            f"(trace id {trace.trace_hex})"
        )
    failed = f"trace of {incident.id} not exported to {shown}: {sent.reason}"
    if not walked:
        return False, failed
    return False, (
        f"{failed}; the walk is journalled as it was (send it later: aiir export {incident.id} "
        "--format otlp --otlp URL)"
    )
