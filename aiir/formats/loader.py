"""Safe YAML loading that keeps every value's position and never surprises.

PyYAML's composer gives us a node tree with start marks. We build plain Python data from it
ourselves, so that we can refuse what ``yaml.safe_load`` would silently accept (duplicate keys,
unknown tags, several documents) and bound what it would happily expand (alias bombs, deep
nesting, huge files). The text is kept, so a schema error found later can be mapped back to
``file:line:col`` by composing the node tree again and walking it (see :meth:`Document.locate`): no
position bookkeeping is paid for documents that turn out to be valid. Keeping the node trees of a
thousand documents instead would cost more in garbage-collector passes over them than the parse.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from aiir.errors import LoadError
from aiir.formats.files import NOT_REGULAR, read_regular

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 250_000

Loc = Sequence[str | int]

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_scalars = SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_BOOL = {"true": True, "false": False}
_MERGE = _TAG + "merge"
_PLAIN_KEYS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_DECIMAL = re.compile(r"[-+]?[0-9][0-9_]*")
_INTEGER = re.compile(r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*)")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML 1.1's, as libyaml counts them


@dataclass(frozen=True)
class Document:
    """A loaded YAML document: its data, and its text to locate any part of it."""

    path: str
    data: Any
    text: str = field(repr=False)
    # Where ``text`` has one character for JSON's twelve (a surrogate pair's escapes, read as the
    # character): (line, column) of each, so that a column after one is the file's (_paired).
    paired: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    @functools.cached_property
    def root(self) -> Node | None:
        """The node tree, composed again on first use: only a document with findings needs it."""
        return _compose(self.text)

    def locate(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """1-based line and column of the value at ``loc`` (of its key with ``key=True``).

        Walks as far as the path exists; a missing tail points at the closest existing parent.
        """
        node = self.root
        if node is None:
            return 1, 1
        best: Node = node
        for part in loc:
            found = _child(node, part)
            if found is None:
                break
            key_node, node = found
            best = key_node if key and key_node is not None and part == loc[-1] else node
        mark = best.start_mark
        line, col = mark.line + 1, mark.column + 1
        before = sum(1 for at_line, at_col in self.paired if at_line == line and at_col < col)
        return line, col + _PAIR_SHRINKS * before

    def cut_by_comma(self, loc: Loc) -> tuple[str, str] | None:
        """When the key at ``loc`` is a stray piece of a flow mapping (``{label: Leak (PII,
        upload), next: x}`` reads ``upload)`` as a key with no value), the key whose value an
        unquoted comma cut short and that value as written (``Leak (PII, upload)``); else None."""
        parent = self.root
        for part in loc[:-1]:
            found = _child(parent, part) if parent is not None else None
            parent = found[1] if found is not None else None
        if not isinstance(parent, MappingNode) or not parent.flow_style:
            return None
        pairs = parent.value
        for i, (key_node, value_node) in enumerate(pairs):
            stray = isinstance(key_node, ScalarNode) and key_node.value == str(loc[-1])
            if stray and i > 0 and value_node.tag == _TAG + "null" and not value_node.value:
                before, cut = pairs[i - 1]
                if not isinstance(before, ScalarNode):
                    return None
                return str(before.value), self._between(cut.start_mark, key_node.end_mark)
        return None

    def _between(self, start: yaml.Mark, end: yaml.Mark) -> str:
        """The text from one mark to another on the same line ("..." when they are not)."""
        if start.line != end.line:
            return "..."
        line = _LINE_BREAK.split(self.text.removeprefix("\ufeff"))[start.line]
        return line[start.column : end.column]

    def error(self, loc: Loc, message: str, *, key: bool = False) -> LoadError:
        line, col = self.locate(loc, key=key)
        return LoadError(self.path, line, col, message, breadcrumb(loc))


_PLAIN_KEY = re.compile(r"[^\s.\[\]'\"\\]+")


def breadcrumb(loc: Loc) -> str:
    """``("nodes", "triage", "choices", 2, "next")`` -> ``nodes.triage.choices[2].next``.

    A key that would read ambiguously (a dot, a space, a control character) is quoted:
    ``headers['X.Y']``.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) and part.isprintable():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    if isinstance(node, SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return None, node.value[part]
        return None
    if isinstance(node, MappingNode):
        for key_node, value_node in reversed(node.value):
            if key_node.tag == _MERGE:
                merged = _child(value_node, part) if isinstance(value_node, MappingNode) else None
                if merged is not None:
                    return merged
            elif isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return key_node, value_node
    return None


def load_text(text: str, path: str) -> Document:
    """Parse one YAML document from ``text``; ``path`` is used in error messages only."""
    with _uncollected():
        root, read = _single_node(text, path)
        if root is None or _is_empty(root):
            raise LoadError(path, 1, 1, "empty document: expected a mapping")
        data = _Builder(path).build(root, 0)
        del root  # the node tree goes now, by reference counts, before the collector is back
    return Document(path, data, read, _pairs_in(text) if read != text else ())


def _single_node(text: str, path: str) -> tuple[Node | None, str]:
    """The document's node tree, and the text it was read from (positions are found again in
    it later): ``text``, or ``text`` with JSON's surrogate pairs written as characters."""
    try:
        loader = _Loader(text)
    except UnicodeEncodeError as exc:  # a lone surrogate: only reachable from a str, not a file
        line, col = _position(text, exc.start)
        raise LoadError(path, line, col, "text is not valid Unicode (lone surrogate)") from None
    try:
        root: Node | None = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        paired = _paired(text) if _BAD_ESCAPE in str(exc.problem) else text
        if paired != text:  # JSON's escapes of a character past U+FFFF: read as that character
            return _single_node(paired, path)
        raise _syntax_error(exc, text, path) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, path) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every other PyYAML error is marked
        raise LoadError(path, 1, 1, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise LoadError(path, 1, 1, _TOO_DEEP) from None
    finally:
        loader.dispose()
    return root, text


# A character past U+FFFF (an emoji) as JSON writes it by default (``ensure_ascii``): a pair of
# surrogate escapes, "\ud83d\udd25", which YAML 1.1 and libyaml refuse in a double-quoted
# scalar; an answers file from json.dumps was refused as invalid YAML. Read again with each
# pair written as its character (a backslash before it escaped by another is no escape).
_BAD_ESCAPE = "invalid Unicode character escape code"
_SURROGATE_PAIR = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)


_PAIR_SHRINKS = len("\\ud83d\\udd25") - 1  # eleven characters fewer for each pair read


def _pairs_in(text: str) -> tuple[tuple[int, int], ...]:
    """(line, column) in the text as read (:func:`_paired`) of each pair's character."""
    found: list[tuple[int, int]] = []
    for match in _SURROGATE_PAIR.finditer(text):
        line, col = _position(text, match.start() + len(match[1]))
        earlier = sum(1 for at_line, _ in found if at_line == line)
        found.append((line, col - _PAIR_SHRINKS * earlier))
    return tuple(found)


def _paired(text: str) -> str:
    def joined(match: re.Match[str]) -> str:
        high, low = int(match[2], 16) - 0xD800, int(match[3], 16) - 0xDC00
        return match[1] + chr(0x10000 + (high << 10) + low)

    return _SURROGATE_PAIR.sub(joined, text)


def _compose(text: str) -> Node | None:
    loader = _Loader(text)
    try:
        with _uncollected():
            root: Node | None = loader.get_single_node()
    finally:
        loader.dispose()
    return root


@contextlib.contextmanager
def _uncollected() -> Iterator[None]:
    """No garbage collection while a document is composed and built.

    Every node and value made here stays alive until the document is done, so a collection can
    free none of them, yet the growing tree keeps triggering full collections that walk it (and the
    whole heap) again: composing a 5,000-prompt canary suite took 0.2 to 0.8 s with collections,
    0.1 s without. The collector's state is restored after, even on an error.
    """
    if not gc.isenabled():  # already off (by the caller, or by another thread loading now)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _is_empty(root: Node) -> bool:
    """``---`` alone, or an anchor with nothing after it: as empty as an empty file."""
    return isinstance(root, ScalarNode) and root.tag == _TAG + "null" and root.value == ""


def load_file(path: str | Path) -> Document:
    """Read and parse a YAML file: bounded in size, UTF-8 text only, one document."""
    shown = str(path)
    try:
        raw = read_regular(path, MAX_BYTES + 1)
    except IsADirectoryError:
        raise LoadError(shown, 1, 1, "is a directory, expected a YAML file") from None
    except OSError as exc:
        if exc.strerror == NOT_REGULAR:
            raise LoadError(shown, 1, 1, f"{NOT_REGULAR}, expected a YAML file") from None
        raise LoadError(shown, 1, 1, f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise LoadError(shown, 1, 1, f"file is larger than {MAX_BYTES // 1024 // 1024} MiB")
    return load_text(decode(raw, shown), shown)


# Unicode text aiir does not read, by the byte order mark it starts with (UTF-32's first: its
# little-endian mark begins with UTF-16's).
_OTHER_UNICODE = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def decode(raw: bytes, path: str) -> str:
    """UTF-8 text or a located error; binary files are refused before decoding."""
    for bom, encoding in _OTHER_UNICODE:
        if raw.startswith(bom):  # Notepad's "Unicode": it read as a binary file, a NUL byte
            raise LoadError(
                path,
                1,
                1,
                f"file is {encoding} text (its byte order mark says so): save it as UTF-8",
            )
    nul = raw.find(b"\0")
    if nul >= 0:
        line, col = _byte_position(raw, nul)
        raise LoadError(path, line, col, "binary file (NUL byte): expected YAML text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(raw, exc.start)
        byte = raw[exc.start]
        raise LoadError(path, line, col, f"file is not UTF-8 text (byte 0x{byte:02x})") from None


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character ``offset``, breaking lines where libyaml does."""
    lines = _LINE_BREAK.split(text[:offset])
    return len(lines), len(lines[-1]) + 1


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    """The same for a byte ``offset`` into (almost) UTF-8 bytes: columns count characters."""
    before = raw[:offset].decode("utf-8", "replace")
    return _position(before, len(before))


_SINGLE = re.compile(r"expected a single document")
_TOO_DEEP = f"document is nested deeper than {MAX_DEPTH} levels"


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, path: str) -> LoadError:
    mark = exc.problem_mark or exc.context_mark
    line, col = _mark_position(mark, text) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "nesting depth" in problem:
        return LoadError(path, line, col, _TOO_DEEP)
    if exc.context and _SINGLE.search(exc.context):
        problem = "several YAML documents in one file; aiir reads exactly one (remove the '---')"
    elif exc.context:
        problem = f"{problem} ({exc.context})"
    if problem.startswith("mapping values are not allowed"):
        problem += _colon_hint(text, line)
    return LoadError(path, line, col, f"invalid YAML: {problem}")


_KEY_VALUE = re.compile(r"\s*(?:-\s+)?(?P<key>[^\s:#'\"][^:#]*?):\s+(?P<value>\S.*?)\s*")


def _colon_hint(text: str, line: int) -> str:
    """A plain value holding ": " reads as a second mapping: say so, with the line quoted."""
    lines = _LINE_BREAK.split(text.removeprefix("\ufeff"))
    match = _KEY_VALUE.fullmatch(lines[line - 1]) if 0 < line <= len(lines) else None
    if match is None:
        return "; a plain value cannot hold ': ': quote it"
    value = match["value"].replace("\\", "\\\\").replace('"', '\\"')
    hint = f'{match["key"]}: "{value}"'
    hint = "".join(c if c.isprintable() else repr(c)[1:-1] for c in hint)  # a tab: \\t
    return f"; a plain value cannot hold ': ': quote it ({hint})"


def _mark_position(mark: yaml.Mark, text: str) -> tuple[int, int]:
    """1-based line and column of a libyaml mark.

    libyaml puts the end of a file with no final newline on the line below, which does not exist;
    point just after the last character instead.
    """
    line, col = mark.line + 1, mark.column + 1
    end = len(text) - text.startswith("\ufeff")  # libyaml does not count a byte order mark
    at_end = mark.index >= end and not _LINE_BREAK.fullmatch(text[-1:] or "\n")
    if at_end and line > 1 and col == 1:
        return line - 1, len(_LINE_BREAK.split(text.removeprefix("\ufeff"))[-1]) + 1
    return line, col


def _reader_error(exc: yaml.reader.ReaderError, text: str, path: str) -> LoadError:
    """A character YAML forbids (a control character): PyYAML gives an offset, not a line."""
    offset = exc.position if isinstance(exc.position, int) else 0
    if _Loader is not yaml.SafeLoader:  # libyaml counts bytes of UTF-8, PyYAML characters
        offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
    line, col = _position(text, offset)
    char = exc.character
    code = ord(char) if isinstance(char, str) else int(char)
    return LoadError(path, line, col, f"invalid YAML: character U+{code:04X} is not allowed")


def _tag_error(tag: str) -> str:
    shown = "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag
    return f"unsupported YAML tag {shown!r}: aiir reads plain YAML data only"


class _Builder:
    """Turns a node tree into plain data, refusing what YAML would silently allow."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.count = 0
        # The furthest node reached in the text. An alias re-enters an earlier node, so the limits
        # below are reported here, where the reader got to, not inside the anchored value.
        self.frontier: Node | None = None

    def fail(self, node: Node, message: str) -> LoadError:
        return LoadError(self.path, node.start_mark.line + 1, node.start_mark.column + 1, message)

    def build(self, node: Node, depth: int) -> Any:
        self.count += 1
        frontier = self.frontier
        if frontier is None or node.start_mark.index > frontier.start_mark.index:
            self.frontier = frontier = node
        if self.count > MAX_VALUES:
            raise self.fail(
                frontier, f"document expands to more than {MAX_VALUES} values (alias bomb?)"
            )
        if depth > MAX_DEPTH:
            raise self.fail(frontier, _TOO_DEEP)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                raise self.fail(node, _tag_error(node.tag))
            return [self.build(item, depth + 1) for item in node.value]
        if isinstance(node, MappingNode):
            return self.mapping(node, depth)
        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == _TAG + "str":
            return node.value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            # YAML 1.2: only true/false are booleans; `yes`, `no`, `on`, `off` stay strings.
            return _BOOL.get(node.value.lower(), node.value)
        if tag in (_TAG + "int", _TAG + "float") and ":" in node.value:
            return node.value  # YAML 1.1 base 60 (`1:30` is 90): text in YAML 1.2
        if tag == _TAG + "int":
            return self.integer(node)
        if tag == _TAG + "float":
            try:
                return _scalars.construct_yaml_float(node)
            except ValueError:  # `!!float text`: the tag says a number, the text is none
                raise self.fail(node, f"{_short(node.value)} tagged !!float is no number") from None
        if tag == _TAG + "timestamp":
            return node.value  # dates stay text: versions and times are parsed where they are used
        raise self.fail(node, _tag_error(tag))

    def integer(self, node: ScalarNode) -> int:
        """YAML 1.2 integers: ``017`` is seventeen, not YAML 1.1's octal fifteen."""
        try:
            if _DECIMAL.fullmatch(node.value):
                return int(node.value.replace("_", ""), 10)
            return int(_scalars.construct_yaml_int(node))
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            if not _INTEGER.fullmatch(node.value):  # `!!int text`: no integer at all
                raise self.fail(node, f"{_short(node.value)} tagged !!int is no integer") from None
            raise self.fail(node, "number is too large") from None

    def mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            raise self.fail(node, _tag_error(node.tag))
        out: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self.merge(value_node, depth))
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain text")
            if key_node.tag not in _PLAIN_KEYS:
                raise self.fail(key_node, _tag_error(key_node.tag))
            key = key_node.value
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise self.fail(key_node, f"duplicate key {key!r} (first defined on line {first})")
            seen[key] = key_node
            out[key] = self.build(value_node, depth + 1)
        if merged:
            return {**merged, **out}
        return out

    def merge(self, node: Node, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise self.fail(source, "'<<' merges mappings only")
            result.update(self.mapping(source, depth + 1))
        return result


def _short(value: str) -> str:
    """A scalar's text quoted for a message, a long one cut."""
    return repr(value if len(value) <= 40 else value[:37] + "...")
