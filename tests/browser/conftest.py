"""The fixture layer of the browser tests: servers on 127.0.0.1, headless Chromium, clean pages, screenshots.

Every test here is marked ``browser``. Without Playwright or Chromium they are
skipped with the reason (and how to fix it), except under CI (``CI=true``),
where a missing browser is a failure: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from . import harness

NOTEBOOKS = harness.REPO / "notebooks"
# Screenshots land in the test's tmp_path and are mirrored here (git-ignored) for CI artefacts and humans.
TEST_OUTPUT = harness.REPO / "test-output" / "browser"


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="package")
def playwright_session():
    reason = harness.browser_unavailable()
    if reason:
        if _ci():
            pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def demo_delivery():
    """The demo delivery, built (or reused) in the session's ALMAVIEW_CACHE_DIR, which the kernels inherit."""
    import almaview

    return almaview.demo.build(progress=False)


@pytest.fixture(scope="package")
def notebooks_copy(tmp_path_factory) -> Path:
    """A copy of notebooks/ to serve: running cells in JupyterLab (and its autosave) never touches the repo."""
    dest = tmp_path_factory.mktemp("served") / "notebooks"
    shutil.copytree(NOTEBOOKS, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


@pytest.fixture(scope="package")
def lab_server(playwright_session, demo_delivery, notebooks_copy, tmp_path_factory):
    with harness.jupyterlab(notebooks_copy, tmp_path_factory.mktemp("lab-server")) as server:
        yield server


@pytest.fixture(scope="package")
def voila_quickstart(playwright_session, demo_delivery, notebooks_copy, tmp_path_factory):
    with harness.voila(notebooks_copy / "01-quickstart.ipynb", tmp_path_factory.mktemp("voila-server")) as server:
        yield server


class Browser:
    """One fresh Chromium for one test: ``page``, its ``log``, and ``screenshot(name)``."""

    def __init__(self, context, log: harness.PageLog, out: Path, mirror: Path):
        self.context, self.log, self.out, self.mirror = context, log, out, mirror
        self.page = context.pages[0] if context.pages else context.new_page()
        self.page.set_default_timeout(60_000)

    def screenshot(self, name: str, **kwargs) -> Path:
        path = harness.save_screenshot(self.page, self.out / f"{name}.png", **kwargs)
        self.mirror.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, self.mirror / path.name)
        return path


@pytest.fixture
def browser(playwright_session, tmp_path, request):
    """A fresh headless Chromium; the test fails if its pages logged an error or reached beyond 127.0.0.1."""
    mirror = TEST_OUTPUT / request.node.name.replace("/", "_")
    shutil.rmtree(mirror, ignore_errors=True)
    with harness.launch(playwright_session, tmp_path / "chromium-profile") as (context, log):
        b = Browser(context, log, tmp_path / "screenshots", mirror)
        try:
            yield b
        finally:
            failed = getattr(request.node, "rep_call", None)
            if failed is not None and failed.failed:
                try:
                    b.screenshot("at-failure")
                except Exception:  # the page may be gone; the failure itself is what matters
                    pass
    log.assert_clean()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep
