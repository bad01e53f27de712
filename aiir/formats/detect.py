"""The detection rules format: each rule measures one number, from Prometheus (a PromQL
instant query) or from a trace store (Arize Phoenix's spans and their eval annotations), and
compares it with a threshold."""

# No ``from __future__ import annotations``: see aiir.formats.schema.
from enum import StrEnum
from typing import Annotated, Literal, Self

from aiir.formats.common import (
    Count,
    Duration,
    Number,
    PagerDutyChannel,
    Severity,
    SlackChannel,
    Slug,
    Strict,
    Tags,
    Text,
)
from aiir.formats.modeling import ConfigDict, Field, model_validator

SourceUrl = Annotated[
    str, Field(pattern=r"^https?://[^\s]+$", max_length=2_000, description="base URL")
]
Label = Annotated[str, Field(min_length=1, max_length=200)]


class PrometheusSource(Strict):
    """The Prometheus server whose HTTP API (``/api/v1/query``) evaluates the PromQL rules."""

    url: SourceUrl
    timeout: Number = Field(default=10.0, gt=0, le=600, description="seconds per query")


class PhoenixSource(Strict):
    """The Arize Phoenix server whose REST API (spans, span annotations) the trace rules read."""

    url: SourceUrl
    project: Annotated[str, Field(pattern=r"^[^/?#\s]+$", max_length=200)] = Field(
        default="default", description="the Phoenix project (name or id)"
    )
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = Field(
        default=None, description="environment variable holding a Phoenix API key, if it needs one"
    )
    timeout: Number = Field(default=10.0, gt=0, le=600, description="seconds per request")


class DetectAlert(Strict):
    """Where a firing rule pages; secrets by environment variable name only."""

    pagerduty: PagerDutyChannel | None = None
    slack: SlackChannel | None = None


class Measure(StrEnum):
    """What a trace rule measures over the spans of its window."""

    ANNOTATION_RATE = "annotation_rate"  # share of annotated spans whose label is one named
    ERROR_RATE = "error_rate"  # share of spans whose status is ERROR
    LATENCY = "latency"  # a percentile of the spans' durations, in milliseconds


class TraceMeasure(Strict):
    """A number from the spans of the last ``window``: an eval label's rate, errors, latency."""

    measure: Measure
    window: Duration = Field(default="15m", description="how far back, e.g. 5m, 1h")
    span_kind: Annotated[str, Field(pattern=r"^[A-Z]+$")] | None = Field(
        default=None, description="only spans of this kind (LLM, RETRIEVER, TOOL, CHAIN...)"
    )
    annotation: Label | None = Field(
        default=None, description="annotation_rate: the eval's name, e.g. hallucination"
    )
    labels: list[Label] = Field(
        default_factory=list,
        description="annotation_rate: the labels that count, e.g. hallucinated",
    )
    percentile: Number = Field(default=95, gt=0, le=100, description="latency: which percentile")
    min_spans: Count = Field(
        default=10, ge=1, le=1_000_000, description="fewer spans than this: no data, not a verdict"
    )
    max_spans: Count = Field(
        default=10_000, ge=1, le=1_000_000, description="read at most this many (newest first)"
    )

    @model_validator(mode="after")
    def _what_it_needs(self) -> Self:
        if self.measure is Measure.ANNOTATION_RATE and (not self.annotation or not self.labels):
            raise ValueError("annotation_rate needs 'annotation' and 'labels'")
        if self.measure is not Measure.ANNOTATION_RATE and (self.annotation or self.labels):
            raise ValueError("'annotation' and 'labels' are for measure annotation_rate only")
        if self.min_spans > self.max_spans:
            raise ValueError("'min_spans' is more than 'max_spans'")
        return self


class DetectRule(Strict):
    """One measured number compared with a threshold.

    A PromQL rule fails when any sample of its result is ``above`` (or ``below``) the threshold;
    a trace rule when its one number is. A rule fires once it has failed ``for`` evaluations in
    a row, so one noisy scrape does not page anyone; it resolves at its first passing one.
    """

    id: Slug
    description: Text | None = None
    query: Text | None = Field(
        default=None, min_length=1, description="PromQL, evaluated as an instant query"
    )
    traces: TraceMeasure | None = Field(default=None, description="a number from the trace store")
    above: Number | None = Field(
        default=None, allow_inf_nan=False, description="fail when the number exceeds this"
    )
    below: Number | None = Field(
        default=None, allow_inf_nan=False, description="fail when the number is under this"
    )
    for_: Count = Field(
        default=1, ge=1, le=10_000, alias="for", description="consecutive failing evaluations"
    )
    severity: Severity | None = Field(default=None, description="default: the document's")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="after")
    def _one_of_each(self) -> Self:
        if (self.query is None) == (self.traces is None):
            raise ValueError("give exactly one of 'query' (PromQL) or 'traces' (Phoenix)")
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self

    def fails(self, value: float) -> bool:
        """Whether ``value`` is on the wrong side of the threshold."""
        if self.above is not None:
            return value > self.above
        return self.below is not None and value < self.below

    @property
    def threshold(self) -> str:
        return f"> {self.above:g}" if self.above is not None else f"< {self.below:g}"


class DetectRules(Strict):
    """Rules over Prometheus and a trace store, evaluated once or on an interval."""

    aiir: Literal[1] = Field(description="format version")
    detect: Slug = Field(description="rules id (names their alerts)")
    title: Text | None = None
    description: Text | None = None
    owner: Slug | None = None
    tags: Tags = Field(default_factory=Tags)
    systems: list[Slug] = Field(default_factory=list, description="inventory ids this watches")
    model: Text | None = Field(
        default=None, description="the model watched (a --on-fail-run runbook's 'model' input)"
    )
    prometheus: PrometheusSource | None = None
    phoenix: PhoenixSource | None = None
    severity: Severity = Field(default=Severity.SEV3, description="of a firing rule")
    alert: DetectAlert = Field(default_factory=DetectAlert)
    rules: list[DetectRule] = Field(min_length=1)
