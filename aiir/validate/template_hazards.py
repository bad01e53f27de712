"""What a template does that would fail only when it is rendered, mid-incident, found before.

The sandbox (:mod:`aiir.formats.templating`) refuses private attributes, interpreter internals and format
strings that reach for them, but only while rendering: after a lever may already be engaged. This
module reads a template's syntax tree and refuses every spelling of those at validation time:

- ``x._y``, ``x['_y']``, ``x['_' ~ 'y']``, ``x.mro`` (names the sandbox calls internal);
- a string constant with ``__`` in it, as Jinja2 decodes it (``'\\x5f\\x5fclass\\x5f\\x5f'``);
- the ``attr`` filter, and every filter that takes an ``attribute=`` (``map``, ``selectattr``,
  ``sort``, ``groupby``, ``sum``…), with such a name, or with one computed at render time;
- calling ``.format`` or ``.format_map``, whose fields (``{0.__class__}``) reach attributes;
- ``{% include %}``, ``{% import %}``, ``{% extends %}``: there are no other templates to load;
- a filter or test given arguments it does not take (a plain ``TypeError`` when rendered);
- ``*`` and ``**`` on constants alone (``'a' * 10**9``), which Jinja2 computes while compiling.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiir.formats.templating import TemplateFailure, environment, parsed

if TYPE_CHECKING:
    from jinja2 import nodes

# jinja2.sandbox.is_internal_attribute: names without a leading underscore that it refuses.
INTERNAL = frozenset({"mro", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_code", "ag_frame"})
FORMAT_METHODS = frozenset({"format", "format_map"})
# Filters that read an attribute by a name given as an argument (make_attrgetter in Jinja2).
# Those whose signature names it are found from it; these take it from ``*args``.
FIRST_ARG_IS_ATTRIBUTE = frozenset({"selectattr", "rejectattr"})
Argument = TypeVar("Argument")
_IMPLICIT = frozenset({"environment", "env", "context", "eval_ctx"})  # passed by Jinja2 itself
_ATTRIBUTE_PARTS = re.compile(r"[.,]")  # "a.b,c.d": sort takes several dotted paths


def hazard(source: str, *, expression: bool = False) -> str | None:
    """The first thing in ``source`` that would fail only when rendered, said briefly; or None.

    A syntax error is not a hazard: :func:`aiir.formats.templating.references` reports it.
    """
    from jinja2 import nodes

    try:
        tree = parsed(source, expression=expression)
    except TemplateFailure:
        return None
    constants: str | None = None  # reported last: x['__y'] reads better as a private attribute
    for node in _post_order(tree):
        found = _node_hazard(node)
        if found is None:
            continue
        if not isinstance(node, nodes.Const):
            return found
        constants = constants or found
    return constants


def private_name(name: object) -> str | None:
    """What is wrong with reading attribute ``name``, when the sandbox would refuse it."""
    if not isinstance(name, str):
        return None
    if name.startswith("_"):
        return f"reaches for a private attribute ({name!r}): the sandbox refuses it"
    if name in INTERNAL:
        return f"reaches for an interpreter internal ({name!r}): the sandbox refuses it"
    return None


def dunder_constant(value: str) -> str:
    shown = value if len(value) <= 40 else value[:39] + "…"
    return (
        f"has a string with '__' in it ({shown!r}): names like that lead to Python's internals, "
        "which the sandbox refuses"
    )


def _post_order(root: nodes.Node) -> Iterator[nodes.Node]:
    """Children before their parent, left to right: ``a._x._y`` reports ``_x`` first."""
    stack: list[tuple[nodes.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(list(node.iter_child_nodes())))


def _node_hazard(node: nodes.Node) -> str | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        if isinstance(node.value, str) and "__" in node.value:
            return dunder_constant(node.value)
        return None
    if isinstance(node, nodes.Getattr):
        return private_name(node.attr)
    if isinstance(node, nodes.Getitem):
        return _key_hazard(node.arg)
    if isinstance(node, nodes.Filter | nodes.Test):
        return _filter_hazard(node)
    if isinstance(node, nodes.Call):
        return _call_hazard(node)
    if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
        tag = {"Include": "include", "Import": "import", "FromImport": "from", "Extends": "extends"}
        return (
            f"uses {{% {tag[type(node).__name__]} %}}: a runbook's templates stand alone, "
            "there is no other template to load"
        )
    if _runaway(node):
        return (
            f"computes {'*' if isinstance(node, nodes.Mul) else '**'} on constants alone: "
            "Jinja2 works that out while compiling, however large; write the value"
        )
    return None


def _runaway(node: nodes.Node) -> bool:
    """``10**10**10`` or ``'a' * 10**9``: Jinja2 folds constants when it compiles, so these hang
    or exhaust memory in validation and in the run alike. ``24 * 3600`` is fine."""
    from jinja2 import nodes

    if not isinstance(node, nodes.Mul | nodes.Pow):
        return False
    if not (_constant(node.left) and _constant(node.right)):
        return False
    return isinstance(node, nodes.Pow) or _has_sequence(node)


def _has_sequence(node: nodes.Node) -> bool:
    from jinja2 import nodes

    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, nodes.List | nodes.Tuple) or (
            isinstance(current, nodes.Const) and isinstance(current.value, str)
        ):
            return True
        stack.extend(current.iter_child_nodes())
    return False


def _key_hazard(key: nodes.Expr) -> str | None:
    """``x['_y']`` is refused like ``x._y``; a key built from constants could hide one."""
    from jinja2 import nodes

    if isinstance(key, nodes.Const):
        return private_name(key.value)
    if _constant(key) and _has_sequence(key):
        return "builds a key from strings: write it as one string, so that it can be checked"
    return None  # a number, or a key from a variable: the sandbox still refuses a private one


def _constant(node: nodes.Node) -> bool:
    """Whether ``node`` is computed from literals alone (no variable, call or filter in it)."""
    from jinja2 import nodes

    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, nodes.Name | nodes.Call | nodes.Filter | nodes.Test):
            return False
        stack.extend(current.iter_child_nodes())
    return True


def _filter_hazard(node: nodes.Filter | nodes.Test) -> str | None:
    from jinja2 import nodes

    kind = "filter" if isinstance(node, nodes.Filter) else "test"
    table = environment().filters if kind == "filter" else environment().tests
    function = table.get(node.name)
    if function is None:
        return None  # unknown: Jinja2's compiler reports it
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        if kind == "filter" and _reads_attributes(node.name):
            return (
                f"passes *args or **kwargs to {node.name!r}: its attribute name cannot be checked"
            )
        return None
    problem = _arity(function, len(node.args), list(_keywords(node)))
    if problem is not None:
        return f"gives the {kind} {node.name!r} arguments it does not take ({problem})"
    if kind == "test":
        return None
    found = _applied_hazard(node)
    if found is not None:
        return found
    return attribute_hazard(node.name, node.args, _keywords(node), _literal, _attribute_position)


# Filters that apply another filter or test, named by the argument at that position.
APPLIES = {"map": ("filter", 0), "select": ("test", 0), "reject": ("test", 0)}
APPLIES |= {"selectattr": ("test", 1), "rejectattr": ("test", 1)}


def _applied_hazard(node: nodes.Filter | nodes.Test) -> str | None:
    """``map('upper')``, ``select('odd')``: the named filter or test exists and fits its arguments."""
    from jinja2 import nodes

    if node.name not in APPLIES or (node.name == "map" and "attribute" in _keywords(node)):
        return None
    kind, position = APPLIES[node.name]
    if len(node.args) <= position:
        return None  # select() with no test: truthiness; map() with nothing: Jinja2 says so
    named = node.args[position]
    if not isinstance(named, nodes.Const):
        return f"gives {node.name!r} a computed {kind} name: only a literal one can be checked"
    table = environment().filters if kind == "filter" else environment().tests
    function = table.get(named.value) if isinstance(named.value, str) else None
    if function is None:
        return f"gives {node.name!r} the {kind} name {named.value!r}, which is no {kind}"
    rest = len(node.args) - position - 1
    problem = _arity(function, rest, list(_keywords(node)))
    if problem is not None:
        return f"gives the {kind} {named.value!r} (through {node.name!r}) arguments it does not take ({problem})"
    return None


def attribute_path_hazard(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    for part in _ATTRIBUTE_PARTS.split(value):
        found = private_name(part)
        if found is not None:
            return found
    return None


COMPUTED = object()  # what a literal-reading function gives for an argument that is computed


def attribute_hazard(
    name: str,
    args: Sequence[Argument],
    keywords: Mapping[str, Argument],
    literal: Callable[[Argument], object],
    position: Callable[[str], int | None],
) -> str | None:
    """What the sandbox would refuse in the argument of a call to filter ``name`` that names an
    attribute (or, for ``map``, a filter), in either tree (Jinja2's, or the reader's):
    ``literal`` gives an argument's constant value (or :data:`COMPUTED`), ``position`` where a
    filter takes ``attribute``."""

    def argument() -> Argument | None:
        if name == "attr":
            return args[0] if args else keywords.get("name")
        if name == "map":
            if "attribute" in keywords:
                return keywords["attribute"]
            if len(args) > 1 and literal(args[0]) == "attr":
                return args[1]  # map('attr', '__class__') is attr again
            return None
        if name in FIRST_ARG_IS_ATTRIBUTE:
            return args[0] if args else None
        at = position(name)
        if at is None:
            return None
        if "attribute" in keywords:
            return keywords["attribute"]
        return args[at] if len(args) > at else None

    found = argument()
    if found is None:
        return None
    value = literal(found)
    if value is COMPUTED:
        return (
            f"gives {name!r} a computed attribute name: only a literal one can be checked "
            "before the incident"
        )
    return attribute_path_hazard(value)


def _literal(node: nodes.Expr) -> object:
    from jinja2 import nodes

    return node.value if isinstance(node, nodes.Const) else COMPUTED


def _keywords(node: nodes.Filter | nodes.Test | nodes.Call) -> dict[str, nodes.Expr]:
    """``name=value`` arguments by name (Jinja2 types them as pairs; they are Keyword nodes)."""
    return {cast("nodes.Keyword", k).key: k.value for k in node.kwargs}


def _reads_attributes(name: str) -> bool:
    return name in {"attr", "map"} | FIRST_ARG_IS_ATTRIBUTE or _attribute_position(name) is not None


@functools.cache
def _attribute_position(name: str) -> int | None:
    """Where filter ``name`` takes ``attribute`` among the arguments a template passes."""
    params = _parameters(environment().filters[name])
    names = [p.name for p in params]
    return names.index("attribute") - 1 if "attribute" in names else None


def _parameters(function: Any) -> list[inspect.Parameter]:
    """The parameters after the ones Jinja2 passes itself (environment, context): value first."""
    params = list(inspect.signature(function).parameters.values())
    if params and params[0].name in _IMPLICIT:
        params = params[1:]
    return params


def _arity(function: Any, positional: int, keywords: list[str]) -> str | None:
    """Why a call with that many arguments (and those keywords) would fail, if it would."""
    params = _parameters(function)
    signature = inspect.Signature(params)
    try:
        signature.bind(None, *([None] * positional), **dict.fromkeys(keywords))
    except TypeError as exc:
        return str(exc)
    return None


def _call_hazard(node: nodes.Call) -> str | None:
    from jinja2 import nodes

    callee = node.node
    name: object = None
    if isinstance(callee, nodes.Getattr):
        name = callee.attr
    elif isinstance(callee, nodes.Getitem) and isinstance(callee.arg, nodes.Const):
        name = callee.arg.value
    elif (
        isinstance(callee, nodes.Filter)
        and callee.name == "attr"
        and callee.args
        and isinstance(callee.args[0], nodes.Const)
    ):
        name = callee.args[0].value
    if name in FORMAT_METHODS:
        return (
            f"calls .{name}: its fields ('{{0.attribute}}') reach attributes the sandbox refuses "
            "only mid-incident; join with ~ or use the 'format' filter"
        )
    return None
