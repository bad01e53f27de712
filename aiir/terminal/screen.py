"""What the operator sees: one clear screen per step. All variable text is scrubbed and inert."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.control import strip_control_codes
from rich.panel import Panel
from rich.text import Text

from aiir.formats.schema import Lever, Node, Runbook
from aiir.incident.state import Incident, LeverRecord
from aiir.outbound.gateway import Call, Reply
from aiir.outbound.readable import full_request, readable
from aiir.terminal.fit import LIST_QUESTION_ROWS, QUESTION_ROWS, fits, fitted, list_rows
from aiir.terminal.inert import CELL, ends, inert, plain
from aiir.terminal.keys import unechoed
from aiir.timestamps import clock_text, parse_iso

SEVERITY_STYLE = {"SEV1": "bold white on red", "SEV2": "bold red", "SEV3": "yellow", "SEV4": "cyan"}
EXERCISE_BANNER = {
    "sandbox": "SANDBOX: simulated gateway, nothing reaches a real channel",
    "drill": "DRILL: messages stay in the exercise's inbox, nothing reaches a real channel",
    "tabletop": "TABLETOP EXERCISE: simulated gateway, nothing reaches a real channel",
}
LIVE_BANNER = "LIVE: real gateways and channels"
STATE_WORDS = {"unknown": "possibly engaged (unknown)", "not-effective": "engaged, NOT effective"}
IN_FLIGHT = "possibly engaged: stopped while its request was in flight"
TITLE_FRAME = 6  # a box's corners, the rules beside its title and the spaces around it
COMPACT = 160  # characters of a request body shown before the question
MAX_SHOWN = 20_000  # characters of one value shown (a message, a summary, a note)
LEVER_STYLE = {
    "verified": "bold green",
    "released": "green",
    "engaged": "yellow",
    "dry-run": "cyan",
}


def compact(body: Any) -> str:
    """A request body on one short line: the question stays on screen at 80x24."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= COMPACT else text[: COMPACT - 1] + "… (d: the full request)"


def reflow(text: str) -> str:
    """Join a YAML block's hard-wrapped lines; keep blank lines and list items."""
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        starts_item = stripped[:1] in {"-", "*", "•"} or stripped[:2].rstrip(".").isdigit()
        if out and out[-1] and stripped and not starts_item:
            out[-1] = f"{out[-1]} {stripped}"
        else:
            out.append(stripped)
    return "\n".join(out)


class TerminalScreen:
    """Renders engine events to a console; ``scrub`` masks secrets first."""

    def __init__(self, console: Console, scrub: Callable[[str], str]) -> None:
        self.console = console
        self.scrub = scrub
        self.terminal = console.is_terminal  # asked once: rich re-reads the environment each time

    def shown(self, value: str) -> str:
        """``value`` scrubbed and cut to :data:`MAX_SHOWN` characters, with a mark: a gateway's
        5 MB value in a message or a summary would bury the walk (the journal keeps it whole)."""
        value = self.scrub(value)  # masked before the cut: a secret cut in two is still masked
        if len(value) <= MAX_SHOWN:
            return value
        more = len(value) - MAX_SHOWN
        return f"{value[:MAX_SHOWN]}… ({more:,} more characters, kept in the journal)"

    def text(self, value: str, style: str = "") -> Text:
        return inert(self.shown(value), style)

    def line(self, value: str, style: str = "") -> None:
        """``value`` scrubbed and inert, on a line of its own; a log gets its plain text, with
        no rich Text made only to be flattened (``bench.engine``)."""
        if self.terminal:
            self.console.print(self.text(value, style))
        else:
            self.console.file.write(plain(self.shown(value)) + "\n")

    def say(self, line: Text) -> None:
        """In a terminal through rich; in a log straight to the file: no wrapping, no styling
        to strip, a fraction of the cost per line."""
        if self.terminal:
            self.console.print(line)
        else:
            self.console.file.write(line.plain + "\n")

    def box(self, body: Text, title: Text, border: str = "") -> None:
        """A framed panel in a terminal; in a log (CI, a pipe) a titled block, cheaper to draw
        and easier to grep."""
        if self.terminal:
            room = self.console.size.width - TITLE_FRAME
            if title.cell_len > room:  # rich cuts it with no mark: a title that reads as whole
                title = title.copy()
                title.truncate(max(room - 1, 1))
                title.append("…")
            self.console.print(Panel(body, title=title, title_align="left", border_style=border))
            return
        heading = Text("── ")
        heading.append_text(title)
        self.say(heading)
        self.say(body)

    def box_lines(
        self,
        title: str,
        lines: list[tuple[str, str]],
        border: str = "",
        drop: tuple[int, ...] | None = None,
    ) -> None:
        """A box of lines (text, style), each scrubbed and inert, under a bold title; a log gets
        the plain lines :meth:`box` writes, with no rich Text made only to be flattened. With
        ``drop`` (a question follows), the box fits the terminal's height above the question,
        giving up the lines at those indexes first (:func:`aiir.terminal.fit.fitted`)."""
        if not self.terminal:
            body = "\n".join(plain(self.shown(line)) for line, _ in lines)
            self.console.file.write(f"── {plain(self.scrub(title))}\n{body}\n")
            return
        shown = [self.text(line, style) for line, style in lines]
        if drop is not None:
            shown = fitted(self.console, shown, drop)
        body_text = Text("\n").join(shown)
        self.box(body_text, self.text(title, "bold"), border)

    def opened(self, incident: Incident, runbook: Runbook, resumed: bool = False) -> None:
        if incident.dry_run:  # nothing is kept: no incident id to quote or resume
            header = Text.assemble(("DRY RUN", "bold cyan"), ": nothing is sent, nothing is kept  ")
        else:
            verb = "Resuming" if resumed else "Incident"
            header = Text.assemble((f"{verb} {incident.id}", "bold"), "  ")
        header.append_text(
            Text.assemble(
                (incident.severity, SEVERITY_STYLE.get(incident.severity, "")),
                "  ",
                self.text(f"{ends(runbook.title, CELL)} ({runbook.id} v{runbook.version})"),
            )
        )
        if incident.exercise:
            banner = EXERCISE_BANNER.get(incident.exercise, incident.exercise.upper())
            header.append(f"  {banner}", style="bold magenta")
        elif not incident.dry_run:  # as plain as the exercises' banner: this one is for real
            header.append(f"  {LIVE_BANNER}", style="bold red")
        self.say(header)
        if resumed:
            self.recap(incident)

    def recap(self, incident: Incident) -> None:
        """Which levers are in effect now (or may be): what the operator has to keep in mind.
        A lever left at its intent had its request out when the walk stopped (Ctrl-C while it
        was in flight): it may have taken effect, and the resume probes it before resending."""
        engaged = [
            f"{r.lever} ({STATE_WORDS.get(r.state, r.state)})" for r in incident.needs_release()
        ]
        engaged += [f"{r.lever} ({IN_FLIGHT})" for r in incident.levers if r.state == "intent"]
        if not engaged:
            self.line("  No lever is engaged.", "dim")
            return
        self.line(f"  Levers engaged now: {', '.join(engaged)}", "yellow")

    def node(
        self,
        incident: Incident,
        runbook: Runbook,
        node_id: str,
        node: Node,
        text: str,
        now: dt.datetime,
        on_call: str | None = None,
    ) -> None:
        elapsed = clock_text(now - parse_iso(incident.started_at)) if incident.started_at else ""
        owner = on_call or node.owner
        if not self.terminal:  # a log: the lines box() writes, without rich Text made to flatten
            line = f"{incident.severity}  {elapsed}  {f'owner: {owner}  ' if owner else ''}"
            line = strip_control_codes(f"{line}{node.kind} {runbook.id}/{node_id}")
            if text.strip():  # plain() removes every control character rich's Text does
                line += "\n" + plain(self.scrub(reflow(text.strip())))
            self.console.file.write(f"── {ends(plain(self.scrub(node.title)), CELL)}\n{line}\n")
            return
        meta = Text.assemble(
            (incident.severity, SEVERITY_STYLE.get(incident.severity, "")),
            f"  {elapsed}  ",
            (f"owner: {owner}  " if owner else "", "bold"),
            (f"{node.kind} {runbook.id}/{node_id}", "dim"),
        )
        lines = [meta]
        if text.strip():
            lines += self.text(reflow(text.strip())).split("\n")
        below = self.asked_below(node)
        if below is not None:  # the question under the box stays on the screen with its title
            lines = fitted(self.console, lines, drop=(0,), below=below, more="…")
        self.box(Text("\n").join(lines), self.text(node.title, "bold"))

    def asked_below(self, node: Node) -> int | None:
        """The rows the question a node asks takes under its box (a list's choices, as many as
        :func:`aiir.terminal.fit.list_rows` shows, and its "add a note" entry), or None for a
        node whose box has no question right under it."""
        height = self.console.size.height
        entries = {
            "question": len(getattr(node, "choices", ())) + 1,  # and "✎ add a note"
            "multiselect": len(getattr(node, "choices", ())),
            "checklist": len(getattr(node, "items", ())),
        }.get(node.kind)
        if entries is not None:
            return LIST_QUESTION_ROWS + list_rows(height, entries)
        return QUESTION_ROWS if node.kind in {"input", "confirm"} else None

    def severity(self, severity: str) -> None:
        self.say(Text.assemble("Severity now ", (severity, SEVERITY_STYLE.get(severity, ""))))

    def note(self, message: str) -> None:
        self.line(f"  {message}", "dim")

    def failure(self, problem: str) -> None:
        self.line(f"✗ {problem}", "bold red")

    def request(self, what: str, summary: dict[str, Any], asking: bool = False) -> None:
        """The request in full; with a question on it under the box (``asking``) and too
        little room for it all, what the lever's box says (the method and URL, the gateway,
        a compact body), fitted above the question: at 40x10 the full request pushed the box's
        title, the method and the URL off the top (``d`` at the question shows it all)."""
        full = [(line, "") for line in full_request(summary).split("\n")]
        if not asking or not self.terminal or fits(self.console, [Text(t) for t, _ in full]):
            self.box_lines(what, [(full_request(summary), "")], "yellow")
            return
        use = summary.get("use")
        lines = [
            (f"Sends: {summary.get('method')} {readable(str(summary.get('url')))}", ""),
            (f"  gateway {summary.get('gateway')!r}" + (f", {use}" if use else ""), "dim"),
        ]
        drop = [1]  # the gateway's name, then the query and the body (d shows them)
        for key, label in (("query", "Query"), ("json", "Body"), ("body", "Body")):
            if summary.get(key) is not None:
                drop.insert(0, len(lines))
                lines.append((f"{label}: {compact(summary[key])}", ""))
        self.box_lines(what, lines, "yellow", tuple(drop))

    def lever_request(self, name: str, lever: Lever, call: Call, release: str) -> None:
        """What an operator needs to decide on a lever, on one screen: what it is, the request,
        what it costs, how it is undone, and a compact body (the full request on demand)."""
        lines = [
            (lever.title, "bold"),
            (f"Sends: {call.method} {readable(call.url)}", ""),
            (f"  gateway {call.gateway!r}" + (f", {call.action}" if call.action else ""), "dim"),
        ]
        drop = [2]  # on a small terminal: the gateway's name, then the body (d shows them)
        body = call.json if call.json is not None else call.body
        if body is not None:
            drop.insert(0, len(lines))
            lines.append((f"Body: {compact(body)}", ""))
        if lever.destroys_evidence:  # above the cost: the last thing a small screen gives up
            lines.append(("DESTROYS EVIDENCE: capture before engaging it", "bold red"))
        lines.append((f"Cost: {lever.business_cost or 'not stated in the runbook'}", ""))
        lines.append((f"Release: {release}", ""))
        self.box_lines(f"Lever {name} · {lever.kind.value}", lines, "yellow", tuple(drop))

    def approvals(self, title: str, lines: list[str]) -> None:
        self.box_lines(title, [(line, "") for line in lines], "magenta")

    def reply(self, reply: Reply) -> None:
        style = "green" if reply.ok else "red"
        status = reply.status if reply.status is not None else "no response"
        self.line(f"  → {status}: {reply.reason}", style)
        if not reply.ok and reply.text:
            self.line(f"    {plain(reply.excerpt(500))}", "dim")  # masked, then cut

    def lever(self, record: LeverRecord) -> None:
        style = LEVER_STYLE.get(record.state, "bold red")
        state = STATE_WORDS.get(record.state, record.state)
        verdict = f": {record.verdict}" if record.verdict and record.verdict != record.state else ""
        self.line(f"  Lever {record.lever}: {state}{verdict}", style)

    def captured(self, name: str, relative: str, digest: str, reply: Reply) -> None:
        style = "green" if reply.ok else "red"
        self.line(
            f"  Evidence {name}: {relative} sha256 {digest[:16]}… ({reply.size} bytes)", style
        )
        if not reply.ok:
            self.reply(reply)

    def message(self, channel: str, audience: str, text: str) -> None:
        self.box(self.text(text), Text(f"Message ({channel}, {audience})"), "blue")

    def delivered(
        self,
        channel: str,
        ok: bool,
        reason: str,
        reference: str | None,
        simulated: bool = False,
        uncertain: bool = False,
    ) -> None:
        ref = f" ({reference})" if reference else ""
        if simulated:
            self.line(f"  would send to {channel} (sandbox): kept in the exercise's inbox", "cyan")
        elif ok:
            self.line(f"  ✓ sent to {channel}{ref}", "green")
        elif uncertain:  # it went out, and no answer says it was taken or refused
            self.line(f"  ? {channel}: {reason}; it may have been delivered", "bold red")
        elif reason.startswith("not sent"):  # it never left: nobody was offered it
            self.line(f"  ✗ {channel}: {reason}", "bold red")
        else:
            self.line(f"  ✗ {channel} did not take it: {reason}", "bold red")

    def reminder(self, message: str) -> None:
        self.line(f"⏰ {message}", "bold yellow")

    def ended(self, incident: Incident, outcome: str, summary: str) -> None:
        style = (
            "bold green" if outcome not in {"failed", "aborted", "not-contained"} else "bold red"
        )
        self.say(Text.assemble(("Outcome: ", "bold"), (outcome, style)))
        if summary:
            self.line(summary)
        left = incident.needs_release()
        if left:  # a lever whose state is unknown is not said to be engaged
            engaged = ", ".join(r.lever for r in left if r.state != "unknown")
            unknown = ", ".join(r.lever for r in left if r.state == "unknown")
            said = [f"Still engaged: {engaged}"] if engaged else []
            said += [f"possibly engaged (state unknown): {unknown}"] if unknown else []
            listed = "; ".join(said)
            listed = listed[:1].upper() + listed[1:]
            self.line(f"{listed}; release with: aiir release {incident.id}", "yellow")

    @contextlib.contextmanager
    def waiting(self, label: str) -> Iterator[None]:
        """A spinner while a request is out; what is typed meanwhile is not echoed under it."""
        if self.terminal:
            with unechoed(), self.console.status(self.text(label)):
                yield
        else:
            yield
