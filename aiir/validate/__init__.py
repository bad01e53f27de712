"""Checks beyond the schema: graphs, requests, templates, calls, and whole folders of documents."""
