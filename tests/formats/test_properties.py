"""Property tests: whatever the input, the loader and the validator answer cleanly and with a place.

Never an unexpected exception: always a document, or a :class:`LoadError` / findings whose line and
column are at least 1 and inside the file.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiir.errors import LoadError
from aiir.formats.findings import Finding, printable
from aiir.formats.loader import Document, load_text
from aiir.validate.documents import validate_paths
from tests.helpers import dump, minimal_runbook

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TRICKY = ["yes", "no", "on", "1:30", "017", "0x1F", "2024-01-01", "~", "null", "", "<<"]
NAMES = ["aiir", "id", "nodes", "start", "kind", "next"]


def documents(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Any YAML data: nested mappings and lists of scalars, with keys that matter to aiir."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | text
        | st.sampled_from(TRICKY)
    )
    keys = text | st.sampled_from(NAMES)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=30,
    )


# PyYAML's emitter writes NEL and the Unicode separators unescaped with allow_unicode, and its
# reader then takes them for line breaks; that round trip is PyYAML's to keep, not aiir's.
emittable = st.text(
    st.characters(codec="utf-8", exclude_characters="\x85\u2028\u2029"), max_size=30
)
any_data = documents(st.text(max_size=30))
keys = st.text(max_size=12) | st.sampled_from(NAMES)

# Pieces of YAML syntax, so that random text is often almost-YAML and reaches deep into the parser.
TOKENS = [
    "a", "b", "aiir", "nodes", "1", ":", ": ", "-", "- ", "[", "]", "{", "}", ",", "\n", "  ", "\t",
    "&x ", "*x", "<<: ", "!!str ", "!!python/object/apply:os.system ", "!t ", "? ", "'", '"', "#",
    "---\n", "...\n", "|", ">", "%YAML 1.1\n", "\\", "\x00", "\x07", "é", "\ufeff", "\u2028",
]  # fmt: skip
almost_yaml = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)
any_text = st.text(max_size=400) | almost_yaml


def is_plain(value: Any) -> bool:
    """Only YAML's plain data: no Python objects, no aliases to shared containers needed."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_plain(item) for item in value)
    return value is None or isinstance(value, str | int | float | bool)


# YAML 1.1 (libyaml) breaks lines at NEL and the Unicode line and paragraph separators too.
YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def well_placed(line: int, col: int, text: str) -> bool:
    lines = YAML_LINE_BREAK.split(text)
    return 1 <= line <= len(lines) and 1 <= col <= len(lines[line - 1]) + 1


def load_or_error(text: str) -> Document | LoadError:
    try:
        return load_text(text, "doc.yaml")
    except LoadError as exc:
        return exc


def assert_loads_or_fails_cleanly(text: str) -> None:
    result = load_or_error(text)
    if isinstance(result, Document):
        assert is_plain(result.data)
        return
    assert well_placed(result.line, result.col, text), result.render()
    assert result.render().startswith(f"doc.yaml:{result.line}:{result.col}: error: ")
    assert printable(result.render()) == result.render()


def same(a: Any, b: Any) -> bool:
    """Equality that also holds for -0.0 and across int/float of equal value as YAML writes them."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# --- the loader ----------------------------------------------------------------------------------


@SETTINGS
@given(any_text)
def test_loader_on_any_text(text: str) -> None:
    assert_loads_or_fails_cleanly(text)


@SETTINGS
@given(st.binary(max_size=300))
def test_loader_on_any_bytes(raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert_loads_or_fails_cleanly(text)


@SETTINGS
@given(documents(emittable), st.booleans())
def test_loader_reads_back_what_yaml_writes(data: Any, unicode: bool) -> None:
    text = yaml.safe_dump(data, allow_unicode=unicode)
    result = load_or_error(text)
    assert isinstance(result, Document), result.render()
    assert same(result.data, data)


# --- the validator -------------------------------------------------------------------------------


def findings_are_placed(findings: list[Finding], text: str) -> None:
    for finding in findings:
        assert well_placed(finding.line, finding.col, text), finding.render()
        assert finding.level in {"error", "warning"}
        assert finding.render().isprintable()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def validate_text(workdir: Path, text: str) -> list[Finding]:
    path = workdir / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    report = validate_paths([path])
    findings_are_placed(report.findings, text)
    return report.findings


@SETTINGS
@given(text=any_text)
def test_validator_on_any_text(workdir: Path, text: str) -> None:
    validate_text(workdir, text)


@SETTINGS
@given(data=any_data)
def test_validator_on_any_yaml_data(workdir: Path, data: Any) -> None:
    validate_text(workdir, yaml.safe_dump(data))


@SETTINGS
@given(data=st.dictionaries(keys, any_data, max_size=6))
def test_validator_on_any_aiir_looking_mapping(workdir: Path, data: dict[str, Any]) -> None:
    data = {"aiir": 1, "start": "triage", **data}
    assert validate_text(workdir, yaml.safe_dump(data)), "an arbitrary mapping is no runbook"


def paths_in(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place inside ``value`` that could be replaced."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_in(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_in(item, (*prefix, index))
    return found


RUNBOOK_PATHS = paths_in(minimal_runbook())[1:]


def mutate(data: Any, path: tuple[str | int, ...], action: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    *parents, last = path
    parent = data
    for part in parents:
        parent = parent[part]
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent[last] = value
    return data


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(RUNBOOK_PATHS),
            st.sampled_from(["replace", "delete", "add"]),
            any_data | st.sampled_from(["triage", "contain", "done", "http.chat", "{{ x }}"]),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_validator_on_broken_runbooks(
    workdir: Path, edits: list[tuple[tuple[str | int, ...], str, Any]]
) -> None:
    """The interesting failures are near-misses: a valid runbook with a few things changed."""
    runbook: Any = minimal_runbook()
    for path, action, value in edits:
        try:
            runbook = mutate(runbook, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced the place; the rest still counts
    validate_text(workdir, dump(runbook))
