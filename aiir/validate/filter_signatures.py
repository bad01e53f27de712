"""The parameters of the template environment's filters and tests, as a table, without Jinja2.

:func:`aiir.validate.template_hazards._arity` binds a filter's arguments to the function's own
signature, which needs Jinja2's filter functions; the template reader
(:mod:`aiir.validate.template_reader`) binds them to these instead. Each entry spells the
parameters a template passes (the value first; not the ``environment`` or ``context`` Jinja2 passes
itself) as Python writes a signature, without default values: ``name=`` has one, ``*args`` and
``**kwargs`` collect the rest, ``/`` ends the positional-only ones. ``tests/validate`` holds them
equal to :func:`aiir.formats.templating.environment`'s real functions.
"""

from __future__ import annotations

import functools
import inspect

FILTERS = {
    "abs": "x, /",
    "attr": "obj, name",
    "batch": "value, linecount, fill_with=",
    "capitalize": "s",
    "center": "value, width=",
    "count": "obj, /",
    "d": "value, default_value=, boolean=",
    "default": "value, default_value=, boolean=",
    "dictsort": "value, case_sensitive=, by=, reverse=",
    "e": "s, /",
    "engaged": "levers",
    "escape": "s, /",
    "filesizeformat": "value, binary=",
    "first": "seq",
    "float": "value, default=",
    "forceescape": "value",
    "format": "value, *args, **kwargs",
    "groupby": "value, attribute, default=, case_sensitive=",
    "indent": "s, width=, first=, blank=",
    "int": "value, default=, base=",
    "items": "value",
    "join": "value, d=, attribute=",
    "last": "seq",
    "length": "obj, /",
    "list": "value",
    "lower": "s",
    "map": "value, *args, **kwargs",
    "max": "value, case_sensitive=, attribute=",
    "min": "value, case_sensitive=, attribute=",
    "objects": "values, key, **fixed",
    "pprint": "value",
    "random": "seq",
    "reject": "value, *args, **kwargs",
    "rejectattr": "value, *args, **kwargs",
    "replace": "s, old, new, count=",
    "reverse": "value",
    "round": "value, precision=, method=",
    "safe": "value",
    "select": "value, *args, **kwargs",
    "selectattr": "value, *args, **kwargs",
    "slice": "value, slices, fill_with=",
    "sort": "value, reverse=, case_sensitive=, attribute=",
    "string": "s, /",
    "striptags": "value",
    "sum": "iterable, attribute=, start=",
    "title": "s",
    "tojson": "value, indent=",
    "trim": "value, chars=",
    "truncate": "s, length=, killwords=, end=, leeway=",
    "unique": "value, case_sensitive=, attribute=",
    "upper": "s",
    "urlencode": "value",
    "urlize": "value, trim_url_limit=, nofollow=, target=, rel=, extra_schemes=",
    "wordcount": "s",
    "wordwrap": "s, width=, break_long_words=, wrapstring=, break_on_hyphens=",
    "xmlattr": "d, autospace=",
}
TESTS = {
    "!=": "a, b, /",
    "<": "a, b, /",
    "<=": "a, b, /",
    "==": "a, b, /",
    ">": "a, b, /",
    ">=": "a, b, /",
    "boolean": "value",
    "callable": "obj, /",
    "defined": "value",
    "divisibleby": "value, num",
    "eq": "a, b, /",
    "equalto": "a, b, /",
    "escaped": "value",
    "even": "value",
    "false": "value",
    "filter": "value",
    "float": "value",
    "ge": "a, b, /",
    "greaterthan": "a, b, /",
    "gt": "a, b, /",
    "in": "value, seq",
    "integer": "value",
    "iterable": "value",
    "le": "a, b, /",
    "lessthan": "a, b, /",
    "lower": "value",
    "lt": "a, b, /",
    "mapping": "value",
    "ne": "a, b, /",
    "none": "value",
    "number": "value",
    "odd": "value",
    "sameas": "value, other",
    "sequence": "value",
    "string": "value",
    "test": "value",
    "true": "value",
    "undefined": "value",
    "upper": "value",
}

_DEFAULT = object()  # binding asks whether a parameter has a default, never what it is


def spelled(params: list[inspect.Parameter]) -> str:
    """``params`` as the tables spell them (the test compares the real functions with it)."""
    out: list[str] = []
    starred = False
    for i, param in enumerate(params):
        kind = param.kind
        if kind is param.KEYWORD_ONLY and not starred:
            out.append("*")
            starred = True
        if kind is param.VAR_POSITIONAL:
            out.append("*" + param.name)
            starred = True
        elif kind is param.VAR_KEYWORD:
            out.append("**" + param.name)
        else:
            out.append(param.name + ("=" if param.default is not param.empty else ""))
        last = i + 1 == len(params) or params[i + 1].kind is not param.POSITIONAL_ONLY
        if kind is param.POSITIONAL_ONLY and last:
            out.append("/")
    return ", ".join(out)


@functools.cache
def parameters(spelling: str) -> tuple[inspect.Parameter, ...]:
    """The parameters an entry spells, in order."""
    words = spelling.split(", ")
    kind: inspect._ParameterKind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if "/" in words:
        kind = inspect.Parameter.POSITIONAL_ONLY
    out: list[inspect.Parameter] = []
    for word in words:
        if word == "/":
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        elif word == "*":
            kind = inspect.Parameter.KEYWORD_ONLY
        elif word.startswith("**"):
            out.append(inspect.Parameter(word[2:], inspect.Parameter.VAR_KEYWORD))
        elif word.startswith("*"):
            out.append(inspect.Parameter(word[1:], inspect.Parameter.VAR_POSITIONAL))
            kind = inspect.Parameter.KEYWORD_ONLY
        else:
            name = word.rstrip("=")
            default = _DEFAULT if word.endswith("=") else inspect.Parameter.empty
            out.append(inspect.Parameter(name, kind, default=default))
    return tuple(out)


def arity(spelling: str, positional: int, keywords: list[str]) -> str | None:
    """Why a call with that many arguments (and those keywords) would fail, if it would: what
    :func:`aiir.validate.template_hazards._arity` says of the function itself."""
    signature = inspect.Signature(list(parameters(spelling)))
    try:
        signature.bind(None, *([None] * positional), **dict.fromkeys(keywords))
    except TypeError as exc:
        return str(exc)
    return None
