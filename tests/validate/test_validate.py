"""One test per validator finding, each asserting its exact ``path:line:col: level: where: msg``.

Every test breaks one thing in :func:`tests.helpers.minimal_runbook` (which has no findings) and
expects exactly the findings that one change causes. Locations are computed from the YAML text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.errors import InputError
from aiir.formats.common import NODE_KINDS
from aiir.validate.documents import validate_paths
from tests.helpers import confirm_runbook, dump, minimal_runbook, where, write

Doc = dict[str, Any]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths keep the expected lines short


def check(data: Any, name: str = "rb.yaml") -> tuple[str, list[str]]:
    """Write ``data`` to ``name``, validate it alone; the text and every rendered finding."""
    text = write(Path(name), data)
    return text, [finding.render() for finding in validate_paths([name]).findings]


def key(text: str, name: str) -> str:
    """Where a node, lever or gateway named ``name`` (a key two spaces in) is declared."""
    return where(text, f"\n  {name}:")


def request_at(text: str, part: str) -> str:
    """Where a lever's ``engage``/``verify``/``release`` request starts: its first key, below."""
    line = where(text, f"    {part}:\n").split(":")[0]
    return f"{int(line) + 1}:7"


def checklist(next_node: str) -> Doc:
    return {
        "kind": "checklist",
        "title": "Steps",
        "items": [{"id": "a", "text": "A"}],
        "next": next_node,
    }


def test_minimal_runbook_is_clean() -> None:
    assert check(minimal_runbook())[1] == []


# --- schema --------------------------------------------------------------------------------------


def test_unknown_field() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["colour"] = "red"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'colour:')}: error: nodes.contain.colour: unknown field 'colour'"
    ]


def test_unknown_top_level_field() -> None:
    rb = minimal_runbook()
    rb["severty"] = "SEV1"
    text, found = check(rb)
    assert found == [f"rb.yaml:{where(text, 'severty:')}: error: severty: unknown field 'severty'"]


@pytest.mark.parametrize(
    ("place", "field", "value"),
    [
        (("nodes", "contain"), "max_visits", True),  # `true` is not the count 1
        (("nodes", "contain"), "max_visits", "3"),  # nor is the string "3"
        (("nodes", "contain"), "max_visits", 2.5),
        (("nodes", "contain"), "downgrade", 1),  # 1 is not a flag
        (("nodes", "contain"), "downgrade", "true"),
        (("levers", "kill", "engage"), "retries", False),
        (("levers", "kill", "engage"), "timeout", True),
        (("levers", "kill", "engage"), "timeout", "5"),
        (("levers", "kill", "engage", "expect"), "status", True),
    ],
)
def test_a_scalar_of_the_wrong_type_is_not_converted(
    place: tuple[str, ...], field: str, value: object
) -> None:
    rb = minimal_runbook()
    target = rb
    for part in place:
        target = target.setdefault(part, {})
    target[field] = value
    if field == "downgrade":
        target["severity"] = "SEV2"
    text, found = check(rb)
    assert len(found) == 1, found
    line, col = where(text, f" {field}: ").split(":")
    at = f"{line}:{int(col) + len(field) + 2}"  # the value, after the key
    assert found[0].startswith(f"rb.yaml:{at}: error: {'.'.join(place)}.{field}: expected "), found


def test_a_number_may_be_written_without_a_point() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["engage"]["timeout"] = 5
    assert check(rb)[1] == []


def test_missing_field() -> None:
    rb = minimal_runbook()
    del rb["nodes"]["contain"]["title"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'contain')}: error: nodes.contain: missing required field 'title'"
    ]


def test_missing_top_level_field() -> None:
    rb = minimal_runbook()
    del rb["owner"]
    assert check(rb)[1] == ["rb.yaml:1:1: error: missing required field 'owner'"]


def test_bad_enum_value() -> None:
    rb = minimal_runbook()
    rb["severity"] = "SEV9"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'severity: SEV9', 'SEV9')}: error: severity: 'SEV9': "
        "input should be 'SEV1', 'SEV2', 'SEV3', 'SEV4' or 'SEV5'"
    ]


def test_bad_outcome() -> None:
    rb = minimal_runbook()
    rb["nodes"]["done"]["outcome"] = "won"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'outcome: won', 'won')}: error: nodes.done.outcome: 'won': "
        "input should be 'resolved', 'contained', 'mitigated', 'escalated', 'handed-off', "
        "'false-positive', 'aborted' or 'failed'"
    ]


def test_not_contained_is_recorded_by_aiir_never_written() -> None:
    rb = minimal_runbook()
    rb["nodes"]["done"]["outcome"] = "not-contained"
    _, found = check(rb)
    assert len(found) == 1
    assert "nodes.done.outcome: 'not-contained': input should be" in found[0]


def test_owasp_id_without_edition() -> None:
    rb = minimal_runbook()
    rb["tags"]["owasp"] = ["LLM01:2025", "LLM02"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, '- LLM02', 'LLM02')}: error: tags.owasp[1]: 'LLM02' "
        "must be an OWASP LLM Top 10 id with edition (e.g. LLM01:2025)"
    ]


def test_bad_slug() -> None:
    rb = minimal_runbook()
    rb["id"] = "Demo Runbook"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'Demo Runbook')}: error: id: 'Demo Runbook' "
        "must be lower-case letters, digits, '-' or '_' (e.g. 'block-key')"
    ]


def test_unknown_node_kind() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["kind"] = "switch"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'kind: switch', 'switch')}: error: nodes.contain.kind: "
        f"unknown node kind 'switch': one of {', '.join(NODE_KINDS)}"
    ]


def test_missing_node_kind() -> None:
    rb = minimal_runbook()
    del rb["nodes"]["contain"]["kind"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'contain')}: error: nodes.contain: missing 'kind': one of "
        f"{', '.join(NODE_KINDS)}"
    ]


def test_wrong_type_inside_a_choice() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"][2]["next"] = 42
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'next: 42', '42')}: error: nodes.triage.choices[2].next: "
        "expected a string, got the number 42"
    ]


def test_wrong_type_names_every_accepted_type() -> None:
    rb = minimal_runbook()
    rb["inputs"]["model"]["default"] = ["a", "b"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, '- a')}: error: inputs.model.default: "
        "expected a string, a whole number, a number or a boolean (true or false), got a list"
    ]


def test_mapping_expected() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"] = "kill it"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'contain: kill it', 'kill')}: error: nodes.contain: "
        "expected a mapping (key: value), got the string 'kill it'"
    ]


def test_too_few_choices() -> None:
    rb = minimal_runbook()
    del rb["nodes"]["triage"]["choices"][:2]
    rb["nodes"]["triage"]["choices"][0]["next"] = "contain"
    rb["nodes"]["contain"]["next"] = "done"
    del rb["nodes"]["dismiss"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, '- label')}: error: nodes.triage.choices: "
        "needs at least 2 item(s), has 1"
    ]


def test_model_rule_request_needs_use_or_method_and_path() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["release"] = {"method": "POST"}
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{request_at(text, 'release')}: error: levers.kill.release: "
        "a request needs either 'use' (a profile action) or 'method' and 'path'"
    ]


def test_request_path_must_stay_on_the_gateway() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["release"]["path"] = "https://elsewhere.example/revive"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{request_at(text, 'release')}: error: levers.kill.release: "
        "'path' must start with '/': requests only go to declared gateways"
    ]


@pytest.mark.parametrize("kind", ["runbook", "profile"])
def test_the_json_schema_refuses_a_path_without_a_leading_slash(kind: str) -> None:
    """As the models do: editors and other JSON Schema tools agree with ``aiir validate``."""
    import jsonschema

    from aiir.formats.json_schema import schema_of

    if kind == "runbook":
        good: Doc = minimal_runbook()
        bad = minimal_runbook()
        bad["levers"]["kill"]["release"]["path"] = "revive"
        errors_at = ["levers", "kill", "release", "path"]
    else:
        action = {"description": "F", "method": "POST", "path": "/freeze"}
        good = {"aiir": 1, "profile": "inhouse", "title": "In-house", "actions": {"f": action}}
        bad = {**good, "actions": {"f": {**action, "path": "freeze"}}}
        errors_at = ["actions", "f", "path"]
    validator = jsonschema.Draft202012Validator(schema_of(kind))
    assert list(validator.iter_errors(good)) == []
    errors = list(validator.iter_errors(bad))
    leaves = []
    while errors:  # an optional field's schema is anyOf [..., null]: the reason is inside it
        error = errors.pop()
        errors.extend(error.context or [])
        leaves.append((list(error.absolute_path), error.validator, error.message))
    wrong = "revive" if kind == "runbook" else "freeze"
    assert (errors_at, "pattern", f"{wrong!r} does not match '^/'") in leaves, leaves
    (finding,) = check(bad, f"{kind}.yaml")[1]
    assert "'path' must start with '/'" in finding


# --- graph ---------------------------------------------------------------------------------------


def test_dangling_next_with_did_you_mean() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "dnoe"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'next: dnoe', 'dnoe')}: error: nodes.contain.next: "
        "'dnoe' names no node (did you mean 'done'?)",
        f"rb.yaml:{key(text, 'done')}: warning: nodes.done: "
        "unreachable: no path from start 'triage' leads here",
    ]


def test_unknown_start() -> None:
    rb = minimal_runbook()
    rb["start"] = "traige"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'start: traige', 'traige')}: error: start: "
        "'traige' names no node (did you mean 'triage'?)"
    ]


def test_unreachable_node_is_a_warning() -> None:
    rb = minimal_runbook()
    rb["nodes"]["orphan"] = {"kind": "end", "title": "Orphan", "outcome": "resolved"}
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'orphan:')}: warning: nodes.orphan: "
        "unreachable: no path from start 'triage' leads here"
    ]


def test_a_patterned_input_without_a_hint_is_a_warning_and_with_one_is_clean() -> None:
    rb = minimal_runbook()
    start = rb["start"]
    rb["nodes"]["key"] = {
        "kind": "input",
        "title": "The key",
        "prompt": "Which key?",
        "pattern": "^sk-[a-z0-9]+$",
        "next": start,
    }
    rb["start"] = "key"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'pattern: ^', '^')}: warning: nodes.key.pattern: a pattern with no "
        "hint: an answer that does not match is told only the regular expression; say what is "
        "expected in words (hint: 'a key alias, like sk-...')"
    ]
    rb["nodes"]["key"]["hint"] = "a key alias, like sk-abc123"
    assert check(rb)[1] == []


def test_cycle_with_no_way_out() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"][1]["next"] = "wait"
    rb["nodes"]["wait"] = checklist("retry")
    rb["nodes"]["retry"] = checklist("wait")
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'wait')}: error: nodes.wait: "
        "cycle with no way out: wait → retry → wait"
    ]


def test_self_loop() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"][1]["next"] = "spin"
    rb["nodes"]["spin"] = checklist("spin")
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'spin')}: error: nodes.spin: cycle with no way out: spin → spin"
    ]


def test_node_with_no_path_to_an_end() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"][1]["next"] = "escalate"
    rb["nodes"]["escalate"] = checklist("wait")
    rb["nodes"]["wait"] = checklist("retry")
    rb["nodes"]["retry"] = checklist("wait")
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'escalate')}: error: nodes.escalate: no path from here to an end",
        f"rb.yaml:{key(text, 'wait')}: error: nodes.wait: "
        "cycle with no way out: wait → retry → wait",
    ]


def test_cycle_with_a_way_out_is_fine() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "held"
    rb["nodes"]["held"] = {
        "kind": "confirm",
        "title": "Held?",
        "prompt": "Did it hold?",
        "yes": "done",
        "no": "contain",
    }
    assert check(rb)[1] == []


# --- templates -----------------------------------------------------------------------------------

UNDEFINED = {
    "inputs": (
        "inputs.modle",
        "'inputs.modle' is not defined: declare it under 'inputs' (did you mean 'model'?)",
    ),
    "answers": (
        "answers.traige",
        "'answers.traige' is not defined: no question, confirm, input, checklist, lever, action "
        "or call node has that id (did you mean 'triage'?)",
    ),
    "vars": (
        "vars.guardrail_id",
        "'vars.guardrail_id' is not defined: no request saves it ('save:') and no set node sets it",
    ),
    "env": (
        "env.TOKN",
        "'env.TOKN' is not defined: declare it under 'env' (did you mean 'TOKEN'?)",
    ),
    "incident": (
        "incident.sev",
        "'incident.sev' is not defined: incident has: category, drill, elapsed, exercise, id, operator, "
        "outcome, runbook, severity, started_at, tags, title",
    ),
    "bare name": (
        "model",
        "'model' is not defined here; templates here read answers.*, env.*, incident.*, inputs.*, levers.*, "
        "vars.*",
    ),
    "namespace of another place": (
        "window.start",
        "'window.start' is not defined here; templates here read answers.*, env.*, incident.*, "
        "inputs.*, levers.*, vars.*",
    ),
}


@pytest.mark.parametrize("case", UNDEFINED)
def test_undefined_template_variable(case: str) -> None:
    variable, message = UNDEFINED[case]
    rb = minimal_runbook()
    rb["nodes"]["triage"]["prompt"] = f"What happened to {{{{ {variable} }}}}?"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'What happened')}: error: nodes.triage.prompt: {message}"
    ]


def test_saved_vars_and_item_access_are_defined() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["engage"]["save"] = {"switch_id": "id"}
    rb["levers"]["kill"]["release"]["json"] = {"id": "{{ vars.switch_id }}"}
    rb["nodes"]["done"]["summary"] = "{{ answers['triage'] }} on {{ incident.id }}"
    assert check(rb)[1] == []


def test_gateway_headers_read_env_only() -> None:
    rb = minimal_runbook()
    rb["gateways"]["gw"]["headers"]["X-Model"] = "{{ inputs.model }}"
    text, found = check(rb)
    value = where(text, "X-Model: '", "'")
    assert found == [
        f"rb.yaml:{value}: error: gateways.gw.headers.X-Model: "
        "'inputs.model' is not defined here; templates here read env.*"
    ]


def test_template_syntax_error() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["prompt"] = "What happened to {{ inputs.model }?"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'What happened')}: error: nodes.triage.prompt: template syntax "
        "error: line 1 of the template: unexpected '}'"
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [("{{ inputs.model | nosuch }}", "No filter named 'nosuch'."),
     ("{{ inputs.model is nosuch }}", "No test named 'nosuch'.")],
)  # fmt: skip
def test_unknown_filter_or_test_is_a_finding(payload: str, reason: str) -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["prompt"] = f"What happened? {payload}"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'What happened')}: error: nodes.triage.prompt: template syntax "
        f"error: line 1 of the template: {reason}"
    ]


PRIVATE = "reaches for a private attribute ({}): the sandbox refuses it"
DUNDER = (
    "has a string with '__' in it ({}): names like that lead to Python's internals, "
    "which the sandbox refuses"
)
FORMAT = (
    "calls .{}: its fields ('{{0.attribute}}') reach attributes the sandbox refuses only "
    "mid-incident; join with ~ or use the 'format' filter"
)
COMPUTED = (
    "gives {!r} a computed attribute name: only a literal one can be checked before the incident"
)
STANDS_ALONE = (
    "uses {{% {} %}}: a runbook's templates stand alone, there is no other template to load"
)
# Every spelling of a reach for Python's internals (or of another failure that would come only
# when the template is rendered, mid-incident): the exact message after "template ".
SPELLINGS = [
    ("{{ ''.__class__.__mro__ }}", PRIVATE.format("'__class__'")),
    ("{{ inputs['__class__'] }}", PRIVATE.format("'__class__'")),
    ("{{ inputs._secret }}", PRIVATE.format("'_secret'")),
    ("{{ inputs['_secret'] }}", PRIVATE.format("'_secret'")),
    ("{{ self._TemplateReference__context }}", PRIVATE.format("'_TemplateReference__context'")),
    ("{{ inputs | attr('__dict__') }}", PRIVATE.format("'__dict__'")),
    ("{{ inputs|attr('\\x5f\\x5fclass\\x5f\\x5f') }}", PRIVATE.format("'__class__'")),
    ("{{ inputs|attr('\\u005f\\u005fclass\\u005f\\u005f') }}", PRIVATE.format("'__class__'")),
    ("{{ inputs|attr(name='_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs['\\x5fx'] }}", PRIVATE.format("'_x'")),
    ("{{ inputs | map(attribute='__class__') | list }}", PRIVATE.format("'__class__'")),
    ("{{ inputs | map(attribute='model._x') | list }}", PRIVATE.format("'_x'")),
    ("{{ inputs | map('attr', '_x') | list }}", PRIVATE.format("'_x'")),
    ("{{ inputs | selectattr('_x') | list }}", PRIVATE.format("'_x'")),
    ("{{ inputs | rejectattr('_x', 'defined') | list }}", PRIVATE.format("'_x'")),
    ("{{ inputs | sort(attribute='model,_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs | sort(false, false, '_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs | groupby('_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs | unique(attribute='_x') | list }}", PRIVATE.format("'_x'")),
    ("{{ inputs | sum('_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs | min(attribute='_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs | max(false, '_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs | join(', ', '_x') }}", PRIVATE.format("'_x'")),
    ("{{ inputs.model.mro() }}", "reaches for an interpreter internal ('mro'): the sandbox refuses it"),
    ("{{ '{0.__class__}'.format(inputs) }}", FORMAT.format("format")),
    ("{{ '{0.model}'.format(inputs) }}", FORMAT.format("format")),
    ("{{ '{x.model}'.format_map(answers) }}", FORMAT.format("format_map")),
    ("{{ inputs.model['format']('{0}') }}", FORMAT.format("format")),
    ("{{ (inputs.model | attr('format'))('{0}') }}", FORMAT.format("format")),
    ("{% set f = '{0.__class__}' %}{{ f }}", DUNDER.format("'{0.__class__}'")),
    ("{{ inputs | attr(answers.triage) }}", COMPUTED.format("attr")),
    ("{{ inputs | attr('_' ~ 'x') }}", COMPUTED.format("attr")),
    ("{{ inputs | map(attribute=answers.triage) | list }}", COMPUTED.format("map")),
    ("{{ inputs | map(answers.triage) | list }}", "gives 'map' a computed filter name: only a literal one can be checked"),
    ("{{ inputs | map('nosuch') | list }}", "gives 'map' the filter name 'nosuch', which is no filter"),
    ("{{ inputs | select('nosuch') | list }}", "gives 'select' the test name 'nosuch', which is no test"),
    ("{{ inputs | sort(*answers) }}", "passes *args or **kwargs to 'sort': its attribute name cannot be checked"),
    ("{{ inputs['_' ~ 'x'] }}", "builds a key from strings: write it as one string, so that it can be checked"),
    ("{% include 'other.j2' %}", STANDS_ALONE.format("include")),
    ("{% import 'other.j2' as other %}", STANDS_ALONE.format("import")),
    ("{% from 'other.j2' import x %}", STANDS_ALONE.format("from")),
    ("{% extends 'other.j2' %}", STANDS_ALONE.format("extends")),
    ("{{ inputs.model | attr }}", "gives the filter 'attr' arguments it does not take (missing a required argument: 'name')"),
    ("{{ inputs.model | replace('a') }}", "gives the filter 'replace' arguments it does not take (missing a required argument: 'new')"),
    ("{{ inputs.model | upper(1) }}", "gives the filter 'upper' arguments it does not take (too many positional arguments)"),
    ("{{ inputs.model is divisibleby }}", "gives the test 'divisibleby' arguments it does not take (missing a required argument: 'num')"),
    ("{{ inputs | map('replace') | list }}", "gives the filter 'replace' (through 'map') arguments it does not take (missing a required argument: 'old')"),
    ("{{ 'a' * 10**9 }}", "computes ** on constants alone: Jinja2 works that out while compiling, however large; write the value"),
    ("{{ 'a' * 999999999 }}", "computes * on constants alone: Jinja2 works that out while compiling, however large; write the value"),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "message"), SPELLINGS, ids=[p for p, _ in SPELLINGS])
def test_template_that_the_sandbox_would_refuse_only_when_rendered(
    payload: str, message: str
) -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["prompt"] = f"What happened? {payload}"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'What happened')}: error: nodes.triage.prompt: template {message}"
    ]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("answers.triage.__class__ == 'x'", PRIVATE.format("'__class__'")),
        ("answers.triage | attr('\\x5fx') == 'x'", PRIVATE.format("'_x'")),
        ("'{0.x}'.format(answers) == 'x'", FORMAT.format("format")),
        ("10**10**10 > 1", "computes ** on constants alone: Jinja2 works that out while compiling, however large; write the value"),
    ],
)  # fmt: skip
def test_branch_condition_that_the_sandbox_would_refuse(when: str, message: str) -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "route"
    rb["nodes"]["route"] = {
        "kind": "branch",
        "title": "Route",
        "cases": [{"when": when, "next": "dismiss"}],
        "default": "done",
    }
    text, found = check(rb)
    line, col = where(text, "- when:", "when:").split(":")
    assert found == [
        f"rb.yaml:{line}:{int(col) + len('when: ')}: error: nodes.route.cases[0].when: "
        f"template {message}"
    ]


def test_harmless_templates_are_not_refused() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["prompt"] = (
        "{{ inputs.model | upper }} {{ inputs | map('upper') | join(', ') }} {{ 24 * 3600 }} "
        "{{ inputs | sort(attribute='model') | first }} {{ inputs.model | replace('a', 'b') }} "
        "{{ inputs['model'] }} {{ [1, 2][-1] }} {{ 'a' ~ 'b' }} {{ '%s' | format(inputs.model) }} "
        "{{ inputs | selectattr('model', 'equalto', 'x') | list }} {{ answers[inputs.model] }}"
    )
    assert check(rb)[1] == []


def test_gateway_header_that_the_sandbox_would_refuse() -> None:
    rb = minimal_runbook()
    rb["gateways"]["gw"]["headers"]["Authorization"] = "Bearer {{ env.TOKEN.__class__ }}"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'Authorization: Bearer', 'Bearer')}: error: "
        f"gateways.gw.headers.Authorization: template {PRIVATE.format(repr('__class__'))}"
    ]


def test_profile_action_that_the_sandbox_would_refuse() -> None:
    profile = {
        "aiir": 1,
        "profile": "inhouse",
        "title": "In-house gateway",
        "actions": {
            "freeze": {
                "description": "F",
                "method": "POST",
                "path": "/f/{{ params | attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
            }
        },
    }
    text, found = check(profile, "inhouse.yaml")
    assert found == [
        f"inhouse.yaml:{where(text, '/f/')}: error: actions.freeze.path: "
        f"template {PRIVATE.format(repr('__class__'))}"
    ]


@pytest.mark.parametrize(
    "payload",
    [
        "{{ inputs|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{{ inputs | map(attribute='__class__') | list }}",
        "{{ '{0.__class__}'.format(inputs) }}",
        "{{ inputs.model | attr }}",
    ],
)
def test_run_refuses_such_a_template_before_anything_is_sent(
    payload: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In the end node's summary: rendered only after the levers, which used to be engaged."""
    from tests.runs import DRILL_ANSWERS, drill
    from tests.servers import serve_gateway

    data = drill()
    data["nodes"]["done"]["summary"] = f"Contained. {payload}"
    text = write(Path("drill.yaml"), data)
    write(Path("answers.yaml"), DRILL_ANSWERS)
    with serve_gateway() as (url, state):
        incidents = ["--yes", "--incident-dir", str(tmp_path / "incidents")]
        status = main(
            ["run", "drill.yaml", "-a", "answers.yaml", "--gateway", f"gateway={url}", *incidents]
        )
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(
        f"aiir: {tmp_path / 'drill.yaml'}:{where(text, 'summary: Contained', 'Contained')}: "
        "error: nodes.done.summary: template "
    ), err
    assert err.count("\n") == 1
    assert state.calls == []
    assert not (tmp_path / "incidents").exists()


def test_underscores_in_plain_text_are_not_private_attributes() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["text"] = (
        "Stop. _Then_ page; see config._flag or ['_x']. {{ inputs.model }}"
    )
    assert check(rb)[1] == []


# --- levers --------------------------------------------------------------------------------------


def test_lever_without_release() -> None:
    rb = minimal_runbook()
    del rb["levers"]["kill"]["release"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'kill')}: warning: levers.kill: "
        "no 'release': the lever cannot be rolled back"
    ]


def test_lever_without_verify() -> None:
    rb = minimal_runbook()
    del rb["levers"]["kill"]["verify"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'kill')}: warning: levers.kill: "
        "no 'verify' probe: aiir cannot prove the lever took effect"
    ]


def test_unused_lever() -> None:
    rb = minimal_runbook()
    rb["levers"]["spare"] = dict(rb["levers"]["kill"], title="Spare")
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'spare')}: warning: levers.spare: "
        "declared but no lever node engages it"
    ]


def test_lever_that_destroys_evidence_reached_without_capture() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["destroys_evidence"] = True
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'contain')}: warning: nodes.contain: lever 'kill' destroys "
        "evidence, but a path reaches it with no capture first: triage → contain"
    ]


def test_lever_that_destroys_evidence_after_a_capture_is_fine() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["destroys_evidence"] = True
    rb["nodes"]["triage"]["choices"][0]["next"] = "capture"
    rb["nodes"]["triage"]["choices"][1]["next"] = "capture"
    rb["nodes"]["capture"] = {
        "kind": "capture",
        "title": "Capture",
        "items": [
            {"name": "logs", "what": ["outputs"], "request": {"method": "GET", "path": "/l"}}
        ],
        "next": "contain",
    }
    assert check(rb)[1] == []


def test_undeclared_lever_in_a_lever_node() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["lever"] = "kil"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{key(text, 'kill')}: warning: levers.kill: declared but no lever node engages it",
        f"rb.yaml:{where(text, 'lever: kil', 'kil')}: error: nodes.contain.lever: "
        "'kil' is not a declared lever (declared: kill)",
    ]


# --- gateways, profiles, actions -----------------------------------------------------------------


def test_unknown_gateway() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["engage"]["gateway"] = "backup"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'gateway: backup', 'backup')}: error: levers.kill.engage.gateway: "
        "'backup' is not a declared gateway (declared: gw)"
    ]


def test_several_gateways_and_none_named() -> None:
    rb = minimal_runbook()
    rb["gateways"]["backup"] = {"profile": "http", "url": "http://127.0.0.1:4001"}
    rb["levers"]["kill"]["verify"]["gateway"] = "gw"
    text, found = check(rb)
    message = "several gateways declared (backup, gw): name one in 'gateway'"
    assert found == [
        f"rb.yaml:{request_at(text, 'engage')}: error: levers.kill.engage: " + message,
        f"rb.yaml:{request_at(text, 'release')}: error: levers.kill.release: " + message,
    ]


def test_no_gateway_declared() -> None:
    rb = minimal_runbook()
    del rb["gateways"]
    del rb["levers"]["kill"]["verify"]
    del rb["levers"]["kill"]["release"]
    text, found = check(rb)
    assert found[2:] == [
        f"rb.yaml:{request_at(text, 'engage')}: error: levers.kill.engage: "
        "no gateway declared: add one under 'gateways'"
    ]  # after the warnings for the lever it had to lose: no verify, no release


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "'not a url' is not an http(s) URL: it must start with http:// or https://"),
        ("ftp://gw.internal", "'ftp://gw.internal' is not an http(s) URL: it must start with http:// or https://"),
        ("127.0.0.1:4000", "'127.0.0.1:4000' is not an http(s) URL: it must start with http:// or https://"),
        ("http://", "'http://' has no host: expected e.g. https://gateway.internal:4000"),
        ("https:///v1", "'https:///v1' has no host: expected e.g. https://gateway.internal:4000"),
        ("http://gw internal:4000", "'http://gw internal:4000' is not a URL: it has a space in it"),
        ("http://gw:port", "'http://gw:port' is not a valid URL (Port could not be cast to integer value as 'port')"),
        ("ftp://{{ env.TOKEN }}", "'ftp://{{ env.TOKEN }}' is not an http(s) URL: it must start with http:// or https://"),
        ("http:///{{ env.TOKEN }}", "'http:///{{ env.TOKEN }}' has no host: expected e.g. https://gateway.internal:4000"),
        ("gw-{{ env.TOKEN }}", "'gw-{{ env.TOKEN }}' is not an http(s) URL: it must start with http:// or https://"),
        ("http://gw:0", "'http://gw:0' has port 0, not one from 1 to 65535"),
        ("http://a..b:4000", "'http://a..b:4000' has a host no name can have (an empty label, as in 'a..b', or one over 63 characters)"),
        (f"http://{'a' * 64}.net", f"'http://{'a' * 52}…' has a host no name can have (an empty label, as in 'a..b', or one over 63 characters)"),
        ("http://gw:99999", "'http://gw:99999' is not a valid URL (Port out of range 0-65535)"),
        ("http://gw/v1?api-version=1", "'http://gw/v1?api-version=1' has a query string or a fragment (?…, #…), which each request's path would be added to: give query parameters on the requests (query:)"),
        ("http://gw/v1#x{{ env.TOKEN }}", "'http://gw/v1#x{{ env.TOKEN }}' has a query string or a fragment (?…, #…), which each request's path would be added to: give query parameters on the requests (query:)"),
    ],
)  # fmt: skip
def test_gateway_url_that_is_not_an_http_url(url: str, message: str) -> None:
    rb = minimal_runbook()
    rb["gateways"]["gw"]["url"] = url
    text, found = check(rb)
    line, col = where(text, "    url:").split(":")
    assert found == [f"rb.yaml:{line}:{int(col) + len('url: ')}: error: gateways.gw.url: {message}"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4000",
        "HTTPS://Gateway.Internal/v1",
        "http://[::1]:4000",
        "{{ env.TOKEN }}",
        "http{{ env.TOKEN }}",
        "https://{{ env.TOKEN }}:4000",
        "https://gw-{{ env.TOKEN }}.internal",
    ],
)
def test_gateway_url_that_is_or_may_be_an_http_url(url: str) -> None:
    rb = minimal_runbook()
    rb["gateways"]["gw"]["url"] = url
    assert check(rb)[1] == []


def test_validate_strict_fails_on_a_gateway_url_that_is_not_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rb = minimal_runbook()
    rb["gateways"]["gw"]["url"] = "not a url"
    write(Path("rb.yaml"), rb)
    assert main(["validate", "--strict", "rb.yaml"]) == 2
    assert "gateways.gw.url: 'not a url' is not an http(s) URL" in capsys.readouterr().err


def test_unknown_gateway_profile() -> None:
    rb = minimal_runbook()
    rb["gateways"]["gw"]["profile"] = "litelm"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'profile: litelm', 'litelm')}: error: gateways.gw.profile: "
        "unknown gateway profile 'litelm' (did you mean 'litellm'?)"
    ]


def test_unknown_profile_in_use() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["verify"]["use"] = "htp.chat"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'use: htp.chat', 'htp')}: error: levers.kill.verify.use: "
        "unknown profile 'htp' (did you mean 'http'?)"
    ]


def test_unknown_profile_action() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["verify"]["use"] = "http.chatt"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'use: http.chatt', 'http')}: error: levers.kill.verify.use: "
        "profile 'http' has no action 'chatt' (did you mean 'chat'?)"
    ]


def test_action_of_another_kind_of_gateway() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["verify"]["use"] = "litellm.chat"
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'use: litellm', 'litellm')}: error: levers.kill.verify.use: "
        "'litellm.chat' needs a litellm gateway; gateway 'gw' is http"
    ]


def test_sandbox_gateway_speaks_litellm() -> None:
    rb = minimal_runbook()
    rb["gateways"]["gw"]["profile"] = "sandbox"
    rb["levers"]["kill"]["verify"]["use"] = "litellm.chat"
    assert check(rb)[1] == []


def test_unknown_action_parameter() -> None:
    rb = minimal_runbook()
    rb["levers"]["kill"]["verify"]["with"]["temperature"] = 0
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'temperature:')}: error: levers.kill.verify.with.temperature: "
        "http.chat takes no parameter 'temperature' (takes: max_tokens, model, prompt)"
    ]


def test_missing_action_parameter() -> None:
    rb = minimal_runbook()
    del rb["levers"]["kill"]["verify"]["with"]["prompt"]
    text, found = check(rb)
    assert found == [
        f"rb.yaml:{where(text, 'use: http.chat', 'http')}: error: levers.kill.verify.use: "
        "http.chat needs parameter 'prompt' in 'with' (the user message)"
    ]


def test_custom_profile_validated_alongside() -> None:
    profile = {
        "aiir": 1,
        "profile": "inhouse",
        "title": "In-house gateway",
        "actions": {
            "freeze": {
                "description": "Freeze a tenant.",
                "params": {"tenant": {"description": "tenant id"}},
                "method": "POST",
                "path": "/freeze/{{ params.tenant }}",
            }
        },
    }
    rb = minimal_runbook()
    rb["gateways"]["gw"]["profile"] = "inhouse"
    rb["levers"]["kill"]["engage"] = {"use": "inhouse.freeze", "with": {"tenant": "t1"}}
    del rb["levers"]["kill"]["verify"]
    write(Path("inhouse.yaml"), profile)
    write(Path("rb.yaml"), rb)
    report = validate_paths(["inhouse.yaml", "rb.yaml"])
    assert report.checked == {"inhouse.yaml": "profile", "rb.yaml": "runbook"}
    assert [f.code for f in report.findings] == ["no-verify"]


def test_profile_action_reads_only_its_params() -> None:
    profile = {
        "aiir": 1,
        "profile": "inhouse",
        "title": "In-house gateway",
        "actions": {"freeze": {"description": "F", "method": "POST", "path": "/f/{{ inputs.x }}"}},
    }
    text, found = check(profile, "inhouse.yaml")
    assert found == [
        f"inhouse.yaml:{where(text, '/f/')}: error: actions.freeze.path: "
        "'inputs.x' is not defined: profile actions read their own params.*"
    ]


# --- runbooks calling runbooks -------------------------------------------------------------------


def calling(target: str) -> Doc:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"][2]["next"] = "handoff"
    rb["nodes"]["handoff"] = {"kind": "call", "title": "Hand off", "runbook": target}
    del rb["nodes"]["dismiss"]
    return rb


def test_call_to_an_unknown_runbook() -> None:
    text, found = check(calling("zz-no-such-thing"))
    assert found == [
        f"rb.yaml:{where(text, 'runbook: zz', 'zz')}: error: nodes.handoff.runbook: "
        "no runbook with id 'zz-no-such-thing'"
    ]


@pytest.mark.parametrize("target", ["../other/leak.yaml", "/tmp/leak.yaml", "x/../../leak.yaml"])
def test_call_by_a_path_that_leaves_the_folder(target: str) -> None:
    text, found = check(calling(target))
    at = where(text, f"runbook: {target}", target)
    assert found == [
        f"rb.yaml:{at}: error: nodes.handoff.runbook: {target!r} leaves the runbook's folder: "
        "name a path inside it, without '..', '~' or a leading '/'"
    ]


def test_call_to_a_misspelt_sibling_suggests_it() -> None:
    sibling = minimal_runbook()
    sibling["id"] = "data-leak"
    write(Path("leak.yaml"), sibling)
    text = write(Path("rb.yaml"), calling("data-leek"))
    found = [f.render() for f in validate_paths(["leak.yaml", "rb.yaml"]).findings]
    assert found == [
        f"rb.yaml:{where(text, 'runbook: data', 'data')}: error: nodes.handoff.runbook: "
        "no runbook with id 'data-leek' (did you mean 'data-leak'?)"
    ]


def test_call_to_a_sibling_or_a_shipped_runbook_is_fine() -> None:
    sibling = minimal_runbook()
    sibling["id"] = "data-leak"
    write(Path("leak.yaml"), sibling)
    write(Path("rb.yaml"), calling("data-leak"))
    write(Path("pi.yaml"), dict(calling("prompt-injection"), id="pi"))
    assert validate_paths(["leak.yaml", "rb.yaml", "pi.yaml"]).findings == []


def test_call_to_an_invalid_sibling_is_not_also_unknown() -> None:
    sibling = minimal_runbook()
    sibling["id"] = "data-leak"
    sibling["severity"] = "high"
    write(Path("leak.yaml"), sibling)
    write(Path("rb.yaml"), calling("data-leak"))
    report = validate_paths(["leak.yaml", "rb.yaml"])
    assert [(f.path, f.code) for f in report.findings] == [("leak.yaml", "schema")]


def after(text: str, snippet: str) -> str:
    """``line:col`` just after the first ``snippet`` in ``text`` (where its value starts)."""
    line, col = where(text, snippet).split(":")
    return f"{line}:{int(col) + len(snippet)}"


def runbook_calling(runbook_id: str, target: str) -> Doc:
    rb = calling(target)
    rb["id"] = runbook_id
    return rb


def test_a_runbook_that_calls_itself() -> None:
    text, found = check(runbook_calling("demo", "demo"))
    assert found == [
        f"rb.yaml:{where(text, 'runbook: demo', 'demo')}: error: nodes.handoff.runbook: "
        "runbook 'demo' calls itself: a walk would call runbooks without end"
    ]


def test_a_runbook_found_by_its_id_in_another_file_name_calls_itself() -> None:
    """Validated alone, in a folder with other runbooks: the call is found by id, as a walk would."""
    Path("lib").mkdir()
    text = write(Path("lib/x.yaml"), runbook_calling("selfish", "selfish"))
    write(Path("lib/other.yaml"), runbook_calling("other", "prompt-injection"))
    found = [f.render() for f in validate_paths(["lib/x.yaml"]).findings]
    assert found == [
        f"lib/x.yaml:{where(text, 'runbook: selfish', 'selfish')}: error: nodes.handoff.runbook: "
        "runbook 'selfish' calls itself: a walk would call runbooks without end"
    ]


def test_two_runbooks_that_call_each_other() -> None:
    text_a = write(Path("a.yaml"), runbook_calling("a", "b"))
    text_b = write(Path("b.yaml"), runbook_calling("b", "a"))
    found = [f.render() for f in validate_paths(["a.yaml", "b.yaml"]).findings]
    assert found == [
        f"a.yaml:{after(text_a, 'runbook: ')}: error: nodes.handoff.runbook: "
        "call cycle: a → b → a: a walk would call runbooks without end",
        f"b.yaml:{after(text_b, 'runbook: ')}: error: nodes.handoff.runbook: "
        "call cycle: b → a → b: a walk would call runbooks without end",
    ]


def test_a_longer_call_cycle_and_a_runbook_that_leads_into_one() -> None:
    texts = {}
    for rid, target in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "b")]:
        texts[rid] = write(Path(f"{rid}.yaml"), runbook_calling(rid, target))
    found = [f.render() for f in validate_paths([f"{r}.yaml" for r in "abcd"]).findings]
    value = {rid: after(texts[rid], "runbook: ") for rid in texts}
    assert found == [
        f"a.yaml:{value['a']}: error: nodes.handoff.runbook: 'b' leads into a call cycle "
        "(b → c → d → b): a walk would call runbooks without end",
        f"b.yaml:{value['b']}: error: nodes.handoff.runbook: call cycle: b → c → d → b: "
        "a walk would call runbooks without end",
        f"c.yaml:{value['c']}: error: nodes.handoff.runbook: call cycle: c → d → b → c: "
        "a walk would call runbooks without end",
        f"d.yaml:{value['d']}: error: nodes.handoff.runbook: call cycle: d → b → c → d: "
        "a walk would call runbooks without end",
    ]


def test_calls_in_a_row_without_a_cycle_are_fine() -> None:
    for rid, target in [("a", "b"), ("b", "c"), ("c", "prompt-injection")]:
        write(Path(f"{rid}.yaml"), runbook_calling(rid, target))
    assert validate_paths(["a.yaml", "b.yaml", "c.yaml"]).findings == []


def test_run_refuses_a_call_cycle_before_the_incident_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(Path("a.yaml"), runbook_calling("a", "b"))
    write(Path("b.yaml"), runbook_calling("b", "a"))
    write(Path("answers.yaml"), {"triage": "nothing"})
    incidents = tmp_path / "incidents"
    status = main(
        [
            "run",
            "a.yaml",
            "-a",
            "answers.yaml",
            "--sandbox",
            "--yes",
            "--incident-dir",
            str(incidents),
        ]
    )
    assert status == 2
    assert capsys.readouterr().err == (
        f"aiir: {tmp_path / 'a.yaml'}:{after(text, 'runbook: ')}: error: nodes.handoff.runbook: "
        "call cycle: a → b → a: a walk would call runbooks without end\n"
    )
    assert not incidents.exists()


def test_run_refuses_a_runbook_that_calls_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = write(Path("selfish.yaml"), runbook_calling("selfish", "selfish"))
    incidents = tmp_path / "incidents"
    status = main(["run", "selfish.yaml", "--sandbox", "--yes", "--incident-dir", str(incidents)])
    assert status == 2
    assert capsys.readouterr().err == (
        f"aiir: {tmp_path / 'selfish.yaml'}:{after(text, 'runbook: ')}: error: "
        "nodes.handoff.runbook: runbook 'selfish' calls itself: a walk would call runbooks "
        "without end\n"
    )
    assert not incidents.exists()


def test_a_call_cycle_that_slipped_past_validation_stops_at_a_depth_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's backstop: with the validator's cycle check switched off, the walk stops
    with one line and an interrupted incident, not a RecursionError after hundreds of events."""
    from aiir.engine.frames import MAX_CALL_DEPTH
    from aiir.incident.state import load_incident
    from aiir.validate import checks
    from tests.runs import only_incident

    monkeypatch.setattr(checks, "call_cycle_findings", lambda *args: [])
    rb = runbook_calling("selfish", "selfish")
    rb["start"] = "handoff"
    rb["inputs"]["model"]["default"] = "support-bot"
    write(Path("selfish.yaml"), rb)
    incidents = tmp_path / "incidents"
    status = main(["run", "selfish.yaml", "--sandbox", "--yes", "--incident-dir", str(incidents)])
    assert status == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"aiir: nodes.handoff: calls nest {MAX_CALL_DEPTH} deep: not calling 'selfish' again "
        "(a cycle of calls?)"
    )
    incident = load_incident(incidents, only_incident(incidents))
    types = [event.type for event in incident.events]
    assert types.count("call.entered") == MAX_CALL_DEPTH
    assert types[-1] == "incident.interrupted"


def test_the_shipped_library_has_no_call_cycle() -> None:
    report = validate_paths([str(Path(__file__).resolve().parents[2] / "runbooks")])
    assert [f for f in report.findings if f.code == "call-cycle"] == []


def test_duplicate_runbook_ids_across_files() -> None:
    write(Path("a.yaml"), minimal_runbook())
    text = write(Path("b.yaml"), minimal_runbook())
    found = [f.render() for f in validate_paths(["a.yaml", "b.yaml"]).findings]
    assert found == [
        f"b.yaml:{where(text, 'id: demo', 'demo')}: error: id: "
        f"duplicate runbook id 'demo' (also in a.yaml:{where(text, 'id: demo', 'demo')[0]})"
    ]


def test_the_same_file_named_twice_is_read_once() -> None:
    write(Path("rb.yaml"), minimal_runbook())
    report = validate_paths(["rb.yaml", "./rb.yaml", "."])
    assert report.findings == []
    assert list(report.checked) == ["rb.yaml"]


# --- files and directories -----------------------------------------------------------------------


def test_load_errors_are_findings() -> None:
    _, found = check("aiir: 1\nid: a\nid: b\n")
    assert found == ["rb.yaml:3:1: error: duplicate key 'id' (first defined on line 2)"]


def test_directories_are_searched_recursively_and_other_yaml_is_skipped() -> None:
    first = minimal_runbook()
    second = dict(minimal_runbook(), id="second")
    write(Path("lib/first.yaml"), first)
    write(Path("lib/deeper/still/second.yml"), second)
    write(Path("lib/deeper/mkdocs.yml"), "plugins: [search]\nx: !!python/name:os.getcwd\n")
    write(Path("lib/k8s.yaml"), "kind: Service\n---\nkind: Deployment\n")
    write(Path("lib/list.yaml"), "- a\n- b\n")
    write(Path("lib/notes.txt"), "aiir: not yaml we read\n")
    write(Path("lib/.git/config.yaml"), "aiir: 1\nbroken: [\n")
    report = validate_paths(["lib"])
    assert report.findings == []
    assert report.checked == {
        "lib/deeper/still/second.yml": "runbook",
        "lib/first.yaml": "runbook",
    }
    assert sorted(report.skipped) == ["lib/deeper/mkdocs.yml", "lib/k8s.yaml", "lib/list.yaml"]


def test_broken_aiir_file_in_a_directory_is_reported() -> None:
    write(Path("lib/broken.yaml"), "aiir: 1\nid: demo\nid: again\n")
    assert [f.render() for f in validate_paths(["lib"]).findings] == [
        "lib/broken.yaml:3:1: error: duplicate key 'id' (first defined on line 2)"
    ]


def test_aiir_document_of_unknown_kind_in_a_directory_is_reported() -> None:
    write(Path("lib/half.yaml"), "aiir: 1\nid: demo\nnode: {}\n")
    assert [f.render() for f in validate_paths(["lib"]).findings] == [
        "lib/half.yaml:1:1: error: aiir: unknown kind of aiir document: a runbook has 'nodes'; "
        "the other kinds a key of their name (profile, scenario, workspace, team, inventory, canary, fragment, detect)"
    ]


def test_explicitly_named_non_aiir_file_is_an_error() -> None:
    write(Path("config.yaml"), {"plugins": ["search"]})
    assert [f.render() for f in validate_paths(["config.yaml"]).findings] == [
        "config.yaml:1:1: error: not an aiir document: expected 'aiir: 1' and one of: "
        "runbook, profile, scenario, workspace, team, inventory, canary, fragment, detect"
    ]


def test_explicitly_named_foreign_yaml_that_fails_to_load_is_an_error() -> None:
    write(Path("k8s.yaml"), "kind: Service\n---\nkind: Deployment\n")
    assert [f.render() for f in validate_paths(["k8s.yaml"]).findings] == [
        "k8s.yaml:2:1: error: invalid YAML: several YAML documents in one file; "
        "aiir reads exactly one (remove the '---')"
    ]


def test_missing_path_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"^nope\.yaml: no such file or directory$"):
        validate_paths(["nope.yaml"])


# --- the command ---------------------------------------------------------------------------------


def warned() -> Doc:
    rb = minimal_runbook()
    del rb["levers"]["kill"]["release"]
    return rb


def test_warnings_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    text = write(Path("rb.yaml"), warned())
    assert main(["validate", "rb.yaml"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        f"rb.yaml:{key(text, 'kill')}: warning: levers.kill: "
        "no 'release': the lever cannot be rolled back\n"
        "0 error(s), 1 warning(s) in 1 file(s)\n"
    )
    assert err == ""


def test_strict_turns_warnings_into_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    text = write(Path("rb.yaml"), warned())
    assert main(["validate", "--strict", "rb.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"rb.yaml:{key(text, 'kill')}: warning: levers.kill: "
        "no 'release': the lever cannot be rolled back\n"
        "0 error(s), 1 warning(s) in 1 file(s)\n"
    )


def test_errors_exit_2_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path("rb.yaml"), "aiir: 1\nid: a\nid: b\n")
    assert main(["validate", "rb.yaml"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        "rb.yaml:3:1: error: duplicate key 'id' (first defined on line 2)\n"
        "1 error(s), 0 warning(s) in 1 file(s)\n",  # a file that does not load was still read
    )


def test_the_count_is_of_files_read_loaded_or_not(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path("bad.yaml"), "aiir: 1\nid: [\n")
    write(Path("rb.yaml"), minimal_runbook())
    assert main(["validate", "bad.yaml", "rb.yaml"]) == 2
    assert capsys.readouterr().err.endswith("1 error(s), 0 warning(s) in 2 file(s)\n")


def test_valid_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path("rb.yaml"), minimal_runbook())
    assert main(["validate", "rb.yaml"]) == 0
    assert capsys.readouterr() == ("1 file(s) valid\n", "")


def test_json_prints_the_same_findings(capsys: pytest.CaptureFixture[str]) -> None:
    rb = warned()
    rb["nodes"]["contain"]["next"] = "dnoe"
    write(Path("rb.yaml"), rb)
    assert main(["validate", "rb.yaml"]) == 2
    out, err = capsys.readouterr()
    as_text = (out + err).splitlines()[:-1]  # stdout warnings, stderr errors, then the summary
    assert main(["validate", "--json", "rb.yaml"]) == 2
    objects = json.loads(capsys.readouterr().out)
    assert [o["code"] for o in objects] == ["no-release", "dangling-next", "unreachable"]
    assert set(objects[0]) == {"path", "line", "col", "level", "code", "message", "breadcrumb"}
    rendered = [
        f"{o['path']}:{o['line']}:{o['col']}: {o['level']}: {o['breadcrumb']}: {o['message']}"
        for o in objects
    ]
    assert sorted(rendered) == sorted(as_text)


def test_json_with_no_findings_is_an_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path("rb.yaml"), minimal_runbook())
    assert main(["validate", "--json", "rb.yaml"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_skipped_files_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path("lib/rb.yaml"), minimal_runbook())
    write(Path("lib/other.yaml"), dump({"name": "not ours"}))
    assert main(["validate", "lib"]) == 0
    assert capsys.readouterr().out == (
        "1 file(s) valid; 1 YAML file(s) that are not aiir documents skipped\n"
    )


def test_node_kinds_are_the_tags_of_the_node_union() -> None:
    """Schema errors list NODE_KINDS; it lives apart from the models, so it must not drift."""
    import typing

    from aiir.formats.common import NODE_KINDS
    from aiir.formats.schema import Node

    union = typing.get_args(Node)[0]
    tags = [
        typing.get_args(member.model_fields["kind"].annotation)[0]
        for member in typing.get_args(union)
    ]
    assert tags == list(NODE_KINDS)


def test_the_shipped_ids_read_from_id_lines_are_the_ids_yaml_reads() -> None:
    from aiir.formats.library import shipped_runbooks
    from aiir.formats.loader import load_file
    from aiir.validate.documents import shipped_ids

    parsed = {load_file(path).data["id"] for path in shipped_runbooks()}
    assert shipped_ids() == parsed


def test_a_fifo_in_a_folder_is_reported_not_waited_on() -> None:
    """Validating a folder, or a runbook calling another by id (which reads the folder's files for
    their ids), opened a FIFO named like a YAML file and waited for a writer for ever."""
    os.mkfifo("pipe.yaml")
    calling = confirm_runbook("caller", "Calls by id")
    calling["nodes"]["look"] = {"kind": "call", "title": "Call", "runbook": "elsewhere"}
    calling["nodes"]["look"]["next"] = "done"
    write(Path("caller.yaml"), calling)
    alone = [f.render() for f in validate_paths(["caller.yaml"]).findings]
    assert [a.split(": ", 1)[1] for a in alone] == [
        "error: nodes.look.runbook: no runbook with id 'elsewhere'"
    ]
    folder = validate_paths(["."])  # a folder's file that cannot be read as aiir's is skipped
    assert [f.render() for f in folder.findings] == alone
    assert "pipe.yaml" in folder.skipped
    named = [f.render() for f in validate_paths(["pipe.yaml"]).findings]
    refused = "not a regular file (a FIFO, socket or device), expected a YAML file"
    assert named == [f"pipe.yaml:1:1: error: {refused}"]


def test_a_call_by_id_to_a_runbook_in_the_callers_folder_is_known() -> None:
    """`aiir validate a.yaml` said "no runbook with id 'b'" for a call that `aiir run a.yaml`
    follows to b.yaml beside it (only the validated and the shipped ids were known); beside a
    call cycle through it, it was a finding that contradicted the next one."""
    caller = confirm_runbook("caller", "Calls its neighbour")
    caller["nodes"]["look"] = {"kind": "call", "title": "Call", "runbook": "callee", "next": "done"}
    write(Path("caller.yaml"), caller)
    write(Path("other-name.yaml"), confirm_runbook("callee", "Called by id"))
    assert [f.render() for f in validate_paths(["caller.yaml"]).findings] == []
    caller["nodes"]["look"]["runbook"] = "nowhere"
    write(Path("caller.yaml"), caller)
    (missing,) = validate_paths(["caller.yaml"]).findings
    assert missing.render().endswith("nodes.look.runbook: no runbook with id 'nowhere'")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_a_number_input_that_is_no_finite_number_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--set rate=nan` was taken as a number: a request's JSON body then carried NaN, which is
    not JSON."""
    runbook = confirm_runbook("numbers", "Takes a number")
    runbook["inputs"] = {"rate": {"type": "number", "description": "a rate"}}
    write(Path("rb.yaml"), runbook)
    write(Path("answers.yaml"), {"look": "yes"})
    status = main(["run", "rb.yaml", "-a", "answers.yaml", "--set", f"rate={value}", "--dry-run"])
    assert status == 2
    assert capsys.readouterr().err == f"aiir: --set rate: {value!r} is not a valid number\n"
