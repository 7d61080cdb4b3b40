"""The Rasa HTTP API client against a recording stand-in on loopback: paths, token, bodies, and clear errors."""

import socket

import pytest
from aiohttp import web

from carebot.rasa_api import RasaAPI, RasaAPIError
from tests.loopback import start


@pytest.fixture
async def rasa_stand_in():
    calls = []

    async def record(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        calls.append((request.method, request.raw_path, dict(request.query), body))
        if request.match_info["id"] == "broken":
            return web.json_response({"message": "boom"}, status=500)
        return web.json_response({"sender_id": request.match_info["id"], "events": []})

    app = web.Application()
    app.router.add_route("*", "/conversations/{id}/{rest:.*}", record)
    runner, url = await start(app)
    client = RasaAPI(f"{url}/", token="s3cret")
    yield client, calls
    await client.close()
    await runner.cleanup()


async def test_append_events_posts_the_list_with_the_token(rasa_stand_in):
    client, calls = rasa_stand_in
    await client.append_events("whatsapp:+447700900123", [{"event": "resume"}])
    [(method, path, query, body)] = calls
    # Exactly the channel's conversation id: Rasa's server does not percent-decode it, so %2B would be another one.
    assert (method, path.split("?")[0]) == ("POST", "/conversations/whatsapp:+447700900123/tracker/events")
    assert query == {"token": "s3cret", "include_events": "NONE"}
    assert body == [{"event": "resume"}]


async def test_trigger_intent_names_intent_entities_and_output_channel(rasa_stand_in):
    client, calls = rasa_stand_in
    await client.trigger_intent("+447700900123", "EXTERNAL_reminder", {"medicine": "metformin"}, "whatsapp")
    [(method, path, query, body)] = calls
    assert path.startswith("/conversations/+447700900123/trigger_intent")
    assert query == {"token": "s3cret", "output_channel": "whatsapp"}
    assert body == {"name": "EXTERNAL_reminder", "entities": {"medicine": "metformin"}}


async def test_get_tracker_returns_the_json(rasa_stand_in):
    client, calls = rasa_stand_in
    assert await client.get_tracker("abc") == {"sender_id": "abc", "events": []}
    assert calls[0][2] == {"token": "s3cret", "include_events": "ALL"}


async def test_errors_are_rasa_api_errors_without_conversation_content(rasa_stand_in):
    client, _ = rasa_stand_in
    with pytest.raises(RasaAPIError, match="Rasa answered 500 to POST conversations"):
        await client.append_events("broken", [{"event": "resume"}])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        offline = RasaAPI(f"http://127.0.0.1:{port}")
        with pytest.raises(RasaAPIError, match="Rasa unreachable"):
            await offline.get_tracker("+447700900123")
        await offline.close()


def test_from_env_reads_the_url_and_the_shared_token(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RASA_URL", "http://rasa:5005")
    monkeypatch.setenv("RASA_API_TOKEN", "from-env")
    api = RasaAPI.from_env()
    assert (api.base_url, api.token) == ("http://rasa:5005", "from-env")
