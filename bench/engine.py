"""What the engine costs per node, next to what one durable journal event costs.

A generated runbook of ``--nodes`` nodes (questions, confirmations, inputs, checklists, branches,
levers with verify probes, actions, captures, messages) is walked with scripted answers against an
in-process gateway (``httpx2.MockTransport``: no sockets, so the network costs nothing). Every
event is fsync'd to the journal, so a walk's time is mostly the disk's; the engine's own share is
measured by walking again with ``os.fsync`` turned into a no-op (the same writes, not waited for).
That per-node overhead (loading and validating the runbook, done once, set apart) is printed
next to one fsync'd journal append measured in the same run, on the same file system. Goal: the
engine's own work for a node costs at most 1.5x one durable journal event.

**Growth** (``--long``): the same per-node cost must not grow with the journal, at any severity.
A SEV1 polling runbook (:func:`bench.reading.polling_runbook`: an action and a branch, looping)
is walked, fsync off, until its journal holds ``--long`` events; each node's entry is timed
(``Environment.observers``), and the cost per node is taken over the nodes entered while the
journal held about 1,000 events and while it held about ``--long``. (Before the status cadence
was folded into the state, every node at SEV1-2 scanned every event: 342 us a node at 1.5k
events, 927 us at 12k.)

    .venv/bin/python -m bench.engine [--nodes 200] [--repeat 5] [--long 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import yaml
from rich.console import Console

from aiir.environment import Environment
from aiir.incident.journal import Journal
from aiir.prompts import NoTerminalPrompter, ScriptedPrompter
from aiir.respond.session import start
from aiir.terminal.screen import TerminalScreen
from aiir.validate.checked import load_checked
from bench.common import fsync_off

GOAL = 1.5
KINDS = (
    "question",
    "confirm",
    "lever",
    "input",
    "action",
    "branch",
    "capture",
    "notify",
    "checklist",
)


def _question(i: int, nxt: str) -> dict[str, Any]:
    choices = [{"label": "Yes", "value": "yes", "next": nxt}, {"label": "No", "value": "no"}]
    choices[1]["next"] = nxt  # both ways on: the walk is linear
    return {"kind": "question", "title": f"Q{i}", "prompt": "Seen it?", "choices": choices}


def _lever(i: int) -> dict[str, Any]:
    return {
        "title": f"Lever {i}",
        "kind": "block",
        "engage": {"method": "POST", "path": f"/levers/{i}", "json": {"on": True}},
        "verify": {"method": "GET", "path": f"/levers/{i}", "expect": {"json": {"on": True}}},
        "release": {"method": "DELETE", "path": f"/levers/{i}"},
    }


def _node(kind: str, i: int, nxt: str) -> dict[str, Any]:
    """Node ``n{i}`` of ``kind``, leading to ``nxt``."""
    title = f"{kind} {i}"
    if kind == "question":
        return _question(i, nxt)
    if kind == "confirm":
        return {"kind": "confirm", "title": title, "prompt": "Go on?", "yes": nxt, "no": nxt}
    if kind == "lever":
        return {"kind": "lever", "title": title, "lever": f"l{i}", "next": nxt}
    if kind == "input":
        return {"kind": "input", "title": title, "prompt": "Ticket?", "next": nxt}
    if kind == "action":
        request = {"method": "POST", "path": "/audit", "json": {"step": i}}
        return {"kind": "action", "title": title, "request": request, "next": nxt}
    if kind == "branch":
        cases = [{"when": f"answers['n{i - 5}'] == 'yes'", "next": nxt}]
        return {"kind": "branch", "title": title, "cases": cases, "default": nxt}
    if kind == "capture":
        item = {"name": "logs", "what": ["outputs"], "request": {"method": "GET", "path": "/logs"}}
        return {"kind": "capture", "title": title, "items": [item], "next": nxt}
    if kind == "notify":
        message = "[{{ incident.severity }}] step " + str(i) + " of {{ incident.id }}"
        return {"kind": "notify", "title": title, "message": message, "next": nxt}
    assert kind == "checklist", kind
    items = [{"id": "a", "text": "Did A"}, {"id": "b", "text": "Did B"}]
    return {"kind": "checklist", "title": title, "items": items, "next": nxt}


def generate(nodes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A linear runbook of ``nodes`` nodes (the last one its end) and the answers that walk it."""
    graph: dict[str, Any] = {}
    levers: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    for i in range(nodes - 1):
        kind = KINDS[i % len(KINDS)]
        graph[f"n{i}"] = _node(kind, i, f"n{i + 1}")
        if kind == "lever":
            levers[f"l{i}"] = _lever(i)
        answers.update(_answer(kind, i))
    graph[f"n{nodes - 1}"] = {"kind": "end", "title": "Done", "outcome": "resolved"}
    runbook = {
        "aiir": 1,
        "id": "bench",
        "title": f"A generated runbook of {nodes} nodes",
        "owner": "security",
        "severity": "SEV3",
        "gateways": {"gw": {"profile": "http", "url": "http://gateway.invalid"}},
        "levers": levers,
        "start": "n0",
        "nodes": graph,
    }
    return runbook, answers


def _answer(kind: str, i: int) -> dict[str, Any]:
    answers: dict[str, dict[str, Any]] = {
        "question": {f"n{i}": "yes"},
        "confirm": {f"n{i}": True},
        "input": {f"n{i}": f"TICKET-{i}"},
        "checklist": {f"n{i}": "all"},
    }
    return answers.get(kind, {})


# The gateway's replies, encoded once: a server's work to make its reply is not the engine's.
LOGS = httpx2.Response(200, json=[{"id": n, "prompt": "hi"} for n in range(20)]).content
ON = httpx2.Response(200, json={"on": True, "ok": True}).content
JSON = {"content-type": "application/json"}


def gateway(request: httpx2.Request) -> httpx2.Response:
    """In-process gateway: every lever is on, every request succeeds."""
    return httpx2.Response(200, content=LOGS if request.url.path == "/logs" else ON, headers=JSON)


@contextlib.contextmanager
def screen_off() -> Iterator[None]:
    """Nothing drawn (a log's lines are written by the screen itself, not by rich): every
    drawing method of the screen a no-op, to tell the screen's share of the engine's time."""
    drawing = {
        name: method
        for name, method in vars(TerminalScreen).items()
        if callable(method) and not name.startswith("_") and name not in {"text", "waiting"}
    }
    for name in drawing:
        setattr(TerminalScreen, name, lambda self, *args, **options: None)
    try:
        yield
    finally:
        for name, method in drawing.items():
            setattr(TerminalScreen, name, method)


def walk_once(runbook: Path, answers: dict[str, Any], root: Path) -> tuple[float, int, int]:
    """Seconds for one walk, its journal events, its requests."""
    requests = 0

    def counted(request: httpx2.Request) -> httpx2.Response:
        nonlocal requests
        requests += 1
        return gateway(request)

    with httpx2.Client(transport=httpx2.MockTransport(counted)) as http:
        env = Environment(
            console=Console(file=io.StringIO(), width=100),
            prompter=ScriptedPrompter(answers, NoTerminalPrompter()),
            client=http,
            environ={},
            operator="bench",
            incidents_dir=root,
            assume_yes=True,
        )
        began = time.perf_counter()
        result = start(runbook, env)
        seconds = time.perf_counter() - began
    if result.ended is None or result.ended.outcome != "resolved":
        raise RuntimeError(f"the walk did not end as resolved: {result.ended}")
    return seconds, len(result.incident.events), requests


def append_times(root: Path, count: int) -> list[float]:
    """Seconds of ``count`` fsync'd appends of a typical event (an answer), in ``root``."""
    # A journal of its own each time: a Journal never appends to one it has not read.
    directory = Path(tempfile.mkdtemp(prefix="append-bench-", dir=root))
    journal = Journal(directory, "bench", lambda: "2026-01-01T00:00:00.000Z", str)
    data = {"runbook": "bench", "node": "n0", "key": "n0", "value": "yes"}
    times = []
    for _ in range(count):
        began = time.perf_counter()
        journal.write("answer", data, step=1)
        times.append(time.perf_counter() - began)
    journal.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200, help="nodes in the generated runbook")
    parser.add_argument("--repeat", type=int, default=5, help="walks of each kind (median kept)")
    parser.add_argument("--long", type=int, default=20000, help="events of the long journal")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="aiir-bench-") as tmp:
        figures = measure(Path(tmp), args.nodes, args.repeat)
        figures.update(growth(Path(tmp), args.long, args.repeat))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)
        report_growth(figures)
    return 0


WINDOW = 1000  # events over which a node's cost is taken


def growth(root: Path, events: int, repeat: int) -> dict[str, float]:
    """Milliseconds per node near 1,000 events and near ``events``, SEV1, fsync off (medians of
    ``repeat`` walks), and one fsync'd append measured around them."""
    from bench.reading import LOOP, gateway, polling_runbook

    runbook = root / "poll-sev1.yaml"
    runbook.write_text(yaml.safe_dump(polling_runbook("SEV1"), sort_keys=False), "utf-8")
    loops = (events + 2 * WINDOW) // LOOP
    early, late = [], []
    appends = append_times(root, 100)
    for n in range(repeat):
        entered: list[float] = []
        with httpx2.Client(transport=httpx2.MockTransport(gateway(loops))) as http, fsync_off():
            env = Environment(
                console=Console(file=io.StringIO(), width=100),
                prompter=NoTerminalPrompter(),
                client=http,
                environ={},
                operator="bench",
                incidents_dir=root / f"long-{n}",
                assume_yes=True,
                observers=[_timer(entered)],
            )
            start(runbook, env)
        early.append(_per_node(entered, 1000))
        late.append(_per_node(entered, events))
    appends += append_times(root, 100)
    return {
        "long_events": events,
        "node_ms_1k": statistics.median(early) * 1000,
        "node_ms_long": statistics.median(late) * 1000,
        "long_append_ms": statistics.median(appends) * 1000,
    }


def _timer(entered: list[float]) -> Callable[[str, str], None]:
    """An observer noting the CPU time at which each node is entered."""
    return lambda runbook, node: entered.append(time.process_time())


def _per_node(entered: list[float], events: int) -> float:
    """Seconds per node over the nodes entered while the journal grew from ``events`` by
    :data:`WINDOW` (three events a node: six a loop of two nodes)."""
    first, last = events // 3, (events + WINDOW) // 3
    return (entered[last] - entered[first]) / (last - first)


def report_growth(f: dict[str, float]) -> None:
    ratio = f["node_ms_long"] / f["node_ms_1k"]
    per_append = f["node_ms_long"] / f["long_append_ms"]
    print("aiir engine at SEV1, polling runbook, fsync off, CPU ms per node (median of walks)")
    print(f"  journal of ~1,000 events         {f['node_ms_1k']:8.3f} ms/node")
    print(f"  journal of ~{f['long_events']:,.0f} events        {f['node_ms_long']:8.3f} ms/node")
    print(f"  long / short                     {ratio:8.2f}x  (goal: independent of the length)")
    print(f"  long, per node / one append      {per_append:8.2f}x  (goal <= {GOAL}x)")


def measure(root: Path, nodes: int, repeat: int) -> dict[str, float]:
    """Every figure, in milliseconds, from walks in ``root`` (medians of ``repeat``)."""
    data, answers = generate(nodes)
    runbook = root / "bench.yaml"
    runbook.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def walks(tag: str) -> tuple[float, int, int]:
        runs = [walk_once(runbook, answers, root / tag) for _ in range(repeat)]
        return statistics.median(t for t, _, _ in runs) * 1000, runs[0][1], runs[0][2]

    walk_once(runbook, answers, root / "warm-up")  # imports, caches
    load = statistics.median(_seconds(lambda: load_checked(runbook)) for _ in range(repeat))
    # A disk's fsync latency drifts over a run: sampled before, between and after the walks.
    appends = append_times(root, 100)
    durable, events, requests = walks("fsync")
    appends += append_times(root, 100)
    with fsync_off():
        engine, _, _ = walks("no-fsync")
        with screen_off():
            quiet, _, _ = walks("no-screen")
    appends += append_times(root, 100)
    figures = {
        "nodes": nodes,
        "events": events,
        "requests": requests,
        "load_ms": load * 1000,
        "walk_ms": durable,
        "node_ms": durable / nodes,
        "overhead_node_ms": (engine - load * 1000) / nodes,
        "screen_node_ms": (engine - quiet) / nodes,
        "append_ms": statistics.median(appends) * 1000,
    }
    figures["ratio"] = figures["overhead_node_ms"] / figures["append_ms"]
    figures["core_ratio"] = (quiet - load * 1000) / nodes / figures["append_ms"]
    return figures


def _seconds(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def report(f: dict[str, float]) -> None:
    verdict = "met" if f["ratio"] <= GOAL else "NOT met"
    print(
        f"aiir engine: {f['nodes']:.0f}-node runbook, scripted answers, httpx2.MockTransport "
        f"({f['events']:.0f} journal events, {f['requests']:.0f} requests per walk)"
    )
    print(f"  load and validate, once         {f['load_ms']:8.1f} ms")
    print(f"  walk, every event fsync'd       {f['walk_ms']:8.1f} ms  ({f['node_ms']:.3f} ms/node)")
    print(f"  engine overhead, fsync off      {f['overhead_node_ms']:8.3f} ms/node")
    print(f"    of which the screen (rich)    {f['screen_node_ms']:8.3f} ms/node")
    print(f"  one fsync'd journal append      {f['append_ms']:8.3f} ms")
    print(f"  overhead per node / one append  {f['ratio']:8.2f}x  (goal <= {GOAL}x: {verdict})")
    print(f"    the same without the screen   {f['core_ratio']:8.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
