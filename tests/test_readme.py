"""The README's runbook example is a real, valid runbook that walks end to end."""

from __future__ import annotations

import re
from pathlib import Path

from aiir.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return next(b for b in blocks if "aiir: 1" in b and "nodes:" in b)


def test_readme_example_validates_strictly(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(_example(), encoding="utf-8")
    assert main(["validate", "--strict", str(path)]) == 0


def test_readme_example_walks_against_the_sandbox(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(_example(), encoding="utf-8")
    answers = tmp_path / "answers.yaml"
    answers.write_text("confirm: verbatim\n", encoding="utf-8")
    status = main(
        [
            "run",
            str(path),
            "--sandbox",
            "--yes",
            "--answers",
            str(answers),
            "--incident-dir",
            str(tmp_path / "incidents"),
        ]
    )
    assert status == 0
    (incident,) = (tmp_path / "incidents").iterdir()
    journal = (incident / "journal.jsonl").read_text(encoding="utf-8")
    assert '"type":"lever.verified"' in journal
    assert '"outcome":"contained"' in journal


def test_readme_names_exactly_two_quick_start_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.findall(r"```sh\n(.*?)```", quick, re.S)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["scripts/demo", "scripts/test"]
    for command in commands:
        assert (ROOT / command).is_file()


def test_every_yaml_example_in_the_readme_validates(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```yaml\n(.*?)```", text, re.S)
    documents = [b for b in blocks if "aiir: 1" in b]
    assert len(documents) >= 3  # a runbook, a scenario, a workspace
    for index, block in enumerate(documents):
        path = tmp_path / f"example-{index}.yaml"
        path.write_text(block, encoding="utf-8")
        assert main(["validate", "--strict", str(path)]) == 0, block[:200]
