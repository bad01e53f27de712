"""Draw a runbook's decision tree as Mermaid, Graphviz DOT or plain text."""

from __future__ import annotations

from collections.abc import Callable

from aiir.schema import (
    CallNode,
    CaptureNode,
    EndNode,
    LeverNode,
    Node,
    NotifyNode,
    Runbook,
    successors,
)


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
    return node.title


def render(runbook: Runbook, fmt: str) -> str:
    renderers: dict[str, Callable[[Runbook], str]] = {
        "mermaid": mermaid,
        "dot": dot,
        "text": text,
    }
    return renderers[fmt](runbook)


def _mermaid_text(value: str) -> str:
    return value.replace('"', "#quot;").replace("\n", " ")


_MERMAID_SHAPES = {
    "question": ('{"', '"}'),
    "confirm": ('{"', '"}'),
    "branch": ('{{"', '"}}'),
    "lever": ('[["', '"]]'),
    "call": ('[["', '"]]'),
    "capture": ('[("', '")]'),
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
    for node_id, node in runbook.nodes.items():
        for label, target in successors(node):
            if target not in runbook.nodes:
                continue
            arrow = f' -->|"{_mermaid_text(label)}"| ' if label else " --> "
            lines.append(f"  {mid[node_id]}{arrow}{mid[target]}")
    levers = [mid[n] for n, node in runbook.nodes.items() if isinstance(node, LeverNode)]
    ends = [mid[n] for n, node in runbook.nodes.items() if isinstance(node, EndNode)]
    lines.append("  classDef lever fill:#fde2e1,stroke:#c0392b,stroke-width:2px")
    lines.append("  classDef outcome fill:#e3f4e1,stroke:#27ae60")
    if levers:
        lines.append(f"  class {','.join(levers)} lever")
    if ends:
        lines.append(f"  class {','.join(ends)} outcome")
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {
    "question": "diamond",
    "confirm": "diamond",
    "branch": "hexagon",
    "lever": "box3d",
    "call": "component",
    "capture": "cylinder",
    "notify": "note",
    "end": "doublecircle",
}


def _dot_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def dot(runbook: Runbook) -> str:
    """Graphviz DOT."""
    lines = [f'digraph "{_dot_text(runbook.id)}" {{', "  rankdir=TB;", "  node [fontsize=10];"]
    lines.append(f'  label="{_dot_text(runbook.title)}";')
    for node_id, node in runbook.nodes.items():
        shape = _DOT_SHAPES.get(node.kind, "box")
        # DOT's own line break is the two characters backslash-n, so join after escaping.
        label = _dot_text(node_id) + "\\n" + _dot_text(describe(runbook, node_id, node))
        extra = ""
        if isinstance(node, LeverNode):
            extra = ', style=filled, fillcolor="#fde2e1", color="#c0392b"'
        elif isinstance(node, EndNode):
            extra = ', style=filled, fillcolor="#e3f4e1"'
        lines.append(f'  "{node_id}" [shape={shape}, label="{label}"{extra}];')
    for node_id, node in runbook.nodes.items():
        for label, target in successors(node):
            if target in runbook.nodes:
                lines.append(f'  "{node_id}" -> "{target}" [label="{_dot_text(label)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def text(runbook: Runbook) -> str:
    """An indented tree from the start node; a node seen before is referenced, not repeated."""
    lines = [f"{runbook.id} v{runbook.version}: {runbook.title}  [{runbook.severity.value}]"]
    seen: set[str] = set()

    def walk(node_id: str, prefix: str, label: str, last: bool) -> None:
        branch = "└─ " if last else "├─ "
        edge = f"[{label}] " if label else ""
        node = runbook.nodes.get(node_id)
        if node is None:
            lines.append(f"{prefix}{branch}{edge}{node_id} (missing)")
            return
        if node_id in seen:
            lines.append(f"{prefix}{branch}{edge}→ {node_id} (see above)")
            return
        seen.add(node_id)
        owner = f"  ({node.owner})" if node.owner else ""
        severity = f"  → {node.severity.value}" if node.severity else ""
        lines.append(
            f"{prefix}{branch}{edge}{node_id}: {describe(runbook, node_id, node)}{owner}{severity}"
        )
        children = successors(node)
        inner = prefix + ("   " if last else "│  ")
        for i, (child_label, target) in enumerate(children):
            walk(target, inner, child_label, i == len(children) - 1)

    walk(runbook.start, "", "", True)
    return "\n".join(lines) + "\n"
