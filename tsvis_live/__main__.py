"""`python -m tsvis_live`: the same command as `tsvis-live`."""

from tsvis_live.cli import entry

entry()
