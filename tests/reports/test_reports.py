"""Every report template, rendered by ``aiir report`` from the journals of real walks.

Two shipped runbooks are walked against the simulated gateway with scripted answers, a frozen
clock that moves one minute per node, and a fixed incident id: prompt injection (with the
workspace's inventory naming its system) and a sensitive-data leak down the GDPR branch, so a
regulatory clock runs. Each template's output is compared with ``tests/snapshots/``; a missing
snapshot fails. ``AIIR_UPDATE_SNAPSHOTS=1`` writes missing and changed ones: read the diff.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.reports.clocks import NOT_LEGAL_ADVICE
from aiir.reports.templates import template_names
from tests.helpers import write
from tests.respond import aiir, freeze, incident_id, no_terminal, write_workspace
from tests.support.cli import process_environment
from tests.support.clock import FakeClock

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
UPDATING = os.environ.get("AIIR_UPDATE_SNAPSHOTS") == "1"  # read before tests clear AIIR_*
TEMPLATES = (
    "post-mortem",
    "executive-summary",
    "slack-update",
    "status-page",
    "customer-notice",
    "regulator-notice",
)
PROMPT_INJECTION_AT = dt.datetime(2025, 11, 27, 3, 15, tzinfo=dt.UTC)
DATA_LEAK_AT = dt.datetime(2025, 11, 28, 9, 40, tzinfo=dt.UTC)
REPORT_AT = dt.datetime(2025, 11, 28, 11, 0, tzinfo=dt.UTC)

PROMPT_INJECTION_ANSWERS = {
    "confirm-injection": "harmful-output",
    "key-known": True,
    "attacker-key": "sk-attacker-demo-0001",
    "still-leaking": "bypassed",
    "eradicate": "all",
}
DATA_LEAK_ANSWERS = {
    "what-leaked": "personal-data",
    "leaked-marker": "jane.doe@example.com",
    "source": "unknown",
    "still-leaking": "stopped",
    "whose-data": "gdpr",
    "legal": "all",
    "eradicate": "all",
}


@dataclass(frozen=True)
class Walked:
    workspace: Path
    incidents: Path
    ids: dict[str, str]


def _walk(
    workspace: Path, incidents: Path, runbook: Path, answers: Path, started: dt.datetime
) -> str:
    with pytest.MonkeyPatch.context() as patch:
        no_terminal(patch, workspace)
        clock = FakeClock(started)
        observers = [clock.ticking(minutes=1)]
        freeze(patch, clock, observers)
        status = main(
            [
                "run",
                str(runbook),
                "--sandbox",
                "--yes",
                "--answers",
                str(answers),
                "--incident-dir",
                str(incidents),
            ],
            process_environment(clock, observers),
        )
    assert status == 0
    return incident_id(started)


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> Walked:
    """Both walks, once for the module; each test only renders."""
    root = tmp_path_factory.mktemp("reports")
    workspace = write_workspace(root / "workspace")
    incidents = root / "incidents"
    # The team lists the system its prompt-injection runbook covers, as `aiir init` tells it to.
    source = (REPO / "runbooks" / "prompt-injection.yaml").read_text(encoding="utf-8")
    covered = source.replace("\ncategory:", "\nsystems: [support-bot]\ncategory:", 1)
    assert covered != source
    (workspace / "runbooks").mkdir()
    prompt_injection = workspace / "runbooks" / "prompt-injection.yaml"
    prompt_injection.write_text(covered, encoding="utf-8")
    write(root / "pi-answers.yaml", PROMPT_INJECTION_ANSWERS)
    write(root / "leak-answers.yaml", DATA_LEAK_ANSWERS)
    ids = {
        "prompt-injection": _walk(
            workspace,
            incidents,
            prompt_injection,
            root / "pi-answers.yaml",
            PROMPT_INJECTION_AT,
        ),
        "sensitive-data-leak": _walk(
            workspace,
            incidents,
            REPO / "runbooks" / "sensitive-data-leak.yaml",
            root / "leak-answers.yaml",
            DATA_LEAK_AT,
        ),
    }
    return Walked(workspace, incidents, ids)


def report(
    walked: Walked,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    *args: str,
) -> tuple[int, str, str]:
    no_terminal(monkeypatch, walked.workspace)
    freeze(monkeypatch, FakeClock(REPORT_AT))
    ran = aiir(
        capsys, "report", walked.ids[scenario], *args, "--incident-dir", str(walked.incidents)
    )
    return ran.status, ran.out, ran.err


def assert_snapshot(name: str, text: str) -> None:
    # The journal anchor hashes events that hold reply timings: the only part that varies.
    text = re.sub(r"(Journal anchor: `\d+:)[0-9a-f]{16}`", r"\1<hash>`", text)
    path = SNAPSHOTS / name
    if UPDATING and (not path.is_file() or path.read_text(encoding="utf-8") != text):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.is_file():
        pytest.fail(
            f"no snapshot {path}: run with AIIR_UPDATE_SNAPSHOTS=1 to write it, then read it"
        )
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot"


def test_the_snapshots_cover_every_shipped_template() -> None:
    assert sorted(TEMPLATES) == template_names()


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("scenario", ["prompt-injection", "sensitive-data-leak"])
def test_template_renders_as_its_snapshot(
    walked: Walked,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    template: str,
) -> None:
    status, out, err = report(walked, monkeypatch, capsys, scenario, "--template", template)
    assert (status, err) == (0, "")
    assert_snapshot(f"{scenario}.{template}.txt", out)


def test_the_post_mortem_carries_the_gdpr_clock_and_says_it_is_not_legal_advice_once(
    walked: Walked, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = report(walked, monkeypatch, capsys, "sensitive-data-leak")
    assert status == 0
    [row] = [line for line in out.splitlines() if line.startswith("| GDPR Art. 33 |")]
    # whose-data is the 9th node entered (one minute each): its answer classified the breach
    assert "| 2025-11-28T09:49:00.000Z | 2025-12-01T09:49:00.000Z |" in row
    assert out.count(NOT_LEGAL_ADVICE) == 1
    assert "personal-data-breach" in out


def test_the_post_mortem_names_the_inventory_system_the_runbook_covers(
    walked: Walked, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = report(walked, monkeypatch, capsys, "prompt-injection")
    assert status == 0
    assert "- `support-bot` Customer support assistant: model gpt-4o-mini (openai)" in out
    assert "owner incident-commander: Alex Example @alex" in out  # the roster, in the timeline
    assert "sk-attacker-demo-0001" not in out  # a key typed as an answer is masked in reports


def test_report_out_writes_the_same_text_to_a_file(
    walked: Walked,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _, shown, _ = report(walked, monkeypatch, capsys, "sensitive-data-leak", "-t", "status-page")
    target = tmp_path / "out" / "status.txt"
    status, out, err = report(
        walked, monkeypatch, capsys, "sensitive-data-leak", "-t", "status-page", "-o", str(target)
    )
    assert (status, out) == (0, "")
    assert err == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") + "\n" == shown


def test_a_workspace_template_overrides_the_shipped_one(
    walked: Walked,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    override = walked.workspace / "templates" / "status-page.j2"
    override.parent.mkdir(exist_ok=True)
    override.write_text("Our own words for {{ incident.id }}.", encoding="utf-8")
    try:
        status, out, _ = report(
            walked, monkeypatch, capsys, "prompt-injection", "-t", "status-page"
        )
    finally:
        override.unlink()
    assert status == 0
    # the walk was an exercise: a workspace's own template says so too
    assert out == f"[EXERCISE: sandbox] Our own words for {walked.ids['prompt-injection']}.\n"


def test_an_unknown_template_is_bad_input_naming_the_templates(
    walked: Walked, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = report(walked, monkeypatch, capsys, "prompt-injection", "-t", "memo")
    assert (status, out) == (2, "")
    assert err == (
        "aiir: no template 'memo' (templates: customer-notice, executive-summary, post-mortem, "
        "regulator-notice, slack-update, status-page)\n"
    )
