"""What a walker on the shared store knows of its lease before it sends a request.

The lease is renewed in the database before each request to a gateway or a channel. A walker the
database has not answered (down for everyone, or a network split that cuts this walker off while
others reach it) cannot learn whether its lease was taken. For as long as the lease lasts since
its last renewal, nobody can have taken it, and the walk goes on in its outbox. Past that,
another responder may have taken the incident over and made this very request: the fence says so
(:class:`LeaseInDoubt`) and the walk asks the operator instead of sending on its own.
"""

from __future__ import annotations

from aiir.incident.journal import JournalConflict


class LeaseInDoubt(JournalConflict):
    """The store has not answered this walker for longer than its lease: another responder may
    hold the incident. Uncaught, it stops the walk like a lease lost (nothing sent)."""

    def __init__(self, store: str, silent: float | None, lease: float) -> None:
        self.store, self.silent, self.lease = store, silent, lease
        super().__init__(f"not sent: {self.known}")

    @property
    def known(self) -> str:
        """What is known, in a few words: how long the store has not answered, the lease."""
        since = (
            "since this walk began (it took the incident up from the local outbox)"
            if self.silent is None
            else f"for {self.silent:.0f} s"
        )
        lease = f"{self.lease:g} s"
        return f"the incident store {self.store} has not answered {since}, and the lease is {lease}"
