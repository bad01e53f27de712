"""What the read-only commands print: incidents, one incident, the inventory."""
