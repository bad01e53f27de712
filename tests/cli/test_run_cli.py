"""CLI wiring of ``aiir run``, ``resume``, ``incidents``, ``show``, ``release`` and ``verify``.

Most tests call :func:`aiir.cli.main` in-process with no terminal (the prompter is the one that
names the flag to use); two run the installed command in a child process, as CI would. Requests go
to a real loopback server that behaves like a LiteLLM admin API and counts every call.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from rich.console import Console

from aiir.cli import main
from aiir.environment import Environment
from aiir.errors import InputError
from aiir.incident.journal import JOURNAL
from aiir.incident.state import load_incident
from aiir.prompts import Check, Option
from aiir.respond.session import resume, start
from tests.helpers import where, write
from tests.runs import (
    ATTACKER_KEY,
    DRILL_ANSWERS,
    MASTER_KEY,
    PROMPT_INJECTION,
    drill,
    only_incident,
    process_env,
    run_aiir,
)
from tests.servers import Fault, Gateway, serve_gateway

Capture = pytest.CaptureFixture[str]


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in CI: no terminal, no colour, the master key in the environment."""
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "AIIR_INCIDENT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("AIIR_OPERATOR", "tester")


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


class Cli:
    """``aiir`` in-process against one runbook, one gateway and one incidents directory."""

    def __init__(self, tmp_path: Path, url: str, capsys: Capture) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.capsys = capsys
        self.incidents = tmp_path / "incidents"
        self.runbook = tmp_path / "drill.yaml"
        write(self.runbook, drill())

    def __call__(self, *args: str) -> Ran:
        status = main([*args, "--incident-dir", str(self.incidents)])
        out, err = self.capsys.readouterr()
        return Ran(int(status), out, err)

    def answers(self, data: Any, name: str = "answers.yaml") -> tuple[Path, str]:
        path = self.tmp_path / name
        return path, write(path, data)

    def run(self, *args: str, answers: Any = None) -> Ran:
        """``aiir run`` of the drill on the gateway; ``answers`` become an answers file."""
        extra = ["--answers", str(self.answers(answers)[0])] if answers is not None else []
        return self("run", str(self.runbook), "--gateway", f"gateway={self.url}", *extra, *args)

    def incident_ids(self) -> list[str]:
        if not self.incidents.is_dir():
            return []
        return sorted(d.name for d in self.incidents.iterdir())


@pytest.fixture
def cli(tmp_path: Path, gateway: tuple[str, Gateway], capsys: Capture) -> Cli:
    return Cli(tmp_path, gateway[0], capsys)


def nothing_happened(cli: Cli, state: Gateway) -> None:
    assert state.calls == []
    assert cli.incident_ids() == []


# --- scripted runs -----------------------------------------------------------------------------


def test_scripted_run_with_answers_set_and_gateway(cli: Cli, gateway: tuple[str, Gateway]) -> None:
    _, state = gateway
    ran = cli.run("--set", "model=support-bot-eu", "--yes", answers=DRILL_ANSWERS)

    assert ran.status == 0, ran.err
    assert ran.err == ""
    assert "Outcome: contained\nContained leak on support-bot-eu; phrase ignore previous.\n" in (
        ran.out
    )
    assert "Still engaged: block-key, filter; release with: aiir release INC-" in ran.out
    assert state.count("POST", "/guardrails") == 1
    assert state.count("POST", "/key/block") == 1
    chats = [body for method, path, body, _ in state.calls if path == "/v1/chat/completions"]
    assert [c["model"] for c in chats] == ["support-bot-eu", "support-bot-eu"]  # from --set
    admin = [h["authorization"] for _, path, _, h in state.calls if path != "/v1/chat/completions"]
    assert admin == [f"Bearer {MASTER_KEY}"] * 2  # the declared gateway's header
    assert state.blocked == {ATTACKER_KEY}
    incident = load_incident(cli.incidents, only_incident(cli.incidents))
    assert incident.inputs == {"model": "support-bot-eu"}
    assert incident.gateways == {"gateway": cli.url}
    assert [(r.lever, r.state) for r in incident.levers] == [
        ("filter", "verified"),
        ("block-key", "verified"),
    ]


def test_levers_approved_one_by_one_in_the_answers_file(
    cli: Cli, gateway: tuple[str, Gateway]
) -> None:
    _, state = gateway
    ran = cli.run(answers={**DRILL_ANSWERS, "contain.approve": "yes", "block.approve": "no"})

    assert ran.status == 0, ran.err
    assert "declined: not sent" in ran.out
    assert (state.count("POST", "/guardrails"), state.count("POST", "/key/block")) == (1, 0)


def test_the_installed_command_exits_with_the_walk_status(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    runbook, answers = tmp_path / "drill.yaml", tmp_path / "answers.yaml"
    write(runbook, drill())
    write(answers, DRILL_ANSWERS)
    env = process_env(tmp_path / "incidents", CI="true")
    base = ["run", str(runbook), "--gateway", f"gateway={url}", "--answers", str(answers)]

    done = run_aiir([*base, "--yes"], env)
    assert (done.returncode, done.stderr) == (0, b"")
    assert b"Outcome: contained" in done.stdout

    state.blocked.clear()  # as it was before the first run, so nothing is already in effect
    state.guardrails.clear()
    state.faults.append(_fault("/key/block", times=3))  # the lever fails: the work failed
    failed = run_aiir([*base, "--yes"], env)
    assert failed.returncode == 1, failed.stderr
    assert b"Outcome: failed" in failed.stdout


# --- no terminal: every missing answer names the flag that gives it ---------------------------


def test_a_question_with_no_answer_and_no_terminal_names_the_node_and_flag(
    cli: Cli, gateway: tuple[str, Gateway]
) -> None:
    _, state = gateway
    ran = cli.run()

    assert ran.status == 2
    assert ran.err == (
        "aiir: 'triage' needs an answer and there is no terminal: "
        "answer it in --answers FILE as `triage: harmful | leak | nothing`\n"
    )
    incident_id = only_incident(cli.incidents)
    assert f"resume with: aiir resume {incident_id}" in ran.out
    assert state.calls == []


def test_a_lever_with_no_approval_and_no_terminal_names_yes(
    cli: Cli, gateway: tuple[str, Gateway]
) -> None:
    _, state = gateway
    ran = cli.run(answers=DRILL_ANSWERS)

    assert ran.status == 2
    assert ran.err == (
        "aiir: contain: Lever 'filter' (filter) needs approval and there is no terminal: "
        "pass --yes to pre-approve levers and actions "
        "(or answer `contain.approve: yes` in --answers)\n"
    )
    assert f"Sends: POST {cli.url}/guardrails" in ran.out  # the request it would send
    assert state.calls == []


def test_resume_with_answers_continues_where_the_run_stopped(
    cli: Cli, gateway: tuple[str, Gateway]
) -> None:
    _, state = gateway
    partial = {k: v for k, v in DRILL_ANSWERS.items() if k != "steps"}
    assert cli.run("--yes", answers=partial).status == 2
    incident_id = only_incident(cli.incidents)

    path, _ = cli.answers(DRILL_ANSWERS, "all.yaml")
    ran = cli("resume", incident_id, "--answers", str(path), "--yes")

    assert ran.status == 0, ran.err
    assert f"Resuming {incident_id}" in ran.out
    assert "Outcome: contained" in ran.out
    assert (state.count("POST", "/guardrails"), state.count("POST", "/key/block")) == (1, 1)


# --- dry run -----------------------------------------------------------------------------------


def test_dry_run_prints_every_request_sends_none_and_keeps_no_incident(
    cli: Cli, gateway: tuple[str, Gateway]
) -> None:
    _, state = gateway
    answers = {
        "confirm-injection": "harmful-output",
        "key-known": "yes",
        "attacker-key": ATTACKER_KEY,
        "still-leaking": "bypassed",
        "eradicate": "all",
    }
    path, _ = cli.answers(answers)
    ran = cli(
        "run",
        str(PROMPT_INJECTION),
        "--gateway",
        f"gateway={cli.url}",
        "-a",
        str(path),
        "--dry-run",
    )

    assert ran.status == 0, ran.err
    assert "DRY RUN: nothing is sent" in ran.out
    for title, url in [
        ("Capture 'gateway-logs' (before)", "/spend/logs"),
        ("Capture 'guardrails' (before)", "/guardrails/list"),
        ("Lever emergency-filter · filter", "/guardrails"),
        ("Lever block-attacker-key · block", "/key/block"),
        ("Lever reroute-fallback · reroute", "/fallback"),
    ]:
        assert title in ran.out, title
        assert f"{cli.url}{url}" in ran.out, url
    # every request a lever would make: its verify probe and its release too
    assert ran.out.count("(dry run: not sent)") == 6
    assert "Lever 'emergency-filter': release (dry run: not sent)" in ran.out
    assert f'"url": "{cli.url}/guardrails/<saved by engage: guardrail_id>"' in ran.out
    assert f'"key": "{ATTACKER_KEY}"' in ran.out
    assert '"Authorization": "***"' in ran.out
    assert MASTER_KEY not in ran.out
    assert ran.out.count("dry-run: not sent (dry run)") == 3
    nothing_happened(cli, state)


def test_dry_run_needs_no_secret(
    cli: Cli, gateway: tuple[str, Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, state = gateway
    monkeypatch.delenv("LITELLM_MASTER_KEY")
    ran = cli.run("--dry-run", answers=DRILL_ANSWERS)
    assert ran.status == 0, ran.err
    nothing_happened(cli, state)


# --- bad input: one line naming the flag or file:line:col, nothing executed --------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "region=eu"], "--set region: runbook 'drill' has no such input (inputs: model)"),
        (["--set", "model"], "--set 'model': expected KEY=VALUE"),
        (["--set", "=support-bot"], "--set '=support-bot': expected KEY=VALUE"),
        (
            ["--gateway", "proxy=http://127.0.0.1:9"],
            "--gateway proxy: runbook 'drill' (and the runbooks it calls) declare no such gateway "
            "(gateways: gateway)",
        ),
        (["--gateway", "gateway"], "--gateway 'gateway': expected NAME=URL"),
        (
            ["--gateway", "gateway=ftp://127.0.0.1/"],
            "--gateway gateway='ftp://127.0.0.1/': not an http(s) URL",
        ),
    ],
    ids=[
        "unknown-set",
        "set-without-equals",
        "set-without-name",
        "unknown-gateway",
        "gateway-without-url",
        "gateway-not-http",
    ],
)
def test_bad_flags_stop_before_anything_runs(
    cli: Cli, gateway: tuple[str, Gateway], args: list[str], message: str
) -> None:
    _, state = gateway
    ran = cli.run(*args, "--yes", answers=DRILL_ANSWERS)
    assert (ran.status, ran.out, ran.err) == (2, "", f"aiir: {message}\n")
    nothing_happened(cli, state)


def test_a_missing_secret_stops_before_anything_runs(
    cli: Cli, gateway: tuple[str, Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, state = gateway
    monkeypatch.delenv("LITELLM_MASTER_KEY")
    ran = cli.run("--yes", answers=DRILL_ANSWERS)
    assert (ran.status, ran.out) == (2, "")
    assert ran.err == (
        "aiir: runbook 'drill' needs environment variable(s) that are not set: LITELLM_MASTER_KEY (LiteLLM admin key)\n"
    )
    nothing_happened(cli, state)


# (answers, the snippet the error points into, the mark in it, the message); a dotted key's
# breadcrumb is quoted, and a list is pointed at by its first item
BAD_ANSWERS: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "unknown-node": (
        {**DRILL_ANSWERS, "triagee": "leak"},
        "triagee:",
        "triagee",
        "triagee: runbook 'drill' has no node 'triagee'",
    ),
    "invalid-choice": (
        {**DRILL_ANSWERS, "triage": "maybe"},
        "triage: maybe",
        "maybe",
        "triage: 'maybe' is not a choice of 'triage' (harmful, leak, nothing)",
    ),
    "confirm-not-yes-or-no": (
        {**DRILL_ANSWERS, "known": "perhaps"},
        "known: perhaps",
        "perhaps",
        "known: 'perhaps' is not yes or no",
    ),
    "approval-not-yes-or-no": (
        {**DRILL_ANSWERS, "contain.approve": "later"},
        "contain.approve: later",
        "later",
        "['contain.approve']: 'later' is not yes or no",
    ),
    "unknown-checklist-item": (
        {**DRILL_ANSWERS, "steps": ["harden", "pray"]},
        "- harden",
        "- harden",
        "steps: unknown item(s) pray (items: harden, canaries, downstream)",
    ),
    "text-not-matching-its-pattern": (
        {**DRILL_ANSWERS, "attacker-key": "12345"},
        "attacker-key: '12345'",
        "'12345'",
        "attacker-key: '12345' does not match 'sk-[A-Za-z0-9-]+'",
    ),
    "unknown-suffix": (
        {**DRILL_ANSWERS, "contain.approved": "yes"},
        "contain.approved:",
        "contain.approved",
        "['contain.approved']: unknown answer 'contain.approved': "
        "use contain.approve, contain.on_failure, contain.approvals or contain.send_offline",
    ),
    "no-answer-for-a-lever": (
        {**DRILL_ANSWERS, "contain": "yes"},
        "contain: 'yes'",
        "contain",
        "contain: node 'contain' (lever) takes no answer",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_wrong_answers_file_points_at_the_line_and_runs_nothing(
    cli: Cli, gateway: tuple[str, Gateway], case: str
) -> None:
    _, state = gateway
    data, snippet, mark, message = BAD_ANSWERS[case]
    path, text = cli.answers(data)
    location = where(text, snippet, mark)
    ran = cli.run("--yes", answers=data)
    assert (ran.status, ran.out) == (2, "")
    assert ran.err == f"aiir: {path}:{location}: error: {message}\n"
    nothing_happened(cli, state)


# --- a typo in a patterned answer does not wedge the incident ------------------------------------


class TypingPrompter:
    """An operator at a terminal who answers from a list, one answer per question asked."""

    def __init__(self, answers: Sequence[tuple[str, Any]]) -> None:
        self.answers = list(answers)

    def _next(self, key: str) -> Any:
        expected, value = self.answers.pop(0)
        assert key == expected, (key, expected)
        return value

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        return str(self._next(key))

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        return bool(self._next(key))

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        return str(self._next(key))

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return list(self._next(key))

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return list(self._next(key))


def test_a_typo_in_a_patterned_answer_is_not_journalled_so_resume_asks_again(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    runbook = tmp_path / "drill.yaml"
    write(runbook, drill())
    first = [("triage", "leak"), ("phrase", "ignore previous"), ("known", True)]
    typo = TypingPrompter([*first, ("attacker-key", "sk_attacker")])
    with httpx2.Client() as http:
        env = Environment(
            console=Console(file=io.StringIO(), width=200),
            prompter=typo,
            client=http,
            environ={"LITELLM_MASTER_KEY": MASTER_KEY},
            incidents_dir=tmp_path / "incidents",
            assume_yes=True,
            gateway_urls={"gateway": url},
        )
        with pytest.raises(InputError) as stopped:
            start(runbook, env)
        assert str(stopped.value) == (
            "answer to 'attacker-key': that answer does not have the expected form: "
            "'sk_attacker' (not recorded: resume to answer it again)"
        )
        incident_id = only_incident(tmp_path / "incidents")
        env.prompter = TypingPrompter([("attacker-key", ATTACKER_KEY), ("steps", ["harden"])])
        result = resume(incident_id, env)

    assert result.exit_status == 0
    assert result.incident.outcome == "contained"
    keys = [a["value"] for a in result.incident.answers if a["key"] == "attacker-key"]
    assert keys == [ATTACKER_KEY]
    assert state.blocked == {ATTACKER_KEY}
    assert state.count("POST", "/guardrails") == 1


# --- incidents, show, release, verify ---------------------------------------------------------


@pytest.fixture
def contained(cli: Cli) -> str:
    """An incident of the drill that ended with both levers engaged; its id."""
    assert cli.run("--yes", answers=DRILL_ANSWERS).status == 0
    return only_incident(cli.incidents)


def test_incidents_lists_them(cli: Cli, contained: str) -> None:
    table = cli("incidents")
    assert table.status == 0
    assert "drill" in table.out
    assert "contained" in table.out
    assert "block-key, filter" in table.out

    listed = cli("incidents", "--json")
    assert listed.status == 0
    (summary,) = json.loads(listed.out)
    assert summary["id"] == contained
    assert (summary["state"], summary["outcome"]) == ("ended", "contained")
    assert summary["levers_engaged"] == ["block-key", "filter"]  # newest first


def test_incidents_with_none_says_where_it_looked(cli: Cli) -> None:
    ran = cli("incidents")
    assert (ran.status, ran.out) == (0, f"no incidents under {cli.incidents}\n")


def test_show_prints_the_timeline_and_levers(cli: Cli, contained: str) -> None:
    ran = cli("show", contained)
    assert ran.status == 0
    assert ran.out.startswith(f"{contained}  SEV1  Terminal drill  [contained]\n")
    assert "Timeline" in ran.out
    assert "triage: leak" in ran.out
    assert "severity.changed" in ran.out
    assert MASTER_KEY not in ran.out

    data = json.loads(cli("show", contained, "--json").out)
    assert data["id"] == contained
    assert [(r["lever"], r["state"]) for r in data["levers"]] == [
        ("filter", "verified"),
        ("block-key", "verified"),
    ]
    assert data["timeline"][0]["type"] == "incident.opened"
    assert data["timeline"][-1]["type"] == "incident.ended"


def test_show_of_an_unknown_incident(cli: Cli) -> None:
    ran = cli("show", "INC-nope")
    assert (ran.status, ran.out) == (2, "")
    assert ran.err == f"aiir: no incident 'INC-nope' under {cli.incidents} (see: aiir incidents)\n"


def test_release_one_lever_then_the_rest_newest_first(
    cli: Cli, gateway: tuple[str, Gateway], contained: str
) -> None:
    _, state = gateway
    state.calls.clear()
    one = cli("release", contained, "filter", "--yes")
    assert one.status == 0, one.err
    assert "Lever filter: released" in one.out
    assert [c[:2] for c in state.calls] == [("DELETE", "/guardrails/g-1")]
    assert (state.guardrails, state.blocked) == ({}, {ATTACKER_KEY})

    rest = cli("release", contained, "--yes")
    assert rest.status == 0, rest.err
    assert [c[:2] for c in state.calls][1:] == [("POST", "/key/unblock")]
    assert state.calls[-1][2] == {"key": ATTACKER_KEY}
    assert (state.guardrails, state.blocked, state.fallbacks) == ({}, set(), {})

    again = cli("release", contained, "--yes")
    assert again.status == 0
    assert f"nothing to release: no lever of {contained} is engaged" in again.out
    assert len(state.calls) == 2

    incident = load_incident(cli.incidents, contained)
    released = [e.data["lever"] for e in incident.events if e.type == "lever.released"]
    assert released == ["filter", "block-key"]
    assert incident.needs_release() == []
    assert cli("verify", contained).status == 0


def test_release_all_goes_newest_first(
    cli: Cli, gateway: tuple[str, Gateway], contained: str
) -> None:
    _, state = gateway
    state.calls.clear()
    ran = cli("release", contained, "--yes")
    assert ran.status == 0, ran.err
    assert [c[:2] for c in state.calls] == [
        ("POST", "/key/unblock"),
        ("DELETE", "/guardrails/g-1"),
    ]
    assert ran.out.index("Release 'block-key'") < ran.out.index("Release 'filter'")
    assert (state.guardrails, state.blocked) == ({}, set())


def test_release_without_yes_and_no_terminal_names_yes(
    cli: Cli, gateway: tuple[str, Gateway], contained: str
) -> None:
    _, state = gateway
    state.calls.clear()
    ran = cli("release", contained)
    assert ran.status == 2
    assert ran.err == (
        "aiir: releasing 'block-key' needs approval and there is no terminal: pass --yes\n"
    )
    assert state.calls == []


def test_release_of_a_lever_that_is_not_engaged(
    cli: Cli, gateway: tuple[str, Gateway], contained: str
) -> None:
    ran = cli("release", contained, "reroute", "--yes")
    assert ran.status == 2
    assert ran.err == (
        f"aiir: lever 'reroute' is not engaged in {contained} (engaged: block-key, filter)\n"
    )


def test_a_release_the_gateway_refuses_leaves_the_lever_engaged(
    cli: Cli, gateway: tuple[str, Gateway], contained: str
) -> None:
    _, state = gateway
    state.faults.append(_fault("/key/unblock", times=3))
    ran = cli("release", contained, "block-key", "--yes")
    assert ran.status == 1
    assert ran.err == "still engaged: block-key\n"
    assert state.blocked == {ATTACKER_KEY}


def test_verify_passes_then_detects_an_edited_line(cli: Cli, contained: str) -> None:
    ran = cli("verify", contained)
    assert ran.status == 0
    assert ran.out.startswith(f"{contained}: journal chain and evidence consistent (")

    journal = cli.incidents / contained / JOURNAL
    text = journal.read_text(encoding="utf-8")
    journal.write_text(text.replace('"value":"leak"', '"value":"harmful"'), encoding="utf-8")
    ran = cli("verify", contained)
    assert ran.status == 1
    assert "content does not match its hash (the line was edited)" in ran.err
    assert ran.err.endswith(f"{contained}: TAMPERED or damaged (1 problem(s))\n")


def _fault(path: str, times: int) -> Fault:
    """The gateway answers ``path`` with a 500 ``times`` times (every retry included)."""
    return Fault(path, status=500, body=b'{"error": "down"}', times=times)
