"""``enforce_roles: true`` in the workspace: a node (or a task) owned by a role is answered only
by someone the team roster gives that role, or by the person it names. Anyone else is refused
before anything is recorded, and told whom to hand the incident to."""

from __future__ import annotations

from aiir.environment import Environment
from aiir.errors import AiirError


class NotYourRole(AiirError):
    """The operator may not answer a node the roster gives another role (``enforce_roles``)."""


def role_problem(env: Environment, owner: str) -> str | None:
    """Why ``env.operator`` may not answer for ``owner`` under ``enforce_roles``, or None."""
    workspace = env.workspace
    if workspace is None or not workspace.config.enforce_roles or env.operator == owner:
        return None
    theirs = workspace.roles_of(env.operator)
    if theirs is None:
        return "enforce_roles is on and there is no team roster to show who holds it"
    if owner in theirs:
        return None
    held = ", ".join(sorted(theirs)) or "no role"
    return f"the team roster gives {env.operator} {held}, not {owner}"
