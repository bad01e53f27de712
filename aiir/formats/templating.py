"""Jinja2 templating, sandboxed and strict.

Runbook authors write templates; operators, users and models supply *values*. Values are only ever
passed into a template's context, never compiled as templates themselves, so a prompt-injection
payload captured from a model cannot execute. The sandbox refuses attribute walks such as
``''.__class__.__mro__`` and ``StrictUndefined`` turns every misspelt variable into an error
instead of an empty string.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aiir.errors import InputError
from aiir.formats.printable import plain
from aiir.formats.taint import Replaced, failed, watched
from aiir.redact import declared_secrets, mask

if TYPE_CHECKING:  # Jinja2 is imported on the first real template: plain strings never need it
    from jinja2 import Template, TemplateError, nodes
    from jinja2.environment import TemplateExpression
    from jinja2.runtime import Context
    from jinja2.sandbox import SandboxedEnvironment

NAMESPACES = ("inputs", "answers", "vars", "env", "incident", "window", "params", "levers")
INCIDENT_FIELDS = frozenset(
    {
        "id",
        "title",
        "runbook",
        "severity",
        "started_at",
        "elapsed",
        "operator",
        "drill",
        "exercise",
        "outcome",
        "category",
        "tags",
    }
)
WINDOW_FIELDS = frozenset({"start", "end"})


def slack_escape(text: str) -> str:
    """Slack mrkdwn's control characters as entities: a value cannot mention ``<!channel>``,
    ping a user or forge a ``<https://…|link>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# CommonMark's backslash escapes for the characters an Adaptive Card TextBlock's markdown reads
# (emphasis, links, code, headings, lists, HTML-like tags), the backslash itself first.
_TEAMS_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_[]()<>#~|!"})
_TEAMS_LIST = re.compile(r"^(\s*)(?:([-+])|(\d+)\.)(?=\s)", re.M)


def teams_escape(text: str) -> str:
    """A value inserted into a Teams Adaptive Card TextBlock: no emphasis, link, image, list or
    heading of its own, so it cannot forge a ``[link](https://…)`` or restyle the card."""
    escaped = text.translate(_TEAMS_MARKUP)
    return _TEAMS_LIST.sub(_unlisted, escaped)


def _unlisted(match: re.Match[str]) -> str:
    """A list marker at a line start, escaped: ``\\-`` or ``1\\.``."""
    indent, bullet, number = match.groups()
    return indent + ("\\" + bullet if bullet else number + "\\.")


# What makes a Markdown report do something of its own: raw HTML (<script>, <img onerror>), links
# and images ([x](https://…), ![x](https://…?data) that fetches on sight), code, table cells; and
# at a line's start, headings, quotes, list items, and the lines of only - = * _ that underline
# a heading or draw a rule.
_MARKDOWN_INLINE = str.maketrans({c: "\\" + c for c in "\\`[]<>|~"})
_MARKDOWN_BLOCK = re.compile(
    r"^([ \t]*)(#{1,6}(?=[ \t]|$)|[*+-](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)|[-=*_][-=*_ \t]*$)",
    re.M,
)


def markdown_escape(text: str) -> str:
    """A value inserted into a Markdown report (CommonMark, GitHub's tables): it reads as the
    text it is, with no HTML, link, image, code span, table cell or block of its own, and no
    terminal escape (the report is read on a terminal too)."""
    escaped = plain(text).translate(_MARKDOWN_INLINE)
    return _MARKDOWN_BLOCK.sub(_unblocked, escaped)


def _unblocked(match: re.Match[str]) -> str:
    """A block marker at a line's start, escaped: ``\\#``, ``\\-``, ``1\\.``, ``\\===``."""
    indent, marker = match.groups()
    if marker[0].isdigit():
        return f"{indent}{marker[:-1]}\\{marker[-1]}"
    return f"{indent}\\{marker}"


# How values inserted into a message are escaped for a channel's markup, once made printable (a
# model's bidi override or zero-width characters would mislead the channel's readers as they do a
# terminal's). The template's own text (the runbook author's formatting) is left as written.
MARKUPS: dict[str, Callable[[str], str]] = {
    "slack": lambda value: slack_escape(plain(value)),
    "teams": lambda value: teams_escape(plain(value)),
    "markdown": markdown_escape,
}


class TemplateFailure(InputError):
    """A template could not be parsed or rendered; says where and why."""


@functools.lru_cache(maxsize=4096)
def _expression(
    env: SandboxedEnvironment, source: str, undefined_to_none: bool
) -> TemplateExpression:
    from jinja2.sandbox import SandboxedEnvironment

    _refuse_deep_brackets(source, expression=True)
    return SandboxedEnvironment.compile_expression(env, source, undefined_to_none)


@functools.cache
def environment(markup: str | None = None) -> SandboxedEnvironment:
    """The sandboxed, strict environment templates render in; with ``markup`` (a key of
    :data:`MARKUPS`) every ``{{ value }}`` a template prints is escaped for that markup."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class CompiledOnce(SandboxedEnvironment):
        """Compiles each expression once: a walk evaluates the same few hundred request values
        and branch conditions again and again (templates: see :func:`_compiled`)."""

        def compile_expression(
            self, source: str, undefined_to_none: bool = True
        ) -> TemplateExpression:
            return _expression(self, source, undefined_to_none)

    escape = MARKUPS[markup] if markup is not None else None
    env = CompiledOnce(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=(lambda value: escape(str(value))) if escape is not None else None,
    )
    env.globals.clear()  # no range/lipsum/cycler/joiner/namespace: templates format, not compute
    env.filters["objects"] = objects
    env.filters["engaged"] = engaged
    env.tests.update(_BOOLEAN_TESTS)
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": _plain}
    return env


def objects(values: Any, key: str, **fixed: Any) -> list[dict[str, Any]]:
    """``["a"] | objects("keyword", action="BLOCK")``: ``[{"keyword": "a", "action": "BLOCK"}]``."""
    items = values if isinstance(values, list | tuple) else [values]
    return [{key: value, **fixed} for value in items]


def engaged(levers: Any) -> list[Any]:
    """``levers | engaged``: the levers in effect now (engaged or proven), in order."""
    return [lever for lever in levers if isinstance(lever, dict) and lever.get("engaged")]


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def render(
    source: str, context: Mapping[str, Any], where: str, *, markup: str | None = None
) -> str:
    """Render ``source`` with ``context``; a failure names ``where`` it happened. With
    ``markup``, the values inserted are escaped for it (see :func:`environment`)."""
    if not is_template(source):
        return source
    from jinja2 import TemplateError

    try:
        template = _compiled(source, markup)
    except TemplateError as exc:
        raise TemplateFailure(f"{where}: template error: {_reason(exc)}") from None
    except _UNREADABLE as exc:
        raise TemplateFailure(f"{where}: template error: {_unreadable(exc)}") from None

    def made(reading: Mapping[str, Any]) -> str:
        # What Template.render does, less its copy of the context (and its rewrite of the
        # traceback, which copies it: the errors are reported below, by message)
        return template.environment.concat(template.root_render_func(in_place(template, reading)))

    try:
        text = made(context)
        watched(source, context, text, made)  # what it computed from a secret is masked
        return text
    except (TemplateError, *_RUNTIME) as exc:  # {{ 1 / 0 }}, a bad str.format: the template's
        said = _failure(source, context, exc, made)
        raise TemplateFailure(f"{where}: template error: {said}") from None


@functools.lru_cache(maxsize=4096)
def _compiled(source: str, markup: str | None = None) -> Template:
    """Runbook templates are few and rendered often: compile each once."""
    _refuse_deep_brackets(source)
    return (environment(markup) if markup else environment()).from_string(source)


def evaluate(expression: str, context: Mapping[str, Any], where: str) -> Any:
    """Evaluate a Jinja2 expression (a branch's ``when``); a yes/no answer in it is a
    :class:`YesNo`, equal to its boolean and to its word."""
    from jinja2 import TemplateError

    try:
        compiled = environment().compile_expression(expression, undefined_to_none=False)
    except TemplateError as exc:
        raise TemplateFailure(f"{where}: expression error: {_reason(exc)}") from None
    except _UNREADABLE as exc:
        raise TemplateFailure(f"{where}: expression error: {_unreadable(exc)}") from None

    def run(reading: Mapping[str, Any]) -> Any:
        return run_expression(compiled, spoken(reading))

    try:
        value = run(context)
        watched(expression, context, value, run)
        return value
    except (TemplateError, *_RUNTIME) as exc:
        said = _failure(expression, context, exc, run)
        raise TemplateFailure(f"{where}: expression error: {said}") from None


class YesNo:
    """A yes/no answer inside an expression: true or false, and equal both to that boolean and
    to the word (``answers.contained == 'yes'``, ``select('equalto', true)``), so a comparison
    with either spelling takes the path its author meant."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, YesNo):
            return self.value is other.value
        if isinstance(other, bool):
            return self.value is other
        if isinstance(other, str):
            return other.strip().lower() == str(self)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return "yes" if self.value else "no"

    def __repr__(self) -> str:
        return f"YesNo({self.value})"


def in_place(template: Template, context: Mapping[str, Any]) -> Context:
    """A Jinja2 context that reads ``context`` where it is, not the copy ``Template.render`` and
    a compiled expression make of it first: the walk's costlier entries (the incident's fields,
    every lever's state) are worked out only when a template reads them (``bench.engine``: each
    branch and message worked out both). The environment has no globals to merge in."""
    return template.new_context(cast("dict[str, Any]", context), shared=True)


def run_expression(expression: TemplateExpression, context: Mapping[str, Any]) -> Any:
    """``expression(context)``, as ``TemplateExpression.__call__`` runs it, with ``context``
    read in place (:func:`in_place`)."""
    from jinja2 import Undefined

    template: Template = expression._template  # what __call__ runs
    reading = in_place(template, context)
    for _ in template.root_render_func(reading):
        pass
    result = reading.vars["result"]
    if expression._undefined_to_none and isinstance(result, Undefined):
        return None
    return result


def spoken(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """``context`` with each yes/no answer as a :class:`YesNo` (the rest read through)."""
    answers = context.get("answers")
    if not isinstance(answers, Mapping) or not any(isinstance(v, bool) for v in answers.values()):
        return context
    said = {k: YesNo(v) if isinstance(v, bool) else v for k, v in answers.items()}
    return Replaced(context, "answers", said)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, YesNo) else value


# The tests that ask "is it the boolean": a YesNo is its boolean to them.
_BOOLEAN_TESTS: dict[str, Callable[..., bool]] = {
    "true": lambda value: _plain(value) is True,
    "false": lambda value: _plain(value) is False,
    "boolean": lambda value: isinstance(_plain(value), bool),
    "sameas": lambda value, other: _plain(value) is _plain(other),
}


# What the operations a template may use raise on bad operands; an error of aiir's own filters
# with such data is the template's too. Anything else is a bug, and is reported as one.
_RUNTIME = (ArithmeticError, LookupError, TypeError, ValueError)


def _runtime(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _said(exc: Exception) -> str:
    """What a failure of a template says, whole (cut once masked: see :func:`_failure`)."""
    from jinja2 import TemplateError

    return _reason(exc) if isinstance(exc, TemplateError) else _runtime(exc)


def _failure(
    source: str, context: Mapping[str, Any], exc: Exception, again: Callable[[Any], Any]
) -> str:
    """Why ``source`` failed, with what it computed from a secret masked: an error quotes the
    value it failed on (``'dict object' has no attribute 'SK-…'``, ``invalid literal for int():
    'SK-…'``), found as the rest is, by failing again with the secrets' stand-ins
    (:func:`aiir.formats.taint.failed`). Masked, then cut: cut first, a secret across the cut
    would leave its first part."""
    from jinja2 import TemplateError

    said = _said(exc)

    def again_said(other: Mapping[str, Any]) -> str | None:
        try:
            again(other)
        except (TemplateError, *_RUNTIME) as failed_too:
            return _said(failed_too)
        return None

    failed(source, context, said, again_said)
    said = mask(said, declared_secrets())
    return said if len(said) <= 200 or isinstance(exc, TemplateError) else said[:200]


def _reason(exc: TemplateError) -> str:
    message = exc.message or type(exc).__name__
    if "unsafe" in message or "__" in message:
        return f"refused by the sandbox ({message})"
    return message


@dataclass(frozen=True)
class Reference:
    """A variable a template reads: ``inputs.model`` is ``Reference("inputs", "model")``."""

    namespace: str
    name: str | None
    line: int


def references(source: str, *, expression: bool = False) -> list[Reference]:
    """Every variable ``source`` reads; raises :class:`TemplateFailure` on a syntax error.

    ``Reference(ns, None)`` is a bare top-level name (``{{ foo }}``), which is undefined unless it
    is one of :data:`NAMESPACES` used whole.
    """
    from jinja2 import TemplateError, meta

    tree = parsed(source, expression=expression)
    found: list[Reference] = []
    try:  # compiles the tree, which is where an unknown filter or test is found
        free = meta.find_undeclared_variables(tree)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None) or 1
        raise TemplateFailure(f"line {line} of the template: {_reason(exc)}") from None
    except _UNREADABLE as exc:
        raise TemplateFailure(f"the template: {_unreadable(exc)}") from None
    attributed: set[int] = set()
    for node in _walk(tree):
        target = _namespace_access(node)
        if target is not None:
            name_node, attr = target
            if name_node.name in free:
                attributed.add(id(name_node))
                found.append(Reference(name_node.name, attr, node.lineno))
    from jinja2 import nodes

    for node in _walk(tree):
        if (
            isinstance(node, nodes.Name)
            and node.ctx == "load"
            and node.name in free
            and id(node) not in attributed
        ):
            found.append(Reference(node.name, None, node.lineno))
    return found


def parsed(source: str, *, expression: bool = False) -> nodes.Template:
    """Jinja2's syntax tree of ``source``; raises :class:`TemplateFailure` on a syntax error."""
    return _parse("{{ " + source + " }}" if expression else source)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> nodes.Template:
    """Validation reads each template twice (its references, its hazards): parse it once."""
    from jinja2 import TemplateError

    try:
        _refuse_deep_brackets(text)
        tree = environment().parse(text)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None) or 1
        raise TemplateFailure(f"line {line} of the template: {_reason(exc)}") from None
    except _UNREADABLE as exc:
        raise TemplateFailure(f"the template: {_unreadable(exc)}") from None
    if _depth(tree) > DEEPEST:
        raise TemplateFailure(f"the template: {_unreadable(RecursionError())}")
    return tree


# How deep a template's syntax tree may be. Jinja2 compiles a tree to Python with a bracket or an
# indent a level, and Python refuses more than 200 brackets and 100 indents: 250 filters in a
# row, or 100 {% if %} inside each other, were checked and then failed when rendered
# ("too many nested parentheses"). 80 levels render; no real template comes near.
DEEPEST = 80


# How deep brackets may nest inside a tag. Jinja2's parser calls some fourteen of its methods, one
# inside the other, for each bracket, and parentheses leave nothing in the tree that DEEPEST would
# count: whether it ran out of Python's stack on 60 of them depended on how deep its caller already
# was, so one template was refused by one command and rendered by another. 40 parse within the
# default limit whoever calls; no real template comes near.
BRACKETS = 40


class _DeepBrackets(RecursionError):
    """Brackets nested past :data:`BRACKETS`, found before Jinja2's parser recursed into them."""


def _refuse_deep_brackets(source: str, *, expression: bool = False) -> None:
    """Raise :class:`_DeepBrackets` when brackets in ``source``'s tags nest past
    :data:`BRACKETS`; reads Jinja2's token stream, which is made without recursing."""
    if source.count("(") + source.count("[") + source.count("{") <= BRACKETS:
        return
    lexer = environment().lexer
    depth = 0
    for _, kind, value in lexer.tokeniter(source, None, state="variable" if expression else None):
        if kind != "operator":
            continue
        if value in ("(", "[", "{"):
            depth += 1
            if depth > BRACKETS:
                raise _DeepBrackets
        elif value in (")", "]", "}"):
            depth -= 1


def _depth(tree: nodes.Node) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


# What Jinja2 raises besides its own errors on a template it cannot read: its lexer converts a
# number of more digits than Python converts (ValueError), its parser and compiler recurse once a
# level (RecursionError), and Python compiles what it makes of a deep one with more brackets or
# indents than it takes (SyntaxError). Each was an internal error.
_UNREADABLE = (ValueError, RecursionError, SyntaxError)


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, _DeepBrackets):
        return f"its brackets nest too deeply to read (more than {BRACKETS} within each other)"
    if isinstance(exc, RecursionError | SyntaxError):
        return (
            "it is nested too deeply to read (brackets, filters, attributes or blocks within "
            f"each other, more than {DEEPEST} levels)"
        )
    return "a number in it has too many digits to read"


def _namespace_access(node: nodes.Node) -> tuple[nodes.Name, str] | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return node.node, node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.node, node.arg.value
    return None


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)
