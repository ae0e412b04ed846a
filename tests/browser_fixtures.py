"""Default fixtures of the Chromium dashboard tests (registered in tests/conftest.py).

`browser` (module): Debian's Chromium in UTC; `page` (function): a fresh 1400x900 page in UTC
whose script errors and dialogs fail the test. A module may define its own `browser` or `page`
(from `tests.browser_support`) to replace them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser_support import browser_page, chromium

UTC = "UTC"  # wall-time labels and tooltips are checked in UTC


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(tz=UTC) as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with browser_page(browser, tz=UTC) as pg:
        yield pg
