"""The browser suite: ``python app.py`` on a free port with random weights in the official file formats for every
manifest entry (tests/fixtures/staging.py), driven by Playwright in Debian's Chromium.

Each test gets a fresh page on the running app; a screenshot of it is saved afterwards in ``$E2E_ARTIFACTS``
(default ``tests/e2e/artifacts/``), whether the test passed or not. Page errors (uncaught JavaScript exceptions)
fail the test that caused them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from served import App, start_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS") or ROOT / "tests" / "e2e" / "artifacts")
CHROMIUM_FLAGS = [  # no connections to the outside: the background services would be refused many at a time
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def _chromium() -> str | None:
    return os.environ.get("E2E_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    missing = None
    if _chromium() is None:
        missing = "Chromium is not installed (.ci/run installs Debian's chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (requirements-dev.txt)"
    if missing:
        for item in items:
            if here in Path(item.fspath).parents:
                item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture(scope="session")
def staged(tmp_path_factory):
    from staging import stage_weights

    return stage_weights(tmp_path_factory.mktemp("staged"))


@pytest.fixture(scope="session")
def app(tmp_path_factory, staged):
    """The app with every manifest entry staged in GEN_MODELS_WEIGHTS_DIR, offline."""
    yield from start_app(tmp_path_factory.mktemp("app"), staged.env())


@pytest.fixture
def page(open_page, app):
    return open_page(app)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:  # Playwright gives the browser a new empty profile of its own
        instance = p.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def open_page(browser, request):
    """A function that opens a fresh page on an app; the page is screenshotted and closed after the test."""
    opened = []

    def open_(app: App):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(app.url)
        page.get_by_role("tab").first.wait_for()
        opened.append((context, page, errors))
        return page

    yield open_
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for index, (context, page, errors) in enumerate(opened):
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}{'-' + str(index) if index else ''}.png"), full_page=True)
        finally:
            context.close()
        assert not errors, f"JavaScript errors on the page: {errors}"
