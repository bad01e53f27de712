"""Loading a rules file: the schema, then the checks beyond it, the first error with its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiir.errors import ValidationFailed
from aiir.formats.detect import DetectRules
from aiir.formats.findings import parse
from aiir.formats.loader import Document, load_file
from aiir.validate.detections import rules_findings


@dataclass(frozen=True)
class LoadedRules:
    path: Path
    doc: Document
    rules: DetectRules


def load_rules(path: Path) -> LoadedRules:
    """Load and check a rules file; the first error is raised with its file:line:col."""
    doc = load_file(path)
    rules = parse(doc, DetectRules)
    errors = [f for f in rules_findings(doc, rules) if f.level == "error"]
    if errors:
        raise ValidationFailed("\n".join(f.render() for f in errors))
    return LoadedRules(path, doc, rules)
