"""aiir: AI incident response runbooks you can validate, draw, walk, drill and audit.

The core is importable without the CLI::

    import aiir
    runbook = aiir.load_runbook("runbooks/prompt-injection.yaml")
    report = aiir.validate_paths(["runbooks/"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from aiir.formats.library import load_runbook
    from aiir.validate.documents import validate_paths

__all__ = ["__version__", "load_runbook", "validate_paths"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `aiir --help` does not pay for pydantic, YAML and Jinja2.
    if name == "load_runbook":
        from aiir.formats.library import load_runbook

        return load_runbook
    if name == "validate_paths":
        from aiir.validate.documents import validate_paths

        return validate_paths
    raise AttributeError(name)
