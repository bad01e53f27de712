"""The workspace formats: ``aiir.yaml`` (channels, gateways, disclosure rules), the team roster
and the AI system inventory it names."""

# No ``from __future__ import annotations``: see aiir.formats.schema.
from typing import Annotated, Literal

from aiir.formats.common import (
    ENV_NAME,
    Duration,
    Flag,
    PagerDutyChannel,
    Severity,
    SlackChannel,
    Slug,
    Strict,
    Template,
    Text,
    WebUrl,
)
from aiir.formats.modeling import Field
from aiir.formats.timers import Cadence

Regime = Literal["eu-ai-act", "gpai", "gdpr", "nis2", "dora", "cra", "ca-sb53"]


class Person(Strict):
    """Someone on the roster, and how to reach them."""

    name: Text
    email: str | None = None
    phone: str | None = None
    slack: str | None = Field(default=None, description="Slack handle, e.g. @alice")
    pagerduty_routing_key_env: Annotated[str, Field(pattern=ENV_NAME)] | None = Field(
        default=None, description="environment variable with this person's PagerDuty routing key"
    )


class Role(Strict):
    """A role (incident commander, security, …) and who fills it."""

    description: Text | None = None
    on_call: Slug | None = Field(default=None, description="person id on call for this role now")
    people: list[Slug] = Field(default_factory=list)
    pagerduty_routing_key_env: Annotated[str, Field(pattern=ENV_NAME)] | None = Field(
        default=None, description="the role's PagerDuty service routing key (environment variable)"
    )
    slack_channel: str | None = None


class Team(Strict):
    """The incident response roster: the roles and the cross-functional team of docs/domain.md."""

    aiir: Literal[1]
    team: Slug
    people: dict[Slug, Person] = Field(default_factory=dict)
    roles: dict[Slug, Role] = Field(default_factory=dict)


class StatuspageChannel(Strict):
    page_id: str
    api_key_env: Annotated[str, Field(pattern=ENV_NAME)]
    component_ids: list[str] = Field(default_factory=list)


class WebhookChannel(Strict):
    url_env: Annotated[str, Field(pattern=ENV_NAME)]


class TeamsChannel(Strict):
    """A Microsoft Teams channel or chat, through a Teams Workflows webhook (an Adaptive Card)."""

    webhook_env: Annotated[str, Field(pattern=ENV_NAME)] = Field(
        description="variable with the Workflows webhook URL"
    )


JIRA_PROJECT = r"^[A-Z][A-Z0-9_]{0,254}$"
JIRA_LABEL = r"^[^\s]{1,255}$"


class AtlassianAccount(Strict):
    """Jira Cloud's Basic auth: an account's email and an API token, each by variable name."""

    base_url: WebUrl = Field(description="the site, e.g. https://acme.atlassian.net")
    email_env: Annotated[str, Field(pattern=ENV_NAME)] = Field(
        description="variable with the account's email address"
    )
    token_env: Annotated[str, Field(pattern=ENV_NAME)] = Field(
        description="variable with the account's API token"
    )


class JiraChannel(AtlassianAccount):
    """Jira Cloud (REST API v3): an incident ticket from a notify node, and follow-up tickets
    from a post-mortem's action items (``aiir report ID --file-actions``)."""

    project: Annotated[str, Field(pattern=JIRA_PROJECT)] = Field(description="project key")
    issue_type: Annotated[str, Field(min_length=1, max_length=255)] = Field(
        default="Task", description="issue type name (Task, Bug, Incident…) for the tickets"
    )
    labels: list[Annotated[str, Field(pattern=JIRA_LABEL)]] = Field(
        default_factory=list, description="added to every ticket (no spaces)"
    )
    link_type: Annotated[str, Field(min_length=1, max_length=255)] = Field(
        default="Relates", description="issue link type joining a follow-up to the incident ticket"
    )


class JsmChannel(AtlassianAccount):
    """Jira Service Management: a customer request in a service desk from a notify node."""

    service_desk_id: Annotated[str, Field(pattern=r"^[0-9]+$")]
    request_type_id: Annotated[str, Field(pattern=r"^[0-9]+$")]


class Channels(Strict):
    """Where messages go. Secrets (webhook URLs, keys) only by environment variable name."""

    slack: SlackChannel | None = None
    teams: TeamsChannel | None = None
    jira: JiraChannel | None = None
    jsm: JsmChannel | None = None
    pagerduty: PagerDutyChannel | None = None
    statuspage: StatuspageChannel | None = None
    webhook: WebhookChannel | None = None


class WorkspaceGateway(Strict):
    """The real address of a gateway that runbooks declare by this name (may use env.* that the
    runbook declares); ``--gateway NAME=URL`` still wins."""

    url: Template


class TraceExport(Strict):
    """Where the trace of every real walk goes (OpenTelemetry over OTLP/HTTP: Phoenix, Jaeger,
    Tempo, a Collector), sent from the journal when the walk stops. Practice (sandbox, drill,
    tabletop, dry run) is exported only when asked with ``--otlp``."""

    url: WebUrl = Field(
        description="the OTLP/HTTP traces endpoint (e.g. http://127.0.0.1:6006/v1/traces); "
        "an address without a path gets /v1/traces"
    )
    project: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default="aiir", description="the project the spans go to in Phoenix"
    )
    headers_env: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")],
        Annotated[str, Field(pattern=ENV_NAME)],
    ] = Field(
        default_factory=dict,
        description="request headers, each by the variable holding its value "
        "(e.g. authorization: PHOENIX_AUTH)",
    )


class DisclosureRule(Strict):
    """When an incident is disclosed publicly, decided in advance."""

    severities: list[Severity] = Field(default_factory=list, description="any of these severities")
    categories: list[Slug] = Field(default_factory=list, description="or any of these categories")
    audience: Literal["status-page", "customers", "public"] = "status-page"
    within: Duration = "1h"


class Workspace(Strict):
    """``aiir.yaml``: found from the current directory upwards, like git."""

    aiir: Literal[1]
    workspace: Slug
    runbooks: list[str] = Field(default_factory=lambda: ["runbooks"], description="runbook folders")
    canaries: list[str] = Field(default_factory=lambda: ["canaries"])
    detections: list[str] = Field(
        default_factory=lambda: ["detections"], description="detection rules folders"
    )
    drills: list[str] = Field(default_factory=lambda: ["drills"])
    templates: str | None = Field(
        default="templates", description="folder overriding shipped templates"
    )
    team: str | None = Field(default="team.yaml", description="team roster file")
    inventory: str | None = Field(default="inventory.yaml", description="AI system inventory file")
    incidents: str = Field(default=".aiir/incidents")
    store: str | None = Field(
        default=None,
        pattern=r"^postgres(ql)?://",
        description="the team's shared incident store, a postgresql:// URL (default: the files "
        "under incidents:, which then holds the local copy)",
    )
    gateways: dict[Slug, WorkspaceGateway] = Field(default_factory=dict)
    channels: Channels = Field(default_factory=Channels)
    regimes: list[Regime] = Field(default_factory=list, description="regulatory regimes to track")
    disclosure: list[DisclosureRule] = Field(default_factory=list)
    approval: Literal["incident-commander", "none"] = Field(
        default="incident-commander", description="who approves external communications"
    )
    runbook_url: WebUrl | None = Field(
        default=None,
        description="where people read a runbook, {id} standing for its id (linked from pages)",
    )
    status_updates: Cadence | None = Field(
        default=None, description="how often status updates are due (a runbook's own wins)"
    )
    otlp: TraceExport | None = Field(
        default=None, description="where each walk's own trace is exported (OpenTelemetry)"
    )
    enforce_roles: bool = Field(
        default=False,
        description="a node with an owner is answered only by someone the team roster gives "
        "that role (or the person named); anyone else is asked for a hand-off",
    )


class AISystem(Strict):
    """One AI system in the inventory."""

    id: Slug
    name: Text
    owner: Slug = Field(description="role or person accountable")
    model: str
    provider: str
    gateway: Slug | None = None
    data_sensitivity: Literal["public", "internal", "confidential", "personal", "special-category"]
    user_facing: Flag
    autonomy: Literal["none", "suggest", "act-with-approval", "autonomous"]
    eu_ai_act: Literal["minimal", "limited", "high", "prohibited", "gpai", "gpai-systemic"]
    blast_radius: Literal["single-user", "team", "customers", "public", "critical-infrastructure"]
    system_prompt_version: str | None = None
    guardrails: list[str] = Field(default_factory=list)
    rag_index: str | None = None
    tools: list[str] = Field(default_factory=list)


class Inventory(Strict):
    """The AI systems a team runs, with what it takes to respond when they fail."""

    aiir: Literal[1]
    inventory: Slug
    systems: list[AISystem] = Field(default_factory=list)
