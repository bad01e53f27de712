"""Airflow's stable REST API (``/api/v1/dags``): DAGs that can be paused, and their runs.

A paused DAG still accepts a triggered run, as Airflow does, but the run stays ``queued``: the
scheduler starts nothing of a paused DAG. Errors use Airflow's problem body.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Route

from aiir.sandbox import world
from aiir.sandbox.errors import SandboxError
from aiir.sandbox.faults import Faults
from aiir.sandbox.routing import Host, Incoming, integer_field, route
from aiir.sandbox.timeline import now

BASE = "/api/v1/dags"
PATCHABLE = frozenset({"is_paused"})


def airflow_error(status: int, title: str, detail: str) -> SandboxError:
    body = {"detail": detail, "status": status, "title": title, "type": "about:blank"}
    return SandboxError(status, detail, title, body)


@dataclass
class Dag:
    dag_id: str
    description: str = ""
    is_paused: bool = False
    runs: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "description": self.description,
            "is_paused": self.is_paused,
            "is_active": True,
            "owners": ["mlops"],
            "schedule_interval": {"__type": "CronExpression", "value": "0 3 * * *"},
            "tags": [{"name": "training"}],
        }


class Pipelines:
    """The DAGs of the training pipeline scheduler."""

    def __init__(self, faults: Faults, autoprovision: bool = True) -> None:
        self.faults = faults
        self.autoprovision = autoprovision
        self.dags: dict[str, Dag] = {}
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        self.dags.clear()
        self.ids = itertools.count(1)
        for dag_id, description in world.DAGS.items():
            dag = self._create(dag_id, description)
            for days in (3, 2, 1):
                dag.runs.append(self._run(dag, "success", now(-days * 86_400)))

    def _create(self, dag_id: str, description: str = "") -> Dag:
        self.dags[dag_id] = Dag(dag_id, description)
        return self.dags[dag_id]

    def _run(self, dag: Dag, state: str, when: str) -> dict[str, Any]:
        return {
            "dag_id": dag.dag_id,
            "dag_run_id": f"scheduled__{when}",
            "execution_date": when,
            "logical_date": when,
            "state": state,
            "conf": {},
            "run_number": next(self.ids),
        }

    def dag(self, dag_id: str) -> Dag:
        self.faults.check("Airflow", dag_id)
        if dag_id not in self.dags:
            if not self.autoprovision:
                raise airflow_error(404, "DAG not found", f"DAG with dag_id: '{dag_id}' not found")
            self._create(dag_id)
        return self.dags[dag_id]

    # --- services ----------------------------------------------------------------------------

    def get(self, call: Incoming) -> dict[str, Any]:
        return self.dag(call.path["dag_id"]).as_json()

    def patch(self, call: Incoming) -> dict[str, Any]:
        dag = self.dag(call.path["dag_id"])
        body = call.obj()
        mask = [m.strip() for m in call.query.get("update_mask", "").split(",") if m.strip()]
        fields = mask or list(body)
        unknown = sorted(set(fields) - PATCHABLE)
        if unknown:
            raise airflow_error(
                400, "Bad Request", f"Only `is_paused` field can be updated, not {unknown}"
            )
        if "is_paused" in fields:
            if not isinstance(body.get("is_paused"), bool):
                raise airflow_error(400, "Bad Request", "is_paused must be a boolean")
            dag.is_paused = body["is_paused"]
        return dag.as_json()

    def runs(self, call: Incoming) -> dict[str, Any]:
        dag = self.dag(call.path["dag_id"])
        order = call.query.get("order_by", "execution_date")
        runs = sorted(dag.runs, key=lambda r: r["execution_date"], reverse=order.startswith("-"))
        limit = integer_field(call.query.get("limit") or 100, "limit", 1)
        return {"dag_runs": runs[:limit], "total_entries": len(runs)}

    def trigger(self, call: Incoming) -> dict[str, Any]:
        dag = self.dag(call.path["dag_id"])
        run = self._run(dag, "queued" if dag.is_paused else "running", now())
        if call.text("dag_run_id"):
            run["dag_run_id"] = call.text("dag_run_id")
        run["conf"] = call.obj().get("conf") or {}
        dag.runs.append(run)
        return run

    def changes(self) -> dict[str, Any]:
        return {f"dag {d.dag_id}": {"is_paused": True} for d in self.dags.values() if d.is_paused}

    def routes(self, host: Host) -> list[Route]:
        dag = f"{BASE}/{{dag_id}}"
        return [
            route(dag, "GET", self.get, host),
            route(dag, "PATCH", self.patch, host),
            route(f"{dag}/dagRuns", "GET", self.runs, host),
            route(f"{dag}/dagRuns", "POST", self.trigger, host),
        ]
