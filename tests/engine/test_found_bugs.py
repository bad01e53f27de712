"""Bugs found while writing published playbooks in aiir's format (each test failed before its fix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from tests.receiver import serve_receiver
from tests.respond import aiir, journal, no_terminal, of_type

Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    no_terminal(monkeypatch)


def _yes_no_runbook(when: str) -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "yes-no",
        "title": "Yes/no answers in a branch",
        "owner": "security",
        "severity": "SEV3",
        "tags": {"owasp": ["LLM01:2025"]},
        "start": "a",
        "nodes": {
            "a": {"kind": "confirm", "title": "A", "prompt": "A?", "yes": "b", "no": "b"},
            "b": {"kind": "confirm", "title": "B", "prompt": "B?", "yes": "c", "no": "c"},
            "c": {"kind": "confirm", "title": "C", "prompt": "C?", "yes": "score", "no": "score"},
            "score": {
                "kind": "branch",
                "title": "Score",
                "cases": [{"when": when, "next": "high"}],
                "default": "low",
            },
            "high": {"kind": "end", "title": "High", "outcome": "escalated"},
            "low": {"kind": "end", "title": "Low", "outcome": "false-positive"},
        },
    }


@pytest.mark.parametrize(
    "when",
    [
        "[answers.a, answers.b, answers.c] | select('equalto', 'yes') | list | length >= 2",
        "[answers.a, answers.b, answers.c] | select('equalto', true) | list | length >= 2",
        "answers.a == 'yes' and answers.b == 'Yes' and answers.c != 'yes'",
        "answers.a and 'yes' in [answers.b] and answers.c == 'no' and answers.c is false",
        "answers.a is true and answers.c is sameas false and answers.b is boolean",
    ],
)
def test_yes_no_answers_compare_equal_to_the_words_and_the_booleans(
    tmp_path: Path, capsys: Capture, when: str
) -> None:
    runbook = tmp_path / "rb.yaml"
    write(runbook, _yes_no_runbook(when))
    write(tmp_path / "answers.yaml", {"a": "yes", "b": True, "c": "no"})
    ran = aiir(
        capsys,
        "run",
        str(runbook),
        "--answers",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(tmp_path / "inc"),
    )
    assert ran.status == 0, ran.err
    (folder,) = (tmp_path / "inc").iterdir()
    (branch,) = of_type(journal(tmp_path / "inc", folder.name), "branch")
    assert branch["next"] == "high"


def _probe_runbook(url: str) -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "probe",
        "title": "A probe with an optional key",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM01:2025"]},
        "env": {"APP_TEAM_KEY": {"description": "The app team's key", "required": False}},
        "gateways": {"gw": {"profile": "http", "url": url}},
        "levers": {
            "kill": {
                "title": "Kill switch",
                "kind": "kill-switch",
                "engage": {"method": "POST", "path": "/kill"},
                "verify": {
                    "method": "POST",
                    "path": "/probe",
                    "headers": {"Authorization": "Bearer {{ env.APP_TEAM_KEY }}"},
                    "expect": {"status": [403]},
                },
            }
        },
        "start": "contain",
        "nodes": {
            "contain": {"kind": "lever", "title": "Kill", "lever": "kill", "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "contained"},
        },
    }


def test_a_probe_using_an_unset_optional_variable_cannot_verify(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APP_TEAM_KEY", raising=False)
    with serve_receiver() as receiver:
        runbook = tmp_path / "rb.yaml"
        write(runbook, _probe_runbook(receiver.url))
        ran = aiir(capsys, "run", str(runbook), "--yes", "--incident-dir", str(tmp_path / "inc"))
        assert receiver.to("/kill")
        assert not receiver.to("/probe")
    assert "cannot verify: APP_TEAM_KEY is not set" in ran.out
    assert "NOT effective" not in ran.out
    (folder,) = (tmp_path / "inc").iterdir()
    (verified,) = of_type(journal(tmp_path / "inc", folder.name), "lever.verified")
    assert verified["ok"] is False
    assert verified["unverified"] is True
    assert verified["reply"]["reason"] == "cannot verify: APP_TEAM_KEY is not set"
    shown = aiir(capsys, "show", folder.name, "--incident-dir", str(tmp_path / "inc"))
    assert "cannot verify: APP_TEAM_KEY is not set" in shown.out
    assert "NOT effective" not in shown.out


_CUT = """\
aiir: 1
id: cut
title: A YAML slip
owner: security
severity: SEV3
tags: {owasp: ["LLM01:2025"]}
start: a
nodes:
  a:
    kind: question
    title: A
    prompt: What happened?
    choices:
      - {label: Data leak (PII, uploaded file), value: leak, next: done}
  done: {kind: end, title: Done, outcome: resolved}
"""


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_unquoted_comma_in_a_flow_mapping_says_to_quote_the_value(
    tmp_path: Path, capsys: Capture, command: str
) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(_CUT, encoding="utf-8")
    ran = aiir(capsys, command, str(path))
    assert ran.status == 2
    said = ran.out + ran.err
    (line,) = [x for x in said.splitlines() if "error:" in x]
    assert line.endswith(
        f"{path}:14:33: error: nodes.a.choices[0]['uploaded file)']: unknown field "
        "'uploaded file)': an unquoted comma inside {...} ended the value of 'label' before it; "
        'quote that value (label: "Data leak (PII, uploaded file)")'
    )


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_plain_value_holding_colon_space_says_to_quote_it(
    tmp_path: Path, capsys: Capture, command: str
) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(
        _CUT.replace("prompt: What happened?", 'prompt: Check the "note": it says stop'),
        encoding="utf-8",
    )
    ran = aiir(capsys, command, str(path))
    assert ran.status == 2
    (line,) = [x for x in (ran.out + ran.err).splitlines() if "error:" in x]
    assert line.endswith(
        f"{path}:12:29: error: invalid YAML: mapping values are not allowed in this context; "
        "a plain value cannot hold ': ': quote it "
        '(prompt: "Check the \\"note\\": it says stop")'
    )


_SAVED_BRANCH = """\
aiir: 1
id: dry
title: Branch over saved values
owner: security
severity: SEV3
tags: {owasp: ["LLM01:2025"]}
gateways:
  gw: {profile: http, url: "URL"}
start: look
nodes:
  look:
    kind: capture
    title: Look
    items:
      - name: spend
        what: [metrics]
        request: {method: GET, path: /spend, save: {rpm_before: info.rpm}}
    next: count
  count:
    kind: action
    title: Count
    request: {method: GET, path: /count, save: {hits: total}}
    next: route
  route:
    kind: branch
    title: Route
    cases:
      - {when: "vars.hits > 3 and vars.rpm_before", next: many}
      - {when: "answers.count == 'ok'", next: counted}
    default: few
  many: {kind: end, title: Many, outcome: escalated}
  counted: {kind: end, title: Counted, outcome: resolved}
  few: {kind: end, title: Few, outcome: resolved}
"""


def test_a_dry_run_passes_by_a_branch_over_saved_values_and_says_so(
    tmp_path: Path, capsys: Capture
) -> None:
    with serve_receiver() as receiver:
        path = tmp_path / "rb.yaml"
        path.write_text(_SAVED_BRANCH.replace("URL", receiver.url), encoding="utf-8")
        incidents = tmp_path / "inc"
        ran = aiir(capsys, "run", str(path), "--dry-run", "--incident-dir", str(incidents))
        assert not receiver.requests  # a dry run sends nothing
    assert ran.status == 0, ran.out + ran.err
    said = " ".join(ran.out.split())
    assert (
        "dry run: cases[0] reads vars.hits, vars.rpm_before, saved from a reply a dry run does "
        "not get: not taken; going on to 'counted'"
    ) in said
    assert not incidents.exists()  # nothing is kept
