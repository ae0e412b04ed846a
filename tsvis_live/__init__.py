"""tsvis-live: a live training-visualization server (TS-VIS API, WebSocket push, dashboard)."""

__version__ = "0.1.0"
