"""tsvis-live: a live training-visualization server (TS-VIS API, WebSocket push, dashboard)."""

__version__ = "0.1.0"


def __getattr__(name: str):  # `tsvis_live.open` without importing the store for every user
    if name == "open":
        from tsvis_live.stored import open as open_stored

        return open_stored
    raise AttributeError(name)
