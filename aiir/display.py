"""What the operator sees: one clear screen per step. All variable text is scrubbed and inert."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from aiir.environment import parse_iso
from aiir.gateway import Reply
from aiir.incident import Incident, LeverRecord
from aiir.safe import inert, plain
from aiir.schema import Node, Runbook

SEVERITY_STYLE = {"SEV1": "bold white on red", "SEV2": "bold red", "SEV3": "yellow", "SEV4": "cyan"}
LEVER_STYLE = {
    "verified": "bold green",
    "released": "green",
    "engaged": "yellow",
    "dry-run": "cyan",
}


def clock_text(elapsed: dt.timedelta) -> str:
    """``T+01:02:03``."""
    seconds = max(int(elapsed.total_seconds()), 0)
    return f"T+{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


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


class Screen:
    """Renders engine events to a console; ``scrub`` masks secrets first."""

    def __init__(self, console: Console, scrub: Callable[[str], str]) -> None:
        self.console = console
        self.scrub = scrub
        self.terminal = console.is_terminal  # asked once: rich re-reads the environment each time

    def text(self, value: str, style: str = "") -> Text:
        return inert(self.scrub(value), style)

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
            self.console.print(Panel(body, title=title, title_align="left", border_style=border))
            return
        heading = Text("── ")
        heading.append_text(title)
        self.say(heading)
        self.say(body)

    def opened(self, incident: Incident, runbook: Runbook, resumed: bool = False) -> None:
        verb = "Resuming" if resumed else "Incident"
        header = Text.assemble(
            (f"{verb} {incident.id}", "bold"),
            "  ",
            (incident.severity, SEVERITY_STYLE.get(incident.severity, "")),
            "  ",
            self.text(f"{runbook.title} ({runbook.id} v{runbook.version})"),
        )
        if incident.drill:
            header.append("  DRILL", style="bold magenta")
        if incident.dry_run:
            header.append("  DRY RUN: nothing is sent", style="bold cyan")
        self.say(header)

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
        meta = Text.assemble(
            (incident.severity, SEVERITY_STYLE.get(incident.severity, "")),
            f"  {elapsed}  ",
            (f"owner: {owner}  " if owner else "", "bold"),
            (f"{node.kind} {runbook.id}/{node_id}", "dim"),
        )
        body = Text()
        body.append_text(meta)
        if text.strip():
            body.append("\n")
            body.append_text(self.text(reflow(text.strip())))
        self.box(body, self.text(node.title, "bold"))

    def severity(self, severity: str) -> None:
        self.say(Text.assemble("Severity now ", (severity, SEVERITY_STYLE.get(severity, ""))))

    def note(self, message: str) -> None:
        self.say(self.text(f"  {message}", "dim"))

    def failure(self, problem: str) -> None:
        self.say(self.text(f"✗ {problem}", "bold red"))

    def request(self, what: str, summary: dict[str, Any]) -> None:
        shown = json.dumps(summary, indent=2, ensure_ascii=False, default=str)
        self.box(self.text(shown), self.text(what, "bold"), "yellow")

    def reply(self, reply: Reply) -> None:
        style = "green" if reply.ok else "red"
        status = reply.status if reply.status is not None else "no response"
        self.say(self.text(f"  → {status}: {reply.reason}", style))
        if not reply.ok and reply.text:
            self.say(self.text(f"    {plain(reply.text[:500])}", "dim"))

    def lever(self, record: LeverRecord) -> None:
        style = LEVER_STYLE.get(record.state, "bold red")
        self.say(self.text(f"  Lever {record.lever}: {record.state}: {record.verdict}", style))

    def captured(self, name: str, relative: str, digest: str, reply: Reply) -> None:
        style = "green" if reply.ok else "red"
        self.say(
            self.text(
                f"  Evidence {name}: {relative} sha256 {digest[:16]}… ({reply.size} bytes)", style
            )
        )
        if not reply.ok:
            self.reply(reply)

    def message(self, channel: str, audience: str, text: str) -> None:
        self.box(self.text(text), Text(f"Message ({channel}, {audience})"), "blue")

    def delivered(self, channel: str, ok: bool, reason: str, reference: str | None) -> None:
        ref = f" ({reference})" if reference else ""
        if ok:
            self.say(self.text(f"  ✓ sent to {channel}{ref}", "green"))
        else:
            self.say(self.text(f"  ✗ {channel} did not take it: {reason}", "bold red"))

    def reminder(self, message: str) -> None:
        self.say(self.text(f"⏰ {message}", "bold yellow"))

    def ended(self, incident: Incident, outcome: str, summary: str) -> None:
        style = "bold green" if outcome not in {"failed", "aborted"} else "bold red"
        self.say(Text.assemble(("Outcome: ", "bold"), (outcome, style)))
        if summary:
            self.say(self.text(summary))
        engaged = incident.needs_release()
        if engaged:
            names = ", ".join(r.lever for r in engaged)
            self.say(
                self.text(
                    f"Still engaged: {names}; release with: aiir release {incident.id}", "yellow"
                )
            )

    @contextlib.contextmanager
    def waiting(self, label: str) -> Iterator[None]:
        if self.console.is_terminal:
            with self.console.status(self.text(label)):
                yield
        else:
            yield
