"""``aiir run``, ``resume``, ``release``, ``incidents``, ``watch``, ``show``, ``report``, ``init``."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aiir.cli.options import IncidentDir, Store

if TYPE_CHECKING:
    from aiir.environment import Environment
    from aiir.incident.postgres import PostgresStore
    from aiir.incident.state import Incident
    from aiir.respond.trace import Destination

Gateways = Annotated[
    list[str] | None,
    typer.Option(
        "--gateway",
        "-g",
        metavar="NAME=URL",
        help="Point a declared gateway elsewhere (repeatable).",
    ),
]
Answers = Annotated[
    str | None,
    typer.Option(
        "--answers",
        "-a",
        metavar="FILE|ID",
        help="YAML file of answers keyed by node id, a folder holding RUNBOOK-ID.yaml, or a "
        "shipped one's id (see: aiir library).",
    ),
]
AwareAt = Annotated[
    list[str] | None,
    typer.Option(
        "--aware-at",
        metavar="[REGIME=]TIME",
        help="Awareness time for the clocks, ISO-8601 UTC (repeatable).",
    ),
]
Otlp = Annotated[
    str | None,
    typer.Option(
        "--otlp",
        metavar="URL",
        help="Export the walk's trace (OpenTelemetry spans built from the journal) to this "
        "OTLP/HTTP endpoint when it stops; default: aiir.yaml's otlp: (real walks only).",
    ),
]
Yes = Annotated[
    bool, typer.Option("--yes", "-y", help="Pre-approve every lever and action request.")
]


def _runbook(given: str, flag: str = "") -> Path:
    """A runbook file, a directory holding one, or a shipped runbook's id."""
    from aiir.formats.library import resolve_one

    return resolve_one(given, ["runbooks"], flag=flag)


def _answers(given: str | None) -> Path | None:
    """An answers file, a shipped one's id, or a folder (the walk takes the runbook's file in it:
    :func:`aiir.validate.answers.answers_in`)."""
    from aiir.formats.library import resolve_one

    if given is not None and given.strip() and Path(given).is_dir():
        return Path(given)
    return None if given is None else resolve_one(given, ["answers"], flag="--answers")


Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Read a journal that does not verify; everything shown is marked UNVERIFIED.",
    ),
]


def _environment(
    incident_dir: Path | None,
    gateways: list[str] | None = None,
    *,
    dry_run: bool = False,
    assume_yes: bool = False,
    store: str | None = None,
) -> "Environment":
    """This command's environment with its flags applied (checked before anything is read)."""
    from aiir.cli import flags

    folder = flags.incident_dir(incident_dir)
    urls = flags.gateway_urls(gateways)  # checked before anything is read or sent
    env = flags.environment()
    env.incidents_at(folder)
    env.store_flag = store
    _check_store(env)
    env.gateway_urls = urls
    env.dry_run = env.dry_run or dry_run
    env.assume_yes = env.assume_yes or assume_yes
    return env


def _check_store(env: "Environment") -> None:
    """A shared store chosen (flag, variable, workspace) is checked before anything is read."""
    if env.store_at()[0]:
        from aiir.respond.shared import check

        check(env)


def _synced(env: "Environment", incident: str | None = None) -> "PostgresStore | None":
    """A shared store's rows copied into the local incidents folder first (the readers read the
    copy); a store that is down is said on one line and the local copy read as it is."""
    from aiir.respond.shared import synced

    store, problem = synced(env, incident)
    _said(problem)
    return store


def _said(problem: str) -> None:
    if problem:
        from aiir.redact import scrub

        typer.echo(f"aiir: {scrub(problem)}", err=True)


def _close(store: "PostgresStore | None") -> None:
    if store is not None:
        store.close()


def _anchor(incident: "Incident") -> None:
    """The journal's head, to keep outside it: later it proves nothing was cut or added."""
    from aiir.incident.journal import anchor_of

    if incident.head is not None and not incident.dry_run:
        anchor = anchor_of([incident.head])
        typer.echo(
            f"journal anchor: {anchor} (keep it; check with: aiir verify {incident.id} --anchor {anchor})"
        )


def _trace_to(env: "Environment", flag: str | None) -> "Destination | None":
    """Where the walk's trace goes, checked before the walk (a wrong URL: exit 2)."""
    from aiir.respond.trace import destination

    return destination(env, flag)


def _send_trace(env: "Environment", incident: "Incident", where: "Destination | None") -> None:
    """The walk's trace sent from its journal: one line either way; the walk's exit status
    stands (an endpoint that is down harms no walk)."""
    from aiir.respond.trace import export

    if where is None or not where.takes(incident):
        return
    ok, line = export(env, incident, where)
    typer.echo(line if ok else f"aiir: {line}", err=not ok)


def run(
    runbook: Annotated[
        str,
        typer.Argument(
            metavar="RUNBOOK",
            help="A runbook file, a directory holding one, or a shipped runbook's id "
            "(see: aiir library).",
        ),
    ],
    answers: Answers = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", metavar="KEY=VALUE", help="Set an input (repeatable)."),
    ] = None,
    gateway: Gateways = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Resolve and print every request; send none.")
    ] = False,
    yes: Yes = False,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Practise against the built-in simulated gateway: no keys, no network, "
            "messages kept in the exercise's inbox.",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Before starting, check every runbook this one may call (environment, "
            "gateways); by default a called runbook is checked when the walk reaches it.",
        ),
    ] = False,
    otlp: Otlp = None,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Walk a runbook: triage questions, levers with verification, evidence, journal."""
    from aiir.errors import InputError
    from aiir.respond.preparation import parse_assignments
    from aiir.respond.session import start

    path, answers_path = _runbook(runbook), _answers(answers)
    env = _environment(incident_dir, gateway, dry_run=dry_run, assume_yes=yes, store=store)
    if sandbox:
        if env.gateway_urls:
            raise InputError(
                "--sandbox and --gateway: a sandbox run talks only to the simulated gateway"
            )
        env.use_sandbox()
    inputs = parse_assignments(set_ or [], "--set", "KEY=VALUE")
    where = _trace_to(env, otlp)
    result = start(path, env, inputs=inputs, answers=answers_path, check_all=check)
    if result.ended is not None:  # an interrupted walk says it with its resume hint
        _anchor(result.incident)
    _send_trace(env, result.incident, where)
    return int(result.exit_status)


def resume(
    incident: Annotated[
        str, typer.Argument(metavar="INCIDENT", help="Incident id (see: aiir incidents).")
    ],
    answers: Answers = None,
    gateway: Gateways = None,
    yes: Yes = False,
    otlp: Otlp = None,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Continue an interrupted incident where it stopped; no lever is engaged twice."""
    from aiir.respond.session import resume as resume_incident

    answers_path = _answers(answers)
    env = _environment(incident_dir, gateway, assume_yes=yes, store=store)
    where = _trace_to(env, otlp)
    result = resume_incident(incident, env, answers=answers_path)
    if result.ended is not None:
        _anchor(result.incident)
    _send_trace(env, result.incident, where)
    return int(result.exit_status)


def release(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    lever: Annotated[
        str | None, typer.Argument(metavar="LEVER", help="Release only this lever.")
    ] = None,
    gateway: Gateways = None,
    yes: Yes = False,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Release (roll back) engaged levers, newest first, each journalled."""
    from aiir.errors import ExitStatus
    from aiir.respond.session import release as release_levers

    env = _environment(incident_dir, gateway, assume_yes=yes, store=store)
    result = release_levers(incident, env, lever)
    _anchor(result)
    still = [r for r in result.needs_release() if lever is None or lever in {r.lever, r.key}]
    if still:
        names = (
            f"{r.lever} (maybe: state unknown)" if r.state == "unknown" else r.lever for r in still
        )
        typer.echo(f"still engaged: {', '.join(names)}", err=True)
        return ExitStatus.FAILED
    return ExitStatus.OK


def incidents(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    watch_: Annotated[
        bool,
        typer.Option(
            "--watch", help="Follow the open incidents: the listing is redrawn when one changes."
        ),
    ] = False,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """List incidents, newest first; one whose journal does not verify is marked TAMPERED."""
    from aiir.errors import ExitStatus, InputError
    from aiir.respond.shared import listed, refreshed
    from aiir.views.incidents import incidents_table

    if watch_ and as_json:
        raise InputError("--watch redraws a listing for people; --json prints one for programs")
    env = _environment(incident_dir, store=store)
    shared, problem, lost = listed(env)  # lost: the store's rows no longer reach their head
    _said(problem)
    if watch_:
        from aiir.views.watch import watch_incidents

        try:
            refresh = None if shared is None else lambda: refreshed(shared, env.incidents_dir)
            watch_incidents(env, refresh=refresh)
        finally:
            _close(shared)
        return ExitStatus.OK
    _close(shared)
    incidents_table(env, as_json=as_json, lost=lost)
    return ExitStatus.OK  # a listing: TAMPERED is shown as for a local journal; verify fails


def watch(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Print the timeline so far first.")
    ] = False,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> None:
    """Follow an incident's timeline as it is written, until it ends (or Ctrl-C)."""
    from aiir.views.watch import watch_incident

    env = _environment(incident_dir, store=store)
    shared = _synced(env, incident)  # then its rows are followed there (LISTEN/NOTIFY)
    try:
        watch_incident(env, incident, from_start=from_start, store=shared)
    finally:
        _close(shared)


def show(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    aware_at: AwareAt = None,
    force: Force = False,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every event of the timeline (by default a long one shows its last 100).",
        ),
    ] = False,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> None:
    """One incident: timeline, answers, levers, evidence, regulatory clocks (verified first)."""
    from aiir.reports.context import parse_aware_at
    from aiir.views.incidents import show_incident

    env = _environment(incident_dir, store=store)
    _close(_synced(env, incident))
    show_incident(
        env,
        incident,
        as_json=as_json,
        aware_at=parse_aware_at(aware_at or []),
        force=force,
        every=every,
    )


def report(
    incident: Annotated[str, typer.Argument(metavar="INCIDENT", help="Incident id.")],
    template: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            metavar="NAME",
            help="post-mortem, executive-summary, slack-update, status-page, customer-notice, "
            "regulator-notice, or a workspace template.",
        ),
    ] = "post-mortem",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Write to this file instead of stdout."),
    ] = None,
    aware_at: AwareAt = None,
    force: Force = False,
    file_actions: Annotated[
        bool,
        typer.Option(
            "--file-actions",
            help="File the post-mortem's action items as Jira tickets (once each), "
            "linked to the incident.",
        ),
    ] = False,
    actions_from: Annotated[
        Path | None,
        typer.Option(
            "--actions-from",
            metavar="FILE",
            help="With --file-actions: read the action items from this post-mortem "
            "(the one the team edited).",
        ),
    ] = None,
    incident_dir: IncidentDir = None,
    store: Store = None,
) -> int:
    """Render a post-mortem, status update, customer or regulator notice from the journal
    (verified first)."""
    from aiir.cli import flags
    from aiir.errors import InputError, shown
    from aiir.incident.state import load_incident
    from aiir.redact import scrub
    from aiir.reports.context import parse_aware_at, render_report, write
    from aiir.terminal.inert import plain

    flags.out_file(out)  # before anything is read: a wrong --out costs nothing
    if actions_from is not None and not file_actions:
        raise InputError("--actions-from FILE goes with --file-actions")
    if file_actions and out is not None:
        raise InputError("--file-actions prints what was filed; --out is for the report alone")
    env = _environment(incident_dir, store=store)
    _close(_synced(env, incident))
    if file_actions:
        return _file_actions(env, incident, template, actions_from)
    record = load_incident(env.incidents_dir, incident, force=force)
    rendered = render_report(
        record, template, env.workspace, env.clock.now(), parse_aware_at(aware_at or [])
    )
    text = plain(scrub(rendered))  # answers and replies quoted in it are hostile data
    if out is None:
        typer.echo(text)
        return 0
    try:
        write(out, text)
    except OSError as exc:
        raise InputError(f"--out {shown(str(out))}: cannot write it: {exc.strerror}") from None
    typer.echo(f"wrote {out}", err=True)
    return 0


def _file_actions(env: "Environment", incident: str, template: str, source: Path | None) -> int:
    """``report --file-actions``: the action items of the post-mortem (rendered, or the team's
    edited ``source``) filed in Jira; one line per item; 1 when any was not filed."""
    from aiir.errors import ExitStatus, InputError, shown
    from aiir.incident.state import load_incident
    from aiir.redact import scrub
    from aiir.reports.actions import action_items
    from aiir.reports.context import render_report
    from aiir.respond.follow_ups import file_actions, jira_channel
    from aiir.terminal.inert import plain

    jira_channel(env)  # no jira channel: say so before anything is read
    if source is not None:
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"--actions-from {shown(str(source))}: cannot read it: {exc}"
            ) from None
    else:
        record = load_incident(env.incidents_dir, incident)
        text = render_report(record, template, env.workspace, env.clock.now())
    items = action_items(scrub(text))
    if not items:
        where = f"--actions-from {shown(str(source))}" if source else f"the {template} report"
        raise InputError(f"{where}: no action items table (a '## Action items' heading)")
    record, filings = file_actions(env, incident, items)
    for filing in filings:
        typer.echo(plain(filing.line(record.exercise)), err=filing.outcome == "not filed")
    failed = any(f.outcome == "not filed" for f in filings)
    return int(ExitStatus.FAILED if failed else ExitStatus.OK)


def init(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Where to lay out the workspace (a new or empty directory)."
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Lay out a workspace as the 90-day plan: config, inventory, team, runbooks, drills, CI."""
    from aiir.cli.scaffold import init as scaffold

    written = scaffold(directory, force=force)
    typer.echo(f"wrote {len(written)} files into {directory}")
    typer.echo(
        f"next: cd {directory} && aiir validate --strict . && aiir drill drills/ "
        "&& aiir inventory check"
    )
