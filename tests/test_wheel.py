"""The wheel, as a user gets it: built once per session, installed in a fresh virtual environment,
and run from a directory far from this checkout.

The wheel is built and installed without the network (no build isolation: hatchling comes with
the dev extras). aiir's own dependencies are not installed again in the fresh environment: a
``.pth`` line puts the dev environment's site-packages after its own, so every ``aiir`` module
and data file comes from the wheel (checked), and nothing is downloaded at test time.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from aiir import __version__

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    site: Path  # the fresh environment's site-packages
    home: Path  # a directory outside the checkout to run in

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("AIIR_", "PYTHON"))}
        path = f"{self.venv / 'bin'}{os.pathsep}{keep.get('PATH', '')}"
        return {**keep, "PATH": path, "NO_COLOR": "1", "COLUMNS": "200", "AIIR_OPERATOR": "ci"}

    def run(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=cwd or self.home,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def aiir(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        ran = self.run(str(self.venv / "bin" / "aiir"), *args, cwd=cwd)
        assert ran.returncode == 0, f"aiir {shlex.join(args)}:\n{ran.stdout}{ran.stderr}"
        return ran


def _setup(*argv: str | Path) -> str:
    """One set-up step; its output on failure."""
    ran = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=600, check=False
    )
    assert ran.returncode == 0, f"{shlex.join(map(str, argv))}:\n{ran.stdout}{ran.stderr}"
    return ran.stdout


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _setup(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", root, REPO)
    (wheel,) = root.glob("aiir_runbooks-*.whl")
    venv = root / "venv"
    _setup(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _setup(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel)
    site = Path(
        _setup(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    (site / "aiir-test-dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )
    home = root / "elsewhere"
    home.mkdir()
    return Installed(wheel, venv, site, home)


def test_the_wheel_holds_the_library_the_examples_and_the_license(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"aiir_runbooks-{__version__}.dist-info/METADATA").decode()
    for folder in ("runbooks", "templates", "schemas", "scaffold", "profiles"):
        assert any(n.startswith(f"aiir/{folder}/") for n in names), folder
    for example in (REPO / "examples").rglob("*"):
        if example.is_file():
            assert f"aiir/{example.relative_to(REPO).as_posix()}" in names, example
    assert f"aiir_runbooks-{__version__}.dist-info/licenses/LICENSE" in names
    assert "Name: aiir-runbooks\n" in metadata
    assert "License-Expression: Apache-2.0\n" in metadata
    assert "License-File: LICENSE\n" in metadata


def test_aiir_runs_from_the_wheel_not_from_the_checkout(installed: Installed) -> None:
    ran = installed.run(
        str(installed.venv / "bin" / "python"),
        "-c",
        "import aiir, importlib.metadata as m; print(aiir.__file__); print(m.version('aiir-runbooks'))",
    )
    assert ran.returncode == 0, ran.stderr
    where, version = ran.stdout.split()
    assert Path(where).is_relative_to(installed.site)
    assert version == __version__
    assert installed.aiir("--version").stdout == f"aiir {__version__}\n"


def test_the_library_lists_what_the_wheel_ships(installed: Installed) -> None:
    assert "prompt-injection" in installed.aiir("library").stdout
    rows = json.loads(installed.aiir("library", "--json").stdout)
    kinds = {"runbooks", "drills", "tabletops", "canaries", "answers", "detections"}
    assert {r["kind"] for r in rows} == kinds
    assert all(Path(r["path"]).is_relative_to(installed.site) for r in rows)


def test_shipped_detection_rules_run_by_id_from_the_wheel(
    installed: Installed, tmp_path: Path
) -> None:
    nowhere = "http://127.0.0.1:9"
    command = str(installed.venv / "bin" / "aiir")
    history = str(tmp_path / "history")
    args = ("detect", "llm-gateway", "--prometheus", nowhere, "--phoenix", nowhere)
    ran = installed.run(command, *args, "--history-dir", history)
    assert ran.returncode == 1, ran.stderr  # nothing answers there: not evaluated, said so
    assert "5 of 5 not evaluated" in ran.stdout


def test_a_shipped_runbook_walks_with_shipped_answers_by_id_and_by_path(
    installed: Installed,
) -> None:
    flags = ("--sandbox", "--yes")
    ran = installed.aiir("run", "prompt-injection", *flags, "--answers", "prompt-injection")
    assert "Outcome: contained" in ran.stdout
    rows = json.loads(installed.aiir("library", "--kind", "answers", "--json").stdout)
    (answers,) = [r["path"] for r in rows if r["id"] == "prompt-injection"]
    installed.aiir("run", "prompt-injection", *flags, "--answers", answers)


def test_shipped_drills_canaries_and_tabletops_are_found_by_id(installed: Installed) -> None:
    assert "1 passed, 0 failed" in installed.aiir("drill", "prompt-injection-jailbreak").stdout
    installed.aiir("canary", "run", "support-assistant", "--sandbox")
    installed.aiir("validate", "--strict", "racist-output", "triage")


def test_init_lays_out_a_workspace_whose_own_ci_passes(installed: Installed) -> None:
    installed.aiir("init", "ws")
    workspace = installed.home / "ws"
    workflow = yaml.safe_load((workspace / ".github/workflows/aiir.yml").read_text("utf-8"))
    (job,) = workflow["jobs"].values()
    runs = [str(step["run"]) for step in job["steps"] if "run" in step]
    assert f'pip install "aiir-runbooks=={__version__}"' in runs
    commands = [shlex.split(line) for run in runs for line in run.splitlines()]
    steps = [c for c in commands if c[0] == "aiir"]
    assert len(steps) == 3
    for step in steps:
        installed.aiir(*step[1:], cwd=workspace)
