"""How answers are written (an ``--answers`` file, a scenario's answers): the spellings of a yes or
a no. Which node takes which answer is checked in :mod:`aiir.validate.answers`."""

from __future__ import annotations

from typing import Any

from aiir.errors import InputError


def as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"yes", "y", "true", "1"}:
        return True
    if text in {"no", "n", "false", "0"}:
        return False
    raise InputError(f"--answers: {key}: {value!r} is not yes or no")
