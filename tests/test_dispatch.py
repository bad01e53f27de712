"""Notify nodes sent through a workspace's channels to real receivers on loopback.

``aiir run`` walks a small runbook against the simulated gateway served on a loopback socket (a
real run: only ``--sandbox`` makes an exercise) that pages (channel and a role's own routing key),
posts to Slack, opens then updates a Statuspage incident, calls a partner webhook and resolves the
page; the receivers record every request, so the tests assert the exact bodies of each API. The
same walk with ``--sandbox`` sends nothing: its messages stay in the exercise's inbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aiir import dispatch
from aiir.errors import InputError
from aiir.incident import Incident
from aiir.notify import Notifier
from aiir.sandbox import SandboxState, create_app, serve_in_thread
from aiir.schema import NotifyNode, Team, Workspace
from aiir.workspace import Loaded
from tests.helpers import write
from tests.receiver import Answer, Receiver, serve_receiver
from tests.respond import (
    START,
    TEAM,
    FixedClock,
    Ran,
    aiir,
    freeze,
    incident_id,
    journal,
    journal_bytes,
    no_terminal,
    of_type,
    write_workspace,
)

PD_KEY = "R0UT1NGKEY0channel0123456789abcd"
MASTER_KEY = "sk-staging-master-0123456789"
SECURITY_KEY = "R0UT1NGKEY1security123456789abcd"
SLACK_PATH = "/services/T0AAA/B0BBB/slackSECRETtoken42"
PARTNER_PATH = "/partners/partnerSECRETtoken42"
STATUSPAGE_KEY = "statuspageSECRETkey0123456789"
PAGE = "pg-acme"
ID = incident_id()
STARTED = "2025-11-27T03:15:00.000Z"
PAGE_TEXT = f"[SEV2] Data leak on the support bot.\nIncident {ID}; containment starting."
SLACK_TEXT = "*Chatbot leaking data*: containment started."
OPEN_TEXT = (
    "We are investigating degraded answers from our assistant. Next update within 20 minutes."
)
PARTNER_TEXT = f"Heads-up from ACME: incident {ID} may affect your integration."
RESOLVED_TEXT = "The issue is resolved. Thank you for your patience."

RUNBOOK: dict[str, Any] = {
    "aiir": 1,
    "id": "comms",
    "title": "Chatbot leaking data",
    "owner": "security",
    "severity": "SEV2",
    "category": "sensitive-data-leak",
    "tags": {"owasp": ["LLM02:2025"]},
    "env": {"LITELLM_MASTER_KEY": {"description": "LiteLLM admin key"}},
    "gateways": {
        "gateway": {
            "profile": "litellm",
            "url": "http://127.0.0.1:9",
            "headers": {"Authorization": "Bearer {{ env.LITELLM_MASTER_KEY }}"},
        }
    },
    "start": "capture",
    "nodes": {
        "capture": {
            "kind": "capture",
            "title": "Preserve the gateway's guardrails",
            "owner": "security",
            "items": [
                {
                    "name": "guardrails",
                    "what": ["gateway-state"],
                    "request": {"use": "litellm.list_guardrails"},
                }
            ],
            "next": "page",
        },
        "page": {
            "kind": "notify",
            "title": "Page the on-call",
            "owner": "incident-commander",
            "channel": "pagerduty",
            "message": "[{{ incident.severity }}] Data leak on the support bot.\n"
            "Incident {{ incident.id }}; containment starting.",
            "next": "page-security",
        },
        "page-security": {
            "kind": "notify",
            "title": "Page security",
            "channel": "pagerduty",
            "to": "security",
            "message": "Security needed on {{ incident.id }}.",
            "next": "tell",
        },
        "tell": {
            "kind": "notify",
            "title": "Tell the team",
            "owner": "communications",
            "channel": "slack",
            "message": "*{{ incident.title }}*: containment started.",
            "next": "open-status",
        },
        "open-status": {
            "kind": "notify",
            "title": "Open the status page incident",
            "channel": "statuspage",
            "audience": "external",
            "message": OPEN_TEXT,
            "next": "partners",
        },
        "partners": {
            "kind": "notify",
            "title": "Warn the integration partners",
            "channel": "webhook",
            "audience": "external",
            "message": "Heads-up from ACME: incident {{ incident.id }} may affect your integration.",
            "next": "update-status",
        },
        "update-status": {
            "kind": "notify",
            "title": "Resolve the status page incident",
            "channel": "statuspage",
            "audience": "external",
            "status": "resolved",
            "message": RESOLVED_TEXT,
            "next": "resolve",
        },
        "resolve": {
            "kind": "notify",
            "title": "Resolve the page",
            "channel": "pagerduty",
            "event": "resolve",
            "message": "Resolved.",
            "next": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}

CHANNELS: dict[str, Any] = {
    "slack": {"webhook_env": "TEST_SLACK_WEBHOOK"},
    "pagerduty": {"routing_key_env": "TEST_PD_ROUTING_KEY", "source": "acme-aiir"},
    "statuspage": {
        "page_id": PAGE,
        "api_key_env": "TEST_STATUSPAGE_KEY",
        "component_ids": ["cmp-assistant"],
    },
    "webhook": {"url_env": "TEST_PARTNER_WEBHOOK"},
}


@dataclass(frozen=True)
class Setup:
    receiver: Receiver
    runbook: Path
    incidents: Path
    secrets: tuple[str, ...]
    gateway: str

    def run(self, capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
        """A real run, against the simulated gateway on a socket."""
        where = ("--gateway", f"gateway={self.gateway}")
        return self.exercise(capsys, *where, *args)

    def exercise(self, capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
        return aiir(capsys, "run", str(self.runbook), *args, "--incident-dir", str(self.incidents))

    def events(self) -> list[Any]:
        return journal(self.incidents, ID)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


@pytest.fixture
def staging() -> Iterator[str]:
    with serve_in_thread(create_app(SandboxState())) as url:
        yield url


@pytest.fixture
def setup(
    receiver: Receiver, staging: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Setup:
    workspace = write_workspace(
        tmp_path / "workspace", {"aiir": 1, "workspace": "acme", "channels": CHANNELS}
    )
    no_terminal(monkeypatch, workspace)
    slack_url, partner_url = receiver.url + SLACK_PATH, receiver.url + PARTNER_PATH
    for name, value in {
        "TEST_PD_ROUTING_KEY": PD_KEY,
        "SECURITY_PD_ROUTING_KEY": SECURITY_KEY,
        "TEST_SLACK_WEBHOOK": slack_url,
        "TEST_STATUSPAGE_KEY": STATUSPAGE_KEY,
        "TEST_PARTNER_WEBHOOK": partner_url,
        "AIIR_PAGERDUTY_URL": f"{receiver.url}/v2/enqueue",
        "AIIR_STATUSPAGE_URL": receiver.url,
        "LITELLM_MASTER_KEY": MASTER_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    clock = FixedClock(START)
    freeze(monkeypatch, clock, [clock.ticking(minutes=1)])
    runbook = tmp_path / "comms.yaml"
    write(runbook, RUNBOOK)
    secrets = (PD_KEY, SECURITY_KEY, slack_url, partner_url, STATUSPAGE_KEY, MASTER_KEY)
    return Setup(receiver, runbook, tmp_path / "incidents", secrets, staging)


# --- the walk, end to end ------------------------------------------------------------------------


def test_every_channel_gets_the_exact_body_of_its_api(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.run(capsys, "--yes")
    assert ran.status == 0, ran.err
    sent = [(r.method, r.path) for r in setup.receiver.requests]
    assert sent == [
        ("POST", "/v2/enqueue"),
        ("POST", "/v2/enqueue"),
        ("POST", SLACK_PATH),
        ("POST", f"/v1/pages/{PAGE}/incidents"),
        ("POST", PARTNER_PATH),
        ("PATCH", f"/v1/pages/{PAGE}/incidents/p0abc123"),  # the id the create answered with
        ("POST", "/v2/enqueue"),
    ]
    page, page_security, slack, opened, partner, updated, resolved = setup.receiver.requests
    assert page.json() == {
        "routing_key": PD_KEY,
        "event_action": "trigger",
        "dedup_key": f"aiir-{ID}",
        "payload": {
            "summary": "[SEV2] Data leak on the support bot.",
            "source": "acme-aiir",
            "severity": "error",
            "timestamp": STARTED,
            "component": "comms",
            "group": "sensitive-data-leak",
            "class": "ai-incident",
            "custom_details": {
                "incident": ID,
                "severity": "SEV2",
                "message": PAGE_TEXT,
                "drill": False,
            },
        },
        "client": "aiir",
    }
    assert page_security.json()["routing_key"] == SECURITY_KEY  # `to: security`: its own key
    assert page_security.json()["dedup_key"] == f"aiir-{ID}-security"
    assert page_security.json()["payload"]["summary"] == f"Security needed on {ID}."
    assert slack.json() == {
        "text": SLACK_TEXT,
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "[SEV2] Chatbot leaking data"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": SLACK_TEXT}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"`{ID}` · runbook `comms`"}],
            },
        ],
    }
    assert opened.headers["authorization"] == f"OAuth {STATUSPAGE_KEY}"
    assert opened.json() == {
        "incident": {
            # What the incident commander approved, never the internal runbook title.
            "name": "We are investigating degraded answers from our assistant.",
            "status": "investigating",
            "body": OPEN_TEXT,
            "impact_override": "major",
            "component_ids": ["cmp-assistant"],
        }
    }
    assert partner.json() == {
        "incident": ID,
        "title": "Chatbot leaking data",
        "severity": "SEV2",
        "audience": "external",
        "text": PARTNER_TEXT,
    }
    assert updated.headers["authorization"] == f"OAuth {STATUSPAGE_KEY}"
    assert updated.json() == {"incident": {"status": "resolved", "body": RESOLVED_TEXT}}
    assert resolved.json() == {
        "routing_key": PD_KEY,
        "event_action": "resolve",
        "dedup_key": f"aiir-{ID}",  # the same key as the trigger: one alert per incident
    }


def test_every_send_is_journalled_with_the_receivers_reply(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    assert setup.run(capsys, "--yes").status == 0
    sent = of_type(setup.events(), "notify.sent")
    assert [(s["node"], s["channel"], s["ok"], s["status"]) for s in sent] == [
        ("page", "pagerduty", True, 202),
        ("page-security", "pagerduty", True, 202),
        ("tell", "slack", True, 200),
        ("open-status", "statuspage", True, 201),
        ("partners", "webhook", True, 200),
        ("update-status", "statuspage", True, 201),
        ("resolve", "pagerduty", True, 202),
    ]
    assert [s["reference"] for s in sent] == [
        f"aiir-{ID}",
        f"aiir-{ID}-security",
        None,
        "p0abc123",
        None,
        "p0abc123",
        f"aiir-{ID}",
    ]
    assert sent[0]["reply"]["body"] == (
        '{"status": "success", "message": "Event processed", "dedup_key": "aiir-' + ID + '"}'
    )
    assert sent[2]["reply"] == {"body": "ok"}
    assert sent[3]["reply"]["saved"] == {"statuspage_incident_id": "p0abc123"}
    assert sent[0]["request"]["json"]["routing_key"] == "***"
    assert sent[2]["request"]["url"] == "***"
    assert sent[3]["request"]["headers"] == {"Authorization": "***"}
    approvals = [(a["node"], a["value"], a["by"]) for a in of_type(setup.events(), "answer")]
    assert approvals == [
        ("open-status", True, "--yes"),
        ("partners", True, "--yes"),
        ("update-status", True, "--yes"),
    ]


def test_no_secret_reaches_the_screen_or_the_journal(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.run(capsys, "--yes")
    assert ran.status == 0
    stored = journal_bytes(setup.incidents)
    for secret in setup.secrets:
        for token in (secret, secret.rsplit("/", 1)[-1]):
            assert token not in ran.out
            assert token not in ran.err
            assert token.encode() not in stored


def test_the_roster_names_who_is_on_call_for_each_owner(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.run(capsys, "--yes")
    assert "owner: incident-commander: Alex Example @alex" in ran.out
    assert "owner: communications: Sam Example @sam" in ran.out
    entered = {e["node"]: e["on_call"] for e in of_type(setup.events(), "node.entered")}
    assert entered["page"] == "incident-commander: Alex Example @alex"
    assert entered["capture"] == "security: Sam Example @sam"
    assert entered["page-security"] is None  # no owner role on that node


def test_a_dry_run_shows_every_message_and_sends_none(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.run(capsys, "--dry-run")
    assert ran.status == 0, ran.err
    assert setup.receiver.requests == []
    assert "Message (statuspage, external)" in ran.out
    assert OPEN_TEXT in ran.out
    assert ran.out.count("dry run: not sent") == 7
    assert not setup.incidents.exists()


def test_an_external_message_without_yes_or_a_terminal_stops_naming_yes(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.run(capsys)
    assert ran.status == 2
    assert ran.err.startswith("aiir: open-status: an external message needs the incident ")
    assert "pass --yes" in ran.err
    assert "open-status.approve: yes" in ran.err
    assert len(ran.err.strip().splitlines()) == 1
    # Internal messages went out; nothing external did.
    assert [r.path for r in setup.receiver.requests] == ["/v2/enqueue", "/v2/enqueue", SLACK_PATH]
    assert of_type(setup.events(), "incident.interrupted")


def test_the_incident_commander_approves_from_an_answers_file(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = tmp_path / "answers.yaml"
    write(
        answers,
        {"open-status.approve": "yes", "partners.approve": "no", "update-status.approve": "yes"},
    )
    ran = setup.run(capsys, "--answers", str(answers))
    assert ran.status == 0, ran.err
    paths = [r.path for r in setup.receiver.requests]
    assert PARTNER_PATH not in paths
    assert f"/v1/pages/{PAGE}/incidents/p0abc123" in paths
    assert "not approved: not sent" in ran.out
    answers_given = {a["key"]: a["value"] for a in of_type(setup.events(), "answer")}
    assert answers_given == {
        "open-status.approve": True,
        "partners.approve": False,
        "update-status.approve": True,
    }


def test_a_refused_or_unconfigured_channel_is_journalled_and_the_walk_goes_on(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.receiver.queue(SLACK_PATH, Answer(403, b"invalid_token"))
    monkeypatch.delenv("TEST_PARTNER_WEBHOOK")
    ran = setup.run(capsys, "--yes")
    assert ran.status == 0, ran.err  # containment is not held up by a message
    sent = {s["node"]: s for s in of_type(setup.events(), "notify.sent")}
    assert (sent["tell"]["ok"], sent["tell"]["status"]) == (False, 403)
    assert sent["tell"]["reason"] == "HTTP 403: invalid_token"
    assert sent["partners"]["ok"] is False
    assert sent["partners"]["reason"] == (
        "webhook channel: environment variable TEST_PARTNER_WEBHOOK is not set"
    )
    assert "✗ slack did not take it: HTTP 403: invalid_token" in ran.out
    assert "✗ webhook did not take it" in ran.out
    assert sent["resolve"]["ok"] is True


def test_a_workspace_without_the_channel_records_the_message_only(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIIR_WORKSPACE")
    ran = setup.run(capsys)  # no approval is asked for what is not sent
    assert ran.status == 0, ran.err
    assert setup.receiver.requests == []
    assert "not sent: no slack channel in aiir.yaml" in ran.out
    assert len(of_type(setup.events(), "notify.rendered")) == 7
    assert of_type(setup.events(), "notify.sent") == []


def test_a_sandbox_run_sends_nothing_to_a_real_channel(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every channel variable points at a real receiver; a practice run reaches none of them."""
    ran = setup.exercise(capsys, "--sandbox", "--yes")
    assert ran.status == 0, ran.err
    assert setup.receiver.requests == []
    assert "SANDBOX" in ran.out.splitlines()[0]
    assert ran.out.count("(sandbox): kept in the exercise's inbox") == 7
    sent = of_type(setup.events(), "notify.sent")
    assert [s["simulated"] for s in sent] == ["sandbox"] * 7
    opened = of_type(setup.events(), "incident.opened")[0]
    assert opened["exercise"] == "sandbox"
    stored = journal_bytes(setup.incidents)
    for secret in setup.secrets:  # no channel secret was even read
        assert secret.encode() not in stored


# --- one node at a time ---------------------------------------------------------------------------


def _node(**fields: Any) -> NotifyNode:
    return NotifyNode.model_validate({"kind": "notify", "title": "t", "next": "n", **fields})


def _loaded(tmp_path: Path, **channels: Any) -> Loaded:
    config = Workspace.model_validate({"aiir": 1, "workspace": "w", "channels": channels})
    return Loaded(tmp_path, config, Team.model_validate(TEAM), None)


@pytest.mark.parametrize(
    ("fields", "ready", "reason"),
    [
        ({"channel": "record"}, False, "record: recorded, not sent"),
        ({"channel": "email"}, False, "email: recorded, not sent"),
        ({"channel": "slack"}, False, "not sent: no slack channel in aiir.yaml"),
        ({"channel": "pagerduty"}, True, ""),
        ({"channel": "pagerduty", "to": "security"}, True, ""),
    ],
)
def test_route_says_whether_a_message_can_go_out(
    tmp_path: Path, fields: dict[str, Any], ready: bool, reason: str
) -> None:
    workspace = _loaded(tmp_path, pagerduty=CHANNELS["pagerduty"])
    target = dispatch.route(_node(message="m", **fields), workspace)
    assert (target.ready, target.reason) == (ready, reason)


def test_a_role_page_without_a_workspace_cannot_go_out() -> None:
    target = dispatch.route(_node(message="m", channel="pagerduty", to="security"), None)
    assert (target.ready, target.reason) == (False, "not sent: no aiir.yaml with a team roster")


@pytest.mark.parametrize(
    ("fields", "external"),
    [
        ({"channel": "slack"}, False),
        ({"channel": "slack", "audience": "external"}, True),
        ({"channel": "record", "audience": "regulator"}, True),
        ({"channel": "statuspage", "audience": "internal"}, True),  # a status page is public
    ],
)
def test_external_messages_are_those_that_leave_the_company(
    fields: dict[str, Any], external: bool
) -> None:
    assert dispatch.external(_node(message="m", **fields)) is external


@pytest.mark.parametrize(
    ("severity", "pagerduty", "statuspage"),
    [
        ("SEV1", "critical", "critical"),
        ("SEV2", "error", "major"),
        ("SEV3", "warning", "minor"),
        ("SEV4", "info", "none"),
        ("SEV5", "info", "none"),
    ],
)
def test_severity_maps_to_pagerduty_severity_and_statuspage_impact(
    receiver: Receiver, tmp_path: Path, severity: str, pagerduty: str, statuspage: str
) -> None:
    workspace = _loaded(
        tmp_path, pagerduty=CHANNELS["pagerduty"], statuspage=CHANNELS["statuspage"]
    )
    environ = {
        "TEST_PD_ROUTING_KEY": PD_KEY,
        "TEST_STATUSPAGE_KEY": STATUSPAGE_KEY,
        "AIIR_PAGERDUTY_URL": f"{receiver.url}/v2/enqueue",
        "AIIR_STATUSPAGE_URL": receiver.url,
    }
    notifier = Notifier(httpx2.Client(trust_env=False), lambda _: None, environ)
    incident = Incident(id="INC-1", directory=tmp_path, runbook="rb", title="T", severity=severity)
    incident.started_at = STARTED
    for node in (_node(message="m", channel="pagerduty"), _node(message="m", channel="statuspage")):
        assert dispatch.deliver(node, "m", incident, workspace, notifier, {}).ok
    page, opened = receiver.requests
    assert page.json()["payload"]["severity"] == pagerduty
    assert opened.json()["incident"]["impact_override"] == statuspage


def test_a_role_without_a_routing_key_cannot_be_paged(tmp_path: Path) -> None:
    workspace = _loaded(tmp_path, pagerduty=CHANNELS["pagerduty"])
    notifier = Notifier(httpx2.Client(), lambda _: None, {})
    incident = Incident(id="INC-1", directory=tmp_path, severity="SEV2")
    with pytest.raises(InputError, match="'mlops': the roster has no PagerDuty routing key"):
        dispatch.deliver(
            _node(message="m", channel="pagerduty", to="mlops"),
            "m",
            incident,
            workspace,
            notifier,
            {},
        )
    with pytest.raises(InputError, match="'nobody': no such role in the team roster"):
        dispatch.deliver(
            _node(message="m", channel="pagerduty", to="nobody"),
            "m",
            incident,
            workspace,
            notifier,
            {},
        )


def test_slack_blocks_mark_a_drill_and_keep_within_slacks_limits() -> None:
    incident = Incident(
        id="INC-1", directory=Path(), runbook="rb", title="x" * 200, severity="SEV1", drill=True
    )
    header, section, context = dispatch.slack_blocks("y" * 5000, incident)
    assert len(header["text"]["text"]) == 150
    assert len(section["text"]["text"]) == 2900
    assert context["elements"][0]["text"] == "`INC-1` · runbook `rb` · DRILL"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "We are investigating an issue affecting\nour AI assistant. While we work on it, some",
            "We are investigating an issue affecting our AI assistant.",
        ),
        ("Degraded answers\n\nMore detail follows.", "Degraded answers"),
        ("Is it down? We are checking.", "Is it down?"),
        ("x" * 300, "x" * 119 + "…"),
        ("", "Service issue"),
    ],
)
def test_a_public_incident_is_named_after_the_first_sentence_of_its_text(
    text: str, name: str
) -> None:
    assert dispatch.headline(text) == name
