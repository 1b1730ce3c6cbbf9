"""The dashboards in a real browser: `streamlit run` as `make dashboard` starts it, and Debian's Chromium.

- `serve_app(data, **env)`: the app on a free local port against the data folder `data`, stopped afterwards.
- `chromium()`: the browser's path, installed with apt-get when missing (never a download from elsewhere).
- `settle(page)`, `browser_sign_in(page, name, password)`: what every browser test does between its clicks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestration.settings import REPO_ROOT

APP = str(REPO_ROOT / "dashboards" / "app.py")
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"  # screenshots a failing browser test leaves for the reader
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


@contextmanager
def serve_app(data: Path, **env: str) -> Iterator[str]:
    """The app's address, served by `streamlit run` on the data folder `data` with `env` added, until the block
    ends. Fails the test when it does not answer its health check within 60 s."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        env={**os.environ, "TOLLHOUSE_DATA_DIR": str(data), **env}, cwd=REPO_ROOT,
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
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=60_000)
    page.wait_for_timeout(300)  # a click's rerun may not have started yet
    # the app marks the script's state on its root: wait for the run to end (the viewer toolbar shows no status)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=90_000)
    page.wait_for_timeout(800)


def browser_sign_in(page, name: str, password: str) -> None:
    """Fill the sign-in form and wait for the signed-in page."""
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
