"""What every aiir format shares: closed models, identifiers, severities, gateways, channels.

Split from :mod:`aiir.formats.schema` so that a canary run loads the dozen models it reads, not all sixty.
"""

# No ``from __future__ import annotations``: see aiir.formats.schema.
import enum
from typing import Annotated

from aiir.formats import patterns
from aiir.formats.modeling import AfterValidator, BaseModel, ConfigDict, Field
from aiir.formats.modeling import Strict as Exact

SLUG = r"^[a-z0-9][a-z0-9_-]*$"
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
USE = r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_-]*$"
OWASP = r"^LLM(0[1-9]|10):20[0-9]{2}$"
ATLAS = r"^AML\.T[0-9]{4}(\.[0-9]{3})?$"
DURATION = r"^[0-9]{1,6}(s|m|h|d)$"  # six digits: 999999d still fits a date

Slug = Annotated[str, Field(pattern=SLUG, max_length=64)]
NodeId = Annotated[str, Field(pattern=SLUG, max_length=64, description="the id of a node")]
Text = Annotated[str, Field(max_length=20_000)]
Template = Annotated[str, Field(max_length=20_000, description="a Jinja2 template")]
Duration = Annotated[str, Field(pattern=DURATION, description="e.g. 30s, 15m, 2h, 1d")]
WebUrl = Annotated[
    str, Field(pattern=r"^https?://[^\s]+$", max_length=2_000, description="an http(s) URL")
]


def _compiles(value: str) -> str:
    problem = patterns.invalid(value)  # with re, and with what matches it at run time
    if problem is not None:
        raise ValueError(f"invalid regular expression: {problem}")
    return value


Regex = Annotated[str, AfterValidator(_compiles), Field(max_length=1_000)]


# YAML's scalars taken as written: `true` is not the count 1, `1` or "true" in quotes is not a flag, "5" is
# not a number. pydantic's lax mode would convert each of them silently.
Count = Annotated[int, Exact()]
Flag = Annotated[bool, Exact()]
Number = Annotated[float, Exact()]  # an int is a number too


# The tags of aiir.formats.schema.Node (a runbook's node kinds): schema errors name them.
NODE_KINDS = (
    "question",
    "confirm",
    "multiselect",
    "input",
    "checklist",
    "tasks",
    "lever",
    "action",
    "capture",
    "notify",
    "branch",
    "set",
    "wait",
    "release",
    "call",
    "end",
)


class Strict(BaseModel):
    """Base for every document model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=False, defer_build=True
    )


class Severity(enum.StrEnum):
    """Incident severity (docs/domain.md, Severity and roles); SEV1 is the most severe."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"
    SEV5 = "SEV5"


def lower_severity(proposed: str, current: str) -> bool:
    """Whether ``proposed`` is less severe than ``current`` (SEV3 is lower than SEV1)."""
    try:
        return int(proposed.removeprefix("SEV")) > int(current.removeprefix("SEV"))
    except ValueError:  # an incident opened with no severity: anything sets it
        return False


class Tags(Strict):
    """Classification with edition-qualified identifiers (``LLM01:2025``, ``AML.T0051.000``)."""

    owasp: list[Annotated[str, Field(pattern=OWASP)]] = Field(default_factory=list)
    atlas: list[Annotated[str, Field(pattern=ATLAS)]] = Field(default_factory=list)


class EnvVar(Strict):
    """An environment variable the runbook may read; secret unless said otherwise."""

    description: Text
    secret: Flag = True
    required: Flag = True


class Gateway(Strict):
    """A model gateway the runbook talks to. Requests can go nowhere else."""

    profile: Slug = Field(description="gateway profile: litellm, sandbox, http, portkey, kong…")
    url: Template | None = Field(
        default=None, description="base URL; may use env.*; overridable with --gateway NAME=URL"
    )
    headers: dict[str, Template] = Field(
        default_factory=dict, description="sent with every request; may use env.* only"
    )
    description: Text | None = None


class SlackChannel(Strict):
    webhook_env: Annotated[str, Field(pattern=ENV_NAME)] = Field(
        description="variable with the webhook URL"
    )


class PagerDutyChannel(Strict):
    routing_key_env: Annotated[str, Field(pattern=ENV_NAME)] = Field(
        description="variable with the routing key"
    )
    source: str = "aiir"
