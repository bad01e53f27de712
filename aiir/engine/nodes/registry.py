"""Node kinds in one place: each kind's handler, registered by the model it handles (as black's
``Visitor.visit`` finds ``visit_<type>``). Adding a node kind: its model (aiir.formats.schema),
its handler here (``@handles(TheNode)``), its checks (aiir.validate.checks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiir.formats.modeling import BaseModel

if TYPE_CHECKING:
    from aiir.engine.frames import Ended, Frame
    from aiir.engine.walk import Walk

N = TypeVar("N", bound=BaseModel)
R = TypeVar("R")
Handler = Callable[["Walk", "Frame", str, Any], "str | Ended"]
HANDLERS: dict[type[BaseModel], Handler] = {}


def handles(
    kind: type[N],
) -> Callable[[Callable[[Walk, Frame, str, N], R]], Callable[[Walk, Frame, str, N], R]]:
    """Register the decorated function as the handler of ``kind`` nodes."""

    def register(handler: Callable[[Walk, Frame, str, N], R]) -> Callable[[Walk, Frame, str, N], R]:
        if kind in HANDLERS:
            raise ValueError(f"{kind.__name__} already has a handler")
        HANDLERS[kind] = cast(Handler, handler)
        return handler

    return register


def handler_for(node: BaseModel) -> Handler:
    """The handler of ``node``'s kind."""
    try:
        return HANDLERS[type(node)]
    except KeyError:
        raise TypeError(f"no handler for {type(node).__name__} nodes") from None
