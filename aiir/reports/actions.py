"""A post-mortem's action items: the rows of its "Action items" table, read back from Markdown.

The shipped post-mortem (and a workspace's own) lists them as a table with the columns ``type``,
``action``, ``owner`` and ``ticket``; the team writes the rows marked ✍. Reading them from the
rendered text (or from the file the team edited) keeps one source: what the report says is what
gets filed. A row still marked ✍ is not written yet, and a row with a ticket is tracked already.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

TO_WRITE = "✍"
HEADING = re.compile(r"^#{2,6}\s+action items\s*$", re.I)
_CELL = re.compile(r"(?<!\\)\|")
_NO_TICKET = frozenset({"", TO_WRITE, "—", "-", "none", "n/a"})


@dataclass(frozen=True)
class ActionItem:
    kind: str  # prevent, mitigate, process, … as the table says
    action: str
    owner: str
    ticket: str

    @property
    def key(self) -> str:
        """What identifies the item across runs: its type and its words, spacing aside."""
        words = " ".join(f"{self.kind}\n{self.action}".lower().split())
        return hashlib.sha256(words.encode()).hexdigest()[:16]

    @property
    def written(self) -> bool:
        """False while the row is a placeholder for the team (✍)."""
        return bool(self.action) and TO_WRITE not in self.action

    @property
    def tracked(self) -> bool:
        """A ticket is named in the row already (filed by hand or elsewhere)."""
        return self.ticket.strip().lower() not in _NO_TICKET


def action_items(markdown: str) -> list[ActionItem]:
    """The rows of the first "Action items" table after its heading (none without one)."""
    rows = _table(markdown.splitlines())
    if len(rows) < 2:
        return []
    header = [c.lower() for c in rows[0]]
    if "action" not in header:
        return []
    items = []
    for row in rows[2:] if _separator(rows[1]) else rows[1:]:
        cell = dict(zip(header, row, strict=False))
        items.append(
            ActionItem(
                kind=cell.get("type", ""),
                action=cell.get("action", ""),
                owner=cell.get("owner", ""),
                ticket=cell.get("ticket", ""),
            )
        )
    return [item for item in items if item.action or item.kind]


def _table(lines: list[str]) -> list[list[str]]:
    """The cells of the table under the heading: its rows up to the first line not one."""
    start = next((n for n, line in enumerate(lines) if HEADING.match(line.strip())), None)
    if start is None:
        return []
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        text = line.strip()
        if not text and not rows:
            continue
        if not text.startswith("|"):
            break
        rows.append(_cells(text))
    return rows


def _cells(row: str) -> list[str]:
    inner = row.strip().removeprefix("|")
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in _CELL.split(inner)]


def _separator(row: list[str]) -> bool:
    return all(re.fullmatch(r":?-{3,}:?", cell) for cell in row)
