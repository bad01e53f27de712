"""The gateway profile format: named requests on a kind of gateway (``litellm.block_key``),
so a runbook says what to do and the profile says how."""

# No ``from __future__ import annotations``: see aiir.formats.schema.
from typing import Any, Literal, Self

from aiir.formats.common import (
    Count,
    Flag,
    Number,
    Slug,
    Strict,
    Template,
    Text,
)
from aiir.formats.modeling import ConfigDict, Field, model_validator
from aiir.formats.requests import finite
from aiir.formats.schema import Expect, GatewayPath


class ProfileParam(Strict):
    """A parameter of a profile action, given in a request's ``with``."""

    description: Text
    required: Flag = True
    default: str | int | float | bool | list[str] | None = None


class ProfileAction(Strict):
    """A named request on a kind of gateway: ``litellm.block_key``."""

    description: Text
    params: dict[Slug, ProfileParam] = Field(default_factory=dict)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    path: GatewayPath
    query: dict[str, Template] = Field(default_factory=dict)
    headers: dict[str, Template] = Field(default_factory=dict)
    json_: Any = Field(default=None, alias="json")
    body: Template | None = None
    timeout: Number | None = Field(default=None, gt=0, le=300)
    retries: Count | None = Field(default=None, ge=0, le=10)
    expect: Expect | None = None
    save: dict[Slug, str] = Field(default_factory=dict)
    admin: Flag = Field(
        default=False, description="changes gateway configuration (needs admin rights)"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _path_only(self) -> Self:
        if not self.path.startswith("/"):
            raise ValueError("'path' must start with '/'")
        if not finite(self.json_):
            raise ValueError("'json' holds NaN or infinity, which JSON cannot carry")
        return self


class Unavailable(Strict):
    """How to tell "this gateway cannot do that at all" from "it refused": never a success."""

    body_patterns: list[str] = Field(
        default_factory=list, description="a failed reply whose body contains one of these"
    )
    probe: Slug | None = Field(
        default=None, description="action to ask when an admin action fails with no clear reason"
    )
    probe_json: dict[str, Any] = Field(
        default_factory=dict, description="dotted path -> value in the probe's reply that means it"
    )
    reason: Text = "the gateway cannot perform this action"


class Profile(Strict):
    """A gateway profile: the requests behind common levers on one kind of gateway."""

    aiir: Literal[1]
    profile: Slug
    title: Text
    description: Text | None = None
    docs: str | None = None
    implements: list[Slug] = Field(
        default_factory=list, description="other profiles whose actions this gateway also serves"
    )
    actions: dict[Slug, ProfileAction] = Field(default_factory=dict)
    unavailable: Unavailable | None = None

    @property
    def speaks(self) -> frozenset[str]:
        """Profiles whose actions a gateway of this profile accepts."""
        return frozenset({self.profile, *self.implements})
