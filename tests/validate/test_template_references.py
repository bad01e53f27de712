"""The validator's own reading of templates (:mod:`aiir.validate.template_reader`) agrees with
Jinja2's parser, always (hypothesis' token soups; tests/validate/test_template_reader.py has
the grammar's)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiir.formats.templating import Reference, TemplateFailure, _parse, references
from aiir.validate import template_reading
from aiir.validate.template_hazards import hazard
from aiir.validate.template_reader import read
from aiir.validate.templates import template_hazard, template_references

PIECES = [
    "{{", "}}", "{{ ", " }}", "{%", "{#", "{", "}", " ", "\n", "\r\n", "-", "x", "a", "inputs",
    "answers", "model", "true", "None", "not ", "not", "in", " in ", " and ", "and", " or ",
    "index", "is", ".", ".b", ".if", ".0", "[", "]", "['k']", '["k"]', "[0]", "'s'", '"s"', "'",
    "1", "1.5", "==", "!=", "<", ">=", "|", "| urlencode", "|upper", "| nosuch", "(", ")", "~",
    "+", ",", "café", "._x", "['_k']", "'__'", "'a__b'", ".mro", "| attr", "| replace", "_",
]  # fmt: skip
soup = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)
EXPRESSION = [
    "inputs", "a", "model", "_x1", ".b", ".if", ".0", "['k']", '["k"]', "[0]", " == ", " != ",
    " < ", " and ", " or ", " in ", " not in ", "not ", "'s'", "1", "1.5", " | urlencode",
    "|upper", " | nosuch", "true", " ", "~", "(", ")", ".", " is ", "defined", "\n",
    "._x", "['_k']", "'__'", ".mro", ".gi_code", " | attr", " | replace", " | lower",
]  # fmt: skip
expressions = st.lists(st.sampled_from(EXPRESSION), min_size=1, max_size=6).map("".join)
printed = expressions.map(lambda expression: "{{ " + expression + " }}")
templates = st.lists(printed | st.sampled_from(["text ", "\n", "{", "}", "{%"]), max_size=5).map(
    "".join
)


def jinja(source: str, expression: bool) -> tuple[Reference, ...] | str:
    try:
        return tuple(references(source, expression=expression))
    except TemplateFailure:
        return "error"


def _simple_references(text: str) -> tuple[Reference, ...] | None:
    body = read(text)
    return None if body is None else template_reading.references(body)


def agrees(source: str, expression: bool) -> None:
    text = "{{ " + source + " }}" if expression else source
    fast = _simple_references(text)
    if fast is not None:
        assert fast == jinja(source, expression)


@settings(max_examples=1000, deadline=None)
@given(soup, st.booleans())
def test_fast_path_agrees_with_jinja_on_token_soup(source: str, expression: bool) -> None:
    agrees(source, expression)


@settings(max_examples=1000, deadline=None)
@given(templates)
def test_fast_path_agrees_with_jinja_on_templates(source: str) -> None:
    agrees(source, expression=False)


@settings(max_examples=1000, deadline=None)
@given(expressions)
def test_fast_path_agrees_with_jinja_on_expressions(source: str) -> None:
    agrees(source, expression=True)


@pytest.mark.parametrize(
    "source",
    [
        "plain text, no template",
        "{{ inputs.model }}",
        "Bearer {{ env.TOKEN }}",
        "{{ answers['confirm-injection'] }} and {{ vars.id | urlencode }}",
        "{{ a.b.c }} {{ bare }} {{ e['f'].g }}",
        "line one\n{{ inputs.model }}\r\n{{ other }}",
    ],
)
def test_simple_templates_take_the_fast_path(source: str) -> None:
    fast = _simple_references(source)
    assert fast is not None
    assert fast == tuple(references(source))


def test_simple_expressions_take_the_fast_path() -> None:
    source = "incident.severity == 'SEV1' and not answers.x in inputs.allowed"
    assert _simple_references("{{ " + source + " }}") == tuple(references(source, expression=True))


@pytest.mark.parametrize("source", ["{{ x | nosuch }}", "{{ a.0 }}", "{{ a + b }}"])
def test_anything_else_goes_to_jinja(source: str) -> None:
    assert _simple_references(source) is None


def test_syntax_errors_still_raise() -> None:
    with pytest.raises(TemplateFailure):
        template_references("{{ inputs.model ")
    with pytest.raises(TemplateFailure):
        template_references("inputs.model ==", expression=True)


def hazards_agree(source: str, expression: bool) -> None:
    """The validator's reading of a template's hazards is Jinja2's, read by Jinja2 or not
    (on the tree Jinja2 parsed: the references' compiling folds its constants, in place)."""
    _parse.cache_clear()
    assert template_hazard(source, expression=expression) == hazard(source, expression=expression)


@settings(max_examples=1000, deadline=None)
@given(soup, st.booleans())
def test_fast_hazards_agree_with_jinja_on_token_soup(source: str, expression: bool) -> None:
    hazards_agree(source, expression)


@settings(max_examples=1000, deadline=None)
@given(templates)
def test_fast_hazards_agree_with_jinja_on_templates(source: str) -> None:
    hazards_agree(source, expression=False)


@settings(max_examples=1000, deadline=None)
@given(expressions)
def test_fast_hazards_agree_with_jinja_on_expressions(source: str) -> None:
    hazards_agree(source, expression=True)


@pytest.mark.parametrize(
    "source",
    ["{{ inputs._x }}", "{{ a['_k'] }}", "{{ '__' }}", "{{ a.mro }}", "x {{ a | upper }} y"],
)
def test_simple_hazards_take_the_fast_path(source: str) -> None:
    assert read(source) is not None
    hazards_agree(source, expression=False)
