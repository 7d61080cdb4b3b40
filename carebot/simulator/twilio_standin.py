"""A local stand-in for Twilio's Messages API, for the outbox tests, `make bench` and the designers' simulator
(`make simulate`, carebot/simulator/): it accepts messages like Twilio, or fails them the ways Twilio does (500,
503, 429, a timeout *after* accepting, a dropped connection, down altogether), lists what it accepted
(`GET Messages.json?To=&From=`, newest first) and posts signed status callbacks.
It also creates Content API templates (`POST /v1/Content`, JSON; `contents` keeps them by ContentSid) and shows
what a patient would see of a content message (`shown`).

    twilio = TwilioStandIn(fail_rate=0.2, callbacks_to="http://127.0.0.1:5005")
    await twilio.start()
    ... WhatsAppSender(settings with api_base_url=twilio.url) ...
    await twilio.stop()

`accepted` is the ground truth the benchmark checks: every message Twilio would deliver, with the outbox marker of
its status-callback URL, so a duplicate (two accepted messages for one outbox message) cannot hide.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import random
import time
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any, Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from aiohttp import web

from carebot.channels.signature import sign
from carebot.clock import utc_now

Reply = Tuple[int, Dict[str, Any]]
MESSAGES_PATH = "/2010-04-01/Accounts/{account}/Messages.json"
CONTENT_PATH = "/v1/Content"
# The failures a sender meets, in equal shares of `fail_rate`.
FAILURES = ("500", "503", "429", "accept_then_hang")


def twilio_error(status: int, code: int) -> Reply:
    return status, {"code": code, "message": f"error {code}", "more_info": "", "status": status}


ERRORS: Dict[str, Reply] = {
    "500": twilio_error(500, 20500),
    "503": twilio_error(503, 20503),
    "429": twilio_error(429, 20429),
}


@dataclass
class Accepted:
    sid: str
    to: str
    body: str
    content_sid: str
    content_variables: str
    callback: str
    at: dt.datetime
    media_url: str = ""

    @property
    def marker(self) -> str:
        """The outbox message and part named by the status-callback URL (`id.part`), or ''."""
        return parse_qs(urlsplit(self.callback).query).get("outbox", [""])[0]


class TwilioStandIn:
    """Records every POST (`requests`, field → values) and answers from `script`, else by `fail_rate`, else 201."""

    DISCONNECT: Reply = (0, {})
    HANG: Reply = (-1, {})  # no answer, nothing accepted
    ACCEPT_THEN_HANG: Reply = (-2, {})  # accepted (it will be delivered), but the answer never comes

    def __init__(
        self,
        fail_rate: float = 0.0,
        seed: int = 16,
        clock: Callable[[], dt.datetime] = utc_now,
        callbacks_to: str = "",
        auth_token: str = "",
        hang_seconds: float = 30.0,
        always_fail: Optional[Set[str]] = None,
    ) -> None:
        self.requests: List[Dict[str, List[str]]] = []
        self.posted_at: List[float] = []  # monotonic time of each POST (pacing is measured here)
        self.ok: List[bool] = []  # whether each POST was accepted
        self.accepted: List[Accepted] = []
        self.script: List[Reply] = []
        self.fail_rate, self.clock, self.hang_seconds = fail_rate, clock, hang_seconds
        self.callbacks_to, self.auth_token = callbacks_to.rstrip("/"), auth_token
        self.always_fail = always_fail or set()  # recipients ("whatsapp:+…") answered 503 every time
        self.down = False  # every request answered 503
        self.content_down = False  # the Content API answers 503
        self.contents: Dict[str, Dict[str, Any]] = {}  # ContentSid → the create request's JSON
        self.failures: Dict[str, int] = {}
        self.url = ""
        self._random = random.Random(seed)
        self._sids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._tasks: Set["asyncio.Task[None]"] = set()
        self._runner: Optional[web.AppRunner] = None
        self._session: Optional[aiohttp.ClientSession] = None

    # ------------------------------------------------------------------------------------------ serving
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(MESSAGES_PATH, self.handle)
        app.router.add_get(MESSAGES_PATH, self.list_messages)
        app.router.add_post(CONTENT_PATH, self.create_content)
        return app

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def callbacks_done(self) -> None:
        """Returns once every status callback started so far has been posted."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------------------------------ the API
    def _reply(self, to: str) -> Reply:
        if self.script:
            return self.script.pop(0)
        if self.down or to in self.always_fail:
            return ERRORS["503"]
        if self.fail_rate and self._random.random() < self.fail_rate:
            failure = self._random.choice(FAILURES)
            self.failures[failure] = self.failures.get(failure, 0) + 1
            return self.ACCEPT_THEN_HANG if failure == "accept_then_hang" else ERRORS[failure]
        return 201, {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()  # before the body is parsed: what Twilio's rate limit would count
        form = await request.post()
        fields = {key: [str(v) for v in form.getall(key)] for key in set(form.keys())}
        async with self._changed:
            self.requests.append(fields)
            self._changed.notify_all()
        status, body = self._reply(str(form.get("To", "")))
        self.posted_at.append(arrived)
        self.ok.append(status in (201, -2))
        if (status, body) == self.DISCONNECT:
            request.transport.close()  # the client sees the connection drop
            return web.Response()
        if (status, body) == self.HANG:
            await asyncio.sleep(self.hang_seconds)  # longer than any client timeout; cancelled at clean-up
            return web.Response(status=504)
        if status not in (201, -2):
            return web.json_response(body, status=status)
        accepted = self._accept(fields)
        if status == -2:
            await asyncio.sleep(self.hang_seconds)
        return web.json_response(
            {"sid": accepted.sid, "status": "queued", "to": accepted.to, "body": accepted.body}, status=201
        )

    def _accept(self, fields: Dict[str, List[str]]) -> Accepted:
        first = {key: values[0] for key, values in fields.items()}
        accepted = Accepted(
            sid=f"SM{next(self._sids):032x}",
            to=first.get("To", ""),
            body=first.get("Body", ""),
            content_sid=first.get("ContentSid", ""),
            content_variables=first.get("ContentVariables", ""),
            callback=first.get("StatusCallback", ""),
            at=self.clock(),
            media_url=first.get("MediaUrl", ""),
        )
        self.accepted.append(accepted)
        if self.callbacks_to and accepted.callback:
            task = asyncio.ensure_future(self._call_back(accepted))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return accepted

    async def create_content(self, request: web.Request) -> web.Response:
        """The Content API's create: a JSON definition in, a new ContentSid out."""
        if self.content_down:
            return web.json_response(ERRORS["503"][1], status=503)
        definition = await request.json()
        # "HXc0…": never one of the placeholder template SIDs of clinic.yml (HX000…1, …2), which a simulator shows
        # by name, so a template sent outside the window is never taken for a quick reply made here.
        sid = f"HXc0{len(self.contents) + 1:030x}"
        self.contents[sid] = definition
        return web.json_response({"sid": sid, **definition}, status=201)

    def shown(self, accepted: Accepted) -> Dict[str, Any]:
        """What the patient's phone shows for an accepted content message: its type's fields, variables filled."""
        return self.show(accepted.content_sid, accepted.content_variables)

    def show(self, content_sid: str, content_variables: str) -> Dict[str, Any]:
        definition = self.contents[content_sid]
        filled = json.dumps(definition["types"])
        for name, value in json.loads(content_variables or "{}").items():
            filled = filled.replace("{{" + name + "}}", json.dumps(value)[1:-1])
        [(kind, fields)] = json.loads(filled).items()
        return {"type": kind, **fields}

    async def list_messages(self, request: web.Request) -> web.Response:
        """Twilio's message list, newest first, filtered by To and From (PageSize honoured)."""
        if self.down:
            return web.json_response(ERRORS["503"][1], status=503)
        to = request.query.get("To", "")
        size = int(request.query.get("PageSize", "50"))
        found = [a for a in reversed(self.accepted) if not to or a.to == to][:size]
        messages = [
            {
                "sid": a.sid,
                "to": a.to,
                "body": a.body,
                "status": "sent",
                "date_created": format_datetime(a.at.astimezone(dt.timezone.utc), usegmt=True),
            }
            for a in found
        ]
        return web.json_response(
            {"messages": messages, "next_page_uri": None, "page": 0, "page_size": size, "uri": request.path}
        )

    async def _call_back(self, accepted: Accepted) -> None:
        """`sent` then `delivered`, signed like Twilio over the public URL the sender gave."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        parts = urlsplit(accepted.callback)
        target = self.callbacks_to + parts.path + (f"?{parts.query}" if parts.query else "")
        for status in ("sent", "delivered"):
            form = {"MessageSid": accepted.sid, "MessageStatus": status, "To": accepted.to}
            headers = {
                "X-Twilio-Signature": sign(self.auth_token, accepted.callback, form),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            try:
                async with self._session.post(target, data=urlencode(form), headers=headers) as response:
                    await response.read()
            except aiohttp.ClientError:
                return  # like Twilio: a callback nobody takes is lost; reconciliation covers it

    # ------------------------------------------------------------------------------------------ for tests
    async def wait_for(self, count: int, timeout: float = 10) -> List[Dict[str, List[str]]]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.requests) >= count), timeout)
        return self.requests

    def bodies(self) -> List[str]:
        """The text each POST asked to show: its Body, or the body of a content message made here (the prompt
        above tap-to-answer buttons)."""
        return [self._body(r) for r in self.requests]

    def _body(self, fields: Dict[str, List[str]]) -> str:
        content_sid = fields.get("ContentSid", [""])[0]
        if content_sid in self.contents:
            return str(self.show(content_sid, fields.get("ContentVariables", [""])[0]).get("body", ""))
        return fields.get("Body", [""])[0]

    def accepted_per_marker(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for accepted in self.accepted:
            counts[accepted.marker] = counts.get(accepted.marker, 0) + 1
        return counts
