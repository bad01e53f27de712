"""What a walk needs before its incident exists, checked: ``--set`` and ``--gateway`` pairs, the
runbook's environment variables (and which are secrets), its gateways' endpoints, and the
runbooks it may call. Bad input found here costs nothing: no incident, no request."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from aiir.engine.frames import RunbookSource
from aiir.environment import Environment
from aiir.errors import InputError, LoadError
from aiir.formats.loader import load_file
from aiir.formats.schema import CallNode, Runbook
from aiir.formats.templating import render
from aiir.incident.events import SNAPSHOT_DIR
from aiir.incident.literals import declare_literal_credentials
from aiir.outbound.gateway import Endpoint, resolve_endpoint
from aiir.redact import MIN_SECRET, declare, header_credentials, url_credentials


def parse_assignments(pairs: list[str], flag: str, metavar: str = "NAME=VALUE") -> dict[str, str]:
    """``["a=1", "b=2"]`` from ``--set`` or ``--gateway``; a pair without '=' is a usage error,
    which names the form as the flag's help does (``metavar``)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"{flag} {pair!r}: expected {metavar}")
        out[name.strip()] = value
    return out


def env_values(runbook: Runbook, environ: Mapping[str, str], *, dry_run: bool) -> dict[str, str]:
    """The declared environment variables; missing required ones stop a real run, all named
    at once with what each is for.

    A dry run or a sandbox run needs no real keys: a missing one is left empty.
    """
    values: dict[str, str] = {}
    missing: list[str] = []
    given = [environ[n] for n, spec in runbook.env.items() if spec.secret and n in environ]
    declare([*given, *(value.strip() for value in given)])  # as read, and as templates see it
    for name, spec in runbook.env.items():
        if name in environ:
            values[name] = environ[name].strip()  # a mounted secret file often ends in "\n"
        elif spec.required and not dry_run:
            missing.append(f"{name} ({spec.description})")
        else:
            values[name] = ""
    if missing:
        raise InputError(
            f"runbook {runbook.id!r} needs environment variable(s) that are not set: "
            + "; ".join(missing)
        )
    return values


def endpoints_for(
    runbook: Runbook, env: Environment, env_vals: Mapping[str, str]
) -> dict[str, Endpoint]:
    context = {"env": env_vals}
    configured = env.workspace.config.gateways if env.workspace else {}
    endpoints = {}
    for name, gateway in runbook.gateways.items():
        url = env.gateway_urls.get(name) or env.sandbox_url
        if url is None and env.exercise:  # a drill against staging: never the real address
            raise InputError(
                f"gateway {name!r}: an exercise against a staging gateway talks only to the "
                f"gateways named with --gateway, not to the address runbook {runbook.id!r} "
                f"gives it: pass --gateway {name}=URL"
            )
        if url is None and name in configured:
            url = render(configured[name].url, context, f"aiir.yaml gateways.{name}.url")
        endpoints[name] = resolve_endpoint(name, gateway, context, url)
    return endpoints


def secret_values(
    runbook: Runbook, env_vals: Mapping[str, str], endpoints: Mapping[str, Endpoint]
) -> set[str]:
    """The walk's secrets: its declared variables' values, and the credentials in its gateways'
    URLs, however those were given (a ``--gateway`` flag, aiir.yaml): a server that echoes the
    Basic auth header a URL's password became, or a token from its query, shows them too."""
    found = {
        env_vals[n]
        for n, spec in runbook.env.items()
        if spec.secret and len(env_vals.get(n, "")) >= MIN_SECRET
    }
    for endpoint in endpoints.values():
        found |= url_credentials(endpoint.base_url) | header_credentials(endpoint.headers)
    declare(found)
    return found


def tell_unsent_userinfo(endpoints: Mapping[str, Endpoint], note: Callable[[str], None]) -> None:
    """Say of a gateway whose URL holds a ``user:password@`` and whose headers carry an
    ``Authorization`` of their own that this header is sent, not the userinfo (a request without
    one sends the URL's as Basic auth): no one takes the password for what was sent."""
    for name, endpoint in sorted(endpoints.items()):
        if "@" not in endpoint.base_url.partition("://")[2].partition("/")[0]:
            continue
        if any(header.lower() == "authorization" for header in endpoint.headers):
            note(
                f"gateway {name}: its URL's user:password is not sent, its own Authorization "
                "header is (a request without one sends the URL's as Basic auth)"
            )


def reachable_runbooks(root: Runbook, source: RunbookSource) -> list[Runbook]:
    """The root and every runbook it can call, directly or not."""
    found = {root.id: root}
    queue = [root]
    while queue:
        for node in queue.pop().nodes.values():
            if isinstance(node, CallNode) and node.runbook not in found:
                child, _ = source.find(node.runbook)
                found[child.id] = child
                queue.append(child)
    return list(found.values())


def preflight(runbooks: list[Runbook], env: Environment, *, check_all: bool = False) -> None:
    """Before an incident exists: every --gateway name is declared somewhere. With
    ``check_all`` (``aiir run --check``), every runbook that may be called has its environment
    and its gateways too, every problem named at once; without it, a called runbook is checked
    when the walk reaches it (a runbook needs only its own environment to start)."""
    declared = {name for runbook in runbooks for name in runbook.gateways}
    unknown = sorted(set(env.gateway_urls) - declared)
    if unknown:
        shown = ", ".join(sorted(declared)) or "none"
        raise InputError(
            f"--gateway {unknown[0]}: runbook {runbooks[0].id!r} (and the runbooks it calls) "
            f"declare no such gateway (gateways: {shown})"
        )
    if not check_all:
        return
    problems: list[str] = []
    for runbook in runbooks[1:]:
        try:
            values = env_values(runbook, env.environ, dry_run=practising(env))
            endpoints_for(runbook, env, values)
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        raise InputError("--check: " + " | ".join(problems))


def practising(env: Environment) -> bool:
    """A dry run or an exercise: no real key is needed, none is read."""
    return env.dry_run or env.sandbox_url is not None


def declare_incident_secrets(env: Environment, directory: Path) -> None:
    """Before a command writes into an incident outside its walk (a note, a severity, a
    hand-off, an approval): the secrets its runbooks declare, as the copies beside its journal
    name them, read from this environment and declared, so what it writes is masked as the
    walk's own lines are. A copy that cannot be read masks nothing more; the rest still do."""
    found: set[str] = set()
    for copy in sorted((directory / SNAPSHOT_DIR).glob("*.yaml")):
        try:
            declared = load_file(copy).data.get("env") or {}
        except (LoadError, AttributeError):
            continue
        if not isinstance(declared, dict):
            continue
        for name, spec in declared.items():
            secret = not (isinstance(spec, dict) and spec.get("secret") is False)
            value = env.environ.get(str(name), "").strip()
            if secret and len(value) >= MIN_SECRET:
                found.add(value)
    declare(found)
    declare_literal_credentials(directory)  # and those its runbooks write as they are


def same_gateways(
    masked: Mapping[str, str],
    endpoints: Mapping[str, Endpoint],
    given: Collection[str],
    clean: Callable[[str], str],
) -> None:
    """Resume and release send to the gateways the incident was walked on. A URL that held a
    credential is journalled ``masked``: the runbook's URL is used again only when it is that
    one (masked alike by ``clean``); else, unless ``--gateway`` names it again (``given``),
    stop before anything is sent: a release would go to another gateway."""
    for name, journalled in masked.items():
        endpoint = endpoints.get(name)
        if endpoint is None or name in given or clean(endpoint.base_url) == journalled:
            continue
        raise InputError(
            f"gateway {name!r}: the incident was walked on {journalled}, a URL with credentials "
            f"that is kept masked, not on the runbook's; pass --gateway {name}=URL again "
            "(nothing was sent)"
        )
