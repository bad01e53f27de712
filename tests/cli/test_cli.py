"""CLI wiring: exit codes, usage errors, no tracebacks. The core is tested on its own elsewhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import aiir.validate.documents
from aiir import __version__
from aiir.cli import main
from aiir.respond.session import start
from tests.helpers import minimal_runbook, write
from tests.incidents import (
    ANSWERS,
    RecordingPrompter,
    containment_runbook,
    environment,
    write_answers,
    write_runbook,
)
from tests.runs import process_env, run_aiir
from tests.servers import Gateway, serve_gateway

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
    "unknown option": (
        ["validate", "--bogus", "x.yaml"],
        "aiir: validate: No such option: --bogus (see: aiir validate --help)",
    ),
    "missing argument": (
        ["validate"],
        "aiir: validate: Missing argument 'PATH'. (see: aiir validate --help)",
    ),
    "unknown command": (
        ["frobnicate"],
        "aiir: usage: No such command 'frobnicate'. (see: aiir --help)",
    ),
    "bad choice": (
        ["graph", "x.yaml", "--format", "jpeg"],
        "aiir: graph: Invalid value for '--format' / '-f': 'jpeg' is not one of 'text', "
        "'mermaid', 'dot', 'png', 'svg'. (see: aiir graph --help)",
    ),
}


@pytest.mark.parametrize("case", USAGE_ERRORS)
def test_usage_error_exits_2_with_one_line_naming_the_command_and_flag(
    case: str, capsys: Capture
) -> None:
    argv, expected = USAGE_ERRORS[case]
    assert main(argv) == 2
    assert capsys.readouterr() == ("", expected + "\n")


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
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(aiir.validate.documents, "validate_paths", interrupted)
    assert main(["validate", str(tmp_path)]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_crash_writes_a_log_and_no_traceback(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("sk-secretsecretsecret leaked into a bug")

    monkeypatch.setattr(aiir.validate.documents, "validate_paths", broken)
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


# --- odd command-line input: one line, exit 2, nothing sent ------------------------------------


@dataclass(frozen=True)
class Odd:
    """A contained incident on a loopback gateway that counts every request, for odd flags."""

    root: Path
    incidents: Path
    runbook: Path
    incident_id: str
    state: Gateway
    url: str

    def aiir(self, *args: str, **environ: str) -> tuple[int, str, bytes]:
        done = run_aiir(list(args), process_env(self.incidents, **environ), cwd=self.root)
        return done.returncode, done.stdout.decode(), done.stderr


@pytest.fixture
def odd(tmp_path: Path) -> Iterator[Odd]:
    with serve_gateway() as (url, state):
        runbook = containment_runbook()
        runbook["gateways"]["gw"]["url"] = url  # the runbook's own URL: it must get nothing either
        path = write_runbook(tmp_path, runbook)
        incidents = tmp_path / "incidents"
        with environment(incidents, url, RecordingPrompter(ANSWERS)) as env:
            incident = start(path, env).incident
        (tmp_path / "a-file").write_text("not a folder\n")
        (tmp_path / "a-folder").mkdir()
        write_answers(tmp_path, ANSWERS)
        state.calls.clear()
        yield Odd(tmp_path, incidents, path, incident.id, state, url)


def one_line(err: bytes) -> str:
    text = err.decode()
    assert text.endswith("\n"), text
    assert text.count("\n") == 1, text
    assert "internal error" not in text
    assert "\x1b" not in text
    assert "\x07" not in text
    return text


def commands_with_incident_dir(odd: Odd) -> dict[str, list[str]]:
    answers = str(odd.root / "answers.yaml")
    return {
        "run": ["run", str(odd.runbook), "--answers", answers, "--yes"],
        "resume": ["resume", odd.incident_id, "--yes"],
        "release": ["release", odd.incident_id, "--yes"],
        "show": ["show", odd.incident_id],
        "verify": ["verify", odd.incident_id],
        "incidents": ["incidents"],
        "report": ["report", odd.incident_id],
        "canary from-incident": ["canary", "from-incident", odd.incident_id, "--suite", "s.yaml"],
    }


COMMANDS = [
    "run",
    "resume",
    "release",
    "show",
    "verify",
    "incidents",
    "report",
    "canary from-incident",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_incident_dir_that_is_a_file_is_one_line(odd: Odd, command: str) -> None:
    args = commands_with_incident_dir(odd)[command]
    status, out, err = odd.aiir(*args, "--incident-dir", str(odd.root / "a-file"))
    assert (status, out) == (2, "")
    assert one_line(err) == f"aiir: --incident-dir {odd.root / 'a-file'}: not a directory\n"
    assert odd.state.calls == []


def test_an_incidents_folder_from_the_environment_that_is_a_file_is_one_line(odd: Odd) -> None:
    args = commands_with_incident_dir(odd)["run"]
    status, _, err = odd.aiir(*args, AIIR_INCIDENT_DIR=str(odd.root / "a-file"))
    assert status == 2
    assert one_line(err) == (
        f"aiir: {odd.root / 'a-file'}: not a directory (the folder incidents are kept in)\n"
    )
    assert odd.state.calls == []


def test_a_report_out_that_is_a_folder_is_one_line(odd: Odd) -> None:
    folder = odd.root / "a-folder"
    status, out, err = odd.aiir("report", odd.incident_id, "--out", str(folder))
    assert (status, out) == (2, "")
    assert one_line(err) == f"aiir: --out {folder}: is a directory; name a file\n"
    assert list(folder.iterdir()) == []


def test_a_report_out_under_a_file_is_one_line(odd: Odd) -> None:
    under = odd.root / "a-file" / "post-mortem.md"
    status, out, err = odd.aiir("report", odd.incident_id, "--out", str(under))
    assert (status, out) == (2, "")
    assert one_line(err) == f"aiir: --out {under}: {odd.root / 'a-file'} is a file, not a folder\n"
    assert (odd.root / "a-file").read_text() == "not a folder\n"


@pytest.mark.parametrize(
    "args",
    [
        ["show", "ID"],
        ["show", "ID", "--json"],
        ["verify", "ID"],
        ["resume", "ID", "--yes"],
        ["release", "ID", "--yes"],
        ["report", "ID"],
        ["canary", "from-incident", "ID", "--suite", "s.yaml"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_5000_character_incident_id_is_one_short_line(odd: Odd, args: list[str]) -> None:
    long_id = "INC-" + "9" * 4996
    status, out, err = odd.aiir(*[long_id if a == "ID" else a for a in args])
    assert (status, out) == (2, "")
    line = one_line(err)
    assert line.startswith("aiir: 'INC-9999")
    assert line.endswith("...' is not an incident id (see: aiir incidents)\n")
    assert len(line) < 200
    assert odd.state.calls == []


def test_an_incident_dir_with_a_5000_character_name_is_one_short_line(odd: Odd) -> None:
    status, _, err = odd.aiir("show", odd.incident_id, "--incident-dir", "x" * 5000)
    assert status == 2
    line = one_line(err)
    assert line.endswith(": File name too long\n")
    assert len(line) < 250


@pytest.mark.parametrize("command", ["run", "resume", "release"])
def test_an_empty_gateway_url_is_refused_and_the_key_goes_nowhere(odd: Odd, command: str) -> None:
    """``--gateway gw=$UNSET``: the runbook's own URL must not get the master key instead."""
    before = sorted(p.name for p in odd.incidents.iterdir())
    args = commands_with_incident_dir(odd)[command]
    status, out, err = odd.aiir(*args, "--gateway", "gw=")
    assert (status, out) == (2, "")
    assert one_line(err) == (
        "aiir: --gateway gw=: no URL after '=' (an unset shell variable?); nothing was sent\n"
    )
    assert odd.state.calls == []
    assert sorted(p.name for p in odd.incidents.iterdir()) == before


def test_an_empty_gateway_url_of_a_canary_run_is_refused(odd: Odd) -> None:
    status, _, err = odd.aiir("canary", "run", "suite.yaml", "--gateway", "support=")
    assert status == 2
    assert "no URL after '='" in one_line(err)


@pytest.mark.parametrize(
    ("pair", "shown"),
    [
        ("\x1b[31mgw=http://127.0.0.1:9", "--gateway '\\x1b[31mgw': not a gateway name"),
        ("\x1b]0;owned\x07=http://127.0.0.1:9", "--gateway '\\x1b]0;owned\\x07': not a gateway"),
        ("gw=\x1b[2Jhttp://x", "--gateway gw='\\x1b[2Jhttp://x': not an http(s) URL"),
        ("gw=ftp://127.0.0.1/", "--gateway gw='ftp://127.0.0.1/': not an http(s) URL"),
    ],
)
def test_escape_sequences_in_a_gateway_flag_are_shown_inert(
    odd: Odd, pair: str, shown: str
) -> None:
    args = commands_with_incident_dir(odd)["run"]
    status, out, err = odd.aiir(*args, "--gateway", pair)
    assert (status, out) == (2, "")
    assert shown in one_line(err)
    assert odd.state.calls == []


def test_no_error_puts_an_escape_sequence_on_the_screen(odd: Odd) -> None:
    status, _, err = odd.aiir("validate", "\x1b]0;owned\x07\x1b[2Jmissing.yaml")
    assert status == 2
    assert one_line(err).startswith("aiir: ")


@pytest.mark.parametrize(
    "command",
    [
        ["validate", ""],
        ["run", ""],
        ["graph", " "],
        ["drill", ""],
        ["canary", "run", ""],
        ["detect", ""],
        ["run", "rb.yaml", "-a", ""],
    ],
)
def test_an_empty_name_is_refused_not_taken_for_the_current_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    """`aiir run "$RUNBOOK"` with RUNBOOK unset walked whatever runbook the current directory
    held (Path("") is "."), and `aiir validate ""` validated the whole folder."""
    from aiir.cli import main
    from tests.helpers import confirm_runbook, write

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rb.yaml", confirm_runbook("here", "The runbook of the current folder"))
    status = main(
        [*command, "--incident-dir", str(tmp_path / "inc")] if command[0] == "run" else command
    )
    err = capsys.readouterr().err
    assert status == 2
    assert err.endswith(
        ": an empty name (an unset variable?): name a file, a directory or a shipped id\n"
    )
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "inc").exists()
