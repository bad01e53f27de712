"""JSON Schemas of aiir's document kinds, for editors and other tools."""

from __future__ import annotations

import json
from typing import Any

from aiir.errors import InputError
from aiir.formats.kinds import KINDS, model_of

SCHEMA_BASE = "https://aiir.dev/schemas"


def schema_of(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``kind``."""
    if kind not in KINDS:
        raise InputError(f"unknown document kind {kind!r}; choose one of: {', '.join(KINDS)}")
    schema = model_of(kind).model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}/{kind}.schema.json",
        **schema,
    }


def schema_text(kind: str) -> str:
    return json.dumps(schema_of(kind), indent=2, ensure_ascii=False) + "\n"
