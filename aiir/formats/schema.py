"""The runbook format, version 1: pydantic v2 models, closed to unknown fields.

A runbook is an explicit graph: metadata, inputs, environment variables, gateways, levers, a start
node and named nodes. Node kinds form a discriminated union on ``kind``. Nothing here decides trust
or execution (TLS verification, pre-approval, dry run): those are flags of the run, never fields a
YAML file can set.
"""

# No ``from __future__ import annotations`` here: pydantic would then evaluate every annotation from
# its string when the classes are made, which costs each start of the CLI several milliseconds.
from typing import Annotated, Any, Literal, NamedTuple, Self

from aiir.formats.common import (
    ENV_NAME,
    Count,
    Duration,
    EnvVar,
    Flag,
    Gateway,
    NodeId,
    Regex,
    Severity,
    Slug,
    Strict,
    Tags,
    Template,
    Text,
    WebUrl,
)
from aiir.formats.modeling import AfterValidator, ConfigDict, Field, model_validator
from aiir.formats.requests import Expect, GatewayPath, Input, Request
from aiir.formats.timers import Cadence, Timer
from aiir.formats.vocabulary import (
    CLAIMS_CONTAINMENT,
    FAILING_OUTCOMES,
    Classification,
    EndOutcome,
    EvidenceKind,
    LeverKind,
    Outcome,
    Phase,
)

# Requests and inputs live in aiir.formats.requests, the format's closed vocabularies in
# aiir.formats.vocabulary; they are part of this format, imported from here.
__all__ = [
    "CLAIMS_CONTAINMENT",
    "FAILING_OUTCOMES",
    "Classification",
    "EndOutcome",
    "EvidenceKind",
    "Expect",
    "GatewayPath",
    "Input",
    "LeverKind",
    "Outcome",
    "Phase",
    "Request",
]


# --- declarations ----------------------------------------------------------------------------


class Approval(Strict):
    """The two-person rule: before the lever is engaged, people other than the one who asks for
    it approve it, each from their own terminal (``aiir approve INCIDENT LEVER``)."""

    min: Count = Field(default=1, ge=1, le=20, description="how many approvals it needs")
    roles: list[Slug] = Field(
        default_factory=list,
        description="only approvers the team roster gives one of these roles count (empty: "
        "anyone but the requester)",
    )
    timeout: Duration = Field(
        default="15m", description="how long the walk waits; then it is not approved"
    )


class Lever(Strict):
    """A containment lever: engage it, prove it took effect, release it afterwards."""

    title: Text
    kind: LeverKind
    description: Text | None = None
    destroys_evidence: Flag = Field(
        default=False, description="engaging it alters state that forensics would need"
    )
    business_cost: Text | None = Field(default=None, description="what users lose while engaged")
    engage: Request
    verify: Request | None = Field(default=None, description="a probe that proves the effect")
    release: Request | None = None
    approve: Approval | None = Field(
        default=None, description="approvals by other people before it is engaged"
    )


# --- nodes -----------------------------------------------------------------------------------


class Edge(NamedTuple):
    """An edge out of a node: how a reader labels it, where it is written inside the node (for
    error messages), and the node it leads to."""

    label: str
    loc: tuple[str | int, ...]
    target: str


# A node only a cycle can enter twice: the default bound of every loop, in laps.
DEFAULT_MAX_VISITS = 5


class NodeBase(Strict):
    """Fields every node has."""

    title: Text
    text: Text | None = Field(default=None, description="guidance shown to the operator")
    owner: Slug | None = Field(default=None, description="role that owns this step")
    severity: Severity | None = Field(default=None, description="severity from this node on")
    downgrade: Flag = Field(
        default=False, description="let this node's severity lower the incident's (it only rises)"
    )
    phase: Phase | None = None
    within: Duration | None = Field(
        default=None, description="a deadline: this node is done within this time of the start"
    )
    max_visits: Count | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description=f"how often a walk may enter this node (a loop's bound); default "
        f"{DEFAULT_MAX_VISITS}",
    )

    def visit_limit(self) -> int:
        """How often a walk may enter this node before it stops to ask (or fails, unattended)."""
        return self.max_visits if self.max_visits is not None else DEFAULT_MAX_VISITS

    @model_validator(mode="after")
    def _downgrade_needs_a_severity(self) -> Self:
        if self.downgrade and self.severity is None:
            raise ValueError("downgrade: true needs a severity to lower the incident to")
        return self

    def edges(self) -> list[Edge]:
        """Every edge out of this node, in the order a reader expects: ``next``, then
        ``on_failure`` (a node kind with other edges says so itself)."""
        found: list[Edge] = []
        for field, label in (("next", ""), ("on_failure", "on failure")):
            target = getattr(self, field, None)
            if target is not None:
                found.append(Edge(label, (field,), target))
        return found


class Choice(Strict):
    """One answer to a question."""

    label: Text
    value: Slug = Field(description="stable answer id, used in --answers files and branches")
    next: NodeId
    severity: Severity | None = None
    downgrade: Flag = Field(
        default=False, description="let this choice's severity lower the incident's"
    )
    owner: Slug | None = Field(default=None, description="role that takes over on this choice")
    classify: list[Classification] = Field(
        default_factory=list,
        description="facts this answer establishes; they start regulatory clocks",
    )


class QuestionNode(NodeBase):
    """A question with a fixed set of answers, each leading to a node."""

    kind: Literal["question"]
    prompt: Template
    choices: list[Choice] = Field(min_length=2)

    @model_validator(mode="after")
    def _distinct_values(self) -> Self:
        values = [choice.value for choice in self.choices]
        if len(set(values)) != len(values):
            raise ValueError("choice values must be distinct")
        return self

    def edges(self) -> list[Edge]:
        return [Edge(c.label, ("choices", i, "next"), c.next) for i, c in enumerate(self.choices)]


class ConfirmNode(NodeBase):
    """A yes/no confirmation."""

    kind: Literal["confirm"]
    prompt: Template
    yes: NodeId
    no: NodeId
    classify: list[Classification] = Field(
        default_factory=list, description="facts a 'yes' establishes; they start regulatory clocks"
    )

    def edges(self) -> list[Edge]:
        return [Edge("yes", ("yes",), self.yes), Edge("no", ("no",), self.no)]


class Pick(Strict):
    """One answer of a multi-select: picked or not, with what picking it establishes."""

    label: Text
    value: Slug = Field(description="stable answer id, used in --answers files and expressions")
    severity: Severity | None = Field(
        default=None, description="severity when picked; of several, the most severe counts"
    )
    classify: list[Classification] = Field(
        default_factory=list, description="facts picking it establishes"
    )


class MultiSelectNode(NodeBase):
    """A question that takes several answers (none, some or all), stored as
    ``answers.<node id>``, the list of the values picked; one way on (branch on the list)."""

    kind: Literal["multiselect"]
    prompt: Template
    choices: list[Pick] = Field(min_length=2)
    next: NodeId

    @model_validator(mode="after")
    def _distinct_values(self) -> Self:
        values = [choice.value for choice in self.choices]
        if len(set(values)) != len(values):
            raise ValueError("choice values must be distinct")
        return self


class InputNode(NodeBase):
    """Free text from the operator, stored as ``answers.<node id>``."""

    kind: Literal["input"]
    prompt: Template
    default: Template | None = None
    required: Flag = Field(default=True, description="an empty answer is refused unless false")
    pattern: Regex | None = Field(default=None, description="regular expression the answer matches")
    hint: Text | None = Field(
        default=None,
        description="what the answer looks like, in words, shown when it does not match 'pattern'",
    )
    next: NodeId


class ChecklistItem(Strict):
    """A manual step: who did it and when is journalled."""

    id: Slug
    text: Text
    owner: Slug | None = None


class ChecklistNode(NodeBase):
    """Manual steps to tick off."""

    kind: Literal["checklist"]
    items: list[ChecklistItem] = Field(min_length=1)
    next: NodeId


class Task(Strict):
    """One piece of work in a ``tasks`` node, owned by a role of the team roster."""

    id: Slug
    title: Text
    owner: Slug = Field(description="role (or person) of the team roster that does it")
    text: Text | None = Field(default=None, description="guidance for whoever does it")
    steps: list[Text] = Field(
        default_factory=list, description="its own steps, shown with it; one done mark for all"
    )


class AtLeast(Strict):
    """Enough of a ``tasks`` node's tasks: this many of them, any of them."""

    at_least: Count = Field(ge=1)


class TasksNode(NodeBase):
    """Work in parallel by role: tasks marked done in any order, each journalled on its own
    (who, when, a note); ``next`` is taken once ``complete_when`` holds."""

    kind: Literal["tasks"]
    tasks: list[Task] = Field(min_length=1)
    complete_when: Literal["all"] | AtLeast = Field(
        default="all", description="'all' (the default) or {at_least: N}"
    )
    next: NodeId

    def needed(self) -> int:
        """How many tasks must be done before the walk goes on."""
        if isinstance(self.complete_when, AtLeast):
            return self.complete_when.at_least
        return len(self.tasks)


class LeverNode(NodeBase):
    """Engage a declared lever, then verify it."""

    kind: Literal["lever"]
    lever: Slug
    next: NodeId
    on_failure: NodeId | None = Field(
        default=None, description="where to go when the lever fails; default: ask the operator"
    )


class ActionNode(NodeBase):
    """A one-off HTTP request on a declared gateway."""

    kind: Literal["action"]
    request: Request
    next: NodeId
    on_failure: NodeId | None = None


class CaptureItem(Strict):
    """One piece of forensic evidence fetched from a gateway."""

    name: Slug
    what: list[EvidenceKind] = Field(min_length=1)
    request: Request
    window_before: Duration | None = Field(
        default=None, description="fetch from this long before the incident started"
    )
    window_after: Duration | None = Field(
        default=None, description="fetch again at the end, up to this long after the start"
    )
    format: Literal["openinference"] | None = Field(
        default=None,
        description="openinference: the reply is a trace store's spans (Arize Phoenix's REST "
        "API), followed page by page (next_cursor), and kept with a session-context bundle",
    )


class CaptureNode(NodeBase):
    """Forensic capture: stored beside the journal with its SHA-256."""

    kind: Literal["capture"]
    items: list[CaptureItem] = Field(min_length=1)
    next: NodeId


class NotifyNode(NodeBase):
    """Render a message and send it (or record it) through a channel."""

    kind: Literal["notify"]
    channel: Literal[
        "slack", "teams", "jira", "jsm", "pagerduty", "statuspage", "webhook", "email", "record"
    ] = "record"
    audience: Literal["internal", "external", "regulator"] = "internal"
    template: Slug | None = Field(default=None, description="a template in templates/")
    message: Template | None = Field(default=None, description="inline Jinja2 text")
    to: Slug | None = Field(
        default=None, description="page this role's on-call (PagerDuty key from the team roster)"
    )
    event: Literal["trigger", "acknowledge", "resolve"] = Field(
        default="trigger", description="PagerDuty event action"
    )
    status: Literal["investigating", "identified", "monitoring", "resolved"] = Field(
        default="investigating", description="Statuspage incident status"
    )
    next: NodeId

    @model_validator(mode="after")
    def _template_or_message(self) -> Self:
        if (self.template is None) == (self.message is None):
            raise ValueError("give exactly one of 'template' or 'message'")
        return self


class Case(Strict):
    """One arm of a branch."""

    when: Annotated[str, Field(max_length=2_000, description="a Jinja2 expression")]
    next: NodeId


class BranchNode(NodeBase):
    """An automatic branch on expressions over inputs, answers and saved values."""

    kind: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    default: NodeId

    def edges(self) -> list[Edge]:
        cases = [Edge(c.when, ("cases", i, "next"), c.next) for i, c in enumerate(self.cases)]
        return [*cases, Edge("otherwise", ("default",), self.default)]


Expression = Annotated[
    str, Field(max_length=2_000, description="a Jinja2 expression, without {{ }} (as 'when:')")
]


class SetNode(NodeBase):
    """Values computed from expressions over inputs, answers and saved values, kept as
    ``vars.<name>`` (as a request's ``save`` keeps them), in order: a later one may use an
    earlier one."""

    kind: Literal["set"]
    values: dict[Slug, Expression] = Field(min_length=1)
    next: NodeId


class WaitNode(NodeBase):
    """Poll a request until its ``expect`` holds (default: a 2xx reply), every ``interval``,
    for at most ``deadline``; then on to ``next``, or to ``on_timeout`` when it never held."""

    kind: Literal["wait"]
    request: Request
    interval: Duration = Field(default="30s", description="time between two polls")
    deadline: Duration = Field(description="how long to keep polling, from the first poll")
    next: NodeId
    on_timeout: NodeId | None = Field(
        default=None, description="where to go when the deadline passes; default: ask"
    )

    def edges(self) -> list[Edge]:
        found = [Edge("", ("next",), self.next)]
        if self.on_timeout is not None:
            found.append(Edge("on timeout", ("on_timeout",), self.on_timeout))
        return found


class ReleaseNode(NodeBase):
    """Release a lever engaged earlier in the walk (its ``release`` request), then check with
    its verify probe that it no longer holds."""

    kind: Literal["release"]
    lever: Slug
    next: NodeId
    on_failure: NodeId | None = Field(
        default=None, description="where to go when the release fails; default: ask"
    )


# A call names a runbook by id (found as ``ID.yaml``, or by its ``id:``) or by a path to it.
CALL_TARGET = r"^([a-z0-9][a-z0-9_-]*|[^\x00-\x1f]+\.ya?ml)$"


def outside_folder(path: str) -> str | None:
    """Why a path to another runbook or a fragment leaves the folder of the file naming it, or
    None. It stays there or below: a runbook shared in a repository cannot make aiir read files
    elsewhere on a responder's machine."""
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "~")) or ".." in parts or (len(path) > 1 and path[1] == ":"):
        return (
            f"{path!r} leaves the runbook's folder: name a path inside it, without '..', '~' "
            "or a leading '/'"
        )
    return None


def _stays_inside(path: str) -> str:
    problem = outside_folder(path)
    if problem is not None:
        raise ValueError(problem)
    return path


CallTarget = Annotated[str, Field(pattern=CALL_TARGET), AfterValidator(_stays_inside)]


def is_path(target: str) -> bool:
    """Whether a call names its runbook by a path (``shared/evidence.yaml``), not by id."""
    return target.endswith((".yaml", ".yml"))


class CallNode(NodeBase):
    """Walk another runbook; with no ``next`` its outcome is this runbook's outcome."""

    kind: Literal["call"]
    runbook: CallTarget = Field(
        description="the runbook to walk: its id, or a path ending in .yaml (relative to the "
        "folder of the runbook run)"
    )
    inputs: dict[Slug, Template] = Field(default_factory=dict)
    next: NodeId | None = None


class EndNode(NodeBase):
    """The end of a walk."""

    kind: Literal["end"]
    outcome: EndOutcome = Field(
        description="how the walk ends; 'contained' holds only with a lever proven in effect "
        "(otherwise aiir records 'not-contained')"
    )
    summary: Template | None = None


Node = Annotated[
    QuestionNode
    | ConfirmNode
    | MultiSelectNode
    | InputNode
    | ChecklistNode
    | TasksNode
    | LeverNode
    | ActionNode
    | CaptureNode
    | NotifyNode
    | BranchNode
    | SetNode
    | WaitNode
    | ReleaseNode
    | CallNode
    | EndNode,
    Field(discriminator="kind"),
]


def without_extensions(data: Any) -> Any:
    """A document's data without its top-level ``x-`` keys (the author's own, read by nothing)."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    return data


# A fragment a runbook includes: a path ending in .yaml, from the including file's folder.
IncludePath = Annotated[
    str, Field(pattern=r"^[^\x00-\x1f]+\.ya?ml$"), AfterValidator(_stays_inside)
]


class Runbook(Strict):
    """An AI incident runbook, format version 1. Top-level keys starting ``x-`` are the
    author's own (a home for YAML anchors shared by nodes): read by nothing."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        defer_build=True,
        json_schema_extra={"patternProperties": {"^x-": {}}},
    )

    @model_validator(mode="before")
    @classmethod
    def _without_extensions(cls, data: Any) -> Any:
        return without_extensions(data)

    aiir: Literal[1] = Field(description="format version")
    id: Slug
    title: Text
    version: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+){0,2}$")] = "1.0.0"
    owner: Slug = Field(description="team that maintains this runbook")
    severity: Severity = Field(description="severity at the start of the walk")
    category: Slug | None = None
    summary: Text | None = None
    url: WebUrl | None = Field(default=None, description="where people read this runbook")
    tags: Tags = Field(default_factory=Tags)
    systems: list[Slug] = Field(default_factory=list, description="inventory ids this covers")
    inputs: dict[Slug, Input] = Field(default_factory=dict)
    env: dict[Annotated[str, Field(pattern=ENV_NAME)], EnvVar] = Field(default_factory=dict)
    gateways: dict[Slug, Gateway] = Field(default_factory=dict)
    levers: dict[Slug, Lever] = Field(default_factory=dict)
    include: list[IncludePath] = Field(
        default_factory=list, description="fragments whose nodes join this runbook's (paths)"
    )
    start: NodeId
    nodes: dict[NodeId, Node] = Field(min_length=1)
    timers: list[Timer] = Field(
        default_factory=list, description="deadlines the walk measures (SLAs)"
    )
    status_updates: Cadence | None = Field(
        default=None, description="how often status updates are due; default: the workspace's"
    )


def is_terminal(node: Node) -> bool:
    """An end, or a call that hands off for good."""
    return isinstance(node, EndNode) or (isinstance(node, CallNode) and node.next is None)
