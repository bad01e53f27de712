"""Where aiir's shipped data lives, and loading documents into models.

``runbooks/``, ``templates/`` and ``schemas/`` sit at the top of the repository and are copied into
the package when a wheel is built; this module finds them either way.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from aiir.errors import LoadError
from aiir.findings import schema_findings
from aiir.loader import Document, load_file

if TYPE_CHECKING:  # loaded on first use: a canary run needs neither
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
    from aiir.schema import Profile

    profiles: dict[str, Profile] = {}
    for path in sorted(PROFILES.glob("*.yaml")):
        profile = parse(load_file(path), Profile)
        profiles[profile.profile] = profile
    return profiles


def profile_dirs() -> tuple[Path, ...]:
    """Folders of a team's own gateway profiles: ``$AIIR_PROFILE_PATH`` (os.pathsep-separated)
    and the ``profiles/`` folder of the workspace around the current directory."""
    from aiir.workspace import find

    found = [Path(p) for p in os.environ.get("AIIR_PROFILE_PATH", "").split(os.pathsep) if p]
    config = find(Path.cwd(), os.environ)
    if config is not None:
        found.append(config.parent / "profiles")
    return tuple(d.resolve() for d in found if d.is_dir())


def profiles() -> dict[str, Profile]:
    """The shipped profiles and the team's own (an in-house gateway needs no code)."""
    return profiles_in(profile_dirs())


def profiles_in(folders: tuple[Path, ...]) -> dict[str, Profile]:
    """The shipped profiles, then those in ``folders`` (a later one of the same name wins)."""
    found = dict(builtin_profiles())
    for folder in folders:
        for path in sorted(folder.glob("*.y*ml")):
            profile = _profile_file(path, path.stat().st_mtime_ns)
            if profile is not None:
                found[profile.profile] = profile
    return found


@functools.lru_cache(maxsize=256)
def _profile_file(path: Path, mtime_ns: int) -> Profile | None:
    doc = load_file(path)
    if not (isinstance(doc.data, dict) and "profile" in doc.data):
        return None
    from aiir.schema import Profile

    return parse(doc, Profile)


def load_runbook(path: str | Path) -> Runbook:
    """Load and schema-check one runbook (graph checks are :func:`aiir.validate_paths`)."""
    from aiir.schema import Runbook

    return parse(load_file(path), Runbook)
