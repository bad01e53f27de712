"""Shared fragments: node maps in files of their own that runbooks ``include``.

A fragment is ``aiir: 1``, ``fragment: NAME`` and ``nodes:`` (and may include other fragments).
A runbook's ``include: [shared/evidence.yaml]`` adds the fragment's nodes to its own, the paths
taken from the including file's folder. Each fragment is checked against the schema in its own
file, so an error in it names that file and line; a node id defined twice and a cycle of
includes are errors naming both places. A walk keeps the runbook as resolved (fragments merged
in), so a resume needs only the incident's copy.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import yaml

from aiir.errors import LoadError
from aiir.formats.common import NodeId, Slug, Strict
from aiir.formats.findings import parse
from aiir.formats.loader import Document, load_file
from aiir.formats.modeling import Field, model_validator
from aiir.formats.paths import LeavesFolder, beneath
from aiir.formats.schema import IncludePath, Node, outside_folder, without_extensions

INCLUDE = "include"


class Fragment(Strict):
    """Nodes shared by several runbooks, included by path."""

    aiir: Literal[1] = Field(description="format version")
    fragment: Slug = Field(description="a name for the fragment")
    include: list[IncludePath] = Field(default_factory=list)
    nodes: dict[NodeId, Node] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _without_extensions(cls, data: Any) -> Any:
        return without_extensions(data)


def resolved(doc: Document) -> Document:
    """``doc`` (a runbook) with the nodes of every fragment it includes merged into its own."""
    data = doc.data
    if (
        not isinstance(data, dict)
        or not data.get(INCLUDE)
        or not isinstance(data.get("nodes"), dict)
    ):
        return doc
    nodes: dict[str, Any] = dict(data["nodes"])
    origin = dict.fromkeys(nodes, doc)
    _merge(doc, nodes, origin, [Path(doc.path).resolve()])
    return dataclasses.replace(doc, data={**data, "nodes": nodes})


def _merge(
    doc: Document, nodes: dict[str, Any], origin: dict[str, Document], stack: list[Path]
) -> None:
    paths = doc.data.get(INCLUDE) or []
    if not isinstance(paths, list):
        raise doc.error((INCLUDE,), "include is a list of paths ending in .yaml")
    for i, given in enumerate(paths):
        fragment = _fragment(doc, i, given, stack)
        for node_id, node in fragment.data["nodes"].items():
            if node_id in nodes:
                first = origin[node_id]
                line, _ = first.locate(("nodes", node_id), key=True)
                message = f"node {node_id!r} is defined twice (also in {first.path}:{line})"
                raise fragment.error(("nodes", node_id), message, key=True)
            nodes[node_id], origin[node_id] = node, fragment
        _merge(fragment, nodes, origin, [*stack, Path(fragment.path).resolve()])


def _fragment(doc: Document, i: int, given: Any, stack: list[Path]) -> Document:
    """The fragment ``include[i]`` of ``doc`` names, loaded and checked in its own file."""
    if not isinstance(given, str) or not given.endswith((".yaml", ".yml")):
        raise doc.error((INCLUDE, i), f"{given!r}: an include is a path ending in .yaml")
    outside = outside_folder(given)  # checked before anything is read from there
    if outside is not None:
        raise doc.error((INCLUDE, i), outside)
    try:
        target = beneath(Path(doc.path).parent, given)
    except LeavesFolder as exc:
        raise doc.error((INCLUDE, i), str(exc)) from None
    if target.resolve() in stack:
        ring = " → ".join(p.name for p in [*stack, target.resolve()])
        raise doc.error((INCLUDE, i), f"include cycle: {ring}")
    if not target.is_file():
        raise doc.error(
            (INCLUDE, i), f"no fragment at {given!r} (taken from {Path(doc.path).parent})"
        )
    fragment = load_file(target)
    parse(fragment, Fragment)
    return fragment


def resolved_bytes(path: Path) -> bytes:
    """A runbook file as a walk keeps it: as written, or, when it includes fragments, resolved."""
    raw = path.read_bytes()
    if not _may_include(raw):
        return raw
    try:
        doc = load_file(path)
    except LoadError:
        return raw
    if not isinstance(doc.data, dict) or not doc.data.get(INCLUDE):
        return raw
    data = {k: v for k, v in resolved(doc).data.items() if k != INCLUDE}
    header = f"# {path.name} as walked: the fragments it includes merged in\n"
    return (header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)).encode("utf-8")


def _may_include(raw: bytes) -> bool:
    """Whether a file's YAML can hold an ``include:`` key at all: only with the word in its text,
    or spelt with escapes (``"\\x69nclude"``). Parsing every file again at a walk's start cost up
    to 0.3 ms a node of a 200-node walk (``bench.engine``)."""
    return INCLUDE.encode() in raw or b"\\" in raw
