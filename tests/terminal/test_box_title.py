"""A box's title too long for a narrow terminal ends in an ellipsis, not in a cut word.

At 40 columns rich cut 'Preserve evidence before containment' to '... before containmen', with
nothing to say the title went on; a wide (CJK) title was cut the same way.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from aiir.terminal.screen import TerminalScreen


def top_border(title: str, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    TerminalScreen(console, lambda text: text).box(Text("body"), Text(title))
    return out.getvalue().splitlines()[0]


@pytest.mark.parametrize(
    "title",
    ["Preserve evidence before containment", "緊急フィルター緊急フィルター緊急フィルター緊急"],
)
def test_a_long_title_at_40_columns_ends_in_an_ellipsis(title: str) -> None:
    top = top_border(title, 40)
    assert "…" in top, top
    assert top.endswith("╮"), top


def test_a_title_that_fits_is_whole() -> None:
    top = top_border("Preserve evidence before containment", 80)
    assert "Preserve evidence before containment " in top, top
    assert "…" not in top, top
