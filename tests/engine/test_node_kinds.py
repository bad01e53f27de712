"""Node kinds in one place: every kind a runbook may use has its handler in the engine's registry,
and every node model says its own edges."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from aiir.engine.nodes import HANDLERS, handler_for
from aiir.engine.nodes.registry import handles
from aiir.formats.common import NODE_KINDS
from aiir.formats.schema import Edge, Node


def node_models() -> list[type[BaseModel]]:
    union = typing.get_args(Node)[0]
    return list(typing.get_args(union))


def test_every_node_kind_has_exactly_one_handler() -> None:
    models = node_models()
    assert sorted(m.model_fields["kind"].annotation.__args__[0] for m in models) == sorted(  # type: ignore[union-attr]
        NODE_KINDS
    )
    assert set(HANDLERS) == set(models)


def test_a_node_of_no_known_kind_is_refused_by_name() -> None:
    class Strange(BaseModel):
        pass

    with pytest.raises(TypeError, match="no handler for Strange nodes"):
        handler_for(Strange())


def test_a_kind_is_handled_in_one_place_only() -> None:
    with pytest.raises(ValueError, match="QuestionNode already has a handler"):
        handles(node_models()[0])(lambda walk, frame, node_id, node: "x")


def parse(data: dict[str, object]) -> BaseModel:
    from pydantic import TypeAdapter

    adapter: TypeAdapter[BaseModel] = TypeAdapter(Node)
    return adapter.validate_python({"title": "t", **data})


def test_each_model_says_its_edges_with_their_labels_and_places() -> None:
    question = parse(
        {
            "kind": "question",
            "prompt": "?",
            "choices": [
                {"label": "A", "value": "a", "next": "n1"},
                {"label": "B", "value": "b", "next": "n2"},
            ],
        }
    )
    assert question.edges() == [  # type: ignore[attr-defined]
        Edge("A", ("choices", 0, "next"), "n1"),
        Edge("B", ("choices", 1, "next"), "n2"),
    ]
    confirm = parse({"kind": "confirm", "prompt": "?", "yes": "y", "no": "n"})
    assert confirm.edges() == [Edge("yes", ("yes",), "y"), Edge("no", ("no",), "n")]  # type: ignore[attr-defined]
    branch = parse({"kind": "branch", "cases": [{"when": "x", "next": "a"}], "default": "b"})
    assert branch.edges() == [  # type: ignore[attr-defined]
        Edge("x", ("cases", 0, "next"), "a"),
        Edge("otherwise", ("default",), "b"),
    ]
    action = parse(
        {
            "kind": "action",
            "request": {"method": "GET", "path": "/x"},
            "next": "a",
            "on_failure": "b",
        }
    )
    assert action.edges() == [Edge("", ("next",), "a"), Edge("on failure", ("on_failure",), "b")]  # type: ignore[attr-defined]
    assert parse({"kind": "end", "outcome": "contained"}).edges() == []  # type: ignore[attr-defined]


def test_the_new_kinds_say_their_edges() -> None:
    wait = parse(
        {
            "kind": "wait",
            "request": {"method": "GET", "path": "/x"},
            "deadline": "1h",
            "next": "a",
            "on_timeout": "b",
        }
    )
    assert wait.edges() == [Edge("", ("next",), "a"), Edge("on timeout", ("on_timeout",), "b")]  # type: ignore[attr-defined]
    release = parse({"kind": "release", "lever": "l", "next": "a", "on_failure": "b"})
    assert release.edges() == [  # type: ignore[attr-defined]
        Edge("", ("next",), "a"),
        Edge("on failure", ("on_failure",), "b"),
    ]
    assert parse({"kind": "set", "values": {"x": "1"}, "next": "a"}).edges() == [  # type: ignore[attr-defined]
        Edge("", ("next",), "a")
    ]
    choices = [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}]
    multi = parse({"kind": "multiselect", "prompt": "?", "choices": choices, "next": "a"})
    assert multi.edges() == [Edge("", ("next",), "a")]  # type: ignore[attr-defined]


def test_every_node_states_a_visit_limit_or_takes_the_default() -> None:
    from aiir.formats.schema import DEFAULT_MAX_VISITS

    end = parse({"kind": "end", "outcome": "resolved"})
    assert end.visit_limit() == DEFAULT_MAX_VISITS == 5  # type: ignore[attr-defined]
    bounded = parse({"kind": "end", "outcome": "resolved", "max_visits": 12})
    assert bounded.visit_limit() == 12  # type: ignore[attr-defined]
