"""The scenario format: a drill or a tabletop (faults, traffic, injects, what is expected)."""

# No ``from __future__ import annotations``: see aiir.formats.schema.
from typing import Annotated, Any, Literal

from aiir.formats.common import (
    ENV_NAME,
    Count,
    Duration,
    NodeId,
    Number,
    Severity,
    Slug,
    Strict,
    Text,
)
from aiir.formats.modeling import ConfigDict, Field
from aiir.formats.schema import Outcome

Step = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9][a-z0-9_-]*\.)?[a-z0-9][a-z0-9_-]*$",
        description="a node id; a called runbook's node as runbook-id.node-id",
    ),
]


class FaultSpec(Strict):
    """A fault for the simulated gateway: from the start, or when a node is reached."""

    fault: Literal["latency", "error", "output", "drift", "canary-leak"]
    model: str = Field(default="*", description="model group, or * for every model")
    value: str | Count | Number = Field(
        default="", description="ms, error rate 0-1, output name or text"
    )
    at: NodeId | None = Field(default=None, description="inject when this node is reached")


class NotificationExpectation(Strict):
    """A message the walk must have rendered."""

    channel: str | None = None
    contains: list[str] = Field(default_factory=list)


class LeverExpectation(Strict):
    engaged: list[Slug] = Field(default_factory=list, description="levers engaged (any state)")
    verified: list[Slug] = Field(default_factory=list, description="levers proven effective")
    released: list[Slug] = Field(
        default_factory=list, description="levers released during the walk (a release step)"
    )
    not_engaged: list[Slug] = Field(default_factory=list)


class Expectations(Strict):
    """What a drill checks after the walk; each group is one JUnit test case."""

    path: list[Step] | None = Field(default=None, description="the exact ordered node ids")
    visits: list[Step] = Field(default_factory=list, description="nodes that must be visited")
    avoids: list[Step] = Field(default_factory=list, description="nodes that must not be visited")
    levers: LeverExpectation | None = None
    outcome: Outcome | None = None
    severity: Severity | None = Field(default=None, description="severity at the end")
    notifications: list[NotificationExpectation] = Field(default_factory=list)
    containment_within: Duration | None = Field(
        default=None, description="first lever proven effective within this time"
    )
    timers: dict[Slug, Literal["met", "missed"]] = Field(
        default_factory=dict, description="runbook timer -> how it must end up"
    )


class Inject(Strict):
    """A tabletop inject: news that reaches the room at a time."""

    at: Duration = Field(description="time after the start, e.g. 0m, 10m")
    text: Text
    from_: str | None = Field(default=None, alias="from", description="who brings the news")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Retrieve(Strict):
    """What a RAG application retrieved for a request, before it asked the model."""

    collection: Slug
    query: Text
    top_k: Count = Field(default=3, ge=1, le=50)


class Traffic(Strict):
    """A user request that happens before the walk starts (what caused the incident)."""

    model: str
    prompt: Text
    key: str | None = Field(default=None, description="the virtual key it came with (simulated)")
    session: Slug | None = Field(
        default=None, description="the application's session id, as its trace store records it"
    )
    retrieve: Retrieve | None = Field(
        default=None,
        description="documents retrieved first and given to the model as context (RAG)",
    )


class Scenario(Strict):
    """A drill or tabletop scenario around one runbook."""

    aiir: Literal[1]
    scenario: Slug = Field(description="scenario id")
    title: Text
    description: Text | None = None
    runbook: str = Field(description="runbook id, or a path relative to this file")
    inputs: dict[Slug, str | int | float | bool] = Field(default_factory=dict)
    answers: dict[str, Any] = Field(default_factory=dict, description="answers keyed by node id")
    env: dict[Annotated[str, Field(pattern=ENV_NAME)], str] = Field(
        default_factory=dict,
        description="values of the runbook's environment variables for this exercise "
        "(simulated-gateway keys only: never a real secret)",
    )
    faults: list[FaultSpec] = Field(default_factory=list)
    traffic: list[Traffic] = Field(
        default_factory=list, description="requests sent through the simulated gateway first"
    )
    takes: dict[NodeId, Duration] = Field(
        default_factory=dict,
        description="how long the responders take at a node: the drill clock moves on that long",
    )
    expect: Expectations = Field(default_factory=Expectations)
    injects: list[Inject] = Field(default_factory=list, description="tabletop timeline")
