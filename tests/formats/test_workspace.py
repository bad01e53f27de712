"""The workspace: ``aiir.yaml`` found upwards, the roster's on-call, the disclosure policy and the
status-update cadence for major incidents (all with a frozen clock)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import httpx2
import pytest
from rich.console import Console

from aiir.environment import Environment
from aiir.errors import LoadError
from aiir.formats import workspace as ws
from aiir.incident.state import Incident
from aiir.prompts import NoTerminalPrompter
from aiir.reports.context import disclosure
from aiir.respond.session import start
from tests.helpers import where, write
from tests.receiver import Answer, serve_receiver
from tests.respond import CONFIG, aiir, freeze, incident_id, no_terminal, of_type, write_workspace
from tests.support.clock import START, FakeClock

# --- finding and loading -------------------------------------------------------------------------


def test_aiir_yaml_is_found_from_a_folder_below_it(tmp_path: Path) -> None:
    write_workspace(tmp_path)
    deep = tmp_path / "runbooks" / "team-a"
    deep.mkdir(parents=True)
    assert ws.find(deep, {}) == tmp_path / "aiir.yaml"
    loaded = ws.current({}, deep)
    assert loaded is not None
    assert loaded.root == tmp_path
    assert loaded.config.workspace == "acme-ai"
    assert loaded.team is not None
    assert loaded.team.roles["security"].on_call == "sam"
    assert loaded.inventory is not None
    assert [s.id for s in loaded.inventory.systems] == ["support-bot"]


def test_aiir_workspace_points_at_a_folder_or_a_file(tmp_path: Path) -> None:
    write_workspace(tmp_path / "elsewhere")
    here = tmp_path / "here"
    here.mkdir()
    explicit = tmp_path / "elsewhere"
    assert ws.find(here, {"AIIR_WORKSPACE": str(explicit)}) == explicit / "aiir.yaml"
    assert ws.find(here, {"AIIR_WORKSPACE": str(explicit / "aiir.yaml")}) == explicit / "aiir.yaml"


def test_no_aiir_yaml_is_no_workspace(tmp_path: Path) -> None:
    assert ws.find(tmp_path, {}) is None
    assert ws.current({}, tmp_path) is None


def test_a_roster_or_inventory_file_that_is_not_there_is_none(tmp_path: Path) -> None:
    write(tmp_path / "aiir.yaml", {"aiir": 1, "workspace": "w"})
    loaded = ws.load(tmp_path / "aiir.yaml")
    assert (loaded.team, loaded.inventory, loaded.systems()) == (None, None, {})
    assert loaded.template_dir() is None  # `templates` names a folder that does not exist
    (tmp_path / "templates").mkdir()
    assert ws.load(tmp_path / "aiir.yaml").template_dir() == tmp_path / "templates"


def test_a_roster_or_folder_the_workspace_names_that_is_not_there_is_an_error(
    tmp_path: Path,
) -> None:
    """`team: temas.yaml` loaded as no roster at all (no owner checked, nobody on call) and
    `aiir validate` passed it, as it did `runbooks: [runbook]` and a team that is a folder."""
    from aiir.validate.documents import validate_paths

    config = {"aiir": 1, "workspace": "w", "team": "temas.yaml", "runbooks": ["runbooks", "x.yaml"]}
    text = write(tmp_path / "aiir.yaml", config)
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "x.yaml").write_text("a: 1\n")
    with pytest.raises(LoadError) as caught:
        ws.load(tmp_path / "aiir.yaml")
    line = text.splitlines().index("team: temas.yaml") + 1
    team = f"{tmp_path / 'aiir.yaml'}:{line}:7: error: team: 'temas.yaml' is no file: expected the team file"
    assert caught.value.render() == team
    rendered = [f.render() for f in validate_paths([tmp_path / "aiir.yaml"]).findings]
    assert rendered[0] == team
    assert rendered[1].endswith("runbooks[1]: 'x.yaml' is a file: expected a folder of runbooks")
    assert len(rendered) == 2


def test_a_role_naming_nobody_of_the_roster_is_an_error_at_its_line(tmp_path: Path) -> None:
    """`on_call: alx` (for alex) loaded: the role showed nobody on call and paged no one, and
    `aiir validate` passed the roster."""
    from aiir.validate.documents import validate_paths

    write(tmp_path / "aiir.yaml", {"aiir": 1, "workspace": "w"})
    roster = {
        "aiir": 1,
        "team": "w",
        "people": {"alex": {"name": "Alex"}},
        "roles": {"security": {"on_call": "alx", "people": ["alex", "sm"]}},
    }
    text = write(tmp_path / "team.yaml", roster)
    with pytest.raises(LoadError) as caught:
        ws.load(tmp_path / "aiir.yaml")
    assert caught.value.render() == (
        f"{tmp_path / 'team.yaml'}:{where(text, 'on_call: alx', 'alx')}: error: "
        "roles.security.on_call: 'alx' is not one of the roster's people (alex)"
    )
    rendered = [f.render() for f in validate_paths([tmp_path / "team.yaml"]).findings]
    assert rendered == [
        caught.value.render(),
        f"{tmp_path / 'team.yaml'}:{where(text, '- sm', 'sm')}: error: "
        "roles.security.people[1]: 'sm' is not one of the roster's people (alex)",
    ]


def test_an_invalid_roster_points_at_its_line(tmp_path: Path) -> None:
    write(tmp_path / "aiir.yaml", CONFIG)
    (tmp_path / "team.yaml").write_text(
        "aiir: 1\nteam: acme\nroles:\n  security: {on_call: sam, pager: 1}\n", encoding="utf-8"
    )
    with pytest.raises(LoadError) as caught:
        ws.load(tmp_path / "aiir.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'team.yaml'}:4:")
    assert "pager" in str(caught.value)


# --- who is on call ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "person", "label"),
    [
        ("security", "sam", "security: Sam Example @sam"),
        ("ml-engineering", "kim", "ml-engineering: Kim Example"),  # no Slack handle
        ("legal-compliance", None, "legal-compliance (nobody on call in the roster)"),
        ("alex", "alex", "alex: Alex Example @alex"),  # an owner may be a person
        ("finance", None, "finance (nobody on call in the roster)"),
    ],
)
def test_an_owner_role_resolves_to_who_is_on_call(
    tmp_path: Path, owner: str, person: str | None, label: str
) -> None:
    loaded = ws.load(write_workspace(tmp_path) / "aiir.yaml")
    on_call = loaded.on_call(owner)
    assert on_call.person_id == person
    assert on_call.label() == label


def test_without_a_roster_nobody_is_on_call(tmp_path: Path) -> None:
    write(tmp_path / "aiir.yaml", {"aiir": 1, "workspace": "w"})
    assert ws.load(tmp_path / "aiir.yaml").on_call("security").person is None


# --- disclosure policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "category", "expected"),
    [
        ("SEV1", "prompt-injection", "disclose on the status page within 1h (policy: severity)"),
        ("SEV3", "sensitive-data-leak", "disclose to customers within 72h (policy: category)"),
        (
            "SEV1",
            "sensitive-data-leak",
            "disclose on the status page within 1h (policy: severity); "
            "disclose to customers within 72h (policy: category)",
        ),
        ("SEV2", "prompt-injection", None),
        ("SEV2", None, None),
    ],
)
def test_the_disclosure_policy_names_every_rule_that_applies(
    tmp_path: Path, severity: str, category: str | None, expected: str | None
) -> None:
    loaded = ws.load(write_workspace(tmp_path) / "aiir.yaml")
    incident = Incident(id="INC-1", directory=tmp_path, severity=severity, category=category)
    assert disclosure(incident, loaded) == expected
    assert disclosure(incident, None) is None


SMALL: dict[str, Any] = {
    "aiir": 1,
    "id": "small",
    "title": "A small incident",
    "owner": "security",
    "severity": "SEV2",
    "category": "sensitive-data-leak",
    "start": "triage",
    "nodes": {
        "triage": {
            "kind": "question",
            "title": "Triage",
            "owner": "security",
            "prompt": "How bad?",
            "choices": [
                {"label": "Public", "value": "public", "severity": "SEV1", "next": "done"},
                {"label": "Contained", "value": "contained", "next": "done"},
            ],
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (
            "public",
            "Disclosure policy: disclose on the status page within 1h (policy: severity); "
            "disclose to customers within 72h (policy: category)",
        ),
        ("contained", "Disclosure policy: disclose to customers within 72h (policy: category)"),
    ],
)
def test_show_says_when_the_policy_requires_disclosure(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    shown: str,
) -> None:
    no_terminal(monkeypatch, write_workspace(tmp_path / "w"))
    freeze(monkeypatch, FakeClock())
    write(tmp_path / "small.yaml", SMALL)
    write(tmp_path / "answers.yaml", {"triage": answer})
    incidents = str(tmp_path / "incidents")
    ran = aiir(
        capsys,
        "run",
        str(tmp_path / "small.yaml"),
        "--answers",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        incidents,
    )
    assert ran.status == 0, ran.err
    assert "owner: security: Sam Example @sam" in ran.out
    ran = aiir(capsys, "show", incident_id(), "--incident-dir", incidents)
    assert shown in ran.out
    ran = aiir(capsys, "show", incident_id(), "--json", "--incident-dir", incidents)
    assert f'"disclosure": "{shown.removeprefix("Disclosure policy: ")}"' in ran.out


def test_show_says_nothing_of_disclosure_when_no_rule_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_terminal(monkeypatch, write_workspace(tmp_path / "w", {"aiir": 1, "workspace": "w"}))
    freeze(monkeypatch, FakeClock())
    write(tmp_path / "small.yaml", SMALL)
    write(tmp_path / "answers.yaml", {"triage": "public"})
    incidents = str(tmp_path / "incidents")
    args = ["--answers", str(tmp_path / "answers.yaml"), "--incident-dir", incidents]
    assert aiir(capsys, "run", str(tmp_path / "small.yaml"), *args).status == 0
    assert "Disclosure" not in aiir(capsys, "show", incident_id(), "--incident-dir", incidents).out


# --- the roster in a walk, and the status-update cadence -----------------------------------------

CADENCE: dict[str, Any] = {
    "aiir": 1,
    "id": "cadence",
    "title": "Major incident cadence",
    "owner": "security",
    "severity": "SEV2",
    "start": "triage",
    "nodes": {
        "triage": {
            "kind": "confirm",
            "title": "Triage",
            "owner": "incident-commander",
            "prompt": "Real?",
            "yes": "contain",
            "no": "done",
        },
        "contain": {
            "kind": "checklist",
            "title": "Contain",
            "owner": "security",
            "items": [{"id": "a", "text": "Contain it"}],
            "next": "page",
        },
        "page": {
            "kind": "notify",
            "title": "Page the on-call",
            "channel": "pagerduty",  # a page calls people in: never a status update
            "message": "We need you.",
            "next": "post",
        },
        "post": {
            "kind": "notify",
            "title": "Post an update",
            "owner": "communications",
            "channel": "slack",  # a status post; drafts kept on record do not reset the cadence
            "message": "We are on it ({{ incident.elapsed }}).",
            "next": "fix",
        },
        "fix": {
            "kind": "checklist",
            "title": "Fix",
            "owner": "legal-compliance",
            "items": [{"id": "b", "text": "Fix it"}],
            "next": "check",
        },
        "check": {
            "kind": "confirm",
            "title": "Check",
            "prompt": "Fixed?",
            "yes": "done",
            "no": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}
ANSWERS = {"triage": True, "contain": "all", "fix": "all", "check": True}


def walk(
    tmp_path: Path,
    minutes: dict[str, float],
    severity: str = "SEV2",
    slack: Answer | None = None,
) -> tuple[Incident, str]:
    """Walk CADENCE with the clock moving ``minutes`` as each node is entered; its page is
    refused (PagerDuty answers 400) and its Slack post answered with ``slack`` (default: taken)."""
    runbook = {**CADENCE, "severity": severity}
    write(tmp_path / "cadence.yaml", runbook)
    channels = {
        "slack": {"webhook_env": "CADENCE_SLACK"},
        "pagerduty": {"routing_key_env": "CADENCE_PD"},
    }
    write_workspace(tmp_path / "w", {**CONFIG, "channels": channels})
    clock = FakeClock(START)
    with serve_receiver() as receiver:
        receiver.queue("/v2/enqueue", Answer(400, b'{"status": "invalid event"}'))
        if slack is not None:
            receiver.queue("/services/cadence", slack)
        env = Environment(
            console=Console(file=io.StringIO(), width=200, highlight=False),
            prompter=NoTerminalPrompter(),
            client=httpx2.Client(),
            clock=clock,
            environ={
                "CADENCE_SLACK": f"{receiver.url}/services/cadence",
                "CADENCE_PD": "R0UT1NGKEYcadence0123456789abcde",
                "AIIR_PAGERDUTY_URL": f"{receiver.url}/v2/enqueue",
            },
            operator="tester",
            incidents_dir=tmp_path / "incidents",
            observers=[clock.ticking(0, at=minutes)],
            workspace=ws.load(tmp_path / "w" / "aiir.yaml"),
        )
        result = start(tmp_path / "cadence.yaml", env, scripted=ANSWERS)
    assert result.ended is not None
    screen = env.console.file.getvalue()  # type: ignore[attr-defined]
    return result.incident, screen


def at(minutes: float) -> str:
    moment = START + dt.timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_the_on_call_is_on_screen_and_in_the_journal(tmp_path: Path) -> None:
    incident, screen = walk(tmp_path, {})
    entered = {e["node"]: e["on_call"] for e in of_type(incident.events, "node.entered")}
    assert entered == {
        "triage": "incident-commander: Alex Example @alex",
        "contain": "security: Sam Example @sam",
        "page": None,
        "post": "communications: Sam Example @sam",
        "fix": "legal-compliance (nobody on call in the roster)",
        "check": None,
        "done": None,
    }
    assert "owner: incident-commander: Alex Example @alex" in screen
    assert "owner: legal-compliance (nobody on call in the roster)" in screen


def test_a_major_incident_is_reminded_of_its_first_update_at_5_min_then_every_20(
    tmp_path: Path,
) -> None:
    # The clock moves as a node is entered, so the node's work happens at the later time:
    # contain at T+6 (the first post was due at T+5); post at T+6 (no second reminder for the
    # same due time) posts; check at T+27 (the next post was due 20 min after T+6).
    incident, screen = walk(tmp_path, {"triage": 6, "fix": 21})
    reminders = [(e.ts, e.data) for e in incident.events if e.type == "reminder"]
    assert reminders == [
        (at(6), {"due": at(5), "reason": "first status update due within 5 min"}),
        (at(27), {"due": at(26), "reason": "next status update due (every 20 min)"}),
    ]
    assert (
        "⏰ first status update due within 5 min: overdue by 00:01:00; post one "
        "(Slack update, status page)" in screen
    )
    assert "⏰ next status update due (every 20 min): overdue by 00:01:00" in screen


def test_after_two_hours_the_cadence_is_hourly(tmp_path: Path) -> None:
    incident, screen = walk(tmp_path, {"triage": 1, "fix": 130})
    reminders = [(e.ts, e.data) for e in incident.events if e.type == "reminder"]
    assert reminders == [
        (at(131), {"due": at(61), "reason": "next status update due (every 60 min)"})
    ]
    assert "overdue by 01:10:00" in screen


def test_a_refused_page_and_an_undelivered_post_are_no_status_update(tmp_path: Path) -> None:
    # The page is refused and the Slack post fails: nothing told anyone how things stand, so
    # at T+27 the first update is still the one overdue since T+5.
    incident, _ = walk(tmp_path, {"triage": 6, "fix": 21}, slack=Answer(400, b"invalid_payload"))
    reminders = [(e.ts, e.data["reason"]) for e in incident.events if e.type == "reminder"]
    assert reminders == [(at(6), "first status update due within 5 min")]
    sent = {e.data["node"]: e.data["ok"] for e in incident.events if e.type == "notify.sent"}
    assert sent == {"page": False, "post": False}


def test_no_reminder_before_an_update_is_due(tmp_path: Path) -> None:
    incident, _ = walk(tmp_path, {"triage": 4, "fix": 19})
    assert [e for e in incident.events if e.type == "reminder"] == []


@pytest.mark.parametrize("severity", ["SEV3", "SEV4", "SEV5"])
def test_minor_incidents_have_no_cadence(tmp_path: Path, severity: str) -> None:
    incident, screen = walk(tmp_path, {"triage": 6, "fix": 40}, severity)
    assert [e for e in incident.events if e.type == "reminder"] == []
    assert "⏰" not in screen


def test_a_name_too_long_to_look_at_is_an_error_at_its_line_not_a_crash(tmp_path: Path) -> None:
    """`runbooks: [xxx…]` of 300 characters made `aiir validate` stop on the system's "File
    name too long" while looking for the folder; `team:` as well, when the workspace loaded."""
    from aiir.validate.documents import validate_paths

    long = "x" * 300
    config = {"aiir": 1, "workspace": "w", "team": f"{long}.yaml", "runbooks": [long]}
    text = write(tmp_path / "aiir.yaml", config)
    with pytest.raises(LoadError) as caught:
        ws.load(tmp_path / "aiir.yaml")
    line = next(n for n, s in enumerate(text.splitlines(), 1) if s.startswith("team:"))
    assert caught.value.line == line
    assert "cannot be used: file name too long" in caught.value.render()
    rendered = [f.render() for f in validate_paths([tmp_path / "aiir.yaml"]).findings]
    assert len(rendered) == 2
    assert all("cannot be used: file name too long" in r for r in rendered)
