"""Jinja2 is imported only for a template the validator's own reader does not read
(:mod:`aiir.validate.template_reader`): ``aiir validate ONE.yaml`` paid ~18 ms for it, a
quarter of the floor (``bench.startup``), for one ``{% set %}{% if %}`` prompt."""

from __future__ import annotations

import subprocess
import sys

from tests.cli.test_startup import ONE, RUNBOOKS, loaded_by
from tests.validate.test_template_reader import ONE_PROMPT


def test_the_bench_runbook_is_validated_without_jinja2() -> None:
    assert "jinja2" not in loaded_by("validate", str(ONE))


def test_the_shipped_library_is_validated_without_jinja2() -> None:
    assert "jinja2" not in loaded_by("validate", str(RUNBOOKS))


def test_a_template_the_reader_does_not_read_still_goes_to_jinja2() -> None:
    references, imported = checked_alone("{% for x in inputs.items %}{{ x.name }}{% endfor %}")
    assert imported
    assert "Reference(namespace='inputs', name='items', line=1)" in references


def test_checking_the_bench_runbook_s_prompt_imports_no_jinja2() -> None:
    references, imported = checked_alone(ONE_PROMPT)
    assert not imported
    assert "Reference(namespace='levers', name=None, line=1)" in references


def checked_alone(source: str) -> tuple[str, bool]:
    """``source`` checked in a process of its own: the references it printed, and whether
    Jinja2 was imported."""
    code = (
        "import sys\n"
        "from aiir.validate.templates import template_hazard, template_references\n"
        f"source = {source!r}\n"
        "assert template_hazard(source) is None\n"
        "print(template_references(source))\n"
        "print('jinja2' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *printed, imported = ran.stdout.splitlines()
    return "\n".join(printed), imported == "True"
