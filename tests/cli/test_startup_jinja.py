"""Jinja2 is imported only for a template the validator's own reader does not read
(:mod:`aiir.validate.template_reader`): ``aiir validate ONE.yaml`` paid ~18 ms for it, a
quarter of the floor (``bench.startup``), for one ``{% set %}{% if %}`` prompt."""

from __future__ import annotations

import subprocess
import sys

from tests.cli.test_startup import ONE, RUNBOOKS, loaded_by


def test_the_bench_runbook_is_validated_without_jinja2() -> None:
    assert "jinja2" not in loaded_by("validate", str(ONE))


def test_the_shipped_library_is_validated_without_jinja2() -> None:
    assert "jinja2" not in loaded_by("validate", str(RUNBOOKS))


def test_a_template_the_reader_does_not_read_still_goes_to_jinja2() -> None:
    code = (
        "import sys\n"
        "from aiir.validate.templates import template_hazard, template_references\n"
        "source = '{% for x in inputs.items %}{{ x.name }}{% endfor %}'\n"
        "assert template_hazard(source) is None\n"
        "print(template_references(source))\n"
        "print('jinja2' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.splitlines()[-1] == "True"
    assert "Reference(namespace='inputs', name='items', line=1)" in ran.stdout
