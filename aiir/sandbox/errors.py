"""Errors the simulated services answer with, each in its own service's dialect."""

from __future__ import annotations

from typing import Any


class SandboxError(Exception):
    """An error the sandbox answers with; shaped like LiteLLM's (OpenAI's) unless ``payload``."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.payload = payload

    def body(self) -> Any:
        if self.payload is not None:
            return self.payload
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": None,
                "code": str(self.status),
            }
        }


def not_found(what: str) -> SandboxError:
    """The agent platform's and the scoring service's 404 (aiir's reference conventions)."""
    return SandboxError(404, f"{what} not found", "not_found_error")


def bad_request(message: str) -> SandboxError:
    return SandboxError(400, message, "invalid_request_error")
