"""Fuzz every shipped document kind (:mod:`tests.fuzzing`) through the commands that read it.

A bounded run here (``CASES``, by count, so a busy machine takes longer but runs the same cases);
a larger one by hand: ``AIIR_FUZZ_CASES=3000 AIIR_FUZZ_SEED=7 pytest tests/test_fuzz_documents.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz_runner import TOKEN, run_case
from tests.fuzzing import Case, cases
from tests.respond import no_terminal
from tests.servers import Gateway, serve_gateway

CASES = int(os.environ.get("AIIR_FUZZ_CASES", "120"))
SEED = int(os.environ.get("AIIR_FUZZ_SEED", "20261207"))


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def _chunks(every: list[Case], size: int) -> list[list[Case]]:
    return [every[i : i + size] for i in range(0, len(every), size)]


@pytest.mark.parametrize("chunk", _chunks(cases(CASES, SEED), 20), ids=lambda c: f"{c[0].number}")
def test_mutated_documents_get_a_clean_answer(
    chunk: list[Case],
    tmp_path: Path,
    gateway: tuple[str, Gateway],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    no_terminal(monkeypatch)
    monkeypatch.setenv("LITELLM_MASTER_KEY", TOKEN)
    problems: list[str] = []
    for case in chunk:
        folder = tmp_path / f"case-{case.number}"
        folder.mkdir()
        monkeypatch.chdir(folder)
        found = run_case(case, folder, gateway, capsys)
        problems.extend(
            f"case {case.number} ({case.seed.path.name}, {case.mutation}): {p}" for p in found
        )
    assert not problems, "\n".join(problems)


SCRIPT = Path(sys.executable).with_name("aiir")


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed")
def test_the_console_script_answers_mutated_documents_cleanly(tmp_path: Path) -> None:
    """A few cases through the installed ``aiir`` in a process of its own: what a user runs,
    with its own interpreter start, encoding and exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIIR_")}
    problems: list[str] = []
    for case in [c for c in cases(CASES, SEED) if c.seed.kind in {"runbook", "scenario"}][:4]:
        folder = tmp_path / f"case-{case.number}"
        folder.mkdir()
        doc = folder / case.seed.path.name
        if case.content is None:
            doc.mkdir()
        else:
            doc.write_bytes(case.content)
        walk = (
            ["run", str(doc), "--dry-run"] if case.seed.kind == "runbook" else ["drill", str(doc)]
        )
        for args in (["validate", str(doc)], [*walk, "--incident-dir", str(folder / "inc")]):
            done = subprocess.run(
                [str(SCRIPT), *args],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
                check=False,
            )
            said = done.stdout + done.stderr
            if done.returncode not in (0, 1, 2) or "Traceback" in said or "internal error" in said:
                problems.append(
                    f"case {case.number} {case.mutation} {args[0]}: {done.returncode} {said[-300:]}"
                )
            if done.returncode == 2 and not done.stderr.strip():
                problems.append(
                    f"case {case.number} {case.mutation} {args[0]}: exit 2, nothing said"
                )
    assert not problems, "\n".join(problems)
