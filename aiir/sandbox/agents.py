"""The agent platform (aiir's reference conventions): ``/v1/agents/{agent}`` with its runs and
long-term memory, and the tool registry ``/v1/tools/{tool}``.

The levers have real effects here: a paused agent refuses new runs (and ``cancel_running``
cancels the ones in flight); under ``approval_mode: always`` every tool call waits for a person
(``high-impact``: every call of a tool that is not read-only); a disabled tool is refused to
every agent and to direct calls; a purge deletes the memories that match, keeping a snapshot a
restore brings back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Route

from aiir.sandbox import world
from aiir.sandbox.errors import SandboxError, bad_request, not_found
from aiir.sandbox.faults import Faults
from aiir.sandbox.retrieval import relevance
from aiir.sandbox.routing import Answer, Host, Incoming, integer_field, route
from aiir.sandbox.timeline import now, within

SERVICE = "agent platform"
APPROVAL_MODES = ("never", "high-impact", "always")
READ_ONLY = frozenset({"search_kb", "web_browse", "sql_query"})
AGENT_FIELDS = frozenset({"paused", "cancel_running", "approval_mode", "reason"})
TOOL_FIELDS = frozenset({"enabled", "reason"})


@dataclass
class Tool:
    name: str
    description: str = ""
    enabled: bool = True
    reason: str = ""
    updated_at: str = field(default_factory=now)

    def config(self) -> dict[str, Any]:
        return {"enabled": self.enabled}

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "read_only": self.name in READ_ONLY,
            "reason": self.reason,
            "updated_at": self.updated_at,
        }


@dataclass
class Run:
    id: str
    agent: str
    status: str  # running, completed, awaiting_approval, cancelled
    started_at: str
    input: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Agent:
    id: str
    model: str = ""
    tools: list[str] = field(default_factory=list)
    paused: bool = False
    approval_mode: str = "never"
    reason: str = ""
    updated_at: str = field(default_factory=now)
    runs: list[Run] = field(default_factory=list)
    memory: list[dict[str, str]] = field(default_factory=list)

    def active_runs(self) -> int:
        return sum(1 for r in self.runs if r.status == "running")

    def config(self) -> dict[str, Any]:
        return {
            "paused": self.paused,
            "approval_mode": self.approval_mode,
            "memory": [m["id"] for m in self.memory],
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "paused": self.paused,
            "approval_mode": self.approval_mode,
            "active_runs": self.active_runs(),
            "tools": list(self.tools),
            "memory_entries": len(self.memory),
            "reason": self.reason,
            "updated_at": self.updated_at,
        }


class AgentPlatform:
    """Agents, their runs and memories, and the tools they may call."""

    def __init__(self, faults: Faults, autoprovision: bool = True) -> None:
        self.faults = faults
        self.autoprovision = autoprovision
        self.agents: dict[str, Agent] = {}
        self.tools: dict[str, Tool] = {}
        self.memory_snapshots: dict[str, tuple[str, list[dict[str, str]]]] = {}
        self.pristine: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        for part in (self.agents, self.tools, self.memory_snapshots, self.pristine):
            part.clear()
        self.ids = itertools.count(1)
        for name, description in world.TOOLS.items():
            self._add_tool(Tool(name, description))
        for ident, spec in world.AGENTS.items():
            agent = Agent(
                ident, spec["model"], list(spec["tools"]), approval_mode=spec["approval_mode"]
            )
            for call in spec.get("running", []):
                agent.runs.append(
                    Run(self._id("run"), ident, "running", now(-600), "seeded", [dict(call)])
                )
            agent.memory = [self._memory(text) for text in world.MEMORIES.get(ident, [])]
            self._add_agent(agent)

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self.ids):04d}"

    def _memory(self, text: str) -> dict[str, str]:
        return {"id": self._id("mem"), "text": text, "created_at": now()}

    def _add_agent(self, agent: Agent) -> Agent:
        self.agents[agent.id] = agent
        self.pristine[f"agent {agent.id}"] = agent.config()
        return agent

    def _add_tool(self, tool: Tool) -> Tool:
        self.tools[tool.name] = tool
        self.pristine[f"tool {tool.name}"] = tool.config()
        return tool

    def agent(self, ident: str, *, create: bool = True) -> Agent:
        """The agent ``ident``; one a change names is created on first use (``autoprovision``),
        one only read is not: reading an agent that does not exist is a 404, as on a platform."""
        self.faults.check(SERVICE, ident)
        if ident not in self.agents:
            if not (self.autoprovision and create):
                raise not_found(f"agent {ident!r}")
            self._add_agent(Agent(ident))
        return self.agents[ident]

    def tool(self, name: str, *, create: bool = True) -> Tool:
        """The tool ``name``; as :meth:`agent`, created by a change, never by a read."""
        self.faults.check(SERVICE, name)
        if name not in self.tools:
            if not (self.autoprovision and create):
                raise not_found(f"tool {name!r}")
            self._add_tool(Tool(name))
        return self.tools[name]

    # --- agents ----------------------------------------------------------------------------

    def get_agent(self, call: Incoming) -> Answer:
        agent = self.agent(call.path["agent"], create=False)
        return Answer(agent.as_json(), delay_ms=self.faults.latency_ms(agent.id))

    def update_agent(self, call: Incoming) -> dict[str, Any]:
        agent = self.agent(call.path["agent"])
        body = _known_fields(call.obj(), AGENT_FIELDS)
        if "approval_mode" in body and body["approval_mode"] not in APPROVAL_MODES:
            raise bad_request(f"approval_mode must be one of {', '.join(APPROVAL_MODES)}")
        if "paused" in body:
            agent.paused = _flag(body["paused"], "paused")
        if body.get("cancel_running"):
            for run in agent.runs:
                if run.status == "running":
                    run.status = "cancelled"
        agent.approval_mode = str(body.get("approval_mode", agent.approval_mode))
        agent.reason, agent.updated_at = str(body.get("reason", agent.reason)), now()
        return agent.as_json()

    def start_run(self, call: Incoming) -> Answer:
        """Run the agent once: each tool call is refused, held for approval, or done."""
        agent = self.agent(call.path["agent"])
        if agent.paused:
            raise SandboxError(409, f"agent {agent.id!r} is paused: {agent.reason}", "conflict")
        requested = call.obj().get("tool_calls") or []
        if not isinstance(requested, list):
            raise bad_request("tool_calls must be a list of {tool, arguments}")
        calls = [self._tool_call(agent, dict(c)) for c in requested if isinstance(c, dict)]
        waiting = any(c["status"] == "pending_approval" for c in calls)
        run = Run(
            self._id("run"),
            agent.id,
            "awaiting_approval" if waiting else "completed",
            now(),
            call.text("input"),
            calls,
        )
        agent.runs.append(run)
        return Answer(run.as_json(), 201)

    def _tool_call(self, agent: Agent, call: dict[str, Any]) -> dict[str, Any]:
        name = str(call.get("tool", ""))
        tool = self.tools.get(name)
        if name not in agent.tools or tool is None:
            return {**call, "status": "refused", "reason": f"{name!r} is not granted to the agent"}
        if not tool.enabled:
            return {**call, "status": "refused", "reason": f"tool {name!r} is disabled"}
        if agent.approval_mode == "always" or (
            agent.approval_mode == "high-impact" and name not in READ_ONLY
        ):
            return {**call, "status": "pending_approval"}
        return {**call, "status": "done", "output": self._tool_output(tool)}

    def _tool_output(self, tool: Tool) -> str:
        scripted = self.faults.output(tool.name)
        return scripted if scripted is not None else f"{tool.name}: ok"

    def runs(self, call: Incoming) -> dict[str, Any]:
        agent = self.agent(call.path["agent"], create=False)
        start, end = call.query.get("start", ""), call.query.get("end", "")
        runs = [r.as_json() for r in agent.runs if within(r.started_at, start, end)]
        return {"agent": agent.id, "runs": runs, "total": len(runs)}

    # --- tools ------------------------------------------------------------------------------

    def list_tools(self, call: Incoming) -> dict[str, Any]:
        return {"tools": [t.as_json() for t in self.tools.values()]}

    def get_tool(self, call: Incoming) -> Answer:
        tool = self.tool(call.path["tool"], create=False)
        return Answer(tool.as_json(), delay_ms=self.faults.latency_ms(tool.name))

    def update_tool(self, call: Incoming) -> dict[str, Any]:
        tool = self.tool(call.path["tool"])
        body = _known_fields(call.obj(), TOOL_FIELDS)
        if "enabled" in body:
            tool.enabled = _flag(body["enabled"], "enabled")
        tool.reason, tool.updated_at = str(body.get("reason", tool.reason)), now()
        return tool.as_json()

    def invoke_tool(self, call: Incoming) -> dict[str, Any]:
        tool = self.tool(call.path["tool"])
        if not tool.enabled:
            raise SandboxError(
                403, f"tool {tool.name!r} is disabled: {tool.reason}", "tool_disabled"
            )
        return {"tool": tool.name, "output": self._tool_output(tool)}

    # --- memory -----------------------------------------------------------------------------

    def memory(self, call: Incoming) -> dict[str, Any]:
        agent = self.agent(call.path["agent"], create=False)
        return {"agent": agent.id, "entries": list(agent.memory), "total": len(agent.memory)}

    def remember(self, call: Incoming) -> Answer:
        agent = self.agent(call.path["agent"])
        text = call.text("text")
        if not text:
            raise bad_request("text is required")
        entry = self._memory(text)
        agent.memory.append(entry)
        return Answer(entry, 201)

    def search_memory(self, call: Incoming) -> dict[str, Any]:
        """Memories that contain every term of the query, best first."""
        agent = self.agent(call.path["agent"], create=False)
        query = call.text("query")
        top_k = integer_field(call.obj().get("top_k", 5), "top_k", 1)
        hits = [m for m in agent.memory if relevance(query, m["text"]) == 1.0][:top_k]
        return {"agent": agent.id, "query": query, "total": len(hits), "results": hits}

    def purge_memory(self, call: Incoming) -> dict[str, Any]:
        agent = self.agent(call.path["agent"])
        match = call.text("match")
        if len(match.strip()) < 3:
            raise bad_request("match is required (at least 3 characters): purge is never global")
        snapshot_id = self._id("memsnap")
        self.memory_snapshots[snapshot_id] = (agent.id, list(agent.memory))
        kept = [m for m in agent.memory if relevance(match, m["text"]) < 1.0]
        purged = len(agent.memory) - len(kept)
        agent.memory = kept
        return {
            "agent": agent.id,
            "purged": purged,
            "remaining": len(kept),
            "snapshot_id": snapshot_id,
        }

    def restore_memory(self, call: Incoming) -> dict[str, Any]:
        agent = self.agent(call.path["agent"])
        snapshot_id = call.text("snapshot_id")
        owner, entries = self.memory_snapshots.get(snapshot_id, ("", []))
        if owner != agent.id:
            raise not_found(f"memory snapshot {snapshot_id!r} of agent {agent.id!r}")
        agent.memory = list(entries)
        return {"agent": agent.id, "snapshot_id": snapshot_id, "total": len(entries)}

    # --- state and routes ---------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        now_ = {f"agent {a.id}": a.config() for a in self.agents.values()}
        now_ |= {f"tool {t.name}": t.config() for t in self.tools.values()}
        return {name: config for name, config in now_.items() if config != self.pristine[name]}

    def routes(self, host: Host) -> list[Route]:
        agent = "/v1/agents/{agent}"
        tool = "/v1/tools/{tool}"
        return [
            route(agent, "GET", self.get_agent, host),
            route(agent, "PATCH", self.update_agent, host),
            route(f"{agent}/runs", "GET", self.runs, host),
            route(f"{agent}/runs", "POST", self.start_run, host),
            route(f"{agent}/memory", "GET", self.memory, host),
            route(f"{agent}/memory", "POST", self.remember, host),
            route(f"{agent}/memory/search", "POST", self.search_memory, host),
            route(f"{agent}/memory/purge", "POST", self.purge_memory, host),
            route(f"{agent}/memory/restore", "POST", self.restore_memory, host),
            route("/v1/tools", "GET", self.list_tools, host),
            route(tool, "GET", self.get_tool, host),
            route(tool, "PATCH", self.update_tool, host),
            route(f"{tool}/invoke", "POST", self.invoke_tool, host),
        ]


def _known_fields(body: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Refuse a misspelt field rather than ignore it: a lever must not half-apply."""
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_request(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return body


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false, not {value!r}")
    return value
