"""A deterministic fuzzer of every document kind aiir reads: shipped runbooks, profiles, drill and
tabletop scenarios, canary suites, detection rules, answers and the workspace's files, each
mutated (keys deleted, duplicated, renamed; values of another type, huge, odd, deeply nested; YAML
anchors, merge keys, alias bombs, tags, several documents; BOMs, CRLF, tabs, NUL bytes, invalid
UTF-8, truncation; a file that is empty, huge or a directory) and handed to the commands that read
it.

The rule every case keeps (:func:`check`): exit status 0, 1 or 2; no traceback and no "internal
error"; on 2 an error on standard error that names the file (with a line) or the flag; an error
about the document leaves no incident behind and sends nothing; and a document ``aiir validate``
accepts is not refused as invalid by the command that uses it.

``tests/test_fuzz_documents.py`` runs a bounded number of cases; ``AIIR_FUZZ_CASES=5000`` (and
``AIIR_FUZZ_SEED``) run more by hand.
"""

from __future__ import annotations

import copy
import functools
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Seed:
    """One shipped document and the kind of document it is."""

    kind: str
    path: Path


def seeds() -> list[Seed]:
    """Every shipped document of every kind, in a fixed order."""
    found: list[Seed] = []

    def add(kind: str, *globs: str) -> None:
        for pattern in globs:
            found.extend(Seed(kind, p) for p in sorted(ROOT.glob(pattern)))

    add("runbook", "runbooks/*.yaml", "examples/runbooks/*.yaml")
    add("profile", "aiir/profiles/*.yaml")
    add("scenario", "examples/drills/*.yaml", "aiir/scaffold/drills/*.yaml")
    add("tabletop", "examples/tabletops/*.yaml")
    add("canary", "examples/canaries/*.yaml", "aiir/scaffold/canaries/*.yaml")
    add("detect", "examples/detections/*.yaml", "aiir/scaffold/detections/*.yaml")
    add("answers", "examples/answers/*.yaml")
    add("workspace", "aiir/scaffold/aiir.yaml")
    add("team", "aiir/scaffold/team.yaml")
    add("inventory", "aiir/scaffold/inventory.yaml")
    return found


# ---------------------------------------------------------------------------------------------
# Mutations: each takes the document's text and a random generator and returns bytes, or None
# for "make the file a directory".

HUGE_INT = 10**40
ODD_VALUES: list[Any] = [
    "",
    " ",
    "x",
    0,
    -1,
    1,
    HUGE_INT,
    -HUGE_INT,
    2**63,
    1.5,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    None,
    True,
    False,
    [],
    {},
    ["a", 1, None],
    {"a": 1},
    {"": None},
    {1: 2},
    "é🙂\u202e\u200b",
    "\x1b[31mred\x1b[0m",
    "[bold]markup[/bold]",
    "{{ env.SECRET }}",
    "{% for x in y %}",
    "line\nbreak",
    "a" * 5000,
    "2024-01-01",
    "1:30",
    "0x1F",
    "yes",
    "~",
    "../../../etc/passwd",
    "/dev/null",
    "-",
]


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def _paths(data: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``data`` (the root included)."""
    out = [here]
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_paths(value, (*here, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.extend(_paths(value, (*here, i)))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.2's booleans, as aiir reads them: ``yes`` and ``no`` stay strings (a confirm
    node's keys), so a document survives the round trip of a mutation."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile("^(?:true|false)$"), list("tf"))
_DUMPER: type[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(data: Any) -> bytes:
    text = yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=4096)
    return text.encode()


@functools.cache
def _parsed(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def _loaded(text: str) -> Any:
    return copy.deepcopy(_parsed(text))


def _pick_path(data: Any, rng: random.Random, *, root: bool = False) -> tuple[Any, ...]:
    paths = [p for p in _paths(data) if root or p]
    return rng.choice(paths) if paths else ()


def m_delete(text: str, rng: random.Random) -> bytes:
    data = _loaded(text)
    path = _pick_path(data, rng)
    if path:
        del _parent(data, path)[path[-1]]
    return _dump(data)


def m_retype(text: str, rng: random.Random) -> bytes:
    data = _loaded(text)
    path = _pick_path(data, rng, root=True)
    value = copy.deepcopy(rng.choice(ODD_VALUES))
    if not path:
        return _dump(value)
    _parent(data, path)[path[-1]] = value
    return _dump(data)


def m_retype_top(text: str, rng: random.Random) -> bytes:
    """A top-level field (what every document kind checks first) of another type."""
    data = _loaded(text)
    if not isinstance(data, dict) or not data:
        return _dump(data)
    data[rng.choice(list(data))] = copy.deepcopy(rng.choice(ODD_VALUES))
    return _dump(data)


def m_rename(text: str, rng: random.Random) -> bytes:
    data = _loaded(text)
    maps = [p for p in _paths(data) if isinstance(_get(data, p), dict) and _get(data, p)]
    if maps:
        target = _get(data, rng.choice(maps))
        key = rng.choice(list(target))
        target[rng.choice([f"{key}x", str(key).upper(), "", " ", "<<", 7, None])] = target.pop(key)
    return _dump(data)


def m_deep(text: str, rng: random.Random) -> bytes:
    data = _loaded(text)
    path = _pick_path(data, rng)
    depth = rng.choice([30, 63, 64, 65, 200])
    if path:
        _parent(data, path)[path[-1]] = _nested(depth)
    return _dump(data)


def m_long(text: str, rng: random.Random) -> bytes:
    data = _loaded(text)
    strings = [p for p in _paths(data) if p and isinstance(_get(data, p), str)]
    if strings:
        path = rng.choice(strings)
        _parent(data, path)[path[-1]] = rng.choice(["x" * 300_000, "é" * 100_000, "\n" * 5000])
    return _dump(data)


def m_list_grow(text: str, rng: random.Random) -> bytes:
    data = _loaded(text)
    lists = [p for p in _paths(data) if isinstance(_get(data, p), list) and _get(data, p)]
    if lists:
        target = _get(data, rng.choice(lists))
        target.extend(copy.deepcopy(target) * rng.choice([1, 50]))
    return _dump(data)


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _top_lines(text: str) -> list[int]:
    lines = text.splitlines()
    return [i for i, line in enumerate(lines) if re.match(r"[A-Za-z_][\w-]*:", line)]


def m_duplicate_key(text: str, rng: random.Random) -> bytes:
    lines = text.splitlines()
    keyed = [i for i, line in enumerate(lines) if re.match(r"\s*[A-Za-z_][\w-]*:\s", line + " ")]
    if keyed:
        i = rng.choice(keyed)
        lines.insert(i + 1, lines[i])
    return ("\n".join(lines) + "\n").encode()


def m_text(text: str, rng: random.Random) -> bytes:
    """A change to the bytes: what an editor, a copy or a download may do."""
    raw = text.encode()
    choice = rng.randrange(14)
    if choice == 0:
        return b"\xef\xbb\xbf" + raw
    if choice == 1:
        return raw.replace(b"\n", b"\r\n")
    if choice == 2:
        return raw.replace(b"\n  ", b"\n\t", rng.randrange(1, 5))
    if choice == 3:
        at = rng.randrange(len(raw) + 1)
        return raw[:at] + b"\x00" + raw[at:]
    if choice == 4:
        at = rng.randrange(len(raw) + 1)
        return raw[:at] + rng.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x80"]) + raw[at:]
    if choice == 5:
        return raw[: rng.randrange(len(raw) + 1)]
    if choice == 6:
        return raw + b"\n---\n" + raw
    if choice == 7:
        return b"---\n" + raw + b"\n...\n"
    if choice == 8:
        return b""
    if choice == 9:
        return rng.choice([b"\n", b"# nothing\n", b"~\n", b"[]\n", b"42\n", b"'text'\n", b"---\n"])
    if choice == 10:
        return raw.replace(b"\n", b"\r")
    if choice == 11:
        return raw.decode().encode("utf-16")
    if choice == 12:
        return raw + b"x" * (2 * 1024 * 1024)
    return raw.replace(b": ", b":\t", 3)


TAGS = [
    "!!python/object/apply:os.system ['touch /tmp/aiir-fuzz-pwned']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!custom value",
    "!!set {a: null}",
    "!!omap [a: 1]",
    "!!timestamp 2024-01-01",
    "!!float 1e999",
    "!!float text",
    "!!int text",
    ".nan",
    "-.inf",
    "!!int 0b101",
    "!!str 1",
    "!<tag:example.com,2024:thing> x",
    "!!map {a: 1}",
    "!!seq [1]",
    "!!null ''",
    "!!bool yes",
]


def m_tag(text: str, rng: random.Random) -> bytes:
    lines = text.splitlines()
    keyed = [i for i, line in enumerate(lines) if re.match(r"\s*[A-Za-z_][\w-]*: \S", line)]
    if keyed:
        i = rng.choice(keyed)
        key = lines[i].split(":", 1)[0]
        lines[i] = f"{key}: {rng.choice(TAGS)}"
    return ("\n".join(lines) + "\n").encode()


def m_alias(text: str, rng: random.Random) -> bytes:
    """Anchors, aliases, merge keys and alias bombs, at the top level."""
    choice = rng.randrange(6)
    if choice == 0:
        bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for i in range(1, 9):
            prev = chr(ord("a") + i - 1)
            bomb.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{','.join(['*' + prev] * 9)}]")
        return (text + "\nx-bomb:\n" + "\n".join("  " + b for b in bomb) + "\n").encode()
    if choice == 1:
        return (text + "\n<<: {extra: 1}\n").encode()
    if choice == 2:
        return ("base: &base {title: merged}\n" + text + "\n<<: *base\n").encode()
    if choice == 3:
        return (text + "\nself: &s [*s]\n").encode()
    if choice == 4:
        return (text + "\nundefined: *nowhere\n").encode()
    lines = text.splitlines()
    top = _top_lines(text)
    if len(top) >= 2:
        a, b = rng.sample(top, 2)
        key_a = lines[a].split(":", 1)[0]
        lines[a] = lines[a].replace(f"{key_a}:", f"{key_a}: &anchor", 1)
        key_b = lines[b].split(":", 1)[0]
        lines[b] = f"{key_b}: *anchor"
    return ("\n".join(lines) + "\n").encode()


MUTATIONS: list[Callable[[str, random.Random], bytes]] = [
    m_delete,
    m_delete,
    m_retype,
    m_retype,
    m_retype,
    m_retype_top,
    m_retype_top,
    m_rename,
    m_deep,
    m_long,
    m_list_grow,
    m_duplicate_key,
    m_text,
    m_text,
    m_tag,
    m_alias,
]


STRUCTURAL = [m_delete, m_retype, m_retype_top, m_rename, m_list_grow]


@dataclass
class Case:
    """One mutated document: where it came from, how it was changed, its bytes (None: a
    directory in its place)."""

    number: int
    seed: Seed
    mutation: str
    content: bytes | None = field(repr=False)


def cases(count: int, seed: int) -> list[Case]:
    """``count`` cases, the same ones for the same ``seed``."""
    rng = random.Random(seed)
    every = seeds()
    out: list[Case] = []
    for number in range(count):
        origin = every[number % len(every)] if number < len(every) else rng.choice(every)
        text = origin.path.read_text(encoding="utf-8")
        if rng.random() < 0.02:
            out.append(Case(number, origin, "directory", None))
            continue
        mutation = rng.choice(MUTATIONS)
        content = mutation(text, rng)
        names = [mutation.__name__]
        while rng.random() < 0.25 and mutation in STRUCTURAL:  # now and then a second change
            try:
                changed = content.decode()
                _parsed(changed)
            except (UnicodeDecodeError, yaml.YAMLError, RecursionError):
                break
            mutation = rng.choice(STRUCTURAL)
            content = mutation(changed, rng)
            names.append(mutation.__name__)
        out.append(Case(number, origin, "+".join(names), content))
    return out
