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
BRACKETED = "its brackets nest too deeply to read (more than 40 within each other)"
REASONS = {
    CHAIN: TOO_DEEP,
    DEEP: BRACKETED,
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


def _nest(depth: int, opening: str = "(", closing: str = ")") -> str:
    return opening * depth + "inputs.model" + closing * depth


@pytest.mark.parametrize("limit", [None, 100_000], ids=["default", "raised"])
@pytest.mark.parametrize("stack", [0, 300], ids=["shallow", "deep"])
def test_brackets_get_one_answer_whoever_asks(
    limit: int | None, stack: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parentheses leave nothing in Jinja2's tree: whether 60 of them parsed depended on the
    Python stack its caller had used and on the recursion limit (a library in the test suite
    raised it, and the whole suite then found the template valid that a test alone refused).
    40 brackets read, 41 are refused, by validate, render and evaluate alike."""
    import sys

    from aiir.formats import templating
    from aiir.validate import template_reader

    for cached in (templating._compiled, templating._expression, templating._parse):
        cached.cache_clear()  # an earlier parametrization's answer must not stand in
    template_reader.read.cache_clear()
    monkeypatch.chdir(tmp_path)
    context = {"inputs": {"model": "m"}}

    def ask(depth: int) -> tuple[str, ...]:
        if depth == 0:
            answers = []
            for nested in (_nest(40), _nest(41), _nest(41, "[", "]")):
                rb = minimal_runbook()
                rb["nodes"]["triage"]["prompt"] = "{{ " + nested + " }}"
                write(Path("rb.yaml"), rb)
                answers.append("; ".join(f.message for f in validate_paths(["rb.yaml"]).findings))
                for call, source in ((render, "{{ " + nested + " }}"), (evaluate, nested)):
                    try:
                        answers.append(repr(call(source, context, "here")))
                    except TemplateFailure as exc:
                        answers.append(str(exc))
            return tuple(answers)
        return ask(depth - 1)

    was = sys.getrecursionlimit()
    sys.setrecursionlimit(limit or was)
    try:
        answers = ask(stack)
    finally:
        sys.setrecursionlimit(was)
    assert answers[:3] == ("", "'m'", "'m'")
    for answer in answers[3:]:
        assert BRACKETED in answer
    assert answers[6].endswith(BRACKETED)  # a list in lists, as deep


def test_brackets_in_the_text_around_tags_are_not_counted() -> None:
    sad = "It broke :( " * 100 + "{ [ " * 50 + "{{ inputs.model }}"
    assert _findings(sad) == []
    assert render(sad, {"inputs": {"model": "m"}}, "here").endswith("{ [ m")


def _findings(source: str) -> list[str]:
    from aiir.validate.templates import template_hazard, template_references

    assert template_hazard(source) is None
    try:
        template_references(source)
    except TemplateFailure as exc:
        return [str(exc)]
    return []
