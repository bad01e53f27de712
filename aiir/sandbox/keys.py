"""LiteLLM's virtual keys and teams: who may call, with which limits, and kill switches on both.

As in LiteLLM, a key's team comes from the key's record (never from the request), a key is found
by its value or its SHA-256 hash, and a blocked key or a key of a blocked team is refused. Without
a master key the gateway is open: any key is valid, and known from the moment it is named.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiir.sandbox.errors import SandboxError
from aiir.sandbox.routing import integer_field, number_field

WINDOW_S = 60.0
LIMITS = ("rpm_limit", "tpm_limit", "max_budget")
KEY_FIELDS = ("key_alias", "team_id", "models", "metadata", *LIMITS)


def hash_key(key: str) -> str:
    """LiteLLM stores sha256(key) as the token; a 64-hex string is already one."""
    if not key.startswith("sk-") and len(key) == 64:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def key_name(key: str) -> str:
    return f"sk-...{key[-4:]}" if key.startswith("sk-") else f"{key[:8]}..."


@dataclass
class VirtualKey:
    token: str
    key_name: str
    team_id: str | None = None
    key_alias: str | None = None
    models: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_budget: float | None = None
    blocked: bool = False
    spend: float = 0.0
    usage: deque[tuple[float, int]] = field(default_factory=deque)  # (time, tokens)

    def config(self) -> dict[str, Any]:
        """What a lever can change, for the sandbox's list of changes."""
        return {
            "team_id": self.team_id,
            "blocked": self.blocked,
            **{name: getattr(self, name) for name in LIMITS},
        }

    def info(self) -> dict[str, Any]:
        """LiteLLM's ``/key/info`` ``info`` (no token)."""
        return {
            "key_name": self.key_name,
            "key_alias": self.key_alias,
            "team_id": self.team_id,
            "models": list(self.models),
            "metadata": dict(self.metadata),
            "spend": round(self.spend, 6),
            "status": "blocked" if self.blocked else "active",
            **self.config(),
        }


@dataclass
class Team:
    team_id: str
    team_alias: str | None = None
    blocked: bool = False

    def info(self) -> dict[str, Any]:
        return {"team_id": self.team_id, "team_alias": self.team_alias, "blocked": self.blocked}


class KeyStore:
    """Virtual keys and teams, as LiteLLM's database keeps them."""

    def __init__(self, team_keys: dict[str, str]) -> None:
        self.team_keys = team_keys
        self.keys: dict[str, VirtualKey] = {}
        self.teams: dict[str, Team] = {}
        self.pristine: dict[str, dict[str, Any]] = {}
        self.reset()

    def reset(self) -> None:
        self.keys.clear()
        self.teams.clear()
        self.pristine.clear()
        for team_id, key in self.team_keys.items():
            self.teams[team_id] = Team(team_id)
            self._add(key, team_id=team_id, key_alias=f"{team_id}-app")

    def _add(self, key: str, **fields: Any) -> VirtualKey:
        record = VirtualKey(hash_key(key), key_name(key), **fields)
        self.keys[record.token] = record
        self.pristine[record.token] = record.config()
        return record

    # --- finding ---------------------------------------------------------------------------

    def find(self, key: str, *, open_gateway: bool) -> VirtualKey:
        """A key by value or hash; an open gateway knows every key, else 404 as LiteLLM."""
        record = self.keys.get(hash_key(key))
        if record is not None:
            return record
        if not open_gateway:
            raise SandboxError(404, "Key not found.", "not_found_error")
        return self._add(key)

    def team(self, team_id: str, *, open_gateway: bool) -> Team:
        if team_id not in self.teams:
            if not open_gateway:
                raise SandboxError(
                    404,
                    f"Team not found, passed team_id={team_id}",
                    "not_found_error",
                    {"detail": {"error": f"Team not found, passed team_id={team_id}"}},
                )
            self.teams[team_id] = Team(team_id)
        return self.teams[team_id]

    # --- admin ---------------------------------------------------------------------------

    def generate(self, body: dict[str, Any], *, open_gateway: bool) -> tuple[str, VirtualKey]:
        key = str(body.get("key") or f"sk-{secrets.token_urlsafe(16)}")
        if not key.startswith("sk-"):
            raise SandboxError(400, "Invalid key format. LiteLLM keys start with 'sk-'.")
        if hash_key(key) in self.keys:
            raise SandboxError(400, "Key with this value already exists.")
        team_id = body.get("team_id")
        if team_id is not None:
            self.team(str(team_id), open_gateway=open_gateway)
        fields = {
            name: _limit(name, body[name]) for name in KEY_FIELDS if body.get(name) is not None
        }
        return key, self._add(key, **fields)

    def update(self, key: str, body: dict[str, Any], *, open_gateway: bool) -> VirtualKey:
        """LiteLLM's ``/key/update``: a field sent (even as null) is set; others are kept."""
        record = self.find(key, open_gateway=open_gateway)
        for name in KEY_FIELDS:
            if name in body:
                setattr(record, name, _limit(name, body[name]))
        return record

    # --- requests ---------------------------------------------------------------------------

    def admit(self, key: str | None, master_key: str | None) -> VirtualKey | None:
        """Authenticate a request as LiteLLM does; None for the master key or an open gateway."""
        if key is None:
            if master_key:
                raise _auth("No api key passed in.")
            return None
        if master_key and key == master_key:
            return None
        record = self.keys.get(hash_key(key))
        if record is None:
            if master_key:
                raise _auth(
                    f"Invalid proxy server token passed. Received API Key = {key_name(key)}"
                )
            record = self._add(key)
        if record.blocked:
            raise _auth("Key is blocked. Update via `/key/unblock` if you're an admin.")
        team = self.teams.get(record.team_id or "")
        if team is not None and team.blocked:
            raise _auth(
                f"Team={team.team_id} is blocked. Update via `/team/unblock` if you're an admin."
            )
        self._within_limits(record)
        return record

    def _within_limits(self, record: VirtualKey) -> None:
        now = time.monotonic()
        while record.usage and now - record.usage[0][0] > WINDOW_S:
            record.usage.popleft()
        if record.rpm_limit is not None and len(record.usage) >= int(record.rpm_limit):
            raise _rate_limited(f"rpm limit of {record.rpm_limit} reached for {record.key_name}")
        tokens = sum(t for _, t in record.usage)
        if record.tpm_limit is not None and tokens >= int(record.tpm_limit):
            raise _rate_limited(f"tpm limit of {record.tpm_limit} reached for {record.key_name}")

    def charge(self, record: VirtualKey | None, tokens: int) -> None:
        if record is not None:
            record.usage.append((time.monotonic(), tokens))
            record.spend += tokens * 0.000002

    # --- state ---------------------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """Keys and teams no longer as they started (new keys count from their creation)."""
        out: dict[str, Any] = {}
        for token, record in self.keys.items():
            if record.config() != self.pristine.get(token, _fresh()):
                out[f"key {record.key_name}"] = record.config()
        for team in self.teams.values():
            if team.blocked:
                out[f"team {team.team_id}"] = {"blocked": True}
        return out


def _limit(name: str, value: Any) -> Any:
    """rpm/tpm limits are whole numbers (or null: no limit), as LiteLLM validates them."""
    if name in {"rpm_limit", "tpm_limit"} and value is not None:
        return integer_field(value, name)
    if name == "max_budget" and value is not None:
        return number_field(value, name)
    return value


def _fresh() -> dict[str, Any]:
    return VirtualKey("", "").config()


def _auth(message: str) -> SandboxError:
    return SandboxError(401, f"Authentication Error, {message}", "auth_error")


def _rate_limited(message: str) -> SandboxError:
    return SandboxError(429, f"Rate limit exceeded: {message}", "rate_limit_error")
