"""A request as a person reads it: placeholders for values no reply has given yet shown as
written, also where a path template percent-encoded them."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

_QUOTED_PLACEHOLDER = re.compile(r"%3Csaved%20by%20[A-Za-z0-9_%.-]*?%3E")


def readable(text: str) -> str:
    """A placeholder for a value no reply has given yet, as the operator reads it, also where
    a path template percent-encoded it."""
    return _QUOTED_PLACEHOLDER.sub(lambda m: urllib.parse.unquote(m.group()), text)


def full_request(summary: dict[str, Any]) -> str:
    """A request as the journal keeps it, indented: what ``d`` shows at a lever's question."""
    return readable(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
