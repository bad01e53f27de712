"""``aiir flag``: anyone reports what an AI system did; recorded with its evidence, optionally
paged to the system's owner (a real receiver on loopback) or opened as an incident."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import verify
from tests.helpers import write
from tests.receiver import Answer, Receiver, serve_receiver
from tests.respond import (
    aiir,
    freeze,
    incident_id,
    journal,
    no_terminal,
    of_type,
    write_workspace,
)
from tests.support.cli import Ran
from tests.support.clock import START, FakeClock

SECURITY_KEY = "R0UT1NGKEY1security123456789abcd"
WHAT = "It told a customer their refund was approved; no such policy exists"
WHEN = "2025-11-27T03:15:00.000Z"
SCREENSHOT = b"\x89PNG\r\n\x1a\nnot really a png"

OPENED: dict[str, Any] = {
    "aiir": 1,
    "id": "human-report",
    "title": "A human reported the assistant",
    "owner": "security",
    "severity": "SEV3",
    "start": "real",
    "nodes": {
        "real": {
            "kind": "confirm",
            "title": "Is it real?",
            "prompt": "Does the attached report show a real problem?",
            "yes": "done",
            "no": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}


@dataclass(frozen=True)
class Setup:
    root: Path
    incidents: Path

    def flag(self, capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
        return aiir(capsys, "flag", *args, "--incident-dir", str(self.incidents))

    def record(self, ran: Ran) -> tuple[str, dict[str, Any], Path]:
        """The flag id, its record and its folder, from what ``aiir flag`` printed."""
        first = ran.out.splitlines()[0]
        flag_id = first.split()[1]
        path = Path(first.split("(", 1)[1].rstrip(")"))
        return flag_id, json.loads(path.read_text(encoding="utf-8")), path.parent


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Setup:
    no_terminal(monkeypatch, write_workspace(tmp_path / "workspace"))
    monkeypatch.setenv("SECURITY_PD_ROUTING_KEY", SECURITY_KEY)
    monkeypatch.setenv("AIIR_PAGERDUTY_URL", f"{receiver.url}/v2/enqueue")
    freeze(monkeypatch, FakeClock(START))
    (tmp_path / "shot.png").write_bytes(SCREENSHOT)
    write(tmp_path / "human-report.yaml", OPENED)
    return Setup(tmp_path, tmp_path / "incidents")


def test_a_flag_records_reporter_time_text_and_the_evidence_hash(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.flag(capsys, "support-bot", WHAT, "--evidence", str(setup.root / "shot.png"))
    assert (ran.status, ran.err) == (0, "")
    flag_id, record, folder = setup.record(ran)
    assert flag_id.startswith("FLAG-20251127-031500-")
    assert ran.out == f"recorded {flag_id} ({folder / 'flag.json'})\n"
    assert folder == setup.root / "flags" / flag_id  # beside the incidents
    assert record == {
        "id": flag_id,
        "ts": WHEN,
        "reporter": "tester",
        "system": "support-bot",
        "text": WHAT,
        "evidence": {
            "file": "evidence-shot.png",
            "sha256": hashlib.sha256(SCREENSHOT).hexdigest(),
            "bytes": len(SCREENSHOT),
        },
    }
    assert (folder / "evidence-shot.png").read_bytes() == SCREENSHOT


def test_a_flag_with_a_byte_that_is_not_utf8_is_recorded(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad byte in argv reaches Python as a lone surrogate ('\\udcff'): writing flag.json
    raised UnicodeEncodeError, an internal error, the report lost."""
    ran = setup.flag(capsys, "support-bot", "it swore \udcff at me")
    assert (ran.status, ran.err) == (0, "")
    _, record, _ = setup.record(ran)
    assert record["text"] == "it swore \ufffd at me"


def test_an_unknown_system_is_bad_input_listing_the_known_ones(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.flag(capsys, "support-bto", WHAT)
    assert (ran.status, ran.out) == (2, "")
    assert ran.err == "aiir: no system 'support-bto' in the inventory (systems: support-bot)\n"
    assert not (setup.root / "flags").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["support-bot", "  "], 'aiir: say what happened: aiir flag SYSTEM "what happened"\n'),
        (
            ["support-bot", WHAT, "--evidence", "missing.png"],
            "aiir: --evidence missing.png: no such file\n",
        ),
        (
            ["support-bot", WHAT, "--yes"],
            "aiir: --answers and --yes are for the incident that --open RUNBOOK starts\n",
        ),
    ],
)
def test_other_bad_input_exits_2(
    setup: Setup, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    ran = setup.flag(capsys, *args)
    assert (ran.status, ran.out, ran.err) == (2, "", message)


def test_alert_pages_the_systems_owner_through_the_roster(
    setup: Setup, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    ran = setup.flag(capsys, "support-bot", WHAT, "--alert")
    assert ran.status == 0, ran.err
    flag_id, _, _ = setup.record(ran)
    assert ran.out.splitlines()[1] == "paged the owner: ok"
    [page] = receiver.requests
    assert (page.method, page.path) == ("POST", "/v2/enqueue")
    assert page.json() == {
        "routing_key": SECURITY_KEY,  # support-bot's owner is the security role
        "event_action": "trigger",
        "dedup_key": f"aiir-{flag_id}",
        "payload": {
            "summary": f"[human report] Customer support assistant: {WHAT}",
            "source": "aiir",  # the reporter is in the details, not the alert's source
            "severity": "warning",
            "timestamp": WHEN,
            "component": "support-bot",
            "group": "ai-human-report",
            "class": "human-report",
            "custom_details": {"flag": flag_id, "reporter": "tester", "text": WHAT},
        },
        "client": "aiir",
    }
    assert SECURITY_KEY not in ran.out + ran.err


def test_a_refused_page_exits_1_saying_why(
    setup: Setup, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    receiver.queue("/v2/enqueue", Answer(400, b'{"status":"invalid event"}'))
    ran = setup.flag(capsys, "support-bot", WHAT, "--alert")
    assert ran.status == 1
    assert ran.err == 'owner not paged: HTTP 400: {"status":"invalid event"}\n'
    assert len(receiver.requests) == 1  # a 400 is not retried


def test_alert_without_a_routing_key_is_bad_input(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECURITY_PD_ROUTING_KEY")
    ran = setup.flag(capsys, "support-bot", WHAT, "--alert")
    assert ran.status == 2
    assert ran.err == (
        "aiir: --alert (security): environment variable SECURITY_PD_ROUTING_KEY is not set\n"
    )


def test_open_starts_an_incident_that_carries_the_report_as_evidence(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    write(setup.root / "answers.yaml", {"real": "yes"})
    ran = setup.flag(
        capsys,
        "support-bot",
        WHAT,
        "--evidence",
        str(setup.root / "shot.png"),
        "--open",
        str(setup.root / "human-report.yaml"),
        "--answers",
        str(setup.root / "answers.yaml"),
    )
    assert ran.status == 0, ran.err
    flag_id, _, folder = setup.record(ran)
    events = journal(setup.incidents, incident_id())
    assert [e.type for e in events[:2]] == ["incident.opened", "evidence.attached"]
    report = (folder / "flag.json").read_bytes()
    assert events[1].data == {
        "item": f"{flag_id}.json",
        "description": f"human report: {WHAT}",
        "source": "aiir flag",
        "evidence": {
            "file": f"evidence/{flag_id}.json",
            "sha256": hashlib.sha256(report).hexdigest(),
            "bytes": len(report),
        },
    }
    assert (setup.incidents / incident_id() / "evidence" / f"{flag_id}.json").read_bytes() == report
    assert verify(setup.incidents / incident_id()) == []
    assert of_type(events, "incident.ended") == [{"outcome": "resolved", "summary": ""}]


def test_a_secret_pasted_in_a_flag_is_masked_in_its_record_evidence_and_incident(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter pastes the gateway's key (in this environment) into what they say and
    into the transcript they attach; the incident it opens declares a second one."""
    monkeypatch.setenv("GATEWAY_API_KEY", "gw-key-5f0c1d9e8a7b")
    monkeypatch.setenv("OPS_LOGIN", "ops-login-3c2b1a09")
    (setup.root / "chat.txt").write_text("bot: your key is gw-key-5f0c1d9e8a7b\n")
    opened = {**OPENED, "env": {"OPS_LOGIN": {"description": "ops login"}}}
    write(setup.root / "opened.yaml", opened)
    write(setup.root / "answers.yaml", {"real": "yes"})
    said = "it printed gw-key-5f0c1d9e8a7b and ops-login-3c2b1a09"
    ran = setup.flag(
        capsys, "support-bot", said, "--evidence", str(setup.root / "chat.txt"),
        "--open", str(setup.root / "opened.yaml"), "--answers", str(setup.root / "answers.yaml"),
    )  # fmt: skip
    assert ran.status == 0, ran.err
    _, record, folder = setup.record(ran)
    assert record["text"] == "it printed *** and ops-login-3c2b1a09"  # the runbook's: below
    assert (folder / "evidence-chat.txt").read_text() == "bot: your key is ***\n"
    kept = setup.incidents / incident_id()
    attached = next((kept / "evidence").iterdir()).read_text()
    assert "it printed *** and ***" in attached
    assert verify(kept) == []
    flagged = b"".join(p.read_bytes() for p in folder.iterdir())
    walked = b"".join(p.read_bytes() for p in kept.rglob("*") if p.is_file())
    assert b"gw-key-5f0c1d9e8a7b" not in flagged + walked
    assert b"ops-login-3c2b1a09" not in walked


def test_open_without_a_terminal_or_answers_stops_naming_the_flag(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.flag(capsys, "support-bot", WHAT, "--open", str(setup.root / "human-report.yaml"))
    assert ran.status == 2
    assert "answer it in --answers FILE as `real: yes | no`" in ran.err
    events = journal(setup.incidents, incident_id())
    assert [e.type for e in events][:2] == ["incident.opened", "evidence.attached"]
    assert events[-1].type == "incident.interrupted"  # resumable, the report kept with it


@pytest.mark.postgres
def test_open_on_the_shared_store_is_read_from_another_machine(
    setup: Setup, capsys: pytest.CaptureFixture[str], database: str
) -> None:
    from aiir.incident.postgres import PostgresStore

    PostgresStore(database).migrate()
    write(setup.root / "answers.yaml", {"real": "yes"})
    ran = setup.flag(
        capsys,
        *("support-bot", WHAT, "--evidence", str(setup.root / "shot.png")),
        *("--open", str(setup.root / "human-report.yaml")),
        *("--answers", str(setup.root / "answers.yaml"), "--store", database),
    )
    assert ran.status == 0, ran.err
    (incident,) = PostgresStore(database).ids()
    elsewhere = setup.root / "laptop"
    checked = aiir(
        capsys, "verify", incident, "--store", database, "--incident-dir", str(elsewhere)
    )
    assert checked.status == 0, checked.err
    events = journal(elsewhere, incident)
    assert [e.type for e in events[:2]] == ["incident.opened", "evidence.attached"]
    assert events[1].data["source"] == "aiir flag"
    assert verify(elsewhere / incident) == []


def test_open_given_no_store_records_nothing(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = setup.flag(
        capsys, "support-bot", WHAT, "--open", str(setup.root / "human-report.yaml"),
        "--store", "https://db.example/aiir",
    )  # fmt: skip
    assert ran.status == 2
    assert "not an incident store" in ran.err
    assert not (setup.root / "flags").exists()
    assert not setup.incidents.exists()


def test_a_page_with_no_answer_is_not_said_to_be_paged(
    setup: Setup, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    """The connection drops once PagerDuty has the event, on every try: it may have paged."""
    receiver.queue("/v2/enqueue", *[Answer(202, b"", drop=True)] * 4)
    ran = setup.flag(capsys, "support-bot", WHAT, "--alert")
    assert ran.status == 1
    assert "paged the owner" not in ran.out + ran.err
    assert ran.err.startswith("page to the owner: no answer: ")
    assert ran.err.endswith("; it may have been delivered\n")


def test_a_huge_report_still_pages_and_opens_its_incident(
    setup: Setup, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    """A model's whole output pasted as the report: over PagerDuty's 512 KB it was refused on
    this side (exit 2), and the incident --open asked for was never opened."""
    pasted = "the bot said: " + "\u00e9" * 600_000
    answers = setup.root / "answers.yaml"
    write(answers, {"real": "yes"})
    ran = setup.flag(
        capsys,
        "support-bot",
        pasted,
        "--alert",
        "--open",
        str(setup.root / "human-report.yaml"),
        "--answers",
        str(answers),
    )
    assert ran.status == 0, ran.err[:500]
    assert ran.out.splitlines()[1] == "paged the owner: ok"
    (page,) = receiver.requests
    assert len(page.body) <= 512 * 1024
    text = page.json()["payload"]["custom_details"]["text"]
    assert text.startswith("the bot said: ")
    assert text.endswith("more characters of this message are in the flag's record.")
    assert len(list(setup.incidents.iterdir())) == 1
