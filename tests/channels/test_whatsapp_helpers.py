"""The pure parts of the WhatsApp channel: chunking, opt-out words, button matching, masking, TTL stores,
the persisted contact state and the signature helpers."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from carebot.channels.buttons import Button, ButtonMemory, match_button, offer_tag, render_numbered
from carebot.channels.chunking import chunk_text
from carebot.channels.contacts import ContactStore, in_session_window, is_opted_out
from carebot.channels.optout import opt_command
from carebot.channels.signature import is_valid_signature, parse_form, sign, signed_url
from carebot.channels.ttl_store import MemoryTTLStore, RedisTTLStore
from carebot.phones import mask_phone, normalize_phone, whatsapp_address


@pytest.mark.parametrize(
    "text, expected",
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        (" Stop! ", "stop"),
        ("*STOP*", "stop"),
        ("Unsubscribe.", "stop"),
        ("stopall", "stop"),
        ("START", "start"),
        ("start 👍", "start"),
        ("I want to stop my medication", None),
        ("stop taking it?", None),
        ("please stop", None),
        ("stopped", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_lone_keyword_is_an_opt_command(text: str, expected: str) -> None:
    assert opt_command(text) == expected


def test_chunks_respect_the_limit_keep_order_and_end_on_sentences() -> None:
    text = " ".join(f"This is sentence {i} of the leaflet." for i in range(200))
    chunks = chunk_text(text, limit=1600)
    assert all(len(c) <= 1600 for c in chunks) and len(chunks) > 1
    assert all(c.endswith("leaflet.") for c in chunks)
    assert " ".join(chunks) == text


def test_short_text_is_one_chunk_and_line_breaks_are_kept() -> None:
    assert chunk_text("Hello.\n\n1. Tuesday\n2. Wednesday") == ["Hello.\n\n1. Tuesday\n2. Wednesday"]


def test_a_sentence_longer_than_the_limit_is_cut_at_a_space() -> None:
    word_run = " ".join(["word"] * 100)  # 499 characters, no sentence end
    chunks = chunk_text(word_run, limit=120)
    assert all(len(c) <= 120 for c in chunks)
    assert " ".join(chunks) == word_run


def test_an_unbreakable_run_is_hard_cut() -> None:
    assert chunk_text("x" * 250, limit=100) == ["x" * 100, "x" * 100, "x" * 50]


def test_chunking_splits_at_line_breaks_when_sentences_do_not_end_with_punctuation() -> None:
    lines = "\n".join(f"- item {i} without a full stop" for i in range(100))
    chunks = chunk_text(lines, limit=300)
    assert all(len(c) <= 300 and c.startswith("- item") for c in chunks)
    assert "\n".join(chunks) == lines


BUTTONS = [Button("Tuesday 10:00", "/slot_t"), Button("Wednesday", "/slot_w")]


@pytest.mark.parametrize(
    "reply, payload",
    [
        ("1", "/slot_t"),
        ("2.", "/slot_w"),
        ("(2)", "/slot_w"),
        (" tuesday  10:00 ", "/slot_t"),
        ("/slot_w", "/slot_w"),
        ("3", None),
        ("0", None),
        ("Thursday", None),
        ("", None),
    ],
)
def test_replies_map_back_to_button_payloads(reply: str, payload: str) -> None:
    assert match_button(reply, BUTTONS) == payload


def test_numbered_rendering() -> None:
    assert render_numbered("When?", BUTTONS) == "When?\n\n1. Tuesday 10:00\n2. Wednesday"


async def test_button_memory_is_per_patient_and_consumed_by_the_next_message() -> None:
    memory = ButtonMemory(MemoryTTLStore())
    await memory.remember("+441", BUTTONS)
    assert await memory.take("+442", "1") is None
    assert await memory.take("+441", "1") == "/slot_t"
    assert await memory.take("+441", "1") is None


async def test_a_tapped_option_selects_by_its_id_and_a_stale_tap_only_by_its_words() -> None:
    memory = ButtonMemory(MemoryTTLStore())
    await memory.remember("+441", BUTTONS)
    assert await memory.take("+441", "", tapped=f"{offer_tag(BUTTONS)}.2") == BUTTONS[1].payload
    later = [Button("Wednesday", "/other"), Button("Tuesday 10:00", "/slot_t_again")]
    await memory.remember("+441", later)
    stale = f"{offer_tag(BUTTONS)}.1"  # option 1 of the first offer: "Tuesday 10:00", not later[0]
    assert await memory.take("+441", "Tuesday 10:00", tapped=stale) == "/slot_t_again"
    await memory.remember("+441", later)
    assert await memory.take("+441", "1", tapped=stale) is None


async def test_memory_store_expires_keys() -> None:
    now = [100.0]
    store = MemoryTTLStore(clock=lambda: now[0], purge_every=2)
    assert await store.add("sid:1", "1", 10) is True
    assert await store.add("sid:1", "1", 10) is False
    now[0] += 11
    assert await store.get("sid:1") is None
    assert await store.add("sid:1", "1", 10) is True


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set")
async def test_redis_store_deduplicates_across_clients() -> None:
    url = os.environ["TEST_REDIS_URL"]
    key = f"sid:{uuid.uuid4().hex}"
    first, second = RedisTTLStore(url), RedisTTLStore(url)  # two Rasa replicas
    try:
        assert await first.add(key, "1", 60) is True
        assert await second.add(key, "1", 60) is False
        await first.set("buttons:x", "[]", 60)
        assert await second.get("buttons:x") == "[]"
        await second.delete(key)
        assert await first.get(key) is None
    finally:
        await first.close()
        await second.close()


def test_phone_helpers() -> None:
    assert normalize_phone("whatsapp:+44 7700 900123") == "+447700900123"
    assert whatsapp_address("+447700900123") == "whatsapp:+447700900123"
    assert mask_phone("whatsapp:+447700900123") == "…0123"
    assert mask_phone(None) == "<none>"


def test_opt_out_survives_a_restart_and_is_readable_by_another_process(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    ContactStore(url).set_opted_out("whatsapp:+447700900123", True)
    assert is_opted_out("+447700900123", url)  # what the reminder dispatcher calls
    assert not is_opted_out("+447700900124", url)
    ContactStore(url).set_opted_out("+447700900123", False)
    assert not ContactStore(url).is_opted_out("+447700900123")


def test_session_window_boundaries(tmp_path) -> None:
    now = dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.timezone.utc)
    assert in_session_window(now - dt.timedelta(hours=23), now)
    assert not in_session_window(now - dt.timedelta(hours=24), now)
    assert not in_session_window(None, now)
    store = ContactStore(f"sqlite:///{tmp_path / 'state.db'}")
    store.record_inbound("+447700900123", now - dt.timedelta(hours=1))
    assert store.last_inbound("+447700900123") == now - dt.timedelta(hours=1)
    assert store.in_window("+447700900123", now)
    store.close_window("+447700900123")
    assert not store.in_window("+447700900123", now)


@pytest.mark.skipif(not os.environ.get("TEST_POSTGRES_URL"), reason="TEST_POSTGRES_URL not set")
def test_contact_state_on_postgres() -> None:
    store = ContactStore(os.environ["TEST_POSTGRES_URL"])
    phone = f"+44{uuid.uuid4().int % 10**10:010d}"
    store.set_opted_out(phone, True)
    store.record_inbound(phone)
    assert store.is_opted_out(phone) and store.in_window(phone)


def test_signature_checks_every_field_including_blank_ones() -> None:
    url = "https://carebot.example.org/webhooks/whatsapp/webhook"
    fields = {"Body": "", "NumMedia": "1", "From": "whatsapp:+447700900123"}
    signature = sign("token", url, fields)
    raw = "Body=&NumMedia=1&From=whatsapp%3A%2B447700900123"
    assert is_valid_signature("token", url, parse_form(raw), signature)
    assert not is_valid_signature(
        "token", url, parse_form("NumMedia=1&From=whatsapp%3A%2B447700900123"), signature
    )
    assert not is_valid_signature("", url, parse_form(raw), signature)


@pytest.mark.parametrize(
    "public, expected",
    [
        ("https://clinic.example.org", "https://clinic.example.org/webhooks/whatsapp/webhook?x=1"),
        ("https://clinic.example.org/", "https://clinic.example.org/webhooks/whatsapp/webhook?x=1"),
        (
            "https://clinic.example.org/webhooks/whatsapp/webhook",
            "https://clinic.example.org/webhooks/whatsapp/webhook?x=1",
        ),
        ("", "http://10.0.0.5:5005/webhooks/whatsapp/webhook?x=1"),
    ],
)
def test_signed_url_uses_the_public_base(public: str, expected: str) -> None:
    assert signed_url("http://10.0.0.5:5005/webhooks/whatsapp/webhook?x=1", public) == expected


def test_held_messages_come_back_once_in_order_and_stale_ones_are_dropped(tmp_path) -> None:
    store = ContactStore(f"sqlite:///{tmp_path / 'state.db'}")
    now = dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.timezone.utc)
    store.hold_message("+447700900123", "old news", at=now - dt.timedelta(days=4))
    store.hold_message("+447700900123", "first", at=now - dt.timedelta(hours=30))
    store.hold_message("whatsapp:+447700900123", "second", "https://x/y.png", at=now - dt.timedelta(hours=26))
    store.hold_message("+447700900999", "someone else", at=now)
    assert store.take_held("+447700900123", now) == [("first", None), ("second", "https://x/y.png")]
    assert store.take_held("+447700900123", now) == []
    assert store.take_held("+447700900999", now) == [("someone else", None)]
