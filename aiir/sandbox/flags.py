"""Unleash's admin API for feature flags: a flag is on or off per environment.

``POST .../environments/{environment}/on|off`` answers 200 with no body, as Unleash does; the
client API (``/api/client/features/{flag}``) is what the application reads. Errors use Unleash's
body (``name``, ``message``).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from aiir.sandbox import world
from aiir.sandbox.errors import SandboxError
from aiir.sandbox.faults import Faults
from aiir.sandbox.routing import Answer, Host, Incoming, route

BASE = "/api/admin/projects/{project}/features/{feature}"
CLIENT_ENVIRONMENT = "production"


def unleash_error(status: int, name: str, message: str) -> SandboxError:
    body = {
        "id": "aiir-sandbox",
        "name": name,
        "message": message,
        "details": [{"message": message}],
    }
    return SandboxError(status, message, name, body)


class FeatureFlags:
    """Flags by project and name: ``{environment: enabled}``."""

    def __init__(self, faults: Faults, autoprovision: bool = True) -> None:
        self.faults = faults
        self.autoprovision = autoprovision
        self.flags: dict[tuple[str, str], dict[str, bool]] = {}
        self.pristine: dict[tuple[str, str], dict[str, bool]] = {}
        self.reset()

    def reset(self) -> None:
        self.flags.clear()
        self.pristine.clear()
        for key, environments in world.FLAGS.items():
            self._create(key, environments)

    def _create(self, key: tuple[str, str], environments: tuple[str, ...]) -> dict[str, bool]:
        self.flags[key] = dict.fromkeys(environments, True)
        self.pristine[key] = dict(self.flags[key])
        return self.flags[key]

    def flag(self, project: str, feature: str) -> dict[str, bool]:
        self.faults.check("Unleash", feature)
        if (project, feature) not in self.flags:
            if not self.autoprovision:
                raise unleash_error(404, "NotFoundError", f"Could not find feature flag {feature}")
            self._create((project, feature), ("development", "production"))
        return self.flags[(project, feature)]

    def environment(self, call: Incoming) -> tuple[dict[str, bool], str]:
        flag = self.flag(call.path["project"], call.path["feature"])
        environment = call.path["environment"]
        if environment not in flag:
            raise unleash_error(
                404, "NotFoundError", f"Could not find environment {environment} for this flag"
            )
        return flag, environment

    # --- services ----------------------------------------------------------------------------

    def get_feature(self, call: Incoming) -> dict[str, Any]:
        project, feature = call.path["project"], call.path["feature"]
        flag = self.flag(project, feature)
        return {
            "name": feature,
            "project": project,
            "environments": [{"name": e, "enabled": on} for e, on in flag.items()],
        }

    def get_environment(self, call: Incoming) -> dict[str, Any]:
        flag, environment = self.environment(call)
        return {
            "name": environment,
            "environment": environment,
            "featureName": call.path["feature"],
            "enabled": flag[environment],
            "type": environment,
            "strategies": [{"name": "default", "parameters": {}}],
        }

    def switch_on(self, call: Incoming) -> Answer:
        return self._switch(call, True)

    def switch_off(self, call: Incoming) -> Answer:
        return self._switch(call, False)

    def _switch(self, call: Incoming, enabled: bool) -> Answer:
        flag, environment = self.environment(call)
        flag[environment] = enabled
        return Answer(None, 200)

    def client(self, call: Incoming) -> dict[str, Any]:
        feature = call.path["feature"]
        for (_, name), flag in self.flags.items():
            if name == feature:
                return {"name": name, "enabled": flag.get(CLIENT_ENVIRONMENT, False)}
        raise unleash_error(404, "NotFoundError", f"Could not find feature flag {feature}")

    def changes(self) -> dict[str, Any]:
        return {
            f"flag {project}/{feature}": flag
            for (project, feature), flag in self.flags.items()
            if flag != self.pristine[(project, feature)]
        }

    def routes(self, host: Host) -> list[Route]:
        environment = f"{BASE}/environments/{{environment}}"
        return [
            route(BASE, "GET", self.get_feature, host),
            route(environment, "GET", self.get_environment, host),
            route(f"{environment}/on", "POST", self.switch_on, host),
            route(f"{environment}/off", "POST", self.switch_off, host),
            route("/api/client/features/{feature}", "GET", self.client, host),
        ]
