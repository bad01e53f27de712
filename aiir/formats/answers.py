"""How answers are written (an ``--answers`` file, a scenario's answers): the spellings of a yes or
a no, and a list of answers for a node met in a loop. Which node takes which answer is checked in :mod:`aiir.validate.answers`."""

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


# Questions whose one answer is already a list: a list holding lists answers them once per visit.
LIST_ANSWERS = frozenset({"checklist", "choose_many"})
# ``NODE.send_offline``: a request of this node sent although the shared store has not answered
# the walker for longer than its lease (another responder may hold the incident). Only an
# answer naming it, or the operator at the terminal, sends it; ``--yes`` does not.
SEND_OFFLINE = "send_offline"
SENDING_KINDS = frozenset({"lever", "release", "action", "capture", "wait", "notify"})


def lap_answer(value: Any, how: str, lap: int) -> tuple[bool, Any]:
    """The scripted answer for visit ``lap`` (from 0) of a question: ``(False, None)`` when a
    list of answers (one per visit of a node in a loop) has none left. One answer, not a list,
    answers every visit."""
    listed = isinstance(value, list) and (
        how not in LIST_ANSWERS or any(isinstance(v, list) for v in value)
    )
    if not listed:
        return True, value
    return (True, value[lap]) if lap < len(value) else (False, None)


def repeated(picked: list[str]) -> str | None:
    """The first choice or item a list answer names twice: a slip, not a stronger answer."""
    return next((v for i, v in enumerate(picked) if v in picked[:i]), None)
