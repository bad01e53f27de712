"""A reader of the part of Jinja2's grammar runbook templates are written in, without Jinja2.

``aiir validate`` reads every template twice, for the variables it reads and for what the sandbox
would refuse when it is rendered. Jinja2's parser does that for any template, but importing and
setting it up is a quarter of a cold ``aiir validate`` of a runbook (``bench.startup``). This
module reads the common part of the grammar itself, as Jinja2 reads it, into a small tree of the
same shape (the same nodes, children in the same order, the same line numbers):

- data, comments ``{# #}``, and whitespace control (``{%-``, ``-%}``, ``{{-``, ``-}}``);
- ``{{ expr }}``, ``{% set NAME = expr %}``, ``{% if %}`` / ``{% elif %}`` / ``{% else %}`` /
  ``{% endif %}``;
- names, ``.attr``, ``[key]``, strings without escapes, integers, decimals, ``true``, ``none``,
  lists and tuples, filters and tests (with literal or computed arguments, positional or by
  keyword), comparisons, ``in`` / ``not in``, ``and``, ``or``, ``not``, ``~``, ``a if b else c``,
  parentheses.

Anything else (another tag, arithmetic, a call, a dict, a slice, an escape in a string, a name
or filter it does not know, a character outside ASCII in a tag, and every syntax error) makes it
:data:`UNSURE`: the caller asks Jinja2, whose answer (or error message) is the one that counts.
``tests/validate/test_template_reader.py`` holds the two readings equal.
"""

from __future__ import annotations

import functools
import re

from aiir.formats.templating import BRACKETS
from aiir.validate.filter_signatures import FILTERS, TESTS
from aiir.validate.template_nodes import (
    Assign,
    Const,
    Filter,
    Getattr,
    Getitem,
    Group,
    If,
    Keyword,
    Name,
    Node,
)


class Unsure(Exception):
    """Raised inside the reader: the template is not one it reads; Jinja2 must."""


# --- tokens, as Jinja2's lexer makes them --------------------------------------------------------

_OPEN = re.compile(r"\{[{%#]")
# One token of a tag, tried in the lexer's order (whitespace, numbers, names, strings,
# operators). Each form is the part of Jinja2's own that reads the same: a number without `_`,
# exponent or base prefix, and not run into a name or dot; an ASCII name not run into other
# letters; a string without a backslash. What none of them matches is unsure.
_FORMS = (
    r"(?P<number>(?:0|[1-9][0-9]*)(?P<fraction>\.[0-9]+)?(?![0-9A-Za-z_.]))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?![^\x00-\x7f])"
    r"|(?P<string>'[^'\\]*'|\"[^\"\\]*\")"
    r"|(?P<op>//|\*\*|==|!=|>=|<=|[-+/*%~\[\]()><=.:|,;])"
)
# Whitespace, then the tag's end (tried first, as Jinja2 does), or one of the forms.
_SPACE = r"[ \t\n\x0b\x0c]*"
_IN_VARIABLE = re.compile(rf"{_SPACE}(?:(?P<end>-?\}}\}})|{_FORMS})")
_IN_BLOCK = re.compile(rf"{_SPACE}(?:(?P<end>[-+]?%\}})|{_FORMS})")
_CLOSING = {"(": ")", "[": "]"}
_LONGEST_INTEGER = 4000  # Python refuses int() of more than 4300 digits: Jinja2's lexer fails


class Token:
    __slots__ = ("line", "type", "value")

    def __init__(self, type_: str, value: object, line: int) -> None:
        self.type, self.value, self.line = type_, value, line


def tokens(source: str) -> list[Token]:
    """The tokens Jinja2's lexer makes of ``source`` that its parser reads (no data, comments
    or whitespace: they never reach a variable or a hazard); raises :class:`Unsure`."""
    text = source.replace("\r\n", "\n").replace("\r", "\n") if "\r" in source else source
    out: list[Token] = []
    line, counted, pos = 1, 0, 0
    while (found := _OPEN.search(text, pos)) is not None:
        start = found.start()
        pos = start + 2
        if pos < len(text) and text[pos] in "-+":
            pos += 1
        if text[start + 1] == "#":
            end = text.find("#}", pos)
            if end < 0:
                raise Unsure  # Jinja2: missing end of comment tag
            pos = end + 2
            continue
        line, counted = line + text.count("\n", counted, start), start
        block = text[start + 1] == "%"
        out.append(Token("block_begin" if block else "variable_begin", None, line))
        pos, line, counted = _tag(text, pos, block, out, line, counted)
    out.append(Token("eof", None, line))
    return out


def _tag(
    text: str, pos: int, block: bool, out: list[Token], line: int, counted: int
) -> tuple[int, int, int]:
    """The tokens of one tag, from ``pos`` to its end; the position after it."""
    forms = _IN_BLOCK if block else _IN_VARIABLE
    depth: list[str] = []
    first = True
    while True:
        match = forms.match(text, pos)
        if match is None:
            raise Unsure  # the end of the template, or a character Jinja2 reads otherwise
        kind = match.lastgroup or ""
        start, pos = match.start(kind), match.end()
        line, counted = line + text.count("\n", counted, start), start
        if kind == "end":
            if depth:
                raise Unsure  # `(a }}`: Jinja2 reads on, as operators
            out.append(Token("block_end" if block else "variable_end", None, line))
            return pos, line, counted
        value: object = match.group(kind)
        if kind == "number":
            if text[start - 1] == "." or pos - start > _LONGEST_INTEGER:
                raise Unsure  # `a.1.5` is a[1][5] to Jinja2
            kind = "float" if match.group("fraction") else "integer"
            number = match.group("number")
            value = float(number) if kind == "float" else int(number)
        elif kind == "string":
            value = match.group(kind)[1:-1]
        elif kind == "op":
            kind = match.group(kind)
            if kind in _CLOSING:
                depth.append(_CLOSING[kind])
                if len(depth) > BRACKETS:
                    raise Unsure  # Jinja2's path refuses it, whoever calls
            elif kind in (")", "]") and (not depth or depth.pop() != kind):
                raise Unsure  # Jinja2: unexpected ')'
        elif first and block and value == "raw":
            raise Unsure  # {% raw %}: the rest is data to Jinja2
        first = False
        out.append(Token(kind, value, line))


# --- the parser: jinja2.parser.Parser's methods for this part of the grammar --------------------

_COMPARE = frozenset({"==", "!=", ">", ">=", "<", "<="})
_MATH = frozenset({"+", "-", "*", "/", "//", "%", "**"})


class _Parser:
    def __init__(self, stream: list[Token]) -> None:
        self.stream = stream
        self.at = 0
        self.current = stream[0]

    def next(self) -> Token:
        token = self.current
        if token.type != "eof":
            self.at += 1
            self.current = self.stream[self.at]
        return token

    def look(self) -> Token:
        return self.stream[min(self.at + 1, len(self.stream) - 1)]

    def expect(self, type_: str, value: str | None = None) -> Token:
        if not self.test(type_, value):
            raise Unsure
        return self.next()

    def test(self, type_: str, value: str | None = None) -> bool:
        token = self.current
        return token.type == type_ and (value is None or token.value == value)

    def skip(self, type_: str, value: str | None = None) -> bool:
        if self.test(type_, value):
            self.next()
            return True
        return False

    # statements

    def subparse(self, end: tuple[str, ...] = ()) -> list[Node]:
        body: list[Node] = []
        while self.current.type != "eof":
            token = self.next()
            if token.type not in ("variable_begin", "block_begin"):
                raise Unsure  # not reached: the tokens between tags are the tags'
            if token.type == "variable_begin":
                body.append(Group("output", [self.parse_tuple()]))
                self.expect("variable_end")
                continue
            if self.current.type == "name" and self.current.value in end:
                return body
            body.append(self.parse_statement())
            self.expect("block_end")
        return body

    def parse_statement(self) -> Node:
        if self.test("name", "if"):
            return self.parse_if()
        if self.test("name", "set"):
            return self.parse_set()
        raise Unsure  # another tag (for, macro, include...), or one Jinja2 does not know

    def parse_statements(self, end: tuple[str, ...], *, drop_needle: bool = False) -> list[Node]:
        if self.test(":"):
            raise Unsure  # `{% else: %}`, which Jinja2 takes
        self.expect("block_end")
        result = self.subparse(end)
        if self.current.type == "eof":
            raise Unsure  # Jinja2: unexpected end of template
        if drop_needle:
            self.next()
        return result

    def parse_set(self) -> Node:
        self.next()
        token = self.expect("name")
        name = token.value
        if name in _CONSTANTS or self.current.type in (".", ",", "(", "[") or name == "self":
            raise Unsure  # a constant, a namespace's attribute, a tuple: not names
        if not self.skip("="):
            raise Unsure  # {% set x %}...{% endset %}
        return Assign(Name(str(name), token.line, store=True), self.parse_tuple())

    def parse_if(self) -> Node:
        self.next()
        node = result = If(self.parse_tuple(with_condexpr=False))
        while True:
            node.body = self.parse_statements(("elif", "else", "endif"))
            token = self.next()
            if token.value == "elif":
                node = If(self.parse_tuple(with_condexpr=False))
                result.elif_.append(node)
                continue
            if token.value == "else":
                result.else_ = self.parse_statements(("endif",), drop_needle=True)
            return result

    # expressions

    def parse_tuple(self, *, with_condexpr: bool = True, explicit: bool = False) -> Node:
        args: list[Node] = []
        is_tuple = False
        while True:
            if args:
                self.expect(",")
            if self.current.type in ("variable_end", "block_end", ")"):
                break
            args.append(self.parse_condexpr() if with_condexpr else self.parse_or())
            if self.current.type != ",":
                break
            is_tuple = True
        if not is_tuple:
            if args:
                return args[0]
            if not explicit:
                raise Unsure  # Jinja2: expected an expression
        return Group("tuple", args)

    def parse_expression(self) -> Node:
        return self.parse_condexpr()

    def parse_condexpr(self) -> Node:
        expr1 = self.parse_or()
        while self.skip("name", "if"):
            expr2 = self.parse_or()
            if not _reads_a_name(expr2):
                raise Unsure  # folded when compiled: `x if true else y` reads no y after it
            if self.skip("name", "else"):
                expr1 = Group("condexpr", [expr2, expr1, self.parse_condexpr()])
            else:
                expr1 = Group("condexpr", [expr2, expr1])
        return expr1

    def parse_or(self) -> Node:
        left = self.parse_and()
        while self.skip("name", "or"):
            left = Group("or", [_variable(left), self.parse_and()])
        return left

    def parse_and(self) -> Node:
        left = self.parse_not()
        while self.skip("name", "and"):
            left = Group("and", [_variable(left), self.parse_not()])
        return left

    def parse_not(self) -> Node:
        if self.skip("name", "not"):
            return Group("not", [self.parse_not()])
        return self.parse_compare()

    def parse_compare(self) -> Node:
        expr = self.parse_math1()
        ops: list[Node] = []
        while True:
            if self.current.type in _COMPARE:
                self.next()
            elif self.skip("name", "in"):
                pass
            elif self.test("name", "not") and _is(self.look(), "name", "in"):
                self.next()
                self.next()
            else:
                break
            ops.append(Group("operand", [self.parse_math1()]))
        if len(ops) > 1 and not _reads_a_name(expr) and not _reads_a_name(ops[0]):
            raise Unsure  # `1 == 2 == x` is False to Jinja2 when it compiles: x is not read
        return Group("compare", [expr, *ops]) if ops else expr

    def parse_math1(self) -> Node:
        nodes = [self.parse_unary()]
        while self.skip("~"):
            nodes.append(self.parse_unary())
        if self.current.type in _MATH:
            raise Unsure  # arithmetic: constant folding, runaway powers; Jinja2 reads it
        return nodes[0] if len(nodes) == 1 else Group("concat", nodes)

    def parse_unary(self) -> Node:
        if self.current.type in ("-", "+"):
            raise Unsure
        node = self.parse_postfix(self.parse_primary())
        while True:
            if self.current.type == "|":
                node = self.parse_filter(node)
            elif self.test("name", "is"):
                node = self.parse_test(node)
            elif self.current.type == "(":
                raise Unsure  # a call
            else:
                return node

    def parse_primary(self) -> Node:
        token = self.current
        if token.type == "name":
            self.next()
            if token.value in _CONSTANTS:
                return Const(_CONSTANTS[str(token.value)])
            if token.value == "self":
                raise Unsure  # Jinja2 declares it when a template reads it
            return Name(str(token.value), token.line)
        if token.type == "string":
            parts = []
            while self.current.type == "string":
                parts.append(str(self.next().value))
            return Const("".join(parts))
        if token.type in ("integer", "float"):
            return Const(self.next().value)
        if token.type == "(":
            self.next()
            node = self.parse_tuple(explicit=True)
            self.expect(")")
            return node
        if token.type == "[":
            return self.parse_list()
        raise Unsure  # a dict, or what Jinja2 reports as unexpected

    def parse_list(self) -> Node:
        self.expect("[")
        items: list[Node] = []
        while self.current.type != "]":
            if items:
                self.expect(",")
            if self.current.type == "]":
                break
            items.append(self.parse_expression())
        self.expect("]")
        return Group("list", items)

    def parse_postfix(self, node: Node) -> Node:
        while True:
            token = self.current
            if token.type == ".":
                self.next()
                attr = self.next()
                if attr.type == "name":
                    node = Getattr(_variable(node), str(attr.value), token.line)
                elif attr.type == "integer":
                    node = Getitem(_variable(node), Const(attr.value), token.line)
                else:
                    raise Unsure  # Jinja2: expected name or number
            elif token.type == "[":
                self.next()
                args: list[Node] = []
                while self.current.type != "]":
                    if args:
                        self.expect(",")
                    args.append(self.parse_expression())
                    if self.current.type == ":":
                        raise Unsure  # a slice
                self.expect("]")
                key = args[0] if len(args) == 1 else Group("tuple", args)
                if isinstance(node, Name) and not isinstance(key, Const) and not _reads_a_name(key):
                    raise Unsure  # folded when compiled: inputs['a' ~ 'b'] reads inputs.ab
                node = Getitem(node if _reads_a_name(key) else _variable(node), key, token.line)
            elif token.type == "(":
                raise Unsure  # a call
            else:
                return node

    def parse_filter(self, node: Node) -> Node:
        while self.skip("|"):
            name = str(self.expect("name").value)
            if self.current.type == "." or name not in FILTERS:
                raise Unsure  # Jinja2 reports the filter it has not got
            args, kwargs = self.parse_call_args() if self.test("(") else ([], [])
            node = _applied(Filter(node, name, args, kwargs, test=False))
        return node

    def parse_test(self, node: Node) -> Node:
        self.next()
        negated = self.skip("name", "not")
        name = str(self.expect("name").value)
        if self.current.type == "." or name not in TESTS:
            raise Unsure
        args: list[Node] = []
        kwargs: list[Keyword] = []
        token = self.current
        if token.type == "(":
            args, kwargs = self.parse_call_args()
        elif token.type in ("name", "string", "integer", "float", "[") and not (
            token.type == "name" and token.value in ("else", "or", "and")
        ):
            if token.type == "name" and token.value == "is":
                raise Unsure  # Jinja2: you cannot chain multiple tests with is
            args = [self.parse_postfix(self.parse_primary())]
        test = _applied(Filter(node, name, args, kwargs, test=True))
        return Group("not", [test]) if negated else test

    def parse_call_args(self) -> tuple[list[Node], list[Keyword]]:
        self.expect("(")
        args: list[Node] = []
        kwargs: list[Keyword] = []
        while self.current.type != ")":
            if args or kwargs:
                self.expect(",")
                if self.current.type == ")":
                    break
            if self.current.type in ("*", "**"):
                raise Unsure  # *args, **kwargs
            if self.current.type == "name" and self.look().type == "=":
                key = str(self.next().value)
                self.next()
                kwargs.append(Keyword(key, self.parse_expression()))
            elif kwargs:
                raise Unsure  # Jinja2: invalid syntax for function call expression
            else:
                args.append(self.parse_expression())
        self.expect(")")
        return args, kwargs


def _reads_a_name(node: Node) -> bool:
    """Whether ``node`` reads a variable. Jinja2 works out what reads none when it compiles a
    template (``jinja2.optimizer``), in the tree it parsed: the references it finds after are
    found in what that left."""
    return node.reads


def _variable(node: Node) -> Node:
    """``node``, as what an attribute or item is read from, or the left of ``and`` and ``or``:
    Jinja2 works those out from a constant while compiling (``None.x``, ``'a'[0]``, ``'a' or
    x``), and what that makes (an undefined that raises, a character, ``'a'`` without ``x``) is
    not the tree it parsed."""
    if not _reads_a_name(node):
        raise Unsure
    return node


def _applied(node: Filter) -> Filter:
    """``node``, unless Jinja2 applies it while compiling (``'a' | upper`` is ``'A'`` to it, and
    ``'a' | attr('x')`` an undefined that fails what it is in)."""
    if not node.reads:
        raise Unsure
    return node


def _is(token: Token, type_: str, value: str) -> bool:
    return token.type == type_ and token.value == value


_CONSTANTS: dict[str, object] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "none": None,
    "None": None,
}


@functools.lru_cache(maxsize=4096)
def read(text: str) -> tuple[Node, ...] | None:
    """The body of template ``text`` as Jinja2 would parse it, or None when the reader is not
    sure it reads it as Jinja2 does (see the module's docstring)."""
    try:
        parser = _Parser(tokens(text))
        body = tuple(parser.subparse())
    except (Unsure, RecursionError):  # brackets within brackets: Jinja2 says what it says
        return None
    return body if _depth(body) <= _DEEPEST else None


# The deepest tree the reader answers for; Jinja2's path refuses one deeper than
# aiir.formats.templating.DEEPEST (80, its tree has a root more), which goes to it.
_DEEPEST = 60


def _depth(body: tuple[Node, ...]) -> int:
    deepest = 0
    stack = [(node, 1) for node in body]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children())
    return deepest
