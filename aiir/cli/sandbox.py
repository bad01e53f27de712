"""``aiir sandbox serve``."""

import contextlib
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import socket

app = typer.Typer(
    help="The built-in simulated gateway, for demos, drills and tabletops.", no_args_is_help=True
)


@app.command("serve")
def serve(
    host: Annotated[
        str,
        typer.Option("--host", metavar="HOST", help="Address to listen on (loopback by default)."),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            "-p",
            metavar="PORT",
            help="Port to listen on (0: a free port).",
            min=0,
            max=65535,
        ),
    ] = 4000,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Model group to serve (repeatable; default: the seeded world's).",
        ),
    ] = None,
    master_key_env: Annotated[
        str | None,
        typer.Option(
            "--master-key-env",
            metavar="NAME",
            help="Require this environment variable's value as the admin key.",
        ),
    ] = None,
) -> int:
    """Serve the simulated gateway until Ctrl-C: OpenAI chat and LiteLLM's admin API, the agent
    platform (agents, tools, memory, RAG collections), a scoring service with its MLflow registry,
    Airflow and Unleash, and faults on command (POST /sandbox/faults)."""
    import uvicorn

    from aiir.cli.flags import environment
    from aiir.errors import ExitStatus, InputError
    from aiir.sandbox import SandboxState, create_app, world

    master = None
    if master_key_env:
        master = environment().environ.get(master_key_env, "").strip()
        if not master:
            raise InputError(f"--master-key-env {master_key_env}: the variable is not set")
    state = SandboxState(models=model or list(world.MODELS), master_key=master)
    listener = _listen(host, port)  # bound here: port 0 is the real port, a taken one a clear error
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    banner = (
        f"aiir sandbox on http://{shown}:{bound}  (models: {', '.join(state.models)}; Ctrl-C stops)"
    )

    class Announced(uvicorn.Server):
        """Says where it listens only once it does: a script may connect on reading the line."""

        async def startup(self, sockets: "list[socket.socket] | None" = None) -> None:
            await super().startup(sockets)
            if self.started:
                typer.echo(banner)

    config = uvicorn.Config(create_app(state), log_level="warning", lifespan="off")
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops, then raises the signal again
        Announced(config).run(sockets=[listener])
    return ExitStatus.OK


def _listen(host: str, port: int) -> "socket.socket":
    """A socket listening on ``host:port`` (``socket`` is imported here: ``aiir --help`` and the
    other commands never need it, ``bench.startup``)."""
    import socket

    from aiir.errors import InputError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise InputError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror})"
        ) from None
    listener.listen(128)
    return listener
