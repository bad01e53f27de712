"""Responding to an incident: opening, resuming and releasing, with checked runbooks and the lock."""
