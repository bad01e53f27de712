"""The formats' models read without pydantic, in a process that only checks documents.

``aiir validate ONE.yaml`` spent most of its start importing pydantic and building the runbook
models' validators (``bench.startup``: pydantic's import alone is about 0.6x of Typer's, the whole
command 3.7x). The console's ``aiir validate`` makes the models with this module instead: the same
class statements (:mod:`aiir.formats.schema` and the other format modules, through
:mod:`aiir.formats.modeling`), read by a small interpreter of the part of pydantic they use.

It accepts only what it is certain pydantic accepts, with the values pydantic would make: exact
types (no ``"5"`` for a count, no ``1.0`` for a whole number), closed models, the constraints of
``Field``, ``Literal``, enums, lists, mappings, unions and the models' own validators. Anything
else, an invalid document above all, raises :class:`Unsure`; the command then runs again with
pydantic (:func:`again_with_pydantic`), so every error message is pydantic's as before.
``tests/formats/test_lean.py`` holds the two equal over every shipped document and thousands of
mutations of them.

Nothing else uses it: a walk, a drill, a report or a test in one process always has pydantic.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import inspect
import math
import os
import re
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

ON = False  # read once, by aiir.formats.modeling, when the format modules are first imported
FULL = "aiir-full"  # -X option: run with pydantic (the second run after an Unsure)


class Unsure(BaseException):
    """Not certainly valid: pydantic must judge (a BaseException, so no ``except Exception`` of a
    check takes it for a finding)."""


def choose(argv: list[str]) -> bool:
    """Make the models lean in this process when it only checks documents: ``aiir validate``,
    started afresh (no format module imported yet), on POSIX (where :func:`again_with_pydantic`
    can replace the process), not already the second run."""
    global ON  # noqa: PLW0603 - set once, before the first format module is imported
    if (
        argv[:1] == ["validate"]
        and os.name == "posix"
        and sys.executable
        and not getattr(sys, "frozen", False)  # a bundled binary takes no -X option
        and FULL not in sys._xoptions
        and "aiir.formats.modeling" not in sys.modules
    ):
        ON = True
    return ON


def again_with_pydantic() -> NoReturn:
    """Run this same command again, in this process's place, with pydantic. Nothing has been
    written yet: a check prints its findings only once every document is read."""
    for stream in (sys.stdout, sys.stderr):  # None when started with the stream closed
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    again = [sys.executable, "-X", FULL, *sys.orig_argv[1:]]
    try:
        os.execv(sys.executable, again)  # noqa: S606 - this same command, no shell
    except OSError as exc:  # the interpreter removed meanwhile (a venv rebuilt): say so, once
        print(f"aiir: cannot check with pydantic: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)


# --- the declarations: what the format modules import from aiir.formats.modeling ----------------

_MISSING: Any = object()
_CONSTRAINTS = frozenset(
    {"ge", "le", "gt", "lt", "min_length", "max_length", "pattern", "allow_inf_nan"}
)
_NOTES = frozenset({"description", "json_schema_extra", "title", "examples"})


class FieldInfo:
    """What ``Field(...)`` declares: a default, an alias, constraints; notes are ignored."""

    def __init__(self, default: Any = _MISSING, **given: Any) -> None:
        self.default = _MISSING if default is ... else default
        self.default_factory: Callable[[], Any] | None = given.pop("default_factory", None)
        self.alias: str | None = given.pop("alias", None)
        self.discriminator: str | None = given.pop("discriminator", None)
        self.constraints = {k: v for k, v in given.items() if k in _CONSTRAINTS}
        self.unknown = sorted(set(given) - _CONSTRAINTS - _NOTES)


def Field(default: Any = _MISSING, **given: Any) -> Any:
    return FieldInfo(default, **given)


class AfterValidator:
    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func


class Strict:
    def __init__(self, strict: bool = True) -> None:
        self.strict = strict


def ConfigDict(**given: Any) -> dict[str, Any]:
    return given


class ValidationError(ValueError):
    """Never raised here: an invalid document is :class:`Unsure`."""


class _Decorated:
    def __init__(self, func: Any, mode: str) -> None:
        self.func, self.mode = func, mode


def model_validator(*, mode: str) -> Callable[[Any], Any]:
    def mark(func: Any) -> Any:
        return _Decorated(func, mode)

    return mark


def _class_variable(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return typing.get_origin(annotation) is ClassVar


_CONFIG = {"extra", "frozen", "populate_by_name", "defer_build", "json_schema_extra"}


def _unread(config: dict[str, Any]) -> bool:
    """Whether a model's configuration asks for what this module does not do."""
    return (
        bool(set(config) - _CONFIG - {"str_strip_whitespace"})
        or config.get("str_strip_whitespace", False) is not False
        or config.get("extra", "ignore") not in {"forbid", "ignore"}
    )


class BaseModel:
    """A model as pydantic makes one, for the attributes, methods and equality checks read."""

    model_config: ClassVar[dict[str, Any]] = {}
    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    __slots__ = ("__dict__", "__lean_fields_set__")
    __lean_fields_set__: set[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        config: dict[str, Any] = {}
        fields: dict[str, tuple[Any, FieldInfo]] = {}
        decorated: dict[str, _Decorated] = {}
        for base in reversed(cls.__mro__):
            if not issubclass(base, BaseModel) or base is BaseModel:
                continue
            config.update(base.__dict__.get("model_config", {}))
            for name, value in base.__dict__.items():
                if isinstance(value, _Decorated):
                    decorated[name] = value
            for name, annotation in inspect.get_annotations(base).items():
                if name.startswith("_") or _class_variable(annotation):
                    continue
                given = base.__dict__.get(name, _MISSING)
                fields[name] = (annotation, given if isinstance(given, FieldInfo) else Field(given))
        cls.model_config = config
        cls.model_fields = {name: info for name, (_, info) in fields.items()}
        cls._lean_declared = fields
        cls._lean_decorated = list(decorated.values())
        cls._lean_plan = None

    _lean_declared: ClassVar[dict[str, tuple[Any, FieldInfo]]]
    _lean_decorated: ClassVar[list[_Decorated]]
    _lean_plan: ClassVar[_Plan | None]

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        plan = cls._lean_plan
        if plan is None:
            try:
                plan = cls._lean_plan = _Plan(cls)
            except Exception:  # a declaration read wrongly here: pydantic reads it
                raise Unsure(f"{cls.__name__}: a declaration this module cannot read") from None
        return plan.made(data)

    def __init__(self, **data: Any) -> None:  # ``Tags()`` as a default_factory, mostly
        made = type(self).model_validate(data)
        self.__dict__.update(made.__dict__)
        object.__setattr__(self, "__lean_fields_set__", made.model_fields_set)

    @property
    def model_fields_set(self) -> set[str]:
        return self.__lean_fields_set__

    def __setattr__(self, name: str, value: Any) -> None:
        if self.model_config.get("frozen"):
            raise TypeError(f"{type(self).__name__} is frozen")
        self.__dict__[name] = value

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        if not self.model_config.get("frozen"):
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(tuple(self.__dict__.values()))

    def __iter__(self) -> Any:
        yield from self.__dict__.items()

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({shown})"


# --- validation --------------------------------------------------------------------------------

Check = Callable[[Any], Any]


def _unsure(value: Any = None) -> NoReturn:
    raise Unsure


class _Plan:
    """How one model class reads a mapping: each field's key, check and default."""

    def __init__(self, cls: type[BaseModel]) -> None:
        self.cls = cls
        config = cls.model_config
        self.forbid = config.get("extra", "ignore") == "forbid"
        unsupported = _unread(config)
        self.by_name = bool(config.get("populate_by_name"))
        self.fields: list[tuple[str, str, str | None, Check, Callable[[], Any] | None]] = []
        for name, (annotation, info) in _resolved(cls).items():
            unsupported = unsupported or bool(info.unknown)
            key = info.alias or name
            other = name if info.alias and self.by_name else None
            self.fields.append((name, key, other, _check(annotation, [info]), _default(info)))
        self.before = [d.func for d in cls._lean_decorated if d.mode == "before"]
        self.after = [d.func for d in cls._lean_decorated if d.mode == "after"]
        self.unsupported = unsupported or any(
            d.mode not in {"before", "after"} for d in cls._lean_decorated
        )

    def made(self, data: Any) -> Any:
        cls = self.cls
        if self.unsupported:
            raise Unsure(f"{cls.__name__}: a declaration this module does not read")
        for before in self.before:
            data = _called(
                before.__func__ if isinstance(before, classmethod) else before, cls, data
            )
        if type(data) is not dict:
            raise Unsure(f"{cls.__name__}: not a mapping")
        values: dict[str, Any] = {}
        given: set[str] = set()
        for name, key, other, check, default in self.fields:
            try:
                if key in data:
                    if other is not None and other in data:
                        raise Unsure("given by its name and by its alias")
                    values[name] = check(data[key])
                    given.add(name)
                elif other is not None and other in data:
                    values[name] = check(data[other])
                    given.add(name)
                elif default is None:
                    raise Unsure("missing")
                else:
                    values[name] = default()
            except Unsure as exc:  # where, for a reader of tests/formats/test_lean.py
                raise Unsure(f"{cls.__name__}.{name}", *exc.args) from None
        if self.forbid and len(given) != len(data):
            raise Unsure(f"{cls.__name__}: a key no field takes")
        made = object.__new__(cls)
        made.__dict__.update(values)
        object.__setattr__(made, "__lean_fields_set__", given)
        for after in self.after:
            made = _called(after, made)
        return made


def _resolved(cls: type[BaseModel]) -> dict[str, tuple[Any, FieldInfo]]:
    """The fields of ``cls``, annotations written as strings (``from __future__ import
    annotations``) evaluated as pydantic evaluates them, in the module of the class."""
    declared = cls._lean_declared
    if not any(isinstance(annotation, str) for annotation, _ in declared.values()):
        return declared
    hints = typing.get_type_hints(cls, include_extras=True)
    return {name: (hints[name], info) for name, (_, info) in declared.items()}


def _called(func: Callable[..., Any], *args: Any) -> Any:
    try:
        return func(*args)
    except Exception:  # pydantic's error, or pydantic's crash: it says which
        raise Unsure from None


def _default(info: FieldInfo) -> Callable[[], Any] | None:
    factory = info.default_factory
    if factory is not None:
        return factory
    value = info.default
    if value is _MISSING:
        return None
    if isinstance(value, list | dict | set):  # pydantic copies a mutable default
        return lambda: copy.deepcopy(value)
    return lambda: value


def _check(annotation: Any, meta: list[Any]) -> Check:
    """The check of one annotation: the value pydantic would make of an input, or Unsure."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _check(annotation.__origin__, [*meta, *annotation.__metadata__])
    constraints: dict[str, Any] = {}
    discriminator: str | None = None
    after: list[Callable[[Any], Any]] = []
    for item in meta:
        if isinstance(item, FieldInfo):
            if item.unknown:
                return _unsure
            if any(constraints.get(k, v) != v for k, v in item.constraints.items()):
                return _unsure  # which of two bounds pydantic keeps is its business
            constraints.update(item.constraints)
            discriminator = item.discriminator or discriminator
        elif isinstance(item, AfterValidator):
            after.append(item.func)
        elif not isinstance(item, Strict):
            return _unsure
    check = _bare(annotation, constraints, discriminator)
    if not after:
        return check

    def validated(value: Any) -> Any:
        made = check(value)
        for func in after:
            made = _called(func, made)
        return made

    return validated


def _bare(annotation: Any, constraints: dict[str, Any], discriminator: str | None) -> Check:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(annotation), constraints, discriminator)
    if discriminator is not None:
        return _unsure
    if origin is list:
        return _sized(_listed(_check(typing.get_args(annotation)[0], [])), constraints)
    if origin is dict:
        key, value = (_check(arg, []) for arg in typing.get_args(annotation))
        return _sized(_mapped(key, value), constraints)
    if origin is typing.Literal:
        return _literal(typing.get_args(annotation)) if not constraints else _unsure
    if annotation is str:
        return _text(constraints)
    if annotation is bool or annotation is type(None) or annotation is Any:
        return _exactly(annotation) if not constraints else _unsure
    if annotation is int or annotation is float:
        return _number(annotation, constraints)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum) and not constraints:
        return _member(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and not constraints:
        return _model(annotation)
    return _unsure


def _exactly(annotation: Any) -> Check:
    if annotation is Any:
        return lambda value: value

    def exact(value: Any) -> Any:
        if type(value) is not annotation and not (annotation is type(None) and value is None):
            raise Unsure
        return value

    return exact


def _text(constraints: dict[str, Any]) -> Check:
    longest, shortest = constraints.get("max_length"), constraints.get("min_length", 0)
    pattern = constraints.get("pattern")
    matches = re.compile(pattern).search if pattern is not None else None
    if set(constraints) - {"max_length", "min_length", "pattern"}:
        return _unsure

    def text(value: Any) -> Any:
        if type(value) is not str or len(value) < shortest:
            raise Unsure
        if longest is not None and len(value) > longest:
            raise Unsure
        # Printable ASCII only, where Python's re and pydantic's regex engine read a pattern alike.
        if matches is not None and not (value.isascii() and value.isprintable() and matches(value)):
            raise Unsure
        return value

    return text


def _number(kind: type, constraints: dict[str, Any]) -> Check:
    if set(constraints) - {"ge", "le", "gt", "lt", "allow_inf_nan"}:
        return _unsure  # (no infinity nor NaN is taken below, allowed or not)
    ge, le = constraints.get("ge"), constraints.get("le")
    gt, lt = constraints.get("gt"), constraints.get("lt")

    def number(value: Any) -> Any:
        if type(value) is int:
            if value.bit_length() > (53 if kind is float else 63):
                raise Unsure
            value = kind(value)
        elif type(value) is not float or kind is int or not math.isfinite(value):
            raise Unsure
        if (
            (ge is not None and not value >= ge)
            or (le is not None and not value <= le)
            or (gt is not None and not value > gt)
            or (lt is not None and not value < lt)
        ):
            raise Unsure
        return value

    return number


def _literal(allowed: tuple[Any, ...]) -> Check:
    def literal(value: Any) -> Any:
        for one in allowed:
            if type(one) is type(value) and one == value:
                return one
        raise Unsure

    return literal


def _member(kind: type[enum.Enum]) -> Check:
    by_value = dict(kind._value2member_map_)

    def member(value: Any) -> Any:
        if type(value) is kind:
            return value
        found = by_value.get(value) if type(value) is str else None
        if found is None:
            raise Unsure
        return found

    return member


def _model(kind: type[BaseModel]) -> Check:
    def model(value: Any) -> Any:
        if type(value) is not dict:
            raise Unsure
        return kind.model_validate(value)

    return model


def _listed(item: Check) -> Check:
    def listed(value: Any) -> Any:
        if type(value) is not list:
            raise Unsure
        return [item(one) for one in value]

    return listed


def _mapped(key: Check, item: Check) -> Check:
    def mapped(value: Any) -> Any:
        if type(value) is not dict:
            raise Unsure
        return {key(k): item(v) for k, v in value.items()}

    return mapped


def _sized(check: Check, constraints: dict[str, Any]) -> Check:
    if set(constraints) - {"min_length", "max_length"}:
        return _unsure
    if not constraints:
        return check
    shortest, longest = constraints.get("min_length", 0), constraints.get("max_length")

    def sized(value: Any) -> Any:
        made = check(value)
        if len(made) < shortest or (longest is not None and len(made) > longest):
            raise Unsure
        return made

    return sized


def _union(
    members: tuple[Any, ...], constraints: dict[str, Any], discriminator: str | None
) -> Check:
    if discriminator is not None:
        return _tagged(members, discriminator) if not constraints else _unsure
    optional = type(None) in members
    others = [m for m in members if m is not type(None)]
    if constraints and len(others) > 1:
        return _unsure
    checks = [_check(m, [FieldInfo(**constraints)] if constraints else []) for m in others]

    def union(value: Any) -> Any:
        if value is None and optional:
            return None
        made: list[Any] = []
        for check in checks:
            try:
                made.append(check(value))
            except Unsure:
                continue
        if len(made) == 1:
            return made[0]
        # pydantic's smart mode takes the member the input is exactly an instance of
        exact = [one for one in made if type(one) is type(value)]
        if len(exact) == 1:
            return exact[0]
        raise Unsure

    return union


def _tagged(members: tuple[Any, ...], discriminator: str) -> Check:
    by_tag: dict[Any, type[BaseModel]] = {}
    for member in members:
        annotation = _resolved(member)[discriminator][0]
        for tag in typing.get_args(annotation):
            by_tag[tag] = member

    def tagged(value: Any) -> Any:
        if type(value) is not dict:
            raise Unsure
        tag = value.get(discriminator)
        member = by_tag.get(tag) if type(tag) is str else None
        if member is None:
            raise Unsure
        return member.model_validate(value)

    return tagged
