"""Cold start of the commands people type, against importing Typer alone.

    .venv/bin/python -m bench.startup [--runs 15]

Each command runs in a fresh process, round-robin so that background noise falls on all of them
alike; the table shows medians of wall and CPU time (user + system, of the child) and their ratios
to the floor, ``python -c "import typer"``: a Typer CLI cannot start faster than Typer imports.
Goals, judged on CPU time (which other work on a shared machine disturbs far less than wall
time): ``aiir --help`` at most 1.5x the floor, ``aiir run --help`` at most 1.3x, ``aiir validate
ONE.yaml`` (one shipped runbook) at most 2x. ``aiir validate runbooks/`` (the whole library) is
shown for scale. So are ``aiir validate ONE.yaml`` with pydantic making the models (``-X
aiir-full``: what the console's lean models spare, see aiir/formats/lean.py), an invalid copy of
ONE.yaml (the lean models cannot vouch for it, so it is checked again with pydantic), ``import
typer`` with one pydantic model built and used (what a check with pydantic cannot go below), and
``import typer`` with ``pydantic.BaseModel`` imported only (the part of that which is pydantic's
import).

``--baseline DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/base main``) times
each aiir command from that tree too, in the same round-robin: the before and after of a change
from one run. Both trees are then started the same way, ``python -c`` with the tree first on
``sys.path``.
"""

from __future__ import annotations

import argparse
import compileall
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Sample, compile_aiir, interleaved, medians

REPO = Path(__file__).resolve().parents[1]
FLOOR = 'python -c "import typer"'
ONE = REPO / "runbooks" / "prompt-injection.yaml"
# What no command that checks a document with a pydantic model can go below: Typer, pydantic, and
# one model of one field built and used (its first validator loads pydantic's plugin discovery).
PYDANTIC = "import typer + one pydantic model"
PYDANTIC_CODE = (
    "import typer\nfrom pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM(x=1)"
)
BASE_MODEL = "import typer + pydantic.BaseModel"
BASE_MODEL_CODE = "import typer\nfrom pydantic import BaseModel"
GOALS = {"aiir --help": 1.5, "aiir run --help": 1.3, "aiir validate ONE.yaml": 2.0}


def aiir() -> list[str]:
    """The installed console script when there is one (what users run), else ``python -m aiir``."""
    script = Path(sys.executable).with_name("aiir")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aiir"]


def aiir_from(tree: Path) -> Callable[..., list[str]]:
    """``aiir ARGS`` as the console script runs it, with the aiir package of ``tree``."""

    def argv(*args: str) -> list[str]:
        code = (
            f"import sys; sys.path.insert(0, {str(tree)!r}); sys.argv = ['aiir', *{args!r}]; "
            "from aiir.cli import run; run()"
        )
        return [sys.executable, "-c", code]

    return argv


def aiir_commands(aiir: Callable[..., list[str]]) -> dict[str, list[str]]:
    return {
        "aiir --help": aiir("--help"),
        "aiir run --help": aiir("run", "--help"),
        "aiir validate ONE.yaml": aiir("validate", str(ONE)),
        "aiir validate ONE.yaml, pydantic": with_pydantic(aiir("validate", str(ONE))),
        "aiir validate INVALID.yaml": aiir("validate", str(INVALID)),
        "aiir validate runbooks/": aiir("validate", str(REPO / "runbooks")),
    }


def with_pydantic(argv: list[str]) -> list[str]:
    """``argv`` with the models made by pydantic (``-X aiir-full``), as every start but the
    console's ``aiir validate`` makes them, and as its second run does for a document its lean
    models cannot vouch for."""
    if argv[0] == sys.executable:
        return [argv[0], "-X", "aiir-full", *argv[1:]]
    return [sys.executable, "-X", "aiir-full", *argv]


# ONE.yaml with one mistake: the lean models cannot vouch for it, so it is checked again with
# pydantic, which says what is wrong (the cost of a runbook with an error, for scale).
INVALID = Path(tempfile.gettempdir()) / "aiir-bench-invalid.yaml"


def commands(baseline: Path | None) -> dict[str, list[str]]:
    floors = {
        "python -c pass": [sys.executable, "-c", "pass"],
        FLOOR: [sys.executable, "-c", "import typer"],
        BASE_MODEL: [sys.executable, "-c", BASE_MODEL_CODE],
        PYDANTIC: [sys.executable, "-c", PYDANTIC_CODE],
    }
    if baseline is None:
        return {**floors, **aiir_commands(lambda *args: [*aiir(), *args])}
    before = {
        f"{label} [baseline]": argv for label, argv in aiir_commands(aiir_from(baseline)).items()
    }
    return {**floors, **before, **aiir_commands(aiir_from(REPO))}


def once(argv: list[str]) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    invalid = any(str(INVALID) in part for part in argv)  # an argument, or in `-c` code
    if done.returncode not in {0, 2} or (done.returncode == 2) != invalid:
        raise subprocess.CalledProcessError(done.returncode, argv)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int, baseline: Path | None) -> dict[str, list[Sample]]:
    todo = commands(baseline)
    INVALID.write_text(ONE.read_text(encoding="utf-8").replace("severity: SEV", "severity: SEV9"))
    compile_aiir()
    if baseline is not None:
        compileall.compile_dir(baseline / "aiir", quiet=1)
    for argv in todo.values():  # warm the page cache; not counted
        once(argv)
    return interleaved({label: functools.partial(once, argv) for label, argv in todo.items()}, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout whose aiir is timed alongside, for scale"
    )
    args = parser.parse_args()
    samples = measure(args.runs, args.baseline)
    floor_wall, floor_cpu = medians(samples[FLOOR])
    cores, load = os.cpu_count(), os.getloadavg()[0]
    print(f"{args.runs} cold runs each, round-robin; {cores} cores, load average {load:.1f}")
    print(f"{'median of each':36} {'wall ms':>8} {'CPU ms':>7} {'wall':>6} {'CPU':>6}")
    for label, values in samples.items():
        wall, cpu = medians(values)
        mark = "  (floor)" if label == FLOOR else ""
        print(
            f"{label:36} {wall * 1000:8.1f} {cpu * 1000:7.1f} "
            f"{wall / floor_wall:5.2f}x {cpu / floor_cpu:5.2f}x{mark}"
        )
    for label, goal in GOALS.items():
        wall, cpu = medians(samples[label])
        ratio = cpu / floor_cpu
        verdict = "met" if ratio <= goal else "MISSED"
        print(
            f"goal: {label} <= {goal:.1f}x the floor in CPU time: {verdict} "
            f"({ratio:.2f}x; wall {wall / floor_wall:.2f}x)"
        )


if __name__ == "__main__":
    main()
