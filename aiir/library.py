"""Where aiir's shipped data lives, and loading documents into models.

``runbooks/``, ``templates/`` and ``schemas/`` sit at the top of the repository and are copied into
the package when a wheel is built; this module finds them either way.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from aiir.errors import LoadError
from aiir.findings import schema_findings
from aiir.loader import Document, load_file
from aiir.schema import Profile, Runbook

PACKAGE = Path(__file__).resolve().parent
PROFILES = PACKAGE / "profiles"

M = TypeVar("M", bound=BaseModel)


def data_dir(name: str) -> Path:
    """``runbooks``, ``templates`` or ``schemas``: inside the wheel, else the source checkout."""
    installed = PACKAGE / name
    if installed.is_dir():
        return installed
    return PACKAGE.parent / name


def shipped_runbooks() -> list[Path]:
    """The runbook library that comes with aiir."""
    return sorted(data_dir("runbooks").glob("*.yaml"))


def parse(doc: Document, model: type[M]) -> M:
    """Validate ``doc`` against ``model``; the first problem is raised as a located error."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        first = schema_findings(doc, exc)[0]
        raise LoadError(
            first.path, first.line, first.col, first.message, first.breadcrumb
        ) from None


@functools.cache
def builtin_profiles() -> dict[str, Profile]:
    """The gateway profiles shipped with aiir, by name."""
    profiles: dict[str, Profile] = {}
    for path in sorted(PROFILES.glob("*.yaml")):
        profile = parse(load_file(path), Profile)
        profiles[profile.profile] = profile
    return profiles


def load_runbook(path: str | Path) -> Runbook:
    """Load and schema-check one runbook (graph checks are :func:`aiir.validate_paths`)."""
    return parse(load_file(path), Runbook)
