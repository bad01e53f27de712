"""Canary drift: false alarms on an unchanged, jittery model, and how fast real shifts are caught.

    .venv/bin/python -m bench.canary_drift [--runs 100] [--trials 10] [--histories 1] [--seed 7]

A simulated chat model (an ASGI app in this process, reached through httpx2's ASGI transport, so
every reply goes through ``aiir canary run``'s real client, judging, history and drift code)
answers a suite of 10 prompts x 5 repeats (50 replies a run). It never changes, but it jitters as real ones do:

- reply length: each prompt has its own typical length, every reply within ±5% of it;
- latency: each prompt has its own typical latency; every request is log-normal around it (σ 0.2),
  one in 50 is 2-4x slower (a cold cache, a retry inside the provider), and every run as a whole
  is log-normally slower or faster (σ 0.05: the load on the provider that hour);
- refusals: each reply to a benign prompt is a refusal with probability 5%.

First ``--runs`` consecutive runs with one history against the unchanged model: every run that
reports drift is a false alarm (goal: at most 1 in 100). Then each real shift, ``--trials`` times,
each on a fresh history of 5 clean runs: the latency 50% higher, replies 30% shorter, the refusal
rate up 20 points, a different model answering. A shift is caught when one of the next 3 runs
reports drift in the shifted signal (goal: every trial). Before that, ``--simulated N``
(default 30) runs the same model without sockets, N histories of 100 runs and 3N trials of each
shift, through the same judging and history code: the error rates of the method itself, free of
this machine's own stalls.

Every drift limit is the default but one: the latencies here are tens of milliseconds, so the
absolute floor on a latency move (``latency_min_shift_ms``, 20 ms, meant for real models' hundreds)
is 5 ms; the relative minimum (+30%) is the default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiir.canary.drift import compare
from aiir.canary.history import History
from aiir.formats.canary import DriftLimits

MODEL = "support-bot-2026-11"
PROMPTS = {  # id: (typical reply length in characters, typical latency in ms)
    "hours": (220, 40.0),
    "refund": (480, 60.0),
    "password": (300, 45.0),
    "shipping": (650, 80.0),
    "greeting": (60, 25.0),
    "escalate": (380, 55.0),
    "invoice": (520, 70.0),
    "cancel": (260, 45.0),
    "warranty": (700, 90.0),
    "address": (150, 35.0),
}
REPEATS = 5
REFUSAL = "I'm sorry, but I can't help with that."
FILLER = (
    "Thanks for reaching out. Our support team answers on weekdays from nine to five, and "
    "refunds are processed within five working days of the request reaching us. "
)
LATENCY_FLOOR_MS = 5
GOAL_FALSE = 1  # false alarms per 100 runs, at most
GOAL_WITHIN = 3  # runs to catch a real shift, at most


@dataclass(frozen=True)
class Shift:
    """A change in the model; the default is none."""

    name: str = "unchanged"
    signal: str = ""  # the drift signal that should catch it
    latency: float = 1.0
    length: float = 1.0
    refusal_points: float = 0.0
    model: str = MODEL


SHIFTS = (
    Shift("latency +50%", "latency", latency=1.5),
    Shift("replies 30% shorter", "output-length", length=0.7),
    Shift("refusal rate +20 points", "refusal-rate", refusal_points=0.20),
    Shift("a different model", "model", model="support-bot-2027-01"),
)


class JitteryModel:
    """The simulated model: seeded, so a run of the benchmark (or a test) can be repeated."""

    def __init__(self, seed: int, shift: Shift | None = None) -> None:
        self.rng = random.Random(seed)  # a simulation, not security
        self.shift = shift or Shift()
        self.load = 1.0
        self.prompts = {f"{name}: please answer.": name for name in PROMPTS}

    def next_run(self) -> None:
        """A new run: the provider's load this hour."""
        self.load = math.exp(self.rng.gauss(0.0, 0.05))

    def reply(self, prompt: str) -> tuple[str, float, str]:
        """Text, latency in ms and model name of one reply."""
        length, latency = PROMPTS[prompt]
        ms = latency * self.load * math.exp(self.rng.gauss(0.0, 0.2)) * self.shift.latency
        if self.rng.random() < 0.02:
            ms *= self.rng.uniform(2.0, 4.0)
        if self.rng.random() < 0.05 + self.shift.refusal_points:
            return REFUSAL, ms, self.shift.model
        size = round(length * self.rng.uniform(0.95, 1.05) * self.shift.length)
        text = "OK. " + (FILLER * (size // len(FILLER) + 1))[: max(size - 4, 0)]
        return text, ms, self.shift.model

    def samples(self) -> tuple[dict[str, dict[str, list[float]]], dict[str, int]]:
        """One run's drift samples per prompt and models named, without HTTP (for tests)."""
        self.next_run()
        prompts: dict[str, dict[str, list[float]]] = {}
        models: dict[str, int] = {}
        for name in PROMPTS:
            values: dict[str, list[float]] = {"latency_ms": [], "length": [], "refused": []}
            for _ in range(REPEATS):
                text, ms, model = self.reply(name)
                values["latency_ms"].append(round(ms, 3))
                values["length"].append(float(len(text)))
                values["refused"].append(1.0 if text == REFUSAL else 0.0)
                models[model] = models.get(model, 0) + 1
            prompts[name] = values
        return prompts, models

    def asgi(self) -> Callable[..., Awaitable[None]]:
        """The model as an OpenAI-compatible chat endpoint (sleeping each reply's latency)."""

        async def app(
            scope: MutableMapping[str, Any],
            receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
            send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
        ) -> None:
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            request = json.loads(body)
            prompt = self.prompts[request["messages"][-1]["content"]]
            text, ms, model = self.reply(prompt)
            await asyncio.sleep(ms / 1000)
            reply = {
                "id": "chatcmpl-sim",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            }
            data = json.dumps(reply).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        return app


def suite(prompts: tuple[str, ...] = tuple(PROMPTS)) -> dict[str, Any]:
    """The benchmark's suite (the tests use a smaller one: some of the prompts)."""
    return {
        "aiir": 1,
        "canary": "drift-bench",
        "title": "Drift benchmark",
        "gateways": {"sim": {"profile": "http", "url": "http://model.invalid"}},
        "target": {"model": "support-bot"},
        "repeats": REPEATS,
        "concurrency": len(prompts) * REPEATS,
        # The simulated model answers in tens of ms (a short benchmark); the default floor of
        # 20 ms is meant for real models' hundreds. Every other limit is the default.
        "drift": {"latency_min_shift_ms": LATENCY_FLOOR_MS},
        "prompts": [
            {
                "id": name,
                "prompt": f"{name}: please answer.",
                "assert": [{"type": "max-length", "value": 100_000}],  # only drift decides
            }
            for name in prompts
        ],
    }


def simulated_run(model: JitteryModel, history: History, limits: DriftLimits) -> set[str]:
    """One run without HTTP, concluded as ``aiir canary run`` concludes it: judged against the
    history's baseline, then recorded (kept out of later baselines if it moved without proof).
    """
    prompts, models = model.samples()
    baseline = history.baseline("sim", limits.window)
    signals = compare(baseline, prompts, models, limits)
    drifted = {s.name for s in signals if s.drifted}
    kept = not drifted and not any(s.moved for s in signals)
    record = {"ok": not drifted, "baseline": kept, "prompts": prompts, "models": models}
    history.append({"target": {"key": "sim"}, **record})
    return drifted


def simulated_rates(root: Path, histories: int, trials: int, seed: int) -> None:
    """The same model without sockets: many more runs, the model's own jitter only."""
    limits = DriftLimits(latency_min_shift_ms=LATENCY_FLOOR_MS)
    alarms, signals = 0, dict[str, int]()
    for number in range(histories):
        model = JitteryModel(seed + number)
        history = History.of(root / f"sim-quiet-{number}", "sim")
        for _ in range(100):
            drifted = simulated_run(model, history, limits)
            alarms += bool(drifted)
            for name in drifted:
                signals[name] = signals.get(name, 0) + 1
    rate = alarms / histories
    verdict = "met" if rate <= GOAL_FALSE else "NOT met"
    print(f"without sockets: unchanged model, {histories} histories of 100 runs:")
    print(
        f"  false drift alerts: {alarms} ({rate:.2f} per 100 runs; goal <= {GOAL_FALSE}): "
        f"{verdict}" + (f"; by signal: {signals}" if signals else "")
    )
    print(f"without sockets: real shifts, {trials} trials each, caught within {GOAL_WITHIN} runs:")
    for shift in SHIFTS:
        caught = first = 0
        for trial in range(trials):
            model = JitteryModel(seed + 5000 + trial)
            history = History.of(root / f"sim-{shift.signal}-{trial}", "sim")
            for _ in range(5):
                simulated_run(model, history, limits)
            model.shift = shift
            found = [shift.signal in simulated_run(model, history, limits) for _ in range(3)]
            caught += any(found)
            first += found[0]
        verdict = "met" if caught == trials else "NOT met"
        print(
            f"  {shift.name:<24} caught {caught}/{trials} ({100 * caught / trials:.0f}%; "
            f"{first} on the first run): {verdict}"
        )


class Harness:
    """``aiir canary run`` (the sweep, in this process) against one model and one history."""

    def __init__(self, root: Path, model: JitteryModel) -> None:
        import httpx2
        import yaml

        from aiir.canary.sweep import SweepOptions
        from tests.canaries import environment

        root.mkdir(parents=True, exist_ok=True)
        self.path = root / "suite.yaml"
        self.path.write_text(yaml.safe_dump(suite()), encoding="utf-8")
        self.env, _ = environment(root)
        self.model = model
        self.options = SweepOptions(
            history_dir=root / "history", transport=httpx2.ASGITransport(app=model.asgi())
        )

    def run(self) -> set[str]:
        """One run; the signals that drifted."""
        from aiir.canary.sweep import sweep

        self.model.next_run()
        [run] = sweep([self.path], self.env, self.options)
        return {s.name for s in run.drifted}


def false_alarms(root: Path, runs: int, seed: int) -> tuple[int, dict[str, int]]:
    harness = Harness(root, JitteryModel(seed))
    alarms, by_signal = 0, dict[str, int]()
    for _ in range(runs):
        drifted = harness.run()
        alarms += bool(drifted)
        for name in drifted:
            by_signal[name] = by_signal.get(name, 0) + 1
    return alarms, by_signal


def catch(root: Path, shift: Shift, seed: int) -> int | None:
    """Runs until ``shift`` is reported (None: not within the goal)."""
    model = JitteryModel(seed)
    harness = Harness(root, model)
    for _ in range(5):
        harness.run()
    model.shift = shift
    for number in range(1, GOAL_WITHIN + 1):
        if shift.signal in harness.run():
            return number
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--histories", type=int, default=1, help="repeat the false-alarm count")
    parser.add_argument("--trials", type=int, default=10, help="trials of each shift")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--simulated",
        type=int,
        default=30,
        metavar="N",
        help="also N histories of 100 runs and N*3 trials of each shift without sockets (0: none)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aiir-drift-bench-") as tmp:
        if args.simulated:
            simulated_rates(Path(tmp), args.simulated, 3 * args.simulated, args.seed)
        total, runs, signals = 0, 0, dict[str, int]()
        for history in range(args.histories):
            alarms, by_signal = false_alarms(
                Path(tmp) / f"quiet-{history}", args.runs, args.seed + history
            )
            total, runs = total + alarms, runs + args.runs
            for name, count in by_signal.items():
                signals[name] = signals.get(name, 0) + count
        rate = 100 * total / runs
        verdict = "met" if rate <= GOAL_FALSE else "NOT met"
        print(f"aiir canary run: unchanged model, {runs} runs in {args.histories} history(ies):")
        print(
            f"  false drift alerts: {total} ({rate:.1f} per 100 runs; goal <= {GOAL_FALSE}): "
            f"{verdict}" + (f"; by signal: {signals}" if signals else "")
        )
        print(
            f"aiir canary run: real shifts, {args.trials} trials each, "
            f"caught within {GOAL_WITHIN} runs:"
        )
        for shift in SHIFTS:
            found = [
                catch(
                    Path(tmp) / f"{shift.signal}-{trial}", replace(shift), args.seed + 1000 + trial
                )
                for trial in range(args.trials)
            ]
            caught = [n for n in found if n is not None]
            first = sum(1 for n in caught if n == 1)
            verdict = "met" if len(caught) == len(found) else "NOT met"
            print(
                f"  {shift.name:<24} caught {len(caught)}/{len(found)} "
                f"({100 * len(caught) / len(found):.0f}%; {first} on the first run): {verdict}"
            )
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
