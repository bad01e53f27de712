"""``aiir init``: the workspace it lays out validates, drills, and shows its own gaps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aiir.library import data_dir
from aiir.loader import load_file
from tests.respond import Ran, aiir, no_terminal


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
        f"next: cd {target} && aiir validate --strict . && aiir inventory check\n"
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
        ".github/workflows/aiir.yml",
        "schemas/runbook.schema.json",
        "schemas/workspace.schema.json",
        "templates/README.md",
    ):
        assert (initialised / name).is_file(), name
    shipped = sorted(p.name for p in data_dir("runbooks").glob("*.yaml"))
    assert sorted(p.name for p in (initialised / "runbooks").glob("*.yaml")) == shipped
    assert (initialised / "canaries").is_dir()
    assert (initialised / ".gitignore").read_text(encoding="utf-8") == ".aiir/\n"


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


def test_inventory_check_fails_and_names_the_gaps(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = _check(capsys)
    assert ran.status == 1
    assert "8 gap(s)" in ran.out
    rows = [" ".join(line.replace("│", " ").split()) for line in ran.out.splitlines()]
    for system in ("support-bot", "fraud-model", "ad-agent"):
        assert f"{system} no-runbook no runbook names it in `systems`" in rows
        assert f"{system} no-canary no canary suite watches it" in rows
    assert any(r.startswith("support-bot no-recent-drill high risk") for r in rows)
    assert any(r.startswith("fraud-model no-recent-drill critical risk") for r in rows)


def test_the_drill_passes(initialised: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ran = aiir(capsys, "drill", "drills/")
    assert ran.status == 0, ran.out + ran.err
    assert "1 passed, 0 failed" in ran.out


def test_inventory_show_draws_the_table_and_the_risk_matrix(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "inventory", "show")
    assert ran.status == 0, ran.err
    lines = [" ".join(line.replace("│", " ").split()) for line in ran.out.splitlines()]
    assert "AI systems" in ran.out
    assert any(line.startswith("fraud-model data-science fraud-gbm-2026-10") for line in lines)
    assert any(line.endswith("critical 11") for line in lines)
    assert any(line.endswith("high 8") for line in lines)
    assert any(line.endswith("medium 4") for line in lines)
    assert "Risk matrix" in ran.out
    assert "medium ad-agent support-bot fraud-model" in lines
    assert "high · · ·" in lines
    assert "low · · ·" in lines


def test_following_the_plan_closes_a_systems_gaps(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbook = initialised / "runbooks" / "prompt-injection.yaml"
    text = runbook.read_text(encoding="utf-8")
    runbook.write_text(text.replace("\ncategory:", "\nsystems: [support-bot]\ncategory:", 1))
    suite = initialised / "canaries" / "support-bot.yaml"
    suite.write_text(
        "aiir: 1\ncanary: support-bot\ntitle: Support bot\nsystems: [support-bot]\n"
        "gateways: {gateway: {profile: litellm, url: 'http://127.0.0.1:4000'}}\n"
        "target: {model: support-bot}\n"
        "prompts: [{id: hi, prompt: hi, assert: [{type: is-refusal}]}]\n",
        encoding="utf-8",
    )
    before = " ".join(_check(capsys).out.replace("│", " ").split())
    assert "support-bot no-runbook" not in before
    assert "support-bot no-canary" not in before
    assert "support-bot no-recent-drill" in before
    assert aiir(capsys, "drill", "drills/").status == 0  # a drill of its runbook, just now
    after = " ".join(_check(capsys).out.replace("│", " ").split())
    assert "support-bot" not in after
    assert "fraud-model no-runbook" in after


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
