"""A rule set's evaluations over time: one JSON Lines file per rule set, one line each.

The last line is what the next evaluation starts from (each rule's streak, its alert, the
incident it opened), so ``aiir detect`` run once a minute from cron counts ``for`` just as
``--every 1m`` does. Lines are appended with one ``write`` on an ``O_APPEND`` descriptor; a line
that does not parse (a crash mid-write) is skipped. Two processes evaluating one rule set take
turns (an exclusive lock beside the file), so neither pages or opens an incident on the strength
of a state the other has already moved on from. Practice (``--sandbox``) keeps its own history.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aiir.detect.verdicts import RuleState
from aiir.formats.paths import variable_path

HISTORY_VARIABLE = "AIIR_DETECT_HISTORY"
SANDBOX = "sandbox"
FORMAT = 1
TAIL_BYTES = 256 * 1024


def history_root(environ: Mapping[str, str], flag: Path | None, *, practice: bool) -> Path:
    """``--history-dir``, else ``$AIIR_DETECT_HISTORY``, else ``./.aiir/detect-history``;
    practice keeps its own under ``sandbox/``."""
    root = flag or variable_path(environ, HISTORY_VARIABLE) or Path(".aiir") / "detect-history"
    return root / SANDBOX if practice else root


class History:
    """The evaluations of one rule set."""

    def __init__(self, root: Path, rules_id: str) -> None:
        self.path = root / f"{rules_id}.jsonl"

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the rule set while one evaluation reads the last state and appends the next."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def states(self) -> dict[str, RuleState]:
        """Each rule's state after the last evaluation recorded."""
        last = _last(self.path)
        rules = last.get("rules") if last else None
        if not isinstance(rules, dict):
            return {}
        return {str(k): RuleState.of(v) for k, v in rules.items()}

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps({"v": FORMAT, **record}, ensure_ascii=False, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def _last(path: Path) -> dict[str, Any] | None:
    """The last whole line of the file that parses, read from its tail."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - TAIL_BYTES))
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    return None
