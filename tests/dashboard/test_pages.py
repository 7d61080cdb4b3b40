"""/staff/dashboard on the real backend (create_app), reading the seeded tracker store named by the endpoints file as
in production: who may see it, what is masked, and that every number links to the list behind it."""

from __future__ import annotations

import html
import re
from typing import Any, AsyncIterator, Tuple

import aiohttp
import pytest_asyncio

from carebot.backend.db import make_engine
from carebot.server.app import create_app
from tests.dashboard.conftest import Seeded, seed
from tests.handoff.handoff_harness import API_TOKEN, PASSWORDS, backend_env, csrf_of
from tests.loopback import start

FIGURE_LINK = re.compile(r'<a class="figure" data-figure="([^"]+)" href="([^"]+)">(\d+)</a>')


class Site:
    def __init__(self, url: str, seeded: Seeded) -> None:
        self.url, self.seeded = url, seeded
        self.clients: list = []

    async def browser(self, name: str = "") -> aiohttp.ClientSession:
        """A cookie jar, logged in as `name` when given."""
        client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.clients.append(client)
        if name:
            async with client.get(self.url + "/staff/login") as page:
                csrf = csrf_of(await page.text())
            form = {"name": name, "password": PASSWORDS[name], "csrf": csrf}
            async with client.post(self.url + "/staff/login", data=form, allow_redirects=False) as response:
                assert response.status == 303
        return client

    async def get(self, client: aiohttp.ClientSession, path: str) -> Tuple[int, str]:
        async with client.get(self.url + path, allow_redirects=False) as response:
            return response.status, await response.text()


@pytest_asyncio.fixture
async def site(tmp_path: Any, monkeypatch: Any, clinic: Any) -> AsyncIterator[Site]:
    seeded = seed("sqlite", tmp_path, clinic)
    for key, value in backend_env(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WHATSAPP_STATE_DATABASE_URL", seeded.channel_url)
    monkeypatch.setenv("STAFF_ADMINS", "bob")
    monkeypatch.setenv("REVIEW_STORIES_DIR", str(tmp_path / "stories"))  # never the repository's
    endpoints = tmp_path / "endpoints.yml"
    database = seeded.tracker_url.removeprefix("sqlite:///")
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {database}\n")
    monkeypatch.setenv("RASA_ENDPOINTS", str(endpoints))
    app = create_app(make_engine(str(seeded.backend.url)), clinic, API_TOKEN)
    runner, base = await start(app)
    site = Site(base, seeded)
    yield site
    for client in site.clients:
        await client.close()
    await runner.cleanup()


async def test_nobody_without_a_session_sees_the_figures(site):
    stranger = await site.browser()
    for path in ("/staff/dashboard", "/staff/dashboard/list?figure=patients"):
        status, page = await site.get(stranger, path)
        assert status == 401
        assert "Log in to see the dashboard." in page and 'name="password"' in page
        assert "+44770090" not in page


async def test_staff_see_masked_figures_and_only_admins_see_numbers(site):
    query = site.seeded.period.query
    alice = await site.browser("alice")
    status, page = await site.get(alice, f"/staff/dashboard?{query}")
    assert status == 200
    assert "+44770090" not in page and "Show numbers" not in page
    status, listed = await site.get(alice, f"/staff/dashboard/list?figure=patients&{query}")
    assert status == 200 and "+44770090" not in listed
    assert re.findall(r'<li class="member">…\d{4}</li>', listed)
    status, refused = await site.get(alice, f"/staff/dashboard/list?figure=patients&{query}&identities=shown")
    assert status == 403 and "+44770090" not in refused
    status, _ = await site.get(alice, f"/staff/dashboard?{query}&identities=shown")
    assert status == 403

    bob = await site.browser("bob")
    status, page = await site.get(bob, f"/staff/dashboard?{query}")
    assert status == 200 and "Show numbers" in page and "+44770090" not in page
    status, listed = await site.get(bob, f"/staff/dashboard/list?figure=patients&{query}&identities=shown")
    assert status == 200
    shown = set(re.findall(r'<li class="member">(\+\d+)</li>', listed))
    assert shown == site.seeded.ledger.identities("patients")


async def test_every_number_on_the_page_is_the_seed_count_and_links_to_its_list(site):
    alice = await site.browser("alice")
    status, page = await site.get(alice, f"/staff/dashboard?{site.seeded.period.query}")
    assert status == 200
    links = FIGURE_LINK.findall(page)
    expected = site.seeded.ledger.expected()
    on_page = {key: int(value) for key, _href, value in links}
    assert {key: on_page[key] for key in expected} == expected
    assert f"{site.seeded.ledger.median_response} s" in page
    for key, href, _value in links:
        status, listed = await site.get(alice, html.unescape(href))
        assert status == 200, key
        members = re.findall(r'<li class="member">', listed)
        if key in expected and not key.startswith("not_understood:"):
            assert len(members) == len(site.seeded.ledger.identities(key)), key


async def test_a_period_that_cannot_be_shown_is_a_clear_400(site):
    alice = await site.browser("alice")
    status, page = await site.get(alice, "/staff/dashboard?from=2026-03-31&to=2026-03-01")
    assert status == 400 and "ends before it starts" in page
    status, page = await site.get(alice, "/staff/dashboard/list?figure=nothing&from=2026-03-01&to=2026-03-31")
    assert status == 404 and "No such figure" in page
