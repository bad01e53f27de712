"""Values inserted into a Markdown report read as the text they are."""

from __future__ import annotations

import pytest

from aiir.formats.templating import markdown_escape

CASES = {
    "html": ("<script>alert(1)</script>", "\\<script\\>alert(1)\\</script\\>"),
    "link": ("[click](https://evil.example)", "\\[click\\](https://evil.example)"),
    "image": ("![](https://evil.example/?k=v)", "!\\[\\](https://evil.example/?k=v)"),
    "autolink": ("<https://evil.example>", "\\<https://evil.example\\>"),
    "code": ("`rm -rf`", "\\`rm -rf\\`"),
    "cell": ("a | b", "a \\| b"),
    "heading": ("x\n## Root cause", "x\n\\## Root cause"),
    "list": ("x\n- [ ] done\n2. step", "x\n\\- \\[ \\] done\n2\\. step"),
    "quote": ("x\n> said", "x\n\\> said"),
    "setext": ("x\n===", "x\n\\==="),
    "rule": ("x\n* * *", "x\n\\* * *"),
    "escapes": ("\x1b]0;title\x07\x1b[2Jok\u202e", "ok"),
}
KEPT = ["1.0.0", "snake_case (v1)! #tag", "T+00:05:00", "-5 °C", "INC-20261207-000000-abcd"]


@pytest.mark.parametrize(("given", "escaped"), CASES.values(), ids=CASES.keys())
def test_markdown_of_a_value_is_escaped(given: str, escaped: str) -> None:
    assert markdown_escape(given) == escaped


@pytest.mark.parametrize("given", KEPT)
def test_ordinary_text_is_kept_as_it_is(given: str) -> None:
    assert markdown_escape(given) == given
