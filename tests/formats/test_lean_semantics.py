"""The lean models' reading of pydantic's declarations, edge by edge: each model below is made
twice from one class statement, with pydantic and with aiir.formats.lean, and every input the
lean one takes is one pydantic takes with the same values (tests/formats/test_lean.py does the
same over the real formats)."""

# No ``from __future__ import annotations``: the models are made inside a function, where a
# string annotation could not be read by either library.
import enum
from types import SimpleNamespace
from typing import Annotated, Any, Literal

import pydantic
import pytest

from aiir.formats import lean


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


def _made(kit: Any) -> Any:
    """One set of models, made with ``kit`` (pydantic's names or lean's)."""
    Exact = kit.Strict

    class Closed(kit.BaseModel):  # type: ignore[misc]  # either library
        model_config = kit.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    class Inner(Closed):
        n: Annotated[int, Exact()] = kit.Field(default=1, ge=1, le=10)

    class Model(Closed):
        name: Annotated[str, kit.Field(pattern=r"^[a-z]+$", max_length=8)]
        short: Annotated[str, kit.Field(max_length=10)] = kit.Field(default="", max_length=5)
        long: Annotated[str, kit.Field(max_length=5)] = kit.Field(default="", max_length=10)
        ratio: float = 0.5
        exact: Annotated[float, Exact()] | None = kit.Field(default=None, gt=0)
        mixed: str | int | float | bool | None = None
        colour: Colour = Colour.RED
        kind: Literal["a", "b"] = "a"
        items: list[Inner] = kit.Field(default_factory=list, max_length=2)
        table: dict[Annotated[str, kit.Field(pattern=r"^[A-Z]+$")], int] = kit.Field(
            default_factory=dict
        )
        body: Any = kit.Field(default=None, alias="json")
        tags: list[str] = []  # noqa: RUF012 - a mutable default, which pydantic copies

        @kit.model_validator(mode="after")  # type: ignore[untyped-decorator]
        def _not_both(self) -> Any:
            if self.body is not None and self.tags:
                raise ValueError("body or tags")
            return self

    return SimpleNamespace(Model=Model, Inner=Inner)


PYDANTIC = _made(pydantic)
LEAN = _made(lean)

INPUTS: list[dict[str, Any]] = [
    {"name": "abc"},
    {"name": "abc\n"},
    {"name": "ab c"},
    {"name": "é"},
    {"name": "abcdefghi"},
    {"name": 5},
    {},
    {"name": "a", "extra": 1},
    {"name": "a", "short": "abcdef"},  # 6: over the field's 5, under the alias's 10
    {"name": "a", "short": "abcd"},
    {"name": "a", "long": "abcdef"},
    {"name": "a", "ratio": 1},
    {"name": "a", "ratio": True},
    {"name": "a", "ratio": "1.5"},
    {"name": "a", "ratio": float("nan")},
    {"name": "a", "exact": 2},
    {"name": "a", "exact": 0},
    {"name": "a", "exact": 2**60},
    {"name": "a", "mixed": 1},
    {"name": "a", "mixed": 1.0},
    {"name": "a", "mixed": True},
    {"name": "a", "mixed": "x"},
    {"name": "a", "mixed": [1]},
    {"name": "a", "colour": "blue"},
    {"name": "a", "colour": "BLUE"},
    {"name": "a", "kind": "b"},
    {"name": "a", "kind": "c"},
    {"name": "a", "items": [{}, {"n": 3}]},
    {"name": "a", "items": [{}, {}, {}]},
    {"name": "a", "items": [{"n": True}]},
    {"name": "a", "items": [{"n": 11}]},
    {"name": "a", "items": [{"n": 2.0}]},
    {"name": "a", "table": {"AB": 1}},
    {"name": "a", "table": {"ab": 1}},
    {"name": "a", "table": {1: 1}},
    {"name": "a", "json": {"x": [1, 2]}},
    {"name": "a", "body": {"x": 1}},
    {"name": "a", "json": 1, "body": 2},
    {"name": "a", "json": 1, "tags": ["t"]},
    {"name": "a", "tags": ["t"]},
    {"name": "a", "tags": "t"},
]


def _values(model: Any) -> Any:
    if hasattr(type(model), "model_fields"):
        return (type(model).__name__, {k: _values(v) for k, v in vars(model).items()})
    if isinstance(model, list):
        return [_values(v) for v in model]
    if isinstance(model, dict):
        return {k: _values(v) for k, v in model.items()}
    return (type(model).__name__, model)


@pytest.mark.parametrize("data", INPUTS, ids=repr)
def test_what_the_lean_model_takes_pydantic_takes_alike(data: dict[str, Any]) -> None:
    try:
        made = LEAN.Model.model_validate(data)
    except lean.Unsure:
        return  # pydantic judges it
    assert _values(made) == _values(PYDANTIC.Model.model_validate(data))
    assert made.model_fields_set == PYDANTIC.Model.model_validate(data).model_fields_set


def test_it_vouches_for_the_plain_cases() -> None:
    made = LEAN.Model.model_validate({"name": "abc", "ratio": 1, "items": [{}], "json": [1]})
    assert (made.ratio, type(made.ratio), made.items[0].n, made.body) == (1.0, float, 1, [1])
    assert made == LEAN.Model.model_validate(
        {"name": "abc", "ratio": 1.0, "items": [{"n": 1}], "json": [1]}
    )
    assert LEAN.Inner() == LEAN.Inner.model_validate({})
    with pytest.raises(TypeError):
        made.name = "other"  # frozen, as pydantic's


def test_a_declaration_it_does_not_read_leaves_every_document_to_pydantic() -> None:
    class Wrapped(lean.BaseModel):
        model_config = lean.ConfigDict(extra="allow")
        x: int = 0

    with pytest.raises(lean.Unsure):
        Wrapped.model_validate({"x": 1})
