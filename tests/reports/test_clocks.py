"""Regulatory clocks (docs/domain.md) with a frozen clock: every regime, every rule, every boundary.

Each rule is checked against the deadline docs/domain.md gives it, independently of how aiir's rule
table spells it; then a real walk classifies an incident and ``aiir show`` lists the clocks.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from aiir.errors import InputError
from aiir.reports import clocks
from aiir.reports.clocks import NOT_LEGAL_ADVICE, RULES, Rule, add_months, deadlines, left_text
from aiir.reports.context import parse_aware_at
from tests.helpers import write
from tests.respond import aiir, freeze, incident_id, no_terminal, write_workspace
from tests.support.cli import process_environment
from tests.support.clock import START, FakeClock

T0 = START
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
EVERY_REGIME = list(clocks.REGIMES)

EU_73_2 = "EU AI Act Art. 73(2)"
EU_73_3 = "EU AI Act Art. 73(3)"
EU_73_4 = "EU AI Act Art. 73(4)"
GPAI = "EU AI Act Art. 55 / GPAI Code of Practice"
GDPR = "GDPR Art. 33"
DORA = "DORA Art. 19 (RTS 2025/301)"
CRA = "EU Cyber Resilience Act Art. 14"
SB53 = "California SB 53 (BPC §22757.13)"
HIGH_RISK = {"serious-incident", "high-risk-system"}


def due(facts: set[str], regimes: list[str] | None = None, **kw: Any) -> list[tuple[str, Any]]:
    """``(source, due - T0)`` of each deadline, facts all established at T0, soonest first."""
    found = deadlines(dict.fromkeys(facts, T0), regimes or EVERY_REGIME, T0, **kw)
    return [(d.source, d.due - T0) for d in found]


# --- every regime's rules, as docs/domain.md states them ---------------------------------------------

ONE_MONTH = dt.datetime(2025, 12, 27, 3, 15, tzinfo=dt.UTC) - T0


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(HIGH_RISK, [(EU_73_2, 15 * D)], id="ai-act-73(2)-15d"),
        pytest.param(
            HIGH_RISK | {"widespread-infringement"},
            [(EU_73_3, 2 * D), (EU_73_2, 15 * D)],
            id="ai-act-73(3)-widespread-2d",
        ),
        pytest.param(
            HIGH_RISK | {"critical-infrastructure"},
            [(EU_73_3, 2 * D), (EU_73_2, 15 * D)],
            id="ai-act-73(3)-critical-infrastructure-2d",
        ),
        pytest.param(
            HIGH_RISK | {"death"}, [(EU_73_4, 10 * D), (EU_73_2, 15 * D)], id="ai-act-73(4)-10d"
        ),
        pytest.param({"gpai-systemic", "critical-infrastructure"}, [(GPAI, 2 * D)], id="gpai-2d"),
        pytest.param({"gpai-systemic", "cybersecurity-breach"}, [(GPAI, 5 * D)], id="gpai-5d"),
        pytest.param({"gpai-systemic", "death"}, [(GPAI, 10 * D)], id="gpai-10d"),
        pytest.param({"gpai-systemic", "serious-incident"}, [(GPAI, 15 * D)], id="gpai-15d"),
        pytest.param({"personal-data-breach"}, [(GDPR, 72 * H)], id="gdpr-72h"),
        pytest.param(
            {"significant-incident"},
            [
                ("NIS2 Art. 23(4)(a)", 24 * H),
                ("NIS2 Art. 23(4)(b)", 72 * H),
                ("NIS2 Art. 23(4)(d)", ONE_MONTH),
            ],
            id="nis2-24h-72h-1month",
        ),
        pytest.param(
            {"major-ict-incident"},
            [(DORA, 4 * H), (DORA, 72 * H), (DORA, ONE_MONTH)],
            id="dora-4h-72h-1month",
        ),
        pytest.param({"exploited-vulnerability"}, [(CRA, 24 * H), (CRA, 72 * H)], id="cra"),
        pytest.param({"critical-safety-incident"}, [(SB53, 15 * D)], id="sb53-15d"),
        pytest.param(
            {"critical-safety-incident", "imminent-risk"},
            [(SB53, 24 * H), (SB53, 15 * D)],
            id="sb53-imminent-24h",
        ),
    ],
)
def test_each_trigger_starts_the_deadlines_domain_md_gives_it(
    facts: set[str], expected: list[tuple[str, dt.timedelta]]
) -> None:
    assert due(facts) == expected


def _rule_id(rule: Rule) -> str:
    return f"{rule.regime}:{'+'.join(sorted(rule.trigger))}:{rule.obligation[:24]}"


@pytest.mark.parametrize("rule", RULES, ids=[_rule_id(r) for r in RULES])
def test_a_rule_needs_every_one_of_its_trigger_facts(rule: Rule) -> None:
    assert (rule.source, rule.obligation) in _rules(rule.trigger)
    for missing in rule.trigger:
        assert (rule.source, rule.obligation) not in _rules(rule.trigger - {missing})


def _rules(facts: frozenset[str]) -> set[tuple[str, str]]:
    return {(d.source, d.obligation) for d in deadlines(dict.fromkeys(facts, T0), EVERY_REGIME, T0)}


def test_every_regime_domain_md_names_has_rules() -> None:
    assert {r.regime for r in RULES} == set(clocks.REGIMES) == set(EVERY_REGIME)


def test_high_risk_without_a_serious_incident_starts_no_clock() -> None:
    assert due({"high-risk-system", "death"}) == []


@pytest.mark.parametrize("regime", EVERY_REGIME)
def test_a_regime_not_enabled_sets_no_deadline(regime: str) -> None:
    every_fact = {fact for rule in RULES for fact in rule.trigger}
    others = [r for r in EVERY_REGIME if r != regime]
    sources = {d.regime for d in deadlines(dict.fromkeys(every_fact, T0), others, T0)}
    assert regime not in sources
    assert sources == set(others)
    assert deadlines(dict.fromkeys(every_fact, T0), [], T0) == []


# --- awareness ---------------------------------------------------------------------------------


def test_a_clock_starts_when_the_last_of_its_trigger_facts_was_established() -> None:
    facts = {"high-risk-system": T0, "serious-incident": T0 + 5 * H}
    [deadline] = deadlines(facts, ["eu-ai-act"], T0)
    assert deadline.aware_at == T0 + 5 * H
    assert deadline.due == T0 + 5 * H + 15 * D


def test_each_regime_counts_from_its_own_awareness() -> None:
    facts = {"personal-data-breach": T0 + 2 * H, "significant-incident": T0 + 7 * H}
    found = {(d.source, d.aware_at, d.due) for d in deadlines(facts, ["gdpr", "nis2"], T0)}
    assert (GDPR, T0 + 2 * H, T0 + 74 * H) in found
    assert ("NIS2 Art. 23(4)(a)", T0 + 7 * H, T0 + 31 * H) in found


@pytest.mark.parametrize(
    ("classified", "initial"),
    [
        (1 * H, 5 * H),  # 4 h from classification
        (20 * H, 24 * H),  # exactly at the cap
        (22 * H, 24 * H),  # capped: at most 24 h from awareness (the incident's start)
        (30 * H, 24 * H),  # classified late: due already
    ],
)
def test_dora_initial_notification_is_4h_from_classification_capped_at_24h(
    classified: dt.timedelta, initial: dt.timedelta
) -> None:
    found = deadlines({"major-ict-incident": T0 + classified}, ["dora"], T0)
    by_obligation = {d.obligation.split(" (")[0]: d.due - T0 for d in found}
    assert by_obligation == {
        "initial notification": initial,
        "intermediate report": classified + 72 * H,
        "final report": add_months(T0 + classified, 1) - T0,
    }


def test_aware_at_for_all_regimes_moves_every_clock() -> None:
    earlier = T0 - 3 * H
    facts = {"personal-data-breach": T0, "significant-incident": T0 + H}
    found = deadlines(facts, ["gdpr", "nis2"], T0, {"*": earlier})
    assert {d.aware_at for d in found} == {earlier}
    assert (GDPR, earlier + 72 * H) in {(d.source, d.due) for d in found}


def test_aware_at_for_one_regime_moves_only_its_clock_and_beats_the_all_regimes_one() -> None:
    facts = {"personal-data-breach": T0, "significant-incident": T0 + H}
    found = deadlines(facts, ["gdpr", "nis2"], T0, {"gdpr": T0 - 8 * H})
    assert {d.regime: d.aware_at for d in found} == {"gdpr": T0 - 8 * H, "nis2": T0 + H}
    both = deadlines(facts, ["gdpr", "nis2"], T0, {"gdpr": T0 - 8 * H, "*": T0 - H})
    assert {d.regime: d.aware_at for d in both} == {"gdpr": T0 - 8 * H, "nis2": T0 - H}


# --- calendar months and the time left ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31T10:00", 1, "2026-02-28T10:00"),  # 31 Jan + 1 month: the month's last day
        ("2028-01-31T10:00", 1, "2028-02-29T10:00"),  # leap year
        ("2026-03-31T23:59", 1, "2026-04-30T23:59"),
        ("2026-12-15T08:00", 1, "2027-01-15T08:00"),  # into the next year
        ("2026-12-31T08:00", 2, "2027-02-28T08:00"),
        ("2026-01-31T10:00", 13, "2027-02-28T10:00"),
        ("2026-05-15T10:00", 0, "2026-05-15T10:00"),
    ],
)
def test_add_months_counts_calendar_months(start: str, months: int, expected: str) -> None:
    utc = dt.UTC
    moment = dt.datetime.fromisoformat(start).replace(tzinfo=utc)
    assert add_months(moment, months) == dt.datetime.fromisoformat(expected).replace(tzinfo=utc)


def test_a_final_report_from_31_january_is_due_on_28_february() -> None:
    aware = dt.datetime(2026, 1, 31, 10, 0, tzinfo=dt.UTC)
    found = deadlines(
        {"significant-incident": aware, "major-ict-incident": aware}, EVERY_REGIME, aware
    )
    finals = {d.source: d.due for d in found if "final report" in d.obligation}
    feb_28 = dt.datetime(2026, 2, 28, 10, 0, tzinfo=dt.UTC)
    assert finals == {"NIS2 Art. 23(4)(d)": feb_28, DORA: feb_28}


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (2 * D + 3 * H + dt.timedelta(minutes=10), "2d 03h 10m left"),
        (dt.timedelta(minutes=59, seconds=59), "00h 59m left"),
        (dt.timedelta(0), "00h 00m left"),
        (-(5 * H + dt.timedelta(minutes=2)), "OVERDUE by 05h 02m"),
        (-(15 * D), "OVERDUE by 15d 00h 00m"),
    ],
)
def test_left_text(left: dt.timedelta, text: str) -> None:
    assert left_text(left) == text


def test_a_deadline_is_overdue_only_after_it_passed() -> None:
    [deadline] = deadlines({"personal-data-breach": T0}, ["gdpr"], T0)
    assert not deadline.overdue(T0 + 72 * H)
    assert deadline.overdue(T0 + 72 * H + dt.timedelta(seconds=1))
    assert deadline.left(T0 + 70 * H) == 2 * H


# --- --aware-at ----------------------------------------------------------------------------------


def test_aware_at_parses_one_time_for_all_regimes_or_one_per_regime() -> None:
    assert parse_aware_at(
        ["2025-11-27T01:00:00Z", "gdpr=2025-11-27T02:00:00+01:00", "nis2=2025-11-27T04:30"]
    ) == {
        "*": dt.datetime(2025, 11, 27, 1, 0, tzinfo=dt.UTC),
        "gdpr": dt.datetime(2025, 11, 27, 1, 0, tzinfo=dt.UTC),
        "nis2": dt.datetime(2025, 11, 27, 4, 30, tzinfo=dt.UTC),  # no offset: UTC
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "--aware-at 'yesterday': expected an ISO-8601 time such as "),
        ("gdpr=soon", "--aware-at 'gdpr=soon': expected an ISO-8601 time such as "),
        (
            "hipaa=2025-11-27T01:00Z",
            "--aware-at 'hipaa=2025-11-27T01:00Z': unknown regime 'hipaa' (",
        ),
    ],
)
def test_a_bad_aware_at_is_bad_input(value: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_aware_at([value])
    assert str(caught.value).startswith(message)


# --- a walk that classifies, and `aiir show` --------------------------------------------------------

ALL_BUT_DORA = sorted({f for r in RULES for f in r.trigger} - {"major-ict-incident"})
RUNBOOK: dict[str, Any] = {
    "aiir": 1,
    "id": "clocks",
    "title": "Everything at once",
    "owner": "legal-compliance",
    "severity": "SEV1",
    "start": "assess",
    "nodes": {
        "assess": {
            "kind": "question",
            "title": "Assess",
            "prompt": "What is this?",
            "choices": [
                {"label": "All of it", "value": "all", "classify": ALL_BUT_DORA, "next": "bank"},
                {"label": "Nothing", "value": "none", "next": "done"},
            ],
        },
        "bank": {
            "kind": "confirm",
            "title": "Financial entity?",
            "prompt": "Is it a major ICT incident of a financial entity?",
            "classify": ["major-ict-incident"],
            "yes": "done",
            "no": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}
ASSESSED = T0 + dt.timedelta(minutes=10)  # the clock moves 10 min at `assess`
BANK = ASSESSED + 20 * H  # and 20 h at `bank`
SHOWN_AT = T0 + 3 * D
ID = incident_id()


@pytest.fixture
def shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A walked incident under a workspace that tracks every regime; ``aiir show`` sees SHOWN_AT."""
    workspace = write_workspace(
        tmp_path / "workspace", {"aiir": 1, "workspace": "w", "regimes": EVERY_REGIME}
    )
    no_terminal(monkeypatch, workspace)
    monkeypatch.setenv("COLUMNS", "320")  # every table cell on one line
    clock = FakeClock(T0)
    freeze(monkeypatch, clock, [clock.ticking(0, at={"assess": 10, "bank": 20 * 60})])
    write(tmp_path / "clocks.yaml", RUNBOOK)
    write(tmp_path / "answers.yaml", {"assess": "all", "bank": "yes"})
    incidents = tmp_path / "incidents"
    ran = aiir(
        capsys,
        "run",
        str(tmp_path / "clocks.yaml"),
        "--answers",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(incidents),
    )
    assert ran.status == 0, ran.err
    clock.moment = SHOWN_AT
    return incidents


def expected_clocks(aware: dict[str, dt.datetime] | None = None) -> list[tuple[str, str, str]]:
    """(source, aware at, due) of every deadline of the walk, computed from docs/domain.md."""
    at = aware or {}

    def a(regime: str, default: dt.datetime = ASSESSED) -> dt.datetime:
        return at.get(regime) or at.get("*") or default

    rows = [
        (EU_73_2, a("eu-ai-act"), a("eu-ai-act") + 15 * D),
        (EU_73_3, a("eu-ai-act"), a("eu-ai-act") + 2 * D),
        (EU_73_3, a("eu-ai-act"), a("eu-ai-act") + 2 * D),
        (EU_73_4, a("eu-ai-act"), a("eu-ai-act") + 10 * D),
        (GPAI, a("gpai"), a("gpai") + 2 * D),
        (GPAI, a("gpai"), a("gpai") + 5 * D),
        (GPAI, a("gpai"), a("gpai") + 10 * D),
        (GPAI, a("gpai"), a("gpai") + 15 * D),
        (GDPR, a("gdpr"), a("gdpr") + 72 * H),
        ("NIS2 Art. 23(4)(a)", a("nis2"), a("nis2") + 24 * H),
        ("NIS2 Art. 23(4)(b)", a("nis2"), a("nis2") + 72 * H),
        ("NIS2 Art. 23(4)(d)", a("nis2"), add_months(a("nis2"), 1)),
        # DORA's initial report: 4 h from the classification (the fact's time, which an
        # awareness override does not move), capped at 24 h from awareness (the override, or
        # the incident's start).
        (DORA, BANK, min(BANK + 4 * H, a("dora", T0) + 24 * H)),
        (DORA, a("dora", BANK), a("dora", BANK) + 72 * H),
        (DORA, a("dora", BANK), add_months(a("dora", BANK), 1)),
        (CRA, a("cra"), a("cra") + 24 * H),
        (CRA, a("cra"), a("cra") + 72 * H),
        (SB53, a("ca-sb53"), a("ca-sb53") + 15 * D),
        (SB53, a("ca-sb53"), a("ca-sb53") + 24 * H),
    ]

    def iso(moment: dt.datetime) -> str:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return sorted(((s, iso(w), iso(d)) for s, w, d in rows), key=lambda r: (r[2], r[0]))


def _json_clocks(out: str) -> list[dict[str, Any]]:
    clocks_shown: list[dict[str, Any]] = json.loads(out)["clocks"]
    return clocks_shown


def test_show_json_has_every_deadline_of_every_regime(
    shown: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "show", ID, "--json", "--incident-dir", str(shown))
    assert ran.status == 0, ran.err
    found = _json_clocks(ran.out)
    assert (
        sorted(((c["source"], c["aware_at"], c["due"]) for c in found), key=lambda r: (r[2], r[0]))
        == expected_clocks()
    )
    for clock in found:
        due_at = dt.datetime.fromisoformat(clock["due"].replace("Z", "+00:00"))
        assert clock["overdue"] is (due_at < SHOWN_AT)
        assert clock["left"] == left_text(due_at - SHOWN_AT)
    initial = next(c for c in found if c["obligation"].startswith("initial notification"))
    assert initial["due"] == "2025-11-28T03:15:00.000Z"  # 24 h after the start, not BANK + 4 h


def test_show_lists_every_deadline_with_the_time_left_and_says_not_legal_advice_once(
    shown: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = aiir(capsys, "show", ID, "--incident-dir", str(shown))
    assert ran.status == 0, ran.err
    assert "Regulatory clocks" in ran.out
    rows = [
        r for r in ran.out.splitlines() if r.startswith("│") and ("left" in r or "OVERDUE" in r)
    ]
    assert len(rows) == len(RULES) == 19
    for source, aware, due_at in expected_clocks():
        left = left_text(dt.datetime.fromisoformat(due_at.replace("Z", "+00:00")) - SHOWN_AT)
        assert any(
            source in row and aware[:16] in row and due_at[:16] in row and left in row
            for row in rows
        ), (source, due_at, left)
    overdue = [r for r in rows if "OVERDUE by" in r]
    assert len(overdue) == 7  # 73(3) ×2, GPAI 2 d, NIS2 24 h, DORA initial, CRA 24 h, SB 53 24 h
    assert ran.out.count(NOT_LEGAL_ADVICE) == 1


def test_show_highlights_the_overdue_deadlines(
    shown: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiir.views.incidents import show_incident
    from tests import respond

    assert respond.FROZEN is not None
    env = process_environment(respond.FROZEN.clock)
    env.incidents_dir = shown
    env.console = Console(
        file=io.StringIO(), force_terminal=True, color_system="truecolor", width=320
    )
    show_incident(env, ID, as_json=False)
    screen = env.console.file.getvalue()  # type: ignore[attr-defined]
    highlight = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor")
    highlight.print(Text("x", "bold white on red"), end="")
    start = highlight.file.getvalue().split("x")[0]  # type: ignore[attr-defined]
    overdue = [line for line in screen.splitlines() if "OVERDUE by" in line]
    assert len(overdue) == 7
    assert all(f"{start}OVERDUE by" in line for line in overdue)
    pending = [line for line in screen.splitlines() if " left" in line]
    assert pending
    assert not any(start in line for line in pending)


def test_show_aware_at_moves_the_clocks(shown: Path, capsys: pytest.CaptureFixture[str]) -> None:
    earlier = T0 - 2 * H
    ran = aiir(
        capsys,
        "show",
        ID,
        "--json",
        "--aware-at",
        "gdpr=2025-11-27T01:15:00Z",
        "--incident-dir",
        str(shown),
    )
    assert ran.status == 0, ran.err
    found = _json_clocks(ran.out)
    got = sorted(
        ((c["source"], c["aware_at"], c["due"]) for c in found), key=lambda r: (r[2], r[0])
    )
    assert got == expected_clocks({"gdpr": earlier})
    ran = aiir(
        capsys,
        "show",
        ID,
        "--json",
        "--aware-at",
        "2025-11-27T01:15Z",
        "--incident-dir",
        str(shown),
    )
    found = _json_clocks(ran.out)
    got = sorted(
        ((c["source"], c["aware_at"], c["due"]) for c in found), key=lambda r: (r[2], r[0])
    )
    assert got == expected_clocks({"*": earlier})


@pytest.mark.parametrize("command", ["show", "report"])
@pytest.mark.parametrize("value", ["yesterday", "hipaa=2025-11-27T01:15Z"])
def test_a_bad_aware_at_exits_2_with_one_line(
    shown: Path, capsys: pytest.CaptureFixture[str], command: str, value: str
) -> None:
    ran = aiir(capsys, command, ID, "--aware-at", value, "--incident-dir", str(shown))
    assert (ran.status, ran.out) == (2, "")
    assert ran.err.startswith(f"aiir: --aware-at {value!r}: ")
    assert ran.err.count("\n") == 1


def test_show_says_when_no_deadline_was_triggered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = write_workspace(
        tmp_path / "w", {"aiir": 1, "workspace": "w", "regimes": ["gdpr", "nis2"]}
    )
    no_terminal(monkeypatch, workspace)
    freeze(monkeypatch, FakeClock(T0))
    write(tmp_path / "clocks.yaml", RUNBOOK)
    write(tmp_path / "answers.yaml", {"assess": "none"})
    incidents = str(tmp_path / "incidents")
    args = ["--answers", str(tmp_path / "answers.yaml"), "--incident-dir", incidents]
    assert aiir(capsys, "run", str(tmp_path / "clocks.yaml"), *args).status == 0
    ran = aiir(capsys, "show", ID, "--incident-dir", incidents)
    assert "No reporting deadline triggered under: gdpr, nis2" in ran.out
    assert "Regulatory clocks" not in ran.out
    assert NOT_LEGAL_ADVICE not in ran.out  # no deadline computed, nothing to qualify


def test_dora_awareness_override_moves_the_24h_cap_not_the_classification() -> None:
    classified = T0 + 20 * H
    earlier = T0 - 2 * H  # the entity knew before the incident was opened in aiir
    (initial, *_) = deadlines({"major-ict-incident": classified}, ["dora"], T0, {"dora": earlier})
    assert initial.aware_at == classified
    assert initial.due == earlier + 24 * H  # sooner than classified + 4 h
