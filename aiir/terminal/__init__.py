"""The terminal: prompters, the walk's screen, and hostile text made inert."""
