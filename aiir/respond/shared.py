"""A walk on the team's shared store (PostgreSQL): the lease taken there, the local copy brought up
to date, and the journal's writes sent there first (:class:`aiir.incident.replica.Replica`).

Without a shared store chosen (``--store``, ``AIIR_STORE``, aiir.yaml's ``store:``) nothing here
runs and the walk keeps its files exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiir.environment import Environment
from aiir.errors import InputError
from aiir.incident.journal import JOURNAL, Journal
from aiir.incident.lock import WALKING, IncidentLock
from aiir.incident.postgres import PostgresStore, StoreUnavailable
from aiir.incident.replica import (
    Replica,
    SideWriter,
    outbox,
    pull,
    pull_all,
    shared_store,
    upload,
)
from aiir.incident.state import check_id, incident_dir
from aiir.incident.store_rows import Synced, lost_rows
from aiir.timestamps import iso

LEASE_VARIABLE = "AIIR_STORE_LEASE"  # seconds a walker's lease lasts unless renewed


def shared(env: Environment) -> PostgresStore | None:
    """The shared store this command uses, its local copy in the incidents folder; None for
    the files."""
    url, where = env.store_at()
    if not url:
        return None
    store = shared_store(url, where, env.incidents_dir)
    given = env.environ.get(LEASE_VARIABLE, "")
    if given:
        try:
            seconds = float(given)
        except ValueError:
            seconds = 0.0
        if not 0.5 <= seconds <= 3600:
            raise InputError(f"{LEASE_VARIABLE}={given[:40]!r}: seconds, from 0.5 to 3600")
        store.lease_seconds = seconds
    return store


def check(env: Environment) -> None:
    """The shared store this command would use, checked before anything is read or sent: a URL
    that is no store, or a client that is not installed, is one line (exit 2). Nothing is
    connected to: a store that is down is met, and said, where it is used."""
    store = shared(env)
    if store is not None:
        store.close()


def unanswered(env: Environment) -> str | None:
    """Why the shared store this command uses does not answer now (None: it does, or the files
    are used): for a command that walks many incidents to say once. A store that answers
    without the schema this aiir needs is bad input (:class:`StoreNotReady`), said once too."""
    store = shared(env)
    if store is None:
        return None
    try:
        store.ready()
    except StoreUnavailable as exc:
        return str(exc)
    finally:
        store.close()
    return None


def for_new(env: Environment, incident_id: str, since: str) -> Replica | None:
    """A new incident registered in the shared store, its lease taken; None for the files. A
    store that does not answer stops no walk: the incident is kept in the local outbox, to be
    pushed (``aiir store push``) once the store is back."""
    store = shared(env)
    if store is None:
        return None
    directory = env.incidents_dir / incident_id
    try:
        store.ready()
        if not store.register(incident_id):
            raise InputError(f"incident {incident_id} exists in {store.shown} already; try again")
        lease = store.lease(incident_id, env.operator, since)
    except StoreUnavailable as exc:
        return Replica.unreachable(store, directory, exc)
    except BaseException:
        store.close()
        raise
    return Replica(store, directory, lease)


def for_existing(env: Environment, incident_id: str, since: str) -> Replica | None:
    """An incident of the shared store taken up: its lease first (nothing changes it after
    that), then the local copy brought up to the store's head, or a local outbox uploaded under
    that lease. None for the files.

    A store that does not answer: a walk this machine was keeping in its outbox goes on there
    (nobody else could reach the store to take it over); any other is refused, as its local
    copy may be behind what another responder did since.
    """
    store = shared(env)
    if store is None:
        return None
    directory = env.incidents_dir / check_id(incident_id)
    try:
        store.ready()
        if outbox(directory) and Synced.of(directory).seq == 0:
            store.register(incident_id)  # begun while the store did not answer: it joins now
        lease = store.lease(incident_id, env.operator, since)
    except StoreUnavailable as exc:
        if not outbox(directory):
            store.close()
            raise StoreUnavailable(
                f"{exc}; {incident_id} is not taken up from the local copy in {directory}, "
                "which may be behind the store: try again once it answers"
            ) from None
        return Replica.unreachable(store, directory, exc)
    except BaseException:
        store.close()
        raise
    replica = Replica(store, directory, lease)
    try:
        _catch_up(replica)
    except BaseException:
        replica.close()
        raise
    return replica


def taken_up(
    env: Environment, incident_id: str, scrub: Callable[[str], str], doing: str = WALKING
) -> Journal:
    """An existing incident's journal, to be loaded and appended to as its walker: on a shared
    store its lease first and its local copy brought up to date, then the incident's lock
    (``doing`` says why it is held). On any error what was taken is let go again."""
    since = iso(env.clock.now())
    upstream = for_existing(env, incident_id, since)
    try:
        directory = incident_dir(env.incidents_dir, incident_id)
        lock = IncidentLock(directory, incident_id, env.operator, since, doing)
        lock.acquire()  # a walker holding it: IncidentLocked, naming it; a short change: waited
    except BaseException:
        if upstream is not None:
            upstream.close()
        raise
    now = env.clock.now
    return Journal(directory, env.operator, lambda: iso(now()), scrub, lock=lock, upstream=upstream)


def _catch_up(replica: Replica) -> None:
    directory, store = replica.directory, replica.store
    if outbox(directory) and replica.lease is not None:
        sent = upload(store, directory, replica.lease.token)
        replica.untold.append(
            f"uploaded {sent} event(s) the store {store.shown} had not got from {directory / JOURNAL}"
        )
    else:
        pull(store, directory.parent, replica.incident_id)


def synced(env: Environment, incident_id: str | None = None) -> tuple[PostgresStore | None, str]:
    """The local copy brought up to the shared store (one incident, or all), for the commands
    that read it; the store (open, for a live view) and a line to show when it is down (the
    local copy is read as it is) or could not be copied. (None, "") for the files."""
    store = shared(env)
    if store is None:
        return None, ""
    try:
        store.ready()
        if incident_id is None:
            problems = pull_all(store, env.incidents_dir)
            return store, "; ".join(problems)
        pull(store, env.incidents_dir, incident_id)
    except StoreUnavailable as exc:
        store.close()
        return None, f"{exc}; showing the local copy in {env.incidents_dir}"
    except BaseException:
        store.close()
        raise
    return store, ""


def listed(env: Environment) -> tuple[PostgresStore | None, str, dict[str, str]]:
    """For a listing of every incident: the local copy brought up to the store (as
    :func:`synced`), and the incidents whose rows there no longer reach their head (id: the
    line saying so), those not copied and those whose copy here was made before they went."""
    store, problem = synced(env)
    if store is None:
        return None, problem, {}
    try:
        return store, problem, lost_rows(store)
    except StoreUnavailable as exc:
        store.close()
        return None, f"{exc}; showing the local copy in {env.incidents_dir}", {}
    except BaseException:
        store.close()
        raise


def refreshed(store: PostgresStore, root: Path) -> dict[str, str]:
    """For a live listing: every incident's copy brought up to the store's head, then the
    incidents whose rows there no longer reach it (id: the line saying so)."""
    pull_all(store, root)
    return lost_rows(store)


def side_writer(env: Environment, incident_id: str) -> SideWriter | None:
    """For a note, an approval or a hand-off on the shared store: the event goes there beside
    the walker. A machine with no copy of the incident gets one now; one with a copy brings it
    up to date under the journal's append lock (:meth:`SideWriter.pull`). None for the files."""
    store = shared(env)
    if store is None:
        return None
    try:
        store.ready()
        if not (env.incidents_dir / check_id(incident_id) / JOURNAL).is_file():
            pull(store, env.incidents_dir, incident_id)
    except BaseException:
        store.close()
        raise
    return SideWriter(store, env.incidents_dir / incident_id)
