"""Every example drill in one process, each next to a bare engine walk of the same runbook.

    .venv/bin/python -m bench.drills [--drills examples/drills] [--repeat 3] [--profile] [--json]

A drill loads and checks its scenario and runbook (``prepare``), serves the simulated gateway in
process, journals every event with an fsync, and judges the walk (``run_drill``): what
``aiir drill examples/drills/`` does, minus the table. The bare walk is ``aiir.respond.session.start`` on the
same runbook with the same answers and inputs, its journal written but not fsync'd (so it lives in
the page cache, i.e. memory), and an ``httpx2.MockTransport`` that replays the responses the
sandbox gave during the drill, so it takes the same path without the sandbox. The difference is
what drilling costs on top of walking. Goal: every shipped drill together in under 3 s.
``--profile`` runs the batch once under cProfile and says where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
from rich.console import Console

from aiir.environment import Environment
from aiir.exercises.drill import DrillClock, run_drill
from aiir.exercises.drill_report import scenario_files
from aiir.prompts import NoTerminalPrompter
from aiir.respond.session import start
from aiir.sandbox import InProcessTransport
from aiir.validate.scenarios import Prepared, prepare
from bench.common import fsync_off

GOAL_S = 3.0
ROOT = Path(__file__).resolve().parent.parent
Recorded = tuple[int, list[tuple[bytes, bytes]], bytes]


@contextlib.contextmanager
def recording(into: list[Recorded]) -> Iterator[None]:
    """Keep every response the in-process sandbox gives, in order."""
    real = InProcessTransport.handle_request

    def handle(self: InProcessTransport, request: httpx2.Request) -> httpx2.Response:
        response = real(self, request)
        into.append((response.status_code, response.headers.raw, response.content))
        return response

    InProcessTransport.handle_request = handle  # type: ignore[method-assign]
    try:
        yield
    finally:
        InProcessTransport.handle_request = real  # type: ignore[method-assign]


def drill_once(files: list[Path], root: Path) -> list[tuple[float, float]]:
    """(prepare, run) seconds of every drill, all prepared first as ``aiir drill`` does."""
    prepared: list[tuple[Prepared, float]] = []
    for path in files:
        began = time.perf_counter()
        prepared.append((prepare(path), time.perf_counter() - began))
    times = []
    for item, prepare_s in prepared:
        began = time.perf_counter()
        result = run_drill(item, root)
        if not result.ok:
            raise RuntimeError(f"drill {result.name} did not pass: {result.error or result.groups}")
        times.append((prepare_s, time.perf_counter() - began))
    return times


def bare_walk(item: Prepared, replies: list[Recorded], root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``aiir.respond.session.start`` alone: no sandbox, no fsync, no judging."""
    # The scenario's traffic precedes the walk: a request each, and a retrieval before one that
    # has it (a RAG application's query), as aiir.exercises.drill.replay_traffic sends them.
    traffic = sum(2 if sent.retrieve is not None else 1 for sent in item.scenario.traffic)
    queue = list(replies)[traffic:]

    def replay(request: httpx2.Request) -> httpx2.Response:
        if not queue:
            raise RuntimeError(f"the bare walk sent more requests than the drill ({request.url})")
        status, headers, content = queue.pop(0)
        return httpx2.Response(status, headers=headers, content=content)

    with httpx2.Client(transport=httpx2.MockTransport(replay)) as http:
        env = Environment(
            console=Console(file=io.StringIO(), width=100),
            prompter=NoTerminalPrompter(),
            client=http,
            clock=DrillClock(),  # as in the drill: a retry's backoff is not waited for
            environ={},
            operator="bench",
            incidents_dir=root,
            assume_yes=True,
            sandbox_url="http://gateway.invalid",  # every gateway here; no keys needed
        )
        began, cpu = time.perf_counter(), time.process_time()
        with fsync_off():
            start(item.runbook_file, env, inputs=item.scenario.inputs, scripted=item.answers)
        seconds = (time.perf_counter() - began, time.process_time() - cpu)
    if queue:
        raise RuntimeError(f"{item.scenario.scenario}: the bare walk took another path")
    return seconds


def measure(files: list[Path], root: Path, repeat: int) -> dict[str, Any]:
    """Every figure in milliseconds, medians over ``repeat`` rounds. Each round runs the whole
    batch of drills, then every bare walk, so that background load falls on both alike."""
    replies: list[list[Recorded]] = []
    for path in files:  # also the warm-up: imports, compiled templates
        replies.append([])
        with recording(replies[-1]):
            run_drill(prepare(path), root / "recorded")
    prepared = [prepare(path) for path in files]
    batches, walls, cpus = [], [], []
    bare: list[list[tuple[float, float]]] = [[] for _ in files]
    for n in range(repeat):
        began, cpu = time.perf_counter(), time.process_time()
        batches.append(drill_once(files, root / f"batch-{n}"))
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - cpu)
        for index, item in enumerate(prepared):
            bare[index].append(bare_walk(item, replies[index], root / f"bare-{n}"))
    rows = [
        {
            "scenario": item.scenario.scenario,
            "runbook": item.runbook.id,
            "requests": len(replies[index]),
            "prepare_ms": statistics.median(b[index][0] for b in batches) * 1000,
            "run_ms": statistics.median(b[index][1] for b in batches) * 1000,
            "bare_ms": statistics.median(wall for wall, _ in bare[index]) * 1000,
            "bare_cpu_ms": statistics.median(cpu for _, cpu in bare[index]) * 1000,
        }
        for index, item in enumerate(prepared)
    ]
    return {
        "drills": len(files),
        "total_ms": statistics.median(walls) * 1000,
        "cpu_ms": statistics.median(cpus) * 1000,
        "append_ms": _append_ms(root),
        "rows": rows,
    }


def _append_ms(root: Path) -> float:
    """One fsync'd 200-byte append in ``root``: what every journal event costs on this disk."""
    path = root / "append.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(50):
            began = time.perf_counter()
            os.write(fd, b"x" * 200)
            os.fsync(fd)
            times.append(time.perf_counter() - began)
    finally:
        os.close(fd)
    return statistics.median(times) * 1000


def report(f: dict[str, Any]) -> None:
    print(f"aiir drills: {f['drills']} example drills in one process (medians; wall ms)")
    print(f"  {'scenario':<44} {'prepare':>8} {'drill':>8} {'bare':>8} {'req':>4}")
    for row in f["rows"]:
        print(
            f"  {row['scenario']:<44} {row['prepare_ms']:6.0f}ms {row['run_ms']:6.0f}ms "
            f"{row['bare_ms']:6.0f}ms {row['requests']:4d}"
        )
    prepare_ms = sum(r["prepare_ms"] for r in f["rows"])
    run_ms = sum(r["run_ms"] for r in f["rows"])
    bare_ms = sum(r["bare_ms"] for r in f["rows"])
    bare_cpu = sum(r["bare_cpu_ms"] for r in f["rows"])
    print(f"  sum: prepare {prepare_ms:.0f} ms, drill {run_ms:.0f} ms, bare walk {bare_ms:.0f} ms")
    print(f"  bare walks, CPU: {bare_cpu:.0f} ms")
    print(f"  one fsync'd 200-byte append here: {f['append_ms']:.2f} ms")
    for label, key in (("CPU time", "cpu_ms"), ("wall clock", "total_ms")):
        verdict = "met" if f[key] <= GOAL_S * 1000 else "NOT met"
        print(f"  all drills, {label}: {f[key]:.0f} ms (goal < {GOAL_S:.0f} s: {verdict})")


# Where the time goes: cumulative seconds of these functions (they may overlap).
PARTS: dict[str, tuple[str, str]] = {
    "YAML loading (aiir.formats.loader.load_file)": ("loader.py", "load_file"),
    "runbook checks (checks.runbook_findings)": ("checks.py", "runbook_findings"),
    "journal fsync (os.fsync)": ("~", "<built-in method posix.fsync>"),
    "simulated gateway (InProcessTransport)": ("transport.py", "handle_request"),
    "Jinja2 compile (Environment.compile)": ("environment.py", "compile"),
    "screen (rich Console.print)": ("console.py", "print"),
    "judging (aiir.exercises.drill.judge)": ("drill.py", "judge"),
}


def profile(files: list[Path], root: Path) -> dict[str, float]:
    drill_once(files[:1], root / "warm-up")
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.runcall(drill_once, files, root / "profiled")
    wall = time.perf_counter() - began
    stats: Any = pstats.Stats(profiler, stream=io.StringIO())
    shares = {"wall clock (under the profiler)": wall}
    for label, (filename, function) in PARTS.items():
        shares[label] = sum(
            entry[3]
            for (file, _, name), entry in stats.stats.items()
            if name == function and file.endswith(filename)
        )
    return shares


@contextlib.contextmanager
def runbooks_cached() -> Iterator[None]:
    """What if a runbook file were loaded and checked once per process (keyed by path, size and
    mtime)? Today ``start`` checks again what ``prepare`` checked, and a runbook with a ``call``
    node parses every runbook in two directories to know the ids it may call."""
    from unittest import mock

    import aiir.validate.checked

    real = aiir.validate.checked.load_checked
    cache: dict[tuple[str, int, int], Any] = {}

    def cached(path: Path) -> Any:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in cache:
            cache[key] = real(path)
        return cache[key]

    with (
        mock.patch("aiir.respond.session.load_checked", cached),
        mock.patch("aiir.validate.scenarios.load_checked", cached),
    ):
        yield


def what_if(files: list[Path], root: Path) -> dict[str, float]:
    """CPU and wall seconds of the batch as it is, then with runbooks cached, then also without
    waiting for fsync (the same writes), each after a warm-up batch."""
    figures = {}
    for label, patches in (
        ("as it is", ()),
        ("runbooks loaded once", (runbooks_cached,)),
        ("runbooks loaded once, no fsync wait", (runbooks_cached, fsync_off)),
    ):
        with contextlib.ExitStack() as stack:
            for patch in patches:
                stack.enter_context(patch())
            drill_once(files, root / f"{label}-warm")
            began, cpu = time.perf_counter(), time.process_time()
            drill_once(files, root / label)
            figures[f"{label}: wall"] = time.perf_counter() - began
            figures[f"{label}: CPU"] = time.process_time() - cpu
    return figures


def _run(work: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aiir-bench-drills-") as tmp:
        return work(Path(tmp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--drills", type=Path, default=ROOT / "examples" / "drills")
    parser.add_argument("--repeat", type=int, default=3, help="batches (medians kept)")
    parser.add_argument("--profile", action="store_true", help="say where the time goes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    files = scenario_files([args.drills])
    if args.profile:
        shares = _run(lambda root: profile(files, root))
        print(f"Where the time goes ({len(files)} drills, cumulative, parts may overlap):")
        for label, seconds in shares.items():
            print(f"  {label:<44} {seconds * 1000:8.0f} ms")
        print("What if:")
        for label, seconds in _run(lambda root: what_if(files, root)).items():
            print(f"  {label:<44} {seconds * 1000:8.0f} ms")
        return 0
    figures = _run(lambda root: measure(files, root, args.repeat))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
