"""aiir's simulated gateway: LiteLLM's admin API and an OpenAI-compatible chat, the agent
platform, a scoring service with its model registry, Airflow and Unleash, with faults."""

from aiir.sandbox import world
from aiir.sandbox.app import create_app
from aiir.sandbox.state import SandboxState
from aiir.sandbox.transport import InProcessTransport, serve_in_thread

__all__ = ["InProcessTransport", "SandboxState", "create_app", "serve_in_thread", "world"]
