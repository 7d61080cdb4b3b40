"""Running the scripts of tests/browser/ (headless Debian Chromium driven by playwright-core from .tools/, which
`scripts/install_browser.sh` installs) from a test, and keeping their screenshots as the README's pictures."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "browser"
PLAYWRIGHT = ROOT / ".tools" / "node_modules" / "playwright-core"
CHROMIUM = Path("/usr/bin/chromium")


def require_browser() -> None:
    """Skips the test (fails it under CI) when Chromium, playwright-core or node is missing."""
    missing = [str(p) for p in (CHROMIUM, PLAYWRIGHT) if not p.exists()] + (
        [] if shutil.which("node") else ["node"]
    )
    if missing:
        message = f"browser test needs {', '.join(missing)}: run scripts/install_browser.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


async def run_script(script: str, screenshots: Path, **variables: str) -> str:
    """What tests/browser/`script` prints, run by node with `variables` added to the environment (and
    PLAYWRIGHT_CORE, SCREENSHOT_DIR=`screenshots`); fails the test with stderr's end unless it exits 0."""
    env = {
        **os.environ,
        **variables,
        "PLAYWRIGHT_CORE": str(PLAYWRIGHT),
        "SCREENSHOT_DIR": str(screenshots),
    }
    process = await asyncio.create_subprocess_exec(
        "node", str(SCRIPTS / script), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    return stdout.decode()


def keep_screenshots(screenshots: Path, *names: str) -> None:
    """With UPDATE_SCREENSHOTS=1, the screenshots replace docs/<name> (the README's pictures); an ordinary test run
    never changes tracked files."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        for name in names:
            shutil.copyfile(screenshots / name, ROOT / "docs" / name)
