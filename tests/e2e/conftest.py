"""Playwright (from PyPI) driving Debian's Chromium against the live test server.

Never `playwright install`: it downloads a browser, which fails offline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (see .ci/run).")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made
    # by the test itself (fixtures) are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda message: (
            page.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    context.close()


@pytest.fixture
def log_in():
    from tests.factories import TEST_PASSWORD

    def _log_in(page, user, password: str = TEST_PASSWORD):
        from tests.medsync.totp import enroll_totp, totp_now

        device = enroll_totp(user)
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("networkidle")
        if "/accounts/mfa/verify/" in page.url:  # not after a wrong password
            page.get_by_label("Code").fill(totp_now(device))
            page.get_by_role("button", name="Continue").click()
            page.wait_for_load_state("networkidle")

    return _log_in


@pytest.fixture
def screenshot():
    def _shot(page, name: str):
        ARTIFACTS.mkdir(exist_ok=True)
        path = Path(tempfile.gettempdir()) if not ARTIFACTS.exists() else ARTIFACTS
        page.screenshot(path=str(path / f"{name}.png"), full_page=True)

    return _shot
