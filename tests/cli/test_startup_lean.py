"""The console's ``aiir validate`` makes the models without pydantic (aiir.formats.lean) and hands a
document it cannot vouch for to a second run with pydantic, which says what is wrong as before."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.test_startup import ONE, RUNBOOKS, loaded_by

SCRIPT = Path(sys.executable).with_name("aiir")
BROKEN = """\
aiir: 1
id: broken
title: Broken
owner: sec
severity: SEV2
start: first
nodes:
  first:
    kind: confirm
    title: Go on?
    prompt: Go on?
    yes: done
    no: "5"
    max_visits: "3"
  done: {kind: end, title: Done, outcome: resolved}
"""
WARNED = """\
aiir: 1
id: warned
title: Warned
owner: sec
severity: SEV2
start: done
nodes:
  done: {kind: end, title: Done, outcome: resolved}
  orphan: {kind: end, title: Never reached, outcome: resolved}
"""


def console(*argv: str, options: tuple[str, ...] = ()) -> tuple[int, str, str, set[str]]:
    """``aiir ARGV`` as the console script runs it (``aiir.cli.run``): its status, output, error,
    and the modules of the process that ended it."""
    code = textwrap.dedent(f"""\
        import atexit, sys
        atexit.register(lambda: print("MODULES", *sorted(sys.modules)))
        sys.argv = ["aiir", *{list(argv)!r}]
        from aiir.cli import run
        run()
    """)
    done = subprocess.run(
        [sys.executable, *options, "-c", code], capture_output=True, text=True, check=False
    )
    out, _, modules = done.stdout.rpartition("MODULES ")
    return done.returncode, out, done.stderr, set(modules.split())


def test_one_runbook_is_validated_without_pydantic() -> None:
    status, out, err, modules = console("validate", str(ONE))
    assert (status, out, err) == (0, "1 file(s) valid\n", "")
    assert "pydantic" not in modules
    assert "pydantic" in loaded_by("validate", str(ONE))  # in one's own process: pydantic
    # nor what only some documents need: entities for HTML-escaped secrets, the IDNA codec
    assert not {"html", "encodings.idna"} & modules


def test_the_library_says_the_same_with_and_without_pydantic() -> None:
    lean = console("validate", str(RUNBOOKS))
    full = console("validate", str(RUNBOOKS), options=("-X", "aiir-full"))
    assert lean[:3] == full[:3]
    assert "pydantic" not in lean[3]
    assert "pydantic" in full[3]


def test_warnings_found_on_lean_models_are_pydantic_s(tmp_path: Path) -> None:
    path = tmp_path / "warned.yaml"
    path.write_text(WARNED, encoding="utf-8")
    lean = console("validate", str(path))
    full = console("validate", str(path), options=("-X", "aiir-full"))
    assert lean[:3] == full[:3]
    assert "unreachable" in lean[1]
    assert "pydantic" not in lean[3]


@pytest.mark.parametrize("how", ["run", "module", "script"])
def test_an_invalid_runbook_is_judged_by_pydantic_as_before(tmp_path: Path, how: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    full = console("validate", str(path), options=("-X", "aiir-full"))
    if how == "run":
        status, out, err, modules = console("validate", str(path))
        assert "pydantic" in modules  # the second run
    else:
        if how == "script" and not SCRIPT.exists():
            pytest.skip("no console script beside this interpreter")
        argv = [str(SCRIPT)] if how == "script" else [sys.executable, "-m", "aiir"]
        done = subprocess.run(
            [*argv, "validate", str(path)], capture_output=True, text=True, check=False
        )
        status, out, err = done.returncode, done.stdout, done.stderr
    assert (status, out, err) == full[:3]
    assert status == 2
    assert err.startswith(f"{path}:14:")
    assert "Traceback" not in err
    assert "internal error" not in err


def test_a_workspace_laid_out_by_init_says_the_same_without_pydantic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    made = subprocess.run(
        [sys.executable, "-m", "aiir", "init", "."], capture_output=True, check=False
    )
    assert made.returncode == 0, made.stderr
    lean = console("validate", ".")
    full = console("validate", ".", options=("-X", "aiir-full"))
    assert lean[:3] == full[:3]
    assert lean[0] == 0
    assert "valid" in lean[1]
    assert "pydantic" not in lean[3]
