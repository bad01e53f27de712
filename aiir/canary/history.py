"""A suite's telemetry over time: one JSON Lines file per suite, one line per run.

Each line holds the run's samples per signal (pooled, and per prompt under ``prompts``), the
models its replies named, its failures in brief, its drift verdicts and the state of its alert,
so that the next run knows which alert to resolve. Lines are appended with one ``write`` on an
``O_APPEND`` descriptor; a line that does not parse (a run cut short by a crash) is skipped when
reading. Lines written before samples were kept per prompt are no baseline: drift is judged per
prompt, and the baseline fills again within ``window`` runs.

Practice is kept apart: runs against the simulated gateway (``--sandbox``) keep their history
under ``sandbox/`` in the history directory, so a drill never becomes what "normal" looks like
for the real target.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiir.canary.drift import SIGNALS, Baseline
from aiir.formats.paths import variable_path
from aiir.outbound.alerting import AlertState

HISTORY_VARIABLE = "AIIR_CANARY_HISTORY"
SANDBOX = "sandbox"  # the subdirectory of sandbox runs' history
FORMAT = 1
TAIL_BYTES = 8 * 1024 * 1024  # a canary every minute for months: only the recent runs are read


def history_root(environ: Mapping[str, str], flag: Path | None = None) -> Path:
    """``--history-dir``, else ``$AIIR_CANARY_HISTORY``, else ``./.aiir/canary-history``.

    Sandbox runs keep theirs in its ``sandbox/`` subdirectory (:func:`practice_root`).
    """
    return flag or variable_path(environ, HISTORY_VARIABLE) or Path(".aiir") / "canary-history"


def practice_root(root: Path) -> Path:
    """Where sandbox runs keep their history: apart from the real target's."""
    return root / SANDBOX


class History:
    """The runs of one suite, oldest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []

    @classmethod
    def of(cls, root: Path, suite: str) -> History:
        history = cls(root / f"{suite}.jsonl")
        history.records = list(_read(history.path))
        return history

    def for_target(self, key: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("target", {}).get("key") == key]

    def baseline(self, key: str, window: int) -> Baseline:
        """Samples per prompt and models named, from the last ``window`` passing runs of ``key``.

        A failing run (a leak, an outage, drift) is not what normal looks like: kept out, the
        baseline still tells when the target is back to normal. Nor does a passing run in which
        a signal moved by its minimum without the evidence (``"baseline": false``), nor a run
        recorded without samples per prompt (an older line).
        """
        clean = [
            r
            for r in self.for_target(key)
            if r.get("ok") and r.get("baseline", True) and isinstance(r.get("prompts"), dict)
        ][-window:]
        baseline = Baseline(runs=len(clean))
        for record in clean:
            for prompt, signals in record["prompts"].items():
                if not isinstance(signals, dict):
                    continue
                pooled = baseline.prompts.setdefault(str(prompt), {})
                for name in SIGNALS:
                    pooled.setdefault(name, []).extend(_numbers(signals.get(name)))
            models = record.get("models")
            for model, count in (models if isinstance(models, dict) else {}).items():
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    baseline.models[str(model)] = baseline.models.get(str(model), 0) + count
        return baseline

    def alert(self, key: str) -> AlertState:
        for record in reversed(self.for_target(key)):
            state = record.get("alert")
            if isinstance(state, dict):
                return AlertState.of(state)
        return AlertState()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps({"v": FORMAT, **record}, ensure_ascii=False, sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        self.records.append(record)


def _read(path: Path) -> list[dict[str, Any]]:
    """The runs in the last :data:`TAIL_BYTES` of the file (the first, partial line dropped)."""
    if not path.is_file():
        return []
    records = []
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - TAIL_BYTES))
        if size > TAIL_BYTES:
            handle.readline()
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def _numbers(values: Sequence[Any] | None) -> list[float]:
    return [
        float(v) for v in values or [] if isinstance(v, int | float) and not isinstance(v, bool)
    ]
