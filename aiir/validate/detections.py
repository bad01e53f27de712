"""Detection rules beyond their schema: duplicate rule ids."""

from __future__ import annotations

from aiir.formats.detect import DetectRules
from aiir.formats.findings import Finding, at
from aiir.formats.loader import Document


def rules_findings(doc: Document, rules: DetectRules) -> list[Finding]:
    """What the schema alone cannot see: two rules with one id (their alerts would collide)."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for index, rule in enumerate(rules.rules):
        if rule.id in seen:
            message = f"duplicate rule id {rule.id!r}"
            findings.append(at(doc, ("rules", index, "id"), "duplicate-id", message))
        seen.add(rule.id)
    return findings
