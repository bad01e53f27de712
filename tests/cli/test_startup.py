"""What a command imports before it starts work (``bench.startup`` times it)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
ONE = RUNBOOKS / "prompt-injection.yaml"


def loaded_by(*argv: str) -> set[str]:
    """The modules a fresh interpreter holds after ``aiir ARGV`` ran in it."""
    code = (
        "import sys\nfrom aiir.cli import main\n"
        f"status = main({list(argv)!r})\n"
        "print(status, ' '.join(sorted(sys.modules)))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status, *modules = ran.stdout.splitlines()[-1].split()
    assert status == "0", ran.stdout
    return set(modules)


def test_text_arguments_are_taken_without_typer_s_pydantic_adapters() -> None:
    assert "typer._adapters" not in loaded_by("validate", str(ONE))


def test_help_imports_no_socket() -> None:
    # only ``aiir sandbox serve`` listens; ``--help`` paid ~1.2 ms importing socket for it
    assert "socket" not in loaded_by("--help")
    assert "socket" not in loaded_by("run", "--help")


def test_a_runbook_of_simple_templates_is_validated_without_jinja2() -> None:
    assert "jinja2" not in loaded_by("validate", str(RUNBOOKS / "triage.yaml"))


def test_several_paths_still_arrive_as_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_cli(capsys, "validate", str(ONE), str(RUNBOOKS / "triage.yaml"))
    assert ran.status == 0
    assert "2 file(s) valid" in ran.out


def test_no_collections_while_validating_and_the_collector_given_back(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiir.validate import documents

    real = documents.validate_paths
    seen: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(documents, "validate_paths", watched)
    assert gc.isenabled()
    assert run_cli(capsys, "validate", str(ONE)).status == 0
    assert seen == [False]
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # what it made is back in the collector's sight


def test_only_the_command_run_is_built() -> None:
    from aiir.cli import _app_for, app

    assert [c.name for c in _app_for(["validate", "x.yaml"]).registered_commands] == ["validate"]
    canary = _app_for(["canary", "run", "--help"])
    assert not canary.registered_commands
    assert [g.name for g in canary.registered_groups] == ["canary"]
    for argv in ([], ["--version"], ["--help"], ["valdate"]):
        assert _app_for(argv) is app
    assert len(app.registered_commands) > 1  # the app itself is left whole


def test_a_command_s_help_is_the_same_when_it_is_built_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiir.cli

    alone = run_cli(capsys, "validate", "--help").out
    monkeypatch.setattr(aiir.cli, "_app_for", lambda argv: aiir.cli.app)
    assert run_cli(capsys, "validate", "--help").out == alone


def test_objects_frozen_before_validate_stay_frozen(capsys: pytest.CaptureFixture[str]) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert run_cli(capsys, "validate", str(ONE)).status == 0
        # Still frozen (less any that were freed meanwhile), and none of what validate made.
        assert 0 < gc.get_freeze_count() <= frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()
