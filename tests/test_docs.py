"""Docs are tested: help text everywhere, the shipped library valid, the editor schemas current."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.core import TyperGroup, TyperOption

import aiir.cli
from aiir.cli import main
from aiir.formats.kinds import KINDS
from aiir.formats.loader import load_file
from aiir.validate.documents import validate_paths

REPO = Path(__file__).resolve().parents[1]
RUNBOOKS = sorted((REPO / "runbooks").glob("*.yaml"))
PROFILES = sorted((REPO / "aiir" / "profiles").glob("*.yaml"))
EXAMPLES = REPO / "examples"
MIN_LIBRARY = 12


def commands(command: Any, prefix: str = "aiir") -> list[tuple[str, Any]]:
    """Every command and group under ``command`` (Typer's own Click), named as a user types it."""
    found = [(prefix, command)]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            found += commands(sub, f"{prefix} {name}")
    return found


ALL_COMMANDS = commands(typer.main.get_command(aiir.cli.app))


@pytest.mark.parametrize(("name", "command"), ALL_COMMANDS, ids=[n for n, _ in ALL_COMMANDS])
def test_every_command_and_option_has_help(name: str, command: Any) -> None:
    assert (command.help or "").strip(), f"`{name}` has no help text"
    for param in command.params:
        shown = param.opts[0] if isinstance(param, TyperOption) else param.name
        assert (getattr(param, "help", None) or "").strip(), f"`{name} {shown}` has no help text"


def test_the_walk_found_the_foundation_commands() -> None:
    assert {"aiir validate", "aiir graph", "aiir schema"} <= {name for name, _ in ALL_COMMANDS}


@pytest.mark.parametrize("path", RUNBOOKS, ids=[p.name for p in RUNBOOKS])
def test_shipped_runbook_is_valid_with_strict(path: Path) -> None:
    report = validate_paths([path])
    assert report.checked == {str(path): "runbook"}
    assert not report.failed(strict=True), "\n".join(f.render() for f in report.findings)


@pytest.mark.parametrize("path", RUNBOOKS, ids=[p.name for p in RUNBOOKS])
def test_shipped_runbook_names_its_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first == "# yaml-language-server: $schema=../schemas/runbook.schema.json", path.name


@pytest.mark.parametrize("path", PROFILES, ids=[p.name for p in PROFILES])
def test_shipped_profile_is_valid_and_names_its_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first == "# yaml-language-server: $schema=../../schemas/profile.schema.json", path.name
    report = validate_paths([path])
    assert not report.failed(strict=True), "\n".join(f.render() for f in report.findings)


def test_the_whole_library_validates_with_strict_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = [str(REPO / "runbooks")] + ([str(EXAMPLES)] if EXAMPLES.is_dir() else [])
    status = main(["validate", "--strict", *paths])
    out, err = capsys.readouterr()
    assert status == 0, out + err


def test_library_has_triage_and_enough_runbooks() -> None:
    ids = {load_file(path).data["id"]: path.name for path in RUNBOOKS}
    assert "triage" in ids, "the master triage runbook is missing from runbooks/"
    assert len(ids) >= MIN_LIBRARY, f"{len(ids)} runbooks shipped: {sorted(ids)}"


@pytest.mark.parametrize("kind", KINDS)
def test_editor_schemas_are_current(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", kind]) == 0
    printed = capsys.readouterr().out
    stored = REPO / "schemas" / f"{kind}.schema.json"
    assert stored.read_text(encoding="utf-8") == printed, (
        f"schemas/{kind}.schema.json is out of date; regenerate it with "
        f"`aiir schema {kind} > schemas/{kind}.schema.json`"
    )


TYPE_IN_HELP = re.compile(r"<[a-z]|\b(?:list|dict|tuple)\[|\b(?:Path|str|int|float)\]")


@pytest.mark.parametrize(("name", "command"), ALL_COMMANDS, ids=[n for n, _ in ALL_COMMANDS])
def test_help_names_values_by_metavar_never_by_python_type(
    name: str, command: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*name.split()[1:], "--help"]) == 0
    shown = capsys.readouterr().out
    found = TYPE_IN_HELP.findall(shown)
    assert not found, f"`{name} --help` shows a type, not a metavar: {found}\n{shown}"


def test_completion_can_be_shown_and_installed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert "--install-completion" in shown
    assert "--show-completion" in shown
    # The script is for the shell aiir runs under, found from its parent processes; a test run
    # started without a shell above it (a detached job, some CI runners) has none to find.
    monkeypatch.setattr("shellingham.detect_shell", lambda: ("bash", "/bin/bash"))
    assert main(["--show-completion"]) == 0
    script = capsys.readouterr().out
    assert "_AIIR_COMPLETE=complete_bash" in script


# Files that reach users: the wheel's data, the examples, the scaffold, the README.
SHIPPED_TEXT = [
    path
    for folder in ("aiir", "runbooks", "templates", "schemas", "examples")
    for path in sorted((REPO / folder).rglob("*"))
    if path.is_file() and path.suffix in {".py", ".yaml", ".yml", ".md", ".j2", ".json", ".txt"}
] + [REPO / "README.md"]
# `pip install aiir`, `"aiir==0.1.0"`, `aiir>=0.1`: PyPI's "aiir" is another project.
BARE_REQUIREMENT = re.compile(
    r"pip3? install (?:-\S+ )*[\"']?aiir(?![\w-])|[\"'\s:]aiir\s*(?:==|>=|~=|<=)"
)


def test_nothing_shipped_tells_anyone_to_install_the_other_aiir() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in SHIPPED_TEXT
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BARE_REQUIREMENT.search(line)
    ]
    assert not found, "\n".join(found)


def test_the_requirement_pattern_catches_the_bare_name() -> None:
    for line in (
        "- run: pip install aiir",
        'pip install "aiir==0.1.0"',
        "AIIR_REQUIREMENT: aiir==1",
    ):
        assert BARE_REQUIREMENT.search(line), line
    for line in ("pip install aiir-runbooks", 'pip install "aiir-runbooks==0.1.0"', "aiir run"):
        assert not BARE_REQUIREMENT.search(line), line


def test_the_ci_example_pins_this_version_of_this_distribution() -> None:
    from aiir import __version__

    workflow = yaml.safe_load((EXAMPLES / "ci" / "aiir-drills.yml").read_text(encoding="utf-8"))
    assert workflow["env"]["AIIR_REQUIREMENT"] == f"aiir-runbooks=={__version__}"


def test_the_license_is_the_apache_license_declared() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = "Apache-2.0"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
