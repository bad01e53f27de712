"""The shared incident store on PostgreSQL against bare psycopg on the same server.

Three figures, each next to its floor:

1. **One journal append.** The store's append (``PostgresStore.append_line``: the fenced
   compare-and-append statement, the row, its ``NOTIFY``) against a bare ``INSERT`` + ``COMMIT``
   of the same row into a table of the same columns, on the same server and connection settings,
   the two taking turns, each append timed alone; medians of wall time (a database round trip is
   wall time, not this process's CPU). Goal: the store's append at most 1.5x the bare insert.
   Then, for scale, a walk's append on the store (``Journal.append`` with the store as its
   upstream: masking, canonical JSON, SHA-256, the statement, then the local fsync'd line) and the
   file store's append, taking turns with the bare insert again: their local fsyncs share the disk
   with the server's WAL, so that bare insert is slower and is reported apart.
2. **Eight concurrent responders.** Eight processes, each walking an incident of its own under
   its lease, append at once; events per second and the median append, against eight processes
   doing bare inserts.
3. **``aiir incidents`` over 1,000 incidents in the store**, from a folder with no copy (every
   incident is copied), then again (only the heads are read), against ``aiir incidents`` on the
   files of the same incidents.

Run: ``.venv/bin/python -m bench.postgres [--store URL] [--appends 300] [--incidents 1000]``.
Without ``--store`` a throwaway server is started from Debian's binaries (``AIIR_POSTGRES_BIN``
or ``/usr/lib/postgresql/*/bin``), as the tests start theirs, and stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import yaml

from aiir.cli import incident as commands
from aiir.incident.events import EventType
from aiir.incident.journal import GENESIS, Event, Journal, chain_hash
from aiir.incident.postgres import PostgresStore
from aiir.incident.replica import Replica, push
from aiir.incident.store import line_of
from bench import reading
from bench.common import compile_aiir

GOAL = 1.5
NOW = "2026-12-03T09:30:00.000Z"
BARE = """CREATE TABLE IF NOT EXISTS bare_events (
    incident text NOT NULL, seq bigint NOT NULL, type text NOT NULL, operator text NOT NULL,
    prev text NOT NULL, hash text NOT NULL, line bytea NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (incident, seq))"""
INSERT = (
    "INSERT INTO bare_events (incident, seq, type, operator, prev, hash, line) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    """``url``, or a throwaway server's (stopped at the end)."""
    if url:
        yield url
        return
    from tests.support.postgres import binaries, initialised

    folder = Path(tempfile.mkdtemp(prefix="aiir-bench-pg-"))
    started = initialised(folder, binaries())
    try:
        started.start()
        with psycopg.connect(started.dsn(), autocommit=True) as db:
            db.execute("CREATE DATABASE aiir_bench")
        yield started.dsn("aiir_bench")
    finally:
        started.stop()
        shutil.rmtree(folder, ignore_errors=True)


def event(seq: int, prev: str, data: dict[str, Any]) -> Event:
    body: dict[str, Any] = {
        "seq": seq,
        "ts": NOW,
        "type": str(EventType.NOTE),
        "operator": "bench",
        "step": None,
        "data": data,
        "prev": prev,
    }
    return Event(**body, hash=chain_hash(body))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def wall(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


# --- 1. one append -------------------------------------------------------------------------------


def one_append(url: str, root: Path, appends: int, rounds: int = 5) -> dict[str, float]:
    """Median wall seconds per append: walk (Journal + store), store statement, bare insert."""
    store = PostgresStore(url, root / "walk")
    bare = psycopg.connect(url, autocommit=True)
    bare.execute(BARE)
    walk_id, statement_id = store.create(_now()), store.create(_now())
    walk_lease = store.lease(walk_id, "bench", NOW)
    statement_lease = store.lease(statement_id, "bench", NOW)
    directory = root / "walk" / walk_id
    journal = Journal(
        directory, "bench", lambda: NOW, str, upstream=Replica(store, directory, walk_lease)
    )
    files = Journal(root / "files" / "INC-bench", "bench", lambda: NOW, str)
    head = event(1, GENESIS, {"text": "first"})
    store.append_line(statement_id, head, line_of(head), statement_lease.token)
    bare_seq = [0]
    times: dict[str, list[float]] = {"walk": [], "files": [], "statement": [], "bare": []}
    data = {"text": "a responder's note, about as long as one usually is"}

    def by_walk() -> None:
        journal.write(EventType.NOTE, data)

    def by_files() -> None:
        files.write(EventType.NOTE, data)

    def by_statement() -> None:
        nonlocal head
        later = event(head.seq + 1, head.hash, data)
        store.append_line(statement_id, later, line_of(later), statement_lease.token)
        head = later

    def by_bare() -> None:
        bare_seq[0] += 1
        later = event(bare_seq[0], GENESIS, data)
        row = (walk_id, later.seq, later.type, "bench", later.prev, later.hash, line_of(later))
        bare.execute(INSERT, row)

    # In turn, each timed alone: a burst of load on this shared machine falls on all alike, and
    # the median of thousands of single appends is what a walk waits for. The order turns each
    # time, so each follows each of the others equally often. The store's statement is timed
    # against the bare insert by themselves first; then the walk's and the file store's appends,
    # whose local fsyncs share the disk with the server's WAL, beside the bare insert again.
    def taking_turns(kinds: list[tuple[str, Callable[[], None]]], label: str) -> None:
        for turn in range(rounds * appends):
            shift = turn % len(kinds)
            for name, work in kinds[shift:] + kinds[:shift]:
                times[name if name != "bare" else label].append(wall(work))

    times["bare, with fsyncs"] = []
    taking_turns([("statement", by_statement), ("bare", by_bare)], "bare")
    taking_turns([("walk", by_walk), ("files", by_files), ("bare", by_bare)], "bare, with fsyncs")
    journal.close()
    files.close()
    statement_lease.release()
    store.close()
    bare.close()
    return {label: statistics.median(values) for label, values in times.items()}


# --- 2. eight responders -------------------------------------------------------------------------


def _responder(url: str, incident_id: str, appends: int, bare: bool, out: Any) -> None:
    data = {"text": "a responder's note"}
    latencies = []
    if bare:
        with psycopg.connect(url, autocommit=True) as db:
            for seq in range(1, appends + 1):
                later = event(seq, GENESIS, data)
                row = (incident_id, seq, later.type, "bench", later.prev, later.hash, b"x")
                latencies.append(wall(lambda row=row: db.execute(INSERT, row)))  # type: ignore[misc]
    else:
        store = PostgresStore(url)
        lease = store.lease(incident_id, incident_id, NOW)
        head: Event | None = None
        for seq in range(1, appends + 1):
            later = event(seq, head.hash if head else GENESIS, data)
            line = line_of(later)
            latencies.append(
                wall(lambda e=later, b=line: store.append_line(incident_id, e, b, lease.token))  # type: ignore[misc]
            )
            head = later
        lease.release()
        store.close()
    out.put(latencies)


def responders(url: str, appends: int, count: int = 8) -> dict[str, tuple[float, float]]:
    """(events per second, median append seconds) for ``count`` processes at once."""
    store = PostgresStore(url)
    ids = [store.create(_now()) for _ in range(count)]
    store.close()
    context = multiprocessing.get_context("spawn")
    found = {}
    for label, bare in (("store", False), ("bare", True)):
        queue = context.Queue()
        names = ids if not bare else [f"bare-{label}-{n}-{time.time_ns()}" for n in range(count)]
        processes = [
            context.Process(target=_responder, args=(url, name, appends, bare, queue))
            for name in names
        ]
        began = time.perf_counter()
        for process in processes:
            process.start()
        latencies = [x for _ in processes for x in queue.get(timeout=600)]
        for process in processes:
            process.join()
        elapsed = time.perf_counter() - began
        found[label] = (count * appends / elapsed, statistics.median(latencies))
    return found


# --- 3. incidents over 1,000 ---------------------------------------------------------------------


def listing(url: str, root: Path, count: int) -> dict[str, float]:
    """Wall seconds of ``aiir incidents``: the files; the store from no copy; the store again."""
    files = root / "files"
    files.mkdir(parents=True)
    (root / "poll.yaml").write_text(yaml.safe_dump(reading.polling_runbook()), encoding="utf-8")
    template = reading.Template.walk(root / "template", root / "poll.yaml")
    for n in range(count):
        reading.write_journal(files, template, 10 + reading.LOOP * (n % 5))
    store = PostgresStore(url, files)
    for directory in sorted(files.iterdir()):
        push(store, files, directory.name, "bench", NOW)
    store.close()
    copy = root / "copy"

    def on_files() -> None:
        reading.run_incidents(files)

    def on_store() -> None:
        with reading.quiet():
            commands.incidents(as_json=False, incident_dir=copy, store=url)

    return {"files": wall(on_files), "store, first": wall(on_store), "store, again": wall(on_store)}


# --- the report ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="a postgresql:// URL (default: a throwaway server)")
    parser.add_argument("--appends", type=int, default=300)
    parser.add_argument("--incidents", type=int, default=1000)
    args = parser.parse_args()
    compile_aiir()
    with server(args.store) as url, tempfile.TemporaryDirectory() as tmp:
        migrated = PostgresStore(url)
        migrated.migrate()
        migrated.close()
        root = Path(tmp)
        one = one_append(url, root / "one", args.appends)
        print("one append, median wall ms per append")
        print(f"  {'bare':<10} {one['bare'] * 1000:8.3f} ms  (a bare INSERT + COMMIT)")
        ratio = one["statement"] / one["bare"]
        print(f"  {'statement':<10} {one['statement'] * 1000:8.3f} ms  {ratio:5.2f}x bare")
        with_fsyncs = one["bare, with fsyncs"]
        print(f"  beside local fsyncs, the bare insert took {with_fsyncs * 1000:.3f} ms:")
        for label in ("walk", "files"):
            ratio = one[label] / with_fsyncs
            print(f"  {label:<10} {one[label] * 1000:8.3f} ms  {ratio:5.2f}x bare")
        verdict = "met" if one["statement"] / one["bare"] <= GOAL else "NOT met"
        print(f"  goal: the store's append <= {GOAL}x bare: {verdict}")
        eight = responders(url, args.appends)
        print("eight responders at once")
        for label, (rate, median) in eight.items():
            print(f"  {label:<10} {rate:8.0f} events/s  median {median * 1000:7.3f} ms")
        listed = listing(url, root / "many", args.incidents)
        print(f"aiir incidents over {args.incidents:,} incidents, wall s")
        for label, seconds in listed.items():
            print(f"  {label:<14} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
