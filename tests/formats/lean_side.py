"""Both sides of the lean models' differential test (tests/formats/test_lean.py): what
``aiir validate`` finds in each document, and the model each document makes, in a form two
processes can compare. Run as the lean side with ``python -c "from aiir.formats import lean;
lean.ON = True; from tests.formats.lean_side import main; main()"`` (paths on standard input, one
JSON line a path on standard output); the pydantic side calls :func:`judged` in the test's own
process."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Any


def dumped(value: Any) -> Any:
    """A model's values, whichever library made it, as JSON that says every type."""
    if hasattr(type(value), "model_fields"):
        fields = {name: dumped(v) for name, v in vars(value).items()}
        return {"model": type(value).__name__, "fields": fields}
    if isinstance(value, enum.Enum):
        return {"enum": type(value).__name__, "value": value.value}
    if isinstance(value, bool | int | float | str) or value is None:
        return {type(value).__name__: value if not isinstance(value, float) else repr(value)}
    if isinstance(value, list):
        return [dumped(v) for v in value]
    if isinstance(value, dict):
        return {"map": [[dumped(k), dumped(v)] for k, v in value.items()]}
    return {"other": type(value).__name__, "repr": repr(value)}


def judged(path: Path, unsure: type[BaseException] | None = None) -> dict[str, Any]:
    """What validation finds in ``path`` and the model its document makes (``unsure``: the lean
    side, where that exception means "pydantic must judge")."""
    from aiir.errors import AiirError
    from aiir.formats.includes import resolved
    from aiir.formats.kinds import detect_kind, model_of
    from aiir.formats.loader import load_file
    from aiir.formats.modeling import ValidationError
    from aiir.validate.documents import validate_paths

    caught: tuple[type[BaseException], ...] = (unsure,) if unsure is not None else ()
    out: dict[str, Any] = {}
    try:
        out["findings"] = [f.as_dict() for f in validate_paths([path]).findings]
    except caught as exc:
        out["findings"] = {"unsure": [str(a) for a in exc.args]}
    try:
        doc = load_file(path)
        kind = detect_kind(doc.data)
        if kind is not None and kind != "answers":
            data = resolved(doc).data if kind == "runbook" else doc.data
            out["model"] = dumped(model_of(kind).model_validate(data))
    except caught as exc:
        out["model"] = {"unsure": [str(a) for a in exc.args]}
    except (ValidationError, AiirError, RecursionError):
        out["model"] = "invalid"
    return out


def main() -> None:
    from aiir.formats import lean

    assert lean.ON, "run with aiir.formats.lean.ON set before anything imports the formats"
    for line in sys.stdin:
        print(json.dumps(judged(Path(line.rstrip("\n")), lean.Unsure)), flush=True)


def unsure(side: Any) -> bool:
    return isinstance(side, dict) and "unsure" in side
