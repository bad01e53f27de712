"""Detection rules beyond their schema: duplicate rule ids, a rule without its source, a
source URL that cannot work."""

from __future__ import annotations

from aiir.formats.detect import DetectRules
from aiir.formats.findings import Finding, at
from aiir.formats.loader import Document
from aiir.validate.urls import url_problem


def rules_findings(doc: Document, rules: DetectRules) -> list[Finding]:
    """What the schema alone cannot see: two rules with one id (their alerts would collide),
    a PromQL rule with no ``prometheus`` to ask, a trace rule with no ``phoenix``."""
    findings: list[Finding] = []
    for name, source in (("prometheus", rules.prometheus), ("phoenix", rules.phoenix)):
        problem = url_problem(source.url) if source is not None else None
        if problem is not None:  # found only at the first evaluation, without the file and line
            findings.append(at(doc, (name, "url"), "source-url", problem))
    seen: set[str] = set()
    for index, rule in enumerate(rules.rules):
        if rule.id in seen:
            message = f"duplicate rule id {rule.id!r}"
            findings.append(at(doc, ("rules", index, "id"), "duplicate-id", message))
        seen.add(rule.id)
        if rule.query is not None and rules.prometheus is None:
            message = "a PromQL rule needs the document's 'prometheus: {url: ...}'"
            findings.append(at(doc, ("rules", index, "query"), "no-source", message))
        if rule.traces is not None and rules.phoenix is None:
            message = "a trace rule needs the document's 'phoenix: {url: ..., project: ...}'"
            findings.append(at(doc, ("rules", index, "traces"), "no-source", message))
    return findings
