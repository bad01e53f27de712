"""The syntax tree :mod:`aiir.validate.template_reader` makes: Jinja2's (``jinja2.nodes``) in
shape, for the part of the grammar it reads, so that a walk over it meets the nodes Jinja2's
tree has in the order it has them. ``reads`` says whether an expression reads a variable (what
does not, Jinja2 works out while compiling)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


class Node:
    __slots__ = ("reads",)

    def __init__(self, *, reads: bool = False) -> None:
        self.reads = reads

    def children(self) -> Sequence[Node]:
        return ()


class Name(Node):
    __slots__ = ("line", "name", "store")

    def __init__(self, name: str, line: int, *, store: bool = False) -> None:
        self.name, self.line, self.store, self.reads = name, line, store, True


class Const(Node):
    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value, self.reads = value, False


class Getattr(Node):
    __slots__ = ("attr", "line", "node")

    def __init__(self, node: Node, attr: str, line: int) -> None:
        self.node, self.attr, self.line, self.reads = node, attr, line, node.reads

    def children(self) -> Sequence[Node]:
        return (self.node,)


class Getitem(Node):
    __slots__ = ("arg", "line", "node")

    def __init__(self, node: Node, arg: Node, line: int) -> None:
        self.node, self.arg, self.line = node, arg, line
        self.reads = node.reads or arg.reads

    def children(self) -> Sequence[Node]:
        return (self.node, self.arg)


class Keyword(Node):
    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Node) -> None:
        self.key, self.value, self.reads = key, value, value.reads

    def children(self) -> Sequence[Node]:
        return (self.value,)


class Filter(Node):
    """A filter (``x | name(args)``), or with ``test`` a test (``x is name(args)``)."""

    __slots__ = ("args", "kwargs", "name", "node", "test")

    def __init__(
        self, node: Node, name: str, args: list[Node], kwargs: list[Keyword], *, test: bool
    ) -> None:
        self.node, self.name, self.args, self.kwargs, self.test = node, name, args, kwargs, test
        self.reads = any(child.reads for child in self.children())

    def children(self) -> Sequence[Node]:
        return [self.node, *self.args, *self.kwargs]

    def keywords(self) -> dict[str, Node]:
        return {k.key: k.value for k in self.kwargs}


class Group(Node):
    """Nodes that are only their children, in order: Jinja2's Output, Concat, List, Tuple,
    Compare (its expression, then its operands), Operand, And, Or, Not, CondExpr (test, then
    the two values)."""

    __slots__ = ("kind", "nodes")

    def __init__(self, kind: str, nodes: list[Node]) -> None:
        self.kind, self.nodes = kind, nodes
        self.reads = any(node.reads for node in nodes)

    def children(self) -> Sequence[Node]:
        return self.nodes


SEQUENCES = frozenset({"list", "tuple"})


class Assign(Node):
    __slots__ = ("node", "target")

    def __init__(self, target: Name, node: Node) -> None:
        self.target, self.node, self.reads = target, node, True

    def children(self) -> Sequence[Node]:
        return (self.target, self.node)


class If(Node):
    __slots__ = ("body", "elif_", "else_", "test")

    def __init__(self, test: Node) -> None:
        self.test, self.reads = test, True
        self.body: list[Node] = []
        self.elif_: list[If] = []
        self.else_: list[Node] = []

    def children(self) -> Sequence[Node]:
        return [self.test, *self.body, *self.elif_, *self.else_]


def pre_order(nodes: Sequence[Node]) -> Iterator[Node]:
    """Each node before its children, left to right (``jinja2.nodes.Node.iter_child_nodes``)."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def post_order(nodes: Sequence[Node]) -> list[Node]:
    """Children before their parent, left to right."""
    out: list[Node] = []
    stack: list[tuple[Node, bool]] = [(node, False) for node in reversed(nodes)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.children()))
    return out
