"""The lean models (aiir.formats.lean) against pydantic: over every shipped document and
thousands of mutations of them, a document the lean side vouches for gets the same findings from
``aiir validate`` and makes the same model (every value, every type) as with pydantic; anything
else it leaves to pydantic. More cases by hand: ``AIIR_LEAN_CASES=5000 AIIR_FUZZ_SEED=7``."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.formats.lean_side import judged, unsure
from tests.fuzzing import ROOT, _get, _paths, cases

CASES = int(os.environ.get("AIIR_LEAN_CASES", "600"))
SEED = int(os.environ.get("AIIR_FUZZ_SEED", "20261207"))
LEAN_SIDE = (
    "from aiir.formats import lean; lean.ON = True\n"
    "from tests.formats.lean_side import main; main()"
)
MIRRORED = ("runbooks", "examples", "aiir/profiles", "aiir/scaffold")
# Values of every type a YAML document can give, and the edges of the format's constraints.
VALUES: list[Any] = [
    0, 1, -1, 2, 20, 21, 300, 301, 10_000, 100_001, 2**53 + 1, 2**64, 0.0, 0.5, 1.0, 1.5, 300.5,
    float("inf"), float("nan"), True, False, None, "", " ", "5", "1.0", "true", "SEV1", "SEV9",
    "sev1", "a", "A", "block-key", "-a", "é", "a\n", "a\tb", "a b", "x" * 65, "x" * 2_001,
    "x" * 20_001, "15m", "0s", "999999d", "1000000d", "1.2.3", "1.2.3.4", "LLM01:2025",
    "AML.T0051.000", "http://x", "https://x y", "/path", "path", "litellm.block_key",
    "shared/evidence.yaml", "../up.yaml", "question", "end", "lever", "record", "slack",
    "{{ inputs.x }}", "[a-z]+", "(", [], ["a"], [1, 2], [{"a": 1}], {}, {"a": 1}, {"kind": "end"},
]  # fmt: skip
ALIASES = {"json": "json_", "with": "with_", "from": "from_", "for": "for_", "assert": "assert_"}


def _mutated(data: Any, rng: random.Random) -> tuple[str, Any]:
    """One change to a document's data: a value replaced, a key dropped, added or renamed."""
    path = rng.choice(_paths(data)[1:] or [()])
    if not path:
        return "none", data
    parent, last = _get(data, path[:-1]), path[-1]
    how = rng.random()
    if how < 0.6:
        parent[last] = rng.choice(VALUES)
        return f"{path} = {parent[last]!r:.40}", data
    if isinstance(parent, dict) and how < 0.75:
        del parent[last]
        return f"del {path}", data
    if isinstance(parent, dict) and how < 0.85:
        parent[ALIASES.get(last, f"{last}_x")] = parent.pop(last)
        return f"rename {path}", data
    if isinstance(parent, dict):
        parent[rng.choice(["x-note", "extra", "kind", "default", "next"])] = rng.choice(VALUES)
        return f"add under {path[:-1]}", data
    parent.append(rng.choice(VALUES) if rng.random() < 0.5 else parent[last])
    return f"append to {path[:-1]}", data


def _written(folder: Path) -> list[tuple[Path, str]]:
    """Every shipped document (as the mirror's copy), then mutations of them beside it."""
    for name in MIRRORED:
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("*.py*"))
    rng = random.Random(SEED)
    documents = sorted(
        p.relative_to(folder)
        for name in MIRRORED
        for p in (folder / name).rglob("*.yaml")
        if not p.name.startswith("case-")
    )
    written = [(folder / p, "as shipped") for p in documents]
    for number in range(CASES):
        origin = rng.choice(documents)
        data = yaml.safe_load((folder / origin).read_text(encoding="utf-8"))
        how, data = _mutated(data, rng)
        target = (folder / origin).with_name(f"case-{number}.yaml")
        target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
        written.append((target, f"{origin}: {how}"))
    for case in cases(CASES // 3, SEED):  # the document fuzzer's own, text-level mutations
        if case.content is not None:
            origin = folder / case.seed.path.relative_to(ROOT)
            target = origin.with_name(f"case-text-{case.number}.yaml")
            target.write_bytes(case.content)
            written.append((target, f"{case.seed.path.name}: {case.mutation}"))
    return written


def _lean_side(paths: list[Path]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", LEAN_SIDE],
        input="".join(f"{p}\n" for p in paths),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_lean_models_agree_with_pydantic_or_leave_it_to_pydantic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    written = _written(tmp_path)
    lean = _lean_side([path for path, _ in written])
    assert len(lean) == len(written)
    problems: list[str] = []
    vouched = 0
    for (path, how), lean_side in zip(written, lean, strict=True):
        full = judged(path)
        for part in ("findings", "model"):
            if part in lean_side and not unsure(lean_side[part]):
                vouched += part == "findings"
                if lean_side[part] != full.get(part):
                    problems.append(f"{path.relative_to(tmp_path)} ({how}): {part} differ")
            elif how == "as shipped" and part in lean_side:
                problems.append(f"{path.relative_to(tmp_path)}: unsure {lean_side[part]}")
    assert not problems, "\n".join(problems[:40])
    assert vouched > len(written) // 4, "the lean side vouched for too few documents to compare"
