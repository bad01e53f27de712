"""Findings: what validation says about a document, each pinned to ``file:line:col``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar

from aiir.errors import LoadError, clipped
from aiir.formats.common import NODE_KINDS
from aiir.formats.loader import Document, breadcrumb
from aiir.formats.modeling import BaseModel, ValidationError

NODE_KINDS_SET = frozenset(NODE_KINDS)

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]  # where in a document: keys and list indexes

Level = Literal["error", "warning"]

# Friendlier words for the patterns in aiir.formats.schema than "String should match pattern '^…$'".
_PATTERNS = {
    "^[a-z0-9][a-z0-9_-]*$": "must be lower-case letters, digits, '-' or '_' (e.g. 'block-key')",
    "^[A-Z_][A-Z0-9_]*$": "must be an environment variable name (e.g. 'LITELLM_MASTER_KEY')",
    "^[a-z0-9][a-z0-9_-]*\\.[a-z0-9][a-z0-9_-]*$": "must be 'profile.action' (litellm.block_key)",
    "^LLM(0[1-9]|10):20[0-9]{2}$": "must be an OWASP LLM Top 10 id with edition (e.g. LLM01:2025)",
    "^AML\\.T[0-9]{4}(\\.[0-9]{3})?$": "must be a MITRE ATLAS technique id (e.g. AML.T0051.000)",
    "^[0-9]{1,6}(s|m|h|d)$": "must be a duration such as 30s, 15m, 2h or 1d (at most 6 digits)",
    "^([a-z0-9][a-z0-9_-]*|[^\\x00-\\x1f]+\\.ya?ml)$": (
        "is neither a runbook id nor a path: use the runbook id (e.g. 'triage') "
        "or a path ending in .yaml (e.g. 'shared/evidence.yaml')"
    ),
    "^[0-9]+(\\.[0-9]+){0,2}$": "must be a version such as 1.2.0",
}

# What a type error expected, in YAML words rather than pydantic's ("Input should be a valid …").
_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
}


@dataclass(frozen=True)
class Finding:
    """One problem found in one document."""

    path: str
    line: int
    col: int
    level: Level
    code: str
    message: str
    breadcrumb: str = ""

    def render(self) -> str:
        """One line, whatever the document held: control characters are shown escaped, a long
        value quoted in it kept by its two ends."""
        where = f"{self.breadcrumb}: " if self.breadcrumb else ""
        line = f"{self.path}:{self.line}:{self.col}: {self.level}: {where}{self.message}"
        return clipped(printable(line))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def printable(text: str) -> str:
    """``text`` with newlines, escape sequences and other unprintables as Python escapes."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def at(
    doc: Document,
    loc: Sequence[str | int],
    code: str,
    message: str,
    *,
    level: Level = "error",
    key: bool = False,
) -> Finding:
    """A finding located at ``loc`` inside ``doc``."""
    line, col = doc.locate(loc, key=key)
    return Finding(doc.path, line, col, level, code, message, breadcrumb(loc))


def from_load_error(exc: LoadError) -> Finding:
    return Finding(exc.path, exc.line, exc.col, "error", "load", exc.message, exc.breadcrumb)


def parse(doc: Document, model: type[M]) -> M:
    """Validate ``doc`` against ``model``; the first problem is raised as a located error."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        first = schema_findings(doc, exc)[0]
        raise LoadError(
            first.path, first.line, first.col, first.message, first.breadcrumb
        ) from None


def schema_findings(doc: Document, exc: ValidationError) -> list[Finding]:
    """Map pydantic's errors back to the YAML: one finding per distinct location."""
    groups: dict[tuple[str | int, ...], list[Any]] = {}
    for error in exc.errors(include_url=False):
        # A union reports once per member, all at the same place in the document.
        groups.setdefault(_data_loc(doc.data, error["loc"]), []).append(error)
    return [_finding(doc, loc, errors) for loc, errors in groups.items()]


def _finding(doc: Document, loc: tuple[str | int, ...], errors: list[Any]) -> Finding:
    error = errors[0]
    kind = error["type"]
    if kind in _EXPECTED:
        wanted = list(dict.fromkeys(_EXPECTED[e["type"]] for e in errors if e["type"] in _EXPECTED))
        expected = ", ".join(wanted[:-1]) + f" or {wanted[-1]}" if len(wanted) > 1 else wanted[0]
        return at(doc, loc, "schema", f"expected {expected}, got {_shown(error['input'])}")
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return at(doc, loc[:-1], "schema", f"missing required field {str(loc[-1])!r}", key=True)
    if kind == "extra_forbidden":
        message = f"unknown field {str(loc[-1])!r}"
        cut = doc.cut_by_comma(loc)
        if cut is not None:
            name, value = cut
            quoted = value.replace("\\", "\\\\").replace('"', '\\"')
            message += (
                f": an unquoted comma inside {{...}} ended the value of {name!r} before it; "
                f'quote that value ({name}: "{quoted}")'
            )
        return at(doc, loc, "schema", message, key=True)
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        expected = ", ".join(NODE_KINDS)
        if kind == "union_tag_not_found":
            return at(doc, loc, "schema", f"missing 'kind': one of {expected}", key=True)
        given = error.get("ctx", {}).get("tag", "?")
        return at(doc, (*loc, "kind"), "schema", f"unknown node kind {given!r}: one of {expected}")
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        message = _PATTERNS.get(pattern, message)
        return at(doc, loc, "schema", f"{error['input']!r} {message}")
    if kind in {"literal_error", "enum"}:
        message = f"{error['input']!r}: {message[0].lower()}{message[1:]}"
    elif kind == "too_short":
        ctx = error.get("ctx", {})
        message = f"needs at least {ctx.get('min_length')} item(s), has {ctx.get('actual_length')}"
    return at(doc, loc, "schema", message)


def _shown(value: Any) -> str:
    """A YAML value as a reader would name it: ``the number 42``, ``a list``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _data_loc(data: Any, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """Drop the parts of pydantic's location that are not in the document (union members)."""
    out: list[str | int] = []
    current = data
    tags = NODE_KINDS_SET
    for part in loc:
        if isinstance(current, dict):
            if current.get("kind") == part and part in tags:
                tags = frozenset()  # the discriminated union's tag comes once, first
                continue
            if part in current:
                out.append(part)
                current = current[part]
                tags = NODE_KINDS_SET
            elif _looks_like_type(part):
                continue
            else:
                out.append(part)  # a missing or extra key: keep it, nothing below it exists
                current = None
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            out.append(part)
            current = current[part]
        elif isinstance(part, str) and _looks_like_type(part):
            continue
        else:
            out.append(part)
            current = None
    return tuple(out)


def _looks_like_type(part: str | int) -> bool:
    return isinstance(part, str) and (
        part in {"str", "int", "float", "bool", "none", "list", "dict"}
        or "[" in part
        or part.startswith(("function-", "literal"))
    )


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
