"""Practice on the simulated gateway: drills (scripted, judged) and tabletops (people, injects)."""
