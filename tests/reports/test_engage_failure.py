"""A lever the probe found in effect after its engage request failed: the timeline says both."""

from __future__ import annotations

from aiir.reports.context import describe


def test_the_timeline_names_the_failed_engage_the_probe_overruled() -> None:
    data = {
        "lever": "reroute",
        "ok": True,
        "confirmed_by_verify": True,
        "engage_failure": {"ok": False, "status": 502, "reason": "status 502, expected 2xx: bad"},
        "reply": {"ok": True, "status": 200, "reason": "ok"},
    }
    said = describe("lever.engaged", data)
    assert "engaged" in said
    assert "status 502, expected 2xx: bad" in said
    assert "its probe found it in effect" in said


def test_a_lever_confirmed_on_resume_has_no_failure_to_name() -> None:
    data = {"lever": "reroute", "ok": True, "confirmed_by_verify": True, "reply": {"ok": True}}
    assert describe("lever.engaged", data).endswith("engaged (its probe found it in effect)")
