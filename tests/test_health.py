"""A session's open problems: logged once, cleared once, and shown without absolute paths."""

from __future__ import annotations

import logging

from tsvis_live.health import Health, redact


def test_a_problem_is_logged_once_and_its_recovery_once(caplog) -> None:
    health = Health()
    with caplog.at_level(logging.INFO, logger="tsvis_live"):
        for _ in range(5):
            health.report("store", "database", "the disk is full")
        health.clear("store", "database")
        health.clear("store", "database")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["database: the disk is full", "database: recovered after 5 failed attempts"]
    assert health.snapshot() == []


def test_snapshot_hides_absolute_paths_from_remote_clients() -> None:
    health = Health()
    health.report("file", "/srv/logs/run1/events.x",
                  "[Errno 40] Too many levels of symbolic links: '/srv/logs/run1/events.x'")
    health.report("store", "database", "cannot write /var/data/s.sqlite")
    shown = health.snapshot(hide=("/srv/logs", "/var/data"))
    text = repr(shown)
    assert "/srv/logs" not in text and "/var/data" not in text
    assert shown[0]["subject"] == "run1/events.x"
    assert health.snapshot()[0]["subject"] == "/srv/logs/run1/events.x"  # local clients see it all


def test_redact_keeps_unrelated_text() -> None:
    assert redact("no paths here", ("/a/b",)) == "no paths here"
    assert redact("at /a/b", ("/a/b/",)) == "at ."
