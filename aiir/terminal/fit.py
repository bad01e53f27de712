"""A box that fits the terminal's height: on a small terminal (40x10) a lever's box was taller
than the screen, and its title and first lines (what the lever is, what it sends) scrolled off
the top before the question was asked. Here the box gives up its least needed lines first,
then their wrapped rows, so its title, its first lines and the question under it stay in view.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

QUESTION_ROWS = 3  # the question under the box, wrapped at a narrow width, and its error line
FRAME_ROWS = 2  # the box's top (with its title) and bottom borders
FRAME_COLUMNS = 4  # the box's borders and its padding
MORE = "… (d: the full request)"


def fitted(console: Console, lines: Sequence[Text], drop: Sequence[int] = ()) -> list[Text]:
    """``lines`` as the body of a box on ``console``, in the rows the terminal has above a
    question: the lines at the indexes in ``drop`` go first (in that order), then each line,
    from the last, is cut to one row, then the last rows give way to a mark that ``d`` shows the full request."""
    width = max(console.size.width - FRAME_COLUMNS, 1)
    budget = max(console.size.height - QUESTION_ROWS - FRAME_ROWS, 1)

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
    mark = Text(MORE, "dim")
    mark.truncate(width, overflow="ellipsis")
    return [*cut[: budget - 1], mark] if budget > 1 else cut[:1]


def _one_row(console: Console, line: Text, width: int) -> Text:
    """``line``'s first row (its first line, as wide as the box), with an ellipsis if cut."""
    first = line.split("\n")[0] if "\n" in line.plain else line.copy()
    if first.cell_len > width or len(first) < len(line):
        first.truncate(max(width - 1, 0))
        first.append("…")
    return first
