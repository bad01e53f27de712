"""The loader refuses what ``yaml.safe_load`` would accept or expand, always with a location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from aiir.errors import LoadError
from aiir.formats.loader import MAX_BYTES, MAX_DEPTH, MAX_VALUES, breadcrumb, load_file, load_text


def load_error(text: str) -> str:
    with pytest.raises(LoadError) as caught:
        load_text(text, "rb.yaml")
    return caught.value.render()


def file_error(path: Path) -> str:
    with pytest.raises(LoadError) as caught:
        load_file(path)
    return caught.value.render()


# --- code execution ----------------------------------------------------------------------------


def test_python_apply_tag_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"title: !!python/object/apply:os.system ['touch {marker}']\n"
    assert load_error(text) == (
        "rb.yaml:1:8: error: unsupported YAML tag '!!python/object/apply:os.system': "
        "aiir reads plain YAML data only"
    )
    assert not marker.exists()


def test_the_payload_is_live_under_an_unsafe_loader(tmp_path: Path) -> None:
    """Control for the tests around it: this payload does run when YAML is loaded unsafely."""
    marker = tmp_path / "pwned"
    yaml.unsafe_load(f"title: !!python/object/apply:builtins.open ['{marker}', 'w']\n")
    assert marker.exists()


def test_payload_that_creates_a_file_creates_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    rb = tmp_path / "rb.yaml"
    rb.write_text(f"aiir: 1\ntitle: !!python/object/apply:builtins.open ['{marker}', 'w']\n")
    assert file_error(rb) == (
        f"{rb}:2:8: error: unsupported YAML tag '!!python/object/apply:builtins.open': "
        "aiir reads plain YAML data only"
    )
    assert not marker.exists()


# id: (document, where the tag is, the tag as shown)
REFUSED_TAGS = {
    "name": ("a: !!python/name:os.system\n", "1:4", "!!python/name:os.system"),
    "module": ("a: !!python/module:os\n", "1:4", "!!python/module:os"),
    "object": ("a: !!python/object:os.PathLike {}\n", "1:4", "!!python/object:os.PathLike"),
    "new": ("a: !!python/object/new:os.getcwd []\n", "1:4", "!!python/object/new:os.getcwd"),
    "tuple": ("a: !!python/tuple [1, 2]\n", "1:4", "!!python/tuple"),
    "set": ("a: !!set {x: null}\n", "1:4", "!!set"),
    "binary": ("a: !!binary aGVsbG8=\n", "1:4", "!!binary"),
    "local": ("a: !custom text\n", "1:4", "!custom"),
    "root": ("!!python/object/apply:os.system [id]\n", "1:1", "!!python/object/apply:os.system"),
    "%TAG": (
        "%TAG !py! tag:yaml.org,2002:python/\n---\na: !py!object/apply:os.system [id]\n",
        "3:4",
        "!!python/object/apply:os.system",
    ),
    "key": ("? !!python/name:os.system key\n: value\n", "1:3", "!!python/name:os.system"),
}


@pytest.mark.parametrize("case", REFUSED_TAGS)
def test_every_non_plain_tag_is_refused(case: str) -> None:
    text, position, tag = REFUSED_TAGS[case]
    assert load_error(text) == (
        f"rb.yaml:{position}: error: unsupported YAML tag '{tag}': aiir reads plain YAML data only"
    )


# --- structure -----------------------------------------------------------------------------------


def test_duplicate_key_names_both_lines() -> None:
    text = "id: demo\ntitle: First\nowner: security\ntitle: Second\n"
    assert load_error(text) == (
        "rb.yaml:4:1: error: duplicate key 'title' (first defined on line 2)"
    )


def test_nested_duplicate_key() -> None:
    text = "nodes:\n  start:\n    kind: end\n    kind: question\n"
    assert load_error(text) == "rb.yaml:4:5: error: duplicate key 'kind' (first defined on line 3)"


def test_billion_laughs_is_refused_where_the_reader_got_to() -> None:
    text = (
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
    )
    assert load_error(text) == (
        f"rb.yaml:6:4: error: document expands to more than {MAX_VALUES} values (alias bomb?)"
    )


def test_a_few_aliases_are_fine() -> None:
    text = "base: &base {owner: security}\nx: *base\ny: [*base, *base]\n"
    data = load_text(text, "rb.yaml").data
    owner = {"owner": "security"}
    assert data == {"base": owner, "x": owner, "y": [owner, owner]}


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * 100 + "]" * 100 + "\n"
    # Depth 0 is the top mapping, 1 the outer list: the 65th '[' (column 3 + 65) is one too deep.
    expected = f"rb.yaml:1:68: error: document is nested deeper than {MAX_DEPTH} levels"
    assert load_error(text) == expected


def test_deep_block_nesting_is_refused() -> None:
    text = "".join("  " * level + f"k{level}:\n" for level in range(100))
    assert load_error(text) == (
        f"rb.yaml:66:131: error: document is nested deeper than {MAX_DEPTH} levels"
    )


def test_nesting_beyond_the_parser_limit_is_the_same_clean_error() -> None:
    text = "[" * 50_000 + "]" * 50_000
    assert load_error(text) == (
        f"rb.yaml:1:1001: error: document is nested deeper than {MAX_DEPTH} levels"
    )


def test_recursive_alias_is_refused() -> None:
    assert load_error("a: &a [*a]\n") == (
        f"rb.yaml:1:4: error: document is nested deeper than {MAX_DEPTH} levels"
    )


def test_several_documents() -> None:
    assert load_error("aiir: 1\nid: a\n---\naiir: 1\nid: b\n") == (
        "rb.yaml:3:1: error: invalid YAML: several YAML documents in one file; "
        "aiir reads exactly one (remove the '---')"
    )


def test_one_document_with_markers_is_fine() -> None:
    assert load_text("---\naiir: 1\n...\n", "rb.yaml").data == {"aiir": 1}


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "--- &anchor\n"])
def test_empty_document(text: str) -> None:
    assert load_error(text) == "rb.yaml:1:1: error: empty document: expected a mapping"


def test_syntax_error_is_located() -> None:
    assert load_error("aiir: 1\nnodes: [a, b\nstart: a\n") == (
        "rb.yaml:3:6: error: invalid YAML: did not find expected ',' or ']' "
        "(while parsing a flow sequence)"
    )


def test_tab_indentation_is_located() -> None:
    assert load_error("nodes:\n\tstart: a\n") == (
        "rb.yaml:2:1: error: invalid YAML: found character that cannot start any token "
        "(while scanning for the next token)"
    )


def test_control_character_is_located() -> None:
    assert load_error("id: demo\ntitle: caf\u00e9 \x07\n") == (
        "rb.yaml:2:13: error: invalid YAML: character U+0007 is not allowed"
    )


def test_lone_surrogate_in_a_string_is_refused() -> None:
    expected = "rb.yaml:1:4: error: text is not valid Unicode (lone surrogate)"
    assert load_error("a: \ud800\n") == expected


def test_complex_key_is_refused() -> None:
    assert load_error("? [a, b]\n: 1\n") == "rb.yaml:1:3: error: mapping keys must be plain text"


def test_merge_of_a_non_mapping_is_refused() -> None:
    assert load_error("b:\n  <<: text\n") == "rb.yaml:2:7: error: '<<' merges mappings only"
    assert load_error("a: &a [1]\nb: {<<: *a}\n") == "rb.yaml:1:8: error: '<<' merges mappings only"


def test_huge_integer_is_refused() -> None:
    assert load_error("n: " + "9" * 5000 + "\n") == "rb.yaml:1:4: error: number is too large"


# --- files ---------------------------------------------------------------------------------------


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"title: " + b"x" * MAX_BYTES + b"\n")
    assert file_error(path) == f"{path}:1:1: error: file is larger than 2 MiB"


def test_file_at_the_size_limit_loads(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"title: " + b"x" * (MAX_BYTES - 8) + b"\n")
    assert len(load_file(path).data["title"]) == MAX_BYTES - 8


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_bytes(b"aiir: 1\nid: d\x00emo\n")
    assert file_error(path) == f"{path}:2:6: error: binary file (NUL byte): expected YAML text"


@pytest.mark.parametrize(
    ("encoding", "named"),
    [("utf-16", "UTF-16"), ("utf-32", "UTF-32"), ("utf-16-be", "UTF-16"), ("utf-32-be", "UTF-32")],
)
def test_utf16_or_utf32_file_is_named_as_such(tmp_path: Path, encoding: str, named: str) -> None:
    """Notepad's "Unicode" (UTF-16 with a byte order mark) was 'binary file (NUL byte)'."""
    path = tmp_path / "utf16.yaml"
    text = "aiir: 1\n".encode(encoding)
    bom = "\ufeff".encode(encoding)
    path.write_bytes(text if text.startswith(bom) else bom + text)
    assert file_error(path) == (
        f"{path}:1:1: error: file is {named} text (its byte order mark says so): save it as UTF-8"
    )


def test_utf16_without_a_byte_order_mark_is_binary_to_us(tmp_path: Path) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_bytes("aiir: 1\n".encode("utf-16-le"))
    assert file_error(path) == f"{path}:1:2: error: binary file (NUL byte): expected YAML text"


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("aiir: 1\ntitle: Café\n".encode("latin-1"))
    assert file_error(path) == f"{path}:2:11: error: file is not UTF-8 text (byte 0xe9)"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffaiir: 1\ntitle: Café\n".encode())
    assert load_file(path).data == {"aiir": 1, "title": "Café"}


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    assert file_error(path) == f"{path}:1:1: error: empty document: expected a mapping"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert file_error(path) == f"{path}:1:1: error: cannot read file: No such file or directory"


def test_directory(tmp_path: Path) -> None:
    assert file_error(tmp_path) == f"{tmp_path}:1:1: error: is a directory, expected a YAML file"


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """open() on a FIFO waits for a writer: `aiir validate` on one (or on a folder holding one
    named like a YAML file) hung for ever."""
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    expected = "not a regular file (a FIFO, socket or device), expected a YAML file"
    assert file_error(path) == f"{path}:1:1: error: {expected}"


def test_device_is_refused(tmp_path: Path) -> None:
    assert "not a regular file" in file_error(Path("/dev/null"))


# --- values --------------------------------------------------------------------------------------


def test_yes_and_no_stay_strings() -> None:
    text = "a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\ng: true\nh: false\ni: True\n"
    assert load_text(text, "rb.yaml").data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "off",
        "e": "y",
        "f": "n",
        "g": True,
        "h": False,
        "i": True,
    }


def test_numbers_follow_yaml_1_2() -> None:
    text = "a: 017\nb: 1:30\nc: 0x1F\nd: 1_000\ne: 1.5\nf: .inf\ng: 2024-05-01\nh: ~\n"
    assert load_text(text, "rb.yaml").data == {
        "a": 17,  # YAML 1.1 reads octal 15
        "b": "1:30",  # YAML 1.1 reads base 60: 90
        "c": 31,
        "d": 1000,
        "e": 1.5,
        "f": float("inf"),
        "g": "2024-05-01",  # dates stay text
        "h": None,
    }


def test_keys_are_text() -> None:
    assert load_text("1: a\ntrue: b\n~: c\n", "rb.yaml").data == {"1": "a", "true": "b", "~": "c"}


def test_merge_keys_work_and_local_keys_win() -> None:
    text = "base: &b {owner: security, severity: SEV2}\nnode:\n  <<: *b\n  severity: SEV1\n"
    assert load_text(text, "rb.yaml").data["node"] == {"owner": "security", "severity": "SEV1"}


# --- locating ------------------------------------------------------------------------------------


def test_locate_values_keys_and_missing_tails() -> None:
    text = "nodes:\n  triage:\n    choices:\n    - label: A\n      next: done\n"
    doc = load_text(text, "rb.yaml")
    assert doc.locate(("nodes", "triage", "choices", 0, "next")) == (5, 13)
    assert doc.locate(("nodes", "triage", "choices", 0, "next"), key=True) == (5, 7)
    assert doc.locate(("nodes", "triage", "missing", "deeper")) == (3, 5)
    assert doc.locate(("nodes", "triage", "choices", 7)) == (4, 5)
    assert doc.locate(()) == (1, 1)


def test_locate_through_a_merge() -> None:
    doc = load_text("base: &b {owner: security}\nnode:\n  <<: *b\n  title: T\n", "rb.yaml")
    assert doc.locate(("node", "owner")) == (1, 18)
    assert doc.locate(("node", "title")) == (4, 10)


def test_document_error_renders_breadcrumb() -> None:
    doc = load_text("nodes:\n  triage:\n    kind: quiz\n", "rb.yaml")
    error = doc.error(("nodes", "triage", "kind"), "unknown node kind 'quiz'")
    assert error.render() == "rb.yaml:3:11: error: nodes.triage.kind: unknown node kind 'quiz'"


def test_breadcrumb() -> None:
    assert breadcrumb(("nodes", "triage", "choices", 2, "next")) == "nodes.triage.choices[2].next"
    assert breadcrumb((0, "a")) == "[0].a"
    assert breadcrumb(()) == ""


@pytest.mark.parametrize(
    "text",
    ["a: 1\nb: [2, 3]\n", "a: [1\n", "a: 1\na: 2\n", "", "!!python/object:os.system x\n"],
    ids=["valid", "syntax", "duplicate", "empty", "tag"],
)
def test_loading_gives_the_garbage_collector_back_as_it_found_it(text: str) -> None:
    """Collection pauses while a document is built (it can free nothing there, and walking the
    growing tree made big suites load several times slower); it must resume, even on errors."""
    import gc

    for enabled in (True, False):
        if not enabled:
            gc.disable()
        try:
            load_text(text, "x.yaml")
        except LoadError:
            pass
        finally:
            assert gc.isenabled() is enabled
            gc.enable()
