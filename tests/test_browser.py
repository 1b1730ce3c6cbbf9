"""The dashboards as a person sees them: Debian's Chromium, driven by Playwright, against the running app.
Screenshots are kept in tests/artifacts/. The test installs Chromium itself when it is missing (apt, as root);
Playwright never downloads a browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.integration
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip


def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Debian's chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, capture_output=True,
                   timeout=900)  # fmt: skip
    return shutil.which("chromium") or pytest.fail("apt-get installed chromium but it is not on PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(published):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "dashboards" / "app.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        env={**os.environ, "TOLLHOUSE_DATA_DIR": str(published.data)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Streamlit app did not start within 60 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def settle(page) -> None:
    """Wait until the app has rendered and its script has stopped running."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=60_000,
    )
    page.wait_for_timeout(500)


def errors_shown(page) -> list[str]:
    return [e.inner_text() for e in page.query_selector_all('[data-testid="stException"], .stAlert-error')]


def test_data_operations_page_in_a_real_browser(app_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        settle(page)
        assert errors_shown(page) == []
        metrics = {
            m.query_selector('[data-testid="stMetricLabel"]').inner_text(): m.query_selector(
                '[data-testid="stMetricValue"]'
            ).inner_text()
            for m in page.query_selector_all('[data-testid="stMetric"]')
        }
        assert metrics["Lines"] == "3" and metrics["Rejected lines"] == "1" and metrics["Files landed"] == "2"
        page.screenshot(path=str(ARTIFACTS / "data_operations.png"), full_page=True)

        # filter to one source
        page.locator('[data-testid="stMultiSelect"] input').click()
        page.keyboard.type("asterisk")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "data_operations_filtered.png"), full_page=True)
        assert errors_shown(page) == []
        chosen = page.query_selector('[data-testid="stMultiSelect"]').inner_text()
        assert "asterisk" in chosen and "freeswitch" not in chosen and "All sources" not in chosen
        # drawn on a canvas, no text; the filtered rerun may still be drawing it on a busy machine
        assert page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000) is not None
        page.screenshot(path=str(ARTIFACTS / "data_operations_filtered.png"), full_page=True)
        browser.close()
    assert Path(ARTIFACTS / "data_operations.png").stat().st_size > 10_000
