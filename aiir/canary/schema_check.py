"""An ``is-json`` assertion's JSON Schema (draft 2020-12), checked against a model's reply with
every pattern matched in bounded time.

jsonschema matches ``pattern``, ``patternProperties``, ``additionalProperties`` and the keys
``unevaluatedProperties`` leaves with Python's ``re``, which can backtrack for ever on hostile
output (``^(a+)+$`` against ``'a' * 50 + '!'``). Those keywords are replaced here by versions that
match with :mod:`aiir.formats.patterns`: a match past its time limit raises
:class:`~aiir.formats.patterns.PatternTooSlow`, which fails the assertion with that reason.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

from aiir.formats import patterns


class SchemaCheck:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.validator = _bounded_validator()(schema)

    def best_match_error(self, data: Any) -> tuple[str, str] | None:
        """The most telling error, as its message and where it is (a JSON path), or None."""
        from jsonschema.exceptions import best_match

        error = best_match(self.validator.iter_errors(data))
        if error is None:
            return None
        return error.message, "/".join(str(p) for p in error.absolute_path) or "(root)"


@functools.lru_cache(maxsize=64)
def compiled(schema: str) -> SchemaCheck:
    """The check of a schema given as canonical JSON text (so that it can be cached)."""
    return SchemaCheck(json.loads(schema))


def _matches(wanted: Any, key: str) -> bool:
    return patterns.search(wanted, key) is not None


def _pattern(validator: Any, wanted: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _matches(wanted, instance):
        yield ValidationError(f"{instance!r} does not match {wanted!r}")


def _pattern_properties(validator: Any, wanted: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for each, subschema in wanted.items():
        for key, value in instance.items():
            if _matches(each, key):
                yield from validator.descend(value, subschema, path=key, schema_path=each)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    named, matched = schema.get("properties", {}), list(schema.get("patternProperties", {}))
    extras = sorted(
        (k for k in instance if k not in named and not any(_matches(p, k) for p in matched)),
        key=str,
    )
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        yield ValidationError(
            f"Additional properties are not allowed ({', '.join(map(repr, extras))} unexpected)"
        )


def _unevaluated_properties(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    """jsonschema's own, but for the keys it finds evaluated (:func:`_evaluated_keys`)."""
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    evaluated = set(_evaluated_keys(validator, instance, schema))
    left = [
        key
        for key in instance
        if key not in evaluated
        and any(True for _ in validator.descend(instance[key], unevaluated, path=key))
    ]
    if not left:
        return
    shown = ", ".join(map(repr, sorted(left, key=str)))
    if unevaluated is False:
        yield ValidationError(f"Unevaluated properties are not allowed ({shown} unexpected)")
    else:
        yield ValidationError(
            "Unevaluated properties are not valid under the given schema "
            f"({shown} unevaluated and invalid)"
        )


def _valid(errors: Iterator[Any]) -> bool:
    return next(errors, None) is None


def _evaluated_keys(validator: Any, instance: Any, schema: Any) -> list[str]:
    """The keys of ``instance`` that ``schema`` evaluates (as jsonschema's
    ``find_evaluated_property_keys_by_schema``), with ``patternProperties`` matched in bounded
    time."""
    if validator.is_type(schema, "boolean"):
        return []
    keys: list[str] = []
    for keyword in ("$ref", "$dynamicRef"):
        if (ref := schema.get(keyword)) is not None:
            resolved = validator._resolver.lookup(ref)
            deeper = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
            keys += _evaluated_keys(deeper, instance, resolved.contents)
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys += properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is not None:
            keys += (k for k, v in instance.items() if _valid(validator.descend(v, subschema)))
    for pattern in schema.get("patternProperties", {}):
        keys += (key for key in instance if _matches(pattern, key))
    for key, subschema in schema.get("dependentSchemas", {}).items():
        if key in instance:
            keys += _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if _valid(validator.descend(instance, subschema)):
                keys += _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys += _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys += _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys += _evaluated_keys(validator, instance, schema["else"])
    return keys


@functools.lru_cache(maxsize=1)
def _bounded_validator() -> Any:
    """Draft 2020-12 with the keywords that match patterns replaced by bounded ones."""
    from jsonschema import Draft202012Validator, validators

    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
        "unevaluatedProperties": _unevaluated_properties,
    }
    return validators.extend(Draft202012Validator, keywords)  # type: ignore[no-untyped-call]
