"""Regulatory clocks (docs/domain.md): which deadlines an incident's classification starts.

Each regime's clock starts at that regime's own awareness time: the moment the facts that trigger
it were established in the journal (a classifying answer), unless ``--aware-at`` says otherwise.
This is a planning aid, not legal advice: every report that shows a deadline says so.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NOT_LEGAL_ADVICE = (
    "Deadlines are computed from the recorded classification and awareness times as a planning "
    "aid. They are not legal advice: confirm obligations and dates with counsel."
)

REGIMES = ("eu-ai-act", "gpai", "gdpr", "nis2", "dora", "cra", "ca-sb53")


@dataclass(frozen=True)
class Rule:
    """One reporting obligation: when all ``trigger`` facts hold, report within ``within``."""

    regime: str
    source: str
    trigger: frozenset[str]
    obligation: str
    hours: float = 0.0
    months: int = 0
    cap_from_start_hours: float | None = None  # DORA: also no later than N hours from awareness


def _rule(regime: str, source: str, trigger: Iterable[str], obligation: str, **when: float) -> Rule:
    return Rule(regime, source, frozenset(trigger), obligation, **when)  # type: ignore[arg-type]


RULES: tuple[Rule, ...] = (
    _rule(
        "eu-ai-act",
        "EU AI Act Art. 73(2)",
        {"serious-incident", "high-risk-system"},
        "report the serious incident to the market surveillance authority (immediately after "
        "establishing a causal link; an incomplete initial report is allowed)",
        hours=15 * 24,
    ),
    _rule(
        "eu-ai-act",
        "EU AI Act Art. 73(3)",
        {"serious-incident", "high-risk-system", "widespread-infringement"},
        "report: widespread infringement",
        hours=2 * 24,
    ),
    _rule(
        "eu-ai-act",
        "EU AI Act Art. 73(3)",
        {"serious-incident", "high-risk-system", "critical-infrastructure"},
        "report: serious and irreversible disruption of critical infrastructure",
        hours=2 * 24,
    ),
    _rule(
        "eu-ai-act",
        "EU AI Act Art. 73(4)",
        {"serious-incident", "high-risk-system", "death"},
        "report: death of a person",
        hours=10 * 24,
    ),
    _rule(
        "gpai",
        "EU AI Act Art. 55 / GPAI Code of Practice",
        {"gpai-systemic", "critical-infrastructure"},
        "report the serious incident to the AI Office: critical infrastructure",
        hours=2 * 24,
    ),
    _rule(
        "gpai",
        "EU AI Act Art. 55 / GPAI Code of Practice",
        {"gpai-systemic", "cybersecurity-breach"},
        "report to the AI Office: serious cybersecurity breach (incl. weight exfiltration)",
        hours=5 * 24,
    ),
    _rule(
        "gpai",
        "EU AI Act Art. 55 / GPAI Code of Practice",
        {"gpai-systemic", "death"},
        "report to the AI Office: death of a person",
        hours=10 * 24,
    ),
    _rule(
        "gpai",
        "EU AI Act Art. 55 / GPAI Code of Practice",
        {"gpai-systemic", "serious-incident"},
        "report to the AI Office: other serious incident (check the current text)",
        hours=15 * 24,
    ),
    _rule(
        "gdpr",
        "GDPR Art. 33",
        {"personal-data-breach"},
        "notify the supervisory authority without undue delay, where feasible within 72 h",
        hours=72,
    ),
    _rule(
        "nis2",
        "NIS2 Art. 23(4)(a)",
        {"significant-incident"},
        "early warning to the CSIRT",
        hours=24,
    ),
    _rule(
        "nis2", "NIS2 Art. 23(4)(b)", {"significant-incident"}, "incident notification", hours=72
    ),
    _rule("nis2", "NIS2 Art. 23(4)(d)", {"significant-incident"}, "final report", months=1),
    _rule(
        "dora",
        "DORA Art. 19 (RTS 2025/301)",
        {"major-ict-incident"},
        "initial notification (4 h from classification, at most 24 h from awareness)",
        hours=4,
        cap_from_start_hours=24,
    ),
    _rule(
        "dora",
        "DORA Art. 19 (RTS 2025/301)",
        {"major-ict-incident"},
        "intermediate report",
        hours=72,
    ),
    _rule("dora", "DORA Art. 19 (RTS 2025/301)", {"major-ict-incident"}, "final report", months=1),
    _rule(
        "cra",
        "EU Cyber Resilience Act Art. 14",
        {"exploited-vulnerability"},
        "early warning to the CSIRT and ENISA",
        hours=24,
    ),
    _rule(
        "cra",
        "EU Cyber Resilience Act Art. 14",
        {"exploited-vulnerability"},
        "vulnerability notification",
        hours=72,
    ),
    _rule(
        "ca-sb53",
        "California SB 53 (BPC §22757.13)",
        {"critical-safety-incident"},
        "report the critical safety incident to the Office of Emergency Services",
        hours=15 * 24,
    ),
    _rule(
        "ca-sb53",
        "California SB 53 (BPC §22757.13)",
        {"critical-safety-incident", "imminent-risk"},
        "report to the appropriate authority: imminent risk of death or serious injury",
        hours=24,
    ),
)


@dataclass(frozen=True)
class Deadline:
    """A computed reporting deadline."""

    regime: str
    source: str
    obligation: str
    aware_at: dt.datetime
    due: dt.datetime

    def left(self, now: dt.datetime) -> dt.timedelta:
        return self.due - now

    def overdue(self, now: dt.datetime) -> bool:
        return now > self.due


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month = moment.month - 1 + months
    year = moment.year + month // 12
    month = month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def deadlines(
    facts: Mapping[str, dt.datetime],
    regimes: Iterable[str],
    started: dt.datetime,
    aware_at: Mapping[str, dt.datetime] | None = None,
) -> list[Deadline]:
    """Deadlines for ``facts`` (fact -> when it was established) under the enabled ``regimes``.

    A regime's awareness time is when its last trigger fact was established; ``aware_at``
    (regime -> time, or ``"*"`` for all) overrides it.
    """
    enabled = set(regimes)
    overrides = dict(aware_at or {})
    out: list[Deadline] = []
    for rule in RULES:
        if rule.regime not in enabled or not rule.trigger <= set(facts):
            continue
        override = overrides.get(rule.regime) or overrides.get("*")
        established = max(facts[f] for f in rule.trigger)
        if rule.cap_from_start_hours is not None:
            # DORA: 4 h from classification (the fact), and no later than 24 h from awareness of
            # the incident (its start, unless --aware-at says when the entity became aware).
            classified, aware = established, override or started
            due = min(
                classified + dt.timedelta(hours=rule.hours),
                aware + dt.timedelta(hours=rule.cap_from_start_hours),
            )
            out.append(Deadline(rule.regime, rule.source, rule.obligation, classified, due))
            continue
        aware = override or established
        due = (
            add_months(aware, rule.months)
            if rule.months
            else aware + dt.timedelta(hours=rule.hours)
        )
        out.append(Deadline(rule.regime, rule.source, rule.obligation, aware, due))
    return sorted(out, key=lambda d: d.due)


def left_text(left: dt.timedelta) -> str:
    """``2d 03h 10m left`` or ``OVERDUE by 5h 02m``."""
    seconds = int(abs(left.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = (f"{days}d " if days else "") + f"{hours:02d}h {rest // 60:02d}m"
    return f"{text} left" if left.total_seconds() >= 0 else f"OVERDUE by {text}"
