"""Reading incidents at scale: each reader next to the floor of reading the same journals.

The journals are those of a polling runbook (an action that asks the gateway for a status, a
branch that loops back until it says ``live``): mostly ``node.entered``, ``answer``,
``action.intent``, ``action.result`` and ``branch`` lines. One real walk of that runbook (two
loops, ``httpx2.MockTransport``) gives the lines of one loop; a journal of N events is that loop
written again and again through :class:`aiir.incident.journal.Journal` (steps renumbered, so a
resume replays it), closed by ``incident.ended``, or by ``incident.interrupted`` for the resume.

**The floor** reads a journal as the cheapest honest reader would: each line parsed with
``json.loads``, its ``hash`` taken out, SHA-256 over the canonical JSON of the rest (as
:mod:`aiir.incident.journal` writes it), compared, and chained to the line before.

Every reader runs in this process as its command does (the command's function in
:mod:`aiir.cli.incident`, output to ``/dev/null``; Typer's parsing, the same for all, is left
out: start-up has its own benchmark). Readers and floors take turns (round-robin), CPU time is
the median of ``--repeat``; peak memory is measured on a run of its own with ``tracemalloc``
(Python's allocations: the interpreter and its imports are not counted).

    .venv/bin/python -m bench.reading [--sizes 3000,10000,100000] [--incidents 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import yaml
from rich.console import Console

from aiir.cli import flags
from aiir.cli import incident as commands
from aiir.cli.verify import verify
from aiir.environment import Environment
from aiir.incident.events import EventType
from aiir.incident.journal import GENESIS, JOURNAL, Event, Journal, canonical, read_events
from aiir.prompts import NoTerminalPrompter
from aiir.respond.session import resume, start
from bench.common import compile_aiir, fsync_off

GOALS = {"verify": 1.5, "show": 3.0, "incidents": 2.0}
MEMORY_GOAL_MB = 64.0
LOOP = 6  # events of one polling loop: entered, approval, intent, result, entered, branch
STEPS = 3  # steps of one loop: the approval, the action, the branch


def polling_runbook(severity: str = "SEV3") -> dict[str, Any]:
    """Ask the gateway until the filter is live: the runbook whose journals grow longest."""
    request = {"method": "GET", "path": "/filter/status", "save": {"status": "state"}}
    return {
        "aiir": 1,
        "id": "poll",
        "title": "Wait for the emergency filter to go live",
        "owner": "security",
        "severity": severity,
        "gateways": {"gw": {"profile": "http", "url": "http://gateway.invalid"}},
        "start": "poll",
        "nodes": {
            "poll": {
                "kind": "action",
                "title": "Ask the gateway",
                "max_visits": 100_000,  # a long journal of polling is the point here
                "request": request,
                "next": "check",
            },
            "check": {
                "kind": "branch",
                "title": "Live yet?",
                "max_visits": 100_000,
                "cases": [{"when": "vars.status == 'live'", "next": "done"}],
                "default": "poll",
            },
            "done": {"kind": "end", "title": "Filter live", "outcome": "resolved"},
        },
    }


def gateway(pending: int) -> Callable[[httpx2.Request], httpx2.Response]:
    """A gateway whose filter says ``pending`` ``pending`` times, then ``live``."""
    asked = 0

    def answer(request: httpx2.Request) -> httpx2.Response:
        nonlocal asked
        asked += 1
        return httpx2.Response(200, json={"state": "pending" if asked <= pending else "live"})

    return answer


def environment(root: Path, http: httpx2.Client, console: Console | None = None) -> Environment:
    return Environment(
        console=console or Console(file=io.StringIO(), width=100),
        prompter=NoTerminalPrompter(),
        client=http,
        environ={},
        operator="bench",
        incidents_dir=root,
        assume_yes=True,
    )


@dataclass(frozen=True)
class Template:
    """A real walk of the polling runbook (two loops pending, one live): its directory (for
    the runbook copy) and its events."""

    directory: Path
    events: list[Event]

    @classmethod
    def walk(cls, root: Path, runbook: Path) -> Template:
        with httpx2.Client(transport=httpx2.MockTransport(gateway(2))) as http:
            result = start(runbook, environment(root, http))
        events, problems = read_events(result.incident.directory / JOURNAL)
        assert not problems, problems
        return cls(result.incident.directory, events)


def write_journal(root: Path, template: Template, events: int, *, ended: bool = True) -> str:
    """An incident of about ``events`` events made of the template's loop; its id."""
    first = next(i for i, e in enumerate(template.events) if e.type == EventType.NODE_ENTERED)
    opening, loop = template.events[:first], template.events[first : first + LOOP]
    directory = root / f"INC-{len(list(root.glob('INC-*'))):06d}-bench"
    directory.mkdir(parents=True)
    shutil.copytree(template.directory / "runbooks", directory / "runbooks")
    clock = iter(range(10**9))
    journal = Journal(directory, "bench", lambda: _ts(next(clock)), str)
    with fsync_off():
        for event in opening:
            journal.write(event.type, {**event.data, "id": directory.name}, step=event.step)
        for n in range(max(1, (events - len(opening) - 1) // LOOP)):
            for event in loop:
                step = None if event.step is None else event.step + n * STEPS
                journal.write(event.type, event.data, step=step)
        if ended:
            journal.append(EventType.INCIDENT_ENDED, {"outcome": "resolved", "summary": "live"})
        else:
            journal.append(EventType.INCIDENT_INTERRUPTED, {"reason": "bench: stopped here"})
    journal.close()
    return directory.name


def _ts(second: int) -> str:
    day, rest = divmod(second, 86400)
    return f"2026-11-{27 + day:02d}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}.000Z"


# --- the floor and the readers -----------------------------------------------------------------


def floor(path: Path) -> int:
    """Parse each line and re-hash the chain: no reader can do less and still vouch for it."""
    prev, count = GENESIS, 0
    with open(path, "rb") as handle:
        for line in handle:
            record = json.loads(line)
            digest = record.pop("hash")
            if hashlib.sha256(canonical(record)).hexdigest() != digest or record["prev"] != prev:
                raise RuntimeError(f"{path}: line {count + 1} does not verify")
            prev, count = digest, count + 1
    return count


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Output to /dev/null, as a reader's output piped away would go, in the environment
    :func:`aiir.cli.main` would make for the command (this process's)."""
    with (
        open(os.devnull, "w") as null,
        contextlib.redirect_stdout(null),
        contextlib.redirect_stderr(null),
        flags.running_in(functools.cache(Environment.from_process)),
    ):
        yield


def run_verify(root: Path, incident: str) -> None:
    with quiet():
        status = verify(incident, anchor=None, anchors=None, incident_dir=root)
    if status != 0:
        raise RuntimeError(f"aiir verify {incident}: exit status {status}")


def run_show(root: Path, incident: str, *, every: bool = False) -> None:
    with quiet():
        commands.show(
            incident, as_json=False, aware_at=None, force=False, every=every, incident_dir=root
        )


def run_incidents(root: Path) -> None:
    with quiet():
        commands.incidents(as_json=False, incident_dir=root)


def run_resume(root: Path, incident: str) -> None:
    """Resume a copy of the interrupted incident: it replays every loop, then polls once."""
    with (
        open(os.devnull, "w") as null,
        httpx2.Client(transport=httpx2.MockTransport(gateway(0))) as http,
    ):
        result = resume(incident, environment(root, http, Console(file=null)))
    if result.ended is None or result.ended.outcome != "resolved":
        raise RuntimeError(f"the resumed walk did not end as resolved: {result.ended}")


def cpu(work: Callable[[], object]) -> float:
    began = time.process_time()
    work()
    return time.process_time() - began


def peak_mb(work: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


# --- measuring -----------------------------------------------------------------------------------


def measure(root: Path, sizes: list[int], incidents: int, repeat: int) -> list[dict[str, Any]]:
    runbook = root / "poll.yaml"
    runbook.write_text(yaml.safe_dump(polling_runbook(), sort_keys=False), encoding="utf-8")
    template = Template.walk(root / "template", runbook)
    rows = []
    for size in sizes:
        rows += _one_journal(root / f"j{size}", template, size, repeat)
    rows.append(_many(root / "many", template, incidents, repeat))
    return rows


def _one_journal(root: Path, template: Template, size: int, repeat: int) -> list[dict[str, Any]]:
    incident = write_journal(root, template, size)
    stopped = write_journal(root / "stopped", template, size, ended=False)
    path = root / incident / JOURNAL
    events = floor(path)
    spare = root / "resumed"

    def fresh_copy() -> None:
        shutil.rmtree(spare, ignore_errors=True)
        shutil.copytree(root / "stopped", spare)

    def resumed() -> None:
        run_resume(spare, stopped)

    works: dict[str, Callable[[], object]] = {
        "floor": lambda: floor(path),
        "verify": lambda: run_verify(root, incident),
        "show": lambda: run_show(root, incident),
        "show --all": lambda: run_show(root, incident, every=True),
        "resume": resumed,
    }
    times: dict[str, list[float]] = {label: [] for label in works}
    for _ in range(repeat):
        for label, work in works.items():
            if label == "resume":
                fresh_copy()
            times[label].append(cpu(work))
    memory = {}
    for label, work in works.items():
        if label == "resume":
            fresh_copy()
        memory[label] = peak_mb(work)
    shutil.rmtree(spare, ignore_errors=True)
    base = statistics.median(times["floor"])
    return [
        {
            "journal": f"{events:,} events",
            "reader": label,
            "cpu_s": statistics.median(samples),
            "ratio": statistics.median(samples) / base,
            "peak_mb": memory[label],
            "goal": GOALS.get(label.split()[0]),
        }
        for label, samples in times.items()
    ]


def _many(root: Path, template: Template, count: int, repeat: int) -> dict[str, Any]:
    """``aiir incidents`` over ``count`` incidents of one to twenty polling loops each."""
    for n in range(count):
        write_journal(root, template, 10 + LOOP * (n % 20))
    paths = sorted(root.glob(f"*/{JOURNAL}"))

    def floors() -> None:
        for path in paths:
            floor(path)

    times: dict[str, list[float]] = {"floor": [], "incidents": []}
    for _ in range(repeat):
        times["floor"].append(cpu(floors))
        times["incidents"].append(cpu(lambda: run_incidents(root)))
    base = statistics.median(times["floor"])
    events = sum(floor(p) for p in paths)
    return {
        "journal": f"{count:,} incidents ({events:,} events)",
        "reader": "incidents",
        "cpu_s": statistics.median(times["incidents"]),
        "ratio": statistics.median(times["incidents"]) / base,
        "floor_s": base,
        "peak_mb": peak_mb(lambda: run_incidents(root)),
        "goal": GOALS["incidents"],
    }


def report(rows: list[dict[str, Any]]) -> None:
    print("aiir readers vs the floor (json.loads + SHA-256 chain), CPU seconds, median")
    print(f"{'journal':<32} {'reader':<11} {'CPU s':>8} {'x floor':>8} {'peak MB':>8}  goal")
    for row in rows:
        goal = row["goal"]
        verdict = ""
        if goal is not None:
            met = row["ratio"] <= goal and row["peak_mb"] <= MEMORY_GOAL_MB
            verdict = f"<= {goal}x, <= {MEMORY_GOAL_MB:.0f} MB: {'met' if met else 'NOT met'}"
        elif row["reader"] != "floor":
            verdict = f"<= {MEMORY_GOAL_MB:.0f} MB: " + (
                "met" if row["peak_mb"] <= MEMORY_GOAL_MB else "NOT met"
            )
        print(
            f"{row['journal']:<32} {row['reader']:<11} {row['cpu_s']:8.3f} "
            f"{row['ratio']:7.2f}x {row['peak_mb']:8.1f}  {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3000,10000,100000", help="events per journal")
    parser.add_argument("--incidents", type=int, default=1000, help="incidents for the listing")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (median kept)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    compile_aiir()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="aiir-reading-") as tmp:
        rows = measure(Path(tmp), sizes, args.incidents, args.repeat)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        report(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
