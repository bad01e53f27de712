"""Odd values for flags and AIIR_* variables (empty, blank, line breaks, '-', /dev/null, a
folder, relative paths, huge and negative numbers, escapes, very long), through the commands that
read them. The rule of :mod:`tests.fuzzing`: exit 0, 1 or 2; no traceback, no internal error; on 2
an error on standard error and no incident made; no password of a URL in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzzing import ROOT
from tests.respond import aiir, no_terminal

Capture = pytest.CaptureFixture[str]
SECRET = "fuzz-Secret-pw-0123"
VALUES = [
    "",
    " ",
    "a\nb",
    "-",
    "/dev/null",
    "{folder}",
    "rel/dir",
    "9" * 30,
    "-5",
    "0",
    "nan",
    "\x1b[31mred",
    "x" * 5000,
    "http://127.0.0.1:9",
    f"postgresql://u:{SECRET}@127.0.0.1:9/db",
    "x=",
    "=y",
]
CANARY = str(ROOT / "examples" / "canaries" / "rag-assistant.yaml")
WALK = ["run", "prompt-injection", "--sandbox", "--yes", "-a", "prompt-injection"]
FLAGS = [
    [*WALK, "--incident-dir", "{v}"],
    ["run", "prompt-injection", "--sandbox", "--yes", "-a", "{v}"],
    [*WALK, "--set", "{v}"],
    [*WALK, "--set", "model={v}"],
    [*WALK, "-g", "{v}"],
    [*WALK, "--otlp", "{v}"],
    [*WALK, "--store", "{v}"],
    ["graph", "triage", "-f", "{v}"],
    ["graph", "triage", "-o", "{v}"],
    ["validate", "{v}"],
    ["drill", "triage", "--junit", "{v}"],
    ["canary", "run", CANARY, "--sandbox", "--history-dir", "{v}"],
    ["detect", "llm-gateway", "--sandbox", "--prometheus", "{v}", "--phoenix", "{v}"],
    ["detect", "llm-gateway", "--sandbox", "--every", "{v}", "--times", "1"],
    ["incidents", "--incident-dir", "{v}"],
    ["show", "{v}"],
    ["verify", "{v}"],
]
VARIABLES = [
    ("AIIR_INCIDENT_DIR", WALK),
    ("AIIR_WORKSPACE", WALK),
    ("AIIR_PROFILE_PATH", WALK),
    ("AIIR_STORE", WALK),
    ("AIIR_STORE_LEASE", WALK),
    ("AIIR_OPERATOR", WALK),
    ("AIIR_CANARY_HISTORY", ["canary", "run", CANARY, "--sandbox"]),
    ("AIIR_DETECT_HISTORY", ["detect", "llm-gateway", "--sandbox"]),
]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()


def _incidents(tmp_path: Path) -> set[Path]:
    return {p for p in tmp_path.rglob("INC-*") if p.is_dir()}


def _check(args: list[str], tmp_path: Path, capsys: Capture) -> list[str]:
    before = _incidents(tmp_path)
    ran = aiir(capsys, *args)
    text = ran.out + ran.err
    said = (ran.err.strip().splitlines() or [""])[0][:200]
    problems: list[str] = []
    if ran.status not in (0, 1, 2):
        problems.append(f"exit {ran.status}: {said}")
    if "Traceback" in text or "internal error" in text:
        problems.append(f"crash: {said}")
    if SECRET in ran.err:  # an error; stdout may name a file written where it was asked to
        problems.append("the URL's password in an error")
    if ran.status == 2:
        if not ran.err.strip():
            problems.append("exit 2 and not a word")
        made = sorted(_incidents(tmp_path) - before)
        if made and "needs an answer" not in ran.err:
            problems.append(f"exit 2 after making {made[0].name}: {said}")
    return [f"{[a[:60] for a in args]}: {p}" for p in problems]


def _fill(template: list[str], value: str, tmp_path: Path) -> list[str]:
    value = value.format(folder=tmp_path / "folder") if value == "{folder}" else value
    return [value if part == "{v}" else part for part in template]


@pytest.mark.parametrize("template", FLAGS, ids=lambda t: " ".join(t[:2] + t[-2:-1]))
def test_odd_flag_values_get_a_clean_answer(
    template: list[str], tmp_path: Path, capsys: Capture
) -> None:
    problems: list[str] = []
    for value in VALUES:
        problems.extend(_check(_fill(template, value, tmp_path), tmp_path, capsys))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("variable", "args"), VARIABLES, ids=[v for v, _ in VARIABLES])
def test_odd_variable_values_get_a_clean_answer(
    variable: str,
    args: list[str],
    tmp_path: Path,
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problems: list[str] = []
    for value in VALUES:
        if "\x00" in value:
            continue
        monkeypatch.setenv(variable, _fill(["{v}"], value, tmp_path)[0])
        problems.extend(f"{variable}={value[:40]!r}: {p}" for p in _check(args, tmp_path, capsys))
    assert not problems, "\n".join(problems)
