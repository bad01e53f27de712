"""The node handlers, one module per family of node kinds; importing this package registers them
all (see :mod:`aiir.engine.nodes.registry`)."""

from aiir.engine.nodes import actions, asking, flow, levers, messages, tasks, values, waiting
from aiir.engine.nodes.registry import HANDLERS, handler_for

__all__ = [
    "HANDLERS",
    "actions",
    "asking",
    "flow",
    "handler_for",
    "levers",
    "messages",
    "tasks",
    "values",
    "waiting",
]
