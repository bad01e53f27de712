"""The MLflow model registry (REST API 2.0): registered models, their versions, and aliases.

The scoring service serves whatever version its alias points at, so moving the alias is a real
rollback. Errors use MLflow's body (``error_code``, ``message``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Route

from aiir.sandbox import world
from aiir.sandbox.errors import SandboxError
from aiir.sandbox.faults import Faults
from aiir.sandbox.routing import Host, Incoming, route

BASE = "/api/2.0/mlflow"


def mlflow_error(status: int, code: str, message: str) -> SandboxError:
    return SandboxError(status, message, code, {"error_code": code, "message": message})


@dataclass
class RegisteredModel:
    name: str
    versions: dict[str, int] = field(default_factory=dict)  # version -> creation time (ms)
    aliases: dict[str, str] = field(default_factory=dict)

    def version_json(self, version: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": version,
            "creation_timestamp": self.versions[version],
            "current_stage": "None",
            "status": "READY",
            "run_id": f"run-{self.name}-{version}",
            "aliases": sorted(a for a, v in self.aliases.items() if v == version),
        }

    def as_json(self) -> dict[str, Any]:
        latest = max(self.versions, key=int)
        return {
            "name": self.name,
            "aliases": [{"alias": a, "version": v} for a, v in sorted(self.aliases.items())],
            "latest_versions": [self.version_json(latest)],
        }


class ModelRegistry:
    """Registered models; unknown ones are registered on first use with three versions."""

    def __init__(self, faults: Faults, autoprovision: bool = True) -> None:
        self.faults = faults
        self.autoprovision = autoprovision
        self.models: dict[str, RegisteredModel] = {}
        self.pristine: dict[str, dict[str, str]] = {}
        self.reset()

    def reset(self) -> None:
        self.models.clear()
        self.pristine.clear()
        for name, versions in world.REGISTERED_MODELS.items():
            self._register(name, versions)

    def _register(self, name: str, versions: int) -> RegisteredModel:
        created = int(time.time() * 1000)
        model = RegisteredModel(
            name, {str(v): created - (versions - v) * 86_400_000 for v in range(1, versions + 1)}
        )
        model.aliases[world.SERVING_ALIAS] = str(versions)
        self.models[name] = model
        self.pristine[name] = dict(model.aliases)
        return model

    def model(self, name: str) -> RegisteredModel:
        self.faults.check("model registry", name)
        if name not in self.models:
            if not self.autoprovision or not name:
                raise mlflow_error(
                    404, "RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found"
                )
            self._register(name, world.DEFAULT_VERSIONS)
        return self.models[name]

    def serving(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at (the scoring service reloads it)."""
        return self.model(name).aliases.get(alias)

    # --- services ----------------------------------------------------------------------------

    def set_alias(self, call: Incoming) -> dict[str, Any]:
        model = self.model(call.text("name"))
        alias, version = call.text("alias"), call.text("version")
        if not alias:
            raise mlflow_error(
                400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'alias'"
            )
        _require_version(model, version)
        model.aliases[alias] = version
        return {}

    def get_alias(self, call: Incoming) -> dict[str, Any]:
        model = self.model(call.query.get("name", ""))
        alias = call.query.get("alias", "")
        if alias not in model.aliases:
            raise mlflow_error(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"Registered model alias {alias} not found.",
            )
        return {"model_version": model.version_json(model.aliases[alias])}

    def delete_alias(self, call: Incoming) -> dict[str, Any]:
        source = call.obj() or dict(call.query)
        model = self.model(str(source.get("name", "")))
        model.aliases.pop(str(source.get("alias", "")), None)
        return {}

    def get_model(self, call: Incoming) -> dict[str, Any]:
        return {"registered_model": self.model(call.query.get("name", "")).as_json()}

    def get_version(self, call: Incoming) -> dict[str, Any]:
        model = self.model(call.query.get("name", ""))
        version = call.query.get("version", "")
        _require_version(model, version)
        return {"model_version": model.version_json(version)}

    def changes(self) -> dict[str, Any]:
        return {
            f"registered model {name}": model.aliases
            for name, model in self.models.items()
            if model.aliases != self.pristine.get(name)
        }

    def routes(self, host: Host) -> list[Route]:
        models = f"{BASE}/registered-models"
        return [
            route(f"{models}/alias", "POST", self.set_alias, host),
            route(f"{models}/alias", "GET", self.get_alias, host),
            route(f"{models}/alias", "DELETE", self.delete_alias, host),
            route(f"{models}/get", "GET", self.get_model, host),
            route(f"{BASE}/model-versions/get", "GET", self.get_version, host),
        ]


def _require_version(model: RegisteredModel, version: str) -> None:
    """MLflow's 404 for a version the model does not have."""
    if version not in model.versions:
        raise mlflow_error(
            404,
            "RESOURCE_DOES_NOT_EXIST",
            f"Model Version (name={model.name}, version={version}) not found",
        )
