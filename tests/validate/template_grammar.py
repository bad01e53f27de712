"""Random templates over the grammar :mod:`aiir.validate.template_reader` reads, with mistakes
mixed in (unclosed blocks, unknown filters and tags, private names, wrong arity, ``set`` after
use, whitespace control, newlines inside tags), and now and then something it does not read
(arithmetic, calls, dicts, slices, escapes, loops), for its differential test."""

from __future__ import annotations

import random

from aiir.validate.filter_signatures import FILTERS, TESTS

NAMES = [
    "inputs", "answers", "vars", "env", "incident", "levers", "window", "held", "x", "y",
    "loop", "self", "and", "in", "not", "is", "if", "else", "endif", "set", "true", "None",
    "_p", "caller", "namespace", "mro",
]  # fmt: skip
ATTRS = [
    "model", "severity", "id", "_x", "__class__", "mro", "gi_code", "format", "if", "not",
    "in", "lever", "verified",
]  # fmt: skip
STRINGS = [
    "'a'", '"b"', "'__'", "'x__y'", "'_k'", "'mro'", "'model'", "'a\\'b'", "'\\x5f\\x5f'",
    "'two\nlines'", "'café'", "''", "'lever'", "'verified'", "'upper'", "'attr'", "'odd'",
    "'nosuch'", "'a.b,_c'", "'{{'", "'%}'", "'}}'",
]  # fmt: skip
NUMBERS = ["1", "0", "1.5", "10", "3", "01", "1_0", "1e3", "0x1f", "2."]
FILTER_NAMES = [*FILTERS, "nosuch", "attr", "map", "join", "selectattr", "replace", "sort"]
TEST_NAMES = [*TESTS, "nosuch", "defined", "none", "sameas", "divisibleby", "in"]
SPACES = [" ", "", "  ", "\n", " \n  ", "\r\n", "\t", "\r", "\x0c"]
ODD_SPACES = ["\x1f", "\xa0", "\u2028", "\x85"]  # whitespace to Python's \\s, not to the reader
OPERATORS = ["==", "!=", "<", ">=", " in ", " not in ", "<=", ">"]
RARE = ["1 + 2", "a * b", "'a' * 3", "2 ** 3", "-x", "f(x)", "x.format(1)", "{'a': 1}",
        "x[1:2]", "x | map(*y)", "x | f(**y)", "x.0", "a.b.1", "x | upper.lower", "()", "(x,)"]  # fmt: skip


class Grammar:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def space(self) -> str:
        if self.chance(0.01):
            return self.pick(ODD_SPACES)
        return self.pick(SPACES) if self.chance(0.3) else " "

    def name(self) -> str:
        return self.pick(NAMES if self.chance(0.5) else NAMES[:10])

    def literal(self) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return self.pick(STRINGS) + (f" {self.pick(STRINGS)}" if self.chance(0.1) else "")
        if roll < 0.8:
            return self.pick(NUMBERS)
        return self.pick(["true", "false", "none", "True", "None"])

    def postfix(self, depth: int) -> str:
        out = self.name() if self.chance(0.85) else self.literal()
        for _ in range(self.rng.choice([0, 1, 1, 1, 2, 3])):
            roll = self.rng.random()
            if roll < 0.6:
                out += "." + self.pick(ATTRS)
            elif roll < 0.85:
                out += f"[{self.pick(STRINGS)}]"
            elif roll < 0.95 and depth < 3:
                out += f"[{self.expression(depth + 1)}]"
            else:
                out += "[" + self.pick(["0", "", "'a', 'b'", "'_' ~ 'x'"]) + "]"
        return out

    def arguments(self, depth: int, name: str) -> str:
        if name in ("map", "select", "reject", "selectattr", "rejectattr") and self.chance(0.6):
            first = self.pick(STRINGS) if self.chance(0.8) else self.name()
            rest = [first] + ([self.literal()] if self.chance(0.3) else [])
            if self.chance(0.3):
                rest.append(f"attribute={self.pick(STRINGS)}")
            return "(" + ", ".join(rest) + ")"
        count = self.rng.choice([0, 0, 1, 1, 2, 3])
        args = [self.expression(depth + 1) if self.chance(0.3) else self.literal()]
        args = [args[0]] + [self.literal() for _ in range(count - 1)] if count else []
        if self.chance(0.3):
            key = self.pick(["attribute", "d", "default_value", "name", "width", "nosuch"])
            args.append(f"{key}={self.literal() if self.chance(0.8) else self.name()}")
        if self.chance(0.05):
            args.append("")  # a trailing comma
        return "(" + ", ".join(args) + ")" if args or self.chance(0.2) else ""

    def unary(self, depth: int) -> str:
        if self.chance(0.08) and depth < 3:
            out = f"({self.expression(depth + 1)})"
        elif self.chance(0.07) and depth < 3:
            items = [self.expression(depth + 1) for _ in range(self.rng.choice([0, 1, 2]))]
            out = "[" + ", ".join(items) + "]"
        elif self.chance(0.02):
            out = self.pick(RARE)
        else:
            out = self.postfix(depth)
        for _ in range(self.rng.choice([0, 0, 1, 1, 2])):
            if self.chance(0.75):
                name = self.pick(FILTER_NAMES)
                out += f"{self.space()}|{self.space()}{name}{self.arguments(depth, name)}"
            else:
                name = self.pick(TEST_NAMES)
                negated = "not " if self.chance(0.3) else ""
                shape = self.rng.random()
                argument = (
                    self.arguments(depth, name) if shape < 0.5 else " " + self.postfix(depth + 1)
                )
                out += f" is {negated}{name}{argument if shape < 0.8 else ''}"
        return out

    def expression(self, depth: int = 0) -> str:
        if depth > 2:
            return self.postfix(depth)
        roll = self.rng.random()
        if roll < 0.45:
            return self.unary(depth)
        left, right = self.unary(depth), self.unary(depth + 1)
        if roll < 0.6:
            return f"{left}{self.space()}{self.pick(OPERATORS)}{self.space()}{right}"
        if roll < 0.7:
            return f"{left} ~ {right}"
        if roll < 0.8:
            return f"{left} {self.pick(['and', 'or'])}{self.space()}{'not ' * self.rng.choice([0, 0, 1, 2])}{right}"
        if roll < 0.88:
            other = f" else {self.expression(depth + 1)}" if self.chance(0.7) else ""
            return f"{left} if {right}{other}"
        if roll < 0.94:
            return f"not {self.expression(depth + 1)}"
        return f"{left}, {right}"

    def opening(self, kind: str) -> str:
        return "{" + kind + ("-" if self.chance(0.15) else "+" if self.chance(0.03) else "")

    def closing(self, kind: str) -> str:
        return ("-" if self.chance(0.15) else "+" if self.chance(0.03) else "") + kind + "}"

    def tag(self, words: str) -> str:
        return f"{self.opening('%')}{self.space()}{words}{self.space()}{self.closing('%')}"

    def data(self) -> str:
        return self.pick(
            ["text ", "\n", " ", "a { b } c", "line\r\n", "}}", "%}", "x\n\n", "\r", "é\u2028"]
        )

    def body(self, depth: int = 0) -> str:
        out = []
        for _ in range(self.rng.choice([1, 1, 2, 3, 4])):
            roll = self.rng.random()
            if roll < 0.3:
                out.append(self.data())
            elif roll < 0.6:
                out.append(
                    f"{self.opening('{')}{self.space()}{self.expression()}{self.space()}"
                    f"{self.closing('}')}"
                )
            elif roll < 0.72:
                target = self.name() if self.chance(0.9) else self.pick(["a.b", "a, b", "'s'"])
                out.append(self.tag(f"set {target} = {self.expression()}"))
            elif roll < 0.9 and depth < 2:
                out.append(self.branches(depth))
            elif roll < 0.95:
                out.append(self.pick(["{# a comment #}", "{#- note\n -#}", "{# {{ x }} #}"]))
            else:
                out.append(
                    self.pick(
                        [
                            "{% for x in y %}{{ x }}{% endfor %}",
                            "{% raw %}{{ x }}{% endraw %}",
                            "{% include 'x' %}",
                            "{% nosuch %}",
                            "{% endif %}",
                            "{% set x %}y{% endset %}",
                            "{# unclosed",
                        ]
                    )
                )
        return "".join(out)

    def branches(self, depth: int) -> str:
        out = [self.tag(f"if {self.expression()}"), self.body(depth + 1)]
        for _ in range(self.rng.choice([0, 0, 1, 2])):
            out += [self.tag(f"elif {self.expression()}"), self.body(depth + 1)]
        if self.chance(0.5):
            out += [self.tag("else"), self.body(depth + 1)]
        if not self.chance(0.05):
            out.append(self.tag("endif"))
        return "".join(out)

    def template(self) -> str:
        text = self.body()
        if self.chance(0.1) and text:  # a mistake anywhere: a character lost or one more
            at = self.rng.randrange(len(text))
            if self.chance(0.5):
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + self.pick(list("{}%()[]|'\".,=-~#\n")) + text[at:]
        return text


def generated(count: int, seed: int) -> list[tuple[str, bool]]:
    """``count`` templates (``False``) and expressions (``True``, a branch's ``when``)."""
    grammar = Grammar(seed)
    out: list[tuple[str, bool]] = []
    for _ in range(count):
        if grammar.chance(0.25):
            out.append((grammar.expression(), True))
        else:
            out.append((grammar.template(), False))
    return out
