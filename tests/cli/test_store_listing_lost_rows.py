"""Rows deleted from (or replaced in) the shared store's ``events`` table behind aiir's back,
as the commands that list every incident say it (on a real PostgreSQL server): ``aiir
incidents`` lists the incident as TAMPERED in its output (the table and ``--json``), from a
fresh folder with no copy of it and from the folder whose copy still has the rows, and ``aiir
store status`` names it on a line and exits 1 (a health check failing); the listing exits 0 as
it does for a journal tampered with here (``verify ID`` is the check that fails)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.incident.postgres import PostgresStore
from tests.incident.test_store_lost_rows import _delete, walked

pytestmark = pytest.mark.postgres

__all__ = ["walked"]  # the fixture, used by name

Walked = tuple[PostgresStore, str, Path]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def _folders(walked: Walked, tmp_path: Path) -> list[Path]:
    """A fresh folder (nothing copied: the store's rows do not reach its head) and the one
    whose copy was made before the rows went (the head did not move since)."""
    return [tmp_path / "fresh", walked[2]]


@pytest.mark.parametrize("copy", ["fresh", "had the rows"])
def test_the_listing_marks_an_incident_whose_store_lost_rows_as_tampered(
    walked: Walked, tmp_path: Path, capsys: pytest.CaptureFixture[str], copy: str
) -> None:
    store, incident_id, local = walked
    head = _delete(store, incident_id, f"seq = {store.head(incident_id)}")
    folder = tmp_path / "fresh" if copy == "fresh" else local
    status, out, err = _run(capsys, "incidents", "--incident-dir", str(folder))
    assert status == 0, out + err
    row = " ".join(out.split())
    assert f"{incident_id} " in row
    assert f"TAMPERED (aiir verify {incident_id})" in row
    assert "contained" not in row  # what the rows claim is not shown as fact
    status, out, err = _run(capsys, "incidents", "--json", "--incident-dir", str(folder))
    assert status == 0, out + err
    (listed,) = json.loads(out)
    assert (listed["id"], listed["state"], listed["verified"]) == (incident_id, "TAMPERED", False)
    assert "lost rows" in listed["problem"]
    assert f"head is line {head}" in listed["problem"]


def test_store_status_names_an_incident_whose_rows_were_deleted(
    walked: Walked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, incident_id, _ = walked
    head = _delete(store, incident_id, "seq > 20")
    for folder in _folders(walked, tmp_path):
        status, out, err = _run(capsys, "store", "status", "--incident-dir", str(folder))
        assert status == 1, out + err
        (line,) = [line for line in out.splitlines() if "TAMPERED" in line]
        assert incident_id in line
        assert f"lost rows: its head is line {head}, and {head - 20} lines are gone" in line
        assert f"(aiir verify {incident_id})" in line


def test_a_row_replaced_at_the_head_is_named_by_both(
    walked: Walked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, incident_id, local = walked
    with store.session() as db:
        db.execute(
            "UPDATE events SET hash = repeat('f', 64) WHERE incident = %s AND seq = %s",
            (incident_id, store.head(incident_id)),
        )
    status, out, _ = _run(capsys, "store", "status", "--incident-dir", str(local))
    assert status == 1
    assert "has a row replaced" in out
    status, out, _ = _run(capsys, "incidents", "--incident-dir", str(local))
    assert status == 0
    assert "TAMPERED" in out


def test_an_intact_store_is_listed_as_it_is(
    walked: Walked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = walked[1]
    for folder in _folders(walked, tmp_path):
        status, out, err = _run(capsys, "incidents", "--incident-dir", str(folder))
        assert status == 0, out + err
        assert "TAMPERED" not in out
        assert incident_id in out
        assert "contained" in out
        status, out, err = _run(capsys, "store", "status", "--incident-dir", str(folder))
        assert (status, err) == (0, "")
        assert "TAMPERED" not in out


def test_the_live_listing_marks_it_too(walked: Walked, tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from aiir.environment import Environment
    from aiir.respond.shared import refreshed
    from aiir.views.watch import watch_incidents

    store, incident_id, _ = walked
    _delete(store, incident_id, f"seq = {store.head(incident_id)}")
    for folder in _folders(walked, tmp_path):
        screen = io.StringIO()
        env = Environment(console=Console(file=screen, width=80), incidents_dir=folder)

        def stop(_: float) -> None:
            raise KeyboardInterrupt

        watch_incidents(env, sleep=stop, refresh=lambda: refreshed(store, folder))  # noqa: B023
        shown = " ".join(screen.getvalue().split())
        assert f"{incident_id} " in shown
        assert f"TAMPERED (aiir verify {incident_id})" in shown
