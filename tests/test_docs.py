"""Docs are tested: help text everywhere, the shipped library valid, the editor schemas current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup, TyperOption

import aiir.cli
from aiir.cli import main
from aiir.loader import load_file
from aiir.validate import KINDS, validate_paths

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
