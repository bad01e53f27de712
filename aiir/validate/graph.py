"""Draw a runbook's decision tree: plain text, Mermaid, Graphviz DOT, or a PNG/SVG picture.

Edges are labelled as a person reads them: a question's edge with its choice, a branch's with the
choices its condition picks (``answers.kind == 'package'`` reads "Package"), else the condition on
one line. In pictures, parallel edges (two choices that lead to the same node) are one edge with
both labels, and long labels are wrapped and cut, so that a runbook's picture stays readable.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from aiir.errors import AiirError, InputError
from aiir.formats.printable import plain
from aiir.formats.schema import (
    BranchNode,
    CallNode,
    CaptureNode,
    EndNode,
    LeverNode,
    Node,
    NotifyNode,
    QuestionNode,
    ReleaseNode,
    Runbook,
    TasksNode,
    WaitNode,
)

PICTURES = ("png", "svg")  # drawn by Graphviz's `dot` from the DOT text


def describe(runbook: Runbook, node_id: str, node: Node) -> str:
    """A node's one-line label: levers and outcomes are marked."""
    if isinstance(node, LeverNode):
        lever = runbook.levers.get(node.lever)
        kind = lever.kind.value if lever else "lever"
        return f"LEVER {kind}: {node.title}"
    if isinstance(node, EndNode):
        return f"END {node.outcome.value}: {node.title}"
    if isinstance(node, CaptureNode):
        return f"CAPTURE: {node.title}"
    if isinstance(node, CallNode):
        return f"CALL {node.runbook}: {node.title}"
    if isinstance(node, NotifyNode):
        return f"NOTIFY {node.channel}: {node.title}"
    if isinstance(node, ReleaseNode):
        return f"RELEASE {node.lever}: {node.title}"
    if isinstance(node, WaitNode):
        return f"WAIT up to {node.deadline}: {node.title}"
    if node.max_visits is not None:
        return f"{node.title} (at most {node.max_visits}×)"
    if isinstance(node, TasksNode):
        return f"TASKS {_tasks_needed(node)} by {', '.join(_task_owners(node))}: {node.title}"
    return node.title


def _tasks_needed(node: TasksNode) -> str:
    total = len(node.tasks)
    return f"all {total}" if node.needed() == total else f"{node.needed()} of {total}"


def _task_owners(node: TasksNode) -> list[str]:
    return list(dict.fromkeys(task.owner for task in node.tasks))


def render(runbook: Runbook, fmt: str) -> str:
    renderers: dict[str, Callable[[Runbook], str]] = {
        "mermaid": mermaid,
        "dot": dot,
        "text": text,
    }
    return plain(renderers[fmt](runbook))  # a runbook's titles are anyone's text


def picture(runbook: Runbook, fmt: str) -> bytes:
    """The runbook drawn as ``png`` or ``svg`` by Graphviz (``dot`` on the PATH)."""
    program = shutil.which("dot")
    if program is None:
        raise InputError(
            f"--format {fmt} needs Graphviz's `dot` on the PATH (install the graphviz package), "
            "or use --format dot"
        )
    done = subprocess.run(
        [program, f"-T{fmt}"], input=plain(dot(runbook)).encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise AiirError(f"Graphviz `dot -T{fmt}` failed: {reason[0]}")
    return done.stdout


# --- edges as a person reads them ----------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """One arrow between two nodes; parallel edges are merged, one label each."""

    source: str
    target: str
    labels: tuple[str, ...]


def one_line(value: str) -> str:
    return " ".join(value.split())


def shorten(value: str, limit: int) -> str:
    """On one line, at most ``limit`` characters, cut at a word with "…"."""
    flat = one_line(value)
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


def readable_successors(runbook: Runbook, node: Node) -> list[tuple[str, str]]:
    """``(label, target)`` for every edge out of ``node``, each label on one line."""
    if isinstance(node, BranchNode):
        cases = [(condition_label(runbook, case.when), case.next) for case in node.cases]
        return [*cases, ("otherwise", node.default)]
    return [
        (one_line(label), target) for label, target in ((e.label, e.target) for e in node.edges())
    ]


def edges(runbook: Runbook) -> list[Edge]:
    """Every edge between existing nodes, parallel ones merged, in the order a reader expects."""
    merged: dict[tuple[str, str], list[str]] = {}
    for node_id, node in runbook.nodes.items():
        for label, target in readable_successors(runbook, node):
            if target in runbook.nodes:
                labels = merged.setdefault((node_id, target), [])
                if label not in labels:
                    labels.append(label)
    out = []
    for (source, target), labels in merged.items():
        if len(labels) > 1:  # `next` and `on_failure` to the same node: say both
            named = tuple(label or "next" for label in labels)
        else:
            named = tuple(label for label in labels if label)
        out.append(Edge(source, target, named))
    return out


_STRING = r"'[^'\\]*'|\"[^\"\\]*\""
_ANSWER_TEST = re.compile(
    rf"\s*answers\s*(?:\.\s*(?P<attr>[A-Za-z0-9_]+)|\[\s*(?P<item>{_STRING})\s*\])"
    rf"\s*(?P<op>==|!=|not\s+in|in)\s*(?P<values>{_STRING}|\[\s*(?:{_STRING})"
    rf"(?:\s*,\s*(?:{_STRING}))*\s*,?\s*\])\s*"
)


def condition_label(runbook: Runbook, when: str) -> str:
    """``answers.kind == 'package'`` as the choice it picks ("Package"); else the condition."""
    match = _ANSWER_TEST.fullmatch(when)
    if match is None:
        return one_line(when)
    node_id = match["attr"] or match["item"][1:-1]
    question = runbook.nodes.get(node_id)
    if not isinstance(question, QuestionNode):
        return one_line(when)
    by_value = {choice.value: choice.label for choice in question.choices}
    values = [v[1:-1] for v in re.findall(_STRING, match["values"])]
    if not all(v in by_value for v in values):
        return one_line(when)
    labels = " or ".join(one_line(by_value[v]) for v in values)
    return f"not {labels}" if match["op"] == "!=" or match["op"].startswith("not") else labels


EDGE_LABELS = 3  # labels shown on one merged edge; then "+N more"


def _capped(labels: tuple[str, ...]) -> list[str]:
    if len(labels) <= EDGE_LABELS:
        return list(labels)
    return [*labels[: EDGE_LABELS - 1], f"+{len(labels) - EDGE_LABELS + 1} more"]


# --- Mermaid -------------------------------------------------------------------------------------

MERMAID_LABEL = 40  # characters of each edge label


def _mermaid_text(value: str) -> str:
    """Inert in a quoted Mermaid label: entity codes for what Mermaid would read as markup."""
    value = one_line(value).replace("#", "#35;")
    for char, code in (('"', "#quot;"), ("|", "#124;"), ("<", "#lt;"), (">", "#gt;")):
        value = value.replace(char, code)
    return value


_MERMAID_SHAPES = {
    "question": ('{"', '"}'),
    "confirm": ('{"', '"}'),
    "branch": ('{{"', '"}}'),
    "lever": ('[["', '"]]'),
    "call": ('[["', '"]]'),
    "capture": ('[("', '")]'),
    "multiselect": ('{"', '"}'),
    "set": ('[/"', '"/]'),
    "tasks": ('[/"', '"/]'),
    "end": ('(["', '"])'),
}


def _mermaid_ids(node_ids: list[str]) -> dict[str, str]:
    """Mermaid-safe ids (no '-', which Mermaid reads as an edge); ``a-b`` and ``a_b`` stay apart."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for node_id in node_ids:
        base = candidate = "n_" + node_id.replace("-", "_")
        suffix = 2
        while candidate in used:
            candidate = f"{base}_{suffix}"
            suffix += 1
        used.add(candidate)
        ids[node_id] = candidate
    return ids


def mermaid(runbook: Runbook) -> str:
    """Mermaid flowchart; levers and outcomes carry classes for colour."""
    mid = _mermaid_ids(list(runbook.nodes))
    title = _mermaid_text(runbook.title)
    lines = ["flowchart TD", f"  %% {runbook.id} v{runbook.version}: {title}"]
    for node_id, node in runbook.nodes.items():
        left, right = _MERMAID_SHAPES.get(node.kind, ('["', '"]'))
        label = _mermaid_text(f"{node_id}: {describe(runbook, node_id, node)}")
        lines.append(f"  {mid[node_id]}{left}{label}{right}")
    for edge in edges(runbook):
        shown = _capped(edge.labels)
        label = "<br>".join(_mermaid_text(shorten(part, MERMAID_LABEL)) for part in shown)
        arrow = f' -->|"{label}"| ' if label else " --> "
        lines.append(f"  {mid[edge.source]}{arrow}{mid[edge.target]}")
    levers = [mid[n] for n, node in runbook.nodes.items() if isinstance(node, LeverNode)]
    ends = [mid[n] for n, node in runbook.nodes.items() if isinstance(node, EndNode)]
    lines.append("  classDef lever fill:#fde2e1,stroke:#c0392b,stroke-width:2px")
    lines.append("  classDef outcome fill:#e3f4e1,stroke:#27ae60")
    if levers:
        lines.append(f"  class {','.join(levers)} lever")
    if ends:
        lines.append(f"  class {','.join(ends)} outcome")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT --------------------------------------------------------------------------------

NODE_WRAP = 24  # characters a line of a node's label
EDGE_WRAP = 20  # characters a line of an edge's label
EDGE_LINES = 2  # lines of one edge label; the rest is cut with "…"

_DOT_SHAPES = {
    "question": "diamond",
    "confirm": "diamond",
    "branch": "hexagon",
    "lever": "box3d",
    "call": "component",
    "capture": "cylinder",
    "notify": "note",
    "multiselect": "diamond",
    "wait": "octagon",
    "release": "box3d",
    "set": "parallelogram",
    "tasks": "tab",
    "end": "box",
}


def _dot_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _dot_lines(lines: list[str]) -> str:
    """DOT's own line break is the two characters backslash-n: join after escaping."""
    return "\\n".join(_dot_text(line) for line in lines)


def _wrapped(value: str, width: int, max_lines: int | None = None) -> list[str]:
    lines = textwrap.wrap(one_line(value), width) or [""]
    if max_lines is not None and len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], shorten(" ".join(lines[max_lines - 1 :]), width)]
    return lines


def _edge_label(labels: tuple[str, ...]) -> list[str]:
    shown = _capped(labels)
    return [line for label in shown for line in _wrapped(label, EDGE_WRAP, EDGE_LINES)]


def dot(runbook: Runbook) -> str:
    """Graphviz DOT, laid out to stay narrow: wrapped labels, one edge per pair of nodes."""
    lines = [
        f'digraph "{_dot_text(runbook.id)}" {{',
        "  rankdir=TB; nodesep=0.2; ranksep=0.35;",
        '  node [fontsize=10, fontname="Helvetica", margin="0.08,0.04"];',
        '  edge [fontsize=9, fontname="Helvetica", color="#555555"];',
        f'  label="{_dot_text(runbook.title)}"; labelloc=t; fontname="Helvetica";',
    ]
    for node_id, node in runbook.nodes.items():
        shape = _DOT_SHAPES.get(node.kind, "box")
        label = _dot_lines([node_id, *_wrapped(describe(runbook, node_id, node), NODE_WRAP)])
        extra = ""
        if isinstance(node, LeverNode):
            extra = ', style=filled, fillcolor="#fde2e1", color="#c0392b"'
        elif isinstance(node, EndNode):
            extra = ', style="rounded,filled", fillcolor="#e3f4e1"'
        lines.append(f'  "{node_id}" [shape={shape}, label="{label}"{extra}];')
    drawn = edges(runbook)
    stagger = _staggered(drawn)
    for edge in drawn:
        attributes = [f'label="{_dot_lines(_edge_label(edge.labels))}"'] if edge.labels else []
        if stagger.get(edge, 1) > 1:
            attributes.append(f"minlen={stagger[edge]}")
        shown = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f'  "{edge.source}" -> "{edge.target}"{shown};')
    lines.append("}")
    return "\n".join(lines) + "\n"


STAGGER_FROM = 4  # a node with this many edges to leaves puts them on several rows…
STAGGER_ROWS = 6  # …this many (as Graphviz's `unflatten -l` does)


def _staggered(drawn: list[Edge]) -> dict[Edge, int]:
    """``minlen`` for edges to leaves of a wide fan-out: the leaves take turns on a few rows
    instead of all standing on one very wide row (triage hands off to fifteen runbooks)."""
    sources = {edge.source for edge in drawn}
    to_leaves: dict[str, list[Edge]] = {}
    for edge in drawn:
        if edge.target not in sources:
            to_leaves.setdefault(edge.source, []).append(edge)
    lengths: dict[Edge, int] = {}
    for fan in to_leaves.values():
        if len(fan) >= STAGGER_FROM:
            for i, edge in enumerate(fan):
                lengths[edge] = 1 + i % STAGGER_ROWS
    return lengths


# --- text ----------------------------------------------------------------------------------------

TEXT_LABEL = 120  # characters of an edge label in the text tree


def text(runbook: Runbook) -> str:
    """An indented tree from the start node; a node seen before is referenced, not repeated."""
    lines = [f"{runbook.id} v{runbook.version}: {runbook.title}  [{runbook.severity.value}]"]
    seen: set[str] = set()
    # Depth first without recursion (a runbook may be thousands of nodes deep): the children
    # go on the stack last first, so the first child is drawn next, as a recursive walk would.
    stack: list[tuple[str, str, str, bool]] = [(runbook.start, "", "", True)]
    while stack:
        node_id, prefix, label, last = stack.pop()
        branch = "└─ " if last else "├─ "
        edge = f"[{shorten(label, TEXT_LABEL)}] " if label else ""
        node = runbook.nodes.get(node_id)
        if node is None:
            lines.append(f"{prefix}{branch}{edge}{node_id} (missing)")
            continue
        if node_id in seen:
            lines.append(f"{prefix}{branch}{edge}→ {node_id} (see above)")
            continue
        seen.add(node_id)
        owner = f"  ({node.owner})" if node.owner else ""
        severity = f"  → {node.severity.value}" if node.severity else ""
        title = one_line(describe(runbook, node_id, node))
        lines.append(f"{prefix}{branch}{edge}{node_id}: {title}{owner}{severity}")
        children = readable_successors(runbook, node)
        inner = prefix + ("   " if last else "│  ")
        for i in reversed(range(len(children))):
            child_label, target = children[i]
            stack.append((target, inner, child_label, i == len(children) - 1))
    return "\n".join(lines) + "\n"
