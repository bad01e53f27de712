"""CLI wiring: exit codes, usage errors, no tracebacks. The core is tested on its own elsewhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import aiir.validate
from aiir import __version__
from aiir.cli import main
from tests.helpers import minimal_runbook, write

Capture = pytest.CaptureFixture[str]


def test_valid_runbook_exits_0(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "rb.yaml"
    write(path, minimal_runbook())
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr() == ("1 file(s) valid\n", "")


def test_invalid_runbook_exits_2(tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "rb.yaml"
    write(path, "aiir: 1\nid: [\n")
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{path}:3:1: error: invalid YAML: ")


def test_help_exits_0(capsys: Capture) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: aiir [OPTIONS] COMMAND [ARGS]...\n")
    for command in ("validate", "graph", "schema"):
        assert re.search(rf"^  {command} +\S", out, re.MULTILINE), command


def test_no_arguments_shows_help_and_exits_2(capsys: Capture) -> None:
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("Usage: aiir [OPTIONS] COMMAND [ARGS]...\n")


def test_version(capsys: Capture) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"aiir {__version__}\n"


USAGE_ERRORS = {
    "unknown option": (["validate", "--bogus", "x.yaml"], "Error: No such option: --bogus"),
    "missing argument": (["validate"], "Error: Missing argument 'PATH'."),
    "unknown command": (["frobnicate"], "Error: No such command 'frobnicate'."),
    "bad choice": (["graph", "x.yaml", "--format", "jpeg"], "Error: Invalid value for '--format'"),
}


@pytest.mark.parametrize("case", USAGE_ERRORS)
def test_usage_error_exits_2_with_one_error_line(case: str, capsys: Capture) -> None:
    argv, expected = USAGE_ERRORS[case]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert errors[0].startswith(expected)
    assert "Traceback" not in err


def test_missing_file_is_one_line(tmp_path: Path, capsys: Capture) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["validate", str(missing)]) == 2
    assert capsys.readouterr() == ("", f"aiir: {missing}: no such file or directory\n")


def test_schema_runbook_prints_json_schema(capsys: Capture) -> None:
    assert main(["schema", "runbook"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://aiir.dev/schemas/runbook.schema.json"
    assert schema["type"] == "object"
    assert {"aiir", "id", "start", "nodes"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_schema_profile_prints_json_schema(capsys: Capture) -> None:
    assert main(["schema", "profile"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$id"] == "https://aiir.dev/schemas/profile.schema.json"
    assert "actions" in schema["properties"]


def test_schema_of_an_unknown_kind_exits_2(capsys: Capture) -> None:
    assert main(["schema", "bogus"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert re.fullmatch(
        r"aiir: unknown document kind 'bogus'; choose one of: runbook, profile(, [a-z-]+)*\n", err
    )


def test_interrupt_exits_130(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(aiir.validate, "validate_paths", interrupted)
    assert main(["validate", str(tmp_path)]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_crash_writes_a_log_and_no_traceback(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("sk-secretsecretsecret leaked into a bug")

    monkeypatch.setattr(aiir.validate, "validate_paths", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    match = re.fullmatch(r"aiir: internal error \(a bug in aiir\); details written to (\S+)\n", err)
    assert match, err
    log = Path(match.group(1)).read_text()
    assert "RuntimeError" in log
    assert "sk-secret" not in log


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "rb.yaml"
    write(path, {"aiir": 1})
    done = subprocess.run(
        [sys.executable, "-m", "aiir", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"{path}:1:1: error: ")


def test_the_console_entry_spares_the_interpreter_its_last_collection() -> None:
    """Exit reclaims the heap; a last full collection over it would only cost time."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'not frozen'))\n"
        "sys.argv = ['aiir', '--version']\n"
        "from aiir.cli import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "frozen"
