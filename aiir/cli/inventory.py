"""``aiir inventory show|check``."""

from typing import Annotated

import typer

app = typer.Typer(
    help="The AI system inventory: risk tiers and coverage gaps.", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


@app.command("show")
def show(as_json: AsJson = False) -> None:
    """Draw the inventory with each system's risk tier, and the risk matrix."""
    from aiir.cli.flags import environment
    from aiir.views.inventory import show_inventory

    show_inventory(environment(), as_json=as_json)


@app.command("check")
def check(as_json: AsJson = False) -> int:
    """List the gaps: no runbook, no canary suite, no owner, no recent drill; exit 1 on any."""
    from aiir.cli.flags import environment
    from aiir.views.inventory import check_inventory

    return int(check_inventory(environment(), as_json=as_json))
