"""``aiir init``: a workspace laid out as the seed's 90-day plan."""

from __future__ import annotations

from pathlib import Path

from aiir.errors import InputError
from aiir.jsonschema import schema_text
from aiir.library import PACKAGE, data_dir

SCAFFOLD = PACKAGE / "scaffold"
KINDS = ("runbook", "profile", "scenario", "workspace", "team", "inventory", "canary")


def init(target: Path, *, force: bool = False) -> list[Path]:
    """Write the workspace into ``target``; refuses to overwrite files unless ``force``."""
    plan: dict[Path, bytes] = {}
    for source in sorted(SCAFFOLD.rglob("*")):
        if source.is_file() and "__pycache__" not in source.parts:
            relative = source.relative_to(SCAFFOLD)
            if relative.parts[0] == "ci":
                relative = Path(".github", "workflows", *relative.parts[1:])
            plan[target / relative] = source.read_bytes()
    for runbook in sorted(data_dir("runbooks").glob("*.yaml")):
        plan[target / "runbooks" / runbook.name] = runbook.read_bytes()
    for kind in KINDS:
        try:
            plan[target / "schemas" / f"{kind}.schema.json"] = schema_text(kind).encode()
        except InputError:
            continue  # a kind this build does not know
    plan[target / "templates" / "README.md"] = (
        b"Put a template here (e.g. slack-update.j2) to override the shipped one of the same name.\n"
    )
    plan[target / ".gitignore"] = b".aiir/\n"
    existing = [p for p in plan if p.exists()]
    if existing and not force:
        raise InputError(
            f"{existing[0]} already exists; pass --force to overwrite ({len(existing)} file(s))"
        )
    for path, content in plan.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (target / "canaries").mkdir(parents=True, exist_ok=True)
    return sorted(plan)
