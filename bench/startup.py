"""Cold start of the commands people type, against importing Typer alone.

    .venv/bin/python -m bench.startup [--runs 15]

Each command runs in a fresh process, round-robin so that background noise falls on all of them
alike; the table shows medians of wall and CPU time (user + system, of the child) and their ratios
to the floor, ``python -c "import typer"``: a Typer CLI cannot start faster than Typer imports.
Goals, judged on CPU time (which other work on a shared machine disturbs far less than wall
time): ``aiir --help`` at most 1.5x the floor, ``aiir run --help`` at most 1.3x, ``aiir validate
ONE.yaml`` (one shipped runbook) at most 2x. ``aiir validate runbooks/`` (the whole library) is
shown for scale.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Sample, compile_aiir, interleaved, medians

REPO = Path(__file__).resolve().parents[1]
FLOOR = 'python -c "import typer"'
ONE = REPO / "runbooks" / "prompt-injection.yaml"
GOALS = {"aiir --help": 1.5, "aiir run --help": 1.3, "aiir validate ONE.yaml": 2.0}


def aiir() -> list[str]:
    """The installed console script when there is one (what users run), else ``python -m aiir``."""
    script = Path(sys.executable).with_name("aiir")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aiir"]


def commands() -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        FLOOR: [sys.executable, "-c", "import typer"],
        "aiir --help": [*aiir(), "--help"],
        "aiir run --help": [*aiir(), "run", "--help"],
        "aiir validate ONE.yaml": [*aiir(), "validate", str(ONE)],
        "aiir validate runbooks/": [*aiir(), "validate", str(REPO / "runbooks")],
    }


def once(argv: list[str]) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int) -> dict[str, list[Sample]]:
    todo = commands()
    compile_aiir()
    for argv in todo.values():  # warm the page cache; not counted
        once(argv)
    return interleaved({label: functools.partial(once, argv) for label, argv in todo.items()}, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    args = parser.parse_args()
    samples = measure(args.runs)
    floor_wall, floor_cpu = medians(samples[FLOOR])
    cores, load = os.cpu_count(), os.getloadavg()[0]
    print(f"{args.runs} cold runs each, round-robin; {cores} cores, load average {load:.1f}")
    print(f"{'median of each':30} {'wall ms':>8} {'CPU ms':>7} {'wall':>6} {'CPU':>6}")
    for label, values in samples.items():
        wall, cpu = medians(values)
        mark = "  (floor)" if label == FLOOR else ""
        print(
            f"{label:30} {wall * 1000:8.1f} {cpu * 1000:7.1f} "
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
