"""A questionary list (select, checkbox) drawn to fit the terminal, redrawn at each key and
each resize: a choice wider than the terminal ends in "…" (questionary cut it with no mark, so
a cut label read as whole), except the one pointed at, which is shown whole on up to
:data:`POINTED_ROWS` rows (labels that differ only at their end stay told apart); and a list
taller than the rows left under the question's box shows the choices around the one pointed
at, with how many more are above and below (at 40x10 five choices pushed the node's title and
text off the top)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len, chop_cells

from aiir.terminal.fit import list_rows, one_row

if TYPE_CHECKING:
    from prompt_toolkit.formatted_text import AnyFormattedText, StyleAndTextTuples

Tokens = list[tuple[str, str]]
POINTED_ROWS = 3  # the rows the choice pointed at may wrap onto


def fit_list(question: Any) -> Any:
    """``question`` (a questionary list) with its choices cut to the terminal's width and its
    height to :func:`aiir.terminal.fit.list_rows`; anything else is returned as it is."""
    from prompt_toolkit.layout import walk
    from prompt_toolkit.layout.containers import Window
    from questionary.prompts.common import InquirerControl

    app = question.application
    for container in walk(app.layout.container, skip_hidden=False):
        control = getattr(container, "content", None)
        if isinstance(container, Window) and isinstance(control, InquirerControl):
            control.text = _fitted_tokens(control, control.text, app)
    return question


def _fitted_tokens(
    control: Any, tokens: AnyFormattedText, app: Any
) -> Callable[[], StyleAndTextTuples]:
    from prompt_toolkit.formatted_text import to_formatted_text

    scrolled = [0]  # the first choice shown, kept between draws so the list scrolls smoothly

    def draw() -> StyleAndTextTuples:
        size = app.output.get_size()
        width = max(size.columns - 1, 8)  # the last column would wrap on some terminals
        lines = _lines([(token[0], token[1]) for token in to_formatted_text(tokens)])
        entries = min(control.choice_count, len(lines))
        at = min(control.pointed_at, entries - 1)
        pointed = _wrapped(lines[at], width)
        rows = [[_cut(line, width)] for line in lines[:entries]]
        rows[at] = pointed
        room = list_rows(size.rows, entries)
        shown = [row for entry in rows for row in entry]
        if len(shown) > room:  # the choices around the pointed one, and what is off the list
            fit = max(room - 1 - (len(pointed) - 1), 1)
            first = min(max(scrolled[0], at - fit + 1), at)
            first = max(min(first, entries - fit), 0)
            scrolled[0] = first
            below = max(entries - first - fit, 0)
            mark = one_row(f"  ↑ {first} more  ↓ {below} more (arrow keys)", width)
            shown = [row for entry in rows[first : first + fit] for row in entry]
            shown.append([("class:instruction", mark)])
        shown += [_cut(line, width) for line in lines[entries:]]
        out: StyleAndTextTuples = []
        for index, line in enumerate(shown):
            if index:
                out.append(("", "\n"))
            out.extend(line)
        return out

    return draw


def _lines(tokens: Tokens) -> list[Tokens]:
    """The tokens split at each line break (questionary draws a choice per line)."""
    lines: list[Tokens] = [[]]
    for style, text in tokens:
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append([])
            if part or style.startswith("["):  # "[SetCursorPosition]" marks the pointed line
                lines[-1].append((style, part))
    return lines


def _width(line: Tokens) -> int:
    return sum(cell_len(text) for style, text in line if not style.startswith("["))


def _cut(line: Tokens, width: int) -> Tokens:
    """``line`` in ``width`` cells, ending in "…" if it was cut."""
    if _width(line) <= width:
        return line
    out: Tokens = []
    left = width
    for style, text in line:
        if style.startswith("["):
            out.append((style, text))
            continue
        size = cell_len(text)
        if size < left:
            out.append((style, text))
            left -= size
            continue
        out.append((style, one_row(text + " ", left)))  # ends in "…" in the cell left
        break
    return out


def _wrapped(line: Tokens, width: int) -> list[Tokens]:
    """``line`` (a pointer, marks, then the choice's label) on as many rows as its label needs,
    at most :data:`POINTED_ROWS`, the label's rows under its first; the last cut with "…"."""
    if _width(line) <= width or not line or line[-1][0].startswith("["):
        return [line]
    head, (style, label) = line[:-1], line[-1]
    indent = _width(head)
    if indent >= width // 2:
        return [_cut(line, width)]
    room = width - indent
    rows: list[str] = []
    for word in label.split(" "):
        pieces = chop_cells(word, room) if cell_len(word) > room else [word]
        for piece in pieces:
            if rows and cell_len(f"{rows[-1]} {piece}") <= room:
                rows[-1] = f"{rows[-1]} {piece}" if rows[-1] else piece
            else:
                rows.append(piece)
    if len(rows) > POINTED_ROWS:
        rows = [*rows[: POINTED_ROWS - 1], one_row(" ".join(rows[POINTED_ROWS - 1 :]), room)]
    first = [*head, (style, rows[0])]
    return [first, *[[("class:text", " " * indent), (style, row)] for row in rows[1:]]]
