"""The decision tree drawn three ways, asserted exactly for a small runbook; pictures drawn by the
real Graphviz, measured; runbooks of thousands of nodes drawn in every format."""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.formats.schema import Runbook
from aiir.validate.graph import render
from tests.helpers import minimal_runbook, write
from tests.runs import aiir_command

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "runbooks").glob("*.yaml"))
MAX_WIDTH = 2_500  # pixels of a shipped runbook's PNG (Graphviz's 96 dpi)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small() -> dict[str, Any]:
    """The minimal runbook plus a confirmation that loops back to the lever."""
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "held"
    rb["nodes"]["held"] = {
        "kind": "confirm",
        "title": "Did it hold?",
        "prompt": "Held?",
        "yes": "done",
        "no": "contain",
        "severity": "SEV2",
        "owner": "security",
    }
    return rb


def drawn(data: dict[str, Any], fmt: str) -> str:
    return render(Runbook.model_validate(data), fmt)


MERMAID = [
    "flowchart TD",
    "  %% demo v1.0.0: Demo runbook",
    '  n_triage{"triage: Triage"}',
    '  n_contain[["contain: LEVER kill-switch: Kill the model"]]',
    '  n_done(["done: END contained: Contained"])',
    '  n_dismiss(["dismiss: END false-positive: Dismissed"])',
    '  n_held{"held: Did it hold?"}',
    '  n_triage -->|"Harmful output<br>Data leak"| n_contain',
    '  n_triage -->|"Nothing"| n_dismiss',
    "  n_contain --> n_held",
    '  n_held -->|"yes"| n_done',
    '  n_held -->|"no"| n_contain',
    "  classDef lever fill:#fde2e1,stroke:#c0392b,stroke-width:2px",
    "  classDef outcome fill:#e3f4e1,stroke:#27ae60",
    "  class n_contain lever",
    "  class n_done,n_dismiss outcome",
]

DOT = [
    'digraph "demo" {',
    "  rankdir=TB; nodesep=0.2; ranksep=0.35;",
    '  node [fontsize=10, fontname="Helvetica", margin="0.08,0.04"];',
    '  edge [fontsize=9, fontname="Helvetica", color="#555555"];',
    '  label="Demo runbook"; labelloc=t; fontname="Helvetica";',
    '  "triage" [shape=diamond, label="triage\\nTriage"];',
    '  "contain" [shape=box3d, label="contain\\nLEVER kill-switch: Kill\\nthe model", '
    'style=filled, fillcolor="#fde2e1", color="#c0392b"];',
    '  "done" [shape=box, label="done\\nEND contained: Contained", '
    'style="rounded,filled", fillcolor="#e3f4e1"];',
    '  "dismiss" [shape=box, label="dismiss\\nEND false-positive:\\nDismissed", '
    'style="rounded,filled", fillcolor="#e3f4e1"];',
    '  "held" [shape=diamond, label="held\\nDid it hold?"];',
    '  "triage" -> "contain" [label="Harmful output\\nData leak"];',
    '  "triage" -> "dismiss" [label="Nothing"];',
    '  "contain" -> "held";',
    '  "held" -> "done" [label="yes"];',
    '  "held" -> "contain" [label="no"];',
    "}",
]

TEXT = [
    "demo v1.0.0: Demo runbook  [SEV3]",
    "└─ triage: Triage",
    "   ├─ [Harmful output] contain: LEVER kill-switch: Kill the model",
    "   │  └─ held: Did it hold?  (security)  → SEV2",
    "   │     ├─ [yes] done: END contained: Contained",
    "   │     └─ [no] → contain (see above)",
    "   ├─ [Data leak] → contain (see above)",
    "   └─ [Nothing] dismiss: END false-positive: Dismissed",
]

SNAPSHOTS = {"mermaid": MERMAID, "dot": DOT, "text": TEXT}


@pytest.mark.parametrize("fmt", SNAPSHOTS)
def test_snapshot(fmt: str) -> None:
    assert drawn(small(), fmt) == "\n".join(SNAPSHOTS[fmt]) + "\n"


def test_mermaid_starts_with_flowchart_and_labels_choice_edges() -> None:
    out = drawn(small(), "mermaid")
    assert out.startswith("flowchart TD\n")
    assert '-->|"Harmful output<br>Data leak"|' in out
    assert "class n_contain lever" in out
    assert "class n_done,n_dismiss outcome" in out


@pytest.mark.parametrize("fmt", SNAPSHOTS)
def test_cli_prints_the_same(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rb.yaml"
    write(path, small())
    assert main(["graph", str(path), "--format", fmt]) == 0
    assert capsys.readouterr().out == "\n".join(SNAPSHOTS[fmt]) + "\n"


def test_cli_default_is_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rb.yaml"
    write(path, small())
    assert main(["graph", str(path)]) == 0
    assert capsys.readouterr().out.startswith(TEXT[0] + "\n")


def test_every_node_kind_has_a_shape_and_a_mark() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "logs"
    rb["nodes"]["logs"] = {
        "kind": "capture",
        "title": "Logs",
        "items": [{"name": "l", "what": ["outputs"], "request": {"method": "GET", "path": "/l"}}],
        "next": "tell",
    }
    rb["nodes"]["tell"] = {"kind": "notify", "title": "Tell", "message": "m", "next": "route"}
    rb["nodes"]["route"] = {
        "kind": "branch",
        "title": "Route",
        "cases": [{"when": "inputs.model == 'x'", "next": "hand"}],
        "default": "done",
    }
    rb["nodes"]["hand"] = {"kind": "call", "title": "Hand", "runbook": "other"}
    mermaid = drawn(rb, "mermaid")
    assert '  n_logs[("logs: CAPTURE: Logs")]' in mermaid
    assert '  n_tell["tell: NOTIFY record: Tell"]' in mermaid
    assert '  n_route{{"route: Route"}}' in mermaid
    assert '  n_hand[["hand: CALL other: Hand"]]' in mermaid
    assert "  n_route -->|\"inputs.model == 'x'\"| n_hand" in mermaid
    assert '  n_route -->|"otherwise"| n_done' in mermaid
    dot = drawn(rb, "dot")
    assert '  "logs" [shape=cylinder, label="logs\\nCAPTURE: Logs"];' in dot
    assert '  "tell" [shape=note, label="tell\\nNOTIFY record: Tell"];' in dot
    assert '  "hand" [shape=component, label="hand\\nCALL other: Hand"];' in dot


def test_quotes_and_newlines_are_escaped() -> None:
    rb = minimal_runbook()
    rb["title"] = 'Say "hi"\nthen go'
    rb["nodes"]["triage"]["choices"][0]["label"] = 'The "bad" one'
    mermaid = drawn(rb, "mermaid")
    assert "  %% demo v1.0.0: Say #quot;hi#quot; then go\n" in mermaid
    assert '-->|"The #quot;bad#quot; one<br>Data leak"|' in mermaid
    dot = drawn(rb, "dot")
    assert '  label="Say \\"hi\\" then go";' in dot
    assert '[label="The \\"bad\\" one\\nData leak"];' in dot


def test_mermaid_ids_stay_distinct() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "a-b"
    rb["nodes"]["a-b"] = {"kind": "checklist", "title": "Dash", "items": [{"id": "x", "text": "x"}]}
    rb["nodes"]["a-b"]["next"] = "a_b"
    rb["nodes"]["a_b"] = {"kind": "end", "title": "Underscore", "outcome": "resolved"}
    mermaid = drawn(rb, "mermaid")
    assert '  n_a_b["a-b: Dash"]' in mermaid
    assert '  n_a_b_2(["a_b: END resolved: Underscore"])' in mermaid
    assert "  n_a_b --> n_a_b_2" in mermaid


def test_text_marks_a_missing_target() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "gone"
    assert "   │  └─ gone (missing)" in drawn(rb, "text")


def test_graph_of_an_invalid_runbook_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rb = minimal_runbook()
    rb["severity"] = "SEV9"
    path = tmp_path / "rb.yaml"
    write(path, rb)
    assert main(["graph", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"aiir: {path}:5:11: error: severity: 'SEV9': "
        "input should be 'SEV1', 'SEV2', 'SEV3', 'SEV4' or 'SEV5'\n"
    )


# --- labels a person reads -----------------------------------------------------------------------


def branching(*cases: tuple[str, str]) -> dict[str, Any]:
    """The minimal runbook with a branch after the lever: ``(when, next)`` cases, default done."""
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "route"
    rb["nodes"]["route"] = {
        "kind": "branch",
        "title": "Route",
        "cases": [{"when": when, "next": target} for when, target in cases],
        "default": "done",
    }
    return rb


def test_branch_edges_read_as_the_choices_they_pick() -> None:
    rb = branching(
        ("answers.triage == 'leak'", "dismiss"),
        ("answers['triage'] in ['harmful', 'nothing']", "contain"),
    )
    dot = drawn(rb, "dot")
    assert '  "route" -> "dismiss" [label="Data leak"];' in dot
    assert '  "route" -> "contain" [label="Harmful output or\\nNothing"];' in dot
    assert '  "route" -> "done" [label="otherwise"];' in dot
    text = drawn(rb, "text")
    assert "[Data leak] dismiss: END false-positive: Dismissed" in text
    assert "[Harmful output or Nothing] → contain (see above)" in text


def test_a_condition_that_is_not_a_choice_is_shown_on_one_line_and_cut() -> None:
    rb = branching(("answers.triage != 'leak'", "dismiss"), ("inputs.model\n  == 'x'", "dismiss"))
    rb["nodes"]["route"]["cases"].append(
        {"when": "incident.severity == 'SEV1' and inputs.model == 'support-bot'", "next": "done"}
    )
    text = drawn(rb, "text")
    assert "[not Data leak] dismiss" in text
    assert "[inputs.model == 'x'] → dismiss (see above)" in text
    dot = drawn(rb, "dot")
    assert '"route" -> "dismiss" [label="not Data leak\\ninputs.model == \'x\'"];' in dot
    assert '"route" -> "done" [label="incident.severity ==\\n\'SEV1\' and…\\notherwise"];' in dot


def test_a_multi_line_condition_keeps_the_text_tree_and_mermaid_whole() -> None:
    rb = branching(("answers.triage\n  | lower\n  == 'leak'", "dismiss"))
    text = drawn(rb, "text")
    assert "[answers.triage | lower == 'leak'] dismiss: END false-positive: Dismissed" in text
    assert all(line.startswith(("demo ", " ", "└", "├", "│")) for line in text.splitlines()[1:])
    mermaid = drawn(rb, "mermaid")
    assert "  n_route -->|\"answers.triage #124; lower == 'leak'\"| n_dismiss" in mermaid
    for line in mermaid.splitlines():
        if "-->|" in line:
            assert line.count("|") == 2, line


def test_mermaid_labels_are_inert() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"][2]["label"] = "a <b>bold</b> | #quot; move"
    mermaid = drawn(rb, "mermaid")
    assert '-->|"a #lt;b#gt;bold#lt;/b#gt; #124; #35;quot; move"| n_dismiss' in mermaid


ESCAPES = "\x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\u202e\u200b"


@pytest.mark.parametrize("fmt", ["text", "mermaid", "dot"])
def test_escapes_in_a_runbook_never_reach_the_terminal_or_graphviz(fmt: str) -> None:
    """A shared runbook's title set the window title, wrote the clipboard (OSC 52) and cleared
    the screen of whoever drew it: ``aiir graph`` printed its titles as they were."""
    rb = minimal_runbook()
    rb["title"] = f"Demo{ESCAPES} runbook"
    rb["nodes"]["contain"]["title"] = f"Kill{ESCAPES} it"
    rb["nodes"]["triage"]["choices"][0]["label"] = f"Harm{ESCAPES}ful"
    shown = drawn(rb, fmt)
    assert not set("\x1b\x07\x9b\u202e\u200b") & set(shown), repr(shown)
    assert "Demo runbook" in shown
    if fmt != "dot":  # dot cuts a long title before it is drawn
        assert "Kill it" in shown


def test_many_parallel_choices_show_three_labels() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"] = [
        {"label": f"Choice {i}", "value": f"c{i}", "next": "contain"} for i in range(6)
    ]
    del rb["nodes"]["dismiss"]
    dot = drawn(rb, "dot")
    assert '  "triage" -> "contain" [label="Choice 0\\nChoice 1\\n+4 more"];' in dot
    assert '  n_triage -->|"Choice 0<br>Choice 1<br>+4 more"| n_contain' in drawn(rb, "mermaid")


def test_next_and_on_failure_to_one_node_say_both() -> None:
    rb = minimal_runbook()
    rb["nodes"]["contain"]["on_failure"] = "done"
    assert '  "contain" -> "done" [label="next\\non failure"];' in drawn(rb, "dot")


def test_end_nodes_are_rounded_boxes_not_double_circles() -> None:
    dot = drawn(small(), "dot")
    assert "doublecircle" not in dot
    assert (
        '"done" [shape=box, label="done\\nEND contained: Contained", style="rounded,filled"' in dot
    )


def test_a_wide_fan_out_of_leaves_takes_turns_on_rows() -> None:
    rb = minimal_runbook()
    rb["nodes"]["triage"]["choices"] = [
        {"label": f"Hand off {i}", "value": f"h{i}", "next": f"hand-{i}"} for i in range(8)
    ]
    for i in range(8):
        rb["nodes"][f"hand-{i}"] = {"kind": "call", "title": "Hand off", "runbook": f"r{i}"}
    dot = drawn(rb, "dot")
    lengths = [1, 2, 3, 4, 5, 6, 1, 2]
    for i, length in enumerate(lengths):
        extra = f", minlen={length}" if length > 1 else ""
        assert f'  "triage" -> "hand-{i}" [label="Hand off {i}"{extra}];' in dot


# --- pictures, drawn by the real Graphviz --------------------------------------------------------


@pytest.fixture(scope="module")
def dot_program() -> str:
    found = shutil.which("dot")
    if found is None:
        pytest.fail("Graphviz's `dot` is not installed: scripts/test installs it (graphviz)")
    return found


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (the IHDR chunk comes first)."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.mark.usefixtures("dot_program")
@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_runbook_draws_narrow_enough(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "graph.png"
    assert main(["graph", str(path), "--format", "png", "--out", str(out)]) == 0
    width, height = png_size(out.read_bytes())
    assert 0 < width <= MAX_WIDTH, f"{path.name}: {width} x {height} px"


@pytest.mark.usefixtures("dot_program")
def test_svg_goes_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(REPO / "runbooks" / "triage.yaml"), "--format", "svg"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<?xml")
    assert "<svg" in out
    assert "call&#45;prompt&#45;injection" in out  # node ids, as Graphviz writes '-'


@pytest.mark.usefixtures("dot_program")
def test_png_goes_to_standard_output_when_it_is_not_a_terminal(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "rb.yaml"
    write(path, small())
    done = subprocess.run(
        [*aiir_command(), "graph", str(path), "--format", "png"], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert png_size(done.stdout)[0] > 0


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_png_to_a_terminal_is_refused(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    path = tmp_path / "rb.yaml"
    write(path, small())
    command = aiir_command()
    child = pexpect.spawn(
        command[0], [*command[1:], "graph", str(path), "--format", "png"], timeout=20, use_poll=True
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert child.before.decode().strip() == (
        "aiir: --format png is binary: pass --out FILE, or redirect the output"
    )


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_without_graphviz_a_picture_is_a_one_line_error(
    fmt: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "rb.yaml"
    write(path, small())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "graph.out"
    assert main(["graph", str(path), "--format", fmt, "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"aiir: --format {fmt} needs Graphviz's `dot` on the PATH (install the graphviz "
        "package), or use --format dot\n"
    )
    assert not out.exists()


def test_out_writes_any_format_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = tmp_path / "rb.yaml", tmp_path / "graph.mmd"
    write(path, small())
    assert main(["graph", str(path), "--format", "mermaid", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == "\n".join(MERMAID) + "\n"
    assert capsys.readouterr().out == ""


def test_out_into_a_missing_folder_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rb.yaml"
    write(path, small())
    out = tmp_path / "missing" / "graph.txt"
    assert main(["graph", str(path), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"aiir: --out {out}: No such file or directory\n"


# --- runbooks thousands of nodes deep ------------------------------------------------------------


def deep(nodes: int, *, skips: bool) -> dict[str, Any]:
    """The minimal runbook with ``nodes`` more after its lever, each leading to the next; with
    ``skips``, confirmations whose "no" jumps one ahead (a branching graph, not a chain)."""
    rb = minimal_runbook()
    rb["nodes"]["contain"]["next"] = "c0"

    def step(i: int) -> str:
        return f"c{i}" if i < nodes else "done"

    for i in range(nodes):
        if skips:
            rb["nodes"][f"c{i}"] = {
                "kind": "confirm",
                "title": f"Step {i}",
                "prompt": "Done?",
                "yes": step(i + 1),
                "no": step(i + 2),
            }
        else:
            rb["nodes"][f"c{i}"] = {
                "kind": "checklist",
                "title": f"Step {i}",
                "items": [{"id": "a", "text": "Do it"}],
                "next": step(i + 1),
            }
    return rb


@pytest.mark.parametrize("nodes", [1_000, 5_000])
@pytest.mark.parametrize("skips", [False, True], ids=["chain", "skips"])
def test_a_deep_runbook_validates_and_draws_as_text_mermaid_and_dot(
    nodes: int, skips: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.yaml"
    write(path, deep(nodes, skips=skips))
    assert main(["validate", "--strict", str(path)]) == 0
    capsys.readouterr()
    for fmt in ("text", "mermaid", "dot"):
        out = tmp_path / f"deep.{fmt}"
        assert main(["graph", str(path), "--format", fmt, "--out", str(out)]) == 0, fmt
        drawn_text = out.read_text(encoding="utf-8")
        assert f"c{nodes - 1}" in drawn_text, fmt
    text = (tmp_path / "deep.text").read_text(encoding="utf-8")
    last = next(line for line in text.splitlines() if f" c{nodes - 1}: " in line)
    assert last.endswith(f"c{nodes - 1}: Step {nodes - 1}")
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("dot_program")
@pytest.mark.parametrize("nodes", [1_000, 5_000])
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_a_deep_runbook_draws_as_a_picture(nodes: int, fmt: str, tmp_path: Path) -> None:
    """A chain: Graphviz lays out thousands of nodes in seconds (a branching graph that size
    takes it minutes, which is Graphviz's own time, not aiir's)."""
    path, out = tmp_path / "deep.yaml", tmp_path / f"deep.{fmt}"
    write(path, deep(nodes, skips=False))
    assert main(["graph", str(path), "--format", fmt, "--out", str(out)]) == 0
    data = out.read_bytes()
    assert png_size(data)[1] > nodes if fmt == "png" else b"</svg>" in data


def test_wait_release_and_a_loops_bound_are_marked() -> None:

    runbook = Runbook.model_validate(
        {
            "aiir": 1,
            "id": "marks",
            "title": "Marks",
            "owner": "security",
            "severity": "SEV3",
            "gateways": {"gateway": {"profile": "http", "url": "https://gw.example"}},
            "levers": {
                "block": {
                    "title": "Block",
                    "kind": "block",
                    "engage": {"method": "POST", "path": "/block"},
                    "release": {"method": "POST", "path": "/unblock"},
                }
            },
            "start": "engage",
            "nodes": {
                "engage": {"kind": "lever", "title": "Block", "lever": "block", "next": "e2e"},
                "e2e": {
                    "kind": "wait",
                    "title": "Test passes",
                    "request": {"method": "GET", "path": "/e2e"},
                    "deadline": "48h",
                    "next": "lift",
                    "on_timeout": "again",
                },
                "again": {
                    "kind": "confirm",
                    "title": "Wait again?",
                    "prompt": "?",
                    "max_visits": 3,
                    "yes": "e2e",
                    "no": "lift",
                },
                "lift": {"kind": "release", "title": "Lift", "lever": "block", "next": "done"},
                "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
            },
        }
    )
    drawn = render(runbook, "text")
    assert "e2e: WAIT up to 48h: Test passes" in drawn
    assert "[on timeout] again: Wait again? (at most 3×)" in drawn
    assert "lift: RELEASE block: Lift" in drawn
    assert 'n_e2e -->|"on timeout"| n_again' in render(runbook, "mermaid")


def test_a_multi_line_when_stays_on_one_line_and_inert() -> None:
    """A `when: |` block (a filter's `|` and a newline in it) draws as one line in the text
    tree, with no raw `|` or newline inside a Mermaid label, and one escaped line in DOT."""
    rb = minimal_runbook()
    rb["nodes"]["contain"] = {
        "kind": "branch",
        "title": "Route",
        "cases": [
            {"when": "answers.triage | length > 9\nor answers.triage == 'leak'\n", "next": "done"}
        ],
        "default": "dismiss",
    }
    text = drawn(rb, "text")
    assert "[answers.triage | length > 9 or answers.triage == 'leak'] done: END" in text
    assert all(line.startswith(("demo", "└", " ", "│", "├")) for line in text.splitlines())
    mermaid = drawn(rb, "mermaid")
    (arrow,) = [line for line in mermaid.splitlines() if "n_contain -->" in line and "done" in line]
    label = arrow.split('|"', 1)[1].rsplit('"|', 1)[0]
    assert "|" not in label
    assert "#124;" in label
    dot = drawn(rb, "dot")
    (edge,) = [line for line in dot.splitlines() if '"contain" -> "done"' in line]
    assert edge.endswith("];")
    assert "\n" not in edge
