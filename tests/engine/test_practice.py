"""Practice and truth: what a sandbox walk, a dry run and a declined lever leave behind.

Each test runs the real command in a child process with no terminal, as CI does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiir.incident.state import load_incident
from tests.helpers import write
from tests.runs import process_env, run_aiir
from tests.servers import serve_gateway

ANSWERS: dict[str, Any] = {
    "confirm-injection": "harmful-output",
    "key-known": "yes",
    "attacker-key": "sk-attacker-demo-0001",
    "still-leaking": "bypassed",
    "eradicate": "all",
}


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = process_env(tmp_path / "incidents")
    env.pop("LITELLM_MASTER_KEY")  # practice needs no key at all
    done = run_aiir(list(args), env, cwd=tmp_path)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def answers_file(tmp_path: Path, name: str, answers: dict[str, Any]) -> str:
    path = tmp_path / name
    write(path, answers)
    return str(path)


def only(tmp_path: Path) -> str:
    (found,) = [d.name for d in (tmp_path / "incidents").iterdir()]
    return found


# --- a sandbox incident can be resumed and released ---------------------------------------------


def test_a_sandbox_walk_resumes_and_releases_against_its_rebuilt_sandbox(tmp_path: Path) -> None:
    partial = {k: v for k, v in ANSWERS.items() if k != "still-leaking"}
    status, out, err = run(
        tmp_path,
        "run",
        "prompt-injection",
        "--sandbox",
        "--yes",
        "--answers",
        answers_file(tmp_path, "partial.yaml", partial),
    )
    assert status == 2, out + err  # stopped at the unanswered question, resumably
    incident = only(tmp_path)
    assert f"resume with: aiir resume {incident}" in out
    assert "Levers engaged now: block-attacker-key (verified), emergency-filter (verified)" in out

    full = answers_file(tmp_path, "full.yaml", ANSWERS)
    status, out, err = run(tmp_path, "resume", incident, "--yes", "--answers", full)
    assert status == 0, out + err
    assert "SANDBOX" in out
    assert "Outcome: contained" in out

    status, out, err = run(tmp_path, "release", incident, "--yes")
    assert status == 0, out + err
    record = load_incident(tmp_path / "incidents", incident)
    assert [(r.lever, r.state) for r in record.levers] == [
        ("emergency-filter", "released"),
        ("block-attacker-key", "released"),
        ("reroute-fallback", "released"),
    ]
    assert record.exercise == "sandbox"


def test_an_exercise_never_takes_a_real_gateway_on_resume(tmp_path: Path) -> None:
    status, _, _ = run(tmp_path, "run", "prompt-injection", "--sandbox")  # stops: no answers
    assert status == 2
    status, _out, err = run(tmp_path, "resume", only(tmp_path), "--gateway", "gateway=http://x")
    assert status == 2
    assert "is an exercise (sandbox); it runs against the simulated gateway only" in err


# --- "contained" only with a lever in effect ------------------------------------------------------


def test_declining_every_lever_is_not_contained_everywhere(tmp_path: Path) -> None:
    declined = {
        **ANSWERS,
        "key-known": "no",
        "filter.approve": "no",
        "reroute.approve": "no",
    }
    status, out, err = run(
        tmp_path,
        "run",
        "prompt-injection",
        "--sandbox",
        "--answers",
        answers_file(tmp_path, "declined.yaml", declined),
        "--yes",
    )
    flat = " ".join(out.split())
    assert status == 1, out + err
    assert "Outcome: not-contained" in flat
    assert (
        "no lever is proven in effect (no lever was engaged; declined at filter, reroute)" in flat
    )
    incident = only(tmp_path)
    record = load_incident(tmp_path / "incidents", incident)
    ended = next(e for e in record.events if e.type == "incident.ended")
    assert (ended.data["outcome"], ended.data["claimed"]) == ("not-contained", "contained")

    status, out, _ = run(tmp_path, "show", incident, "--json")
    assert json.loads(out)["outcome"] == "not-contained"
    status, summary, _ = run(tmp_path, "report", incident, "--template", "executive-summary")
    assert "Containment: none yet" in summary
    assert "contained with" not in summary
    assert "not contained" in summary


# --- a dry run goes to the end, shows every request, keeps nothing ---------------------------------


def test_a_dry_run_goes_to_the_end_over_saved_values_and_keeps_no_incident(tmp_path: Path) -> None:
    runbook = {
        "aiir": 1,
        "id": "saved",
        "title": "A branch over a saved value",
        "owner": "security",
        "severity": "SEV3",
        "gateways": {"gw": {"profile": "http", "url": "http://127.0.0.1:9"}},
        "levers": {
            "filter": {
                "title": "A filter",
                "kind": "filter",
                "engage": {
                    "method": "POST",
                    "path": "/filters",
                    "json": {"word": "x"},
                    "save": {"filter_id": "id"},
                },
                "verify": {"method": "GET", "path": "/filters/{{ vars.filter_id }}"},
                "release": {"method": "DELETE", "path": "/filters/{{ vars.filter_id }}"},
            }
        },
        "start": "contain",
        "nodes": {
            "contain": {"kind": "lever", "title": "Filter", "lever": "filter", "next": "which"},
            "which": {
                "kind": "branch",
                "title": "Which filter?",
                "cases": [{"when": "vars.filter_id == 'f-1'", "next": "first"}],
                "default": "other",
            },
            "first": {"kind": "end", "title": "First", "outcome": "resolved"},
            "other": {"kind": "end", "title": "Other", "outcome": "resolved"},
        },
    }
    write(tmp_path / "saved.yaml", runbook)
    with serve_gateway() as (url, state):
        status, out, err = run(tmp_path, "run", "saved.yaml", "--dry-run", "--gateway", f"gw={url}")
        assert state.calls == []
    assert status == 0, out + err
    assert "Lever 'filter': verify (dry run: not sent)" in out
    assert "Lever 'filter': release (dry run: not sent)" in out
    assert "/filters/<saved by engage: filter_id>" in out
    assert "INC-" not in out  # no incident is kept: no id to quote or resume
    assert "Outcome: resolved" in out
    assert not (tmp_path / "incidents").exists()


# --- the start-here runbook starts on its own environment -----------------------------------------


def test_a_runbook_needs_only_its_own_environment_to_start(tmp_path: Path) -> None:
    parent = {
        "aiir": 1,
        "id": "parent",
        "title": "Parent",
        "owner": "security",
        "severity": "SEV3",
        "env": {"PARENT_KEY": {"description": "the parent's gateway key"}},
        "gateways": {"gw": {"profile": "http", "url": "http://127.0.0.1:9"}},
        "start": "ask",
        "nodes": {
            "ask": {
                "kind": "confirm",
                "title": "Ask",
                "prompt": "Hand off?",
                "yes": "hand",
                "no": "done",
            },
            "hand": {"kind": "call", "title": "Hand off", "runbook": "child"},
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }
    child = {
        "aiir": 1,
        "id": "child",
        "title": "Child",
        "owner": "security",
        "severity": "SEV3",
        "env": {
            "CHILD_TOKEN": {"description": "the agent platform's admin token"},
            "CHILD_KEY": {"description": "the team's gateway key"},
        },
        "gateways": {"platform": {"profile": "http", "url": "http://127.0.0.1:9"}},
        "start": "act",
        "nodes": {
            "act": {
                "kind": "action",
                "title": "Act",
                "request": {"gateway": "platform", "method": "POST", "path": "/act"},
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }
    write(tmp_path / "parent.yaml", parent)
    write(tmp_path / "child.yaml", child)
    write(tmp_path / "yes.yaml", {"ask": "yes"})
    env = process_env(tmp_path / "incidents", PARENT_KEY="parent-key-0001")
    with serve_gateway() as (url, state):
        args = [
            "run",
            str(tmp_path / "parent.yaml"),
            "--yes",
            "--answers",
            str(tmp_path / "yes.yaml"),
        ]
        gateways = ["--gateway", f"gw={url}", "--gateway", f"platform={url}"]
        checked = run_aiir([*args, *gateways, "--check"], env)
        assert checked.returncode == 2
        assert b"CHILD_TOKEN (the agent platform's admin token)" in checked.stderr
        assert not (tmp_path / "incidents").exists()  # --check: refused before an incident

        done = run_aiir([*args, *gateways], env)
        assert state.calls == []  # nothing of the child was sent
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert "runbook 'child' needs environment variable(s) that are not set: " in err
    assert (
        "CHILD_TOKEN (the agent platform's admin token); CHILD_KEY (the team's gateway key)" in err
    )
    record = load_incident(tmp_path / "incidents", only(tmp_path))
    assert record.state == "interrupted"  # it started, walked to the hand-off, and can resume
    assert [a["key"] for a in record.answers] == ["ask"]


def test_at_80_columns_ids_stay_whole_and_the_timeline_reads_as_words(tmp_path: Path) -> None:
    status, _, _ = run(
        tmp_path,
        "run",
        "prompt-injection",
        "--sandbox",
        "--yes",
        "--answers",
        answers_file(tmp_path, "answers.yaml", ANSWERS),
    )
    assert status == 0
    incident = only(tmp_path)
    env = process_env(tmp_path / "incidents", COLUMNS="80")
    listed = run_aiir(["incidents"], env).stdout.decode()
    assert incident in listed  # never cut to "INC-2026…"
    shown = run_aiir(["show", incident], env).stdout.decode()
    for raw in ("ok=", "attempts=", "ok=True", "{'", "True"):
        assert raw not in shown, raw
    assert "Lever emergency-filter: engaged" in " ".join(shown.split())
    assert "Approved: filter (--yes)" in shown
