"""Terminal and JSON views of the inventory (``aiir inventory``)."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from aiir.environment import Environment
from aiir.errors import ExitStatus, InputError
from aiir.formats.workspace import Loaded
from aiir.reports.assessment import TIERS, assess, gaps
from aiir.terminal.inert import cell

TIER_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "green",
}
LEVELS = ("low", "medium", "high")


def _workspace(env: Environment) -> Loaded:
    workspace = env.workspace
    if workspace is None:
        raise InputError("no aiir.yaml here or above (create one with: aiir init DIR)")
    if workspace.inventory is None:
        raise InputError(
            f"{workspace.root / 'aiir.yaml'}: no inventory file ({workspace.config.inventory})"
        )
    return workspace


def show_inventory(env: Environment, *, as_json: bool) -> None:
    console = env.console
    workspace = _workspace(env)
    assert workspace.inventory is not None
    rated = [assess(s) for s in workspace.inventory.systems]
    if as_json:
        print(
            json.dumps(
                [
                    {**r.system.model_dump(), "risk_score": r.score, "risk_tier": r.tier}
                    for r in rated
                ],
                indent=2,
            )
        )
        return
    table = Table(
        "system",
        "owner",
        "model",
        "data",
        "exposure",
        "EU AI Act",
        "blast radius",
        "risk",
        title="AI systems",
        title_justify="left",
    )
    table.columns[0].no_wrap = table.columns[-1].no_wrap = True
    for r in sorted(rated, key=lambda r: (TIERS.index(r.tier), r.system.id)):
        s = r.system
        exposure = ("user-facing, " if s.user_facing else "internal, ") + s.autonomy
        table.add_row(
            cell(s.id),
            cell(s.owner),
            cell(f"{s.model} ({s.provider})"),  # unbounded: kept by its ends (whole in --json)
            s.data_sensitivity,
            exposure,
            s.eu_ai_act,
            s.blast_radius,
            Text(f"{r.tier} {r.score}", TIER_STYLE[r.tier]),
        )
    console.print(table)
    matrix = Table(
        "likelihood ↓ / impact →",
        *LEVELS,
        title="Risk matrix",
        title_justify="left",
        show_lines=True,
    )
    for likelihood in reversed(range(3)):
        cells = [
            ", ".join(
                r.system.id for r in rated if r.likelihood == likelihood and r.impact == impact
            )
            or "·"
            for impact in range(3)
        ]
        matrix.add_row(LEVELS[likelihood], *cells)
    console.print(matrix)


def check_inventory(env: Environment, *, as_json: bool) -> ExitStatus:
    console = env.console
    workspace = _workspace(env)
    found = gaps(workspace, env.incidents_dir, env.clock.now())
    if as_json:
        print(json.dumps([g.__dict__ for g in found], indent=2))
    elif found:
        table = Table("system", "gap", "detail", title=f"{len(found)} gap(s)", title_justify="left")
        for gap in found:
            table.add_row(cell(gap.system), gap.kind, cell(gap.message))
        console.print(table)
    else:
        console.print(
            Text(
                "Every system has a runbook, a canary suite, an owner and (if high risk) a recent drill.",
                "green",
            )
        )
    return ExitStatus.FAILED if found else ExitStatus.OK
