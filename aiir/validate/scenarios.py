"""A scenario (drill or tabletop) checked against its runbook before anything runs: the runbook
found and checked, the answers, inputs and faults fitting it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiir.errors import InputError, LoadError
from aiir.formats.findings import schema_findings
from aiir.formats.library import shipped_by_id
from aiir.formats.loader import Document, load_file
from aiir.formats.modeling import ValidationError
from aiir.formats.scenario import Scenario
from aiir.formats.schema import Runbook
from aiir.validate.answers import check_answers, coerce_inputs
from aiir.validate.checked import load_checked


def load_scenario(path: Path) -> tuple[Document, Scenario]:
    doc = load_file(path)
    try:
        return doc, Scenario.model_validate(doc.data)
    except ValidationError as exc:
        first = schema_findings(doc, exc)[0]
        raise LoadError(
            first.path, first.line, first.col, first.message, first.breadcrumb
        ) from None


def runbook_path(scenario: Scenario, path: Path) -> Path:
    """A scenario names its runbook by path (relative to the scenario) or by shipped id."""
    if scenario.runbook.endswith((".yaml", ".yml")):
        candidate = (path.parent / scenario.runbook).resolve()
        if candidate.is_file():
            return candidate
        raise InputError(
            f"{path}: runbook {scenario.runbook!r} not found (relative to the scenario)"
        )
    shipped = shipped_by_id("runbooks", scenario.runbook)
    if shipped is not None:
        return shipped
    raise InputError(f"{path}: no shipped runbook with id {scenario.runbook!r}")


@dataclass
class Prepared:
    """A scenario checked and ready to run: nothing has been executed yet."""

    path: Path
    scenario: Scenario
    runbook_file: Path
    runbook: Runbook
    answers: dict[str, Any]


def prepare(path: Path, profile_folders: tuple[Path, ...] = ()) -> Prepared:
    """Load and check everything a drill needs; bad input is an error before anything runs.
    The runbook's gateways may use a team's own profiles from ``profile_folders``."""
    doc, scenario = load_scenario(path)
    runbook_file = runbook_path(scenario, path)
    runbook = load_checked(runbook_file, profile_folders)
    answers = check_answers(doc, scenario.answers, runbook, ("answers",))
    unknown = sorted(set(scenario.inputs) - set(runbook.inputs))
    if unknown:
        declared = ", ".join(runbook.inputs) or "none"
        message = f"runbook {runbook.id!r} has no input {unknown[0]!r} (inputs: {declared})"
        raise doc.error(("inputs", unknown[0]), message, key=True)
    try:
        coerce_inputs(runbook, scenario.inputs, "inputs:")
    except InputError as exc:  # a required input missing, or one of the wrong type
        raise doc.error(("inputs",) if scenario.inputs else ("runbook",), str(exc)) from None
    for name in scenario.env:
        if name.upper().startswith("AIIR_") and name not in runbook.env:
            message = (
                f"{name} is aiir's own setting (where incidents go, which store, which "
                f"channel), not a variable of runbook {runbook.id!r}: a scenario sets only its "
                "runbook's variables"
            )
            raise doc.error(("env", name), message, key=True)
    for index, fault in enumerate(scenario.faults):
        if fault.at is not None and fault.at not in runbook.nodes:
            raise doc.error(
                ("faults", index, "at"), f"runbook {runbook.id!r} has no node {fault.at!r}"
            )
    timer_problem(doc, scenario, runbook)
    expectation_problem(doc, scenario, runbook, runbook_file)
    return Prepared(path, scenario, runbook_file, runbook, answers)


def timer_problem(doc: Document, scenario: Scenario, runbook: Runbook) -> None:
    """The nodes ``takes:`` names and the timers ``expect.timers`` names are the runbook's."""
    for node_id in scenario.takes:
        if node_id not in runbook.nodes:
            message = f"runbook {runbook.id!r} has no node {node_id!r}"
            raise doc.error(("takes", node_id), message, key=True)
    names = {t.name for t in runbook.timers}
    names |= {node_id for node_id, node in runbook.nodes.items() if node.within is not None}
    for name in scenario.expect.timers:
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            message = f"runbook {runbook.id!r} has no timer {name!r} (timers: {known})"
            raise doc.error(("expect", "timers", name), message, key=True)


def expectation_problem(doc: Document, scenario: Scenario, runbook: Runbook, file: Path) -> None:
    """The nodes ``expect.path``, ``visits`` and ``avoids`` name (a step without a dot) are the
    runbook's, the levers ``expect.levers`` names its own or those of the runbooks it calls. A
    typo was a drill that failed at the end, or, in ``avoids`` or ``not_engaged``, one that
    passed for ever."""
    expect = scenario.expect
    for key, steps in (
        ("path", expect.path or []),
        ("visits", expect.visits),
        ("avoids", expect.avoids),
    ):
        for index, step in enumerate(steps):
            if "." not in step and step not in runbook.nodes:
                message = f"runbook {runbook.id!r} has no node {step!r}"
                raise doc.error(("expect", key, index), message)
    levers = expect.levers
    known = _levers_within(runbook, file) if levers is not None else None
    if levers is None or known is None:
        return
    for key in ("engaged", "verified", "released", "not_engaged"):
        for index, name in enumerate(getattr(levers, key)):
            if name not in known:
                shown = ", ".join(sorted(known)) or "none"
                message = (
                    f"runbook {runbook.id!r} and the runbooks it calls declare no lever "
                    f"{name!r} (levers: {shown})"
                )
                raise doc.error(("expect", "levers", key, index), message)


def _levers_within(runbook: Runbook, file: Path) -> set[str] | None:
    """The levers of ``runbook`` and of every runbook it calls, found as a walk finds them;
    None when a call cannot be followed (the walk reports that itself)."""
    from aiir.formats.library import data_dir
    from aiir.formats.schema import CallNode
    from aiir.validate.calls import resolver

    found: set[str] = set()
    seen: set[str] = set()
    todo = [(str(file.resolve()), runbook)]
    while todo:
        key, current = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        found |= set(current.levers)
        resolve = resolver([Path(key).parent, data_dir("runbooks")])
        for node in current.nodes.values():
            if isinstance(node, CallNode):
                target = resolve(node.runbook)
                if target is None:
                    return None
                todo.append(target)
    return found
