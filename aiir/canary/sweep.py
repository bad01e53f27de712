"""``aiir canary run``: send every suite, judge drift, keep history, alert, open an incident.

Everything that can be wrong with the input (a suite, a ``--gateway``, a missing variable, the
runbook to open on failure) is found by :func:`prepare`, before a single request is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

from aiir.canary import drift
from aiir.canary.history import History, practice_root
from aiir.canary.result import SuiteRun
from aiir.canary.runner import send_all
from aiir.canary.suite import LoadedSuite, Target, load_suite, plant_token, resolve_target
from aiir.environment import SANDBOX_URL, Environment
from aiir.errors import InputError
from aiir.timestamps import iso

if TYPE_CHECKING:
    from aiir.outbound.notify import Notifier
    from aiir.sandbox import SandboxState


@dataclass
class SweepOptions:
    """How ``aiir canary run`` was asked to run."""

    gateway_urls: dict[str, str] = field(default_factory=dict)
    sandbox: SandboxState | None = None  # every gateway is this in-process simulated gateway
    alert: bool = False
    history_dir: Path = Path(".aiir") / "canary-history"
    on_fail_run: Path | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    progress: bool = False
    transport: httpx2.AsyncBaseTransport | None = None


@dataclass(frozen=True)
class Prepared:
    loaded: LoadedSuite
    target: Target  # its secrets include the alert's routing key and webhook URL


def prepare(paths: Sequence[Path], env: Environment, options: SweepOptions) -> list[Prepared]:
    """Load every suite and resolve every target; raises :class:`InputError` on bad input."""
    if not paths:
        raise InputError("name at least one canary suite")
    loaded = [load_suite(path) for path in paths]
    declared = {name for item in loaded for name in item.suite.gateways}
    if options.on_fail_run is not None:
        models = [s.suite.target.model for s in loaded]
        from aiir.respond.escalation import check_runbook

        practice = options.sandbox is not None
        declared |= check_runbook(
            options.on_fail_run, env, options.inputs, list(models), practice=practice
        )
    unknown = sorted(set(options.gateway_urls) - declared)
    if unknown:
        raise InputError(
            f"--gateway {unknown[0]}: neither a suite nor the --on-fail-run runbook declares "
            f"that gateway (gateways: {', '.join(sorted(declared))})"
        )
    sandbox_url = SANDBOX_URL if options.sandbox is not None else None
    prepared = []
    for item in loaded:
        target = resolve_target(item, env.environ, options.gateway_urls, sandbox_url)
        if options.alert and not env.exercise:  # practice reads no channel secret
            from aiir.canary import alerts

            notifier = notifier_for(env)("pagerduty")
            hidden = alerts.alert_secrets(item.suite.alert, notifier, item.suite.canary)
            target = dataclasses.replace(target, secrets=target.secrets | frozenset(hidden))
        prepared.append(Prepared(item, target))
    if options.alert and not any(p.loaded.suite.alert.model_fields_set for p in prepared):
        raise InputError("--alert: no suite names an 'alert' (pagerduty, slack)")
    return prepared


def notifier_for(env: Environment) -> Callable[[str], Notifier]:
    """The channels themselves, or in practice (``--sandbox``) the exercise's inbox: nothing is
    sent and no secret is read, whatever the channel variables name."""
    if env.exercise:
        return lambda channel: env.inbox.notifier(channel, env.clock.sleep)
    from aiir.outbound.notify import Notifier

    notifier = Notifier(env.http, env.clock.sleep, env.environ)
    return lambda _channel: notifier


def sweep(paths: Sequence[Path], env: Environment, options: SweepOptions) -> list[SuiteRun]:
    """Run every suite; each run is judged, recorded, alerted on and escalated."""
    prepared = prepare(paths, env, options)
    if env.exercise:  # said once the input is known good, before anything is sent
        env.console.print(
            "practice: the simulated gateway answers; alerts go to the exercise inbox, "
            "nothing is sent"
        )
    runs = asyncio.run(_send(prepared, env, options))
    for item, run in zip(prepared, runs, strict=True):
        _conclude(run, item, env, options)
    return runs


async def _send(
    prepared: Sequence[Prepared], env: Environment, options: SweepOptions
) -> list[SuiteRun]:
    transport = options.transport
    if transport is None and options.sandbox is not None:
        from aiir.sandbox import create_app

        transport = httpx2.ASGITransport(app=create_app(options.sandbox))
    runs = []
    for item in prepared:
        suite = item.loaded.suite
        started_at = iso(env.clock.now())
        run = SuiteRun(item.loaded, item.target, _run_id(env), started_at, plant_token(suite))
        run.practice = env.exercise
        limits = httpx2.Limits(
            max_connections=suite.concurrency, max_keepalive_connections=suite.concurrency
        )
        headers = {**item.target.headers, "content-type": "application/json"}
        started = time.perf_counter()
        async with httpx2.AsyncClient(
            transport=transport,
            limits=limits,
            headers=headers,
            timeout=suite.timeout,
            verify=item.target.url.startswith("https:"),  # plain HTTP: no CA bundle to load
        ) as client:
            with _progress(env, options, run) as tick:
                run.samples = await send_all(
                    item.loaded, item.target, run.token, client, tick, _announcer(env, run)
                )
        run.seconds = time.perf_counter() - started
        runs.append(run)
    return runs


def _announcer(env: Environment, run: SuiteRun) -> Callable[[str], None]:
    """Says on the console (stderr under ``--json``) that a suite waits before a retry, and how
    long: a 429 asking for a minute is not a minute of silence."""
    from aiir.canary.result import clean
    from aiir.terminal.inert import inert

    def announce(message: str) -> None:
        env.console.print(inert(clean(f"  canary {run.name}: {message}", run.secrets, None)))

    return announce


def _run_id(env: Environment) -> str:
    return f"{env.clock.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _conclude(run: SuiteRun, item: Prepared, env: Environment, options: SweepOptions) -> None:
    """Drift against the history, the alert, the history line, then the incident."""
    suite = item.loaded.suite
    root = options.history_dir
    history = History.of(practice_root(root) if options.sandbox is not None else root, suite.canary)
    current = run.signal_samples()
    prompts = run.prompt_samples()
    models = run.models()
    if suite.drift.enabled:
        baseline = history.baseline(run.target.key, suite.drift.window)
        run.baseline_runs = baseline.runs
        run.signals = drift.compare(baseline, prompts, models, suite.drift)
    previous = history.alert(run.target.key)
    state = previous
    if options.alert and (suite.alert.pagerduty or suite.alert.slack):
        from aiir.canary import alerts

        state = alerts.deliver(run, previous, notifier_for(env))
    history.append(_record(run, current, prompts, models, state.as_dict()))
    if not run.ok and options.on_fail_run is not None:
        from aiir.canary.escalate import escalate

        escalate(run, env, options.on_fail_run, options.inputs, options.gateway_urls)


def _record(
    run: SuiteRun,
    current: dict[str, list[float]],
    prompts: dict[str, dict[str, list[float]]],
    models: dict[str, int],
    alert: dict[str, Any],
) -> dict[str, Any]:
    return {
        "run": run.run_id,
        "ts": run.started,
        "suite": run.name,
        "target": {"key": run.target.key, "gateway": run.target.gateway, "model": run.target.model},
        "ok": run.ok,
        "drifted": bool(run.drifted),
        "baseline": run.ok and not any(s.moved for s in run.signals),
        "seconds": round(run.seconds, 3),
        "checks": run.checks,
        "samples": current,
        "prompts": prompts,
        "models": models,
        "failures": [f.as_dict(run.secrets) for f in run.failures[:50]],
        "drift": [s.as_dict() for s in run.signals],
        "alert": alert,
        "deliveries": run.delivery_records(),
    }


Tick = Callable[[], None] | None


def _progress(
    env: Environment, options: SweepOptions, run: SuiteRun
) -> contextlib.AbstractContextManager[Tick]:
    """A progress bar in a terminal; nothing in CI or a pipe."""
    if not options.progress:
        return contextlib.nullcontext(None)
    from aiir.canary.report import progress_bar

    return progress_bar(env.console, run)
