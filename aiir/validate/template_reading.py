"""What a template read by :mod:`aiir.validate.template_reader` reads and risks, said as the
Jinja2 path says it: :func:`references` is :func:`aiir.formats.templating.references` and
:func:`hazard` is :func:`aiir.validate.template_hazards.hazard`, over the reader's tree."""

from __future__ import annotations

from collections.abc import Iterable

from aiir.formats.templating import Reference
from aiir.validate.filter_signatures import FILTERS, TESTS, arity, parameters
from aiir.validate.template_hazards import (
    APPLIES,
    COMPUTED,
    attribute_hazard,
    dunder_constant,
    private_name,
)
from aiir.validate.template_nodes import (
    SEQUENCES,
    Assign,
    Const,
    Filter,
    Getattr,
    Getitem,
    Group,
    If,
    Name,
    Node,
    post_order,
    pre_order,
)

# --- the variables a template reads from its context --------------------------------------------


class _Symbols:
    """``jinja2.idtracking.Symbols`` of the template's root frame (no parent, one level): what
    each name is loaded as, ``resolve`` meaning from the context."""

    __slots__ = ("loads", "stores")

    def __init__(self) -> None:
        self.loads: dict[str, str] = {}  # refs are the keys: one level, one ref a name
        self.stores: set[str] = set()

    def copy(self) -> _Symbols:
        other = _Symbols()
        other.loads, other.stores = dict(self.loads), set(self.stores)
        return other

    def store(self, name: str) -> None:
        self.stores.add(name)
        self.loads.setdefault(name, "undefined")

    def load(self, name: str) -> None:
        self.loads.setdefault(name, "resolve")

    def branch_update(self, branches: list[_Symbols]) -> None:
        stores: set[str] = set()
        for branch in branches:
            stores.update(branch.stores)
        stores.difference_update(self.stores)
        for branch in branches:
            self.loads.update(branch.loads)
            self.stores.update(branch.stores)
        for name in stores:  # set in a branch: whatever the context has otherwise
            self.loads[name] = "resolve"


class _Visitor:
    """``jinja2.idtracking.FrameSymbolVisitor`` over the reader's nodes."""

    def __init__(self) -> None:
        self.symbols = _Symbols()

    def visit(self, node: Node) -> None:
        if isinstance(node, Name):
            if node.store:
                self.symbols.store(node.name)
            else:
                self.symbols.load(node.name)
        elif isinstance(node, If):
            self.visit(node.test)
            original = self.symbols
            branches = [self._branch(original, nodes) for nodes in (node.body, node.elif_)]
            branches.append(self._branch(original, node.else_))
            self.symbols = original
            original.branch_update(branches)
        elif isinstance(node, Assign):
            self.visit(node.node)
            self.visit(node.target)
        else:
            for child in node.children():
                self.visit(child)

    def _branch(self, original: _Symbols, nodes: Iterable[Node]) -> _Symbols:
        self.symbols = branch = original.copy()
        for node in nodes:
            self.visit(node)
        self.symbols = original
        return branch


def free_names(body: tuple[Node, ...]) -> set[str]:
    """``jinja2.meta.find_undeclared_variables``: the names read from the context."""
    visitor = _Visitor()
    for node in body:
        visitor.visit(node)
    return {name for name, load in visitor.symbols.loads.items() if load == "resolve"}


def references(body: tuple[Node, ...]) -> tuple[Reference, ...]:
    """Every variable the template reads, in the order the Jinja2 path finds them."""
    order = list(pre_order(list(body)))
    names = [node for node in order if isinstance(node, Name)]
    stored = any(name.store for name in names)  # if not, every name read is the context's
    free = free_names(body) if stored else {name.name for name in names}
    found: list[Reference] = []
    attributed: set[int] = set()
    for node in order:
        if isinstance(node, Getattr | Getitem) and isinstance(node.node, Name):
            attr = node.attr if isinstance(node, Getattr) else _key(node.arg)
            if attr is not None and node.node.name in free:
                attributed.add(id(node.node))
                found.append(Reference(node.node.name, attr, node.line))
    for name in names:
        if not name.store and name.name in free and id(name) not in attributed:
            found.append(Reference(name.name, None, name.line))
    return tuple(found)


def _key(arg: Node) -> str | None:
    return arg.value if isinstance(arg, Const) and isinstance(arg.value, str) else None


# --- what the sandbox would refuse when it is rendered ------------------------------------------


def hazard(body: tuple[Node, ...]) -> str | None:
    """The first thing the template does that would fail only when rendered, or None."""
    constants: str | None = None
    for node in post_order(list(body)):
        found = _node_hazard(node)
        if found is None:
            continue
        if not isinstance(node, Const):
            return found
        constants = constants or found
    return constants


def _node_hazard(node: Node) -> str | None:
    if isinstance(node, Const):
        if isinstance(node.value, str) and "__" in node.value:
            return dunder_constant(node.value)
        return None
    if isinstance(node, Getattr):
        return private_name(node.attr)
    if isinstance(node, Getitem):
        return _key_hazard(node.arg)
    if isinstance(node, Filter):
        return _filter_hazard(node)
    return None


def _key_hazard(key: Node) -> str | None:
    if isinstance(key, Const):
        return private_name(key.value)
    if _constant(key) and _has_sequence(key):
        return "builds a key from strings: write it as one string, so that it can be checked"
    return None


def _constant(node: Node) -> bool:
    return not any(isinstance(n, Name | Filter) for n in pre_order([node]))


def _has_sequence(node: Node) -> bool:
    return any(
        (isinstance(n, Group) and n.kind in SEQUENCES)
        or (isinstance(n, Const) and isinstance(n.value, str))
        for n in pre_order([node])
    )


def _filter_hazard(node: Filter) -> str | None:
    kind = "test" if node.test else "filter"
    spelling = (TESTS if node.test else FILTERS)[node.name]
    problem = arity(spelling, len(node.args), list(node.keywords()))
    if problem is not None:
        return f"gives the {kind} {node.name!r} arguments it does not take ({problem})"
    if node.test:
        return None
    found = _applied_hazard(node)
    if found is not None:
        return found
    return attribute_hazard(node.name, node.args, node.keywords(), _literal, _attribute_position)


def _applied_hazard(node: Filter) -> str | None:
    if node.name not in APPLIES or (node.name == "map" and "attribute" in node.keywords()):
        return None
    kind, position = APPLIES[node.name]
    if len(node.args) <= position:
        return None
    named = node.args[position]
    if not isinstance(named, Const):
        return f"gives {node.name!r} a computed {kind} name: only a literal one can be checked"
    table = FILTERS if kind == "filter" else TESTS
    spelling = table.get(named.value) if isinstance(named.value, str) else None
    if spelling is None:
        return f"gives {node.name!r} the {kind} name {named.value!r}, which is no {kind}"
    rest = len(node.args) - position - 1
    problem = arity(spelling, rest, list(node.keywords()))
    if problem is not None:
        return f"gives the {kind} {named.value!r} (through {node.name!r}) arguments it does not take ({problem})"
    return None


def _literal(node: Node) -> object:
    return node.value if isinstance(node, Const) else COMPUTED


def _attribute_position(name: str) -> int | None:
    """Where filter ``name`` takes ``attribute`` among the arguments a template passes."""
    names = [p.name for p in parameters(FILTERS[name])]
    return names.index("attribute") - 1 if "attribute" in names else None
