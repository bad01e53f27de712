"""Where aiir's shipped data lives, what ships, and loading documents into models.

``runbooks/``, ``templates/``, ``schemas/`` and ``examples/`` sit at the top of the repository and
are copied into the package when a wheel is built; this module finds them either way.

Every command that takes a runbook, a scenario or a canary suite takes it the same way, through
:func:`resolve`: a file, a directory (its YAML documents of the wanted kind), or the id of one
that ships with aiir.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiir.errors import InputError, LoadError, shown
from aiir.formats.files import read_regular
from aiir.formats.findings import parse
from aiir.formats.loader import load_file

if TYPE_CHECKING:  # loaded on first use: a canary run needs neither
    from aiir.formats.profile import Profile
    from aiir.formats.schema import Runbook

PACKAGE = Path(__file__).resolve().parent.parent  # the aiir package: its data folders
PROFILES = PACKAGE / "profiles"


def data_dir(name: str) -> Path:
    """``runbooks``, ``templates``, ``schemas`` or ``examples``: inside the wheel, else the source
    checkout."""
    installed = PACKAGE / name
    if installed.is_dir():
        return installed
    return PACKAGE.parent / name


def shipped_runbooks() -> list[Path]:
    """The runbook library that comes with aiir."""
    return sorted(data_dir("runbooks").glob("*.yaml"))


@functools.cache
def builtin_profiles() -> ShippedProfiles:
    """The gateway profiles shipped with aiir, by name."""
    return ShippedProfiles(PROFILES)


class ShippedProfiles(Mapping[str, "Profile"]):
    """Profiles by name, each file read when its profile is first asked for: checking a runbook
    reads the profiles its gateways name, not all five (a twentieth of ``aiir validate ONE.yaml``,
    ``bench.startup``). A shipped profile's name is its file's (tests/formats/test_library.py)."""

    def __init__(self, folder: Path) -> None:
        self._paths = {path.stem: path for path in sorted(folder.glob("*.yaml"))}
        self._read: dict[str, Profile] = {}

    def __getitem__(self, name: str) -> Profile:
        found = self._read.get(name)
        if found is None:
            from aiir.formats.profile import Profile

            found = self._read[name] = parse(load_file(self._paths[name]), Profile)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def profile_dirs(environ: Mapping[str, str]) -> tuple[Path, ...]:
    """Folders of a team's own gateway profiles: ``$AIIR_PROFILE_PATH`` (os.pathsep-separated)
    and the ``profiles/`` folder of the workspace around the current directory."""
    from aiir.formats.workspace import find

    found = [Path(p) for p in environ.get("AIIR_PROFILE_PATH", "").split(os.pathsep) if p]
    config = find(Path.cwd(), environ)
    if config is not None:
        found.append(config.parent / "profiles")
    return tuple(d.resolve() for d in found if d.is_dir())


def profiles(environ: Mapping[str, str]) -> ChainMap[str, Profile]:
    """The shipped profiles and the team's own (an in-house gateway needs no code)."""
    return profiles_in(profile_dirs(environ))


def profiles_in(folders: tuple[Path, ...]) -> ChainMap[str, Profile]:
    """The shipped profiles, then those in ``folders`` (a later one of the same name wins); a
    profile set in the mapping returned goes in front of both."""
    own: dict[str, Profile] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.y*ml")):
            profile = _profile_file(path, path.stat().st_mtime_ns)
            if profile is not None:
                own[profile.profile] = profile
    # (ChainMap writes to its first map only: the shipped ones are never written to)
    return ChainMap({}, own, builtin_profiles())  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _profile_file(path: Path, mtime_ns: int) -> Profile | None:
    doc = load_file(path)
    if not (isinstance(doc.data, dict) and "profile" in doc.data):
        return None
    from aiir.formats.profile import Profile

    return parse(doc, Profile)


def load_runbook(path: str | Path) -> Runbook:
    """Load and schema-check one runbook (graph checks are :func:`aiir.validate_paths`)."""
    from aiir.formats.includes import resolved
    from aiir.formats.schema import Runbook

    return parse(resolved(load_file(path)), Runbook)


# --- what ships, and turning an argument into files -----------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of document that ships: where it lives and which field is its id."""

    name: str  # as `aiir library --kind` spells it
    noun: str  # as an error message says it
    folder: tuple[str, ...]  # under data_dir
    key: str | None  # the id field; None: the file name is the id (answers files have no id)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("runbooks", "runbook", ("runbooks",), "id"),
        Kind("drills", "drill scenario", ("examples", "drills"), "scenario"),
        Kind("tabletops", "tabletop scenario", ("examples", "tabletops"), "scenario"),
        Kind("canaries", "canary suite", ("examples", "canaries"), "canary"),
        Kind("answers", "answers file", ("examples", "answers"), None),
        Kind("detections", "detection rules", ("examples", "detections"), "detect"),
    )
}
YAML_SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = frozenset({".git", ".venv", "node_modules", "__pycache__", ".aiir"})
_CLAIMS_AIIR = re.compile(rb"^aiir[ \t]*:", re.MULTILINE)
# Keys that make a document some other kind of aiir document than a runbook.
_NOT_RUNBOOK = ("profile", "scenario", "canary", "workspace", "team", "inventory")


@dataclass(frozen=True)
class Shipped:
    """One document that comes with aiir."""

    kind: str
    id: str
    title: str
    path: Path


def shipped_folder(kind: str) -> Path:
    first, *rest = KINDS[kind].folder
    return data_dir(first).joinpath(*rest)


@functools.cache
def shipped(kind: str) -> tuple[Shipped, ...]:
    """What ships of ``kind``, sorted by id; a file that does not load is left out."""
    spec = KINDS[kind]
    found: list[Shipped] = []
    for path in sorted(shipped_folder(kind).glob("*.y*ml")):
        try:
            doc = load_file(path)
        except LoadError:
            continue
        data = doc.data
        if spec.key is None:
            found.append(Shipped(kind, path.stem, _leading_comment(doc.text), path))
        elif _is_kind(data, spec) and isinstance(data.get(spec.key), str):
            title = data.get("title")
            found.append(Shipped(kind, data[spec.key], str(title or ""), path))
    return tuple(sorted(found, key=lambda s: s.id))


def _leading_comment(text: str) -> str:
    """The first comment line, for files with no title field (answers)."""
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def _is_kind(data: Any, spec: Kind) -> bool:
    if not isinstance(data, dict) or "aiir" not in data:
        return False
    if spec.key == "id":
        return "nodes" in data and not any(k in data for k in _NOT_RUNBOOK)
    return spec.key is not None and spec.key in data


def resolve(args: Iterable[str | Path], kinds: Sequence[str], *, flag: str = "") -> list[Path]:
    """Files for ``args``: an existing file as given; a directory's YAML documents of the first of
    ``kinds`` (recursively); else the shipped document of one of ``kinds`` with that id (its id
    field, or its file name). Each file once. Anything else is an :class:`InputError`."""
    found: dict[Path, Path] = {}
    for arg in args:
        for path in _resolve_one_arg(str(arg), kinds, flag):
            found.setdefault(path.resolve(), path)
    return list(found.values())


def resolve_one(arg: str | Path, kinds: Sequence[str], *, flag: str = "") -> Path:
    """One file for ``arg``, as :func:`resolve`; a directory must hold exactly one document."""
    paths = _resolve_one_arg(str(arg), kinds, flag)
    if len(paths) > 1:
        noun = KINDS[kinds[0]].noun
        choices = ", ".join(str(p.relative_to(arg)) for p in paths)
        raise InputError(
            f"{_where(str(arg), flag)}: {len(paths)} {noun}s in this directory; name one of "
            f"them: {choices}"
        )
    return paths[0]


def _where(arg: str, flag: str) -> str:
    return f"{flag} {shown(arg)}" if flag else shown(arg)


EMPTY = "an empty name (an unset variable?): name a file, a directory or a shipped id"


def _resolve_one_arg(arg: str, kinds: Sequence[str], flag: str) -> list[Path]:
    if not arg.strip():  # Path("") is the current directory: `aiir run "$RB"`, RB unset, walked it
        raise InputError(f"{_where(repr(arg), flag)}: {EMPTY}")
    path = Path(arg)
    spec = KINDS[kinds[0]]
    if path.is_dir():
        found = list(documents_in(path, spec))
        if not found:
            raise InputError(f"{_where(arg, flag)}: no {spec.noun} in this directory")
        return found
    if path.exists():
        return [path]
    if not arg or "/" in arg or os.sep in arg or arg.endswith(YAML_SUFFIXES):
        raise InputError(f"{_where(arg, flag)}: no such file or directory")
    for kind in kinds:
        match = shipped_by_id(kind, arg)
        if match is not None:
            return [match]
    known = sorted({n for kind in kinds for s in shipped(kind) for n in (s.id, s.path.stem)})
    close = difflib.get_close_matches(arg, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    names = [KINDS[k].noun for k in kinds]
    nouns = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    listing = f" --kind {kinds[0]}" if len(kinds) <= 2 else ""
    raise InputError(
        f"{_where(arg, flag)}: no such file, directory or shipped {nouns} "
        f"({hint}see: aiir library{listing})"
    )


def shipped_by_id(kind: str, name: str) -> Path | None:
    """The shipped document of ``kind`` whose id (or file name) is ``name``."""
    for entry in shipped(kind):
        if entry.id == name:
            return entry.path
    for entry in shipped(kind):
        if entry.path.stem == name:
            return entry.path
    return None


def documents_in(directory: Path, spec: Kind) -> Iterable[Path]:
    """The YAML documents of ``spec``'s kind under ``directory``, sorted; other YAML is skipped,
    unless it claims to be an aiir document and does not load (that is reported)."""
    for path in _yaml_files(directory):
        try:
            data = load_file(path).data
        except LoadError:
            if _claims_aiir(path):
                raise
            continue
        if spec.key is None or _is_kind(data, spec):
            yield path


def _yaml_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        found.extend(Path(directory, n) for n in filenames if n.endswith(YAML_SUFFIXES))
    return sorted(found)


def _claims_aiir(path: Path) -> bool:
    try:
        return _CLAIMS_AIIR.search(read_regular(path, 2 * 1024 * 1024)) is not None
    except OSError:
        return False
