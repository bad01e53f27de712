"""Notify nodes sent through a workspace's channels to real receivers on loopback.

``aiir run`` walks a small runbook against the simulated gateway served on a loopback socket (a
real run: only ``--sandbox`` makes an exercise) that pages (channel and a role's own routing key),
posts to Slack, opens then updates a Statuspage incident, calls a partner webhook and resolves the
page; the receivers record every request, so the tests assert the exact bodies of each API. The
same walk with ``--sandbox`` sends nothing: its messages stay in the exercise's inbox.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aiir.errors import InputError
from aiir.formats.organisation import Team, Workspace
from aiir.formats.schema import NotifyNode
from aiir.formats.workspace import Loaded
from aiir.incident.journal import Event
from aiir.incident.state import Incident
from aiir.outbound import dispatch
from aiir.outbound.notify import Notifier
from aiir.sandbox import SandboxState, create_app, serve_in_thread
from tests.helpers import write
from tests.incident.test_journal import rechain
from tests.receiver import Answer, Receiver, serve_receiver
from tests.respond import (
    TEAM,
    aiir,
    freeze,
    incident_id,
    journal,
    journal_bytes,
    no_terminal,
    of_type,
    write_workspace,
)
from tests.support.cli import Ran
from tests.support.clock import START, FakeClock

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
    clock = FakeClock(START)
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
        ("POST", "/v2/enqueue"),  # the walk ended resolved: the page still open is resolved
    ]
    page, page_security, slack, opened, partner, updated, resolved, ended = setup.receiver.requests
    page_anchor, _, slack_anchor, _, partner_anchor, *_ = sent_anchors(setup.events())
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
                "journal_anchor": page_anchor,
            },
        },
        "client": "aiir",
    }
    assert page_security.json()["routing_key"] == SECURITY_KEY  # `to: security`: its own key
    assert page_security.json()["dedup_key"] == f"aiir-{ID}-security"
    assert page_security.json()["payload"]["summary"] == f"Security needed on {ID}."
    slack_valid(slack.json())
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
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"`{ID}` · runbook `comms` · journal anchor `{slack_anchor}`",
                    }
                ],
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
        "journal_anchor": partner_anchor,
    }
    assert updated.headers["authorization"] == f"OAuth {STATUSPAGE_KEY}"
    assert updated.json() == {"incident": {"status": "resolved", "body": RESOLVED_TEXT}}
    assert resolved.json() == {
        "routing_key": PD_KEY,
        "event_action": "resolve",
        "dedup_key": f"aiir-{ID}",  # the same key as the trigger: one alert per incident
    }
    assert ended.json() == {
        "routing_key": SECURITY_KEY,  # with the key that opened it
        "event_action": "resolve",
        "dedup_key": f"aiir-{ID}-security",
    }


def sent_anchors(events: list[Event]) -> list[str | None]:
    """For each message a node sent, the journal's head just before its ``notify.sent`` line."""
    return [
        f"{before.seq}:{before.hash[:16]}" if event.data.get("node") else None
        for before, event in itertools.pairwise(events)
        if event.type == "notify.sent"
    ]


def test_every_message_carries_the_journal_anchor_it_left_with_and_verify_takes_it(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """The anchor sent with a message is a copy of the chain's head kept outside the journal: the
    journal as written verifies against it, and a line changed before it no longer does."""
    assert setup.run(capsys, "--yes").status == 0
    events = setup.events()
    anchors = sent_anchors(events)
    journalled = [s.get("anchor") for s in of_type(events, "notify.sent")]
    assert journalled == [*anchors[:-1], None]  # the resolve at the end belongs to no node
    slack = next(r for r in setup.receiver.requests if r.path == SLACK_PATH)
    anchor = slack_anchor_of(slack.json())
    assert anchor == anchors[2]
    head = f"{events[-1].seq}:{events[-1].hash}"  # printed at the end of the walk
    given = ("--anchor", anchor, "--anchor", head)
    ok = aiir(capsys, "verify", ID, "--incident-dir", str(setup.incidents), *given)
    assert ok.status == 0, ok.out + ok.err
    # A forger rewrites the first line (the incident's severity) and recomputes the chain after
    # it: the chain holds, the anchor in Slack does not.
    path = setup.incidents / ID / "journal.jsonl"
    forged = [json.loads(line) for line in path.read_bytes().splitlines()]
    forged[0]["data"]["severity"] = "SEV4"
    path.write_bytes(b"".join(rechain(forged, 0)))
    assert aiir(capsys, "verify", ID, "--incident-dir", str(setup.incidents)).status == 0
    bad = aiir(capsys, "verify", ID, "--incident-dir", str(setup.incidents), *given)
    assert bad.status == 1, bad.out + bad.err
    seq = anchor.split(":")[0]
    assert f"anchor {anchor}: line {seq} has hash " in bad.err


def slack_anchor_of(body: dict[str, Any]) -> str:
    context = body["blocks"][-1]["elements"][0]["text"]
    return str(context.rsplit("journal anchor `", 1)[1].rstrip("`"))


def test_every_send_is_journalled_with_the_receivers_reply(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    assert setup.run(capsys, "--yes").status == 0
    sent = of_type(setup.events(), "notify.sent")
    assert [(s.get("node"), s["channel"], s["ok"], s["status"]) for s in sent] == [
        ("page", "pagerduty", True, 202),
        ("page-security", "pagerduty", True, 202),
        ("tell", "slack", True, 200),
        ("open-status", "statuspage", True, 201),
        ("partners", "webhook", True, 200),
        ("update-status", "statuspage", True, 201),
        ("resolve", "pagerduty", True, 202),
        (None, "pagerduty", True, 202),  # resolved as the incident ended
    ]
    assert sent[-1]["cause"] == "incident ended resolved"
    assert sent[-1]["to"] == "security"
    assert [s["reference"] for s in sent] == [
        f"aiir-{ID}",
        f"aiir-{ID}-security",
        None,
        "p0abc123",
        None,
        "p0abc123",
        f"aiir-{ID}",
        f"aiir-{ID}-security",
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
    sent = {s.get("node"): s for s in of_type(setup.events(), "notify.sent")}
    assert (sent["tell"]["ok"], sent["tell"]["status"]) == (False, 403)
    assert sent["tell"]["reason"] == "HTTP 403: invalid_token"
    assert sent["partners"]["ok"] is False
    assert sent["partners"]["reason"] == (
        "not sent: webhook channel: environment variable TEST_PARTNER_WEBHOOK is not set"
    )
    assert "✗ slack did not take it: HTTP 403: invalid_token" in ran.out
    assert "✗ webhook: not sent: webhook channel: environment variable" in ran.out
    assert "webhook did not take it" not in ran.out  # nothing was offered to it
    assert sent["resolve"]["ok"] is True


def test_a_message_with_no_answer_is_said_to_be_unknown_not_refused(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """Slack's connection drops once it has the message, on every try: it may have posted it.
    Neither "sent" nor "did not take it" is true; the screen, journal and report say so."""
    setup.receiver.queue(SLACK_PATH, *[Answer(200, b"", drop=True)] * 4)
    ran = setup.run(capsys, "--yes")
    assert ran.status == 0, ran.err
    sent = {s.get("node"): s for s in of_type(setup.events(), "notify.sent")}
    assert (sent["tell"]["ok"], sent["tell"]["uncertain"]) == (False, True)
    out = " ".join(ran.out.split())
    assert "? slack: no answer: connection lost after the request was sent" in out
    assert "; it may have been delivered" in out
    assert "slack did not take it" not in out
    assert "✓ sent to slack" not in out


def test_a_channel_secret_no_key_can_hold_is_sent_nowhere_and_said_in_one_line(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook URL with a line break inside, a routing key with a non-ASCII character: nothing
    goes out on either channel and the value is quoted nowhere; a trailing newline is just
    dropped (the Statuspage key, as a mounted secret file ends)."""
    hook = f"{setup.receiver.url}{SLACK_PATH}\nX-Injected: 1"
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", hook)
    monkeypatch.setenv("TEST_PD_ROUTING_KEY", PD_KEY + "é")
    monkeypatch.setenv("TEST_STATUSPAGE_KEY", STATUSPAGE_KEY + "\n")
    ran = setup.run(capsys, "--yes")
    assert ran.status == 0, ran.err  # containment is not held up by a message
    paths = [r.path for r in setup.receiver.requests]
    assert SLACK_PATH not in paths
    sent_pages = [r.json() for r in setup.receiver.to("/v2/enqueue")]
    assert [(p["event_action"], p["routing_key"]) for p in sent_pages] == [
        ("trigger", SECURITY_KEY),  # `to: security` pages with the role's own key
        ("resolve", SECURITY_KEY),  # resolved as the incident ended
    ]
    sent = {s.get("node"): s for s in of_type(setup.events(), "notify.sent")}
    for node, variable in [("tell", "TEST_SLACK_WEBHOOK"), ("page", "TEST_PD_ROUTING_KEY")]:
        assert sent[node]["ok"] is False
        assert sent[node]["reason"].endswith(
            f"environment variable {variable} holds a line break, a control or a non-ASCII "
            "character, which no key or URL can; nothing was sent"
        )
    assert (sent["open-status"]["ok"], sent["update-status"]["ok"]) == (True, True)
    opened = setup.receiver.to(f"/v1/pages/{PAGE}/incidents")[0]
    assert opened.headers["authorization"] == f"OAuth {STATUSPAGE_KEY}"
    stored = journal_bytes(setup.incidents)
    for value in (hook, PD_KEY, "X-Injected"):
        assert value.encode() not in stored
        assert value not in ran.out + ran.err


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
    # Seven messages, and the page still open resolved as the walk ends: into the inbox too.
    assert ran.out.count("(sandbox): kept in the exercise's inbox") == 8
    sent = of_type(setup.events(), "notify.sent")
    assert [s["simulated"] for s in sent] == ["sandbox"] * 8
    assert sent[-1]["cause"] == "incident ended resolved"
    assert sent[-1]["request"]["json"]["event_action"] == "resolve"
    assert sent[-1]["reference"] == f"aiir-{ID}-security"
    assert (sent[-1]["ok"], sent[-1]["status"]) == (True, 202)  # as the inbox answered it
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
    blocks = dispatch.slack_blocks("y" * 5000, incident)
    header, *sections, context = blocks
    assert header["text"]["text"] == f"[SEV1] {'x' * 142}…"  # a cut title says so
    assert [len(s["text"]["text"]) for s in sections] == [3000, 2000]  # one word: cut at 3,000
    assert context["elements"][0]["text"] == "`INC-1` · runbook `rb` · DRILL"
    slack_valid({"text": dispatch.slack_fallback("y" * 5000), "blocks": blocks})


def test_a_runbook_title_heads_every_channel_printable() -> None:
    """A shared runbook's title went raw into Slack's header, a Teams card's heading and a Jira
    summary: a bidi override turned the readers' text around, zero-width characters hid text."""
    from aiir.outbound.jira import incident_title
    from aiir.outbound.teams import card

    incident = Incident(
        id="INC-1", directory=Path(), runbook="rb", title=f"Leak{UNPRINTABLE} here", severity="SEV1"
    )
    (header, *_) = dispatch.slack_blocks("text", incident)
    assert header["text"]["text"] == "[SEV1] Leakevil here"
    assert card("text", incident)["body"][0]["text"] == "\\[SEV1\\] Leakevil here"
    assert incident_title(incident) == "[SEV1] Leakevil here"


def test_a_long_message_is_split_over_sections_at_line_ends_and_spaces_nothing_lost() -> None:
    paragraph = " ".join(f"word{i}" for i in range(400))  # about 3,600 characters, one line
    text = "\n".join([paragraph, "short line", paragraph, "&amp;" * 700])
    parts = dispatch.split_text(text, 3000)
    assert all(len(p) <= 3000 for p in parts)
    visible = "".join(text.split())
    assert "".join("".join(parts).split()) == visible  # only a line end or space cut at goes
    words = set(text.split())
    assert all(w in words for p in parts if "&" not in p for w in p.split())  # between words
    assert all("&amp;" in p or "&" not in p for p in parts)
    assert all(p.count("&") == p.count(";") for p in parts)  # no entity cut in two
    incident = Incident(id="INC-1", directory=Path(), runbook="rb", title="T", severity="SEV2")
    fallback = dispatch.slack_fallback(text)
    assert fallback.endswith(" …")  # the notification text is cut with a mark, never silently
    assert len(fallback) <= 3000
    slack_valid({"text": fallback, "blocks": dispatch.slack_blocks(text, incident)})


def test_a_message_too_long_for_one_slack_message_says_where_the_rest_is() -> None:
    incident = Incident(id="INC-1", directory=Path(), runbook="rb", title="T", severity="SEV2")
    text = "\n".join("x" * 2999 for _ in range(60))
    blocks = dispatch.slack_blocks(text, incident)
    assert len(blocks) == 50
    assert blocks[-2]["text"]["text"] == (
        "_… 38,987 more characters of this message are in the incident's journal._"
    )
    slack_valid({"text": dispatch.slack_fallback(text), "blocks": blocks})


# --- values inserted into a Slack message are escaped; the author's formatting stays ---------

HOSTILE_SLACK = "<!channel> <@U0123ABCD> <https://evil.example/login|Okta re-auth> & <b>"
ESCAPED_SLACK = (
    "&lt;!channel&gt; &lt;@U0123ABCD&gt; &lt;https://evil.example/login|Okta re-auth&gt; "
    "&amp; &lt;b&gt;"
)
AUTHORED = "*Report*: {{ answers.report }} (see <https://wiki.example/ir|the runbook>)"


@pytest.mark.parametrize("how", ["message", "template"])
def test_a_value_inserted_into_a_slack_message_is_escaped_and_the_authors_markup_stays(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    said = {"template": "hostile"} if how == "template" else {"message": AUTHORED}
    if how == "template":
        write_text(tmp_path / "workspace" / "templates" / "hostile.j2", AUTHORED)
    runbook = {
        **RUNBOOK,
        "start": "report",
        "nodes": {
            "report": {"kind": "input", "title": "Report", "prompt": "What?", "next": "tell"},
            "tell": {"kind": "notify", "title": "Tell", "channel": "slack", **said, "next": "copy"},
            "copy": {
                "kind": "notify",
                "title": "Copy partners",
                "channel": "webhook",
                **said,
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }
    write(setup.runbook, runbook)
    write(tmp_path / "answers.yaml", {"report": HOSTILE_SLACK, "copy.approve": True})
    ran = setup.run(capsys, "--yes", "-a", str(tmp_path / "answers.yaml"))
    assert ran.status == 0, ran.err
    slack, partner = setup.receiver.requests
    wire = f"*Report*: {ESCAPED_SLACK} (see <https://wiki.example/ir|the runbook>)"
    plain = f"*Report*: {HOSTILE_SLACK} (see <https://wiki.example/ir|the runbook>)"
    assert slack.json()["text"] == wire
    assert slack.json()["blocks"][1]["text"]["text"] == wire
    slack_valid(slack.json())
    assert partner.json()["text"] == plain  # a webhook's text is plain
    rendered = of_type(setup.events(), "notify.rendered")
    assert [(r["text"], r.get("wire")) for r in rendered] == [(plain, wire), (plain, None)]
    assert plain in ran.out  # the screen shows what the journal keeps


UNPRINTABLE = "\x1b]0;owned\x07\x1b[2J\u202eevil\u202c\u200b\ufeff\x9b31m"


def test_a_value_leaves_for_any_channel_printable_and_the_journal_keeps_it_exactly(
    setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value's terminal escapes, bidi override and zero-width characters went out in Slack's
    and a webhook's text: they turn a reader's text around or hide what is there, in a channel
    as on a terminal."""
    runbook = {
        **RUNBOOK,
        "start": "report",
        "nodes": {
            "report": {"kind": "input", "title": "Report", "prompt": "What?", "next": "tell"},
            "tell": {
                "kind": "notify",
                "title": "Tell",
                "channel": "slack",
                "message": "Report: {{ answers.report }}",
                "next": "copy",
            },
            "copy": {
                "kind": "notify",
                "title": "Copy partners",
                "channel": "webhook",
                "message": "Report: {{ answers.report }}",
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }
    write(setup.runbook, runbook)
    write(tmp_path / "answers.yaml", {"report": f"a{UNPRINTABLE}b", "copy.approve": True})
    ran = setup.run(capsys, "--yes", "-a", str(tmp_path / "answers.yaml"))
    assert ran.status == 0, ran.err
    slack, partner = setup.receiver.requests
    assert slack.json()["text"] == "Report: aevilb"
    assert slack.json()["blocks"][1]["text"]["text"] == "Report: aevilb"
    assert partner.json()["text"] == "Report: aevilb"
    rendered = of_type(setup.events(), "notify.rendered")
    assert [r["text"] for r in rendered] == [f"Report: a{UNPRINTABLE}b"] * 2  # kept exactly


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def slack_valid(body: dict[str, Any]) -> None:
    """Every block parses as a slack_sdk Block Kit model, passes its checks and loses nothing."""
    from slack_sdk.models.blocks import Block

    assert isinstance(body["text"], str)
    assert body["text"]
    assert len(body["blocks"]) <= 50
    for raw in body["blocks"]:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()
        assert block.to_dict() == raw  # no field Block Kit does not know


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


# --- the status-update cadence counts delivered status posts only -------------------------------


def test_a_failed_page_is_no_status_post_a_delivered_slack_post_is(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checklist = {"kind": "checklist", "title": "Work", "items": [{"id": "a", "text": "Work"}]}
    runbook = {
        **RUNBOOK,
        "start": "page",
        "nodes": {
            "page": {**RUNBOOK["nodes"]["page"], "next": "wait1"},
            "wait1": {**checklist, "next": "tell"},
            "tell": {**RUNBOOK["nodes"]["tell"], "next": "wait2"},
            "wait2": {**checklist, "next": "wait3"},
            "wait3": {**checklist, "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "failed"},  # pages stay open
        },
    }
    write(setup.runbook, runbook)
    setup.receiver.queue("/v2/enqueue", Answer(400, b'{"status": "invalid event"}'))
    # The clock moves as each node is entered, after the node's reminder check.
    clock = FakeClock(START)
    ticks = {"page": 1, "wait1": 5, "tell": 1, "wait2": 19, "wait3": 2}
    freeze(monkeypatch, clock, [clock.ticking(0, at=ticks)])
    ran = setup.run(capsys, "--yes", "-a", str(_answers(setup)))
    assert ran.status == 1, ran.err  # it ends failed
    sent = [(s["channel"], s["ok"]) for s in of_type(setup.events(), "notify.sent")]
    assert sent == [("pagerduty", False), ("slack", True)]
    reminders = [(e.ts, e.data) for e in setup.events() if e.type == "reminder"]
    assert reminders == [
        (_at(6), {"due": _at(5), "reason": "first status update due within 5 min"}),
        (_at(28), {"due": _at(27), "reason": "next status update due (every 20 min)"}),
    ]


def _answers(setup: Setup) -> Path:
    path = setup.runbook.with_name("answers.yaml")
    write(path, {"wait1": "all", "wait2": "all", "wait3": "all"})
    return path


def _at(minutes: float) -> str:
    moment = START + dt.timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- an incident that ends resolves the pages it opened; pages link their runbook --------------


def _paging_runbook(outcome: str, **extra: Any) -> dict[str, Any]:
    nodes = RUNBOOK["nodes"]
    return {
        **RUNBOOK,
        **extra,
        "start": "page",
        "nodes": {
            "page": {**nodes["page"], "next": "page-security"},
            "page-security": {**nodes["page-security"], "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": outcome},
        },
    }


@pytest.mark.parametrize(
    ("outcome", "resolved"),
    [
        ("resolved", True),
        ("false-positive", True),
        ("handed-off", True),
        ("escalated", False),  # someone else is on it now
        ("failed", False),
        ("aborted", False),
        ("contained", False),  # claimed, with no lever proven in effect: not contained
    ],
)
def test_an_incident_that_ends_resolves_every_page_it_opened(
    setup: Setup, capsys: pytest.CaptureFixture[str], outcome: str, resolved: bool
) -> None:
    write(setup.runbook, _paging_runbook(outcome))
    ran = setup.run(capsys, "--yes")
    assert ran.status == (0 if outcome not in {"failed", "aborted", "contained"} else 1), ran.err
    sent = [r.json() for r in setup.receiver.to("/v2/enqueue")]
    actions = [(s["event_action"], s["dedup_key"], s["routing_key"]) for s in sent]
    triggers = [("trigger", f"aiir-{ID}", PD_KEY), ("trigger", f"aiir-{ID}-security", SECURITY_KEY)]
    resolves = [("resolve", key, routing) for _, key, routing in triggers]
    assert actions == triggers + (resolves if resolved else [])
    journalled = [
        (s.get("node"), s["ok"], s["reference"]) for s in of_type(setup.events(), "notify.sent")
    ]
    ends = [(None, True, f"aiir-{ID}"), (None, True, f"aiir-{ID}-security")] if resolved else []
    assert journalled[2:] == ends
    events = [e.type for e in setup.events()]
    assert events[-1] == "incident.ended"  # resolved before the incident is closed


@pytest.mark.parametrize("case", ["refused", "resolved-by-the-runbook"])
def test_a_page_refused_or_already_resolved_is_not_resolved_at_the_end(
    setup: Setup, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    runbook = _paging_runbook("resolved")
    if case == "refused":
        setup.receiver.queue("/v2/enqueue", Answer(400, b'{"status": "invalid event"}'))
    else:
        runbook["nodes"]["page-security"]["next"] = "resolve"
        runbook["nodes"]["resolve"] = {**RUNBOOK["nodes"]["resolve"], "next": "done"}
    write(setup.runbook, runbook)
    ran = setup.run(capsys, "--yes")
    assert ran.status == 0, ran.err
    sent = [(r.json()["event_action"], r.json()["dedup_key"]) for r in setup.receiver.requests]
    own = [("resolve", f"aiir-{ID}")] if case != "refused" else []  # the runbook's resolve node
    assert sent == [
        ("trigger", f"aiir-{ID}"),
        ("trigger", f"aiir-{ID}-security"),
        *own,
        ("resolve", f"aiir-{ID}-security"),  # the only page left open
    ]


def test_practice_pages_and_real_pages_are_never_resolved_through_each_other() -> None:
    """An exercise resolves only the pages it kept in its inbox; a real walk only real ones."""

    def page(seq: int, action: str, key: str, **extra: Any) -> Event:
        data = {"channel": "pagerduty", "ok": True, "reference": key, "to": None, **extra}
        data["request"] = {"json": {"event_action": action, "dedup_key": key}}
        return Event(seq, STARTED, "notify.sent", "t", None, data, "", "")

    events = [
        page(1, "trigger", "aiir-real"),
        page(2, "trigger", "aiir-practice", simulated="drill"),
        page(3, "trigger", "aiir-closed", simulated="drill"),
        page(4, "resolve", "aiir-closed", simulated="drill"),
    ]
    incident = Incident.from_events(ID, Path(), events)
    assert dispatch.open_pages(incident) == {"aiir-real": None}
    assert dispatch.open_pages(incident, simulated=True) == {"aiir-practice": None}


@pytest.mark.parametrize(
    ("runbook_url", "workspace_url", "href"),
    [
        ("https://git.example/ir/comms.yaml", None, "https://git.example/ir/comms.yaml"),
        (None, "https://wiki.example/runbooks/{id}", "https://wiki.example/runbooks/comms"),
        (
            "https://git.example/ir/comms.yaml",
            "https://wiki.example/{id}",
            "https://git.example/ir/comms.yaml",
        ),
        (None, None, None),
    ],
)
def test_a_page_links_to_its_runbook_when_a_url_is_given(
    setup: Setup,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    runbook_url: str | None,
    workspace_url: str | None,
    href: str | None,
) -> None:
    extra = {"url": runbook_url} if runbook_url else {}
    write(setup.runbook, _paging_runbook("escalated", **extra))
    if workspace_url:
        config = {
            "aiir": 1,
            "workspace": "acme",
            "channels": CHANNELS,
            "runbook_url": workspace_url,
        }
        write_workspace(tmp_path / "workspace", config)
    assert setup.run(capsys, "--yes").status == 0
    page, page_security = (r.json() for r in setup.receiver.requests)
    links = [{"href": href, "text": "Runbook: comms"}] if href else None
    assert page.get("links") == links
    assert page_security.get("links") == links
