"""What the format modules build their models with: pydantic, or :mod:`aiir.formats.lean` in a
process that only checks documents (the console's ``aiir validate``; see there). Chosen once, when
the first format module is imported."""

from typing import TYPE_CHECKING

from aiir.formats import lean

if TYPE_CHECKING or not lean.ON:
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
