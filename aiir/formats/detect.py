"""The detection rules format: PromQL queries over Prometheus, each compared with a threshold."""

# No ``from __future__ import annotations``: see aiir.formats.schema.
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from aiir.formats.common import (
    Count,
    Number,
    PagerDutyChannel,
    Severity,
    SlackChannel,
    Slug,
    Strict,
    Tags,
    Text,
)


class PrometheusSource(Strict):
    """The Prometheus server whose HTTP API (``/api/v1/query``) evaluates the rules."""

    url: Annotated[str, Field(pattern=r"^https?://", description="base URL, e.g. http://prom:9090")]
    timeout: Number = Field(default=10.0, gt=0, le=600, description="seconds per query")


class DetectAlert(Strict):
    """Where a firing rule pages; secrets by environment variable name only."""

    pagerduty: PagerDutyChannel | None = None
    slack: SlackChannel | None = None


class DetectRule(Strict):
    """One PromQL query whose every sample is compared with a threshold.

    The rule fails when any sample is ``above`` (or ``below``) the threshold; it fires once it
    has failed ``for`` evaluations in a row, so one noisy scrape does not page anyone.
    """

    id: Slug
    description: Text | None = None
    query: Text = Field(min_length=1, description="PromQL, evaluated as an instant query")
    above: Number | None = Field(default=None, description="fail when a sample exceeds this")
    below: Number | None = Field(default=None, description="fail when a sample is under this")
    for_: Count = Field(
        default=1, ge=1, le=10_000, alias="for", description="consecutive failing evaluations"
    )
    severity: Severity | None = Field(default=None, description="default: the document's")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _one_comparison(self) -> Self:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self


class DetectRules(Strict):
    """Rules evaluated over Prometheus, once or on an interval, to detect incidents."""

    aiir: Literal[1] = Field(description="format version")
    detect: Slug = Field(description="rules id (names their alerts)")
    title: Text | None = None
    description: Text | None = None
    owner: Slug | None = None
    tags: Tags = Field(default_factory=Tags)
    systems: list[Slug] = Field(default_factory=list, description="inventory ids this watches")
    prometheus: PrometheusSource
    severity: Severity = Field(default=Severity.SEV3, description="of a firing rule")
    alert: DetectAlert = Field(default_factory=DetectAlert)
    rules: list[DetectRule] = Field(min_length=1)
