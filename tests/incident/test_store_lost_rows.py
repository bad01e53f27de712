"""Rows deleted from the shared store's ``events`` table behind aiir's back (on a real
PostgreSQL server): the incidents table still names the head the rows no longer reach, so
``verify`` from a fresh copy or from a copy that had the rows calls it TAMPERED (exit 1) and
says the store lost rows; ``resume`` refuses naming the same, never blaming another writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.incident.postgres import PostgresStore
from tests.incident.test_shared_walk import _environ, only_incident
from tests.incidents import ANSWERS, containment_runbook, write_answers, write_runbook
from tests.servers import serve_gateway

pytestmark = pytest.mark.postgres


@pytest.fixture
def walked(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PostgresStore, str, Path]]:
    """A whole walk on the store from the folder ``a``: the store, the incident, the folder."""
    store = PostgresStore(database, tmp_path / "observer")
    store.migrate()
    for name, value in _environ(database, "ana").items():
        monkeypatch.setenv(name, value)
    path = write_runbook(tmp_path, containment_runbook())
    answers = write_answers(tmp_path, ANSWERS)
    local = tmp_path / "a"
    with serve_gateway() as (url, _):
        status = main(
            ["run", str(path), "--answers", str(answers), "--yes", "--gateway", f"gw={url}",
             "--incident-dir", str(local)]
        )  # fmt: skip
    assert status == 0
    yield store, only_incident(local), local
    store.close()


def _delete(store: PostgresStore, incident_id: str, where: str) -> int:
    """Rows deleted by hand; the store's head (which still names the last of them)."""
    with store.session() as db:
        db.execute(f"DELETE FROM events WHERE incident = %s AND {where}", (incident_id,))
    return store.head(incident_id)


@pytest.mark.parametrize("where", ["last", "all"])
def test_rows_deleted_from_the_store_are_tampering_for_a_fresh_copy(
    walked: tuple[PostgresStore, str, Path],
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, incident_id, _ = walked
    condition = "TRUE" if where == "all" else f"seq = {store.head(incident_id)}"
    head = _delete(store, incident_id, condition)
    capsys.readouterr()
    status = main(["verify", incident_id, "--incident-dir", str(tmp_path / "fresh")])
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "consistent" not in out
    assert "TAMPERED" in err
    assert f"head is line {head}" in err
    assert "lost" in err
    assert "Traceback" not in err


def test_rows_deleted_from_the_store_are_tampering_for_the_copy_that_had_them(
    walked: tuple[PostgresStore, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, incident_id, local = walked
    head = _delete(store, incident_id, f"seq = {store.head(incident_id)}")
    capsys.readouterr()
    status = main(["verify", incident_id, "--incident-dir", str(local)])
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "not pushed yet" not in out  # the line is the store's, lost there: not ours to push
    assert "TAMPERED" in err
    assert f"head is line {head}" in err


def test_a_resume_after_rows_were_deleted_names_the_lost_rows_not_another_writer(
    walked: tuple[PostgresStore, str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, incident_id, local = walked
    head = _delete(store, incident_id, f"seq = {store.head(incident_id)}")
    for folder in (local, tmp_path / "fresh"):
        capsys.readouterr()
        status = main(["resume", incident_id, "--incident-dir", str(folder)])
        err = capsys.readouterr().err
        assert status in (1, 2), err
        assert f"head is line {head}" in err, err
        assert "another writer" not in err
        assert "Traceback" not in err


def test_a_store_restored_from_an_older_backup_is_named_by_the_copy_that_read_more(
    walked: tuple[PostgresStore, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Both tables put back to line 20 (a restore): the rows reach their head, but the copy
    that read line 30 from the store knows it lost lines."""
    store, incident_id, local = walked
    _delete(store, incident_id, "seq > 20")
    with store.session() as db:
        db.execute(
            "UPDATE incidents SET head_seq = 20, head_hash = (SELECT hash FROM events "
            "WHERE incident = id AND seq = 20) WHERE id = %s",
            (incident_id,),
        )
    capsys.readouterr()
    status = main(["verify", incident_id, "--incident-dir", str(local)])
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "TAMPERED" in err
    assert "its head is line 20, yet this copy read line 30 from it before" in err
    assert "older backup" in err
