"""Validate 1,000 runbooks of 40 nodes each, against merely parsing them with libyaml.

    .venv/bin/python -m bench.validate_many [--runbooks 1000] [--nodes 40] [--repeat 5]

The floor is ``yaml.load(text, Loader=yaml.CSafeLoader)`` on every file: the least any YAML tool
must do. ``validate_paths`` also keeps positions, refuses unsafe YAML, checks the schema, the graph,
every reference and every template. Goal: at most 2x the floor, judged on this process's CPU time,
which other work on a shared machine disturbs far less than wall time (both are shown).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from aiir.validate.documents import validate_paths
from bench.common import Sample, interleaved, medians

GOAL = 2.0
FLOOR = "yaml.load(CSafeLoader) (floor)"
OURS = "aiir validate_paths"
STAGE = 8  # nodes per stage below; the rest of a runbook's nodes are checklists and two ends


def stage(number: int, i: int, after: str) -> dict[str, Any]:
    """Eight nodes in the shapes a real runbook has: ask, capture, pull a lever, tell, decide.

    Texts and expressions differ from runbook to runbook, as in a real library, so that nothing
    is validated once and served from a cache for the other 999 files.
    """
    return {
        f"s{i}-ask": {
            "kind": "question",
            "title": f"Stage {i}: what do you see?",
            "owner": "incident-commander",
            "text": f"Check dashboard {number} for {{{{ inputs.model }}}} ({{{{ incident.id }}}}).",
            "prompt": f"Which best describes stage {i} of {{{{ inputs.model }}}}?",
            "choices": [
                {"label": "Harmful output", "value": "harmful", "next": f"s{i}-capture"},
                {"label": "Degraded", "value": "degraded", "severity": "SEV2", "next": f"s{i}-ok"},
                {"label": "False alarm", "value": "false-alarm", "next": "end-fp"},
            ],
        },
        f"s{i}-capture": {
            "kind": "capture",
            "title": "Preserve evidence",
            "items": [
                {
                    "name": "logs",
                    "what": ["user-prompts", "outputs"],
                    "window_before": "2h",
                    "request": {
                        "use": "litellm.spend_logs",
                        "with": {"start": "{{ window.start }}", "end": "{{ window.end }}"},
                    },
                }
            ],
            "next": f"s{i}-lever",
        },
        f"s{i}-lever": {
            "kind": "lever",
            "title": "Engage the filter",
            "lever": "filter",
            "next": f"s{i}-held",
            "on_failure": f"s{i}-manual",
        },
        f"s{i}-held": {
            "kind": "confirm",
            "title": "Did it hold?",
            "prompt": f"Is {{{{ inputs.model }}}} refusing attack {number}.{i} now?",
            "yes": f"s{i}-tell",
            "no": f"s{i}-manual",
        },
        f"s{i}-manual": {
            "kind": "checklist",
            "title": "Manual containment",
            "items": [
                {"id": "page", "text": "Page the model owner", "owner": "ml-engineering"},
                {"id": "block", "text": "Block the client at the edge"},
            ],
            "next": f"s{i}-tell",
        },
        f"s{i}-tell": {
            "kind": "notify",
            "title": "Status update",
            "channel": "slack",
            "message": f"[{{{{ incident.severity }}}}] runbook {number}: {{{{ answers['s{i}-ask'] }}}}",
            "next": f"s{i}-route",
        },
        f"s{i}-route": {
            "kind": "branch",
            "title": "Route on severity",
            "cases": [{"when": f"inputs.model == 'model-{number}-{i}'", "next": after}],
            "default": f"s{i}-ok",
        },
        f"s{i}-ok": {
            "kind": "input",
            "title": "Note",
            "prompt": f"Anything to add for {{{{ inputs.model }}}} after stage {i}?",
            "next": after,
        },
    }


def runbook(number: int, nodes: int) -> dict[str, Any]:
    """A valid runbook of exactly ``nodes`` nodes (at least ten)."""
    stages = max(1, (nodes - 2) // STAGE)
    padding = nodes - 2 - stages * STAGE
    graph: dict[str, Any] = {}
    for i in range(stages):
        after = f"s{i + 1}-ask" if i < stages - 1 else ("pad-0" if padding else "end-ok")
        graph.update(stage(number, i, after))
    for i in range(padding):
        graph[f"pad-{i}"] = {
            "kind": "checklist",
            "title": f"Follow-up {i}",
            "items": [{"id": "done", "text": f"Follow-up {i} for runbook {number} done"}],
            "next": f"pad-{i + 1}" if i < padding - 1 else "end-ok",
        }
    graph["end-ok"] = {"kind": "end", "title": "Contained", "outcome": "contained"}
    graph["end-fp"] = {"kind": "end", "title": "False positive", "outcome": "false-positive"}
    return {
        "aiir": 1,
        "id": f"bench-{number:04d}",
        "title": f"Benchmark runbook {number}",
        "version": "1.0.0",
        "owner": "security",
        "severity": "SEV3",
        "tags": {"owasp": ["LLM01:2025"], "atlas": ["AML.T0051.000"]},
        "inputs": {"model": {"description": "Model group", "default": "support-bot"}},
        "env": {"LITELLM_MASTER_KEY": {"description": "Admin key"}},
        "gateways": {
            "gateway": {
                "profile": "litellm",
                "url": "http://127.0.0.1:4000",
                "headers": {"Authorization": "Bearer {{ env.LITELLM_MASTER_KEY }}"},
            }
        },
        "levers": {
            "filter": {
                "title": "Emergency filter",
                "kind": "filter",
                "engage": {
                    "use": "litellm.add_guardrail",
                    "with": {"name": "aiir-{{ incident.id }}", "guardrail": "content_filter"},
                },
                "verify": {
                    "use": "litellm.chat",
                    "with": {"model": "{{ inputs.model }}", "prompt": "attack"},
                    "expect": {"status": [400, 403]},
                },
                "release": {
                    "use": "litellm.remove_guardrail",
                    "with": {"guardrail_id": "{{ vars.guardrail_id }}"},
                },
            }
        },
        "start": "s0-ask",
        "nodes": graph,
    }


def generate(root: Path, count: int, nodes: int) -> list[Path]:
    paths = []
    for number in range(count):
        path = root / f"rb-{number:04d}.yaml"
        path.write_text(yaml.safe_dump(runbook(number, nodes), sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def timed(work: Callable[[], object]) -> Callable[[], Sample]:
    """``work``, timed in wall seconds and in CPU seconds of this process."""

    def once() -> Sample:
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        return time.perf_counter() - wall, time.process_time() - cpu

    return once


def parse_only(paths: list[Path]) -> None:
    for path in paths:
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runbooks", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aiir-bench-") as tmp:
        paths = generate(Path(tmp), args.runbooks, args.nodes)
        first = validate_paths([tmp])  # also warms the caches: built-in profiles, shipped ids
        assert not first.findings, first.findings[0].render()
        works = {
            FLOOR: timed(lambda: parse_only(paths)),
            OURS: timed(lambda: validate_paths([tmp])),
        }
        samples = interleaved(works, args.repeat)
    floor_wall, floor_cpu = medians(samples[FLOOR])
    cores, load = os.cpu_count(), os.getloadavg()[0]
    print(f"{len(paths)} runbooks of {args.nodes} nodes; {args.repeat} runs each, taking turns")
    print(f"{cores} cores, load average {load:.1f}")
    print(
        f"{'median of each':32} {'wall s':>7} {'CPU s':>7} {'CPU/file':>9} {'wall':>6} {'CPU':>6}"
    )
    for label, values in samples.items():
        wall, cpu = medians(values)
        print(
            f"{label:32} {wall:7.2f} {cpu:7.2f} {cpu / len(paths) * 1000:7.2f}ms "
            f"{wall / floor_wall:5.2f}x {cpu / floor_cpu:5.2f}x"
        )
    wall, cpu = medians(samples[OURS])
    ratio = cpu / floor_cpu
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(
        f"goal: validate_paths <= {GOAL:.1f}x the floor in CPU time: {verdict} "
        f"({ratio:.2f}x; wall {wall / floor_wall:.2f}x)"
    )


if __name__ == "__main__":
    main()
