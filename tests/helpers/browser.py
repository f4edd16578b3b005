"""A headless Chromium driven by Selenium, for tests that open a page in a real browser.

It is Debian's `chromium` with its `chromium-driver` (browsers cannot be downloaded here). When either is
missing, the tests that use it are skipped with the reason, unless REQUIRE_BROWSER=1 (as CI sets), which
makes them fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


def find_first(names: tuple[str, ...]) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


def missing_reason(browser: str | None, driver: str | None) -> str | None:
    if browser and driver:
        return None
    what = " and ".join(name for name, found in (("chromium", browser), ("chromium-driver", driver)) if not found)
    return f"no headless browser: install {what} (apt-get install -y chromium chromium-driver)"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """A Selenium WebDriver on headless Chromium, 1200x900, shared by the session's tests."""
    binary, driver_path = find_first(BROWSERS), find_first(DRIVERS)
    reason = missing_reason(binary, driver_path)
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1200,900", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()
