"""The workspace: ``aiir.yaml`` found from the current directory upwards (like git), with the team
roster, the AI system inventory and template overrides it names."""

from __future__ import annotations

import errno
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from aiir.errors import LoadError
from aiir.formats.findings import parse
from aiir.formats.loader import Document, load_file
from aiir.formats.paths import variable_path

if TYPE_CHECKING:  # loaded with the first aiir.yaml: most runs have none
    from aiir.formats.organisation import AISystem, Inventory, Person, Team, Workspace

FILE = "aiir.yaml"
VARIABLE = "AIIR_WORKSPACE"


@dataclass(frozen=True)
class OnCall:
    """Who answers for a role right now."""

    role: str
    person_id: str | None
    person: Person | None

    def label(self) -> str:
        if self.person is None:
            return f"{self.role} (nobody on call in the roster)"
        return f"{self.role}: {self.person.name}" + (
            f" {self.person.slack}" if self.person.slack else ""
        )


@dataclass(frozen=True)
class Loaded:
    """A workspace and the files it names, loaded and validated."""

    root: Path
    config: Workspace
    team: Team | None
    inventory: Inventory | None

    def path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def on_call(self, role: str) -> OnCall:
        if self.team is None or role not in self.team.roles:
            person = self.team.people.get(role) if self.team else None  # an owner may be a person
            return OnCall(role, role if person else None, person)
        person_id = self.team.roles[role].on_call
        person = self.team.people.get(person_id) if person_id else None
        return OnCall(role, person_id, person)

    def roles(self) -> frozenset[str] | None:
        """What a task's owner may name: the team file's roles and people (None: no team file)."""
        if self.team is None:
            return None
        return frozenset(self.team.roles) | frozenset(self.team.people)

    def roles_of(self, person: str) -> frozenset[str] | None:
        """The roles the team roster gives ``person`` (on call for it, or among its people);
        None when there is no team file to ask."""
        if self.team is None:
            return None
        return frozenset(
            name
            for name, role in self.team.roles.items()
            if person == role.on_call or person in role.people
        )

    def systems(self) -> dict[str, AISystem]:
        return {s.id: s for s in self.inventory.systems} if self.inventory else {}

    def template_dir(self) -> Path | None:
        if self.config.templates is None:
            return None
        folder = self.path(self.config.templates)
        return folder if folder.is_dir() else None


def find(start: Path, environ: Mapping[str, str]) -> Path | None:
    """``$AIIR_WORKSPACE``, else the nearest ``aiir.yaml`` from ``start`` upwards."""
    explicit = variable_path(environ, VARIABLE)
    if explicit is not None:
        return explicit / FILE if explicit.is_dir() else explicit
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / FILE
        if candidate.is_file():
            return candidate
    return None


def load(path: Path) -> Loaded:
    """Load ``aiir.yaml`` and the roster and inventory it names (each validated)."""
    from aiir.formats.organisation import Inventory, Team, Workspace

    doc = load_file(path)
    config = parse(doc, Workspace)
    root = path.parent
    for problem in named_paths(doc, ("team", "inventory")):  # the defaults may be missing
        raise problem
    team = _optional(root, config.team, Team)
    inventory = _optional(root, config.inventory, Inventory)
    return Loaded(root, config, team, inventory)


# What each path a workspace names must be: a file, or a folder.
PATH_KEYS = {
    "team": "file",
    "inventory": "file",
    "templates": "folder",
    "runbooks": "folder",
    "canaries": "folder",
    "detections": "folder",
    "drills": "folder",
}


def named_paths(doc: Document, keys: Iterable[str] = PATH_KEYS) -> list[LoadError]:
    """A path ``aiir.yaml`` writes (not a default) that names nothing there, or the wrong kind
    of thing: ``team: temas.yaml`` went unnoticed, the roster silently absent (no role checked,
    nobody on call), as did ``runbooks: [runbook]``."""
    root = Path(doc.path).parent
    data = doc.data if isinstance(doc.data, dict) else {}
    found: list[LoadError] = []
    for key in keys:
        given = data.get(key)
        values = given if isinstance(given, list) else [given]
        for index, value in enumerate(values):
            if not isinstance(value, str):
                continue
            loc: tuple[str | int, ...] = (key, index) if isinstance(given, list) else (key,)
            wanted = PATH_KEYS[key]
            there = _what_is(root / value)
            if there not in {"file", "folder", "other", "nothing"}:
                found.append(doc.error(loc, f"{value!r} cannot be used: {there}"))
            elif wanted == "file" and there != "file":
                what = "a folder" if there == "folder" else "no file"
                found.append(doc.error(loc, f"{value!r} is {what}: expected the {key} file"))
            elif wanted == "folder" and there != "folder":
                what = "no folder" if there == "nothing" else "a file"
                found.append(doc.error(loc, f"{value!r} is {what}: expected a folder of {key}"))
    return found


def _what_is(target: Path) -> str:
    """``file``, ``folder``, ``other`` (a device, a pipe), ``nothing``, or why the name cannot
    be looked at (too long a name, no permission): pathlib's tests raised those."""
    try:
        mode = target.stat().st_mode
    except OSError as exc:
        if exc.errno in {errno.ENOENT, errno.ENOTDIR, errno.ELOOP}:
            return "nothing"
        return (exc.strerror or str(exc)).lower()
    except ValueError:  # a NUL byte in the name
        return "nothing"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "other"


M = TypeVar("M", "Team", "Inventory")


def _optional(root: Path, relative: str | None, model: type[M]) -> M | None:
    if relative is None:
        return None
    path = root / relative
    if _what_is(path) != "file":  # named_paths says what is wrong with it
        return None
    doc = load_file(path)
    loaded = parse(doc, model)
    from aiir.formats.organisation import Team

    if isinstance(loaded, Team):
        for problem in roster_problems(doc, loaded):
            raise problem
    return loaded


def roster_problems(doc: Document, team: Team) -> list[LoadError]:
    """A role's ``on_call`` or ``people`` naming nobody of the roster's ``people``: a typo made
    the role silently unstaffed (shown as nobody on call, paged to no one)."""
    found: list[LoadError] = []
    for name, role in team.roles.items():
        named: list[tuple[str | int, str]] = [("on_call", role.on_call)] if role.on_call else []
        named += list(enumerate(role.people))
        for where, person in named:
            if person not in team.people:
                loc = (
                    ("roles", name, where)
                    if where == "on_call"
                    else ("roles", name, "people", where)
                )
                known = ", ".join(sorted(team.people)) or "none"
                message = f"{person!r} is not one of the roster's people ({known})"
                found.append(doc.error(loc, message))
    return found


def current(environ: Mapping[str, str], start: Path | None = None) -> Loaded | None:
    """The workspace ``environ`` names, else the one around ``start`` (the current directory),
    if there is one."""
    path = find(start or Path.cwd(), environ)
    return load(path) if path is not None else None
