"""Named message and report templates (``templates/NAME.j2``), rendered in the sandbox."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiir.errors import InputError
from aiir.formats.library import data_dir
from aiir.formats.templating import render
from aiir.incident.state import Incident

SUFFIX = ".j2"
# Templates that are Markdown documents, the shipped one or a workspace's own of the same name:
# the values they insert are escaped for Markdown (no HTML, link or image of a model's making).
MARKDOWN = frozenset({"post-mortem"})


def _folders(override: Path | None) -> list[Path]:
    return [f for f in (override, data_dir("templates")) if f is not None]


def template_names(override: Path | None = None) -> list[str]:
    names = {p.name.removesuffix(SUFFIX) for f in _folders(override) for p in f.glob(f"*{SUFFIX}")}
    return sorted(names)


def template_path(name: str, override: Path | None = None) -> Path:
    """A workspace's own template wins over the shipped one of the same name."""
    for folder in _folders(override):
        path = folder / f"{name}{SUFFIX}"
        if path.is_file():
            return path
    known = ", ".join(template_names(override)) or "none"
    raise InputError(f"no template {name!r} (templates: {known})")


def render_named(
    name: str,
    context: Mapping[str, Any],
    incident: Incident,
    override: Path | None = None,
    *,
    markup: str | None = None,
) -> str:
    """Render template ``name``; the context adds the incident record (levers, evidence, …).

    With ``markup`` the values it inserts are escaped for a channel (``slack``); without, a
    :data:`MARKDOWN` template's are escaped for Markdown. An exercise says so in its title,
    whatever the template (a workspace's own included)."""
    if markup is None and name in MARKDOWN:
        markup = "markdown"
    source = template_path(name, override).read_text(encoding="utf-8")
    levers = [
        {"lever": r.lever, "title": r.title, "kind": r.kind, "state": r.state, "verdict": r.verdict}
        for r in incident.levers
    ]
    text = render(source, {"levers": levers, **context}, f"template {name}", markup=markup)
    return exercise_title(text, incident.exercise)


def exercise_title(text: str, exercise: str | None) -> str:
    """``text`` with ``[EXERCISE: drill]`` before its first line, when it is practice."""
    if not exercise:
        return text
    lead = len(text) - len(text.lstrip())
    heading = re.match(r"#+ ", text[lead:])  # a Markdown title keeps its heading marks first
    if heading:
        lead += heading.end()
    return f"{text[:lead]}[EXERCISE: {exercise}] {text[lead:]}"
