"""What fits the terminal's height: on a small terminal (40x10) a box was taller than the
screen, and its title and first lines (what a lever is, what it sends, what a question is about)
scrolled off the top before the question was asked. Here a box gives up its least needed lines
first, then their wrapped rows, so its title, its first lines and the question under it stay in
view; and a list (a question's choices) shows at most the rows that leave the box's title above it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

QUESTION_ROWS = 3  # the question under the box, wrapped at a narrow width, and its error line
LIST_QUESTION_ROWS = 2  # a list's question line, wrapped once at a narrow width
FRAME_ROWS = 2  # the box's top (with its title) and bottom borders
FRAME_COLUMNS = 4  # the box's borders and its padding
MIN_BOX_ROWS = FRAME_ROWS + 1  # a box above a list keeps its title and one line at least
MIN_LIST_ROWS = 2  # a list shows this many choices at least, however small the terminal
MORE = "… (d: the full request)"


def list_rows(height: int, entries: int) -> int:
    """How many of a list's ``entries`` are shown at once on a terminal ``height`` rows high:
    all of them if they fit under the box and the question; else the list scrolls."""
    room = height - LIST_QUESTION_ROWS - MIN_BOX_ROWS
    return max(min(entries, room), min(entries, MIN_LIST_ROWS))


def fitted(
    console: Console,
    lines: Sequence[Text],
    drop: Sequence[int] = (),
    below: int = QUESTION_ROWS,
    more: str = MORE,
) -> list[Text]:
    """``lines`` as the body of a box on ``console``, in the rows the terminal has above what is
    ``below`` it (a question: :data:`QUESTION_ROWS`): the lines at the indexes in ``drop`` go
    first (in that order), then each line, from the last, is cut to one row, then the last rows
    give way to the mark ``more`` (by default: that ``d`` shows the full request)."""
    width = max(console.size.width - FRAME_COLUMNS, 1)
    budget = max(console.size.height - below - FRAME_ROWS, 1)

    def rows(kept: Sequence[Text]) -> int:
        return sum(len(line.wrap(console, width)) for line in kept)

    kept = list(lines)
    if rows(kept) <= budget:
        return kept
    gone = set()
    for index in drop:
        gone.add(index)
        kept = [line for at, line in enumerate(lines) if at not in gone]
        if rows(kept) <= budget:
            return kept
    cut = list(kept)
    for index in reversed(range(len(cut))):  # the last lines give up their rows first
        cut[index] = _one_row(console, cut[index], width)
        if rows(cut) <= budget:
            return cut
    mark = Text(more, "dim")
    mark.truncate(width, overflow="ellipsis")
    return [*cut[: budget - 1], mark] if budget > 1 else cut[:1]


def fits(console: Console, lines: Sequence[Text], below: int = QUESTION_ROWS) -> bool:
    """Whether ``lines`` fit as a box's body above what is ``below`` it, as they are."""
    return fitted(console, lines, below=below) == list(lines)


def one_row(text: str, width: int) -> str:
    """``text`` in at most ``width`` terminal cells (wide characters count two), ending in "…"
    when it was cut: a list's choice, which questionary would cut with no mark."""
    line = Text(text)
    if line.cell_len <= width:
        return text
    line.truncate(max(width - 1, 0))
    return line.plain.rstrip() + "…"  # a wide character cut in half leaves a space


def _one_row(console: Console, line: Text, width: int) -> Text:
    """``line``'s first row (its first line, as wide as the box), with an ellipsis if cut."""
    first = line.split("\n")[0] if "\n" in line.plain else line.copy()
    if first.cell_len > width or len(first) < len(line):
        first.truncate(max(width - 1, 0))
        first.append("…")
    return first
