"""``aiir validate``."""

from pathlib import Path
from typing import Annotated

import typer


def command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="aiir documents or directories (searched recursively for YAML).",
        ),
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as errors (exit 2 on any finding).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the findings as a JSON list of objects.")
    ] = False,
) -> int:
    """Validate runbooks, profiles, scenarios, canary suites and workspace files; every finding
    as file:line:col: level: where: message."""
    import json

    from aiir.errors import ExitStatus
    from aiir.validate import validate_paths

    report = validate_paths(paths)
    failed = report.failed(strict=strict)
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in report.findings], indent=2))
    else:
        for finding in report.findings:
            typer.echo(finding.render(), err=finding.level == "error" or strict)
        files = len(report.checked)
        summary = (
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {files} file(s)"
            if report.findings
            else f"{files} file(s) valid"
        )
        if report.skipped:
            summary += f"; {len(report.skipped)} YAML file(s) that are not aiir documents skipped"
        typer.echo(summary, err=failed)
    return ExitStatus.BAD_INPUT if failed else ExitStatus.OK
