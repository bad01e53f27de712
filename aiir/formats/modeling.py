"""What the format modules build their models with: pydantic, or :mod:`aiir.formats.lean` in a
process that only checks documents (the console's ``aiir validate``; see there). Chosen once, when
the first format module is imported."""

import sys
from typing import TYPE_CHECKING

_LEAN = sys.modules.get("aiir.formats.lean")  # imported only by a start that may choose it

if TYPE_CHECKING or _LEAN is None or not _LEAN.ON:
    from pydantic import (
        AfterValidator,
        BaseModel,
        ConfigDict,
        Field,
        Strict,
        ValidationError,
        model_validator,
    )
else:
    from aiir.formats.lean import (
        AfterValidator,
        BaseModel,
        ConfigDict,
        Field,
        Strict,
        ValidationError,
        model_validator,
    )

__all__ = [
    "AfterValidator",
    "BaseModel",
    "ConfigDict",
    "Field",
    "Strict",
    "ValidationError",
    "model_validator",
]
