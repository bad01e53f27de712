"""The walk: a runbook's nodes, one at a time, against an incident's journal."""
