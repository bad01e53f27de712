"""What the fuzzer does with each mutated document (:mod:`tests.fuzzing`): lay it out in a folder
of its own, run the commands that read it in this process, and check the rule on each."""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiir.cli import main
from tests.fuzzing import ROOT, Case
from tests.servers import Gateway

ANSWERS = ROOT / "examples" / "answers" / "prompt-injection.yaml"
TOKEN = "sk-fuzz-master-key-0123456789"
MAX_LINE = 1100  # an error is read on a screen (errors.MESSAGE_KEEP, a path and a prefix)
LOG = sys.__stderr__
_LOCATED = re.compile(r"(?:aiir: )?[^\s:]+:\d+:\d+: ")


@dataclass(frozen=True)
class Step:
    """One command over the case's document; ``about`` is the file an error may name."""

    argv: list[str]
    about: Path
    validated: bool = False  # this is `aiir validate` of the document itself
    sends: bool = False  # it talks to the loopback gateway


@dataclass(frozen=True)
class Outcome:
    step: Step
    status: int
    out: str
    err: str


@functools.cache
def _drills_of(runbook_id: str) -> list[Path]:
    found = []
    for path in sorted((ROOT / "examples" / "drills").glob("*.yaml")):
        if f"\nrunbook: {runbook_id}\n" in path.read_text(encoding="utf-8"):
            found.append(path)
    return found


def _runbook_of_profile(name: str) -> Path | None:
    for path in sorted((ROOT / "runbooks").glob("*.yaml")):
        if f"profile: {name}\n" in path.read_text(encoding="utf-8"):
            return path
    return None


def _place(case: Case, folder: Path) -> Path:
    """Write the case's document into ``folder`` under its shipped name (a directory for a
    case without content)."""
    doc = folder / case.seed.path.name
    if case.content is None:
        doc.mkdir()
        (doc / "inside.yaml").write_text("aiir: 1\n", encoding="utf-8")
    else:
        doc.write_bytes(case.content)
    return doc


def steps(case: Case, tmp: Path, gateway_url: str) -> Iterator[Step]:
    """The commands run over ``case``, its files laid out under ``tmp`` (the current folder)."""
    kind = case.seed.kind
    inc = ["--incident-dir", str(tmp / "inc")]
    if kind == "workspace" or kind in {"team", "inventory"}:
        for name in ("aiir.yaml", "team.yaml", "inventory.yaml"):
            shutil.copy(ROOT / "aiir" / "scaffold" / name, tmp / name)
        doc = _place_over(case, tmp)
        yield Step(["validate", str(doc)], doc, validated=True)
        yield Step(["validate", "prompt-injection"], doc)
        yield Step(["drill", "prompt-injection", *inc], doc)
        yield Step(["inventory", "show"] if kind == "inventory" else ["library"], doc)
        return
    docs = tmp / "docs"
    docs.mkdir()
    if kind == "profile":
        profiles = tmp / "profiles"
        profiles.mkdir()
        doc = _place(case, profiles)
        yield Step(["validate", str(doc)], doc, validated=True)
        runbook = _runbook_of_profile(case.seed.path.stem)
        if runbook is not None:
            yield Step(["validate", str(runbook)], doc)
            yield Step(["run", str(runbook), "--dry-run", *inc], doc)
            for drill in _drills_of(runbook.stem)[:1]:
                yield Step(["drill", str(drill), *inc], doc)
        return
    if case.seed.path.parent.name == "runbooks" and (case.seed.path.parent / "shared").is_dir():
        shutil.copytree(case.seed.path.parent / "shared", docs / "shared")
    doc = _place(case, docs)
    yield Step(["validate", str(doc)], doc, validated=True)
    if kind == "runbook":
        yield Step(["graph", str(doc)], doc)
        yield Step(["graph", str(doc), "-f", "mermaid"], doc)
        yield Step(["run", str(doc), "--dry-run", *inc], doc)
        drill_of = case.seed.path.stem
        for drill in _drills_of(drill_of)[:1]:
            text = drill.read_text(encoding="utf-8")
            placed = docs / f"drill-{drill.name}"
            here = f"\nrunbook: {doc.name}\n"
            placed.write_text(text.replace(f"\nrunbook: {drill_of}\n", here), encoding="utf-8")
            yield Step(["drill", str(placed), *inc], doc)
        if case.seed.path.stem == "prompt-injection":
            answers = ["-a", str(ANSWERS), "--yes", *inc]
            yield Step(["run", str(doc), "--sandbox", *answers], doc)
            real = ["-g", f"gateway={gateway_url}", *answers]
            yield Step(["run", str(doc), *real], doc, sends=True)
    elif kind in {"scenario", "tabletop"}:
        yield Step(["drill", str(doc), *inc], doc)
    elif kind == "canary":
        hist = ["--history-dir", str(tmp / "hist"), *inc]
        yield Step(["canary", "run", str(doc), "--sandbox", *hist], doc)
    elif kind == "detect":
        dead = "http://127.0.0.1:9"
        where = ["--prometheus", dead, "--phoenix", dead, "--history-dir", str(tmp / "hist")]
        yield Step(["detect", str(doc), "--sandbox", *where, *inc], doc)
    elif kind == "answers":
        yield Step(["run", "prompt-injection", "--sandbox", "--yes", "-a", str(doc), *inc], doc)


def _place_over(case: Case, folder: Path) -> Path:
    doc = folder / case.seed.path.name
    doc.unlink()
    if case.content is None:
        doc.mkdir()
    else:
        doc.write_bytes(case.content)
    return doc


def run_case(
    case: Case, tmp: Path, gateway: tuple[str, Gateway], capsys: pytest.CaptureFixture[str]
) -> list[str]:
    """Run every step of ``case`` in ``tmp``; the broken rules, one line each."""
    url, state = gateway
    problems: list[str] = []
    accepted: bool | None = None
    for step in steps(case, tmp, url):
        before = len(state.calls)
        status = _main(step.argv, tmp / "profiles" if case.seed.kind == "profile" else None)
        out, err = capsys.readouterr()
        outcome = Outcome(step, status, out, err)
        if os.environ.get("FUZZ_LOG"):  # by hand: every step's status and error
            said = err.strip()[:400]
            print(f"@@ {case.number} {case.mutation} {status} {step.argv} {said!r}", file=LOG)
        if step.validated:
            accepted = status == 0
        problems.extend(_broken(outcome, tmp, len(state.calls) - before, accepted))
        if outcome.status == 2 and _names(outcome, step.about):
            shutil.rmtree(tmp / "inc", ignore_errors=True)
    return problems


def _main(argv: list[str], profiles: Path | None) -> int:
    """``aiir ARGV``; with ``profiles``, the team's own profiles are there (the mutated one)."""
    if profiles is None:
        return main(list(argv))
    os.environ["AIIR_PROFILE_PATH"] = str(profiles)
    try:
        return main(list(argv))
    finally:
        del os.environ["AIIR_PROFILE_PATH"]


def _names(outcome: Outcome, doc: Path) -> bool:
    """The error is about the document: it names it with a line."""
    return any(
        f"{doc}:" in line[:2000] and _LOCATED.match(line[:2000])
        for line in outcome.err.splitlines()
    )


def _broken(outcome: Outcome, tmp: Path, sent: int, accepted: bool | None) -> list[str]:
    argv = " ".join(outcome.step.argv)
    text = outcome.out + outcome.err
    first = (outcome.err.strip().splitlines() or [""])[0][:300]
    found: list[str] = []
    if outcome.status not in (0, 1, 2):
        found.append(f"exit {outcome.status}: {argv}: {first}")
    if "Traceback" in text or "internal error" in text:
        crash = re.search(r"details written to (\S+)", text)
        tail = Path(crash.group(1)).read_text().strip().splitlines()[-1] if crash else ""
        found.append(f"crash: {argv}: {first} {tail}")
    errors = outcome.err.splitlines() + (outcome.out.splitlines() if outcome.step.validated else [])
    if any(len(line) > MAX_LINE for line in errors):
        found.append(f"an error line of {max(map(len, errors))} characters: {argv}: {first}")
    if outcome.status == 2:
        if not outcome.err.strip():
            found.append(f"exit 2 without a word on stderr: {argv}")
        if _names(outcome, outcome.step.about):
            made = [p.name for p in (tmp / "inc").iterdir()] if (tmp / "inc").is_dir() else []
            if made:
                found.append(f"exit 2 on the document left incidents {made}: {argv}")
            if sent:
                found.append(f"exit 2 on the document after {sent} request(s): {argv}")
            if accepted and not outcome.step.validated:
                found.append(f"validate accepted what this refuses: {argv}: {first}")
    return found
