"""``aiir detect``: evaluate rule sets once or on an interval; page, resolve, open incidents.

Everything that can be wrong with the input (a rules file, a flag, an unset variable, the runbook
to open) is found by :func:`prepare`, before a single request is sent. Each evaluation of a rule
set then reads the last state, measures every rule, judges it, alerts, opens an incident for the
rules that started firing, and appends the new state, all as one turn of its history.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiir.detect import alerts
from aiir.detect.history import History
from aiir.detect.rules import LoadedRules, load_rules
from aiir.detect.sources import described, finite, measure
from aiir.detect.verdicts import OPENING, RuleState, Status, Verdict, judge
from aiir.environment import Environment
from aiir.errors import InputError
from aiir.timestamps import iso

if TYPE_CHECKING:
    import httpx2

    from aiir.outbound.notify import Delivery, Notifier

SOURCE = "aiir detect"


@dataclass
class DetectOptions:
    """How ``aiir detect`` was asked to run."""

    alert: bool = False
    on_fail_run: Path | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    history_dir: Path = Path(".aiir") / "detect-history"
    practice: bool = False  # alerts to the exercise inbox, incidents on the simulated gateway
    prometheus: str | None = None  # --prometheus: every rule set's Prometheus
    phoenix: str | None = None  # --phoenix: every rule set's Phoenix


@dataclass
class Evaluation:
    """One rule set, evaluated once."""

    loaded: LoadedRules
    at: str
    verdicts: list[Verdict]
    deliveries: list[Delivery] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def firing(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status is Status.FIRING]

    @property
    def ok(self) -> bool:
        """Nothing firing, every rule measured, every message delivered."""
        return (
            not self.firing
            and all(v.status is not Status.ERROR for v in self.verdicts)
            and all(d.ok for d in self.deliveries)
        )

    def as_dict(self) -> dict[str, Any]:
        rules = self.loaded.rules
        return {
            "detect": rules.detect,
            "file": str(self.loaded.path),
            "at": self.at,
            "ok": self.ok,
            "rules": [{**v.as_dict(), "what": described(v.rule)} for v in self.verdicts],
            "deliveries": [d.as_dict() for d in self.deliveries],
            "notes": self.notes,
        }


def prepare(paths: Sequence[Path], env: Environment, options: DetectOptions) -> list[LoadedRules]:
    """Load every rule set and check the flags; raises :class:`InputError` on bad input."""
    if not paths:
        raise InputError("name at least one rules file")
    loaded = [_sourced(load_rules(path), options) for path in paths]
    seen: dict[str, Path] = {}
    for item in loaded:
        other = seen.setdefault(item.rules.detect, item.path)
        if other != item.path:
            raise InputError(
                f"{item.path}: rules id {item.rules.detect!r} is also {other}'s: their "
                "histories and alerts would be one"
            )
        _check_key(item, env)
    if options.alert:
        if not any(item.rules.alert.model_fields_set for item in loaded):
            raise InputError("--alert: no rules file names an 'alert' (pagerduty, slack)")
        if not options.practice:
            from aiir.outbound import alerting

            for item in loaded:
                alerting.route_secrets(item.rules.alert, _notifier(env), f"{item.path}:")
    if options.on_fail_run is not None:
        from aiir.respond.escalation import check_runbook

        models = [item.rules.model for item in loaded]
        check_runbook(options.on_fail_run, env, options.inputs, models, practice=options.practice)
    try:
        options.history_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        message = f"--history-dir {options.history_dir}: cannot keep history there ({why})"
        raise InputError(message) from None
    return loaded


def _check_key(item: LoadedRules, env: Environment) -> None:
    """Phoenix's API key, when the file names one: set, and fit for a header."""
    phoenix = item.rules.phoenix
    if phoenix is None or not phoenix.api_key_env:
        return
    value = env.environ.get(phoenix.api_key_env, "").strip()
    if not value:
        raise InputError(f"{item.path}: environment variable {phoenix.api_key_env} is not set")
    if not all(" " < c < "\x7f" for c in value):
        raise InputError(
            f"{item.path}: environment variable {phoenix.api_key_env} holds a space, a line "
            "break, a control or a non-ASCII character, which no API key can; nothing was read"
        )


def _sourced(item: LoadedRules, options: DetectOptions) -> LoadedRules:
    """``--prometheus`` and ``--phoenix`` point every rule set's source elsewhere."""
    rules = item.rules
    changes: dict[str, Any] = {}
    if options.prometheus is not None and rules.prometheus is not None:
        changes["prometheus"] = rules.prometheus.model_copy(update={"url": options.prometheus})
    if options.phoenix is not None and rules.phoenix is not None:
        changes["phoenix"] = rules.phoenix.model_copy(update={"url": options.phoenix})
    if not changes:
        return item
    return LoadedRules(item.path, item.doc, rules.model_copy(update=changes))


def _notifier(env: Environment) -> Notifier:
    from aiir.outbound.notify import Notifier

    return Notifier(env.http, env.clock.sleep, env.environ)


def notifier_for(env: Environment, options: DetectOptions) -> Callable[[str], Notifier]:
    """Real channels, or in practice the exercise's inbox (no secret read, nothing sent)."""
    if options.practice:
        return lambda channel: env.inbox.notifier(channel, env.clock.sleep)
    notifier = _notifier(env)
    return lambda _channel: notifier


def evaluate(
    item: LoadedRules,
    env: Environment,
    options: DetectOptions,
    client: httpx2.Client,
    history: History,
) -> Evaluation:
    """One turn: last state, measure, judge, alert, escalate, record."""
    rules = item.rules
    with history.turn():
        states = history.states()
        now = env.clock.now()
        at = iso(now)
        sources = (rules.prometheus, rules.phoenix)
        verdicts = [
            judge(
                rule,
                measure(rule, client, sources, now, env.environ),
                states.get(rule.id, RuleState()),
            )
            for rule in rules.rules
        ]
        evaluation = Evaluation(item, at, verdicts)
        _recover(evaluation, env)
        if options.on_fail_run is not None:
            _escalate(evaluation, env, options, history)
        if options.alert:
            send = notifier_for(env, options)
            for verdict in verdicts:
                if verdict.status in (Status.FIRING, Status.OK):
                    evaluation.deliveries.extend(alerts.deliver(rules, verdict, at, send))
        history.append(_record(evaluation))
    return evaluation


def _escalate(
    evaluation: Evaluation, env: Environment, options: DetectOptions, history: History
) -> None:
    """The rules that started firing open one incident, their measurements as its evidence."""
    from aiir.respond.escalation import open_incident
    from aiir.respond.session import Attachment

    started = [v for v in evaluation.verdicts if v.started_firing]
    if not started or options.on_fail_run is None:
        return
    rules = evaluation.loaded.rules
    stamp = evaluation.at.replace(":", "").replace("-", "").replace(".", "")
    name = f"detect-{rules.detect}-{stamp}.json"
    what = "; ".join(alerts.summary(rules, v) for v in started)
    attachment = Attachment(name, _evidence(evaluation, started), what, SOURCE)
    for verdict in started:  # a kill from here on: the next evaluation finds or opens it
        verdict.incident = OPENING
        verdict.opening = name
    history.append(_record(evaluation))
    opened = open_incident(env, options.on_fail_run, options.inputs, attachment, rules.model)
    for verdict in started:
        verdict.incident = opened.incident
    evaluation.notes.append(opened.note)


def _recover(evaluation: Evaluation, env: Environment) -> None:
    """An evaluation killed while it opened an incident left ``opening``: the incident it
    opened (found by its evidence's name), else none, and the next one opens it."""
    for verdict in evaluation.verdicts:
        previous = verdict.previous
        if previous.incident != OPENING or verdict.status is not Status.FIRING:
            continue
        from aiir.respond.escalation import opened_with

        found = opened_with(env.incidents_dir, previous.opening) if previous.opening else None
        if found is not None:
            verdict.incident, verdict.opening = found, None


def _evidence(evaluation: Evaluation, started: list[Verdict]) -> bytes:
    data = {
        "source": SOURCE,
        "rules": evaluation.loaded.rules.detect,
        "file": str(evaluation.loaded.path),
        "at": evaluation.at,
        "firing": [{**v.as_dict(), "what": described(v.rule)} for v in started],
        "all": [{**v.as_dict(), "what": described(v.rule)} for v in evaluation.verdicts],
    }
    return json.dumps(data, indent=2, ensure_ascii=False).encode()


def _record(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "ts": evaluation.at,
        "rules": {
            v.rule.id: {**v.state().as_dict(), "value": finite(v.value)}
            for v in evaluation.verdicts
        },
        "ok": evaluation.ok,
        "deliveries": [
            {"channel": d.channel, "ok": d.ok, "reason": d.reason} for d in evaluation.deliveries
        ],
    }
