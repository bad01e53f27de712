"""The requests of a runbook (levers, actions, captures): each one's gateway, profile action, URL and parameters checked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aiir.formats.findings import Finding, Loc, at, suggest
from aiir.formats.loader import Document
from aiir.formats.profile import Profile
from aiir.formats.schema import (
    ActionNode,
    CaptureNode,
    Request,
    Runbook,
    WaitNode,
)
from aiir.validate.credentials import literal_credentials, literal_url_credential
from aiir.validate.urls import url_problem

# --- requests --------------------------------------------------------------------------------


def requests(runbook: Runbook) -> Iterator[tuple[Loc, Request, bool]]:
    """Every request in the runbook with its location; the flag marks capture requests."""
    for name, lever in runbook.levers.items():
        for part in ("engage", "verify", "release"):
            request = getattr(lever, part)
            if request is not None:
                yield ("levers", name, part), request, False
    for node_id, node in runbook.nodes.items():
        if isinstance(node, ActionNode | WaitNode):
            yield ("nodes", node_id, "request"), node.request, False
        elif isinstance(node, CaptureNode):
            for i, item in enumerate(node.items):
                yield ("nodes", node_id, "items", i, "request"), item.request, True


def request_findings(
    doc: Document, runbook: Runbook, profiles: Mapping[str, Profile]
) -> list[Finding]:
    out: list[Finding] = []
    for name, gateway in runbook.gateways.items():
        if gateway.profile not in profiles:
            hint = suggest(gateway.profile, set(profiles))
            message = f"unknown gateway profile {gateway.profile!r}{hint}"
            out.append(at(doc, ("gateways", name, "profile"), "unknown-profile", message))
        problem = url_problem(gateway.url) if gateway.url is not None else None
        if problem is not None:
            out.append(at(doc, ("gateways", name, "url"), "gateway-url", problem))
        out += literal_credentials(doc, ("gateways", name, "headers"), gateway.headers)
        out += literal_url_credential(doc, ("gateways", name, "url"), gateway.url)
    for loc, request, _ in requests(runbook):
        out += _one_request(doc, runbook, profiles, loc, request)
    return out


def _one_request(
    doc: Document,
    runbook: Runbook,
    profiles: Mapping[str, Profile],
    loc: Loc,
    request: Request,
) -> list[Finding]:
    gateways = runbook.gateways
    gateway_name = request.gateway
    if gateway_name is not None and gateway_name not in gateways:
        known = ", ".join(sorted(gateways)) or "none"
        message = f"{gateway_name!r} is not a declared gateway (declared: {known})"
        return [at(doc, (*loc, "gateway"), "unknown-gateway", message)]
    if gateway_name is None:
        if not gateways:
            return [
                at(doc, loc, "unknown-gateway", "no gateway declared: add one under 'gateways'")
            ]
        if len(gateways) > 1:
            message = (
                f"several gateways declared ({', '.join(sorted(gateways))}): name one in 'gateway'"
            )
            return [at(doc, loc, "unknown-gateway", message)]
        gateway_name = next(iter(gateways))
    if request.use is None:
        return []
    profile_name, action_name = request.use.split(".", 1)
    profile = profiles.get(profile_name)
    if profile is None:
        message = f"unknown profile {profile_name!r}{suggest(profile_name, set(profiles))}"
        return [at(doc, (*loc, "use"), "unknown-action", message)]
    action = profile.actions.get(action_name)
    if action is None:
        hint = suggest(action_name, set(profile.actions))
        message = f"profile {profile_name!r} has no action {action_name!r}{hint}"
        return [at(doc, (*loc, "use"), "unknown-action", message)]
    out: list[Finding] = []
    gateway_profile = profiles.get(gateways[gateway_name].profile)
    if gateway_profile is not None and profile_name not in gateway_profile.speaks:
        message = (
            f"{request.use!r} needs a {profile_name} gateway; "
            f"gateway {gateway_name!r} is {gateway_profile.profile}"
        )
        out.append(at(doc, (*loc, "use"), "unknown-action", message))
    for param in request.with_:
        if param not in action.params:
            known = ", ".join(sorted(action.params)) or "none"
            message = f"{request.use} takes no parameter {param!r} (takes: {known})"
            out.append(at(doc, (*loc, "with", param), "unknown-param", message, key=True))
    for param, spec in action.params.items():
        if spec.required and spec.default is None and param not in request.with_:
            message = f"{request.use} needs parameter {param!r} in 'with' ({spec.description})"
            out.append(at(doc, (*loc, "use"), "missing-param", message))
    return out
