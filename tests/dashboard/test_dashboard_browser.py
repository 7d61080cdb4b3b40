"""The dashboard in a real browser: headless Debian Chromium driven by tests/browser/dashboard.mjs, on a phone-sized
screen, every number read off the page and compared with the demo seed's ledger.

Needs `scripts/install_browser.sh` (run by `make test`). The screenshot goes to the test's temporary directory; with
UPDATE_SCREENSHOTS=1 it also replaces docs/dashboard.png (the README's picture).
"""

from __future__ import annotations

import json

import pytest

from tests.browser_harness import keep_screenshots, require_browser, run_script
from tests.dashboard.test_pages import site  # noqa: F401
from tests.handoff.handoff_harness import PASSWORDS

LIST_FIGURE = "funnel:booking:4"

pytestmark = pytest.mark.slow


async def test_dashboard_in_headless_chromium(site, tmp_path):  # noqa: F811
    require_browser()
    period = site.seeded.period
    stdout = await run_script(
        "dashboard.mjs",
        tmp_path,
        BASE_URL=site.url,
        STAFF_NAME="alice",
        STAFF_PASSWORD=PASSWORDS["alice"],
        FROM=period.first.isoformat(),
        TO=period.last.isoformat(),
        LIST_FIGURE=LIST_FIGURE,
    )
    steps = {entry.pop("step"): entry for entry in map(json.loads, stdout.splitlines())}
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
    keep_screenshots(tmp_path, "dashboard.png")
