"""The walk's template context: costly entries worked out only when a template reads them."""

from typing import Any

from aiir.engine.frames import TemplateContext


def test_an_entry_is_worked_out_once_and_only_when_read() -> None:
    made: list[str] = []

    def levers() -> list[str]:
        made.append("levers")
        return ["block"]

    context = TemplateContext({"inputs": {}}, {"levers": levers})
    assert made == []
    assert sorted(context) == ["inputs", "levers"]
    assert len(context) == 2
    assert context["levers"] == ["block"]
    assert context["levers"] == ["block"]
    assert made == ["levers"]


def test_a_value_set_replaces_the_one_to_be_worked_out() -> None:
    def never() -> Any:
        raise AssertionError("worked out although replaced")

    context = TemplateContext({}, {"vars": never})
    context["vars"] = {"hits": 3}
    assert {**context} == {"vars": {"hits": 3}}
    del context["vars"]
    assert "vars" not in context
    assert len(context) == 0


def test_jinja_reads_it_as_a_dictionary() -> None:
    from aiir.formats.templating import evaluate, render

    context = TemplateContext({"answers": {"ok": True}}, {"incident": lambda: {"id": "INC-1"}})
    assert render("{{ incident.id }}", context, "here") == "INC-1"
    assert evaluate("answers.ok and incident.id == 'INC-1'", context, "here")
