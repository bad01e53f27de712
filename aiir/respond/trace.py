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
from aiir.redact import cut, declare

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
            f"{where} {cut(url, 200)!r}: not an http(s) URL of an OTLP/HTTP endpoint "
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
    headers = {
        name: header_value(env, name, variable) for name, variable in workspace.headers_env.items()
    }
    declare(headers.values())  # a secret: masked in whatever is said about the export
    return Destination(url, workspace.project, headers, asked=flag is not None)


def header_value(env: Environment, name: str, variable: str) -> str:
    """The value of the endpoint's header ``name`` from ``variable``, surrounding whitespace
    dropped (a mounted secret file ends in a newline); one that is unset, or holds what HTTP
    cannot carry, is a usage error naming the header and the variable, never the value (the
    HTTP library quoted it whole in its error, which was the reason said for the failure)."""
    where = f"aiir.yaml otlp.headers_env.{name}: ${variable}"
    value = env.environ.get(variable, "").strip()
    if not value:
        raise InputError(f"{where} is not set; nothing was run")
    problem = _header_problem(value)
    if problem:
        raise InputError(
            f"{where} holds {problem}, which HTTP headers cannot carry; nothing was run"
        )
    return value


def _header_problem(value: str) -> str | None:
    if any(ch in value for ch in "\r\n"):
        return "a line break"
    if not value.isascii():
        return "a non-ASCII character"
    if any(not (" " <= ch <= "~" or ch == "\t") for ch in value):
        return "a control character"
    return None


def export(
    env: Environment, incident: Incident, where: Destination, *, walked: bool = True
) -> tuple[bool, str]:
    """Send ``incident``'s trace, built from its journal; (sent, the line to say). ``walked``:
    right after a walk, whose failure to export says how to send it later."""
    from aiir.outbound.otlp import send
    from aiir.outbound.trace import build

    trace = build(incident, incident.history(), where.project)
    sent = send(trace, where.url, where.headers)
    if sent.ok:
        return True, _said(
            f"trace: {sent.spans} spans of {incident.id} sent to {where.url} "
            f"(trace id {trace.trace_hex})",
            where,
        )
    failed = f"trace of {incident.id} not exported to {where.url}: {sent.reason}"
    if not walked:
        return False, _said(failed, where)
    return False, _said(
        f"{failed}; the walk is journalled as it was (send it later: aiir export {incident.id} "
        "--format otlp --otlp URL)",
        where,
    )


def _said(line: str, where: Destination) -> str:
    """The line about an export, for the terminal: the endpoint's header values and every other
    secret masked (the reason is the exporter's own words, which may quote a header or a URL),
    and inert."""
    from aiir.redact import known_secrets, scrub
    from aiir.terminal.inert import plain

    return plain(scrub(line, known_secrets() | set(where.headers.values())))
