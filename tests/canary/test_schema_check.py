"""The bounded schema check agrees with jsonschema's own draft 2020-12 wherever both finish."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from aiir.canary import schema_check

SCHEMAS: list[dict[str, Any]] = [
    {"properties": {"a": {"type": "integer"}}, "unevaluatedProperties": False},
    {"patternProperties": {"^x-": {"type": "string"}}, "unevaluatedProperties": False},
    {"allOf": [{"properties": {"a": True}}], "unevaluatedProperties": False},
    {
        "anyOf": [{"properties": {"a": {"const": 1}}}, {"properties": {"b": True}}],
        "unevaluatedProperties": False,
    },
    {
        "if": {"properties": {"kind": {"const": "k"}}},
        "then": {"properties": {"k": True}},
        "else": {"properties": {"e": True}},
        "unevaluatedProperties": False,
    },
    {"dependentSchemas": {"a": {"properties": {"b": True}}}, "unevaluatedProperties": False},
    {
        "$defs": {"base": {"properties": {"a": True}}},
        "$ref": "#/$defs/base",
        "unevaluatedProperties": {"type": "integer"},
    },
    {
        "properties": {"a": True},
        "additionalProperties": {"type": "integer"},
        "unevaluatedProperties": False,
    },
    {"patternProperties": {"^a": {}}, "additionalProperties": False, "properties": {"z": True}},
    {"properties": {"s": {"type": "string", "pattern": "^[0-9]+$"}}},
]
INSTANCES: list[Any] = [
    {},
    {"a": 1},
    {"a": 1, "b": 2},
    {"x-y": "s", "c": 1},
    {"kind": "k", "k": 1},
    {"kind": "z", "e": 1, "k": 1},
    {"a": 2, "b": "no"},
    {"ab": 1, "z": 1, "q": 1},
    {"s": "123"},
    {"s": "12a"},
    [1, 2],
    "text",
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[json.dumps(s)[:40] for s in SCHEMAS])
def test_it_judges_as_jsonschema_does(schema: dict[str, Any]) -> None:
    reference = Draft202012Validator(schema)
    check = schema_check.compiled(json.dumps(schema, sort_keys=True))
    for instance in INSTANCES:
        ours = check.best_match_error(instance) is None
        assert ours is reference.is_valid(instance), (schema, instance)
