"""The `tsvis-live` subcommands besides serving (`tsvis_live.cli` dispatches to them).

Heavy modules (SQLAlchemy, the web stack) are imported inside the commands: ingest worker
processes are spawned and re-import the main module, and should stay small.
"""
