"""``aiir validate``."""

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from aiir.environment import Environment


def command(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="aiir documents or directories (searched recursively for YAML), or the ids "
            "of shipped ones (see: aiir library).",
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
    from aiir.cli.flags import environment
    from aiir.errors import ExitStatus

    with _uncollected():
        from aiir.validate.documents import validate_paths

        env = environment()
        roles = _team_roles(env)
        config = env.workspace.config if env.workspace is not None else None
        enforce = roles is not None and config is not None and config.enforce_roles
        report = validate_paths(
            [_path(given) for given in paths], env.profile_dirs, roles, enforce_roles=enforce
        )
    from aiir.redact import masked_json, scrub  # loaded by the checks already

    failed = report.failed(strict=strict)
    if as_json:  # a value a finding quotes may be a key of this environment, or look like one
        typer.echo(masked_json([f.as_dict() for f in report.findings]))
    else:
        for finding in report.findings:
            typer.echo(scrub(finding.render()), err=finding.level == "error" or strict)
        files = report.files
        summary = (
            f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {files} file(s)"
            if report.findings
            else f"{files} file(s) valid"
        )
        if report.skipped:
            summary += f"; {len(report.skipped)} YAML file(s) that are not aiir documents skipped"
        typer.echo(summary, err=failed)
    return ExitStatus.BAD_INPUT if failed else ExitStatus.OK


@contextlib.contextmanager
def _uncollected() -> Iterator[None]:
    """No garbage collection while the checks are imported and run: the models, validators and
    documents they make live until the command ends, and the collections their making triggers
    walked them again and again (about a tenth of ``aiir validate ONE.yaml``, ``bench.startup``).
    The collector is given back after, for a caller that runs commands in its own process.

    Given back as it is, its youngest generation would hold every object made meanwhile, and the
    first allocation after would walk them all (12 to 19 ms, a twelfth of ``aiir validate
    ONE.yaml``) to free next to nothing. They are moved to the oldest generation instead (frozen,
    then unfrozen: two list splices), which a later full collection walks as usual; not when
    the process had frozen objects of its own, which unfreezing would give back too."""
    if not gc.isenabled():
        yield
        return
    splice = gc.get_freeze_count() == 0
    gc.disable()
    try:
        yield
    finally:
        if splice:
            gc.freeze()
        gc.enable()
        if splice:
            gc.unfreeze()


def _team_roles(env: "Environment") -> frozenset[str] | None:
    """The team file's roles, for task owners; a workspace that does not load checks none
    (validating its files says what is wrong with them)."""
    from aiir.errors import AiirError

    try:
        return env.workspace.roles() if env.workspace is not None else None
    except AiirError:
        return None


def _path(given: str) -> Path:
    """A path as given, or the shipped document with that id."""
    if given.strip() and Path(given).exists():  # Path("") is the current directory
        return Path(given)
    from aiir.formats.library import KINDS, resolve_one

    return resolve_one(given, [k for k in KINDS if k != "answers"])
