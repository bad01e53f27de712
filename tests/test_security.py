"""Secrets never surface; hostile data stays inert; templates, requests and files cannot be abused.

DESIGN.md, "Execution": secrets come from the environment and are redacted wherever they could
surface; anything that came from a model or a user is shown with escape sequences and console
markup neutralised and is never evaluated as a template; a runbook may only send requests to the
gateways it declares; YAML is plain data. Each test plants the hostile thing where it would do
harm and looks at every byte that came out.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import secrets
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest
from rich.console import Console

from aiir import redact
from aiir.cli import main
from aiir.environment import Environment
from aiir.errors import InputError
from aiir.formats.templating import TemplateFailure, evaluate, render
from aiir.incident.journal import Journal
from aiir.incident.state import load_incident
from aiir.outbound.gateway import Call, Endpoint, RequestRefused, checked_header, join_url
from aiir.outbound.sending import Sender
from aiir.prompts import Check, Option
from aiir.respond.session import start
from tests.helpers import minimal_runbook, where, write
from tests.runs import (
    DRILL_ANSWERS,
    MASTER_KEY,
    drill,
    only_incident,
    process_env,
    run_aiir,
)
from tests.servers import Fault, Gateway, serve_gateway

Capture = pytest.CaptureFixture[str]

# A declared secret whose name and value look like nothing in particular: only its declaration
# can get it masked.
ADMIN_AUTH = f"plant-{secrets.token_hex(12)}"
SECRETS = (MASTER_KEY, ADMIN_AUTH)
HOSTILE = (
    "\x1b]0;pwned\x07"  # set the window title
    "\x1b[2J"  # clear the screen
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"  # a hyperlink
    "\x9b31m"  # an 8-bit CSI
    " [bold red]x[/] {{ 7*7 }} {{ 'evalu' ~ 'ated' }}"  # markup and templates
)


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the in-process runs: no terminal, no colour, both secrets in the environment."""
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "AIIR_INCIDENT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("ADMIN_AUTH", ADMIN_AUTH)
    monkeypatch.setenv("COLUMNS", "200")


def hostile_runbook() -> dict[str, Any]:
    """Asks a free-text question, captures logs, saves a gateway value, pulls a lever, and shows
    the answer and the saved value back in a message and the summary."""
    data = drill()
    data["id"] = "hostile"
    data["env"]["ADMIN_AUTH"] = {"description": "Second admin credential"}
    data["gateways"]["gateway"]["headers"]["X-Admin-Auth"] = "{{ env.ADMIN_AUTH }}"
    data["start"] = "describe"
    data["nodes"] = {
        "describe": {
            "kind": "input",
            "title": "What was reported",
            "prompt": "Paste the report",
            "next": "capture",
        },
        "capture": {
            "kind": "capture",
            "title": "Capture",
            "items": [
                {
                    "name": "logs",
                    "what": ["user-prompts", "outputs"],
                    "request": {
                        "use": "litellm.spend_logs",
                        "with": {"start": "{{ window.start }}", "end": "{{ window.end }}"},
                    },
                },
                {
                    "name": "guards",
                    "what": ["gateway-state"],
                    "request": {"use": "litellm.list_guardrails"},
                },
            ],
            "next": "lookup",
        },
        "lookup": {
            "kind": "action",
            "title": "Look up the model",
            "request": {"use": "litellm.models", "save": {"note": "data.0.id"}},
            "next": "contain",
        },
        "contain": {"kind": "lever", "title": "Filter", "lever": "filter", "next": "tell"},
        "tell": {
            "kind": "notify",
            "title": "Tell the team",
            "channel": "slack",
            "message": "Reported: {{ answers.describe }} / gateway said: {{ vars.note }}",
            "next": "done",
        },
        "done": {
            "kind": "end",
            "title": "Done",
            "outcome": "contained",
            "summary": "Closed after {{ answers.describe }}",
        },
    }
    data["levers"]["filter"]["engage"]["with"]["blocked_words"] = ["ignore previous"]
    data["levers"]["filter"]["verify"]["with"]["prompt"] = "ignore previous now"
    del data["levers"]["block-key"]
    return data


def in_process(tmp_path: Path, capsys: Capture, *args: str) -> tuple[int, str, str]:
    """``aiir ARGS`` in this process, incidents under ``tmp_path``: status, stdout, stderr."""
    status = main([*args, "--incident-dir", str(tmp_path / "incidents")])
    out, err = capsys.readouterr()
    return int(status), out, err


def echo(*values: str) -> bytes:
    """A JSON body that repeats what it was given, as a compromised or buggy gateway might."""
    return json.dumps({"echo": [f"Bearer {v}" for v in values], "note": "see headers"}).encode()


class Hostile:
    """The hostile runbook run by the real command, and every byte it left behind."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.incidents = tmp_path / "incidents"
        self.runbook, self.answers = tmp_path / "hostile.yaml", tmp_path / "answers.yaml"
        write(self.runbook, hostile_runbook())
        write(self.answers, {"describe": HOSTILE})
        self.env = process_env(self.incidents, ADMIN_AUTH=ADMIN_AUTH)
        self.url = url

    def run(self, *extra: str) -> tuple[int, bytes, bytes]:
        args = [
            "run",
            str(self.runbook),
            "-a",
            str(self.answers),
            "--gateway",
            f"gateway={self.url}",
        ]
        done = run_aiir([*args, "--yes", *extra], self.env)
        return done.returncode, done.stdout, done.stderr

    def files(self) -> dict[str, bytes]:
        directory = self.incidents / only_incident(self.incidents)
        return {
            str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file()
        }

    def views(self, capsys: Capture) -> dict[str, bytes]:
        """What ``incidents`` and ``show`` print about the incident, as text and JSON."""
        incident = only_incident(self.incidents)
        out: dict[str, bytes] = {}
        for args in (
            ["incidents"],
            ["incidents", "--json"],
            ["show", incident],
            ["show", incident, "--json"],
        ):
            status = main([*args, "--incident-dir", str(self.incidents)])
            shown = capsys.readouterr()
            assert status == 0, shown.err
            out[" ".join(args[:1] + args[2:])] = (shown.out + shown.err).encode()
        return out


def assert_no_secret(where_: str, data: bytes) -> None:
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret[:10]}… in {where_}"


# --- secrets -----------------------------------------------------------------------------------


def test_a_planted_secret_appears_in_no_output_journal_or_evidence(
    tmp_path: Path, gateway: tuple[str, Gateway], capsys: Capture
) -> None:
    url, state = gateway
    state.faults += [
        Fault("/spend/logs", 200, echo(*SECRETS), times=2),
        Fault("/guardrails/list", 200, echo(*SECRETS)),
        Fault("/v1/models", 200, json.dumps({"data": [{"id": f"m {MASTER_KEY}"}]}).encode()),
    ]
    run = Hostile(tmp_path, url)
    status, out, err = run.run()

    assert status == 0, err
    headers = state.calls[0][3]
    assert (headers["authorization"], headers["x-admin-auth"]) == (
        f"Bearer {MASTER_KEY}",
        ADMIN_AUTH,
    )
    assert b"gateway said: m ***" in out  # a saved value echoing the key, masked on screen
    assert_no_secret("stdout", out)
    assert_no_secret("stderr", err)
    files = run.files()
    assert {"journal.jsonl", "runbooks/hostile.yaml"} <= set(files)
    evidence = [name for name in files if name.startswith("evidence/")]
    assert len(evidence) == 2
    for name, content in files.items():
        assert_no_secret(name, content)
    for name in evidence:
        assert b"Bearer ***" in files[name]  # the echo was kept, masked
    for name, content in run.views(capsys).items():
        assert_no_secret(f"aiir {name}", content)


@pytest.mark.parametrize("failure", ["gateway-echoes-in-an-error", "connection-refused"])
def test_a_failing_request_leaks_no_secret(
    tmp_path: Path, gateway: tuple[str, Gateway], failure: str
) -> None:
    url, state = gateway
    if failure == "connection-refused":
        with serve_gateway() as (closed, _):
            pass  # a port that was just served and is now closed
        url = closed
    else:
        state.faults.append(Fault("/v1/models", 500, echo(*SECRETS), times=3))
    run = Hostile(tmp_path, url)
    status, out, err = run.run()

    assert status == 1, err
    assert b"Outcome: failed" in out
    if failure == "connection-refused":
        assert b"connection failed" in out
    else:
        assert b'"echo": ["Bearer ***", "Bearer ***"]' in out  # the error body, shown masked
    assert_no_secret("stdout", out)
    assert_no_secret("stderr", err)
    for name, content in run.files().items():
        assert_no_secret(name, content)


class PastingPrompter:
    """An operator who pastes the admin credential where the attacker's key was asked for."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        return str(self.answers[key])

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        return True

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        return str(self.answers[key])

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return []

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return []


def test_an_error_message_never_carries_a_declared_secret(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, _ = gateway
    runbook = drill()
    runbook["env"]["ADMIN_AUTH"] = {"description": "Second admin credential"}
    path = tmp_path / "drill.yaml"
    write(path, runbook)
    prompter = PastingPrompter({**DRILL_ANSWERS, "attacker-key": ADMIN_AUTH})
    with httpx2.Client() as http:
        env = Environment(
            console=Console(file=io.StringIO(), width=200),
            prompter=prompter,
            client=http,
            environ={"LITELLM_MASTER_KEY": MASTER_KEY, "ADMIN_AUTH": ADMIN_AUTH},
            incidents_dir=tmp_path / "incidents",
            assume_yes=True,
            gateway_urls={"gateway": url},
        )
        with pytest.raises(InputError) as stopped:
            start(path, env)
        screen = env.console.file.getvalue()  # type: ignore[attr-defined]

    assert str(stopped.value) == (
        "answer to 'attacker-key': that answer does not have the expected form: '***' "
        "(not recorded: resume to answer it again)"
    )
    assert ADMIN_AUTH not in screen
    journal = tmp_path / "incidents" / only_incident(tmp_path / "incidents") / "journal.jsonl"
    assert ADMIN_AUTH.encode() not in journal.read_bytes()


# --- every spelling of a secret --------------------------------------------------------------

# Planted secrets of every awkward shape, each holding one session-unique token: wherever any
# part of a secret survives unmasked, the token shows (base64 hides it: checked apart).
TOKEN = secrets.token_hex(8)
PLANTS = {
    "PLANT_QUOTED": f"q\"{TOKEN}\\back's",  # quotes and a backslash: escaped in JSON
    "PLANT_NEWLINE": f"nl-{TOKEN}-k8s\n",  # as Kubernetes mounts it
    "PLANT_PLUS": f"p+{TOKEN}/x=y+z==",  # percent-encoded in a query string: %2B%2F%3D
    "PLANT_UNICODE": f"ü-{TOKEN}-pässwörd",  # \u00fc in JSON, %C3%BC in a URL
}
SLACK_HOOK = f"/services/T0AAA/B0BBB/slk{TOKEN}"
ROUTING = f'rk"{TOKEN}\\+/='


def gateway_url(echo: str) -> str:
    """Credentials in the userinfo (sent as a Basic auth header) and a token in the path."""
    return echo.replace("http://", f"http://ops:pw-{TOKEN}@") + f"/base/tok{TOKEN}x"


def spellings_runbook() -> dict[str, Any]:
    """Sends every planted secret (headers, query, path, JSON body, the gateway URL) to a
    gateway that echoes it back in bodies and error pages, saves an echo and shows it in the
    messages and the summary."""
    plus = {"q": "{{ env.PLANT_PLUS }}"}
    return {
        "aiir": 1,
        "id": "spellings",
        "title": "Secrets in every spelling",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM02:2025"]},
        "env": {name: {"description": "planted"} for name in [*PLANTS, "PLANT_URL"]},
        "gateways": {
            "gw": {
                "profile": "http",
                "url": "{{ env.PLANT_URL }}",
                "headers": {
                    "X-Quoted": "{{ env.PLANT_QUOTED }}",
                    "X-Newline": "Bearer {{ env.PLANT_NEWLINE }}",
                },
            }
        },
        "levers": {
            "kill": {
                "title": "Kill switch",
                "kind": "kill-switch",
                "engage": {
                    "method": "POST",
                    "path": "/kill",
                    "json": {"u": "{{ env.PLANT_UNICODE }}"},
                },
                "verify": {"method": "GET", "path": "/echo", "query": plus},
                "release": {"method": "POST", "path": "/revive", "query": plus},
            }
        },
        "start": "capture",
        "nodes": {
            "capture": {
                "kind": "capture",
                "title": "Capture",
                "items": [
                    {
                        "name": "echo",
                        "what": ["gateway-state"],
                        "request": {
                            "method": "GET",
                            "path": "/echo",
                            "query": {**plus, "u": "{{ env.PLANT_UNICODE }}"},
                        },
                    }
                ],
                "next": "lookup",
            },
            "lookup": {
                "kind": "action",
                "title": "Look up",
                "request": {
                    "method": "POST",
                    "path": "/echo",
                    "json": {"u": "{{ env.PLANT_UNICODE }}", "q": "{{ env.PLANT_QUOTED }}"},
                    "save": {"echoed": "headers.x-quoted"},
                },
                "next": "missing",
            },
            "missing": {
                "kind": "action",
                "title": "A page that is not there",
                "request": {
                    "method": "GET",
                    "path": "/missing/{{ env.PLANT_PLUS | urlencode }}",
                    "query": plus,
                },
                "next": "contain",
                "on_failure": "contain",
            },
            "contain": {"kind": "lever", "title": "Kill", "lever": "kill", "next": "tell"},
            "tell": {
                "kind": "notify",
                "title": "Tell",
                "channel": "slack",
                "message": "Gateway said {{ vars.echoed }}",
                "next": "page",
            },
            "page": {
                "kind": "notify",
                "title": "Page",
                "channel": "pagerduty",
                "message": "Paging about {{ vars.echoed }}",
                "next": "done",
            },
            "done": {
                "kind": "end",
                "title": "Done",
                "outcome": "contained",
                "summary": "Contained; the gateway echoed {{ vars.echoed }}",
            },
        },
    }


def every_spelling(value: str) -> dict[str, str]:
    """The forms the test looks for, made independently of aiir.redact."""
    forms: dict[str, str] = {}
    for core in {value, value.strip()}:
        data = core.encode()
        forms.update(
            {
                f"raw {core!r}": core,
                f"json {core!r}": json.dumps(core)[1:-1],
                f"json-utf8 {core!r}": json.dumps(core, ensure_ascii=False)[1:-1],
                f"quote {core!r}": urllib.parse.quote(core, safe=""),
                f"quote_plus {core!r}": urllib.parse.quote_plus(core),
                f"html {core!r}": html.escape(core),
                f"repr {core!r}": repr(data)[2:-1],
                f"base64 {core!r}": base64.b64encode(data).decode(),
            }
        )
        for shift in range(3):  # wherever it starts in a longer base64 text
            run = data[shift:][: (len(data) - shift) // 3 * 3]
            forms[f"base64+{shift} {core!r}"] = base64.b64encode(run).decode()
    return forms


def scan(where_: str, data: bytes) -> None:
    """No spelling of any planted secret, and no trace of the token, in ``data``."""
    assert TOKEN.encode() not in data, f"the planted token in {where_}"
    for value in [*PLANTS.values(), f"ops:pw-{TOKEN}", ROUTING]:
        for name, form in every_spelling(value).items():
            assert form.encode() not in data, f"{name} in {where_}"


def test_every_spelling_of_a_secret_is_masked_in_every_byte_written(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.respond import write_workspace
    from tests.servers import serve_echo

    workspace = write_workspace(
        tmp_path / "ws",
        {
            "aiir": 1,
            "workspace": "w",
            "channels": {
                "slack": {"webhook_env": "PLANT_SLACK"},
                "pagerduty": {"routing_key_env": "PLANT_ROUTING"},
            },
        },
    )
    runbook, scenario = tmp_path / "spellings.yaml", tmp_path / "spellings-drill.yaml"
    write(runbook, spellings_runbook())
    write(
        scenario,
        {
            "aiir": 1,
            "scenario": "spellings",
            "title": "The echo drill",
            "runbook": "spellings.yaml",
            "expect": {"outcome": "resolved"},  # it ends contained: the JUnit says why
        },
    )
    incidents, junit, crashes = tmp_path / "incidents", tmp_path / "junit.xml", tmp_path / "tmp"
    crashes.mkdir()
    streams: dict[str, bytes] = {}
    with serve_echo() as (echo, heard):
        planted = {
            **PLANTS,
            "PLANT_URL": gateway_url(echo),
            "PLANT_SLACK": echo + SLACK_HOOK,
            "PLANT_ROUTING": ROUTING,
            "AIIR_PAGERDUTY_URL": f"{echo}/v2/enqueue",
            "AIIR_WORKSPACE": str(workspace),
            "TMPDIR": str(crashes),
        }
        env = process_env(incidents, **planted)

        def aiir(name: str, *args: str, status: int = 0) -> None:
            done = run_aiir(list(args), env)
            assert done.returncode == status, done.stderr.decode()
            streams[f"{name} stdout"], streams[f"{name} stderr"] = done.stdout, done.stderr

        aiir("run", "run", str(runbook), "--yes")
        incident = only_incident(incidents)
        for view in (["show"], ["show", "--json"], ["report"], ["report", "-t", "slack-update"]):
            aiir(" ".join(view), view[0], incident, *view[1:])
        aiir("incidents", "incidents", "--json")
        aiir("release", "release", incident, "--yes")
        drilled = ["drill", str(scenario), "--gateway", f"gw={echo}/base", "--junit", str(junit)]
        aiir("drill", *drilled, "--incident-dir", str(tmp_path / "drills"), status=1)

        # A crash in the middle of a walk, its message quoting the secrets: the log masks them.
        for name, value in planted.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr("tempfile.tempdir", str(crashes))

        def crash(*_: Any) -> None:
            quoted = [repr(v) for v in PLANTS.values()] + [json.dumps(v) for v in PLANTS.values()]
            raise RuntimeError(f"boom: {' '.join(quoted)} {gateway_url(echo)}")

        monkeypatch.setattr("aiir.engine.walk.Walk.run", crash)
        status, out, err = in_process(tmp_path / "crash", capsys, "run", str(runbook), "--yes")
        streams["crash stdout"], streams["crash stderr"] = out.encode(), err.encode()

    assert status == 1
    assert "details written to" in err
    (log,) = crashes.glob("aiir-crash-*.log")
    assert "RuntimeError: boom: '***'" in log.read_text()
    # The gateway did hear every secret, in every shape: the masking is not for want of leaks.
    sent = b"\n".join(h.target.encode() + repr(h.headers).encode() + h.body for h in heard)
    assert TOKEN.encode() in sent
    assert b"%2B" in sent
    assert b"authorization" in sent
    assert heard[0].headers["x-newline"] == f"Bearer nl-{TOKEN}-k8s"  # stripped, then sent
    written = {
        str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
    }
    assert any(name.startswith("incidents/") and "/evidence/" in name for name in written)
    assert junit.is_file()
    assert any(name.startswith("drills/") for name in written)
    for where_, data in {**streams, **written}.items():
        scan(where_, data)


SET_MODEL = ("--set", "model=m", "--yes")


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_each_spelling_of_each_shape_is_masked_in_text(name: str) -> None:
    secret = PLANTS[name]
    for form_name, form in every_spelling(secret).items():
        masked = redact.scrub(f"before {form} after", [secret.strip()], patterns=False)
        assert TOKEN not in masked, form_name
        assert form not in masked, form_name


@pytest.mark.parametrize("patterns", [False, True])
def test_a_masker_masks_what_scrub_masks(patterns: bool) -> None:
    """The walk's journal and screen mask with a masker made once; it must be scrub itself."""
    texts = [
        f"before {form} after https://u:p@host.example/x sk-{TOKEN}"
        for secret in PLANTS.values()
        for form in every_spelling(secret).values()
    ]
    texts += ["", "plain words", "ftp://anna@files.example", f"Bearer {TOKEN}"]
    for secrets_ in ([], ["ab"], [s.strip() for s in PLANTS.values()]):
        masked = redact.masker(secrets_, patterns=patterns)
        for text in texts:
            assert masked(text) == redact.scrub(text, secrets_, patterns=patterns), text


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_a_secret_inside_a_longer_base64_text_is_masked_at_any_alignment(offset: int) -> None:
    secret = f"pw-{TOKEN}-basic"
    header = "Basic " + base64.b64encode(f"{'u' * offset}ser:{secret}".encode()).decode()
    masked = redact.scrub(header, [secret], patterns=False)
    decoded = base64.b64decode(masked.removeprefix("Basic ").replace(redact.MASK, "") + "==")
    assert TOKEN.encode() not in decoded
    assert masked.startswith("Basic ")
    assert redact.MASK in masked


def test_the_parts_of_a_url_secret_are_masked_wherever_they_show() -> None:
    hook = f"https://hooks.example.com/services/T0AAA/B0BBB/slk{TOKEN}?sig=s{TOKEN}"
    said = [
        f"no_service: no incoming webhook at /services/T0AAA/B0BBB/slk{TOKEN}",
        f"POST /B0BBB/slk{TOKEN} failed",
        f"signature s{TOKEN} expired",
        f"url={urllib.parse.quote(hook, safe='')}",
    ]
    for text in said:
        assert TOKEN not in redact.scrub(text, [hook], patterns=False), text
    assert redact.scrub("see /services/a and webhooks", [hook]) == "see /services/a and webhooks"


def test_credentials_in_any_url_are_masked_declared_or_not() -> None:
    text = "fetching https://bob:hunter2@db.example:5432/x and ftp://anna@files.example failed"
    assert redact.scrub(text, [], patterns=False) == (
        "fetching https://***@db.example:5432/x and ftp://***@files.example failed"
    )
    assert redact.scrub("mail alice@example.com about it", []) == "mail alice@example.com about it"


def test_credentials_in_a_urls_query_are_masked_declared_or_not() -> None:
    """A gateway URL given as ``--gateway gw=https://host/?token=…`` went into the journal's
    ``gateways`` and every request's ``url`` as written."""
    text = "POST http://gw.example:4000/?token=qs-s3cret-value/guardrails failed"
    assert redact.scrub(text, [], patterns=False) == "POST http://gw.example:4000/?token=*** failed"
    text = "https://gw.example/v1?model=gpt-4o&API_KEY=abc123&sig=zzz#top and ?page=2"
    assert redact.scrub(text, [], patterns=False) == (
        "https://gw.example/v1?model=gpt-4o&API_KEY=***&sig=***#top and ?page=2"
    )
    plain = "see https://docs.example/search?q=token&page=2 (no credential in it)"
    assert redact.scrub(plain, [], patterns=False) == plain


def test_the_journal_masks_strings_before_they_are_encoded(tmp_path: Path) -> None:
    secret = PLANTS["PLANT_QUOTED"]
    journal = Journal(
        tmp_path, "t", lambda: "now", lambda t: redact.scrub(t, [secret], patterns=False)
    )
    journal.write("x", {"body": json.dumps({"echo": secret}), secret: [secret, {"k": secret}]})
    journal.close()
    line = (tmp_path / "journal.jsonl").read_bytes()
    scan("journal", line)
    assert json.loads(line)["data"] == {
        "body": '{"echo": "***"}',
        "***": ["***", {"k": "***"}],
    }


def test_json_views_mask_a_key_at_the_start_of_a_line(tmp_path: Path, capsys: Capture) -> None:
    """Encoded, a line break before a key reads ``\\nsk-…``: masking the JSON text missed it."""
    key = f"sk-live-{TOKEN}"
    runbook = {
        **minimal_runbook(),
        "start": "notes",
        "nodes": {
            "notes": {"kind": "input", "title": "Notes", "prompt": "What?", "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "false-positive"},
        },
    }
    runbook.pop("levers")
    runbook.pop("gateways")
    runbook.pop("env")
    runbook.pop("inputs")
    write(tmp_path / "rb.yaml", runbook)
    write(tmp_path / "answers.yaml", {"notes": f"keys found:\n{key}\t{key}"})
    args = ["run", str(tmp_path / "rb.yaml"), "--yes", "-a", str(tmp_path / "answers.yaml")]
    status, _, err = in_process(tmp_path, capsys, *args)
    assert status == 0, err
    incident = only_incident(tmp_path / "incidents")
    status, out, err = in_process(tmp_path, capsys, "show", incident, "--json")
    assert status == 0, err
    assert TOKEN not in out
    (answer,) = json.loads(out)["answers"]
    assert answer["value"] == "keys found:\n***\t***"


def test_evidence_is_as_private_as_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "INC-1", "t", lambda: "now", lambda t: t)
    journal.write("x", {})
    journal.store_evidence("prompts.json", b"user prompts and key hashes")
    journal.close()
    assert (tmp_path / "INC-1" / "journal.jsonl").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "INC-1" / "evidence").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "INC-1" / "evidence" / "prompts.json").stat().st_mode & 0o777 == 0o600


def test_evidence_written_where_wider_modes_were_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "INC-1" / "evidence"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    (folder / "prompts.json").write_bytes(b"old")
    (folder / "prompts.json").chmod(0o644)
    journal = Journal(tmp_path / "INC-1", "t", lambda: "now", lambda t: t)
    journal.store_evidence("prompts.json", b"user prompts")
    folder.chmod(0o750)  # widened again meanwhile: the next store narrows it again
    journal.store_evidence("keys.json", b"key hashes")
    journal.close()
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "prompts.json").read_bytes() == b"user prompts"
    for name in ("prompts.json", "keys.json"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc\ndef-line-break", "contains a line break"),
        ("abc\r\nX-Injected: 1", "contains a line break"),
        ("pässwörd-key", "contains a non-ASCII character, which HTTP headers cannot carry"),
        ("abc\x07def", "contains a control character"),
    ],
)
def test_a_header_value_http_cannot_carry_stops_the_run_before_anything_is_sent(
    tmp_path: Path,
    gateway: tuple[str, Gateway],
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    problem: str,
) -> None:
    url, state = gateway
    runbook = minimal_runbook()
    runbook["env"] = {"GATEWAY_CREDENTIAL": {"description": "credential"}}
    runbook["gateways"]["gw"]["headers"] = {"X-Auth": "Bearer {{ env.GATEWAY_CREDENTIAL }}"}
    write(tmp_path / "rb.yaml", runbook)
    monkeypatch.setenv("GATEWAY_CREDENTIAL", value)
    status, out, err = in_process(
        tmp_path, capsys, "run", str(tmp_path / "rb.yaml"), "--gateway", f"gw={url}", *SET_MODEL
    )
    assert (status, out) == (2, "")
    assert err == (
        "aiir: gateways.gw.headers.X-Auth: the value of header X-Auth (made from "
        f"env.GATEWAY_CREDENTIAL) {problem}; nothing was sent\n"
    )
    assert state.calls == []
    assert not (tmp_path / "incidents").exists()


def test_a_request_header_made_from_an_answer_is_checked_too() -> None:
    with pytest.raises(RequestRefused) as refused:
        checked_header("Authorization", "Bearer sk-ä", "Bearer {{ answers['key'] }}", "nodes.b")
    assert str(refused.value) == (
        "nodes.b.Authorization: the value of header Authorization (made from answers.key) "
        "contains a non-ASCII character, which HTTP headers cannot carry; nothing was sent"
    )
    assert checked_header("X", "  spaced value \t", None, "w") == "spaced value"


def test_a_request_refused_by_the_http_layer_is_tried_once_and_names_no_value() -> None:
    tries: list[httpx2.Request] = []

    def refuse(request: httpx2.Request) -> httpx2.Response:
        tries.append(request)
        raise httpx2.LocalProtocolError(f"Illegal header value b'Bearer {TOKEN}\\n'")

    with httpx2.Client(transport=httpx2.MockTransport(refuse)) as client:
        call = Call("gw", "GET", "http://gw.invalid/x", {}, {}, None, None, 5.0, 3, None, {})
        reply = Sender(client, lambda _: None).send(call)
    assert (len(tries), reply.ok, reply.attempts) == (1, False, 1)
    assert TOKEN not in reply.reason
    assert reply.reason.startswith("not sent")


def test_credentials_in_a_gateway_url_from_a_variable_never_show_in_its_error(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    runbook = minimal_runbook()
    runbook["env"] = {"GATEWAY_URL": {"description": "where the gateway is"}}
    runbook["gateways"]["gw"] = {"profile": "http", "url": "{{ env.GATEWAY_URL }}"}
    write(tmp_path / "rb.yaml", runbook)
    monkeypatch.setenv("GATEWAY_URL", f"ftp://ops:pw-{TOKEN}@files.example/tok{TOKEN}?k={TOKEN}\n")
    status, out, err = in_process(tmp_path, capsys, "run", str(tmp_path / "rb.yaml"), *SET_MODEL)
    assert (status, out, err) == (
        2,
        "",
        "aiir: gateway 'gw': 'ftp://files.example' is not an http(s) URL\n",
    )


# --- hostile data ------------------------------------------------------------------------------


def test_hostile_text_from_an_answer_and_a_gateway_reaches_the_terminal_inert(
    tmp_path: Path, gateway: tuple[str, Gateway], capsys: Capture
) -> None:
    url, state = gateway
    state.faults.append(Fault("/v1/models", 200, json.dumps({"data": [{"id": HOSTILE}]}).encode()))
    run = Hostile(tmp_path, url)
    status, out, err = run.run()

    assert status == 0, err
    views = run.views(capsys)
    for stream in (out, err, *views.values()):  # the JSON views escape them: \u001b
        assert b"\x1b" not in stream
        assert b"\x07" not in stream
        assert "\x9b".encode() not in stream
    for stream in (out, views["incidents"], views["show"]):
        assert b"http://evil.example" not in stream  # the hyperlink is gone, not just broken
        assert b"evaluated" not in stream  # no template was evaluated
    text = out.decode()
    inert = "click [bold red]x[/] {{ 7*7 }} {{ 'evalu' ~ 'ated' }}"
    assert f"Reported: {inert} / gateway said: {inert}" in text
    assert f"Closed after {inert}" in text
    incident = load_incident(run.incidents, only_incident(run.incidents))
    assert incident.answers[0]["value"] == HOSTILE  # the record keeps it exactly, as evidence
    assert incident.vars["note"] == HOSTILE


def test_a_hostile_input_is_sent_as_data_never_evaluated(
    tmp_path: Path, gateway: tuple[str, Gateway], capsys: Capture
) -> None:
    url, state = gateway
    runbook = tmp_path / "drill.yaml"
    write(runbook, drill())
    answers = tmp_path / "answers.yaml"
    phrase = "{{ 7*7 }} {% if true %}[bold]x[/]{% endif %}"
    write(answers, {**DRILL_ANSWERS, "phrase": phrase})
    args = ["run", str(runbook), "-a", str(answers), "--gateway", f"gateway={url}", "--yes"]
    status, out, _ = in_process(tmp_path, capsys, *args, "--set", "model={{ 6*7 }}")

    assert status == 0
    (guardrail,) = state.guardrails.values()
    assert [w["keyword"] for w in guardrail["litellm_params"]["blocked_words"]] == [phrase]
    chats = [body for _, path, body, _ in state.calls if path == "/v1/chat/completions"]
    assert chats[0]["messages"][0]["content"] == f"{phrase} now"
    assert {c["model"] for c in chats} == {"{{ 6*7 }}"}
    assert f"Contained leak on {{{{ 6*7 }}}}; phrase {phrase}." in out
    incident = load_incident(tmp_path / "incidents", only_incident(tmp_path / "incidents"))
    assert incident.inputs == {"model": "{{ 6*7 }}"}


# --- the template sandbox ---------------------------------------------------------------------

# Attribute walks towards Python internals: refused by the sandbox when rendered.
WALKS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__.__builtins__.open('MARKER', 'w') }}",
    "{{ inputs.model.__class__.__base__.__subclasses__() }}",
    "{{ ''|attr('__class__') }}",
    "{{ '{0.__class__}'.format(inputs) }}",
    # str.format reached without calling it by name: closed in Jinja 3.1.5 and 3.1.6, the floor
    "{% set f = '{0.__class__}'.format %}{{ f(inputs) }}",
    "{{ ('{0.__class__}'|attr('format'))(inputs) }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
]
# Jinja's globals, the usual way out of a sandbox: there are none at all.
GLOBALS = [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER') }}",
    "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range(10**9)|list }}",
    "{{ config.items() }}",
]
CONTEXT = {"inputs": {"model": "m"}, "answers": {}, "vars": {}, "env": {}, "incident": {}}


@pytest.mark.parametrize("payload", WALKS)
def test_the_sandbox_refuses_attribute_walks(payload: str) -> None:
    with pytest.raises(TemplateFailure) as refused:
        render(payload, CONTEXT, "nodes.triage.text")
    assert re.fullmatch(
        r"nodes\.triage\.text: template error: refused by the sandbox "
        r"\(access to attribute '\w+' of '\w+' object is unsafe\.\)",
        str(refused.value),
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ("{{ ('{0}'|attr('format_map'))({'0': 1}) }}", "IndexError: tuple index out of range"),
        ("{{ 'x' + 1 }}", 'TypeError: can only concatenate str (not "int") to str'),
    ],
)
def test_a_template_whose_own_code_fails_is_a_one_line_error(payload: str, reason: str) -> None:
    with pytest.raises(TemplateFailure) as failed:
        render(payload, CONTEXT, "nodes.n.prompt")
    assert str(failed.value) == f"nodes.n.prompt: template error: {reason}"
    with pytest.raises(TemplateFailure):
        evaluate(payload.strip("{} "), CONTEXT, "nodes.b.when")


def test_jinja_is_at_least_the_release_that_closes_the_format_escapes() -> None:
    import importlib.metadata
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "jinja2>=3.1.6" in project["project"]["dependencies"]
    installed = tuple(int(p) for p in importlib.metadata.version("jinja2").split(".")[:3])
    assert installed >= (3, 1, 6)


@pytest.mark.parametrize("payload", GLOBALS)
def test_the_sandbox_has_no_globals_to_escape_through(payload: str) -> None:
    with pytest.raises(TemplateFailure) as refused:
        render(payload, CONTEXT, "w")
    assert re.fullmatch(
        r"w: template error: ('\w+' is undefined|refused by the sandbox \(access to attribute "
        r"'__init__' of 'StrictUndefined' object is unsafe\.\))",
        str(refused.value),
    )


@pytest.mark.parametrize("payload", WALKS + GLOBALS)
def test_template_injection_in_a_runbook_stops_it_with_one_line(
    tmp_path: Path,
    gateway: tuple[str, Gateway],
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
    payload: str,
) -> None:
    """Refused by validation (at file:line:col) when it can see it, else by the sandbox."""
    monkeypatch.chdir(tmp_path)
    url, state = gateway
    data = drill()
    data["nodes"]["triage"]["text"] = f"Look at the logs. {payload}"
    runbook, answers = tmp_path / "drill.yaml", tmp_path / "answers.yaml"
    text = write(runbook, data)
    write(answers, DRILL_ANSWERS)
    status, out, err = in_process(
        tmp_path,
        capsys,
        "run",
        str(runbook),
        "-a",
        str(answers),
        "--gateway",
        f"gateway={url}",
        "--yes",
    )

    location = where(text, "text: Look at the logs.", "Look")
    validation = re.escape(f"aiir: {runbook}:{location}: error: nodes.triage.text: ") + r".+"
    sandbox = r"aiir: nodes\.triage\.text: template error: refused by the sandbox \(.+\)"
    assert status == 2
    assert re.fullmatch(f"({validation}|{sandbox})\n", err), err
    assert "Traceback" not in out + err
    assert state.calls == []
    assert not (tmp_path / "MARKER").exists()


# --- requests stay on the declared gateway ---------------------------------------------------


def path_runbook() -> dict[str, Any]:
    """A runbook whose first step fetches a path built from an input, with the admin key."""
    data = drill()
    data["inputs"]["target"] = {"description": "What to fetch"}
    data["start"] = "fetch"
    data["nodes"]["fetch"] = {
        "kind": "action",
        "title": "Fetch",
        "request": {"method": "GET", "path": "/{{ inputs.target }}"},
        "next": "triage",
    }
    return data


@pytest.fixture
def evil() -> Iterator[tuple[str, Gateway]]:
    """Another loopback server, standing in for evil.example: it must never be reached."""
    with serve_gateway() as served:
        yield served


def fetch(tmp_path: Path, url: str, target: str, capsys: Capture) -> tuple[int, str]:
    runbook = tmp_path / "paths.yaml"
    write(runbook, path_runbook())
    args = ["run", str(runbook), "--gateway", f"gateway={url}", "--set", f"target={target}"]
    status, out, err = in_process(tmp_path, capsys, *args, "--yes")
    assert "Traceback" not in out + err
    return status, err


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/{evil}/x", "a leading '//' names another host"),
        ("../admin", "'.' and '..' segments (also percent-encoded) are not allowed"),
        ("key/../../{evil}", "'.' and '..' segments (also percent-encoded) are not allowed"),
        ("%2e%2e/admin", "'.' and '..' segments (also percent-encoded) are not allowed"),
        ("key%2f..%2fadmin", "'.' and '..' segments (also percent-encoded) are not allowed"),
        ("\\{evil}/x", "some servers read '\\' as '/'"),
        ("x\r\nHost: {evil}", "it contains control characters"),
    ],
    ids=[
        "protocol-relative",
        "dot-dot",
        "dot-dot-deep",
        "encoded-dots",
        "encoded-slash",
        "backslash",
        "crlf",
    ],
)
def test_a_path_from_an_input_that_could_leave_is_refused_and_nothing_sent(
    tmp_path: Path,
    gateway: tuple[str, Gateway],
    evil: tuple[str, Gateway],
    capsys: Capture,
    target: str,
    reason: str,
) -> None:
    url, state = gateway
    evil_url, evil_state = evil
    value = target.format(evil=evil_url.removeprefix("http://"))
    status, err = fetch(tmp_path, url, value, capsys)

    assert status == 2
    assert err == (
        f"aiir: nodes.fetch.request: path {'/' + value!r} refused: {reason} "
        "(requests only go to gateway 'gateway')\n"
    )
    assert state.calls == []
    assert evil_state.calls == []


@pytest.mark.parametrize(
    "target", ["@{evil}/x", "{url}/x", "x@{evil}"], ids=["at", "full-url", "userinfo"]
)
def test_a_path_that_only_looks_like_a_host_stays_on_the_gateway(
    tmp_path: Path,
    gateway: tuple[str, Gateway],
    evil: tuple[str, Gateway],
    capsys: Capture,
    target: str,
) -> None:
    """After the gateway's own '/', '@' and '://' are path characters: the host cannot change."""
    url, state = gateway
    evil_url, evil_state = evil
    value = target.format(evil=evil_url.removeprefix("http://"), url=evil_url)
    status, _ = fetch(tmp_path, url, value, capsys)

    assert status == 1  # the gateway has no such path: the action failed
    assert [c[1] for c in state.calls] == [f"/{value}"]  # sent there, and only there
    assert evil_state.calls == []


@pytest.mark.parametrize(
    "path",
    [
        "@evil.example/x",
        "evil.example/x",
        "http://evil.example/x",
        "https://evil.example",
        ":8080/x",
        "//evil.example/x",
        "/\\evil.example",
        "/../x",
        "/%2E%2e/x",
        "/x/%2e",
        "/x\n",
    ],
)
def test_join_url_refuses_anything_that_could_change_the_host(path: str) -> None:
    endpoint = Endpoint("gw", "litellm", "http://127.0.0.1:4000/litellm", {})
    with pytest.raises(RequestRefused, match=r"^levers\.kill\.engage: path .* refused: "):
        join_url(endpoint, path, "levers.kill.engage")


@pytest.mark.parametrize(
    "path", ["/key/block", "/fallback/openai%2Fgpt-4", "/x?next=../y", "/a.b/..c"]
)
def test_join_url_keeps_ordinary_paths(path: str) -> None:
    endpoint = Endpoint("gw", "litellm", "http://127.0.0.1:4000/litellm", {})
    assert join_url(endpoint, path, "w") == f"http://127.0.0.1:4000/litellm{path}"


def static_refusal(tmp_path: Path, data: dict[str, Any], capsys: Capture) -> tuple[str, str]:
    runbook = tmp_path / "paths.yaml"
    text = write(runbook, data)
    status, out, err = in_process(
        tmp_path, capsys, "run", str(runbook), "--set", "target=evil.example", "--yes"
    )
    assert (status, out) == (2, "")
    assert not (tmp_path / "incidents").exists()
    return text, err


def test_a_path_must_start_with_a_literal_slash(tmp_path: Path, capsys: Capture) -> None:
    """The static guard: no template decides where a path starts."""
    data = path_runbook()
    data["nodes"]["fetch"]["request"]["path"] = "{{ inputs.target }}"
    text, err = static_refusal(tmp_path, data, capsys)
    assert err == (
        f"aiir: {tmp_path / 'paths.yaml'}:{where(text, 'method: GET')}: error: "
        "nodes.fetch.request: 'path' must start with '/': requests only go to declared gateways\n"
    )


def test_a_gateway_url_cannot_be_built_from_an_input(tmp_path: Path, capsys: Capture) -> None:
    data = path_runbook()
    data["gateways"]["gateway"]["url"] = "http://{{ inputs.target }}"
    text, err = static_refusal(tmp_path, data, capsys)
    assert err == (
        f"aiir: {tmp_path / 'paths.yaml'}:{where(text, 'url: http://', 'http')}: error: "
        "gateways.gateway.url: 'inputs.target' is not defined here; templates here read env.*\n"
    )


# --- YAML is data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch MARKER']",
        "!!python/object/new:subprocess.Popen [['touch', 'MARKER']]",
        "!!python/object:builtins.object {}",
        "!!python/name:os.system",
    ],
)
def test_python_tags_in_an_answers_file_are_refused_and_never_run(
    tmp_path: Path,
    gateway: tuple[str, Gateway],
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
    tag: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    url, state = gateway
    runbook, answers = tmp_path / "drill.yaml", tmp_path / "answers.yaml"
    write(runbook, drill())
    answers.write_text(f"triage: {tag}\n", encoding="utf-8")
    status, out, err = in_process(
        tmp_path,
        capsys,
        "run",
        str(runbook),
        "-a",
        str(answers),
        "--gateway",
        f"gateway={url}",
        "--yes",
    )

    shown = tag.split(" ", maxsplit=1)[0]
    assert (status, out) == (2, "")
    assert err == (
        f"aiir: {answers}:1:9: error: unsupported YAML tag '{shown}': "
        "aiir reads plain YAML data only\n"
    )
    assert not (tmp_path / "MARKER").exists()
    assert state.calls == []
    assert not (tmp_path / "incidents").exists()
