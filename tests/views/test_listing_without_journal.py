"""``aiir incidents`` lists an incident whose journal was deleted or replaced (by a folder, a
pipe, a dangling link) as TAMPERED, as it lists one whose journal does not verify: removing the
journal does not remove the incident from the listing (nor from ``aiir watch``'s)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.environment import Environment
from aiir.incident.journal import JOURNAL
from aiir.incident.state import Incident
from aiir.views.watch import _open_listing
from tests.incidents import walked_containment
from tests.support.environment import fake_environment


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    return walked_containment(tmp_path_factory.mktemp("listing"))


@pytest.fixture
def incident(finished: Incident, tmp_path: Path) -> Path:
    copy = tmp_path / "incidents" / finished.id
    shutil.copytree(finished.directory, copy)
    return copy


def deleted(journal: Path) -> None:
    journal.unlink()


def a_folder(journal: Path) -> None:
    journal.unlink()
    journal.mkdir()


def a_pipe(journal: Path) -> None:
    journal.unlink()
    os.mkfifo(journal)


def a_dangling_link(journal: Path) -> None:
    journal.unlink()
    journal.symlink_to(journal.parent / "nowhere")


GONE = [deleted, a_folder, a_pipe, a_dangling_link]


@pytest.mark.parametrize("gone", GONE)
def test_an_incident_without_its_journal_is_listed_as_tampered(
    incident: Path, capsys: pytest.CaptureFixture[str], gone: Callable[[Path], None]
) -> None:
    gone(incident / JOURNAL)
    status = main(["incidents", "--incident-dir", str(incident.parent)])
    out = capsys.readouterr().out
    assert status == 0
    assert incident.name in out
    assert "TAMPERED" in " ".join(out.split())
    assert "engaged: unknown" in " ".join(out.split())  # not "-": nothing of it can be read
    assert main(["incidents", "--json", "--incident-dir", str(incident.parent)]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == incident.name
    assert listed["verified"] is False
    assert listed["state"] == "TAMPERED"


@pytest.mark.parametrize("gone", GONE)
def test_watch_lists_an_incident_without_its_journal(
    incident: Path, gone: Callable[[Path], None]
) -> None:
    gone(incident / JOURNAL)
    env: Environment = fake_environment(incident.parent)
    listing = _open_listing(env)
    assert incident.name in listing
    assert "TAMPERED" in " ".join(listing.split())


def test_a_folder_with_nothing_of_an_incident_is_not_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "INC-20200101-000000-0000" / "evidence").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    assert main(["incidents", "--incident-dir", str(tmp_path)]) == 0
    assert "no incidents under" in capsys.readouterr().out
