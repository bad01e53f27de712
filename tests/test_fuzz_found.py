"""What the document fuzzer (``tests/test_fuzz_documents.py``) found, kept as regression cases:
each test names the mutation and what went wrong before the fix."""

from __future__ import annotations

import math
from pathlib import Path

import httpx2
import pytest

from aiir.outbound.gateway import NOT_JSON, Call, Reply
from aiir.outbound.sending import exchange
from tests.fuzzing import ROOT
from tests.respond import aiir, no_terminal
from tests.servers import serve_gateway

Capture = pytest.CaptureFixture[str]
HUGE = "é" * 100_000


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)


def _replaced(source: Path, old: str, new: str, into: Path) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    into.write_text(text.replace(old, new, 1), encoding="utf-8")
    return into


def _one_clear_line_each(err: str, name: str) -> None:
    lines = err.strip().splitlines()
    assert lines, "no error at all"
    assert all(len(line) <= 1000 for line in lines), max(map(len, lines))
    assert any(name in line and ":" in line for line in lines)
    assert "Traceback" not in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    "args",
    [["validate"], ["graph"], ["run", "--dry-run"]],
    ids=["validate", "graph", "run"],
)
def test_a_huge_value_is_named_by_its_two_ends(
    args: list[str], tmp_path: Path, capsys: Capture
) -> None:
    """A field 100,000 characters long and of no allowed value (m_long): the error about it
    printed the whole value, one 200,000-byte line on the screen for each command."""
    runbook = _replaced(
        ROOT / "runbooks" / "triage.yaml",
        "severity: SEV",
        f"severity: {HUGE}\nx: SEV",
        tmp_path / "rb.yaml",
    )
    ran = aiir(capsys, args[0], str(runbook), *args[1:])
    assert ran.status == 2
    _one_clear_line_each(ran.out + ran.err, "rb.yaml")
    assert "éé...éé" in ran.out + ran.err


def test_a_scenario_naming_a_huge_node_is_named_short(tmp_path: Path, capsys: Capture) -> None:
    """A drill scenario's expected path naming a node 300,000 characters long: validate's and
    drill's 'has no node' errors (a check of aiir.validate, not the schema) printed it whole."""
    scenario = _replaced(
        ROOT / "examples" / "drills" / "triage.yaml",
        "path: [intake,",
        f"path: [{'x' * 300_000}, intake,",
        tmp_path / "drill.yaml",
    )
    for args in (["validate"], ["drill", "--incident-dir", str(tmp_path / "inc")]):
        ran = aiir(capsys, args[0], str(scenario), *args[1:])
        assert ran.status == 2, ran
        _one_clear_line_each(ran.out + ran.err, "drill.yaml")
    assert not (tmp_path / "inc").exists()


MINIMAL = (
    "aiir: 1\nid: x\ntitle: T\nowner: security\nseverity: SEV3\nversion: {version}\nstart: a\n"
    "nodes:\n  a: {{kind: end, title: Done, outcome: resolved}}\n"
)


@pytest.mark.parametrize(
    ("tagged", "said"),
    [
        (
            "!!float 1e999 suspended, cause]",
            "'1e999 suspended, cause]' tagged !!float is no number",
        ),
        ("!!int abc", "'abc' tagged !!int is no integer"),
    ],
)
@pytest.mark.parametrize("command", [["validate"], ["run", "--dry-run"]], ids=["validate", "run"])
def test_a_tag_naming_a_number_on_text_is_a_located_error(
    tagged: str, said: str, command: list[str], tmp_path: Path, capsys: Capture
) -> None:
    """`!!float` on text that is no number (m_tag): an internal error (ValueError from PyYAML's
    float constructor) in every command; `!!int text` said 'number is too large'."""
    runbook = tmp_path / "rb.yaml"
    runbook.write_text(MINIMAL.format(version=tagged), encoding="utf-8")
    ran = aiir(capsys, command[0], str(runbook), *command[1:])
    assert ran.status == 2
    assert f"rb.yaml:6:10: error: {said}" in ran.out + ran.err
    assert "internal error" not in ran.out + ran.err


def test_nan_or_infinity_in_a_request_is_refused_before_the_walk(
    tmp_path: Path, capsys: Capture
) -> None:
    """A lever's `with:` value `.inf` (m_retype): validate accepted it; the drill's walk sent the
    lever, httpx2 refused to encode the body on the request thread (a traceback on the screen)
    and the lever was reported 'timed out after 15s' though nothing had gone out."""
    runbook = _replaced(
        ROOT / "runbooks" / "model-extraction.yaml",
        "key: \"{{ answers['suspect-key'] }}\"",
        "key: .inf",
        tmp_path / "model-extraction.yaml",
    )
    drill = _replaced(
        ROOT / "examples" / "drills" / "model-extraction.yaml",
        "\nrunbook: model-extraction\n",
        "\nrunbook: model-extraction.yaml\n",
        tmp_path / "drill.yaml",
    )
    said = "levers.block-suspect-key.engage: 'with' holds NaN or infinity, which JSON cannot carry"
    for args in (["validate", str(runbook)], ["drill", str(drill), "--incident-dir", "inc"]):
        ran = aiir(capsys, *args)
        assert ran.status == 2, ran
        assert "Traceback" not in ran.out + ran.err
        assert said in ran.out + ran.err
    assert not (tmp_path / "inc").exists()


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_body_json_cannot_carry_is_not_sent(number: float) -> None:
    """The same below the checks (a value reaching a body some other way): said as not sent, at
    once, not as a timeout after a traceback on the request thread."""
    with serve_gateway() as (url, state):
        call = Call(
            gateway="gw",
            method="POST",
            url=f"{url}/key/block",
            headers={},
            query={},
            json={"keys": [{"temperature": number}]},
            body=None,
            timeout=15.0,
            retries=0,
            expect=None,
            save={},
        )
        reply = exchange(httpx2.Client(), call)
        assert state.calls == []
    assert isinstance(reply, Reply)
    assert reply.reason == NOT_JSON
    assert not reply.uncertain


def test_validating_a_folder_without_yaml_is_bad_input(tmp_path: Path, capsys: Capture) -> None:
    """A document replaced by a directory (the fuzzer's 'directory' case): `aiir validate DIR`
    of a folder with no YAML said '0 file(s) valid' and passed, where drill, canary and detect
    said the folder held nothing; a CI job naming the wrong folder validated nothing, green."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "README.md").write_text("notes\n")
    ran = aiir(capsys, "validate", str(tmp_path / "runbooks"))
    assert ran.status == 2
    assert ran.err.strip().splitlines() == [
        f"aiir: {tmp_path / 'runbooks'}: no YAML file in this directory"
    ]
    (tmp_path / "runbooks" / "rb.yaml").write_text((ROOT / "runbooks" / "triage.yaml").read_text())
    assert aiir(capsys, "validate", str(tmp_path / "runbooks")).status == 0


URL = "postgresql://u:fuzz-Secret-pw-0123@127.0.0.1:9/db"


@pytest.mark.parametrize(
    "args",
    [["graph", "triage", "-o", URL], ["incidents", "--incident-dir", URL]],
    ids=["graph", "incidents"],
)
def test_a_url_given_for_a_path_keeps_its_password_off_the_screen(
    args: list[str], capsys: Capture
) -> None:
    """A store URL pasted where a path goes (tests/test_fuzz_flags.py): the error named the path,
    which a path writes with one slash ('postgresql:/u:PASSWORD@...'), and the masking of URL
    credentials looked for '://' only: the password was on the screen."""
    ran = aiir(capsys, *args)
    assert ran.status in (0, 2)  # incidents: 'no incidents under ...'
    assert "fuzz-Secret-pw-0123" not in ran.out + ran.err
    assert "postgresql:/***@127.0.0.1:9/db" in ran.out + ran.err


@pytest.mark.parametrize(
    "args",
    [
        ["drill", "triage", "--junit"],
        ["canary", "run", str(ROOT / "examples" / "canaries" / "rag-assistant.yaml"), "--junit"],
    ],
    ids=["drill", "canary"],
)
def test_a_junit_file_that_cannot_be_written_is_refused_first(
    args: list[str], tmp_path: Path, capsys: Capture
) -> None:
    """`--junit` with a name too long for a file (tests/test_fuzz_flags.py): the drills ran, their
    incidents were made, and only then did the report fail to be written, exit 2."""
    ran = aiir(capsys, *args, "x" * 5000)
    assert ran.status == 2
    (line,) = ran.err.strip().splitlines()
    assert line.startswith("aiir: --junit xxx")
    assert line.endswith(": a name in it is too long for a file")
    assert list(tmp_path.iterdir()) == []


def test_a_canary_model_outside_latin1_runs_on_the_sandbox(tmp_path: Path, capsys: Capture) -> None:
    """A canary suite's target model 'é🙂' (m_retype): the simulated gateway put the model in a
    reply header, which cannot hold it; the sandbox's reply crashed and the canary run with it
    (internal error)."""
    suite = _replaced(
        ROOT / "aiir" / "scaffold" / "canaries" / "support-bot.yaml",
        "model: support-bot",
        'model: "\\xE9\\U0001F642\\u202E\\u200B"',
        tmp_path / "support-bot.yaml",
    )
    ran = aiir(capsys, "canary", "run", str(suite), "--sandbox", "--history-dir", "hist")
    assert ran.status == 0, ran.err
    assert "internal error" not in ran.out + ran.err
    assert "\u202e" not in ran.out + ran.err


def test_a_request_url_too_long_fails_the_step_not_the_tool(
    tmp_path: Path, capsys: Capture
) -> None:
    """A scenario input 100,000 characters long, templated into a request's path (m_long):
    httpx2 refused the URL ('URL too long') where the request was built, an internal error that
    stopped the whole drill run. Now the request is refused like one leaving its gateway."""
    scenario = _replaced(
        ROOT / "examples" / "drills" / "indirect-prompt-injection-rag-ticket.yaml",
        "agent: support-agent",
        f"agent: {HUGE}",
        tmp_path / "drill.yaml",
    )
    ran = aiir(capsys, "drill", str(scenario), "--incident-dir", "inc")
    assert ran.status == 1, ran.err
    assert "internal error" not in ran.out + ran.err
    assert "the URL cannot be sent: URL too long" in ran.out
