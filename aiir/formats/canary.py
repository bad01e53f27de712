"""The canary suite format: prompts, assertions, drift limits and alerts against one model."""

# No ``from __future__ import annotations``: see aiir.formats.schema.
from typing import Annotated, Any, Literal, Self

from aiir.formats import patterns
from aiir.formats.common import (
    ENV_NAME,
    Count,
    EnvVar,
    Flag,
    Gateway,
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
from aiir.formats.requests import finite

CANARY_WORD = r"^[A-Za-z0-9_-]{8,128}$"
CHAT_PATH = "/v1/chat/completions"


CHECK_SHAPES: dict[str, str | None] = {
    "equals": "text",
    "contains": "text",
    "icontains": "text",
    "starts-with": "text",
    "contains-any": "list",
    "contains-all": "list",
    "regex": "regex",
    "is-json": None,
    "is-refusal": None,
    "latency": "threshold",
    "levenshtein": "text",
    "max-length": "count",
    "canary-token": None,
}
CheckType = Literal[
    "equals",
    "not-equals",
    "contains",
    "not-contains",
    "icontains",
    "not-icontains",
    "starts-with",
    "not-starts-with",
    "contains-any",
    "not-contains-any",
    "contains-all",
    "not-contains-all",
    "regex",
    "not-regex",
    "is-json",
    "not-is-json",
    "is-refusal",
    "not-is-refusal",
    "latency",
    "not-latency",
    "levenshtein",
    "not-levenshtein",
    "max-length",
    "not-max-length",
    "canary-token",
    "not-canary-token",
]
_NEEDS = {
    "text": "'value': a string",
    "list": "'value': a list of strings",
    "regex": "'value': a regular expression",
    "count": "'value': a number of characters",
    "threshold": "'threshold': milliseconds",
}


class CanaryCheck(Strict):
    """An assertion on every reply to a prompt (promptfoo's names); ``not-X`` passes when X fails.

    ``canary-token`` passes when the suite's planted token does not appear in the output (it did
    not leak); ``is-refusal`` when the model refused; ``latency`` when the reply took at most
    ``threshold`` ms; ``levenshtein`` when the output is at most ``threshold`` edits (default 5)
    from ``value``; ``max-length`` when it has at most ``value`` characters; ``is-json`` when it
    parses, and is valid against ``schema`` (JSON Schema 2020-12) when one is given.
    """

    type: CheckType
    value: str | list[str] | Count | None = None
    threshold: Count | None = Field(default=None, ge=0, le=600_000)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: Text | None = Field(default=None, description="shown when the check fails")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @property
    def base(self) -> str:
        """The type without its ``not-``."""
        return self.type.removeprefix("not-")

    @model_validator(mode="after")
    def _shape(self) -> Self:
        problem = _check_problem(CHECK_SHAPES[self.base], self.value, self.threshold)
        if problem is None and self.threshold is not None and self.base not in _THRESHOLDS:
            problem = "takes no 'threshold'"
        if problem is None and self.schema_ is not None and self.base != "is-json":
            problem = "takes no 'schema' (is-json does)"
        if problem is not None:
            raise ValueError(f"{self.type} {problem}")
        return self


_THRESHOLDS = frozenset({"latency", "levenshtein"})


def _check_problem(shape: str | None, value: Any, threshold: int | None) -> str | None:
    """What is wrong with an assertion's ``value`` (and a latency's ``threshold``)."""
    ok = {
        None: value is None,
        "text": isinstance(value, str) and value != "",
        "list": isinstance(value, list) and bool(value) and all(value),
        "regex": isinstance(value, str) and value != "",
        "count": isinstance(value, int) and not isinstance(value, bool) and value > 0,
        "threshold": value is None and threshold is not None and threshold > 0,
    }[shape]
    if not ok:
        return f"needs {_NEEDS[shape]}" if shape is not None else "takes no 'value'"
    if shape == "regex":
        problem = patterns.invalid(str(value))  # with re, and with what matches it at run time
        if problem is not None:
            return f"has an invalid regular expression: {problem}"
    return None


class CanaryPrompt(Strict):
    """One canary prompt (the user message) and what its every reply must satisfy."""

    id: Slug
    prompt: Text = Field(min_length=1)
    description: Text | None = None
    severity: Severity | None = Field(default=None, description="default: the suite's severity")
    repeats: Count | None = Field(default=None, ge=1, le=1_000, description="default: the suite's")
    assert_: list[CanaryCheck] = Field(alias="assert", min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class CanaryTarget(Strict):
    """The model under watch: an OpenAI-compatible chat endpoint on a declared gateway."""

    gateway: Slug | None = Field(default=None, description="default: the only declared gateway")
    model: Annotated[str, Field(min_length=1, max_length=256)]
    path: str = Field(default=CHAT_PATH, pattern=r"^/", description="chat completions path")
    params: dict[str, Any] = Field(
        default_factory=dict, description="extra request fields, e.g. temperature, max_tokens"
    )

    @model_validator(mode="after")
    def _json_numbers(self) -> Self:
        if not finite(self.params):
            raise ValueError("'params' holds NaN or infinity, which JSON cannot carry")
        return self


class DriftLimits(Strict):
    """When a signal counts as drifted against the baseline: the evidence (a test) and the
    effect (a minimum change) must both hold (docs/canary-drift.md)."""

    enabled: Flag = True
    window: Count = Field(
        default=5, ge=1, le=1_000, description="baseline: the last N passing runs"
    )
    min_samples: Count = Field(
        default=10,
        ge=2,
        description="fewer samples on either side: no verdict (per prompt, else pooled)",
    )
    ks_p: Number = Field(
        default=0.05, gt=0, lt=1, description="Kolmogorov-Smirnov p-value (latency, confidence)"
    )
    psi: Number = Field(default=0.2, gt=0, description="population stability index (output length)")
    latency_alert: Literal["slower", "both"] = Field(
        default="slower", description="'slower': only a slowdown alerts; 'both': a speed-up too"
    )
    latency_min_change: Number = Field(
        default=0.3, ge=0, description="a smaller relative move of the median latency is jitter"
    )
    latency_min_shift_ms: Number = Field(
        default=20.0, ge=0, description="a smaller move of the median latency is jitter"
    )
    length_min_change: Number = Field(
        default=0.15,
        ge=0,
        description="a smaller relative move of the median output length is jitter",
    )
    refusal_rate: Number = Field(default=0.1, gt=0, le=1, description="minimum change, absolute")
    refusal_p: Number = Field(
        default=0.01, gt=0, lt=1, description="Fisher's exact test p-value (refusal rate)"
    )
    logprob_min_shift: Number = Field(
        default=0.1, ge=0, description="a smaller move of the mean token log-probability is noise"
    )
    model_min_share: Number = Field(
        default=0.25,
        gt=0,
        le=1,
        description="share of replies naming a model the baseline never named",
    )


class CanaryAlert(Strict):
    """Where a failing suite pages (``--alert``); secrets by environment variable name only."""

    pagerduty: PagerDutyChannel | None = None
    slack: SlackChannel | None = None


class CanarySuite(Strict):
    """Canary prompts with assertions against one model, run on a schedule to detect incidents."""

    aiir: Literal[1] = Field(description="format version")
    canary: Slug = Field(description="suite id (names its history file and its alert)")
    title: Text
    description: Text | None = None
    owner: Slug | None = None
    tags: Tags = Field(default_factory=Tags)
    systems: list[Slug] = Field(default_factory=list, description="inventory ids this watches")
    env: dict[Annotated[str, Field(pattern=ENV_NAME)], EnvVar] = Field(default_factory=dict)
    gateways: dict[Slug, Gateway] = Field(min_length=1)
    target: CanaryTarget
    system_prompt: Text | None = None
    canary_token: Flag | Annotated[str, Field(pattern=CANARY_WORD)] = Field(
        default=False,
        description="plant a token in the system prompt: true for a fresh random one per run, "
        "or the token your deployed system prompt already carries",
    )
    severity: Severity = Field(
        default=Severity.SEV3, description="of a failure (SEV1 is the worst)"
    )
    repeats: Count = Field(default=1, ge=1, le=1_000, description="times each prompt is sent")
    concurrency: Count = Field(default=8, ge=1, le=512)
    timeout: Number = Field(default=30.0, gt=0, le=600, description="seconds per request")
    retries: Count = Field(default=0, ge=0, le=5, description="retries on 429, 5xx or no answer")
    logprobs: Flag = Field(default=False, description="ask for log-probabilities (confidence)")
    drift: DriftLimits = Field(default_factory=DriftLimits)
    alert: CanaryAlert = Field(default_factory=CanaryAlert)
    prompts: list[CanaryPrompt] = Field(min_length=1)
