"""The ``aiir`` command line: parse, call one core function, map errors to exit codes.

Command modules import only Typer at load time; the core (pydantic, YAML, Jinja2, HTTP) is imported
inside each command, so ``aiir --help`` stays about as fast as Typer itself.
"""

import contextlib
import copy
import errno
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import typer
from typer._coercion import RuntimeParam
from typer.core import TyperArgument, TyperGroup

from aiir.cli import (
    canary,
    detect,
    drill,
    export,
    flags,
    graph,
    human,
    incident,
    inventory,
    library,
    sandbox,
    schema,
    scribe,
    store,
    tabletop,
    team,
    validate,
    verify,
)
from aiir.errors import AiirError, ExitStatus, shown

if TYPE_CHECKING:
    from aiir.environment import Environment
    from aiir.prompts import Prompter

HELP = ["-h", "--help"]
app = typer.Typer(
    name="aiir",
    help="AI incident response: validate, draw and walk runbooks; drill them; keep the journal.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion, for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": HELP},
)
app.command("validate")(validate.command)
app.command("graph")(graph.command)
app.command("schema")(schema.command)
app.command("run")(incident.run)
app.command("resume")(incident.resume)
app.command("release")(incident.release)
app.command("verify")(verify.verify)
app.command("incidents")(incident.incidents)
app.command("show")(incident.show)
app.command("watch")(incident.watch)
app.command("report")(incident.report)
app.command("export")(export.command)
app.command("flag")(human.flag)
app.command("note")(scribe.note)
app.command("severity")(scribe.severity)
app.command("approve")(team.approve)
app.command("reject")(team.reject)
app.command("handoff")(team.handoff)
app.command("init")(incident.init)
app.command("library")(library.command)
app.command("drill")(drill.command)
app.command("tabletop")(tabletop.command)
app.command("detect")(detect.command)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(inventory.app, name="inventory")
app.add_typer(canary.app, name="canary")
app.add_typer(store.app, name="store")


def _version(value: bool) -> None:
    if value:
        from aiir import __version__

        typer.echo(f"aiir {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
    ),
) -> None:
    """AI incident response runbooks you can validate, draw and walk."""


def main(
    argv: list[str] | None = None, env: "Environment | Callable[[], Environment] | None" = None
) -> int:
    """Run the CLI and return the exit status; never lets a traceback reach the user.

    Every command gets ``env`` (see :func:`aiir.cli.flags.environment`): by default the one built
    from this process (its variables, its terminal); a test hands in its own, or a function that
    makes one when the command first asks (its bad input, a variable, is then the command's:
    one line, exit 2), which this closes when the command ends.
    """
    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(_app_for(args))
    _metavars_only(command)
    _unset_flags_false(command)
    _plain_text(command)
    _no_empty_paths(command)
    _forget_secrets()  # each command masks the secrets it read itself (tests run many in-process)
    gone = _folder_gone(args)
    if gone:
        _say(gone)
        return ExitStatus.BAD_INPUT
    environment = _once(env)
    try:
        with flags.running_in(environment), _quit_stops_as_interrupt(), _closing(environment, env):
            result = command.main(args=argv, prog_name="aiir", standalone_mode=False)
    except SystemExit as exc:  # --show-completion and --install-completion exit by themselves
        return exc.code if isinstance(exc.code, int) else ExitStatus.OK
    except (typer.Abort, KeyboardInterrupt):  # Typer turns EOF on a prompt into Abort
        _say("interrupted")
        return ExitStatus.INTERRUPTED
    except typer.TyperException as exc:  # usage errors: bad flag, missing argument
        _usage(exc)
        return ExitStatus.BAD_INPUT
    except AiirError as exc:
        _say(str(exc))
        return exc.exit_status
    except OSError as exc:
        if _output_gone(exc):  # the terminal or pipe went away: nobody to tell, nothing wrong
            return _quietly()
        if exc.filename is None:  # not about a path someone gave: a bug or the machine
            return _crash()
        # A path given that cannot be used (a file for a folder, no permission, too long a name).
        _say(f"{shown(str(exc.filename))}: {exc.strerror or exc}")
        return ExitStatus.BAD_INPUT
    except Exception:  # an unexpected crash: write it down, say where, no traceback on screen
        return _crash()
    if result == ExitStatus.INTERRUPTED and not argv_is_walk(argv):
        _say("interrupted")  # Typer turns Ctrl-C into a silent exit 130
    return result if isinstance(result, int) else ExitStatus.OK


def _folder_gone(args: list[str]) -> str | None:
    """Why no command can run here: the working folder was deleted (or unmounted) after the
    shell entered it. Every command looks for aiir.yaml and resolves paths from it; each ended
    as an internal error. Help and the version need no folder."""
    if any(arg in {"--help", "-h", "--version"} for arg in args):
        return None
    try:
        os.getcwd()
    except FileNotFoundError:
        return (
            "the current folder no longer exists (deleted since the shell entered it): cd into one"
        )
    return None


@contextlib.contextmanager
def _quit_stops_as_interrupt() -> Iterator[None]:
    """Ctrl-\\ (SIGQUIT) stops a command as Ctrl-C does: the walk says which lever may be in
    effect and the incident resumes. Left to its default, it killed the process where it stood
    (a lever's request in flight, nothing said) and the shell printed 'Quit (core dumped)'."""
    import signal
    import threading

    quit_signal = getattr(signal, "SIGQUIT", None)
    if quit_signal is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        from aiir.prompts import OperatorLeft

        raise OperatorLeft("Ctrl-\\")

    previous = signal.signal(quit_signal, stop)
    try:
        yield
    finally:
        signal.signal(quit_signal, previous)


def _app_for(argv: list[str]) -> typer.Typer:
    """``app`` with only the command or command group that ``argv`` starts with, when it starts
    with the name of one (``aiir validate ...``), else all of ``app``. Typer builds the Click
    command of every command it is given, their parameters read from their signatures; building
    the one that runs saves ``aiir validate ONE.yaml`` and ``aiir run --help`` about 6 ms of the
    ~7 (``bench.startup``). What that command says (its help, its usage errors) is the same:
    neither shows the others, and the root's callback (``--version``) stays."""
    name = argv[0] if argv else None
    commands = [info for info in app.registered_commands if info.name == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if not commands and not groups:
        return app
    one = copy.copy(app)
    one.registered_commands, one.registered_groups = commands, groups
    return one


def _process_environment() -> "Environment":
    from aiir.environment import Environment

    return Environment.from_process(terminal=_terminal_prompter)


def _terminal_prompter() -> "Prompter":
    from aiir.terminal.prompter import terminal_prompter

    return terminal_prompter()


def _metavars_only(command: Any) -> None:
    """Help shows an argument as its metavar (RUNBOOK), not also as a Python type (``<str>``,
    ``<list[str]>``), which Typer appends to every argument; every argument here has a metavar."""
    for param in command.params:
        if isinstance(param, TyperArgument) and param.metavar is not None:
            param.display_type_rich = _no_type  # type: ignore[method-assign]
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _metavars_only(sub)


def _unset_flags_false(command: Any) -> None:
    """Typer leaves ``--help``, ``--install-completion`` and ``--show-completion`` at None when not
    given, and coerces None to a bool through a pydantic adapter: importing pydantic for that
    alone made ``aiir run --help`` twice as slow as ``aiir --help`` (``bench.startup``). Unset,
    they are False, which their callbacks read the same way and which needs no coercion."""
    help_option = command.get_help_option(typer.Context(command, help_option_names=HELP))
    for param in [*command.params, help_option]:
        descriptor = getattr(param, "type_descriptor", None)
        if param.default is None and getattr(descriptor, "annotation", None) is bool:
            param.default = False
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _unset_flags_false(sub)


class _Text(RuntimeParam):
    """A ``str`` or ``list[str]`` parameter as Typer's pydantic adapter makes it (``str(value)``,
    and a list of those), without building the adapter: building it imported Typer's whole
    adapter module and made a validator per parameter, about a tenth of ``aiir validate
    ONE.yaml`` (``bench.startup``)."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        if self.annotation is str:
            return str(value)
        return [str(item) for item in (value if isinstance(value, list | tuple) else [value])]


def _plain_text(command: Any) -> None:
    """Every text parameter without a parser of its own coerced by :class:`_Text`."""
    for param in command.params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or descriptor.parameter_info.parser is not None:
            continue
        if descriptor.annotation in (str, list[str]):
            param._runtime_param = _Text(descriptor.parameter_info, descriptor.annotation)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _plain_text(sub)


def _no_empty_paths(command: Any) -> None:
    """A path option given an empty or blank value (``--incident-dir "$DIR"``, DIR unset) is a
    usage error. Taken as a path, '' is the current directory: a walk's incident was written
    straight into it, where no later command looks, and ' ' made a folder named by a space."""
    for param in command.params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(descriptor.annotation, "__name__", "") == "Path":
            param.process_value = functools.partial(_named_path, param.process_value)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _no_empty_paths(sub)


def _named_path(process: "Callable[[Any, Any], Any]", ctx: Any, value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise typer.BadParameter(f"{value!r}: an empty name (an unset variable?); name a path")
    return process(ctx, value)


def _no_type(ctx: object) -> None:
    return None


def argv_is_walk(argv: list[str] | None) -> bool:
    """Walks print their own resume hint when interrupted."""
    args = sys.argv[1:] if argv is None else argv
    return bool(args) and args[0] in {"run", "resume", "tabletop"}


def run() -> None:
    """Console-script entry point (and ``python -m aiir``)."""
    _unicode_streams()
    status = _validate() if sys.argv[1:2] == ["validate"] else main()
    # The process ends here. The interpreter's last collection would walk every object the
    # command made, only to find what exit reclaims anyway (~10 ms after a canary run): skip it.
    gc.freeze()
    sys.exit(status)


def _validate() -> int:
    """``aiir validate``, with the models made without pydantic (:mod:`aiir.formats.lean`) where
    this process can start again with pydantic for a document they cannot vouch for."""
    from aiir.formats import lean

    lean.choose(sys.argv[1:])
    try:
        return main()
    except lean.Unsure:
        lean.again_with_pydantic()


def _unicode_streams() -> None:
    """Standard output and error able to carry any character. A pipe or a file whose encoding
    is not UTF-8 (``PYTHONIOENCODING=ascii``, a C or Latin-1 locale without coercion, a Windows
    code page) gets UTF-8, as Python's own UTF-8 mode gives it: JSON and exports whole. A
    terminal keeps its encoding and shows ``?`` for a character it has none for. Either way a
    ``·`` in a timeline no longer ended ``aiir show`` as an internal error half-way."""
    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding.startswith("utf") or reconfigure is None:
            continue
        try:
            if stream.isatty():
                reconfigure(errors="replace")
            else:
                reconfigure(encoding="utf-8")
        except (OSError, ValueError):  # closed (``>&-``), or already written to in another way
            continue


def _once(given: "Environment | Callable[[], Environment] | None") -> "Callable[[], Environment]":
    """The command's environment, made when it first asks (``aiir --help`` never does)."""

    @functools.cache
    def environment() -> "Environment":
        from aiir.redact import watch

        env = given() if callable(given) else given or _process_environment()
        watch(env.environ)  # an environment made before this command began was just forgotten
        return env

    return environment


@contextlib.contextmanager
def _closing(
    environment: "Callable[[], Environment]",
    given: "Environment | Callable[[], Environment] | None",
) -> Iterator[None]:
    """The environment this command made closed when it ends (its HTTP client, and with it a
    simulated gateway's event loop and its sockets); one handed in is its maker's to close. A
    process exits anyway, but ``main`` called again and again in one process (an editor's
    plugin, the tests) kept three descriptors a practice run, until select() ran out of them."""
    try:
        yield
    finally:
        made = getattr(environment, "cache_info", None)
        handed_in = given is not None and not callable(given)
        if not handed_in and made is not None and made().currsize:
            environment().close()


def _forget_secrets() -> None:
    redact = sys.modules.get("aiir.redact")  # not loaded yet: nothing to forget, and no import
    if redact is not None:
        redact.forget()


def _say(message: str) -> None:
    """One error for a person: secrets masked, and inert (user-given text in it can move no
    cursor and set no colour), a long value quoted in it kept by its two ends; not said when
    standard error went away."""
    from aiir.errors import clipped
    from aiir.redact import scrub
    from aiir.terminal.inert import plain

    lines = scrub(str(message)).split("\n")
    try:
        print("aiir: " + "\n".join(clipped(plain(line)) for line in lines), file=sys.stderr)
    except OSError as exc:
        if not _output_gone(exc):
            raise


# What writing to a terminal that hung up (EIO) or to a pipe whose reader left (EPIPE) raises.
_GONE_ERRNOS = frozenset({errno.EIO, errno.EPIPE})


def _output_gone(exc: OSError) -> bool:
    """Whether ``exc`` is the command's output going away (``aiir watch`` in a terminal that was
    closed, ``aiir show ID | head -1``), not an error of a file it writes: an EIO or EPIPE with no
    file named, while standard output or error has hung up. A journal or evidence file that
    cannot be written raises the same errors with the terminal still there, and is reported."""
    if exc.errno not in _GONE_ERRNOS or exc.filename is not None:
        return False
    return any(_hung_up(stream) for stream in (sys.stdout, sys.stderr))


def _hung_up(stream: object) -> bool:
    """Whether ``stream``'s descriptor is a terminal or pipe whose other end went away."""
    import select

    poll = getattr(select, "poll", None)  # not on Windows
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        if poll is None or not isinstance(fd, int):
            return False
        poller = poll()
        poller.register(fd, select.POLLOUT)
        return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # closed, or not a real descriptor
        return False


def _quietly() -> int:
    """End a command whose output went away: nothing said (there is nobody to read it), and
    what is still buffered for the lost stream dropped, so the interpreter's last flush raises
    no 'Exception ignored ... BrokenPipeError' either. Exit 1, the status Click gives a command
    whose pipe broke (it handles EPIPE before this does): the work was not done to the end."""
    import os

    for stream in (sys.stdout, sys.stderr):
        if _hung_up(stream):
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
    return ExitStatus.FAILED


def _usage(exc: typer.TyperException) -> None:
    """A usage error as one line naming the command and what was wrong with its flags, and where
    help is: ``aiir graph: Invalid value for '--format' / '-f': 'jpg' is not one of ... (see: aiir
    graph --help)``. A command run with no arguments at all shows its help instead."""
    import io

    from aiir.terminal.inert import plain

    show = getattr(exc, "show", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and show is not None:  # Typer's own copy
        shown = io.StringIO()
        show(file=shown)
        sys.stderr.write(plain(shown.getvalue()))
        return
    message = " ".join(exc.format_message().replace("Value error, ", "").split())
    context = getattr(exc, "ctx", None)
    where = context.command_path if context is not None else "aiir"
    _say(f"{where.removeprefix('aiir').strip() or 'usage'}: {message} (see: {where} --help)")


def _crash() -> int:
    import os
    import tempfile
    import time
    import traceback

    from aiir.redact import scrub

    fd, path = tempfile.mkstemp(prefix=f"aiir-crash-{int(time.time())}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(scrub(traceback.format_exc()))
    _say(f"internal error (a bug in aiir); details written to {path}")
    return ExitStatus.FAILED
