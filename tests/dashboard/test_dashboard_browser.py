"""The dashboard in a real browser: headless Debian Chromium driven by tests/browser/dashboard.mjs, on a phone-sized
screen, every number read off the page and compared with the demo seed's ledger.

Needs `scripts/install_browser.sh` (run by `make test`). The screenshot goes to the test's temporary directory; with
UPDATE_SCREENSHOTS=1 it also replaces docs/dashboard.png (the README's picture).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.dashboard.test_pages import site  # noqa: F401
from tests.handoff.handoff_harness import PASSWORDS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "browser" / "dashboard.mjs"
PLAYWRIGHT = ROOT / ".tools" / "node_modules" / "playwright-core"
CHROMIUM = Path("/usr/bin/chromium")
LIST_FIGURE = "funnel:booking:4"

pytestmark = pytest.mark.slow


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, PLAYWRIGHT) if not p.exists()] + (
        [] if shutil.which("node") else ["node"]
    )
    if missing:
        message = f"browser test needs {', '.join(missing)}: run scripts/install_browser.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


async def test_dashboard_in_headless_chromium(site, tmp_path):  # noqa: F811
    _require_browser()
    period = site.seeded.period
    env = {
        **os.environ,
        "BASE_URL": site.url,
        "STAFF_NAME": "alice",
        "STAFF_PASSWORD": PASSWORDS["alice"],
        "FROM": period.first.isoformat(),
        "TO": period.last.isoformat(),
        "LIST_FIGURE": LIST_FIGURE,
        "PLAYWRIGHT_CORE": str(PLAYWRIGHT),
        "SCREENSHOT_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    steps = {entry.pop("step"): entry for entry in map(json.loads, stdout.decode().splitlines())}
    assert list(steps) == ["no_session_refused", "dashboard_opened", "figures", "list"]

    expected = site.seeded.ledger.expected()
    figures = steps["figures"]["figures"]
    assert {key: figures[key] for key in expected} == expected
    assert all(
        value == 0
        for key, value in figures.items()
        if key not in expected and ":" in key and not key.startswith("not_understood:")
    )
    assert steps["figures"]["median"] == f"{site.seeded.ledger.median_response} s"
    # Every number outside the overview's tiles is drawn as a bar.
    assert steps["figures"]["bars"] == len(figures) - steps["figures"]["tiles"] > 30
    assert steps["list"]["members"] == len(site.seeded.ledger.identities(LIST_FIGURE))
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(tmp_path / "dashboard.png", ROOT / "docs" / "dashboard.png")
