"""The template reader (:mod:`aiir.validate.template_reader`) and Jinja2 never disagree.

For every template it reads, the variables found and the hazard reported are the Jinja2 path's
(:func:`aiir.formats.templating.references`, :func:`aiir.validate.template_hazards.hazard`):
the same references in the same order with the same lines, the same message or None. A template
it does not read (``None``) goes to Jinja2. Checked on every template in the repository's YAML
and in the tests' strings, and on generated ones (:mod:`tests.validate.template_grammar`); more
by hand: ``AIIR_FUZZ_CASES=20000 AIIR_FUZZ_SEED=7 pytest tests/validate/test_template_reader.py``.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiir.formats.templating import (
    Reference,
    TemplateFailure,
    _parse,
    environment,
    is_template,
    references,
)
from aiir.validate import template_reading
from aiir.validate.filter_signatures import FILTERS, TESTS, spelled
from aiir.validate.template_hazards import _parameters, hazard
from aiir.validate.template_reader import read
from tests.validate.template_grammar import generated

ROOT = Path(__file__).resolve().parents[2]
CASES = int(os.environ.get("AIIR_FUZZ_CASES", "1500"))
SEED = int(os.environ.get("AIIR_FUZZ_SEED", "20261207"))
ONE_PROMPT = (
    "{% set held = levers | engaged %}{% if held %}With {{ held | map(attribute='lever') | "
    "join(' and ') }} in place{% else %}With no lever engaged{% endif %}, what happens on replay?"
)

Answer = tuple[tuple[Reference, ...] | str, str | None]


def jinja(source: str, expression: bool) -> Answer:
    """The Jinja2 path's answer, asked as the validator asks it: the hazard first, then the
    references (compiling the tree for them folds its constants, in place)."""
    _parse.cache_clear()
    problem = hazard(source, expression=expression)
    try:
        found: tuple[Reference, ...] | str = tuple(references(source, expression=expression))
    except TemplateFailure:
        found = "error"
    return found, problem


def reader(source: str, expression: bool) -> Answer | None:
    body = read("{{ " + source + " }}" if expression else source)
    if body is None:
        return None
    return template_reading.references(body), template_reading.hazard(body)


def disagreements(cases: list[tuple[str, bool]]) -> tuple[list[str], int]:
    """What the reader says that Jinja2 does not, and how many cases the reader read."""
    problems: list[str] = []
    read_count = 0
    for source, expression in cases:
        ours = reader(source, expression)
        if ours is None:
            continue
        read_count += 1
        theirs = jinja(source, expression)
        if ours != theirs:
            problems.append(f"{source!r} (expression={expression}): {ours} != Jinja2's {theirs}")
    return problems, read_count


# --- the templates the repository holds --------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@functools.cache
def repository_templates() -> list[str]:
    """Every string with a tag in it in the repository's YAML files and in the tests' and the
    package's Python strings (where the hostile ones are)."""
    found: dict[str, None] = {}
    for folder in ("runbooks", "examples", "templates", "aiir", "tests"):
        for path in sorted((ROOT / folder).rglob("*.y*ml")):
            try:
                documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except (yaml.YAMLError, UnicodeDecodeError, ValueError):
                continue
            for document in documents:
                found.update(dict.fromkeys(s for s in _strings(document) if is_template(s)))
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                text = node.value if isinstance(node, ast.Constant) else None
                if isinstance(text, str) and is_template(text) and len(text) < 5000:
                    found[text] = None
    return list(found)


def test_the_repository_s_templates_read_as_jinja2_reads_them() -> None:
    cases = [(s, False) for s in repository_templates()]
    cases += [(s, True) for s in repository_templates()]
    problems, read_count = disagreements(cases)
    assert not problems, "\n".join(problems)
    assert len(cases) > 400
    assert read_count > len(cases) // 4  # it reads a good part of them: the test tests it


def test_every_shipped_runbook_template_is_read_without_jinja2() -> None:
    for path in sorted((ROOT / "runbooks").glob("*.yaml")):
        for source in _strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if is_template(source):
                assert read(source) is not None, f"{path.name}: {source!r}"


# --- generated templates ----------------------------------------------------------------------


@pytest.mark.parametrize("part", range(5))
def test_generated_templates_read_as_jinja2_reads_them(part: int) -> None:
    cases = generated(CASES // 5, SEED + part)
    problems, read_count = disagreements(cases)
    assert not problems, "\n".join(problems[:20])
    assert read_count > len(cases) // 5


# --- what Jinja2 says of particular ones --------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        ONE_PROMPT,
        "{{ held }}{% set held = levers | engaged %}{{ held.x }}",  # read before its set: free
        "{% set x = 1 %}{{ x.y }}",
        "{% if a %}{% set x = 1 %}{% endif %}{{ x.y }}",  # set in one branch: the context's too
        "{% if a %}{% set x = 1 %}{% else %}{% set x = 2 %}{% endif %}{{ x }}",
        "{% if a %}{{ b }}{% elif c.d %}{% set b = 1 %}{{ b }}{% else %}{{ e['f'] }}{% endif %}",
        "{%- if a -%}\n  {{- b.c -}}\n{%- endif -%}",
        "{# {{ hidden }} #}{{ shown }}{#- x -#}",
        "{{ a\n.\nb }}\n{{ c\n[\n'd'\n] }}",
        "{{ x if y.z else w }}{{ p if q }}",
        "{{ 'a' 'b' }}{{ x | join(', ') or 'none' }}{{ (a, b) }}{{ [a, [b.c]] }}",
        "{{ a is defined and b is not none }}{{ c is divisibleby 3 }}{{ d is sameas e.f }}",
        "{{ x | replace('a') }}{{ y | upper(1) }}{{ z | sort(attribute='_p') }}",
        "{{ x | map('nosuch') }}{{ y | select('odd', 1) }}{{ z | map(attr) }}",
        "{{ x[y ~ '_z'] }}{{ '__' }}{{ w._v }}{{ a[b] }}{{ c[d, 'e'] }}",
        "{{ x | attr('mro') }}{{ y | map('attr', '__class__') }}{{ z | selectattr(name) }}",
        "{{ a | join(d=',', attribute='x.y,_z') }}{{ b | groupby('a.__b__') }}",
        "{{ in }}{{ endif }}{{ not not a }}{{ a not in b }}",
        "{{ a" + " | upper" * 55 + " }}" + "{% if b %}" * 20 + "{% endif %}" * 20,
    ],
)
def test_particular_templates_read_as_jinja2_reads_them(source: str) -> None:
    ours = reader(source, expression=False)
    assert ours is not None
    assert ours == jinja(source, expression=False)


@pytest.mark.parametrize(
    "source",
    [
        "{{ a + 1 }}", "{{ f(x) }}", "{{ {'a': 1} }}", "{{ x[1:2] }}", "{{ 'a\\'b' }}",
        "{% for x in y %}{% endfor %}", "{% raw %}{{ x }}{% endraw %}", "{{ x | nosuch }}",
        "{% if a %}", "{{ a", "{{ self }}", "{{ café }}", "{{ a.0 }}", "{% set a.b = 1 %}",
        "{% set x %}y{% endset %}", "{{ x | map(*y) }}", "{{ 1e3 }}", "{# open",
        "{{ x['_' ~ 'y'] }}", "{{ 'a' | upper }}", "{{ None.x and y }}", "{{ 'a' if true else y }}",
        "{{ a" + " | upper" * 70 + " }}", "{% if a %}" * 70 + "{% endif %}" * 70,
    ],
)  # fmt: skip
def test_what_it_does_not_read_goes_to_jinja2(source: str) -> None:
    assert read(source) is None


def test_the_signature_table_is_the_environment_s() -> None:
    env = environment()
    assert {name: spelled(_parameters(f)) for name, f in env.filters.items()} == FILTERS
    assert {name: spelled(_parameters(f)) for name, f in env.tests.items()} == TESTS
