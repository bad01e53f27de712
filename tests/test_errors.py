"""How an error is printed: a long quoted value kept by its two ends, the rest left whole."""

from __future__ import annotations

from aiir.errors import QUOTED_KEEP, clipped


def test_an_apostrophe_within_a_word_opens_no_quote() -> None:
    """'aiir's own setting (...) runbook 'x'' was read as one quoted value from the apostrophe
    of "aiir's" to the next quote, and the middle of a plain message was cut out."""
    message = (
        "drill.yaml:12:3: error: env.AIIR_STORE: AIIR_STORE is aiir's own setting (where "
        "incidents go, which store, which channel), not a variable of runbook "
        "'prompt-injection': a scenario sets only its runbook's variables"
    )
    assert clipped(message) == message


def test_a_long_quoted_value_is_kept_by_its_two_ends() -> None:
    value = "a" * 5000 + "THE-END"
    message = f"runbook.yaml:3:7: error: id: '{value}' is not a valid id (the runbook's own)"
    shown = clipped(message)
    assert len(shown) < 200
    assert shown.startswith("runbook.yaml:3:7: error: id: 'aaa")
    assert "THE-END'" in shown
    assert shown.endswith("is not a valid id (the runbook's own)")
    assert len(shown) < len(message) - 5000 + QUOTED_KEEP + 100
