"""Secrets never surface: text bound for a terminal, journal, report or log passes through here."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

MASK = "***"
MIN_SECRET = 4  # shorter values would mask ordinary words

_PATTERNS = re.compile(
    r"(?:\bsk-[A-Za-z0-9_\-]{8,})"  # OpenAI / LiteLLM style keys
    r"|(?:(?<=Bearer )[A-Za-z0-9._~+/\-]{8,}=*)"
    r"|(?:hooks\.slack\.com/services/[A-Za-z0-9/_\-]+)"
    r"|(?:(?<=GenieKey )[A-Za-z0-9\-]{8,})"
    r"|(?:(?<=OAuth )[A-Za-z0-9._\-]{8,})"
)
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|WEBHOOK|ROUTING", re.I)


def secret_values(environ: Mapping[str, str], names: Iterable[str] = ()) -> set[str]:
    """Values of the named variables plus every variable whose name looks secret."""
    wanted = set(names)
    return {
        value
        for name, value in environ.items()
        if (name in wanted or _SECRET_NAME.search(name)) and len(value) >= MIN_SECRET
    }


def scrub(text: str, secrets: Iterable[str] | None = None, *, patterns: bool = True) -> str:
    """``text`` with known secret values masked, and secret-looking tokens too (``patterns``).

    The journal masks only the exact values of declared secrets: an attacker's key typed in as an
    input must stay in it, or the lever that blocked it could never be released.
    """
    values = secret_values(os.environ) if secrets is None else set(secrets)
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= MIN_SECRET:
            text = text.replace(value, MASK)
    return _PATTERNS.sub(MASK, text) if patterns else text
