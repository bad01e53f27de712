"""Detection rules: false alarms on a healthy, noisy system, and how fast a real rise is caught.

    .venv/bin/python -m bench.detect_alarms [--evaluations 10000] [--trials 200] [--seed 7]

A simulated gateway serves about 200 requests a minute. Healthy, each request fails with
probability 2%, and one minute in 100 is a blip (a provider's bad minute) in which each fails with
probability 15%. A Prometheus stand-in (httpx2's MockTransport, so every evaluation goes through
``aiir detect``'s real client, reply parsing, judging, history file and lock) answers the rule's
query with the last minute's error ratio. The rule is the shipped example's shape: the error ratio
``above: 0.05``, evaluated once a minute, with ``for`` 1, 2 and 3.

First ``--evaluations`` minutes of the healthy system: every time the rule *starts* firing is a
false alarm (PagerDuty would be paged; later firing evaluations only update that alert). Goal: at
most 1 in 100 evaluations. Then ``--trials`` real rises, each from a fresh history after 10
healthy minutes: every request fails with probability 10% from then on. A rise is caught when the
rule fires; the figure is how many evaluations that took (goal: every rise within ``for`` + 3;
a minute of the risen system can, by chance, fall under the threshold and restart the streak).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx2

from aiir.detect.history import History
from aiir.detect.rules import LoadedRules, load_rules
from aiir.detect.verdicts import Status, Verdict
from aiir.detect.watch import DetectOptions, evaluate
from aiir.environment import Environment

REQUESTS = 200
HEALTHY, BLIP, RISEN = 0.02, 0.15, 0.10
BLIPS = 0.01
THRESHOLD = 0.05
GOAL_FALSE = 1.0  # per 100 evaluations


@dataclass
class Minute:
    """The simulated gateway's last minute, as Prometheus would report its ratio."""

    rng: random.Random
    failure: float = HEALTHY
    ratio: float = 0.0

    def tick(self, risen: bool) -> None:
        chance = RISEN if risen else (BLIP if self.rng.random() < BLIPS else HEALTHY)
        failed = sum(1 for _ in range(REQUESTS) if self.rng.random() < chance)
        self.ratio = failed / REQUESTS


class StepClock:
    def __init__(self) -> None:
        self.moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.moment += dt.timedelta(seconds=seconds)


def prometheus(minute: Minute) -> httpx2.Client:
    def answer(_request: httpx2.Request) -> httpx2.Response:
        sample = {"metric": {}, "value": [0, repr(minute.ratio)]}
        body = {"status": "success", "data": {"resultType": "vector", "result": [sample]}}
        return httpx2.Response(200, content=json.dumps(body).encode())

    return httpx2.Client(transport=httpx2.MockTransport(answer))


def rules_file(folder: Path, for_: int) -> LoadedRules:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"for-{for_}.yaml"
    path.write_text(
        "aiir: 1\ndetect: errors\nprometheus: {url: 'http://prometheus.invalid'}\nrules:\n"
        f"  - {{id: error-ratio, query: 'errors/requests', above: {THRESHOLD}, for: {for_}}}\n",
        encoding="utf-8",
    )
    return load_rules(path)


class Run:
    def __init__(self, folder: Path, for_: int, rng: random.Random) -> None:
        self.minute = Minute(rng)
        self.client = prometheus(self.minute)
        self.loaded = rules_file(folder, for_)
        self.env = Environment.from_process(terminal=None)
        self.clock = StepClock()
        self.env.clock = self.clock
        self.options = DetectOptions(history_dir=folder / "history")

    def fresh(self, name: str) -> History:
        return History(self.options.history_dir / name, "errors")

    def step(self, history: History, risen: bool) -> Verdict:
        """One minute, one evaluation."""
        self.minute.tick(risen)
        self.clock.sleep(60)
        return evaluate(self.loaded, self.env, self.options, self.client, history).verdicts[0]


def false_alarms(run: Run, evaluations: int) -> int:
    history = run.fresh("healthy")
    return sum(run.step(history, risen=False).started_firing for _ in range(evaluations))


def time_to_catch(run: Run, trials: int) -> list[int]:
    caught = []
    for trial in range(trials):
        history = run.fresh(f"rise-{trial}")
        for _ in range(10):
            run.step(history, risen=False)
        for minutes in range(1, 50):
            if run.step(history, risen=True).status is Status.FIRING:
                caught.append(minutes)
                break
        else:
            caught.append(50)
    return caught


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"healthy: {HEALTHY:.0%} errors, blips of {BLIP:.0%} one minute in {1 / BLIPS:.0f}; ")
    print(f"rise: {RISEN:.0%} errors; threshold above {THRESHOLD}; {REQUESTS} requests a minute")
    print(f"{'for':>4} {'false alarms / 100':>19} {'caught in (median, max)':>24}  verdict")
    with tempfile.TemporaryDirectory(prefix="aiir-bench-detect-") as folder:
        for for_ in (1, 2, 3):
            run = Run(Path(folder) / str(for_), for_, random.Random(args.seed + for_))
            rate = 100 * false_alarms(run, args.evaluations) / args.evaluations
            caught = time_to_catch(run, args.trials)
            ok = rate <= GOAL_FALSE and max(caught) <= for_ + 3
            print(
                f"{for_:>4} {rate:>19.2f} {statistics.median(caught):>13g}, {max(caught):<10}"
                f"  {'met' if ok else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
