"""Named message and report templates (``templates/NAME.j2``), rendered in the sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiir.errors import InputError
from aiir.incident import Incident
from aiir.library import data_dir
from aiir.templating import render

SUFFIX = ".j2"


def template_names() -> list[str]:
    return sorted(p.name.removesuffix(SUFFIX) for p in data_dir("templates").glob(f"*{SUFFIX}"))


def template_path(name: str) -> Path:
    path = data_dir("templates") / f"{name}{SUFFIX}"
    if not path.is_file():
        known = ", ".join(template_names()) or "none"
        raise InputError(f"no template {name!r} (templates: {known})")
    return path


def render_named(name: str, context: Mapping[str, Any], incident: Incident) -> str:
    """Render template ``name``; the context adds the incident record (levers, evidence, …)."""
    source = template_path(name).read_text(encoding="utf-8")
    levers = [
        {"lever": r.lever, "title": r.title, "kind": r.kind, "state": r.state, "verdict": r.verdict}
        for r in incident.levers
    ]
    return render(source, {**context, "levers": levers}, f"template {name}")
