"""Serve an aiohttp app (a stand-in for Twilio, Rasa or the backend) on a free loopback port for one test."""

from __future__ import annotations

from typing import Tuple

from aiohttp import web


async def start(app: web.Application) -> Tuple[web.AppRunner, str]:
    """The running app and its base URL; call `await runner.cleanup()` when done."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"
