"""``aiir validate``: schema, graph and reference checks over files and directories."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiir.errors import InputError, LoadError, shown
from aiir.formats.files import read_regular
from aiir.formats.findings import Finding, at, from_load_error, schema_findings
from aiir.formats.includes import resolved
from aiir.formats.kinds import KINDS, detect_kind, model_of
from aiir.formats.library import EMPTY, data_dir, profiles_in, shipped_runbooks
from aiir.formats.loader import MAX_BYTES, Document, load_file
from aiir.formats.modeling import BaseModel, ValidationError
from aiir.formats.profile import Profile
from aiir.formats.schema import CallNode, Runbook
from aiir.validate import checks

YAML_SUFFIXES = (".yaml", ".yml")
_CLAIMS_AIIR = re.compile(rb"^aiir[ \t]*:", re.MULTILINE)
SKIP_DIRS = frozenset({".git", ".venv", "node_modules", "__pycache__", ".aiir"})


@dataclass
class Report:
    """Everything ``aiir validate`` found, plus what it read."""

    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, str] = field(default_factory=dict)  # path -> kind
    skipped: list[str] = field(default_factory=list)  # YAML files that are not aiir documents
    read: int = 0  # files read, the skipped and those that did not load included

    @property
    def files(self) -> int:
        """How many files were validated: every file read but the skipped ones."""
        return self.read - len(self.skipped)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def failed(self, *, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.warnings))


def validate_paths(
    paths: Sequence[str | Path],
    profile_folders: tuple[Path, ...] = (),
    roles: frozenset[str] | None = None,
    *,
    enforce_roles: bool = False,
) -> Report:
    """Validate files and directories (recursively); a missing path is an :class:`InputError`.
    Gateways may use the shipped profiles, those in ``profile_folders`` (a team's own, see
    :func:`aiir.formats.library.profile_dirs`) and any profile among ``paths``; task owners are
    checked against ``roles`` (the team file's), when given; with ``enforce_roles`` (the
    workspace's), so are the owners of nodes."""
    report = Report()
    files = list(_expand(paths))
    report.read = len(files)
    runbooks: dict[str, tuple[Document, Runbook]] = {}
    claimed: set[str] = set()  # ids of invalid runbooks too: calls to them are not also errors
    profiles = profiles_in(profile_folders)
    for path, explicit in files:
        doc, kind = _load(path, explicit, report)
        if doc is None or kind is None:
            continue
        if kind == "runbook":  # the fragments it includes, merged in (each checked in its file)
            try:
                doc = resolved(doc)
            except LoadError as exc:
                report.findings.append(from_load_error(exc))
                continue
        model = _schema(doc, model_of(kind), report)
        report.checked[doc.path] = kind
        if kind == "runbook" and isinstance(doc.data.get("id"), str):
            claimed.add(doc.data["id"])
        if isinstance(model, Runbook):
            _first_id(doc, model, runbooks, report)
        elif isinstance(model, Profile):
            profiles[model.profile] = model
            report.findings.extend(checks.profile_findings(doc, model))
        elif kind in ("workspace", "team") and model is not None:
            report.findings.extend(_organisation_findings(doc, model))
        elif kind == "scenario" and model is not None:
            report.findings.extend(_scenario_findings(doc, profile_folders))
        elif kind in ("canary", "detect") and model is not None:
            report.findings.extend(_watch_findings(doc, model))
    known = claimed | shipped_ids()
    for doc, runbook in runbooks.values():
        beside = _ids_beside(doc, runbook, known)
        report.findings.extend(checks.runbook_findings(doc, runbook, profiles, beside, roles))
        if enforce_roles and roles is not None:
            from aiir.validate.roles import owner_findings

            report.findings.extend(owner_findings(doc, runbook, roles))
        if any(isinstance(node, CallNode) for node in runbook.nodes.values()):
            resolve = _call_resolver(runbooks, Path(doc.path).parent)
            key = str(Path(doc.path).resolve())
            report.findings.extend(checks.call_cycle_findings(doc, runbook, key, resolve))
    report.findings.sort(key=lambda f: (f.path, f.line, f.col))
    return report


def _ids_beside(doc: Document, runbook: Runbook, known: set[str] | frozenset[str]) -> set[str]:
    """``known`` and the ids this runbook calls that a walk finds in its folder (a file named
    after the id or declaring it): validating one runbook of a folder alone found them unknown."""
    from aiir.formats.schema import is_path
    from aiir.validate.calls import find

    folder = [Path(doc.path).parent]
    called = {n.runbook for n in runbook.nodes.values() if isinstance(n, CallNode)}
    return set(known) | {
        c for c in called - set(known) if not is_path(c) and find(c, folder) is not None
    }


def _organisation_findings(doc: Document, model: BaseModel) -> list[Finding]:
    """A workspace's or roster's findings beyond their schema: the roles it enforces, the files
    and folders it names, the people its roles name."""
    from aiir.formats.organisation import Team, Workspace
    from aiir.formats.workspace import named_paths, roster_problems
    from aiir.validate.roles import enforced_role_findings

    if isinstance(model, Team):
        return [from_load_error(e) for e in roster_problems(doc, model)]
    assert isinstance(model, Workspace)
    return [*enforced_role_findings(doc, model), *map(from_load_error, named_paths(doc))]


def _watch_findings(doc: Document, model: BaseModel) -> list[Finding]:
    """A canary suite's or detection rules' findings beyond their schema."""
    from aiir.formats.canary import CanarySuite
    from aiir.formats.detect import DetectRules
    from aiir.validate.canaries import suite_findings
    from aiir.validate.detections import rules_findings

    if isinstance(model, CanarySuite):
        return suite_findings(doc, model)
    assert isinstance(model, DetectRules)
    return rules_findings(doc, model)


def _expand(paths: Sequence[str | Path]) -> Iterator[tuple[Path, bool]]:
    """Each file once, even when named twice or also found in a named directory."""
    seen: set[Path] = set()
    for path, explicit in _candidates(paths):
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            yield path, explicit


def _candidates(paths: Sequence[str | Path]) -> Iterator[tuple[Path, bool]]:
    for raw in paths:
        if not str(raw).strip():  # Path("") is the current directory
            raise InputError(f"{str(raw)!r}: {EMPTY}")
        path = Path(raw)
        if path.is_dir():
            found = _walk(path)
            if not found:  # "0 file(s) valid" passed a CI job that had named the wrong folder
                raise InputError(f"{shown(str(raw))}: no YAML file in this directory")
            yield from ((p, False) for p in found)
        elif path.exists():
            yield path, True
        else:
            raise InputError(f"{shown(str(raw))}: no such file or directory")


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        found.extend(Path(directory, n) for n in filenames if n.endswith(YAML_SUFFIXES))
    return sorted(found)


def _load(path: Path, explicit: bool, report: Report) -> tuple[Document | None, str | None]:
    try:
        doc = load_file(path)
    except LoadError as exc:
        if explicit or _claims_aiir(path):
            report.findings.append(from_load_error(exc))
        else:  # someone else's YAML (mkdocs tags, multi-document manifests): not ours to judge
            report.skipped.append(str(path))
        return None, None
    kind = detect_kind(doc.data)
    if kind is None:
        claims = isinstance(doc.data, dict) and "aiir" in doc.data
        if claims:
            others = ", ".join(k for k in KINDS if k != "runbook")
            message = (
                "unknown kind of aiir document: a runbook has 'nodes'; "
                f"the other kinds a key of their name ({others})"
            )
            report.findings.append(at(doc, ("aiir",), "kind", message, key=True))
        elif explicit:
            message = f"not an aiir document: expected 'aiir: 1' and one of: {', '.join(KINDS)}"
            report.findings.append(at(doc, (), "kind", message))
        else:
            report.skipped.append(doc.path)
    return doc, kind


def _claims_aiir(path: Path) -> bool:
    """Whether a file that failed to load has a top-level ``aiir:`` key, so is meant for us."""
    try:
        return _CLAIMS_AIIR.search(read_regular(path, MAX_BYTES)) is not None
    except OSError:
        return False


def _schema(doc: Document, model: type[BaseModel], report: Report) -> BaseModel | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        report.findings.extend(schema_findings(doc, exc))
        return None


def _first_id(
    doc: Document,
    runbook: Runbook,
    seen: dict[str, tuple[Document, Runbook]],
    report: Report,
) -> None:
    if runbook.id in seen:
        first = seen[runbook.id][0]
        line = first.locate(("id",))[0]
        message = f"duplicate runbook id {runbook.id!r} (also in {first.path}:{line})"
        report.findings.append(at(doc, ("id",), "duplicate-id", message))
        return
    seen[runbook.id] = (doc, runbook)


def _call_resolver(runbooks: dict[str, tuple[Document, Runbook]], folder: Path) -> checks.Resolve:
    """Calls go to the runbooks being validated, then to the caller's folder (where a call by
    path is found, itself included) and the shipped library, each known by its resolved path."""
    from aiir.validate.calls import resolver

    validated = {
        rid: (str(Path(doc.path).resolve()), runbook) for rid, (doc, runbook) in runbooks.items()
    }
    return resolver([folder, data_dir("runbooks")], first=validated)


# A shipped runbook states its id on a top-level line of its own (``id: rag-poisoning``).
_ID_LINE = re.compile(r"^id:[ \t]*['\"]?([a-z0-9][a-z0-9_-]*)['\"]?[ \t]*(?:#.*)?$", re.M)


@functools.cache
def shipped_ids() -> frozenset[str]:
    """Ids of the shipped library, which any runbook may call; a broken file is skipped here.

    Read from each file's ``id:`` line, not by parsing its YAML: parsing the whole library cost
    ``aiir validate ONE.yaml`` about half of its time (``bench.startup``). A file without such a
    line is parsed."""
    ids: set[str] = set()
    for path in shipped_runbooks():
        found = _ID_LINE.findall(path.read_text(encoding="utf-8"))
        if len(found) == 1:
            ids.add(found[0])
            continue
        try:
            data = load_file(path).data
        except LoadError:
            continue
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            ids.add(data["id"])
    return frozenset(ids)


def _scenario_findings(doc: Document, profile_folders: tuple[Path, ...]) -> list[Finding]:
    """A scenario's runbook must load and its answers and faults must fit it."""
    from aiir.validate.scenarios import prepare

    try:
        prepare(Path(doc.path), profile_folders)
    except LoadError as exc:
        return [from_load_error(exc)]
    except InputError as exc:
        return [at(doc, ("runbook",), "scenario", str(exc).split(": ", 1)[-1])]
    return []
