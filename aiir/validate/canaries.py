"""A canary suite beyond its schema: references, duplicate prompts, the JSON Schemas it asserts."""

from __future__ import annotations

from aiir.formats import patterns
from aiir.formats.canary import CanarySuite
from aiir.formats.findings import Finding, at
from aiir.formats.loader import Document
from aiir.validate.credentials import literal_credentials, literal_url_credential
from aiir.validate.urls import url_problem


def suite_findings(doc: Document, suite: CanarySuite) -> list[Finding]:
    """What the schema alone cannot see: references, duplicates, JSON Schemas."""
    findings: list[Finding] = []
    gateway = suite.target.gateway
    if gateway is not None and gateway not in suite.gateways:
        declared = ", ".join(suite.gateways)
        message = f"gateway {gateway!r} is not declared (gateways: {declared})"
        findings.append(at(doc, ("target", "gateway"), "reference", message))
    elif gateway is None and len(suite.gateways) > 1:
        message = f"name the gateway: the suite declares {len(suite.gateways)}"
        findings.append(at(doc, ("target",), "reference", message))
    for name, declared_gateway in suite.gateways.items():
        problem = url_problem(declared_gateway.url) if declared_gateway.url is not None else None
        if problem is not None:  # found only when the run began, without the file and line
            findings.append(at(doc, ("gateways", name, "url"), "gateway-url", problem))
        headers = ("gateways", name, "headers")
        findings += literal_credentials(doc, headers, declared_gateway.headers)
        findings += literal_url_credential(doc, ("gateways", name, "url"), declared_gateway.url)
    seen: set[str] = set()
    for index, prompt in enumerate(suite.prompts):
        if prompt.id in seen:
            message = f"duplicate prompt id {prompt.id!r}"
            findings.append(at(doc, ("prompts", index, "id"), "duplicate-id", message))
        seen.add(prompt.id)
        for number, check in enumerate(prompt.assert_):
            loc = ("prompts", index, "assert", number)
            if check.base == "canary-token" and suite.canary_token is False:
                message = "a canary-token check needs a planted token: set 'canary_token'"
                findings.append(at(doc, (*loc, "type"), "reference", message))
            if check.base == "regex" and patterns.nested_quantifier(str(check.value)):
                message = (
                    f"the pattern {check.value!r} repeats a repeat (like (a+)+), which can "
                    "backtrack exponentially on a near-miss reply (a match that takes over a "
                    "second fails the check); drop the inner or the outer quantifier"
                )
                findings.append(at(doc, (*loc, "value"), "slow-pattern", message, level="warning"))
            if check.schema_ is not None:
                problem = _schema_problem(check.schema_)
                if problem is not None:
                    findings.append(at(doc, (*loc, "schema"), "schema", problem))
    return findings


def _schema_problem(schema: dict[str, object]) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"not a valid JSON Schema: {exc.message}"
    return None
