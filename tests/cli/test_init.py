"""``aiir init``: the workspace it lays out validates, drills, and shows its own gaps."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiir import __version__ as aiir_version
from aiir.cli.scaffold import COVERS
from aiir.formats.library import data_dir
from aiir.formats.loader import load_file
from tests.respond import aiir, no_terminal
from tests.support.cli import Ran


@pytest.fixture
def initialised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A fresh workspace, and the current directory inside it (as the README tells users)."""
    no_terminal(monkeypatch)
    target = tmp_path / "acme"
    ran = aiir(capsys, "init", str(target))
    assert ran.status == 0, ran.err
    written = int(ran.out.split()[1])
    assert ran.out == (
        f"wrote {written} files into {target}\n"
        f"next: cd {target} && aiir validate --strict . && aiir drill drills/ "
        "&& aiir inventory check\n"
    )
    assert written == len([p for p in target.rglob("*") if p.is_file()])
    monkeypatch.chdir(target)
    return target


def test_init_lays_out_the_90_day_plan(initialised: Path) -> None:
    for name in (
        "aiir.yaml",
        "team.yaml",
        "inventory.yaml",
        "README.md",
        ".gitignore",
        "drills/prompt-injection.yaml",
        "canaries/support-bot.yaml",
        "detections/gateway.yaml",
        ".github/workflows/aiir.yml",
        "schemas/runbook.schema.json",
        "schemas/workspace.schema.json",
        "schemas/detect.schema.json",
        "templates/README.md",
    ):
        assert (initialised / name).is_file(), name
    shipped = sorted(p.name for p in data_dir("runbooks").glob("*.yaml"))
    assert sorted(p.name for p in (initialised / "runbooks").glob("*.yaml")) == shipped
    assert (initialised / ".gitignore").read_text(encoding="utf-8") == ".aiir/\naiir-drills.xml\n"


def test_the_workspace_runbooks_are_the_shipped_ones_naming_the_inventory(
    initialised: Path,
) -> None:
    systems = {s["id"] for s in load_file(initialised / "inventory.yaml").data["systems"]}
    for path in (initialised / "runbooks").glob("*.yaml"):
        copy, shipped = load_file(path).data, load_file(data_dir("runbooks") / path.name).data
        named = copy.pop("systems", [])
        assert named == list(COVERS.get(path.stem, ())), path.name
        assert set(named) <= systems, path.name
        assert copy == shipped, f"{path.name} differs from the shipped runbook beyond `systems`"


def test_the_workspace_validates_strictly(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "validate", "--strict", ".")
    assert ran.status == 0, ran.out + ran.err
    assert "valid" in ran.out


def test_the_disclosure_policy_names_categories_the_runbooks_use(initialised: Path) -> None:
    config = yaml.safe_load((initialised / "aiir.yaml").read_text(encoding="utf-8"))
    categories = {
        load_file(path).data.get("category") for path in (initialised / "runbooks").glob("*.yaml")
    }
    for rule in config["disclosure"]:
        assert set(rule.get("categories", [])) <= categories, rule


def _check(capsys: pytest.CaptureFixture[str]) -> Ran:
    return aiir(capsys, "inventory", "check")


def workflow_steps(workspace: Path) -> list[dict[str, Any]]:
    workflow = yaml.safe_load((workspace / ".github/workflows/aiir.yml").read_text("utf-8"))
    (job,) = workflow["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def workflow_commands(workspace: Path) -> list[list[str]]:
    """The ``aiir ...`` lines the scaffolded workflow runs, in its order."""
    runs = [str(step.get("run", "")) for step in workflow_steps(workspace)]
    return [
        shlex.split(line) for run in runs for line in run.splitlines() if line.startswith("aiir ")
    ]


def test_the_scaffolded_workflow_passes_on_the_fresh_workspace(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its own CI, step by step in the workflow's order, on the first push."""
    commands = workflow_commands(initialised)
    assert [c[:2] for c in commands] == [
        ["aiir", "validate"],
        ["aiir", "drill"],
        ["aiir", "inventory"],
    ]
    for command in commands:
        ran = aiir(capsys, *command[1:])
        assert ran.status == 0, f"{shlex.join(command)}:\n{ran.out}{ran.err}"
    assert (initialised / "aiir-drills.xml").is_file()
    assert "Every system has a runbook, a canary suite, an owner" in ran.out


def test_the_scaffolded_workflow_installs_exactly_this_aiir(initialised: Path) -> None:
    installs = [
        shlex.split(step["run"])
        for step in workflow_steps(initialised)
        if "pip install" in step.get("run", "")
    ]
    assert installs == [["pip", "install", f"aiir-runbooks=={aiir_version}"]]


def test_the_inventory_check_without_the_drill_names_the_one_gap(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = _check(capsys)
    assert ran.status == 1
    assert "1 gap(s)" in ran.out
    rows = [" ".join(line.replace("│", " ").split()) for line in ran.out.splitlines()]
    assert any(r.startswith("support-bot no-recent-drill high risk") for r in rows), ran.out


def test_the_scaffolded_canaries_pass_against_the_simulated_gateway(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "canary", "run", "canaries/", "--sandbox")
    assert ran.status == 0, ran.out + ran.err
    assert "3 suite(s), 0 failing" in ran.out


def test_inventory_show_draws_the_table_and_the_risk_matrix(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "inventory", "show")
    assert ran.status == 0, ran.err
    lines = [" ".join(line.replace("│", " ").split()) for line in ran.out.splitlines()]
    assert "AI systems" in ran.out
    assert any(line.startswith("analyst-assistant data-science gpt-4.1") for line in lines)
    assert any(line.endswith("high 8") for line in lines)
    assert any(line.endswith("medium 5") for line in lines)
    assert any(line.endswith("medium 4") for line in lines)
    assert "Risk matrix" in ran.out


def test_a_new_system_shows_its_gaps_and_following_the_plan_closes_them(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = initialised / "inventory.yaml"
    data = load_file(inventory).data
    data["systems"].append(
        {
            "id": "fraud-model",
            "name": "Card fraud scoring",
            "owner": "data-science",
            "model": "fraud-gbm-2026-10",
            "provider": "in-house",
            "data_sensitivity": "personal",
            "user_facing": False,
            "autonomy": "autonomous",
            "eu_ai_act": "high",
            "blast_radius": "customers",
        }
    )
    inventory.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    rows = " ".join(_check(capsys).out.replace("│", " ").split())
    assert "fraud-model no-runbook" in rows
    assert "fraud-model no-canary" in rows
    assert "fraud-model no-recent-drill critical risk" in rows
    runbook = initialised / "runbooks" / "model-drift.yaml"
    text = runbook.read_text(encoding="utf-8")
    runbook.write_text(text.replace("\ncategory:", "\nsystems: [fraud-model]\ncategory:", 1))
    (initialised / "canaries" / "fraud-model.yaml").write_text(
        "aiir: 1\ncanary: fraud-model\ntitle: Fraud model\nsystems: [fraud-model]\n"
        "gateways: {gateway: {profile: litellm, url: 'http://127.0.0.1:4000'}}\n"
        "target: {model: fraud-scoring}\n"
        "prompts: [{id: hi, prompt: hi, assert: [{type: not-is-refusal}]}]\n",
        encoding="utf-8",
    )
    before = " ".join(_check(capsys).out.replace("│", " ").split())
    assert "fraud-model no-runbook" not in before
    assert "fraud-model no-canary" not in before
    assert "fraud-model no-recent-drill" in before
    drill = load_file(data_dir("examples") / "drills" / "model-drift.yaml").data
    drill["runbook"] = "../runbooks/model-drift.yaml"
    (initialised / "drills" / "model-drift.yaml").write_text(yaml.safe_dump(drill), "utf-8")
    ran = aiir(capsys, "drill", "drills/")
    assert ran.status == 0, ran.out + ran.err
    after = _check(capsys)
    assert after.status == 0, after.out


def test_init_on_a_file_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_terminal(monkeypatch)
    target = tmp_path / "notes.txt"
    target.write_text("mine\n", encoding="utf-8")
    ran = aiir(capsys, "init", str(target))
    assert (ran.status, ran.out) == (2, "")
    assert ran.err == (
        f"aiir: {target}: exists and is not a directory; name a new or empty directory\n"
    )
    assert target.read_text(encoding="utf-8") == "mine\n"


def test_init_where_nothing_can_be_written_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_terminal(monkeypatch)
    (tmp_path / "file").write_text("", encoding="utf-8")
    ran = aiir(capsys, "init", str(tmp_path / "file" / "ws"))
    assert (ran.status, ran.out) == (2, "")
    assert ran.err.startswith("aiir: ")
    assert "cannot write" in ran.err
    assert len(ran.err.splitlines()) == 1


def test_init_on_an_existing_workspace_refuses_without_force(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (initialised / "team.yaml").write_text("# ours\n", encoding="utf-8")
    ran = aiir(capsys, "init", str(initialised))
    assert (ran.status, ran.out) == (2, "")
    assert ran.err.startswith("aiir: ")
    assert "already exists; pass --force to overwrite" in ran.err
    assert (initialised / "team.yaml").read_text(encoding="utf-8") == "# ours\n"
    assert aiir(capsys, "init", str(initialised), "--force").status == 0
    assert (initialised / "team.yaml").read_text(encoding="utf-8") != "# ours\n"
