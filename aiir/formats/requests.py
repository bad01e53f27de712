"""What a runbook asks of a gateway and of the operator: HTTP requests (a profile action or spelled
out, with what the reply must show) and the inputs given at the start. Part of the runbook format
(:mod:`aiir.formats.schema` re-exports them)."""

# No ``from __future__ import annotations``: see aiir/formats/schema.py.
import math
from typing import Annotated, Any, Literal, Self

from aiir.formats.common import USE, Count, Flag, Number, Regex, Slug, Strict, Template, Text
from aiir.formats.modeling import ConfigDict, Field, model_validator

# --- requests --------------------------------------------------------------------------------

# The validators below refuse a path without a leading '/' with their own message; the pattern
# says the same to editors and other JSON Schema tools.
GatewayPath = Annotated[
    str,
    Field(
        max_length=20_000,
        description="a Jinja2 template; starts with '/'",
        json_schema_extra={"pattern": "^/"},
    ),
]


class Expect(Strict):
    """What a response must look like for a request to count as successful."""

    status: Count | list[Count] | None = Field(
        default=None, description="accepted status code(s); default: any 2xx"
    )
    json_: dict[str, Any] = Field(
        default_factory=dict,
        alias="json",
        description="dotted path in the JSON body -> required value",
    )
    body_contains: list[str] = Field(default_factory=list)
    body_not_contains: list[str] = Field(default_factory=list)
    headers: dict[str, Template] = Field(
        default_factory=dict, description="response header -> required value"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Request(Strict):
    """An HTTP request on a declared gateway: a profile action (``use``) or spelled out."""

    use: str | None = Field(
        default=None, pattern=USE, description="profile action, e.g. litellm.block_key"
    )
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="parameters of the profile action"
    )
    gateway: Slug | None = Field(
        default=None, description="declared gateway; default: the runbook's only gateway"
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] | None = None
    path: GatewayPath | None = Field(
        default=None, description="path on the gateway, starting with '/'; never a full URL"
    )
    query: dict[str, Template] = Field(default_factory=dict, description="query parameters")
    headers: dict[str, Template] = Field(default_factory=dict)
    json_: Any = Field(default=None, alias="json", description="JSON body (templated strings)")
    body: Template | None = Field(default=None, description="raw text body")
    timeout: Number | None = Field(default=None, gt=0, le=300, description="seconds")
    retries: Count | None = Field(default=None, ge=0, le=10)
    idempotent: bool | None = Field(
        default=None,
        description=(
            "safe to send again after a lost answer (timeout, dropped connection, 5xx); "
            "default: true for GET, HEAD, PUT and DELETE, false for POST and PATCH"
        ),
    )
    expect: Expect | None = None
    save: dict[Slug, str] = Field(
        default_factory=dict,
        description="variable -> dotted path in the JSON response (or 'status', 'header.NAME')",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _use_or_spelled_out(self) -> Self:
        if self.use is None and (self.method is None or self.path is None):
            raise ValueError(
                "a request needs either 'use' (a profile action) or 'method' and 'path'"
            )
        if self.json_ is not None and self.body is not None:
            raise ValueError("give either 'json' or 'body', not both")
        for name, given in (("json", self.json_), ("with", self.with_)):
            if not finite(given):
                raise ValueError(f"'{name}' holds NaN or infinity, which JSON cannot carry")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError("'path' must start with '/': requests only go to declared gateways")
        return self


def finite(data: Any) -> bool:
    """No NaN or infinity anywhere in ``data`` (``.nan``, ``.inf`` in YAML; JSON has neither)."""
    if isinstance(data, float):
        return math.isfinite(data)
    if isinstance(data, dict):
        return all(finite(value) for value in data.values())
    if isinstance(data, list):
        return all(finite(value) for value in data)
    return True


# --- inputs ------------------------------------------------------------------------------------


class Input(Strict):
    """A value the operator provides at the start (``--set KEY=VALUE``)."""

    description: Text
    type: Literal["string", "integer", "number", "boolean"] = "string"
    default: str | int | float | bool | None = None
    required: Flag = True
    choices: list[str | Count | Number] | None = None
    pattern: Regex | None = None
