"""Files of an incident that cannot be read (mode 000): each reader says which one, in one line,
without a traceback; an evidence file or runbook copy unreadable is a problem ``verify`` names
like a missing one (exit 1), and ``aiir incidents`` still lists every other incident.

Run as root, whom no mode stops, the commands run as ``nobody`` (``setpriv``)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.journal import JOURNAL
from aiir.incident.state import Incident
from tests.incidents import copy_incident, walked_containment

ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")


def _nobody() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


needs_a_user = pytest.mark.skipif(
    ROOT and (SETPRIV is None or _nobody() is None),
    reason="run as root without setpriv or a nobody user: no mode can stop a reader",
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    return walked_containment(tmp_path_factory.mktemp("unreadable"))


@pytest.fixture
def incidents(finished: Incident) -> Iterator[Path]:
    """A folder of two incidents that the user the commands run as owns (a copy of the walked
    one, and a second made from it), outside pytest's private temporary folder."""
    top = Path(tempfile.mkdtemp(prefix="aiir-unreadable-"))
    os.chmod(top, 0o755)
    root = top / "incidents"
    shutil.copytree(finished.directory, root / finished.id)
    copy_incident(root / finished.id, root / "INC-20200101-000000-0000")
    user = _nobody()
    if ROOT and user is not None:
        for path in [top, *top.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    yield root
    for path in [top, *top.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o700)
    shutil.rmtree(top)


def aiir(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "aiir", *args, "--incident-dir", str(root)]
    user = _nobody()
    if ROOT and user is not None and SETPRIV is not None:
        ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
        command = [SETPRIV, *ids, *command]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root.parent), "AIIR_OPERATOR": "t"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=60, cwd=root
    )


def one(root: Path) -> Path:
    return root / sorted(p.name for p in root.iterdir())[-1]


@needs_a_user
@pytest.mark.parametrize(
    ("unread", "named"),
    [
        ("evidence/capture.logs.before.2.json", "evidence evidence/capture.logs.before.2.json"),
        ("runbooks/contain.yaml", "runbook snapshot runbooks/contain.yaml"),
    ],
)
def test_an_unreadable_file_the_journal_vouches_for_is_named_by_verify(
    incidents: Path, unread: str, named: str
) -> None:
    directory = one(incidents)
    os.chmod(directory / unread, 0)
    ran = aiir(incidents, "verify", directory.name)
    assert ran.returncode == 1, ran.stderr
    assert f"{named}: unreadable (no permission to read it)" in ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
    listed = aiir(incidents, "incidents")
    assert listed.returncode == 0, listed.stderr
    assert "TAMPERED" in listed.stdout
    assert "INC-20200101-000000-0000" in listed.stdout


@needs_a_user
@pytest.mark.parametrize("unread", [JOURNAL, "."], ids=["journal", "folder"])
def test_an_unreadable_journal_is_named_and_the_others_are_still_listed(
    incidents: Path, unread: str
) -> None:
    directory = one(incidents)
    os.chmod(directory / unread, 0)
    for command in ("verify", "show", "resume", "release"):
        ran = aiir(incidents, command, directory.name)
        assert ran.returncode == 2, ran.stderr
        assert ran.stderr.strip() == f"aiir: {directory / JOURNAL}: Permission denied"
    listed = aiir(incidents, "incidents")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith(directory.name) and "TAMPERED" in line for line in lines)
    assert any(line.startswith("INC-20200101-000000-0000") for line in lines)
