"""``aiir init``: a workspace laid out as a 90-day adoption plan, whose own CI passes as laid out.

The workspace's copies of the shipped runbooks name the example inventory's systems in their
``systems:`` field (:data:`COVERS`), its canary suites watch each system and its drill exercises
the high-risk one, so ``aiir validate --strict .``, ``aiir drill drills/`` and then
``aiir inventory check`` (the scaffolded workflow's steps, in its order) all pass on the first push.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiir import __version__
from aiir.errors import InputError, shown
from aiir.formats.json_schema import schema_text
from aiir.formats.library import PACKAGE, data_dir

SCAFFOLD = PACKAGE / "scaffold"
KINDS = ("runbook", "profile", "scenario", "workspace", "team", "inventory", "canary", "detect")
VERSION_MARK = b"__AIIR_VERSION__"  # in the scaffolded workflow: the version that laid it out
# Which of the example inventory's systems each runbook covers (its `systems:` field).
COVERS: dict[str, tuple[str, ...]] = {
    "triage": ("support-bot", "analyst-assistant", "ad-agent"),
    "prompt-injection": ("support-bot",),
    "indirect-prompt-injection": ("support-bot",),
    "system-prompt-leak": ("support-bot",),
    "sensitive-data-leak": ("support-bot",),
    "hallucination": ("analyst-assistant",),
    "excessive-agency": ("ad-agent",),
    "denial-of-wallet": ("ad-agent",),
}
_CATEGORY = re.compile(rb"^category:[^\n]*\n", re.MULTILINE)


def init(target: Path, *, force: bool = False) -> list[Path]:
    """Write the workspace into ``target``; refuses to overwrite files unless ``force``."""
    if target.exists() and not target.is_dir():
        raise InputError(
            f"{shown(str(target))}: exists and is not a directory; name a new or empty directory"
        )
    plan = _plan(target)
    existing = [p for p in plan if p.exists()]
    if existing and not force:
        raise InputError(
            f"{existing[0]} already exists; pass --force to overwrite ({len(existing)} file(s))"
        )
    for path, content in plan.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        except OSError as exc:
            raise InputError(f"{shown(str(path))}: cannot write: {exc.strerror or exc}") from None
    return sorted(plan)


def _plan(target: Path) -> dict[Path, bytes]:
    plan: dict[Path, bytes] = {}
    for source in sorted(SCAFFOLD.rglob("*")):
        if source.is_file() and "__pycache__" not in source.parts:
            relative = source.relative_to(SCAFFOLD)
            if relative.parts[0] == "ci":
                relative = Path(".github", "workflows", *relative.parts[1:])
            plan[target / relative] = source.read_bytes().replace(
                VERSION_MARK, __version__.encode()
            )
    for runbook in sorted(data_dir("runbooks").glob("*.yaml")):
        plan[target / "runbooks" / runbook.name] = covering(runbook.read_bytes(), runbook.stem)
    for kind in KINDS:
        try:
            plan[target / "schemas" / f"{kind}.schema.json"] = schema_text(kind).encode()
        except InputError:
            continue  # a kind this build does not know
    plan[target / "templates" / "README.md"] = (
        b"Put a template here (e.g. slack-update.j2) to override the shipped one of the same name.\n"
    )
    plan[target / ".gitignore"] = b".aiir/\naiir-drills.xml\n"
    return plan


def covering(text: bytes, runbook_id: str) -> bytes:
    """The runbook with a ``systems:`` line after its ``category:`` when it covers any."""
    systems = COVERS.get(runbook_id)
    if not systems:
        return text
    line = f"systems: [{', '.join(systems)}]  # inventory.yaml ids this runbook covers\n"
    found = _CATEGORY.search(text)
    if found is None:  # every shipped runbook has a category; a test holds this
        raise ValueError(f"runbook {runbook_id} has no top-level category line")
    return text[: found.end()] + line.encode() + text[found.end() :]
