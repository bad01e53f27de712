"""An incident on disk: its journal's events, the state they fold into, and the walker's lock."""
