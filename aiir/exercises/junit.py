"""JUnit XML for drills: one test suite per scenario, one test case per expectation group.

The shape follows the de-facto schema GitHub, GitLab and Jenkins read (``testsuites`` >
``testsuite`` > ``testcase`` with ``failure`` / ``error``; times in seconds).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from aiir.exercises.drill import DrillResult
from aiir.redact import scrub
from aiir.terminal.inert import plain


def _text(value: str) -> str:
    """XML 1.0 cannot carry most control characters; secrets never go to a report."""
    return plain(scrub(value))


def junit_xml(results: Sequence[DrillResult], suite_name: str = "aiir drills") -> str:
    root = ET.Element("testsuites", name=suite_name)
    total = failures = errors = 0
    elapsed = 0.0
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    for result in results:
        cases = result.groups or []
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_text(result.name),
            tests=str(max(len(cases), 1)),
            failures=str(sum(1 for g in cases if not g.ok)),
            errors="1" if result.error else "0",
            skipped="0",
            time=f"{result.seconds:.3f}",
            timestamp=stamp,
            file=str(result.path),
        )
        classname = f"drill.{_text(result.name)}"
        if result.error is not None:
            case = ET.SubElement(
                suite, "testcase", name="run", classname=classname, time=f"{result.seconds:.3f}"
            )
            error = ET.SubElement(
                case, "error", message=_text(result.error.splitlines()[0])[:500], type="DrillError"
            )
            error.text = _text(result.error)
            total, errors = total + 1, errors + 1
        for group in cases:
            case = ET.SubElement(
                suite, "testcase", name=group.name, classname=classname, time="0.000"
            )
            if not group.ok:
                failure = ET.SubElement(
                    case, "failure", message=_text(group.problems[0])[:500], type="ExpectationUnmet"
                )
                failure.text = _text("\n".join(group.problems))
                failures += 1
            total += 1
        if result.incident is not None:
            out = ET.SubElement(suite, "system-out")
            out.text = _text(f"incident {result.incident.id} ({result.incident.directory})")
        elapsed += result.seconds
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("time", f"{elapsed:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, results: Sequence[DrillResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(results), encoding="utf-8")
