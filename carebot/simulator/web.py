"""The simulator's pages (aiohttp, loopback only, development mode only): `/simulator` — the phone, the controls and
the side panel, server-rendered with one small script (`static/simulator.js`, nothing from a CDN) — and the JSON
calls the script makes. Every request needs the simulator's token: the link `make simulate` prints carries it once
(`?token=`), which the page keeps as an HttpOnly, SameSite=Strict cookie; the script's calls may also send it as
`X-Simulator-Token`. Refused (ModeError) with CAREBOT_MODE=production: there is no simulator in production."""

from __future__ import annotations

import asyncio
import hmac
import html
import os
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Mapping

import aiohttp
from aiohttp import web

from carebot import mode
from carebot.simulator.service import FLOWS_DIR, Simulator, SimulatorError

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "carebot_simulator"
SIMULATOR_KEY = web.AppKey("simulator", Simulator)
TOKEN_KEY = web.AppKey("token", str)
CLINIC_KEY = web.AppKey("clinic_name", str)
STATIC_FILES = {"simulator.js": "text/javascript", "simulator.css": "text/css"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _allowed(request: web.Request) -> bool:
    token = request.app[TOKEN_KEY]
    given = request.headers.get("X-Simulator-Token") or request.cookies.get(COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The token on every request, security headers on every answer, the simulator's errors as 502."""
    given = request.query.get("token", "")
    if request.path == "/simulator" and given:
        if not hmac.compare_digest(given.encode(), request.app[TOKEN_KEY].encode()):
            return _refused(request)
        answer = web.HTTPSeeOther("/simulator")  # the token leaves the address bar (and the history)
        answer.set_cookie(COOKIE, given, httponly=True, samesite="Strict", path="/simulator")
        raise answer
    if not _allowed(request):
        return _refused(request)
    try:
        response = await handler(request)
    except SimulatorError as error:
        response = web.json_response({"error": str(error)}, status=502)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        response = web.json_response(
            {"error": "Rasa is not answering (yet): is the stack still starting?"}, status=502
        )
    response.headers.update(HEADERS)
    return response


def _refused(request: web.Request) -> web.Response:
    if request.path.startswith("/simulator/api/"):
        return web.json_response({"error": "the simulator's token is missing or wrong"}, status=401)
    return web.Response(
        text=PAGE.format(
            body="<p class=refused>Open the link <code>make simulate</code> printed (it carries the "
            "simulator's token).</p>"
        ),
        content_type="text/html",
        status=401,
        headers=HEADERS,
    )


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Carebot simulator</title>
<link rel="stylesheet" href="/simulator/static/simulator.css">
</head><body>{body}</body></html>"""

BODY = """<main class="simulator">
<section class="phone" aria-label="WhatsApp chat">
  <header class="bar"><span class="clinic">{clinic}</span><span class="number" id="phone-number">{phone}</span>
  <span id="window-state" class="window"></span></header>
  <p id="staff-state" class="staff" hidden>Handed to staff: messages now go to the staff case (staff inbox), the bot
  answers nothing until the case is resolved. Reset to start a new conversation.</p>
  <ol id="chat" class="chat" aria-live="polite"></ol>
  <form id="composer" class="composer">
    <input id="message" name="message" autocomplete="off" placeholder="Message" aria-label="Message">
    <button type="submit" id="send">Send</button>
  </form>
  <div class="attach">
    <button type="button" id="send-photo">Photo</button>
    <button type="button" id="send-location">Location</button>
  </div>
</section>
<aside class="panel" aria-label="What the bot understood">
  <div class="controls">
    <button type="button" id="reset">Reset (new patient)</button>
    <button type="button" id="jump">Jump 25 hours (window closes)</button>
    <label>Reminders: move clock <input id="clock-hours" type="number" min="1" max="744" value="24"> h</label>
    <button type="button" id="clock">Set clock</button>
    <p id="status" class="status" role="status"></p>
  </div>
  <ol id="turns" class="turns"></ol>
</aside>
</main>
<script src="/simulator/static/simulator.js"></script>"""


async def page(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR_KEY]
    body = BODY.format(clinic=html.escape(request.app[CLINIC_KEY]), phone=html.escape(simulator.phone))
    return web.Response(text=PAGE.format(body=body), content_type="text/html")


async def static(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers={"Content-Type": STATIC_FILES[name]})


async def flow(request: web.Request) -> web.FileResponse:
    """A diagram of docs/flows (`make flows`), linked from the panel."""
    path = FLOWS_DIR / f"{request.match_info['name']}.svg"
    if not path.is_file() or path.parent != FLOWS_DIR:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "image/svg+xml"})


async def _json(request: web.Request) -> Dict[str, Any]:
    if request.content_type != "application/json":  # no form post from another site's page
        raise web.HTTPUnsupportedMediaType(text="JSON only")
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return body


async def state(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SIMULATOR_KEY].state())


async def send(request: web.Request) -> web.Response:
    action = await _json(request)
    if not any(action.get(key) for key in ("text", "button", "list_item", "media", "location")):
        raise web.HTTPBadRequest(text="nothing to send")
    return web.json_response(await request.app[SIMULATOR_KEY].send(action))


async def reset(request: web.Request) -> web.Response:
    await _json(request)
    request.app[SIMULATOR_KEY].reset()
    return web.json_response(await request.app[SIMULATOR_KEY].state())


async def window(request: web.Request) -> web.Response:
    await _json(request)
    moved = await request.app[SIMULATOR_KEY].close_window()
    answer = await request.app[SIMULATOR_KEY].state()
    answer["notice"] = (
        "The patient has not written yet: nothing to move."
        if moved is None
        else "The patient's last message is now 25 hours old: the 24-hour window is closed."
    )
    return web.json_response(answer)


async def clock(request: web.Request) -> web.Response:
    body = await _json(request)
    try:
        hours = float(body.get("hours", 0))
    except (TypeError, ValueError):
        hours = 0
    if not 0 < hours <= 744:
        raise web.HTTPBadRequest(text="hours: a number from 1 to 744")
    moved = await request.app[SIMULATOR_KEY].advance_reminders(hours)
    answer = await request.app[SIMULATOR_KEY].state()
    answer["notice"] = (
        f"{moved} reminder(s) due within {hours:g} h made due now; the dispatcher sends them shortly."
    )
    return web.json_response(answer)


def simulator_app(
    simulator: Simulator, token: str, clinic_name: str = "Clinic", environ: Mapping[str, str] = os.environ
) -> web.Application:
    """The simulator's web application; ModeError in production mode, where it must never exist."""
    if mode.is_production(environ):
        raise mode.ModeError("the simulator exists in development mode only (CAREBOT_MODE=production is set)")
    if len(token) < 16:
        raise mode.ModeError("the simulator's token is too short")
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[SIMULATOR_KEY] = simulator
    app[TOKEN_KEY] = token
    app[CLINIC_KEY] = clinic_name
    app.router.add_get("/simulator", page)
    app.router.add_get("/simulator/static/{name}", static)
    app.router.add_get("/simulator/flows/{name}.svg", flow)
    app.router.add_get("/simulator/api/state", state)
    app.router.add_post("/simulator/api/send", send)
    app.router.add_post("/simulator/api/reset", reset)
    app.router.add_post("/simulator/api/window", window)
    app.router.add_post("/simulator/api/clock", clock)

    async def close(app: web.Application) -> None:
        await app[SIMULATOR_KEY].close()

    app.on_cleanup.append(close)
    return app
