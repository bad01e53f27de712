"""A template Jinja2 cannot read for Python's limits is a finding, not an internal error: a
number of more than 4300 digits (its lexer's ``int()`` raises ValueError), brackets nested
past the interpreter's stack (its parser recurses: RecursionError), and a tree deeper than the
Python Jinja2 makes of it compiles (250 filters in a row: "too many nested parentheses"). The
first two crashed ``aiir validate``; the long number and the long chain passed it (the first
read by the old fast path) and crashed the walk when rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.formats.templating import TemplateFailure, evaluate, render
from aiir.validate.documents import validate_paths
from tests.helpers import minimal_runbook, where, write
from tests.support.cli import run_cli

DEEP = "(" * 400 + "inputs.model" + ")" * 400
LONG = "1" + "0" * 5000
CHAIN = "inputs.model" + " | string" * 250
TOO_DEEP = (
    "it is nested too deeply to read (brackets, filters, attributes or blocks within each "
    "other, more than 80 levels)"
)
REASONS = {
    CHAIN: TOO_DEEP,
    DEEP: "it is nested too deeply to read (brackets, filters, attributes or blocks within each "
    "other, more than 80 levels)",
    LONG: "a number in it has too many digits to read",
}


@pytest.mark.parametrize("expression", [DEEP, LONG, CHAIN], ids=["nested", "digits", "chain"])
def test_validate_names_the_template(
    expression: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rb = minimal_runbook()
    rb["nodes"]["triage"]["prompt"] = "What happened? {{ " + expression + " }}"
    text = write(Path("rb.yaml"), rb)
    found = [finding.render() for finding in validate_paths(["rb.yaml"]).findings]
    assert found == [
        f"rb.yaml:{where(text, 'What happened')}: error: nodes.triage.prompt: template syntax "
        f"error: the template: {REASONS[expression]}"
    ]


@pytest.mark.parametrize("expression", [DEEP, LONG, CHAIN], ids=["nested", "digits", "chain"])
def test_the_command_says_it_in_one_line(
    expression: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    rb = minimal_runbook()
    rb["nodes"]["triage"]["prompt"] = "{{ " + expression + " }}"
    write(Path("rb.yaml"), rb)
    ran = run_cli(capsys, "validate", "rb.yaml")
    assert ran.status == 2
    assert "internal error" not in ran.out + ran.err
    assert "Traceback" not in ran.out + ran.err
    assert REASONS[expression] in ran.out + ran.err


@pytest.mark.parametrize("expression", [DEEP, LONG], ids=["nested", "digits"])
def test_rendering_and_evaluating_fail_as_templates(expression: str) -> None:
    context = {"inputs": {"model": "m"}}
    with pytest.raises(TemplateFailure, match="too"):
        render("{{ " + expression + " }}", context, "nodes.triage.prompt")
    with pytest.raises(TemplateFailure, match="too"):
        evaluate(expression, context, "nodes.branch.cases[0].when")


def test_blocks_nested_past_python_s_indents_are_refused_before_the_walk() -> None:
    nested = "{% if inputs.model %}" * 100 + "x" + "{% endif %}" * 100
    with pytest.raises(TemplateFailure, match="too deeply"):
        render(nested, {"inputs": {"model": "m"}}, "nodes.triage.prompt")
    assert "too deeply" in "".join(_findings(nested))


def test_a_deep_but_readable_template_is_fine() -> None:
    source = "{{ inputs.model" + " | string" * 60 + " }}" + "{% if inputs.model %}" * 40
    source += "x" + "{% endif %}" * 40
    assert _findings(source) == []
    assert render(source, {"inputs": {"model": "m"}}, "here") == "mx"


def _findings(source: str) -> list[str]:
    from aiir.validate.templates import template_hazard, template_references

    assert template_hazard(source) is None
    try:
        template_references(source)
    except TemplateFailure as exc:
        return [str(exc)]
    return []
