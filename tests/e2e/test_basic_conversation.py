"""The foundation's promise: `make run` serves, and the REST channel answers sensibly."""

from __future__ import annotations

import httpx


def test_hi_gets_a_greeting_naming_the_clinic_and_the_menu(stack, sender, clinic):
    reply = stack.texts(sender, "hi")
    assert clinic.name in reply
    assert "appointment" in reply.lower()


def test_out_of_scope_is_declined_with_the_clinic_phone(stack, sender, clinic):
    reply = stack.texts(sender, "can you order me a pizza with extra cheese")
    assert "can't help" in reply.lower()
    assert clinic.phone in reply


def test_gibberish_gets_the_fallback_and_no_rewind_event(stack, sender):
    reply = stack.texts(sender, "zxqv blorp fnarg")
    assert "didn't understand" in reply or "can't help" in reply.lower()
    events = stack.tracker(sender)["events"]
    assert not [e for e in events if e["event"] in ("rewind", "undo")]


def test_the_http_api_refuses_requests_without_the_token(stack, sender):
    reply = httpx.get(f"{stack.rasa_url}/conversations/{sender}/tracker", timeout=10)
    assert reply.status_code == 401


def test_the_action_server_refuses_calls_without_the_token(stack):
    reply = httpx.post(
        f"http://127.0.0.1:{stack.env['ACTION_SERVER_PORT']}/webhook",
        json={"next_action": "action_fallback", "tracker": {}, "domain": {}},
        timeout=10,
    )
    assert reply.status_code == 401


def test_a_message_no_rule_fits_gets_one_answer_and_the_bot_keeps_listening(stack, sender):
    # "the second one" with no options on offer: no rule applies, so the policies pick the fallback (core
    # fallback). It must answer once and wait, not loop until Rasa's circuit breaker silences the bot.
    first = stack.say(sender, "the second one please")
    assert len(first) == 1
    assert stack.say(sender, "hello")
