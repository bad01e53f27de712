"""``aiir sandbox serve``."""

from typing import Annotated

import typer

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
    import os

    import uvicorn

    from aiir.errors import ExitStatus, InputError
    from aiir.sandbox import SandboxState, create_app, world
    from aiir.sandbox.transport import free_port

    master = None
    if master_key_env:
        master = os.environ.get(master_key_env)
        if not master:
            raise InputError(f"--master-key-env {master_key_env}: the variable is not set")
    state = SandboxState(models=model or list(world.MODELS), master_key=master)
    port = port or free_port(host)
    typer.echo(
        f"aiir sandbox on http://{host}:{port}  (models: {', '.join(state.models)}; Ctrl-C stops)"
    )
    uvicorn.run(create_app(state), host=host, port=port, log_level="warning", lifespan="off")
    return ExitStatus.OK
