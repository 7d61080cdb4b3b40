"""While staff have a patient's conversation (an open handoff case), the channel adds the patient's messages to
the case and keeps them from the bot; otherwise, or when the backend cannot say, messages reach Rasa as usual."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, List, Set, Tuple

import pytest
import pytest_asyncio
from aiohttp import web

from carebot.handoff.client import HandoffClient
from tests.channels.whatsapp_harness import PATIENT, FakeAgent, Harness
from tests.loopback import start

TOKEN = "backend-token"
ADDRESS = f"whatsapp:{PATIENT}"


class HandoffStandIn:
    """The backend's POST /api/handoff/messages and GET …/conversations/{id}: records appends, answers paused for
    conversations with a case."""

    def __init__(self) -> None:
        self.open_cases: Dict[str, int] = {}
        self.appended: List[Dict[str, Any]] = []
        self.tokens: Set[str] = set()
        self.privacy_requests: List[Tuple[str, str]] = []
        self.resume_fails = False

    async def append(self, request: web.Request) -> web.Response:
        self.tokens.add(request.headers.get("Authorization", ""))
        body = await request.json()
        case_id = self.open_cases.get(body["conversation_id"])
        if case_id is not None:
            self.appended.append(body)
        return web.json_response({"paused": case_id is not None, "case_id": case_id})

    async def privacy(self, request: web.Request) -> web.Response:
        """Closes the case and resumes the bot, as the backend does; `resume_fails` answers the backend's 503."""
        conversation, body = request.match_info["conversation_id"], await request.json()
        self.privacy_requests.append((conversation, body["request"]))
        if self.resume_fails:
            return web.json_response({"message": "the bot could not be resumed"}, status=503)
        case_id = self.open_cases.pop(conversation, None)
        return web.json_response({"closed": case_id is not None, "case_id": case_id})

    async def state(self, request: web.Request) -> web.Response:
        self.tokens.add(request.headers.get("Authorization", ""))
        case_id = self.open_cases.get(request.match_info["conversation_id"])
        return web.json_response({"paused": case_id is not None, "case_id": case_id})


@pytest_asyncio.fixture
async def backend() -> AsyncIterator[tuple]:
    stand_in = HandoffStandIn()
    app = web.Application()
    app.router.add_post("/api/handoff/messages", stand_in.append)
    app.router.add_get("/api/handoff/conversations/{conversation_id}", stand_in.state)
    app.router.add_post("/api/handoff/conversations/{conversation_id}/privacy-request", stand_in.privacy)
    runner, url = await start(app)
    yield stand_in, url
    await runner.cleanup()


@pytest_asyncio.fixture
async def channel(make_harness: Any, backend: tuple) -> Harness:
    harness = await make_harness()
    harness.channel.handoff = HandoffClient(backend[1], TOKEN)
    harness.bot.respond = lambda message: [{"text": "bot reply"}]
    return harness


async def settle(harness: Harness) -> None:
    """Wait until the channel's background handling of every accepted webhook has finished."""
    while harness.channel._tasks:
        await asyncio.wait(set(harness.channel._tasks))


async def test_a_message_while_a_case_is_open_joins_the_case_and_gets_no_bot_reply(
    channel: Harness, backend
) -> None:
    stand_in, _ = backend
    stand_in.open_cases[ADDRESS] = 7
    assert (await channel.post(channel.message("are you still there?"))).status == 204
    await settle(channel)
    assert stand_in.appended == [{"conversation_id": ADDRESS, "text": "are you still there?"}]
    assert stand_in.tokens == {f"Bearer {TOKEN}"}
    assert channel.bot.messages == [] and channel.twilio.requests == []


async def test_a_photo_while_a_case_is_open_reaches_staff_as_a_link(channel: Harness, backend) -> None:
    stand_in, _ = backend
    stand_in.open_cases[ADDRESS] = 7
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    await channel.post(channel.message("", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg"))
    await settle(channel)
    assert stand_in.appended == [{"conversation_id": ADDRESS, "text": f"[image/jpeg] {url}"}]
    assert channel.bot.messages == []


async def test_without_an_open_case_the_bot_answers(channel: Harness, backend) -> None:
    stand_in, _ = backend
    stand_in.open_cases["whatsapp:+447700900999"] = 3  # someone else's case
    await channel.post(channel.message("hello"))
    [request] = await channel.twilio.wait_for(1)
    assert channel.bot.texts() == ["hello"] and request["Body"] == ["bot reply"]
    assert stand_in.appended == []


async def test_when_the_backend_is_down_the_message_still_reaches_rasa(channel: Harness) -> None:
    channel.channel.handoff = HandoffClient("http://127.0.0.1:9", TOKEN)
    await channel.post(channel.message("hello"))
    await channel.twilio.wait_for(1)
    assert channel.bot.texts() == ["hello"]


@pytest.fixture
def nlu_reads_privacy_requests(monkeypatch) -> None:
    """Rasa's agent as the channel asks it (the real NLU reads these in tests/e2e/test_handoff_e2e.py)."""
    intents = {"delete my data": "erase_my_data", "i withdraw consent": "withdraw_consent"}

    async def parse_message(self, text: str) -> Dict[str, Any]:
        return {"intent": {"name": intents.get(text.lower(), "inform")}}

    monkeypatch.setattr(FakeAgent, "parse_message", parse_message, raising=False)
    monkeypatch.setattr(FakeAgent, "is_ready", lambda self: True, raising=False)


@pytest.mark.parametrize(
    "said, request_kind", [("delete my data", "erasure"), ("I withdraw consent", "consent_withdrawn")]
)
async def test_a_privacy_request_while_a_case_is_open_goes_to_the_bot_not_the_case(
    nlu_reads_privacy_requests, channel: Harness, backend, said: str, request_kind: str
) -> None:
    stand_in, _ = backend
    stand_in.open_cases[ADDRESS] = 7
    await channel.post(channel.message(said))
    await channel.twilio.wait_for(1)
    assert stand_in.privacy_requests == [(ADDRESS, request_kind)] and stand_in.appended == []
    assert channel.bot.texts() == [said]
    await channel.post(channel.message("are you there?"))  # the case is closed: the bot answers from now on
    await channel.twilio.wait_for(2)
    assert channel.bot.texts() == [said, "are you there?"]


async def test_other_messages_during_a_case_are_not_privacy_requests(
    nlu_reads_privacy_requests, channel: Harness, backend
) -> None:
    stand_in, _ = backend
    stand_in.open_cases[ADDRESS] = 7
    await channel.post(channel.message("my arm still hurts"))
    await settle(channel)
    assert stand_in.privacy_requests == [] and [a["text"] for a in stand_in.appended] == [
        "my arm still hurts"
    ]


async def test_when_the_bot_cannot_take_the_request_back_staff_get_it(
    nlu_reads_privacy_requests, channel: Harness, backend
) -> None:
    stand_in, _ = backend
    stand_in.open_cases[ADDRESS], stand_in.resume_fails = 7, True
    await channel.post(channel.message("delete my data"))
    await settle(channel)
    assert [a["text"] for a in stand_in.appended] == ["delete my data"]  # staff see it and erase for them
    assert channel.bot.messages == []
