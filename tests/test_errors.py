"""How an error is printed: a long quoted value kept by its two ends, the rest left whole."""

from __future__ import annotations

from aiir.errors import QUOTED_KEEP, clipped, shown


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
    said = clipped(message)
    assert len(said) < 200
    assert said.startswith("runbook.yaml:3:7: error: id: 'aaa")
    assert "THE-END'" in said
    assert said.endswith("is not a valid id (the runbook's own)")
    assert len(said) < len(message) - 5000 + QUOTED_KEEP + 100


def test_a_name_of_bytes_that_are_not_utf8_shows_its_bytes() -> None:
    """``aiir run $'\\xff'`` said ``aiir: : no such file…``: the byte, read from argv as a lone
    surrogate, went with the control characters."""
    assert shown("\udcff") == "\\xff"
    assert shown("/tmp/\udcff\udcfex.yaml") == "/tmp/\\xff\\xfex.yaml"
    assert shown("café") == "café"


def test_a_long_name_is_masked_before_it_is_cut() -> None:
    """A path too long for a message kept its two ends before the message was masked: a
    secret across the cut lost its middle and showed its start, where no mask finds it."""
    from aiir.redact import declare, forget

    secret = "sk-live-" + "Q7" * 20
    declare([secret])
    try:
        said = shown("/tmp/" + "d" * 140 + "/" + secret + ".txt")
    finally:
        forget()
    assert "sk-live-Q7" not in said
    assert "Q7Q7" not in said
    assert said.endswith(".txt")
