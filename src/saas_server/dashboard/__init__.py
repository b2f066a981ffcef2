"""The web dashboard: server-rendered pages, a client of the public API (decision 0022)."""
